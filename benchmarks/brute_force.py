"""The mean-field solve against brute force (finite-width Langevin ensembles) at equal accuracy.

Issue 5, item 3. One Bayesian problem in the feature-learning regime (cubic teacher in d = 2,
erf, the configuration of experiments/compare_cubic.toml: sigma_a2 = 0.1 and sigma^2 = 0.05 at
N0 = 32, so that the kernel adapts), and one observable: the posterior-mean predictor on held-out
inputs. Its exact infinite-width value f_inf comes from the grid solver (the single-neuron law
integrated on a 2-D grid; d = 2 makes that possible), checked against a coarser grid.

* mean field: the particle solver (`FixedPoint`, Langevin foreground) at M particles with
  K = n_average iterates averaged; error = rms(f_MF - f_inf) over the test inputs.
* brute force: ensembles of MALA chains on the exact posterior of the width-N network
  (`sample_posterior`, read-out integrated out), in the mean-field width family (sigma_a2 and
  sigma^2 ~ N0/N, `meanfield compare --scaling meanfield`), whose infinite-width limit is f_inf;
  error = rms(f_N - f_inf): finite-width bias plus Monte-Carlo error of the ensemble.

Every configuration runs twice with different seeds; the time is the second (warm) run's wall
time (compilation, a one-off few seconds for either method, excluded) and the error is the rms of
the two runs' errors. The cost of a method at accuracy eps is the least time among its
configurations whose error is <= eps; the ratio brute force / mean field is reported at several
eps, or marked unreached where a method's configurations do not get there.

`cost_scaling` measures how each method's unit of work grows: the mean-field iteration (one
foreground call of M particles on n data in d dimensions, plus the kernel) and the Langevin step
(N neurons, n data, d; the marginal posterior inverts a min(n, N)-sized matrix every step:
Woodbury when N < n), varying one of n, M (or N), d at a time, with the fitted log-log exponent.
"""

from __future__ import annotations

import time

import equinox as eqx
import numpy as np

import meanfield as mf
from meanfield._baselines.compare import _scaled_problem
from meanfield._baselines.posterior import NetworkPosterior, PosteriorLangevin, sample_posterior

N0, SIGMA_A2, NOISE = 32.0, 0.1, 0.05


def _problem(n_train: int, dim: int = 2, n_test: int = 200):
    task = mf.cubic_teacher(dim, n_train, eps=0.3, n_test=n_test, seed=0)
    return mf.BayesianProblem(task, mf.Erf(), width=N0, noise=NOISE, sigma_a2=SIGMA_A2)


def _rms(v) -> float:
    return float(np.sqrt(np.mean(np.square(v))))


def _mean_field(problem, m: int, k: int, seed: int):
    solver = mf.FixedPoint(n_particles=m, n_average=k, mixing=mf.Damped(0.2),
                           foreground=mf.Langevin(n_steps=50), max_iterations=200)
    t0 = time.perf_counter()
    sol = mf.solve(problem, solver, key=seed, progress=False, throw=False)
    f = np.asarray(sol.predict(problem.task.test.x))
    return f, time.perf_counter() - t0, sol.status


def _langevin(problem, width: int, budget: tuple, seed: int, chains: int):
    warmup, samples, thin = budget
    post = NetworkPosterior.from_problem(_scaled_problem(problem, width, "meanfield"), width)
    sampler = PosteriorLangevin(n_chains=chains, n_warmup=warmup, n_samples=samples, thin=thin)
    t0 = time.perf_counter()
    s = sample_posterior(post, sampler, key=seed, progress=False)
    f = np.asarray(s.mean_prediction)
    return f, time.perf_counter() - t0, float(np.max(list(s.rhat.values())))


def _cost_at(points: list, eps: float):
    ok = [p["seconds"] for p in points if p["error"] <= eps]
    return min(ok) if ok else None


def brute_force(quick: bool = False, progress: bool = True) -> dict:
    """Run the equal-accuracy comparison (module docstring); returns a JSON-ready dict."""
    n_train = 16 if quick else 64
    problem = _problem(n_train, n_test=50 if quick else 200)
    say = (lambda *a: print(*a, flush=True)) if progress else (lambda *a: None)

    t0 = time.perf_counter()
    grids = []
    for pts in ((121, 201) if quick else (241, 301)):
        g = mf.FixedPoint(foreground=mf.Grid(n_points=pts, extent=10.0), mixing=mf.Damped(0.2),
                          max_iterations=400, rtol=1e-9)
        sol = mf.solve(problem, g, progress=False)
        grids.append(np.asarray(sol.predict(problem.task.test.x)))
    grid_seconds = time.perf_counter() - t0
    f_inf = grids[-1]
    reference = {"method": "grid", "n_points": 201 if quick else 301, "extent": 10.0,
                 "rms_change_from_coarser_grid": _rms(grids[1] - grids[0]),
                 "rms_of_reference": _rms(f_inf), "seconds": grid_seconds}
    say(f"brute_force: grid reference ({reference['n_points']} points) in {grid_seconds:.1f} s, "
        f"its change from the coarser grid {reference['rms_change_from_coarser_grid']:.1e}")

    mf_configs = ([(256, 0), (256, 8)] if quick else
                  [(512, 0), (1024, 0), (4096, 0), (512, 8), (1024, 8), (4096, 8), (1024, 32),
                   (4096, 32)])
    mean_field = []
    for m, k in mf_configs:
        errs, secs = [], []
        for seed in (1, 2):
            f, sec, status = _mean_field(problem, m, k, seed)
            errs.append(_rms(f - f_inf))
            secs.append(sec)
        rec = {"n_particles": m, "n_average": k, "error": _rms(errs), "errors": errs,
               "seconds": secs[-1], "seconds_cold": secs[0], "status": status}
        mean_field.append(rec)
        say(f"brute_force: mean field M={m:5d} K={k:2d}: error {rec['error']:.2e} in "
            f"{rec['seconds']:.2f} s ({status})")

    chains = 4 if quick else 8
    lv_configs = ([(8, (100, 20, 5))] if quick else
                  [(8, (500, 50, 10)), (32, (500, 50, 10)), (32, (2000, 100, 20)),
                   (128, (500, 50, 10)), (128, (2000, 100, 20)), (512, (2000, 100, 20))])
    langevin = []
    for width, budget in lv_configs:
        errs, secs = [], []
        for seed in (1, 2):
            f, sec, rhat = _langevin(problem, width, budget, seed, chains)
            errs.append(_rms(f - f_inf))
            secs.append(sec)
        rec = {"width": width, "chains": chains, "warmup": budget[0], "samples": budget[1],
               "thin": budget[2], "error": _rms(errs), "errors": errs, "seconds": secs[-1],
               "seconds_cold": secs[0], "max_rhat": rhat}
        langevin.append(rec)
        say(f"brute_force: Langevin N={width:4d} {budget}: error {rec['error']:.2e} in "
            f"{rec['seconds']:.2f} s (R-hat {rhat:.3f})")

    ratios = []
    for eps in (0.03, 0.01, 0.003, 0.001):
        t_mf, t_lv = _cost_at(mean_field, eps), _cost_at(langevin, eps)
        ratios.append({"error": eps, "mean_field_seconds": t_mf, "langevin_seconds": t_lv,
                       "ratio_langevin_over_mean_field":
                           None if (t_mf is None or t_lv is None) else t_lv / t_mf})
    return {"problem": {"task": "cubic_teacher", "dim": 2, "n_train": n_train, "eps": 0.3,
                        "activation": "erf", "width_N0": N0, "sigma_a2": SIGMA_A2,
                        "noise": NOISE, "n_test": int(problem.task.test.x.shape[0])},
            "reference": reference, "mean_field": mean_field, "langevin": langevin,
            "equal_accuracy": ratios}


def _slope(xs, ts) -> float:
    return float(np.polyfit(np.log(xs), np.log(ts), 1)[0])


def _mf_iteration_seconds(n: int, m: int, d: int) -> float:
    problem = _problem(n, dim=d, n_test=10)
    solver = mf.FixedPoint(n_particles=m, n_average=0, max_iterations=6, burn_in=0,
                           foreground=mf.Langevin(n_steps=50), rtol=1e-12, noise_factor=0.0)
    sol = mf.solve(problem, solver, key=0, progress=False, throw=False)
    return float(np.median(sol.history["seconds"][2:]))


def _langevin_step_seconds(n: int, width: int, d: int, chains: int = 4) -> float:
    """Warm wall time of a 300-step run (200 warm-up, 10 draws 10 apart) over 300."""
    problem = _problem(n, dim=d, n_test=10)
    post = NetworkPosterior.from_problem(problem, width)
    sampler = PosteriorLangevin(n_chains=chains, n_warmup=200, n_samples=10, thin=10,
                                n_windows=4)
    sample_posterior(post, sampler, key=0, progress=False)  # compile
    t0 = time.perf_counter()
    sample_posterior(post, sampler, key=1, progress=False)
    return (time.perf_counter() - t0) / 300


def _scan(label: str, timer, base: dict, axes: dict, say) -> dict:
    """timer(**base with one entry replaced) over each axis's values, with the log-log slope."""
    out = {}
    for axis, values in axes.items():
        ts = [timer(**{**base, axis: v}) for v in values]
        out[axis] = {"values": values, "seconds": ts, "exponent": _slope(values, ts)}
        say(f"cost_scaling: {label} vs {axis} {values}: "
            + ", ".join(f"{t * 1e3:.2f} ms" for t in ts)
            + f"  (exponent {out[axis]['exponent']:.2f})")
    return out


def cost_scaling(quick: bool = False, progress: bool = True) -> dict:
    """Unit cost of each method against n, M (N) and d, one at a time, with log-log slopes."""
    say = (lambda *a: print(*a, flush=True)) if progress else (lambda *a: None)
    base_n, base_m, base_w, base_d = (16, 256, 16, 2) if quick else (128, 4096, 128, 2)
    ns = [8, 16] if quick else [32, 128, 512]
    ds = [2, 8] if quick else [2, 16, 64]
    out = {
        "mean_field_iteration": _scan(
            "mean-field iteration", _mf_iteration_seconds, {"n": base_n, "m": base_m, "d": base_d},
            {"n": ns, "m": [128, 256] if quick else [1024, 4096, 16384], "d": ds}, say),
        "langevin_step": _scan(
            "Langevin step (4 chains)", _langevin_step_seconds,
            {"n": base_n, "width": base_w, "d": base_d},
            {"n": ns, "width": [8, 16] if quick else [32, 128, 512], "d": ds}, say),
    }
    out["base"] = {"n": base_n, "n_particles": base_m, "width": base_w, "dim": base_d}
    return out
