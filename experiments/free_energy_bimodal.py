"""Free energy of a bimodal one-parameter neuron: ladder and thermodynamic integration against
the exact grid (issue 15, item 3, check (a)).

The problem: one input x = 1, one target y = 1e5, phi(z) = z^2, sextic stabiliser gamma = 4e-5,
noise sigma^2 = 1e5, width N = 52. Its self-consistent single-neuron law (exact on a grid) has a
GP-like basin at z = 0 and two droplet basins at |z| ~ 9 holding about a third of the mass,
behind a barrier of 8.4 (the coupling pins itself near coexistence). MALA at lambda = 1 does not
cross it in the run length (shown below: started from the prior, the droplet basins stay empty).

For R particle solutions (Tempering foreground, seeds 0..R-1) it writes, to
`free_energy_bimodal.json`, the free energy F by

* 'grid_at_background': the exact log z at the particle solution's own background (the
  reference for the estimators, which work at that background), with the particles' G and <L>;
* 'ladder': `meanfield.free_energy(solution)` (replica-exchange ladder, bridge sampling);
* 'ti': `meanfield.free_energy(solution, method='thermodynamic_integration')` (the older
  estimator, annealing the solution's particles down in the coupling);

and the exact grid solution's F. Usage:

    python experiments/free_energy_bimodal.py [--out DIR] [--repeats R] [--particles M]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import meanfield as mf
from meanfield._model.bayesian import log_weight_per_particle

GAMMA, Y, NOISE, WIDTH = 4e-5, 1e5, 1e5, 52.0
GRID = mf.Grid(n_points=3001, extent=30.0)


def problem():
    task = mf.finite_dataset(np.ones((1, 1)), np.full((1, 1), Y))
    return mf.BayesianProblem(task, mf.Quadratic(), width=WIDTH, noise=NOISE,
                              action=mf.LinearisedAction(stabiliser=GAMMA))


def grid_solution(prob):
    return mf.solve(prob, mf.FixedPoint(foreground=GRID, mixing=mf.Anderson(), rtol=1e-10,
                                        max_iterations=500), progress=False)


def particle_solution(prob, n_particles, seed):
    solver = mf.FixedPoint(n_particles=n_particles,
                           foreground=mf.Tempering(n_levels=12, beta_min=0.02, n_steps=100,
                                                   swap_every=5, step_size=1.0),
                           mixing=mf.Damped(0.5), max_iterations=60, rtol=1e-3)
    return mf.solve(prob, solver, key=seed, throw=False, progress=False)


def barrier(prob, bg):
    """(z of the barrier top, its height, droplet-basin mass) of the exact law at bg."""
    z = np.linspace(-GRID.extent, GRID.extent, GRID.n_points)
    u = np.asarray(jax.vmap(lambda t: prob.energy(t, bg))(jnp.asarray(z[:, None])))
    top = np.nonzero((z[1:-1] > 0) & (u[1:-1] >= u[:-2]) & (u[1:-1] >= u[2:]))[0] + 1
    zb = float(z[top[0]])
    w = np.exp(-(u - u.min()))
    return zb, float(u[top[0]] - u[np.argmin(np.abs(z))]), float(w[np.abs(z) > zb].sum() / w.sum())


def mala_crossing(prob, bg, zb, n_particles=4096, calls=8, seed=0):
    """Droplet fraction reached by plain MALA (8 x 100 steps) started from the prior."""
    fg = mf.Langevin(step_size=1.0, n_steps=100)
    key = jax.random.PRNGKey(seed)
    parts, state = fg.init(prob, key, n_particles)
    for i in range(calls):
        parts, state, _ = fg.run(prob, parts, bg, jax.random.fold_in(key, i), state)
    return float(jnp.mean(jnp.abs(parts.theta[:, 0]) > zb))


def exact_at(prob, sol):
    """F with the exact log z at the solution's background and its particles' G and <L>."""
    likelihood = float(prob.log_likelihood_term(sol.field))
    lw = np.asarray(log_weight_per_particle(prob, sol.particles.theta, sol.background))
    legendre = prob.width * float(np.sum(np.asarray(sol.particles.weights) * lw))
    log_z = GRID.log_partition(prob, sol.background)
    return -(likelihood + prob.width * log_z) + legendre, log_z


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/free_energy_bimodal")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--particles", type=int, default=4096)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    prob = problem()
    t0 = time.perf_counter()
    grid = grid_solution(prob)
    fe_grid = mf.free_energy(grid)
    zb, height, mass = barrier(prob, grid.background)
    result = {"problem": {"gamma": GAMMA, "y": Y, "noise": NOISE, "width": WIDTH},
              "grid": {"F": fe_grid.value, "log_z": fe_grid.log_z, "barrier_z": zb,
                       "barrier_height": height, "droplet_mass": mass,
                       "mala_droplet_fraction_from_prior": mala_crossing(prob, grid.background,
                                                                         zb)},
              "runs": []}
    print(json.dumps(result["grid"]), flush=True)
    for seed in range(args.repeats):
        t1 = time.perf_counter()
        sol = particle_solution(prob, args.particles, seed)
        solve_seconds = time.perf_counter() - t1
        f_exact, lz_exact = exact_at(prob, sol)
        row = {"seed": seed, "status": sol.status, "solve_seconds": solve_seconds,
               "droplet_fraction": float(np.mean(np.abs(np.asarray(sol.particles.theta)) > zb)),
               "grid_at_background": {"F": f_exact, "log_z": lz_exact}}
        for name, kw in (("ladder", {"method": "ladder"}),
                         ("ti", {"method": "thermodynamic_integration"})):
            t1 = time.perf_counter()
            fe = mf.free_energy(sol, key=100 + seed, **kw)
            row[name] = {"F": fe.value, "F_stderr": fe.stderr, "log_z": fe.log_z,
                         "log_z_stderr": fe.log_z_stderr, "seconds": time.perf_counter() - t1,
                         "log_z_miss": fe.log_z - lz_exact,
                         "log_z_miss_in_stderr": (fe.log_z - lz_exact) / fe.log_z_stderr,
                         "F_miss": fe.value - f_exact}
            if fe.details is not None:
                d = fe.details
                row[name].update(n_levels=d.n_levels, mc_stderr=d.mc_stderr,
                                 schedule_bias=d.schedule_bias, forward=d.forward,
                                 backward=d.backward, halved=d.halved, drift=d.drift,
                                 min_swap_rate=d.min_swap_rate)
        result["runs"].append(row)
        print(json.dumps(row), flush=True)
    result["wall_time_s"] = time.perf_counter() - t0
    (out / "free_energy_bimodal.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
