r"""Continuation sweeps: follow one branch of fixed points along a control parameter.

A first-order transition shows up as two branches of self-consistent solutions (a GP-like one and a
feature-learning one) that coexist over a range of the control parameter lambda (the data
fraction alpha, the noise sigma^2, ...). Each branch is followed by continuation: the solution at
lambda_k starts from the particles of the solution at lambda_{k-1} (warm start), so a sweep
upwards from the GP side stays on the GP branch for as long as it is metastable, and a sweep
downwards from the feature side stays on the feature branch. The thermodynamically selected branch
has the lower free energy F; the transition lambda_c is where

    Delta F(lambda) = F_feature(lambda) - F_gp(lambda)

changes sign (`crossing`, through the one crossing estimator `find_crossing`).

`sweep` saves every finished point atomically into `folder` (one `.npz` of particles and one JSON
record), and the point in progress through `solve`'s own checkpoint, so an interrupted sweep
(Ctrl-C or a killed process) rerun with the same arguments resumes without losing any finished
point, and gives the same answer as an uninterrupted one.

Example:
    >>> import meanfield as mf, numpy as np
    >>> x = np.linspace(-2, 2, 8)[:, None]
    >>> task = mf.finite_dataset(x, np.tanh(2 * x))
    >>> make = lambda s2: mf.BayesianProblem(task, mf.Erf(), width=1.0, noise=s2)
    >>> grid = mf.FixedPoint(foreground=mf.Grid(n_points=201, extent=8.0), rtol=1e-8)
    >>> res = mf.sweep(make, [0.1, 0.05, 0.02], grid, progress=False)
    >>> [p["status"] for p in res.points]
    ['converged', 'converged', 'converged']
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import jax.numpy as jnp
import numpy as np

from .._model.particles import Particles
from .crossing import find_crossing
from .._misc import atomic_write, jsonable, write_text
from .solution import safe_summary
from .solve import FixedPoint, fingerprint, solve


@dataclass
class SweepResult:
    """The points of one continuation sweep, in sweep order.

    Attributes:
        values: the control-parameter values, in the order they were visited.
        points: one JSON-ready record per value (status, iterations, losses, free energy, and
            whatever `observe` returned).
        particles: the final particles at each value.
    """

    values: list
    points: list = field(default_factory=list)
    particles: list = field(default_factory=list)

    def column(self, key: str) -> np.ndarray:
        """The record entry `key` at every point as a float array (NaN where missing)."""
        return np.asarray([np.nan if p.get(key) is None else p[key] for p in self.points],
                          dtype=float)


def _check_values(values) -> list[float]:
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("values must hold at least one control-parameter value, got none")
    if not all(math.isfinite(v) for v in vals):
        raise ValueError(f"values must be finite numbers, got {values!r}")
    return vals


def sweep(make_problem: Callable, values: Sequence[float], solver: FixedPoint | None = None, *,
          key=0, init: Particles | None = None, folder=None, observe: Callable | None = None,
          free_energy: bool = False, free_energy_options: dict | None = None,
          progress: bool = True) -> SweepResult:
    """Follow a branch of fixed points along `values` by warm-started solves.

    Args:
        make_problem: value -> problem (a `BayesianProblem` or `TrainingProblem`).
        values: the control-parameter values, in the order to visit them.
        solver: the `FixedPoint` configuration for every point.
        key: integer seed; point k is solved with seed `key + k`.
        init: particles to start the first point from (e.g. a feature-branch cloud); None draws
            them from the prior.
        folder: where finished points and the in-progress checkpoint are saved; a rerun with the
            same arguments resumes from there. None keeps nothing on disk.
        observe: solution -> dict of extra JSON-ready observables stored with each point.
        free_energy: compute F at every converged point (`meanfield.free_energy`).
        free_energy_options: keyword arguments for `free_energy`.
        progress: report each point on stderr.

    Returns:
        A `SweepResult`. A point that does not converge is recorded with its failed status and
        the sweep goes on from its particles (a branch that ends shows up as failed points, never
        as silently wrong ones).
    """
    from .free_energy import free_energy as compute_free_energy

    vals = _check_values(values)
    solver = FixedPoint() if solver is None else solver
    if not isinstance(key, (int, np.integer)):
        raise ValueError(f"key must be an integer seed for a sweep, got {key!r}")
    folder = None if folder is None else Path(folder)
    tag = fingerprint(make_problem(vals[0]), solver, np.asarray(vals), init,
                      np.asarray(int(key)), np.asarray(bool(free_energy)))
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        meta = folder / "sweep.json"
        if meta.exists():
            found = json.loads(meta.read_text()).get("fingerprint")
            if found != tag:
                raise ValueError(
                    f"folder {str(folder)!r} holds a different sweep (fingerprint {found}, this "
                    f"one {tag}); use another folder or delete it")
        else:
            write_text(meta, json.dumps({"fingerprint": tag, "values": vals}) + "\n")
    result = SweepResult(values=vals)
    current = init
    for k, value in enumerate(vals):
        record_path = None if folder is None else folder / f"point_{k:04d}.json"
        arrays_path = None if folder is None else folder / f"point_{k:04d}.npz"
        if record_path is not None and record_path.exists() and arrays_path.exists():
            with np.load(arrays_path) as f:
                current = Particles(jnp.asarray(f["theta"]), jnp.asarray(f["weights"]))
            result.points.append(json.loads(record_path.read_text()))
            result.particles.append(current)
            continue
        problem = make_problem(value)
        ckpt = None if folder is None else folder / "in_progress.npz"
        solution = solve(problem, solver, key=int(key) + k, throw=False, progress=False,
                         checkpoint=ckpt, init=current)
        record = {"value": value, **safe_summary(solution)}
        if free_energy and solution.usable:
            fe = compute_free_energy(solution, key=int(key) + k, **(free_energy_options or {}))
            record.update(free_energy=fe.value, free_energy_stderr=fe.stderr)
        if observe is not None:
            record.update(observe(solution))
        record = jsonable(record)
        current = solution.particles
        if folder is not None:
            arrays = {"theta": np.asarray(current.theta), "weights": np.asarray(current.weights)}
            atomic_write(arrays_path, lambda fh: np.savez(fh, **arrays))
            write_text(record_path, json.dumps(record, allow_nan=False) + "\n")
            if ckpt.exists():
                ckpt.unlink()
        result.points.append(record)
        result.particles.append(current)
        if progress:
            fe_txt = (f" F={record['free_energy']:.4g}" if record.get("free_energy") is not None
                      else "")
            print(f"sweep: {k + 1}/{len(vals)} value={value:.4g} {record['status']} "
                  f"({record['iterations']} it){fe_txt}", file=sys.stderr, flush=True)
    return result


def crossing(values, delta, delta_err=None) -> tuple[float, float]:
    """Where Delta(value) changes sign, by linear interpolation, with an uncertainty.

    The first sign change in increasing value (`find_crossing(values, delta, 0,
    errors=delta_err, direction="either", error="propagated")`, the one crossing estimator).

    Args:
        values: increasing control-parameter values where both branches exist.
        delta: Delta F at those values (NaN where a branch is missing).
        delta_err: standard errors of delta (default 0).

    Returns:
        (value_c, error): the interpolated zero of the first sign change, and its error: the
        propagated standard error of Delta through the interpolation, raised to half the
        bracketing interval when Delta's sign at either end of it is within 2 standard errors
        of zero (half the span of the two neighbours when Delta is exactly 0 at a grid point).

    Raises:
        ValueError: no sign change among the finite entries.

    Example:
        >>> import meanfield as mf
        >>> xc, err = mf.crossing([0.1, 0.2, 0.3], [-1.0, -0.5, 0.5], [0.1, 0.1, 0.1])
        >>> round(xc, 6), round(err, 6)
        (0.25, 0.007071)
    """
    x = np.asarray(values, dtype=float)
    d = np.asarray(delta, dtype=float)
    e = np.zeros_like(d) if delta_err is None else np.asarray(delta_err, dtype=float)
    if not (x.shape == d.shape == e.shape) or x.ndim != 1:
        raise ValueError(f"values, delta and delta_err must be 1-D of one length, got shapes "
                         f"{x.shape}, {d.shape}, {e.shape}")
    c = find_crossing(x, d, 0.0, errors=e, direction="either", error="propagated")
    if not c.crossed:
        raise ValueError("Delta does not change sign over the given values: the branches do not "
                         "cross there (widen the range of the control parameter)")
    return c.value, c.error
