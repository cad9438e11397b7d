"""Benchmarks of meanfield: JSON out, a table on stdout, ratios measured side by side in one run.

    python benchmarks/run.py [--quick] [--out benchmarks/results/latest.json]

Each benchmark times its subject and, in the same process and the same run, a reference that
bounds what the hardware allows, and reports the ratio; absolute seconds alone are never the
result (they depend on the machine and its load). See benchmarks/README.md for the figures.

* particle_step: one MALA step of all M foreground particles of a Bayesian problem
  (`meanfield._solver.foreground.langevin_steps`), against (a) the bare elementwise work any step must do
  (phi and phi' of the (M, n) pre-activations, twice: proposal value and gradient; measured as a
  fused jit of exactly those evaluations), and (b) the machine's dense matmul rate on the step's
  matmul shapes and at its peak. The ratio (a)/step is the fraction of the elementwise roofline;
  the step's flop rate over (b) the fraction of the matmul roofline. Small d (the default task) is
  elementwise-bound; large d (two-hot modular addition) is matmul-bound.
* two_hot_step: the MALA step on modular addition with the dense pre-activation matmul x.w
  against the gather of the two non-zeros per two-hot row (`Data.project`); same particles and
  background, timed side by side: the speed-up and the flop ratio it should approach.
* background: the Bayesian background (tbar from one Cholesky factorisation, jitted) at the
  modular-addition sizes of P = 23, 41, 97, against the earlier explicit-inverse path and one
  bare Cholesky factorisation, side by side.
* solve_default: the built-in default problem of `meanfield solve` end to end, split into the
  fixed-point iterations and the compilation/overheads, with the per-iteration particle-step time.
* brute_force (benchmarks/brute_force.py): the mean-field solve against finite-width Langevin
  ensembles at equal accuracy on one predictor, against the exact (grid) infinite-width value:
  the wall-time ratio at several errors; and cost_scaling, how each method's unit of work grows
  with n, M (N) and d.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import meanfield as mf
from meanfield._solver.foreground import langevin_steps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from brute_force import brute_force, cost_scaling  # noqa: E402
from meanfield._io.results import git_revision, jsonable, versions


def _time(fn, *args, repeats=5, min_seconds=0.2):
    """Median wall time of fn(*args) (blocked until ready), after one warm-up call."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = 0
        while True:
            jax.block_until_ready(fn(*args))
            n += 1
            if time.perf_counter() - t0 >= min_seconds:
                break
        times.append((time.perf_counter() - t0) / n)
    return statistics.median(times)


def _peak_matmul(size: int, dtype) -> float:
    """Measured dense matmul rate (flop/s) for size x size matrices."""
    a = jnp.ones((size, size), dtype) * 0.5
    b = jnp.ones((size, size), dtype) * 0.25
    f = jax.jit(lambda a, b: a @ b)
    return 2.0 * size**3 / _time(f, a, b)


def particle_step(n_particles: int, n_data: int, dim: int, n_steps: int = 20) -> dict:
    if dim <= 3:
        task = mf.cubic_teacher(dim, n_data, eps=0.3, seed=0)
    else:
        task = mf.finite_dataset(np.random.default_rng(0).normal(size=(n_data, dim)),
                                 np.random.default_rng(1).normal(size=(n_data, 1)))
    problem = mf.BayesianProblem(task, mf.Erf(), width=10.0, noise=0.01)
    key = jax.random.PRNGKey(0)
    theta = problem.init_particles(key, n_particles).theta
    bg = problem.background(problem.measure(mf.Particles.uniform(theta)))
    h = jnp.asarray(0.05)

    def step_block(theta):
        return langevin_steps(problem, theta, bg, key, h, 1.0, n_steps=n_steps, metropolis=True)[0]

    t_step = _time(step_block, theta) / n_steps

    # (a) the elementwise floor: per step one proposal needs phi and phi' of its (M, n)
    # pre-activations; a scan keeps the same data dependency as the sampler.
    x = problem.data.x
    act = problem.activation
    scale = problem.prior_scale

    @jax.jit
    def elementwise(theta):
        def body(t, _):
            z = (scale * t) @ x.T
            s = jnp.sum(act(z) + act.derivative(z), axis=1, keepdims=True)
            return t + 1e-9 * s, None
        return jax.lax.scan(body, theta, None, length=n_steps)[0]

    t_elem = _time(elementwise, theta) / n_steps
    # flops of the step's dense algebra: pre-activations x.w (2Mnd), projection phi.tbar (2MnC),
    # and the same two again for the gradient
    c_out = problem.data.n_outputs
    flops = 2 * (2 * n_particles * n_data * dim + 2 * n_particles * n_data * c_out)
    peak = _peak_matmul(1024, jnp.float64)
    zx = jnp.ones((n_particles, dim)), jnp.ones((dim, n_data))
    mm = jax.jit(lambda a, b: a @ b)
    rate_shape = 2 * n_particles * n_data * dim / _time(mm, *zx)
    return {
        "n_particles": n_particles, "n_data": n_data, "dim": dim,
        "seconds_per_step": t_step,
        "particle_steps_per_second": n_particles / t_step,
        "elementwise_floor_seconds": t_elem,
        "fraction_of_elementwise_roofline": t_elem / t_step,
        "step_gflops": flops / t_step / 1e9,
        "peak_matmul_gflops_f64": peak / 1e9,
        "matmul_gflops_at_step_shape": rate_shape / 1e9,
        "fraction_of_matmul_peak": flops / t_step / peak,
    }


def two_hot_step(P: int, alpha: float, n_particles: int, n_steps: int = 20) -> dict:
    """One MALA step on modular addition: dense x.w matmul against the two-hot gather
    (`Data.project`), same particles, same background, same run."""
    task = mf.modular_addition(P, alpha, seed=0)  # dense by default
    sparse = mf.Data(np.asarray(task.train.x), np.asarray(task.train.y), sparse=True)
    kw = dict(width=100.0, noise=0.015, action=mf.LinearisedAction(stabiliser=1.0))
    p_dense = mf.BayesianProblem(task, mf.Quadratic(), **kw)
    p_gather = mf.BayesianProblem(mf.Task(sparse, task.test, classification=True),
                                  mf.Quadratic(), **kw)
    key = jax.random.PRNGKey(0)
    theta = p_gather.init_particles(key, n_particles).theta
    bg = p_gather.background(p_gather.measure(mf.Particles.uniform(theta)))
    h = jnp.asarray(0.05)
    times = {}
    for name, prob in (("dense", p_dense), ("gather", p_gather)):
        def block(theta, prob=prob):
            return langevin_steps(prob, theta, bg, key, h, 1.0, n_steps=n_steps, metropolis=True)[0]
        times[name] = _time(block, theta) / n_steps
    n, d, c = task.train.n, task.train.dim, task.train.n_outputs
    return {"P": P, "alpha": alpha, "n_particles": n_particles, "n_data": n, "dim": d,
            "seconds_per_step_dense": times["dense"], "seconds_per_step_gather": times["gather"],
            "speedup_gather_over_dense": times["dense"] / times["gather"],
            "flop_ratio_dense_over_gather": (2 * n * d + 2 * n * c) / (2 * n * 2 + 2 * n * c)}


def background(P: int, alpha: float, n_particles: int = 1024) -> dict:
    """The Bayesian background (tbar = A^{-1} y, A = Q + sigma^2 I) of a modular-addition
    kernel measured on prior particles: the library's `BayesianProblem.background` (one Cholesky
    factorisation and a solve against y, jitted; A^{-1} only for actions that read it) and the
    admissibility check, against (a) the earlier path, inline: factorisation, explicit inverse
    by a solve against the identity, symmetrisation and A^{-1} y, and (b) one bare Cholesky
    factorisation of A (the floor any background must pay)."""
    import jax.scipy.linalg as jsl

    task = mf.modular_addition(P, alpha, seed=0)
    problem = mf.BayesianProblem(task, mf.Quadratic(), width=100.0, noise=0.015,
                                 action=mf.LinearisedAction(stabiliser=1.0))
    cloud = problem.init_particles(jax.random.PRNGKey(0), n_particles)
    kernel = problem.measure(cloud)
    noise, y = problem.noise, problem.data.y

    def explicit_inverse(kernel):  # the path before this benchmark existed, not jitted
        a = kernel + noise * jnp.eye(kernel.shape[0], dtype=kernel.dtype)
        factor = jsl.cho_factor(a, lower=True)
        inv = jsl.cho_solve(factor, jnp.eye(kernel.shape[0], dtype=kernel.dtype))
        inv = 0.5 * (inv + inv.T)
        return inv, inv @ y

    chol = jax.jit(lambda k: jnp.linalg.cholesky(k + noise * jnp.eye(k.shape[0], dtype=k.dtype)))
    t_new = _time(lambda k: problem.background(k).discrepancy, kernel)
    t_adm = _time(lambda k: jnp.asarray(problem.field_is_admissible(k)), kernel)
    t_old = _time(explicit_inverse, kernel)
    t_chol = _time(chol, kernel)
    return {"P": P, "alpha": alpha, "n_data": int(task.train.n),
            "seconds_background": t_new, "seconds_admissibility": t_adm,
            "seconds_explicit_inverse_path": t_old, "seconds_cholesky": t_chol,
            "speedup_over_explicit_inverse": t_old / t_new,
            "background_over_cholesky": t_new / t_chol}


def solve_default(quick: bool) -> dict:
    from meanfield._io.config import DEFAULT_CONFIG, loads, parse_config

    problem, solver, seed, _ = parse_config(loads(DEFAULT_CONFIG, "DEFAULT_CONFIG"), ".")
    t0 = time.perf_counter()
    sol = mf.solve(problem, solver, key=seed, progress=False)
    wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    warm_sol = mf.solve(problem, solver, key=seed, progress=False)  # compilation cached
    warm = time.perf_counter() - t1
    iters = float(np.sum(warm_sol.history["seconds"]))
    return {
        "status": sol.status, "iterations": sol.iterations,
        "n_particles": sol.particles.n_particles,
        "wall_seconds_cold": wall, "wall_seconds_warm": warm,
        "iteration_seconds": iters,
        "fraction_in_iterations_warm": iters / warm,
        "test_loss": sol.test_loss,
    }


def _fmt_s(seconds) -> str:
    return "unreached" if seconds is None else f"{seconds:.2f} s"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--out", default="benchmarks/results/latest.json", help="JSON output file")
    p.add_argument("--skip-brute-force", action="store_true",
                   help="leave out the mean-field against Langevin comparison (minutes)")
    args = p.parse_args(argv)
    sizes = ([(512, 64, 2), (512, 256, 64)] if args.quick else
             [(2048, 64, 2), (8192, 256, 2), (2048, 512, 64), (4096, 968, 82)])
    results = {"particle_step": [], "solve_default": None}
    for m, n, d in sizes:
        r = particle_step(m, n, d)
        results["particle_step"].append(r)
        print(f"particle_step M={m:5d} n={n:4d} d={d:3d}: {r['seconds_per_step']*1e3:8.3f} ms/step"
              f"  elementwise roofline {r['fraction_of_elementwise_roofline']:5.1%}"
              f"  {r['step_gflops']:6.2f} GF/s = {r['fraction_of_matmul_peak']:5.1%} of f64 peak"
              f" ({r['peak_matmul_gflops_f64']:.1f} GF/s)", flush=True)
    results["two_hot_step"] = []
    for P, alpha, m in ([(11, 0.5, 256)] if args.quick else
                        [(11, 0.5, 1024), (23, 0.5, 1024), (41, 0.5, 1024)]):
        r = two_hot_step(P, alpha, m)
        results["two_hot_step"].append(r)
        print(f"two_hot_step P={P:3d} alpha={alpha} M={m:5d} n={r['n_data']:4d}: dense "
              f"{r['seconds_per_step_dense']*1e3:8.3f} ms, gather "
              f"{r['seconds_per_step_gather']*1e3:8.3f} ms: x{r['speedup_gather_over_dense']:.2f}"
              f" (flop ratio {r['flop_ratio_dense_over_gather']:.2f})", flush=True)
    results["background"] = []
    for P, alpha in ([(11, 0.5)] if args.quick else [(23, 0.5), (41, 0.5), (97, 0.3)]):
        r = background(P, alpha)
        results["background"].append(r)
        print(f"background P={P:3d} alpha={alpha} n={r['n_data']:4d}: "
              f"{r['seconds_background']*1e3:8.2f} ms (admissibility "
              f"{r['seconds_admissibility']*1e3:.2f} ms), explicit-inverse path "
              f"{r['seconds_explicit_inverse_path']*1e3:8.2f} ms: "
              f"x{r['speedup_over_explicit_inverse']:.2f}; "
              f"{r['background_over_cholesky']:.2f} x one Cholesky", flush=True)
    if not args.quick:
        results["solve_default"] = s = solve_default(args.quick)
        print(f"solve_default: {s['status']} in {s['iterations']} iterations, cold "
              f"{s['wall_seconds_cold']:.1f} s, warm {s['wall_seconds_warm']:.1f} s "
              f"({s['fraction_in_iterations_warm']:.0%} in iterations)", flush=True)
    if not args.skip_brute_force:
        results["brute_force"] = bf = brute_force(args.quick)
        for r in bf["equal_accuracy"]:
            ratio = r["ratio_langevin_over_mean_field"]
            print(f"brute_force at error {r['error']:.0e}: mean field "
                  f"{_fmt_s(r['mean_field_seconds'])}, Langevin {_fmt_s(r['langevin_seconds'])}"
                  + (f": Langevin / mean field = {ratio:.2f}" if ratio is not None else ""),
                  flush=True)
        results["cost_scaling"] = cost_scaling(args.quick)
    record = {
        "benchmarks": results,
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "jax_backend": jax.default_backend(),
                    "devices": [str(d) for d in jax.devices()]},
        "versions": versions(), "git_revision": git_revision(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(jsonable(record), indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
