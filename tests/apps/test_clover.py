"""The clover experiment: foreground law against the Gibbs formula, controls, CLI; slow acceptance."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import meanfield as mf
from meanfield._cli.main import main


def test_clipped_relu_is_not_odd_and_fits_even_targets():
    phi = mf.ClippedReLU()
    z = jnp.linspace(-3.0, 3.0, 13)
    even = 0.5 * (phi(z) + phi(-z))
    assert np.allclose(even, 0.5 * np.minimum(np.abs(z), 1.0))
    assert np.allclose(phi.derivative(jnp.array([-0.5, 0.5, 1.5])), [0.0, 1.0, 0.0])
    # an odd activation has zero correlation with an even target: E[y hardtanh(w.x)] = 0
    task = mf.gaussian_inputs(2, "xor", n_nodes=12)
    w = jnp.array([0.8, 0.6])
    x, y, p = task.train.x, task.train.y[:, 0], task.train.weights
    assert abs(float(jnp.sum(p * y * mf.HardTanh()(x @ w)))) < 1e-12
    assert abs(float(jnp.sum(p * y * phi(x @ w)))) > 1e-2


def test_foreground_samples_the_gibbs_law_of_a_frozen_background():
    """Against a frozen residual r the single-neuron law is exp(-Psi/T): given w,
    a ~ N(-g(w)/lambda, T/lambda) with g(w) = E[r phi(w.x)], and the w-marginal is
    ∝ exp(-lambda |w|^2/(2T) + g(w)^2/(2 lambda T)), integrated here on a grid."""
    s = mf.CloverSetting(weight_decay=0.1, temperature=0.1, learning_rate=0.1, n_steps=1000,
                         n_nodes=8, n_foreground=2000, other_pairs=())
    problem = s.problem()
    # a frozen prediction f = -2y (residual -3y): a strong drive, so the law is far from Gaussian
    bg = problem.background(-2.0 * problem.data.y)
    theta = np.asarray(mf.train_foreground(s, problem, bg, 3, 2000).theta)
    x, r, p = problem.data.x, np.asarray(bg.residual)[:, 0], np.asarray(problem.data.weights)
    phi = mf.ClippedReLU()

    def g(w):
        return np.asarray(phi(jnp.asarray(w) @ x.T)) @ (p * r)

    lam, T = s.weight_decay, s.temperature
    mean_a = -g(theta[:, :2]) / lam
    dev = theta[:, 2] - mean_a
    assert abs(dev.mean()) < 0.1  # standard error ~ 1/sqrt(2000) = 0.02 (ULA bias ~ h)
    assert dev.var() == pytest.approx(T / lam, rel=0.1)
    grid = np.linspace(-5, 5, 121)
    W = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    logp = -lam * np.sum(W**2, 1) / (2 * T) + g(W) ** 2 / (2 * lam * T)
    dens = np.exp(logp - logp.max())
    dens /= dens.sum()
    exact_r2 = float(np.sum(dens * np.sum(W**2, 1)))
    exact_lobes = float(np.sum(dens * np.abs(W[:, 0] * W[:, 1])))  # weight on the diagonals
    sample_r2 = float(np.mean(np.sum(theta[:, :2] ** 2, 1)))
    sample_lobes = float(np.mean(np.abs(theta[:, 0] * theta[:, 1])))
    assert exact_lobes > 0.8  # the drive visibly reshapes the unit Gaussian (2/pi = 0.64 there)
    assert sample_r2 == pytest.approx(exact_r2, rel=0.06)
    assert sample_lobes == pytest.approx(exact_lobes, rel=0.05)


def test_random_feature_background_is_the_ridge_optimum():
    s = mf.CloverSetting(n_nodes=6)
    problem = s.problem()
    init = problem.init_particles(jax.random.PRNGKey(0), 50)
    bg = mf.random_feature_background(problem, init)
    # stationarity of 0.5 E (Phi a/N - y)^2 + lambda/(2N)|a|^2 in a  <=>  Phi^T D r / N = -lambda a / N,
    # i.e. the residual is orthogonal to the features up to the ridge: check by refitting a
    w = init.theta[:, :2]
    phi = problem.activation(problem.data.x @ w.T)
    d = problem.data.weights
    a, *_ = np.linalg.lstsq(np.asarray(phi) / 50, np.asarray(bg.prediction[:, 0]), rcond=None)
    grad = (np.asarray(phi).T * np.asarray(d)) @ np.asarray(bg.residual[:, 0]) / 50 + s.weight_decay * a / 50
    assert np.max(np.abs(grad)) < 1e-8
    assert float(jnp.sum(d[:, None] * bg.residual**2)) < float(jnp.sum(d[:, None] * problem.data.y**2))


def test_setting_errors_name_the_argument():
    with pytest.raises(ValueError, match="temperature"):
        mf.CloverSetting(temperature=0.0)
    with pytest.raises(ValueError, match="target"):
        mf.CloverSetting(target="nope")
    with pytest.raises(ValueError, match="activation"):
        mf.CloverSetting(activation="sigmoidish")
    with pytest.raises(ValueError, match="width"):
        mf.CloverSetting(width=1)


def test_clover_command_tiny(tmp_path, capsys):
    out = tmp_path / "clover"
    code = main(["clover", "--width", "48", "--steps", "10", "--nodes", "5",
                 "--solve-iterations", "2", "--no-pairs", "--quiet", "--json", "--out", str(out)])
    assert code == 0
    record = json.loads(capsys.readouterr().out)
    for k in ("foreground_distance", "noise_floor", "control_distance", "joint_loss",
              "recombined_loss", "control_loss", "fixed_point_distance"):
        assert isinstance(record[k], float) and np.isfinite(record[k]), k
    assert (out / "clover.png").is_file() and (out / "clover.json").is_file()
    arrays = np.load(out / "arrays.npz")
    assert arrays["background"].shape == (48, 3) and arrays["foreground"].shape == (48, 3)
    assert main(["clover", "--width", "1", "--quiet"]) == 2


@pytest.mark.slow
def test_clover_acceptance(tmp_path):
    """The real thing at width 2048: foreground within a small multiple of the noise floor, the
    GP-like control many times farther, recombined loss within a few percent, and the fixed point
    from scratch on the same cloud."""
    r = mf.run_clover(mf.CloverSetting(other_pairs=()), progress=True).summary
    floor = r["noise_floor"]
    assert r["foreground_distance"] < 2.0 * floor, r
    assert r["control_distance"] > 5.0 * floor, r
    assert r["untrained_control_distance"] > 5.0 * floor, r
    assert r["recombined_relative_error"] < 0.05, r
    assert abs(r["control_loss"] - r["joint_loss"]) > 0.2 * r["joint_loss"], r
    assert r["fixed_point_status"] in ("converged", "noise_limited"), r
    assert r["fixed_point_distance"] < 2.0 * floor, r
    assert abs(r["fixed_point_loss"] - r["joint_loss"]) / r["joint_loss"] < 0.05, r
