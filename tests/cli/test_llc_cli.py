"""``meanfield llc`` at tiny size: one JSON object, a results folder, clear usage errors."""

import json

import numpy as np

from meanfield._cli.main import main


def test_llc_command_json_and_results_folder(tmp_path, capsys):
    out = tmp_path / "llc"
    rc = main(["llc", "--small", "--width", "6", "--n-betas", "3", "--beta-max", "1e6",
               "--steps", "30", "--burnin", "10", "--nodes", "64", "--mala-max", "0", "--json",
               "--quiet", "--out", str(out)])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)          # exactly one JSON object on stdout
    for key in ("betas", "lambda_hat", "lambda_hat_err", "fits", "lambda_quad", "acceptance"):
        assert key in res
    assert np.allclose(res["betas"], [1.0, 1e3, 1e6])
    assert res["rlct"] == 3.0 and all(0 < v < 3 for v in res["lambda_hat"])
    # the marginal estimator sits on the frozen-W Gaussian value when W barely moves
    assert np.allclose(res["lambda_hat"], res["lambda_quad"], rtol=0.1)
    assert (out / "llc.png").is_file() and (out / "arrays.npz").is_file()
    saved = json.loads((out / "llc.json").read_text())
    assert saved["config"]["width"] == 6 and "versions" in saved
    with np.load(out / "arrays.npz") as f:
        assert f["loss_traces"].shape == (3, 4, 30)


def test_llc_command_rejects_bad_options(capsys):
    assert main(["llc", "--small", "--beta-min", "-1"]) == 2
    assert "--beta-min" in capsys.readouterr().err
    assert main(["llc", "--small", "--steps", "10", "--burnin", "20"]) == 2
    assert "--burnin" in capsys.readouterr().err
