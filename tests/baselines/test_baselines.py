"""Kernel predictors, MCMC diagnostics, optax training and the `meanfield compare` command."""

import json

import numpy as np
import pytest

import meanfield as mf
from meanfield._cli.main import main
from meanfield._io.config import config_to_toml

# --- predictors -----------------------------------------------------------------------------


def test_nngp_identity_is_bayesian_linear_regression():
    """phi = identity: f(x) = beta.x with beta ~ N(0, sigma_a2 sigma_w2/d I); closed form."""
    rng = np.random.default_rng(0)
    d, n = 3, 7
    x, xs = rng.standard_normal((n, d)), rng.standard_normal((5, d))
    y = x @ np.array([1.0, -0.5, 0.2]) + 0.1 * rng.standard_normal(n)
    task = mf.finite_dataset(x, y, xs, np.zeros(5))
    s2, sa2, sw2 = 0.3, 2.0, 1.5
    pred = mf.nngp_predictor(task, mf.Identity(), noise=s2, sigma_a2=sa2, sigma_w2=sw2)
    tau = sa2 * sw2 / d  # prior variance of beta
    prec = x.T @ x / s2 + np.eye(d) / tau
    cov = np.linalg.inv(prec)
    mean = cov @ x.T @ y / s2
    np.testing.assert_allclose(np.asarray(pred.test_mean)[:, 0], xs @ mean, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(pred.test_var), np.einsum("ij,jk,ik->i", xs, cov, xs),
                               rtol=1e-9)


def test_ntk_identity_is_min_norm_interpolation_with_conditional_variance():
    """phi = identity, n < d: Theta = 2K, gradient flow ends at the min-norm interpolant, and the
    spread over initialisations is the noiseless GP conditional variance."""
    rng = np.random.default_rng(1)
    x, xs = rng.standard_normal((3, 6)), rng.standard_normal((4, 6))
    y = rng.standard_normal(3)
    task = mf.finite_dataset(x, y, xs, np.zeros(4))
    pred = mf.ntk_predictor(task, mf.Identity(), ridge=0.0)
    np.testing.assert_allclose(np.asarray(pred.test_mean)[:, 0], xs @ np.linalg.pinv(x) @ y,
                               rtol=1e-8)
    k = x @ x.T / 6
    ks = xs @ x.T / 6
    cond = np.einsum("ii->i", xs @ xs.T / 6) - np.einsum("ij,jk,ik->i", ks, np.linalg.inv(k), ks)
    np.testing.assert_allclose(np.asarray(pred.test_var), cond, atol=1e-10)
    assert pred.train_loss < 1e-20


def test_metrics_and_errors():
    data = mf.Data([[0.0], [1.0], [2.0]], [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert mf.classification_accuracy([[2.0, 0.0], [1.0, 0.0], [0.0, 3.0]], data) == \
        pytest.approx(2 / 3)
    assert mf.regression_loss(np.asarray(data.y), data) == 0.0
    assert mf.kernel_alignment(np.eye(2), -np.eye(2)) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="shape"):
        mf.regression_loss([1.0], data)
    with pytest.raises(ValueError, match="noise"):
        mf.nngp_predictor(mf.cubic_teacher(1, 4, n_test=2), mf.Erf(), noise=0.0)
    with pytest.raises(ValueError, match="ridge"):
        mf.ntk_predictor(mf.cubic_teacher(1, 4, n_test=2), mf.Erf(), ridge=-1.0)


# --- diagnostics ----------------------------------------------------------------------------


def test_rhat_and_ess_on_known_processes():
    rng = np.random.default_rng(0)
    iid = rng.standard_normal((8, 2000))
    assert abs(mf.split_rhat(iid) - 1.0) < 0.01
    shifted = iid + np.arange(8)[:, None] * 0.5  # chains in different places
    assert mf.split_rhat(shifted) > 1.3
    # AR(1) with coefficient r: integrated autocorrelation time (1 + r)/(1 - r)
    r, m, n = 0.8, 8, 5000
    x = np.zeros((m, n))
    x[:, 0] = rng.standard_normal(m) / np.sqrt(1 - r * r)
    noise = rng.standard_normal((m, n))
    for t in range(1, n):
        x[:, t] = r * x[:, t - 1] + noise[:, t]
    expected = m * n * (1 - r) / (1 + r)
    assert abs(mf.effective_sample_size(x) / expected - 1) < 0.15
    with pytest.raises(ValueError, match="draws"):
        mf.split_rhat(np.zeros((2, 2)))


# --- training -------------------------------------------------------------------------------


def test_meanfield_gd_equals_train_network():
    task = mf.cubic_teacher(1, 12, eps=0.2, n_test=5, seed=0)
    problem = mf.TrainingProblem(task, mf.Tanh())
    start = problem.init_particles(__import__("jax").random.PRNGKey(4), 16)
    ref = mf.train_network(problem, 16, n_steps=60, learning_rate=0.1, particles=start)
    theta = np.asarray(start.theta)
    run = mf.train(task, mf.Tanh(), width=16, optimizer="gd", learning_rate=0.1, n_steps=60,
                   init={"w": theta[:, :1], "a": theta[:, 1:]})
    final = np.concatenate([np.asarray(run.params["w"]), np.asarray(run.params["a"])], axis=1)
    np.testing.assert_allclose(final, np.asarray(ref.particles.theta), rtol=1e-10, atol=1e-12)


def test_wide_ntk_training_follows_the_linearised_kernel_prediction():
    """A wide network in NTK parameterisation trained to convergence lands on
    f_0 + Theta(x*, X) Theta^{-1} (y - f_0(X)) (Jacot et al. 2018), error ~ N^{-1/2}."""
    x = np.linspace(-2, 2, 6)[:, None]
    xs = np.linspace(-1.8, 1.8, 7)[:, None]
    task = mf.finite_dataset(x, np.sin(x[:, 0]), xs, np.sin(xs[:, 0]))
    errs = []
    for width in (64, 4096):
        run = mf.train(task, mf.Erf(), width=width, parameterisation="ntk", optimizer="gd",
                       learning_rate=1.0, n_steps=3000, key=2, record_every=100)
        assert run.train_losses[-1] < 1e-8
        theta = np.asarray(mf.ntk_kernel(mf.Erf(), x))
        theta_s = np.asarray(mf.ntk_kernel(mf.Erf(), xs, x))
        f0, f0s = np.asarray(run.initial_predict(x)), np.asarray(run.initial_predict(xs))
        lin = f0s + theta_s @ np.linalg.solve(theta, task.train.y - f0)
        errs.append(np.max(np.abs(np.asarray(run.predict(xs)) - lin)))
    assert errs[1] < 0.05
    assert errs[1] < errs[0] / 3


def test_sgd_and_adam_reduce_the_loss_and_errors_are_named():
    task = mf.cubic_teacher(2, 32, eps=0.0, n_test=10, seed=1)
    for kw in ({"optimizer": "sgd", "batch_size": 8}, {"optimizer": "adam",
                                                       "learning_rate": 0.01}):
        run = mf.train(task, mf.Erf(), width=32, n_steps=300, **{"learning_rate": 0.05, **kw})
        assert run.train_losses[-1] < 0.3 * run.train_losses[0]
    with pytest.raises(ValueError, match="batch_size"):
        mf.train(task, mf.Erf(), width=4, optimizer="sgd")
    with pytest.raises(ValueError, match="parameterisation"):
        mf.train(task, mf.Erf(), width=4, parameterisation="mup")
    with pytest.raises(ValueError, match="width"):
        mf.train(task, mf.Erf(), width=0)


# --- comparison -----------------------------------------------------------------------------


def test_fit_power_law():
    r, a = mf.fit_power_law([8, 16, 32, 64], 3.0 * np.array([8, 16, 32, 64]) ** -0.7)
    assert r == pytest.approx(0.7) and a == pytest.approx(3.0)


def test_compare_command_tiny(tmp_path, capsys):
    cfg = {"seed": 0,
           "task": {"kind": "cubic_teacher", "dim": 2, "n_train": 12, "n_test": 15, "eps": 0.3},
           "model": {"kind": "bayesian", "width": 8.0, "noise": 0.05},
           "solver": {"n_particles": 64, "n_steps": 5, "max_iterations": 60, "rtol": 1e-2,
                      "burn_in": 1}}
    path = tmp_path / "c.toml"
    path.write_text(config_to_toml(cfg))
    out = tmp_path / "out"
    rc = main(["compare", str(path), "--out", str(out), "--json", "--quiet", "--widths", "6",
               "--chains", "4", "--warmup", "60", "--samples", "12", "--thin", "2",
               "--method", "joint"])
    stdout, _ = capsys.readouterr()
    assert rc == 0
    res = json.loads(stdout)
    assert set(res["test_loss"]) == {"mean_field", "nngp", "ntk", "langevin_N6"}
    assert [g["width"] for g in res["gaps"]] == [6]
    assert all(g["gap"] >= 0 for g in res["gaps"])
    for f in ("compare.json", "compare.png", "table.txt", "arrays.npz", "config.json"):
        assert (out / f).is_file()
    saved = json.loads((out / "compare.json").read_text())
    assert saved["config"]["compare"]["widths"] == [6]
    assert saved["methods"]["nngp"]["test_loss"] == pytest.approx(res["test_loss"]["nngp"])
    rc = main(["compare", str(path), "--out", str(out), "--widths", "0"])
    assert rc == 2
