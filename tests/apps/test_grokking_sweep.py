"""The general particle solver on modular addition across the training fraction alpha."""

import functools
import json

import numpy as np
import pytest

import meanfield as mf
from meanfield._apps.grokking.transition import accuracy_transition, sweep_transition


def _droplet(P, k, x, phase_u, phase_v):
    n = np.arange(P)
    r = np.sqrt(2 * x / P)  # folded power of r cos(2 pi k n / P + phase) is r^2 P / 2 = x
    return np.concatenate([r * np.cos(2 * np.pi * k * n / P + phase_u),
                           r * np.cos(2 * np.pi * k * n / P + phase_v)])


def test_specialised_mask_separates_droplets_from_prior():
    P = 11
    rng = np.random.default_rng(0)
    prior = rng.standard_normal((4000, 2 * P))
    # K exp(-threshold/2) per half, both halves at the dominant k: well below 1%
    assert mf.specialised_mask(prior, P).mean() < 0.01
    drops = np.stack([_droplet(P, k, 17.0, rng.uniform(0, 6), rng.uniform(0, 6))
                      + 0.3 * rng.standard_normal(2 * P) for k in (1, 2, 3, 4, 5)])
    assert mf.specialised_mask(drops, P).all()
    # a neuron with power in only one half is not specialised
    one_half = _droplet(P, 2, 17.0, 0.0, 0.0)
    one_half[P:] = 0.1 * rng.standard_normal(P)
    assert not mf.specialised_mask(one_half, P)[0]
    with pytest.raises(ValueError, match="threshold"):
        mf.specialised_mask(prior, P, threshold=-1.0)


def test_alpha_c_interpolates_the_midpoint_crossing():
    P = 5
    alphas = np.array([0.2, 0.4, 0.6, 0.8])
    acc = np.array([0.0, 0.2, 1.0, 1.0])  # midpoint 0.6 crossed between 0.4 and 0.6
    c = accuracy_transition(alphas, acc, P)
    assert c.value == pytest.approx(0.4 + 0.2 * (0.6 - 0.2) / 0.8)
    assert c.error == pytest.approx(0.1)
    assert accuracy_transition(alphas, np.zeros(4), P).status == "never"
    assert accuracy_transition(alphas, np.ones(4), P).status == "beyond_at_start"
    # alpha = 1 holds nothing out and is ignored
    c = accuracy_transition(np.r_[alphas, 1.0], np.r_[acc, 0.0], P, stderr=[0, 0.1, 0.1, 0, 0])
    assert c.value == pytest.approx(0.4 + 0.2 * (0.6 - 0.2) / 0.8)
    # chain errors that move the crossing by more than the bracket widen the error
    fine = np.array([0.40, 0.41, 0.42, 0.43])
    c = accuracy_transition(fine, [0.2, 0.5, 0.7, 0.9], P, stderr=[0.2, 0.2, 0.2, 0.2])
    assert c.error > 0.005
    # a sweep up and back down: the mean of the branches, the spread counts as error
    value, err, per = sweep_transition(alphas, acc, [0.0, 1.0, 1.0, 1.0], P)
    assert per["down"].bracket == (0.2, 0.4)
    assert value == pytest.approx(0.5 * (per["up"].value + per["down"].value))
    assert err == pytest.approx(max(0.1, 0.5 * abs(per["up"].value - per["down"].value)))
    assert sweep_transition(alphas, np.zeros(4), np.zeros(4), P)[:2] == (None, None)


def _tiny_solver():
    return mf.default_grokking_solver(n_particles=64, n_levels=3, max_iterations=2)


def test_grokking_sweep_records_both_branches_and_baselines(tmp_path):
    res = mf.grokking_sweep(5, [1.0, 0.6], width=20.0, noise=0.05, solver=_tiny_solver(),
                            folder=tmp_path / "pts", progress=False)
    assert res.alphas == [0.6, 1.0]
    for b in ("up", "down"):
        recs = res.branches[b]
        assert [r["value"] for r in recs] == [0.6, 1.0]
        for r in recs:
            assert 0 <= r["test_accuracy"] <= 1 and 0 <= r["specialised_fraction"] <= 1
            assert r["n_train"] == round(r["value"] * 25)
            assert len(r["specialised_frequency_counts"]) == 2
    assert len(res.baselines["nngp"]) == 2 and len(res.baselines["ntk"]) == 2
    out = res.to_json()
    json.dumps(out, allow_nan=False)
    assert set(out) >= {"alpha_c", "alpha_c_err", "alphas", "test_accuracy"}
    # resumable: a rerun on the same folder reads the finished points back
    again = mf.grokking_sweep(5, [0.6, 1.0], width=20.0, noise=0.05, solver=_tiny_solver(),
                              folder=tmp_path / "pts", progress=False, baselines=False)
    assert again.column("up", "tau") == pytest.approx(res.column("up", "tau"))


def test_grokking_sweep_rejects_bad_input():
    with pytest.raises(ValueError, match="P must be an odd"):
        mf.grokking_sweep(6, [0.5, 1.0])
    with pytest.raises(ValueError, match="alphas"):
        mf.grokking_sweep(5, [0.5])
    with pytest.raises(ValueError, match="alphas"):
        mf.grokking_sweep(5, [0.5, 1.5])
    with pytest.raises(ValueError, match="fewer than 2"):
        mf.grokking_sweep(5, [0.02, 1.0])
    with pytest.raises(ValueError, match="action"):
        mf.grokking_sweep(5, [0.5, 1.0], action="cavity")


def test_cli_grokking_sweep_json(capsys, tmp_path):
    from meanfield._cli.main import main

    args = ["grokking", "sweep", "--P", "5", "--N", "20", "--sigma2", "0.05", "--alphas",
            "0.6,1", "--particles", "64", "--levels", "3", "--iterations", "2", "--json",
            "--quiet", "--out", str(tmp_path / "r")]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("alpha_c", "alpha_c_err", "alphas", "test_accuracy", "nngp_test_accuracy"):
        assert key in out
    assert out["alphas"] == [0.6, 1.0]
    for f in ("sweep.json", "sweep.png", "config.json", "arrays.npz"):
        assert (tmp_path / "r" / f).is_file()
    assert main(["grokking", "sweep", "--P", "4", "--quiet"]) == 2
    assert "odd" in capsys.readouterr().err


def test_full_data_gp_phase_matches_reduced_theory():
    """At alpha = 1 and a noise above the droplet onset, the particle solver's discrepancy
    amplitude tau equals the reduced theory's (GP-like phase; no specialised neurons)."""
    P, N, s2 = 7, 100.0, 0.2
    theory = mf.ModularTheory(P=P, width=N, sigma_a2=1.0, stabiliser=1.0).solve(s2, branches=False)
    assert theory.droplet_fraction < 1e-3
    solver = mf.FixedPoint(n_particles=2048, foreground=mf.Langevin(n_steps=40),
                           max_iterations=40)
    problem = mf.BayesianProblem(mf.modular_addition(P, 1.0), mf.Quadratic(), width=N, noise=s2,
                                 action=mf.LinearisedAction(stabiliser=1.0))
    sol = mf.solve(problem, solver, key=0, progress=False)
    y = np.asarray(problem.task.train.y)
    tau = float((np.asarray(sol.background.discrepancy) * y).sum() / (y * y).sum())
    assert tau == pytest.approx(theory.tau, rel=0.03)
    assert mf.specialised_mask(np.asarray(sol.particles.theta), P).mean() < 0.01


@functools.lru_cache(maxsize=1)
def _mixed_phase_fraction():  # one solve for both tests below
    P, N, s2 = 11, 100.0, 0.015
    theory = mf.ModularTheory(P=P, width=N, sigma_a2=1.0, stabiliser=1.0).solve(s2, branches=False)
    problem = mf.BayesianProblem(mf.modular_addition(P, 1.0), mf.Quadratic(), width=N, noise=s2,
                                 action=mf.LinearisedAction(stabiliser=1.0))
    solver = mf.default_grokking_solver(n_particles=2048, n_levels=12, max_iterations=60)
    sol = mf.solve(problem, solver, key=0, throw=False, progress=False)
    return mf.specialised_mask(np.asarray(sol.particles.theta), P).mean(), theory.droplet_fraction


@pytest.mark.slow
def test_full_data_mixed_phase_is_mixed_in_the_particle_solver():
    """At alpha = 1 in the reduced theory's mixed phase (P = 11, N = 100, sigma^2 = 0.015: droplet
    fraction 0.081) the tempered particle solver is mixed too: some droplets, most neurons GP-like
    (a GP-only answer gives 0, a fully specialised one 1)."""
    frac, theory = _mixed_phase_fraction()
    assert 0.02 < frac < 0.3, (frac, theory)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=(
    "measured miss: the particle solver's droplet fraction in the mixed phase is a soft mode "
    "(tau pinned, the fraction set by a lever rule); runs gave 0.079 and 0.132 (last iterate) "
    "and 0.143 (seed 0, 8 iterates averaged) against the reduced theory's 0.081"))
def test_full_data_mixed_phase_droplet_fraction_matches_reduced_theory():
    """The droplet fraction itself, within 0.03 of the reduced theory (not reached: xfail)."""
    frac, theory = _mixed_phase_fraction()
    assert frac == pytest.approx(theory, abs=0.03)


def test_grokking_sweep_compares_the_branch_free_energies():
    """With free_energy=True both branches get F at every converged point, and the gap
    F_up - F_down is classified against 3 standard errors."""
    solver = mf.default_grokking_solver(n_particles=128, n_levels=3, max_iterations=40,
                                        n_average=2)
    res = mf.grokking_sweep(5, [0.6, 1.0], width=20.0, noise=0.05, solver=solver,
                            baselines=False, free_energy=True,
                            free_energy_options={"n_strengths": 3, "n_steps": 10},
                            progress=False)
    for b in ("up", "down"):
        for rec in res.branches[b]:
            if rec["status"] in mf.Status.USABLE:
                assert np.isfinite(rec["free_energy"]) and rec["free_energy_stderr"] >= 0
    assert [g["alpha"] for g in res.free_energy_gap] == [0.6, 1.0]
    decided = [g for g in res.free_energy_gap if g["delta_F"] is not None]
    assert decided, res.free_energy_gap
    for g in decided:
        big = abs(g["delta_F"]) > 3 * g["stderr"]
        sel = ("equal" if not big else "inconsistent" if g["same_branch"] else
               "up" if g["delta_F"] < 0 else "down")
        assert g["selected"] == sel
    # alpha = 1: the down sweep starts from the up sweep's cloud there, so the kernels agree
    assert res.free_energy_gap[-1]["kernel_distance"] < 0.5
    out = res.to_json()
    assert len(out["free_energy_up"]) == 2 and out["free_energy_gap"] == res.free_energy_gap
    json.dumps(out, allow_nan=True)
