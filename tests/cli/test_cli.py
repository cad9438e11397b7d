"""The command line (meanfield._cli.main), run in-process."""

import json

import numpy as np
import pytest

import meanfield as mf
from meanfield._cli.main import main
from meanfield._io.config import config_to_toml
from meanfield._io.results import ResultsError, load_results

TINY = {
    "seed": 1,
    "task": {"kind": "cubic_teacher", "dim": 2, "n_train": 16, "n_test": 20, "eps": 0.3},
    "model": {"kind": "bayesian", "width": 32.0, "noise": 0.05},
    "solver": {"n_particles": 128, "n_steps": 10, "max_iterations": 40, "rtol": 1e-2,
               "burn_in": 1},
    "output": {"free_energy": False, "checkpoint_every": 1},
}


def write_config(tmp_path, cfg, name="c.toml"):
    path = tmp_path / name
    path.write_text(config_to_toml(cfg))
    return str(path)


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_solve_json_and_files(tmp_path, capsys):
    # the free energy by the ladder, the default method, at its smallest settings
    cfg = {**TINY, "output": {"free_energy": True, "free_energy_particles": 16,
                              "free_energy_sweeps": 2}}
    out_dir = tmp_path / "out"
    rc, out, err = run(capsys, "solve", write_config(tmp_path, cfg), "--out", str(out_dir),
                       "--json", "--quiet")
    assert rc == 0, err
    summary = json.loads(out)  # exactly one JSON object
    for key in ("status", "iterations", "self_consistency_error", "train_loss", "test_loss",
                "free_energy", "versions", "wall_time_s"):
        assert key in summary
    assert summary["free_energy_method"] == "ladder" and np.isfinite(summary["free_energy"])
    assert summary["free_energy_levels"] >= 2 and 0 <= summary["free_energy_min_swap_rate"] <= 1
    assert "free_energy_equilibrium_gap" in summary
    # 128 particles cannot resolve rtol: as good as they can tell, and the summary says so
    assert summary["status"] in ("converged", "noise_limited") and summary["seed"] == 1
    if summary["status"] == "noise_limited":
        assert summary["particles_for_rtol"] > 128
    for name in ("config.toml", "summary.json", "arrays.npz", "neurons.png", "convergence.png",
                 "predictions.png"):
        assert (out_dir / name).is_file(), name
    res = load_results(out_dir)
    # the default solver averages 8 iterates after convergence: 8 pooled clouds of 128
    assert res.arrays["theta"].shape == (128 * 8, 2)
    assert res.arrays["test_prediction"].shape == (20, 1)
    assert res.summary["status"] == summary["status"]

    other = tmp_path / "figs"
    rc, out, err = run(capsys, "show", str(out_dir), "--to", str(other))
    assert rc == 0, err
    assert summary["status"] in out and "(ladder)" in out
    assert (other / "neurons.png").is_file() and (other / "predictions.png").is_file()


def test_solve_free_energy_by_thermodynamic_integration(tmp_path, capsys):
    cfg = {**TINY, "output": {"free_energy": True,
                              "free_energy_method": "thermodynamic_integration",
                              "free_energy_n_strengths": 2, "free_energy_n_steps": 5}}
    out_dir = tmp_path / "o"
    rc, out, err = run(capsys, "solve", write_config(tmp_path, cfg), "--out", str(out_dir),
                       "--quiet")
    assert rc == 0, err
    assert "(thermodynamic_integration)" in out  # the human summary names the method
    summary = load_results(out_dir).summary
    assert summary["free_energy_method"] == "thermodynamic_integration"
    assert np.isfinite(summary["free_energy"]) and "free_energy_levels" not in summary
    # the config written back keeps the method: the folder reopens as it was run
    assert load_results(out_dir).config["output"]["free_energy_method"] == \
        "thermodynamic_integration"


def test_unknown_free_energy_method_exit_2(tmp_path, capsys):
    bad = {**TINY, "output": {"free_energy": True, "free_energy_method": "nonsense"}}
    rc, out, err = run(capsys, "solve", write_config(tmp_path, bad), "--out",
                       str(tmp_path / "o"))
    assert rc == 2
    assert "output.free_energy_method" in err and "'nonsense'" in err
    assert "'ladder', 'thermodynamic_integration'" in err
    assert "Traceback" not in err and out == "" and not (tmp_path / "o").exists()


def test_human_summary_and_seed_override(tmp_path, capsys):
    rc, out, err = run(capsys, "solve", write_config(tmp_path, TINY), "--out",
                       str(tmp_path / "o"), "--seed", "7")
    assert rc == 0
    assert "status:" in out and "self-consistency error" in out and "test loss" in out
    assert "solve[" in err  # progress on stderr
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["seed"] == 7


def test_bad_config_exit_2(tmp_path, capsys):
    bad = {**TINY, "model": {"nosie": 0.1}}
    rc, out, err = run(capsys, "solve", write_config(tmp_path, bad), "--out",
                       str(tmp_path / "o"))
    assert rc == 2
    assert "model.nosie" in err and "did you mean 'noise'" in err
    assert "Traceback" not in err and out == ""


def test_usage_errors_exit_2(tmp_path, capsys):
    rc, _, err = run(capsys, "solve")  # --out missing
    assert rc == 2 and "--out" in err
    rc, _, err = run(capsys, "solve", str(tmp_path / "missing.toml"), "--out", str(tmp_path))
    assert rc == 2 and "not found" in err
    rc, _, err = run(capsys, "show", str(tmp_path / "nothing"))
    assert rc == 2 and "does not exist" in err
    rc, _, err = run(capsys, "solve", write_config(tmp_path, TINY), "--out",
                     str(tmp_path / "fresh"), "--resume")
    assert rc == 2 and "no checkpoint" in err


def test_help_lists_defaults(capsys):
    rc, out, _ = run(capsys, "solve", "--help")
    assert rc == 0
    for opt in ("--out", "--json", "--seed", "--resume", "--quiet", "default"):
        assert opt in out


def test_forced_failure_exit_1_still_writes(tmp_path, capsys):
    cfg = {**TINY, "solver": {**TINY["solver"], "max_iterations": 1, "rtol": 1e-12,
                              "noise_factor": 0.0}}
    out_dir = tmp_path / "o"
    rc, out, err = run(capsys, "solve", write_config(tmp_path, cfg), "--out", str(out_dir),
                       "--json", "--quiet")
    assert rc == 1
    assert json.loads(out)["status"] == "max_iterations"
    assert "not converged" in err
    assert load_results(out_dir).summary["status"] == "max_iterations"


def test_load_results_incomplete_and_corrupt(tmp_path):
    (tmp_path / "r").mkdir()
    with pytest.raises(ResultsError, match="summary.json is missing"):
        load_results(tmp_path / "r")
    (tmp_path / "r" / "summary.json").write_text("{not json")
    with pytest.raises(ResultsError, match="corrupt"):
        load_results(tmp_path / "r")


def test_interrupted_then_resumed_matches_uninterrupted(tmp_path, capsys, monkeypatch):
    cfg = {**TINY, "solver": {**TINY["solver"], "patience": 4}}  # a few more iterations
    config = write_config(tmp_path, cfg)
    rc, _, err = run(capsys, "solve", config, "--out", str(tmp_path / "ref"), "--quiet")
    assert rc == 0, err
    reference = load_results(tmp_path / "ref")
    assert reference.summary["iterations"] >= 4

    original = mf.Langevin.run
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # 1 burn-in call, then the third iteration
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(mf.Langevin, "run", flaky)
    out_dir = tmp_path / "int"
    rc, _, err = run(capsys, "solve", config, "--out", str(out_dir), "--quiet")
    assert rc == 130 and "resume" in err, (rc, calls, err)
    assert (out_dir / "checkpoint.npz").is_file() and not (out_dir / "summary.json").exists()
    monkeypatch.setattr(mf.Langevin, "run", original)

    rc, _, err = run(capsys, "solve", config, "--out", str(out_dir), "--resume", "--quiet")
    assert rc == 0, err
    resumed = load_results(out_dir)
    assert resumed.summary["iterations"] == reference.summary["iterations"]
    np.testing.assert_allclose(resumed.arrays["theta"], reference.arrays["theta"], rtol=1e-12)
    np.testing.assert_allclose(resumed.arrays["field"], reference.arrays["field"], rtol=1e-12)
    assert resumed.summary["self_consistency_error"] == pytest.approx(
        reference.summary["self_consistency_error"], rel=1e-12)


def test_show_reopens_experiment_and_demo_folders(tmp_path, capsys):
    from meanfield._io.results import write_experiment

    exp = tmp_path / "exp"
    write_experiment(exp, "theory", {"sigma2_onset": 0.04}, config={"P": 11}, seed=3)
    rc, out, err = run(capsys, "show", str(exp), "--json")
    assert rc == 0, err
    record = json.loads(out)
    assert record["sigma2_onset"] == 0.04 and record["seed"] == 3 and "versions" in record
    (exp / "config.json").unlink()  # a file the record lists is gone: incomplete
    rc, out, err = run(capsys, "show", str(exp))
    assert rc == 2 and "config.json missing" in err
    demo = tmp_path / "demo"
    (demo / "solve").mkdir(parents=True)
    (demo / "solve" / "section.json").write_text("{}")
    (demo / "report.md").write_text("# report")
    rc, out, err = run(capsys, "show", str(demo))
    assert rc == 0 and "report.md" in out and "solve" in out
    rc, out, err = run(capsys, "show", str(tmp_path / "empty_nothing"))
    assert rc == 2 and "does not exist" in err
    (tmp_path / "empty").mkdir()
    rc, out, err = run(capsys, "show", str(tmp_path / "empty"))
    assert rc == 2 and "not a complete results folder" in err


def test_print_config_is_the_default_and_parses(capsys):
    import tomllib

    from meanfield._io.config import DEFAULT_CONFIG, parse_config

    rc, out, _ = run(capsys, "solve", "--print-config")
    assert rc == 0 and out == DEFAULT_CONFIG
    parse_config(tomllib.loads(out))  # a valid config a user can start from


def test_python_dash_m_runs_the_command_line():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "meanfield", "--help"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and "demo" in out.stdout, out.stderr
