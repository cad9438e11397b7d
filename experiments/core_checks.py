"""Core agreement checks of the Bayesian mean-field solver (issue: core solver).

Runs the solver against its independent references and writes `core_checks.json`:

* GP limit (c = sigma_a2/N -> 0): particle kernel vs the analytic NNGP kernel;
* particles vs the exact grid solution in d = 1 and d = 2 for erf and tanh at feature-learning
  couplings (with the distance of the grid solution from the GP, to show the case is non-trivial);
* free energy: thermodynamic integration and grid quadrature vs the closed form of a linear net.

Usage:  python experiments/core_checks.py [--out DIR] [--particles M]
"""

import argparse
import json
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np

import meanfield as mf


def rel(a, b):
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))


def grid_solve(problem, n_points, extent):
    solver = mf.FixedPoint(foreground=mf.Grid(n_points=n_points, extent=extent),
                           mixing=mf.Anderson(), rtol=1e-10, max_iterations=400)
    return mf.solve(problem, solver, progress=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/core_checks")
    parser.add_argument("--particles", type=int, default=8192)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    x1 = np.linspace(-2, 2, 10)[:, None]
    cases = [
        ("d=1", mf.finite_dataset(x1, np.tanh(2 * x1)), 1.0, 801, 10.0),
        ("d=2", mf.cubic_teacher(2, 16, eps=0.3, n_test=200, seed=0), 10.0, 161, 9.0),
    ]
    for label, task, width, n_points, extent in cases:
        for act in (mf.Erf(), mf.Tanh()):
            problem = mf.BayesianProblem(task, act, width=width, noise=0.01)
            gp = grid_solve(mf.BayesianProblem(task, act, width=1e9, noise=0.01), n_points, extent)
            t0 = time.perf_counter()
            grid = grid_solve(problem, n_points, extent)
            t_grid = time.perf_counter() - t0
            t0 = time.perf_counter()
            sol = mf.solve(problem, mf.FixedPoint(n_particles=args.particles, mixing=mf.Anderson()),
                           key=0, progress=False)
            t_part = time.perf_counter() - t0
            rows.append({
                "case": label, "activation": act.name, "width": width,
                "particles_vs_grid": rel(sol.field, grid.field),
                "noise_floor": sol.noise_floor,
                "grid_vs_gp": rel(gp.field, grid.field),
                "test_loss": {"particles": sol.test_loss, "grid": grid.test_loss, "gp": gp.test_loss},
                "iterations": {"particles": sol.iterations, "grid": grid.iterations},
                "seconds": {"particles": t_part, "grid": t_grid},
            })
            print(json.dumps(rows[-1]))
    # GP limit against the analytic kernel
    task = cases[0][1]
    problem = mf.BayesianProblem(task, mf.Erf(), width=1e9, noise=0.01)
    sol = mf.solve(problem, mf.FixedPoint(n_particles=args.particles), key=0, progress=False)
    k = mf.nngp_kernel(mf.Erf(), task.train.x)
    gp_limit = {"kernel_rel_error": rel(sol.field, k), "noise_floor": sol.noise_floor}
    print(json.dumps(gp_limit))
    # free energy of a linear network: closed form vs grid vs thermodynamic integration
    x = np.array([[-1.5, 0.3], [-0.5, -1.0], [0.2, 0.8], [1.0, 0.1], [1.6, -0.4], [0.4, 1.5]])
    lin = mf.finite_dataset(x, x @ np.array([0.8, -0.3]))
    problem = mf.BayesianProblem(lin, mf.Identity(), width=3.0, noise=0.1)
    g = grid_solve(problem, 201, 8.0)
    s = mf.solve(problem, mf.FixedPoint(n_particles=args.particles), key=0, progress=False)
    fe_g, fe_s = mf.free_energy(g), mf.free_energy(s, key=1)

    def exact_log_z(bg):
        t = np.asarray(bg.discrepancy)
        m = np.eye(2) - problem.coupling * (1.0 / 2) * (x.T @ t @ t.T @ x)
        return -0.5 * np.linalg.slogdet(m)[1]

    free = {
        "log_z_exact_grid_background": exact_log_z(g.background), "log_z_grid": fe_g.log_z,
        "log_z_exact_particle_background": exact_log_z(s.background),
        "log_z_ti": fe_s.log_z, "log_z_ti_stderr": fe_s.log_z_stderr,
        "F_grid": fe_g.value, "F_particles": fe_s.value, "F_particles_stderr": fe_s.stderr,
    }
    print(json.dumps(free))
    (out / "core_checks.json").write_text(json.dumps(
        {"particles_vs_grid": rows, "gp_limit": gp_limit, "free_energy": free}, indent=2))
    print(f"wrote {out / 'core_checks.json'}")


if __name__ == "__main__":
    main()
