"""`meanfield demo` at tiny size: report written, finished steps kept on a rerun."""

import json

from meanfield._cli.main import main


def test_demo_small_writes_report_and_resumes(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--out", str(out), "--small", "--steps", "solve", "--json"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    res = json.loads(captured.out)
    assert res["sections"]["solve"]["status"] in ("converged", "noise_limited")
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "Neuron distribution" in html
    assert "solve/neurons.png" in (out / "report.md").read_text()
    first = (out / "solve" / "section.json").read_text()
    rc = main(["demo", "--out", str(out), "--small", "--steps", "solve", "--json"])
    captured = capsys.readouterr()
    assert rc == 0 and "done earlier" in captured.err
    assert (out / "solve" / "section.json").read_text() == first


def test_demo_rejects_unknown_step(tmp_path, capsys):
    rc = main(["demo", "--out", str(tmp_path), "--steps", "nonsense"])
    assert rc == 2
    assert "invalid choice" in capsys.readouterr().err
