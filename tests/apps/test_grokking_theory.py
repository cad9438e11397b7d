"""The reduced full-data modular-addition theory against independent evaluations.

* the Fourier reduction of the action against `BayesianProblem.interaction` (exact),
* the prior-kernel discrepancy against a direct GP solve (exact),
* the single-neuron integrals against Monte Carlo of the 2P-dimensional neuron,
* the self-consistent solution against the particle solver (`mf.solve`) at small P,
* the droplet regime against the closed-form leading order.
"""

import math

import numpy as np
import pytest

import meanfield as mf
from meanfield._model.bayesian import BayesianBackground
from meanfield._apps.grokking.theory import ModularTheory


def _modes(z, P):
    K = (P - 1) // 2
    zu = np.fft.fft(z[:, :P], axis=1) / np.sqrt(P)
    zv = np.fft.fft(z[:, P:], axis=1) / np.sqrt(P)
    return 2 * np.abs(zu[:, 1:K + 1]) ** 2, 2 * np.abs(zv[:, 1:K + 1]) ** 2


@pytest.mark.parametrize("P", [5, 7])
def test_fourier_reduction_of_the_action(P):
    N, s2, sa2, sw2, gam, tau = 37.0, 0.3, 1.7, 1.3, 0.4, 2.9
    th = ModularTheory(P=P, width=N, sigma_a2=sa2, stabiliser=gam, sigma_w2=sw2)
    task = mf.modular_addition(P, 1.0)
    prob = mf.BayesianProblem(task, mf.Quadratic(), width=N, noise=s2, sigma_a2=sa2,
                              sigma_w2=sw2, action=mf.LinearisedAction(stabiliser=gam))
    y = np.asarray(task.train.y)
    n = y.shape[0]
    bg = BayesianBackground(np.zeros((n, n)), np.eye(n), tau * y)
    z = np.random.default_rng(0).standard_normal((20, 2 * P)) * 1.7
    A, B = _modes(z, P)
    g = th.coupling(tau)
    expected = gam * (np.sum(z**2, 1) / (2 * P)) ** 3 - g * np.sum(A * B, 1)
    got = np.array([float(prob.interaction(zi, bg)) for zi in z])
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_prior_kernel_discrepancy_is_a_multiple_of_the_target():
    P, s2, sa2, sw2 = 7, 0.05, 2.0, 1.5
    th = ModularTheory(P=P, width=10.0, sigma_a2=sa2, stabiliser=1.0, sigma_w2=sw2)
    task = mf.modular_addition(P, 1.0)
    x, y = np.asarray(task.train.x), np.asarray(task.train.y)
    q = np.asarray(mf.nngp_kernel(mf.Quadratic(), x, sigma_w2=sw2, sigma_a2=sa2))
    tbar = np.linalg.solve(q + s2 * np.eye(len(x)), y)
    tau = 1.0 / (th.kappa * 4.0 + s2)  # lambda = kappa m with m = 4 under the prior
    np.testing.assert_allclose(tbar, tau * y, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("g", [0.0, 0.01, 0.02])
def test_single_neuron_against_monte_carlo(g):
    P = 11
    th = ModularTheory(P=P, width=100.0, stabiliser=1.0)
    z = np.random.default_rng(1).standard_normal((200_000, 2 * P))
    A, B = _modes(z, P)
    ab = np.sum(A * B, 1)
    lw = g * ab - th.gamma_eff * (np.sum(z**2, 1) / (2 * P)) ** 3
    w = np.exp(lw - lw.max())
    m_mc = np.sum(ab / th.n_modes * w) / w.sum()
    logz_mc = math.log(w.mean()) + lw.max()
    sn = th.single_neuron(g)
    assert abs(sn["m"] / m_mc - 1) < 0.03, (sn["m"], m_mc)
    assert abs(sn["log_z"] - logz_mc) < 0.01, (sn["log_z"], logz_mc)
    assert sn["droplet_fraction"] == 0.0


def test_self_consistency_against_particle_solver():
    P, N, s2, sa2, gam = 5, 200.0, 0.1, 4.0, 0.3
    th = ModularTheory(P=P, width=N, sigma_a2=sa2, stabiliser=gam)
    pt = th.solve(s2, branches=False)
    task = mf.modular_addition(P, 1.0)
    prob = mf.BayesianProblem(task, mf.Quadratic(), width=N, noise=s2, sigma_a2=sa2,
                              action=mf.LinearisedAction(stabiliser=gam))
    sol = mf.solve(prob, mf.FixedPoint(n_particles=4096, rtol=2e-3), key=0, progress=False)
    y = np.asarray(task.train.y)
    tb = np.asarray(sol.background.discrepancy)
    tau = float(np.sum(tb * y) / np.sum(y * y))
    assert np.linalg.norm(tb - tau * y) / np.linalg.norm(tb) < 0.05  # tbar = tau y
    A, B = _modes(np.asarray(sol.particles.theta), P)
    assert abs(tau / pt.tau - 1) < 0.01, (tau, pt.tau)
    assert abs(np.mean(A * B) / pt.m - 1) < 0.03, (np.mean(A * B), pt.m)
    assert pt.m < 3.5  # the stabiliser visibly shrinks the kernel (prior m = 4): not trivial


def test_mixed_phase_pins_the_coupling_at_leading_order_fixed_u():
    th = ModularTheory(P=11, width=100.0, stabiliser=1.0, scaling="fixed_u")
    a = th.asymptotic()
    assert a["u_c"] == pytest.approx(16.0)
    pts = [th.solve(s2, branches=False) for s2 in (0.2, 0.05)]
    for p in pts:  # below the onset the coupling sits at g_c and droplets have radius x_c
        assert p.g == pytest.approx(a["g_c"], rel=0.02)
        assert p.droplet_radius == pytest.approx(a["droplet_radius"], rel=0.03)
        assert p.discrepancy == pytest.approx(p.sigma2 * a["tau_c"], rel=0.03)
    assert pts[1].m > pts[0].m > 4.0
    hi = th.solve(1.0, branches=False)  # above the onset: GP-like, nothing learned yet
    assert hi.discrepancy > 0.98 and hi.droplet_fraction < 1e-6


def test_scan_boundaries_and_monotone_discrepancy():
    th = ModularTheory(P=11, width=100.0, stabiliser=1.0)
    scan = th.scan(np.geomspace(0.15, 0.01, 5), branches=False)
    t = scan.column("discrepancy")
    assert np.all(np.diff(t) < 0)  # sigma2 decreasing: more of the target is learned
    assert scan.sigma2_onset is not None and 0.01 < scan.sigma2_onset < 0.15
    assert scan.sigma2_droplets is not None and scan.sigma2_droplets < 0.15
    assert scan.sigma2_specialised is None  # the mixed phase persists (droplets are heavy)
    # the finite-P onset lies below the leading-order estimate (entropy of the GP basin)
    assert scan.sigma2_onset < scan.asymptotic["sigma2_onset"]


def test_bad_arguments():
    with pytest.raises(ValueError, match="odd"):
        ModularTheory(P=8, width=10.0)
    with pytest.raises(ValueError, match="stabiliser"):
        ModularTheory(P=7, width=10.0, stabiliser=0.0)
    with pytest.raises(ValueError, match="scaling"):
        ModularTheory(P=7, width=10.0, scaling="paper")
    with pytest.raises(ValueError, match="sigma2"):
        ModularTheory(P=7, width=10.0).solve(-1.0)


def test_cli_grokking_theory_json(capsys, tmp_path):
    import json

    from meanfield._cli.main import main

    rc = main(["grokking", "theory", "--P", "5", "--N", "50", "--sigma2-count", "3",
               "--no-branches", "--json", "--quiet", "--out", str(tmp_path / "r")])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("sigma2_onset", "sigma2_specialised", "discrepancy_amplitude", "sigma2"):
        assert key in out
    assert len(out["discrepancy_amplitude"]) == 3
    assert (tmp_path / "r" / "theory.json").is_file() and (tmp_path / "r" / "theory.png").is_file()
    assert main(["grokking", "theory", "--P", "8"]) == 2


@pytest.mark.slow
def test_droplet_basin_against_mala():
    """Neurons started as single-frequency droplets and sampled by MALA under the frozen
    background tbar = tau y stay droplets; their <A_k B_k> matches the droplet-basin integral."""
    import jax
    import jax.numpy as jnp

    from meanfield._solver.foreground import LangevinState
    from meanfield._model.particles import Particles

    P, N, gam = 7, 100.0, 1.0
    th = ModularTheory(P=P, width=N, stabiliser=gam)
    g = 1.3 * th.asymptotic()["g_c"]
    tau = math.sqrt(g * N / (th.kappa * P))
    sn = th.single_neuron(g)
    task = mf.modular_addition(P, 1.0)
    prob = mf.BayesianProblem(task, mf.Quadratic(), width=N, noise=0.1,
                              action=mf.LinearisedAction(stabiliser=gam))
    y = np.asarray(task.train.y)
    bg = BayesianBackground(jnp.zeros((len(y), len(y))), jnp.eye(len(y)), jnp.asarray(tau * y))
    M, K = 2048, (P - 1) // 2
    rng = np.random.default_rng(0)
    x = sn["droplet_radius"]
    n = np.arange(P)
    k = rng.integers(1, K + 1, M)
    ph = rng.uniform(0, 2 * np.pi, (2, M))
    u = np.sqrt(2 * x / P) * np.cos(2 * np.pi * k[:, None] * n / P + ph[0][:, None])
    v = np.sqrt(2 * x / P) * np.cos(2 * np.pi * k[:, None] * n / P + ph[1][:, None])
    parts = Particles.uniform(jnp.asarray(np.concatenate([u, v], 1)
                                          + 0.3 * rng.standard_normal((M, 2 * P))))
    lang = mf.Langevin(step_size=0.01, n_steps=200)
    state = LangevinState(jnp.asarray(0.01))
    key = jax.random.PRNGKey(0)
    vals = []
    for it in range(30):
        key, sub = jax.random.split(key)
        parts, state, _ = lang.run(prob, parts, bg, sub, state)
        A, B = _modes(np.asarray(parts.theta), P)
        if it >= 10:
            vals.append(np.mean(A * B))
    m_mc, se = np.mean(vals), np.std(vals) / math.sqrt(len(vals))
    assert sn["droplet_fraction"] > 0.99
    assert abs(m_mc - sn["m_feature"]) < max(5 * se, 0.01 * m_mc), (m_mc, se, sn["m_feature"])


@pytest.mark.slow
def test_self_consistency_against_particle_solver_near_onset():
    P, N, s2, sa2, gam = 7, 100.0, 0.05, 1.0, 1.0
    th = ModularTheory(P=P, width=N, sigma_a2=sa2, stabiliser=gam)
    pt = th.solve(s2, branches=False)
    assert pt.g > 0.5 * th.asymptotic()["g_c"]  # strongly coupled, still GP-like
    task = mf.modular_addition(P, 1.0)
    prob = mf.BayesianProblem(task, mf.Quadratic(), width=N, noise=s2, sigma_a2=sa2,
                              action=mf.LinearisedAction(stabiliser=gam))
    sol = mf.solve(prob, mf.FixedPoint(n_particles=8192, rtol=2e-3), key=0, progress=False)
    y = np.asarray(task.train.y)
    tb = np.asarray(sol.background.discrepancy)
    tau = float(np.sum(tb * y) / np.sum(y * y))
    A, B = _modes(np.asarray(sol.particles.theta), P)
    print(f"near onset: tau solver {tau:.4f} theory {pt.tau:.4f}; m solver {np.mean(A * B):.4f} "
          f"theory {pt.m:.4f}")
    # measured (P=7, g/g_c = 0.65): tau 2.0% low (14.17 vs 14.46), m 6% high (4.03 vs 3.80) (the GP-basin resummation treats the K modes as
    # independent although the stabiliser couples them; the error grows towards the onset)
    assert abs(tau / pt.tau - 1) < 0.03, (tau, pt.tau)
    assert abs(np.mean(A * B) / pt.m - 1) < 0.08, (np.mean(A * B), pt.m)
