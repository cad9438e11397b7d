"""Does the particle count a `noise_limited` solve asks for converge? (issue 15, "Done when").

A solve whose residual cannot be told from its Monte-Carlo floor ends `noise_limited` and says
how many particles would bring noise_factor x floor below rtol (`Solution.particles_for_rtol`,
from the floor's 1/sqrt(M) law). This runs the grokking solver (`default_grokking_solver`) on
modular addition at (P, alpha) with M particles, reads that count, and solves again with it, same
seed: the second solve should end `converged`. Both solves are scored on the held-out pairs.

At the defaults (rtol = 1e-3) the P = 23 count is ~4e8 particles, beyond any machine; the check
is therefore run at a tolerance whose count a CPU can afford (--rtol 0.25: 8075 particles, ~10
min on 2 cores). The 1/sqrt(M) law is what is tested; rtol only sets the scale.

Usage:
    python experiments/noise_limited_count.py [--P 23] [--alpha 0.5] [--rtol 0.25]
        [--particles 1024] [--seed 0] [--out DIR]

Writes OUT/noise_limited_count.json (both solves' status, residual, floor, certificate, test
accuracy and wall time).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import meanfield as mf
from meanfield._io.results import write_experiment

HERE = Path(__file__).resolve().parent
NAME = "noise_limited_count"


def run(problem, task, n_particles, rtol, seed, max_iterations):
    solver = dataclasses.replace(
        mf.default_grokking_solver(n_particles=n_particles, max_iterations=max_iterations),
        rtol=rtol)
    t0 = time.perf_counter()
    sol = mf.solve(problem, solver, key=seed, throw=False, progress=True)
    return sol, {
        "n_particles": n_particles, "rtol": rtol, "status": str(sol.status),
        "iterations": sol.iterations, "residual": sol.self_consistency_error,
        "noise_floor": sol.noise_floor, "certificate": sol.certificate,
        "certificate_noise": sol.certificate_noise,
        "particles_for_rtol": sol.particles_for_rtol,
        "test_accuracy": mf.classification_accuracy(sol.predict(task.test.x), task.test),
        "wall_time_s": time.perf_counter() - t0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--P", type=int, default=23)
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--width", type=float, default=100.0)
    p.add_argument("--sigma2", type=float, default=0.015)
    p.add_argument("--rtol", type=float, default=0.25)
    p.add_argument("--particles", type=int, default=1024)
    p.add_argument("--max-particles", type=int, default=65536,
                   help="refuse to run the second solve above this count")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(HERE.parent / "results" / NAME))
    args = p.parse_args(argv)
    task = mf.modular_addition(args.P, args.alpha, seed=0)
    problem = mf.BayesianProblem(task, mf.Quadratic(), width=args.width, noise=args.sigma2,
                                 action=mf.LinearisedAction(stabiliser=1.0))
    t0 = time.perf_counter()
    first, rec1 = run(problem, task, args.particles, args.rtol, args.seed, 40)
    print(json.dumps(rec1), file=sys.stderr)
    rows = [rec1]
    need = first.particles_for_rtol
    verdict = f"first solve ended {first.status}: nothing to check"
    if first.status == "noise_limited" and need is not None:
        if need > args.max_particles:
            verdict = (f"the count asked for, {need}, is above --max-particles "
                       f"{args.max_particles}: not run")
        else:
            _, rec2 = run(problem, task, int(need), args.rtol, args.seed, 60)
            print(json.dumps(rec2), file=sys.stderr)
            rows.append(rec2)
            verdict = (f"M = {args.particles}: noise_limited, asks for {need}; with {need}: "
                       f"{rec2['status']}")
    record = write_experiment(Path(args.out), NAME, {"solves": rows, "verdict": verdict},
                              config=vars(args), seed=args.seed,
                              wall_time=time.perf_counter() - t0)
    print(verdict)
    return 0 if record else 1


if __name__ == "__main__":
    sys.exit(main())
