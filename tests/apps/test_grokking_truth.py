"""Pieces of the finite-width ground truth for grokking (issue 8, item 3).

* The sextic stabiliser of `NetworkPosterior`: its value against the direct formula, the gradient
  of both potentials against finite differences, and (a law, not a formula) MALA on a posterior
  whose likelihood is negligible samples the stabilised prior, whose E|z|^2 is a 1-D integral.
* `fourier_seeded_weights`: the droplets are single-frequency with the requested block norm, the
  prior neurons are not.
* `train(..., optimizer="adamw")`: zero decay is Adam; the decay is decoupled (not an L2 loss
  term); the recorded accuracies are those of the predictor at the recorded steps.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate

import meanfield as mf


def _posterior(gamma, noise=0.05, P=5, alpha=0.6, width=3):
    task = mf.modular_addition(P, alpha, seed=1)
    return mf.NetworkPosterior(task, mf.Quadratic(), width, noise, stabiliser=gamma)


def test_stabiliser_adds_the_sextic_to_both_potentials():
    z = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (3, 10), dtype=jnp.float64)) * 1.7
    ahat = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (3, 5), dtype=jnp.float64))
    gamma = 0.8
    direct = gamma * np.sum((np.sum(z**2, axis=1) / 10.0) ** 3)
    with_, without = _posterior(gamma), _posterior(0.0)
    assert direct > 1.0
    np.testing.assert_allclose(float(with_.stabiliser_energy(z)), direct, rtol=1e-12)
    np.testing.assert_allclose(float(with_.marginal_potential(z) - without.marginal_potential(z)),
                               direct, rtol=1e-10)
    np.testing.assert_allclose(
        float(with_.joint_potential(ahat, z) - without.joint_potential(ahat, z)), direct,
        rtol=1e-10)
    u, _ = with_.marginal_value_and_grad(z)
    np.testing.assert_allclose(float(u), float(with_.marginal_potential(z)), rtol=1e-10)


def test_stabilised_gradients_match_finite_differences():
    post = _posterior(1.3)
    rng = np.random.default_rng(2)
    z = 1.5 * rng.standard_normal((3, 10))
    ahat = rng.standard_normal((3, 5))
    _, g = post.marginal_value_and_grad(jnp.asarray(z))
    g_joint = jax.grad(lambda zz: post.joint_potential(jnp.asarray(ahat), zz))(jnp.asarray(z))
    eps = 1e-6
    for idx in [(0, 0), (1, 4), (2, 9), (0, 7)]:
        e = np.zeros_like(z)
        e[idx] = eps
        fd = (float(post.marginal_potential(z + e)) - float(post.marginal_potential(z - e))) / (
            2 * eps)
        np.testing.assert_allclose(float(g[idx]), fd, rtol=1e-6, atol=1e-7)
        fdj = (float(post.joint_potential(ahat, z + e)) - float(post.joint_potential(ahat, z - e))
               ) / (2 * eps)
        np.testing.assert_allclose(float(g_joint[idx]), fdj, rtol=1e-6, atol=1e-7)


def test_stabiliser_validation():
    with pytest.raises(ValueError, match="stabiliser"):
        _posterior(-1.0)


def test_sampler_draws_the_stabilised_prior():
    """Likelihood switched off (noise 1e8): each neuron's |z|^2 = R has density
    R^{d/2-1} exp(-R/2 - gamma (R/d)^3); gamma = 2 pulls E[R] from d = 6 down to ~3.9."""
    post = _posterior(2.0, noise=1e8, P=3, alpha=0.5, width=2)
    d = 6
    dens = lambda r: r ** (d / 2 - 1) * np.exp(-r / 2 - 2.0 * (r / d) ** 3)  # noqa: E731
    exact = integrate.quad(lambda r: r * dens(r), 0, 80)[0] / integrate.quad(dens, 0, 80)[0]
    assert exact < d - 1.5  # the stabiliser matters
    sampler = mf.PosteriorLangevin(n_chains=16, n_warmup=400, n_samples=200, thin=5,
                                   step_size=0.5)
    s = mf.sample_posterior(post, sampler, key=4, record=True, progress=False)
    r = np.sum(s.trace["z"] ** 2, axis=-1).mean(axis=(1, 2))  # per-chain E[R]
    se = r.std(ddof=1) / np.sqrt(r.size)
    assert abs(r.mean() - exact) < 4.5 * se + 0.02, (r.mean(), exact, se)


def test_fourier_seed_droplets_are_single_frequency():
    P, width, x = 11, 30, 30.0
    z = mf.fourier_seeded_weights(P, width, 3, 0.4, key=7, radius=x)
    assert z.shape == (3, width, 2 * P)
    n_drop = 12
    drops = z[:, :n_drop].reshape(-1, 2 * P)
    rest = z[:, n_drop:].reshape(-1, 2 * P)
    summ = mf.fourier_summary(drops, P)
    assert summ["single_frequency_fraction"] == 1.0
    assert summ["ipr_mean"] > 0.9
    assert summ["dominant_frequency_counts"] == [9, 9, 6, 6, 6]  # k = 1 + j mod 5, 3 chains
    # the block norm of the seeded frequency is x in each half (jitter 0.1 aside)
    power = mf.fourier_power(drops, P)
    k = mf.dominant_frequency(drops, P)
    blocks = power[np.arange(drops.shape[0]), :, k]
    np.testing.assert_allclose(blocks, x, rtol=0.15)
    assert mf.single_frequency_fraction(rest, P) < 0.1
    # the default size is the leading-order droplet of ModularTheory at gamma = 1
    z0 = mf.fourier_seeded_weights(P, 4, 1, 1.0, key=0, jitter=0.0)
    x_c = mf.ModularTheory(P=P, width=100.0, stabiliser=1.0).asymptotic()["droplet_radius"]
    np.testing.assert_allclose(np.sum(z0[0, 0] ** 2), 2 * x_c, rtol=1e-9)


def test_fourier_seed_validation():
    for kwargs, word in [({"P": 10}, "P"), ({"fraction": 0.0}, "fraction"),
                         ({"radius": -1.0}, "radius"), ({"width": 0}, "width")]:
        args = {"P": 11, "width": 5, "n_chains": 1, "fraction": 0.5, **kwargs}
        with pytest.raises(ValueError, match=word):
            mf.fourier_seeded_weights(**args)


def test_adamw_decoupled_decay_and_accuracy_record():
    task = mf.modular_addition(5, 0.6, seed=0)
    kw = dict(width=16, parameterisation="ntk", learning_rate=1e-2, n_steps=60, record_every=20,
              key=3)
    adam = mf.train(task, mf.Quadratic(), optimizer="adam", **kw)
    adamw0 = mf.train(task, mf.Quadratic(), optimizer="adamw", weight_decay=0.0, **kw)
    np.testing.assert_allclose(adamw0.train_losses, adam.train_losses, rtol=1e-10)
    adamw = mf.train(task, mf.Quadratic(), optimizer="adamw", weight_decay=0.5, **kw)
    adam_l2 = mf.train(task, mf.Quadratic(), optimizer="adam", weight_decay=0.5, **kw)
    # decoupled decay shrinks the weights, and differently from an L2 term seen through Adam
    norm = lambda r: float(sum(jnp.sum(v**2) for v in r.params.values()))  # noqa: E731
    assert norm(adamw) < norm(adamw0)
    assert abs(norm(adamw) - norm(adam_l2)) > 1e-3 * norm(adamw)
    np.testing.assert_array_equal(adamw.steps, [0, 20, 40, 60, 60])
    assert adamw.test_accuracies.shape == adamw.train_losses.shape
    np.testing.assert_allclose(adamw.test_accuracies[-1],
                               mf.classification_accuracy(adamw.predict(task.test.x), task.test))
    np.testing.assert_allclose(adamw.train_accuracies[0], mf.classification_accuracy(
        adamw.initial_predict(task.train.x), task.train))
    reg = mf.train(mf.cubic_teacher(1, 8, eps=0.0, n_test=4, seed=0), mf.Erf(), width=4,
                   n_steps=5, record_every=2)
    assert reg.test_accuracies is None and reg.steps.tolist() == [0, 2, 4, 5]


def _experiment(name):
    import importlib.util
    from pathlib import Path
    here = Path(__file__).resolve().parents[2] / "experiments"
    import sys
    sys.path.insert(0, str(here))
    spec = importlib.util.spec_from_file_location(name, here / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_transition_alpha_interpolates_the_first_upward_crossing():
    transition = _experiment("grokking_langevin").transition
    # P = 3: the midpoint between chance and 1 is 2/3, crossed between alpha = 0.6 and 0.7
    expected = 0.6 + 0.1 * (2 / 3 - 0.2) / 0.6
    a, err = transition([0.5, 0.6, 0.7, 0.8], [0.0, 0.2, 0.8, 1.0], 3)
    assert a == pytest.approx(expected) and err == pytest.approx(0.05)
    assert transition([0.5, 0.6], [0.0, 0.1], 3) == (None, None)
    # a large chain spread widens the error beyond the bracket
    a, err = transition([0.5, 0.6, 0.7, 0.8], [0.0, 0.2, 0.8, 1.0], 3,
                        stderr=[0.0, 0.45, 0.45, 0.0])
    assert a == pytest.approx(expected) and err > 0.05


@pytest.mark.slow
def test_experiments_run_small(tmp_path):
    import json
    lang = _experiment("grokking_langevin")
    assert lang.main(["--small", "--out", str(tmp_path / "l")]) == 0
    rec = json.loads((tmp_path / "l" / "grokking_langevin.json").read_text())
    assert len(rec["points"]) == 12 and (tmp_path / "l" / "grokking_langevin.png").exists()
    assert {p["start"] for p in rec["points"]} == {"prior", "fourier"}
    # resuming reuses the saved points (no sampling: fast)
    assert lang.main(["--small", "--out", str(tmp_path / "l")]) == 0
    train = _experiment("grokking_training")
    assert train.main(["--small", "--out", str(tmp_path / "t")]) == 0
    rec = json.loads((tmp_path / "t" / "grokking_training.json").read_text())
    assert len(rec["runs"]) == 2 and rec["runs"][0]["test_accuracy"]


def _langevin_record(rhats):
    """A minimal grokking_langevin record at P = 3 (midpoint 2/3) with given R-hat per point."""
    alphas = [0.5, 0.6, 0.7, 0.8]
    acc = [0.0, 0.2, 0.8, 1.0]
    pts = [{"width": 10, "start": s, "alpha": a, "test_accuracy_chains_mean": v,
            "test_accuracy_chains_stderr": 0.0, "test_accuracy": v,
            "rhat": {"potential": r, "train_loss": 1.0}, "ess": {"potential": 50.0,
                                                                "train_loss": 50.0}}
           for s in ("prior", "fourier") for a, v, r in zip(alphas, acc, rhats)]
    base = [{"width": 10, "alpha": a, "nngp": {"test_accuracy": 0.0}, "ntk": None}
            for a in alphas]
    trans = [{"width": 10, "start": s, "alpha_t": 0.0, "alpha_t_err": 0.0}
             for s in ("prior", "fourier", "nngp")]
    return {"P": 3, "widths": [10], "points": pts, "baselines": base, "transitions": trans,
            "config": {"chains": 4, "warmup": 10, "samples": 10, "thin": 1,
                       "noise_by_width": {"10": 0.1}}}


def test_alpha_table_leaves_out_points_whose_chains_have_not_mixed(tmp_path):
    import json
    table = _experiment("grokking_alpha")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_langevin_record([1.01, 1.02, 1.03, 1.01])))
    # the upper bracketing point has not mixed: the crossing moves to the next mixed point
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_langevin_record([1.01, 1.02, 1.30, 1.01])))
    assert table.main(["--langevin", str(good), str(bad), "--out", str(tmp_path / "t")]) == 0
    rec = json.loads((tmp_path / "t" / "grokking_alpha.json").read_text())
    rows = [r for r in rec["rows"] if r["source"] == "Langevin"]
    assert len(rows) == 4
    clean, dirty = rows[0], rows[2]
    expected = 0.6 + 0.1 * (2 / 3 - 0.2) / 0.6
    assert clean["alpha_c"] == pytest.approx(expected) and clean["unmixed_alphas"] == []
    assert dirty["unmixed_alphas"] == [0.7]
    # without alpha = 0.7, the crossing interpolates between 0.6 (0.2) and 0.8 (1.0)
    assert dirty["alpha_c"] == pytest.approx(0.6 + 0.2 * (2 / 3 - 0.2) / 0.8)
    assert dirty["alpha_c_all_points"] == pytest.approx(expected)
    assert "not converged" in dirty["note"] and "1.30" in dirty["note"]
    points = (tmp_path / "t" / "points.md").read_text()
    assert points.count("**no**") == 2 and points.count("| yes |") == 14
