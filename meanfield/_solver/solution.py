"""The result of a solve: particles, background, history and a readable status."""

from __future__ import annotations

import math
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._model.particles import Particles


class Status:
    """Readable outcomes of `solve`.

    * converged: the relative residual |G(B) - B|/|B| stayed <= rtol for `patience` iterations,
      the Monte-Carlo floor (times noise_factor) is below rtol, and the certificate passed.
    * noise_limited: the residual stayed within rtol + noise_factor x (Monte-Carlo floor) and
      the certificate passed, but the floor is above rtol: the answer is as good as M particles
      can tell (`Solution.particles_for_rtol` says how many particles would bring it below).
    * not_equilibrated: the residual passed but the certificate did not (the particles are not
      the law their own background selects, e.g. a foreground that does not move them, or a
      transient; `meanfield._solver.certificate`).
    * unresolved: the Monte-Carlo floor is above half the field itself: M particles cannot
      resolve the background at all (`particles_for_rtol` says how many would).
    * stagnated: out of iterations, and over the last iterations the residual did not decrease
      while staying above what the floor explains (an oscillation or a stuck iteration).
    * max_iterations: out of iterations while still decreasing.
    * diverged, nonfinite: the background blew up or became non-finite.

    `USABLE` are the statuses whose solution may be used (`Solution.usable`); `solve` raises on
    the others unless `throw=False`, and the CLI exits with code 1.
    """

    CONVERGED = "converged"
    NOISE_LIMITED = "noise_limited"
    NOT_EQUILIBRATED = "not_equilibrated"
    UNRESOLVED = "unresolved"
    STAGNATED = "stagnated"
    MAX_ITERATIONS = "max_iterations"
    DIVERGED = "diverged"
    NONFINITE = "nonfinite"

    ALL = (CONVERGED, NOISE_LIMITED, NOT_EQUILIBRATED, UNRESOLVED, STAGNATED, MAX_ITERATIONS,
           DIVERGED, NONFINITE)
    USABLE = (CONVERGED, NOISE_LIMITED)


def particles_for_rtol(solver, noise_floor: float) -> int | None:
    """About how many particles would bring noise_factor x (the floor) below rtol, by the
    floor's 1/sqrt(M) law: ceil(M (noise_factor floor / rtol)^2); None for a deterministic
    foreground or a floor already below."""
    if not noise_floor > 0 or not solver.foreground.stochastic:
        return None
    need = solver.noise_factor * noise_floor / solver.rtol
    return int(math.ceil(solver.n_particles * need**2)) if need > 1.0 else None


class SolveError(RuntimeError):
    """Raised when a solve does not converge; `.solution` holds the partial result."""

    def __init__(self, message: str, solution: "Solution"):
        super().__init__(message)
        self.solution = solution


class Solution(eqx.Module):
    """Outcome of `solve(problem, solver)`.

    Attributes:
        problem: the problem solved.
        particles: the final foreground particles (the neuron distribution).
        field: the mixed background field (Bayesian: the kernel Q on training inputs; training
            dynamics: the mean-field prediction on training inputs).
        background: the derived background (kernel, A^{-1}, discrepancy; or residual).
        status: one of `Status.ALL`.
        message: what happened, and what to try when it failed.
        iterations: fixed-point iterations done.
        self_consistency_error: |G(B) - B| / |B| at the last iteration.
        noise_floor: Monte-Carlo standard error of G(B), relative to |B| (0 for a grid).
        certificate: the certificate c of the returned cloud (`meanfield._solver.certificate`;
            for an averaged solution, measured on the pooled cloud), and certificate_noise its
            standard error.
        history: per-iteration arrays (residual, noise, acceptance, step_size, seconds, ...).
        seed: the integer seed (or None when a raw key was given).
        solver: the `FixedPoint` configuration used.
    """

    problem: Any
    particles: Particles
    field: Any
    background: Any
    status: str
    message: str
    iterations: int
    self_consistency_error: float
    noise_floor: float
    history: dict
    seed: int | None = None
    solver: Any = None
    certificate: float = float("nan")
    certificate_noise: float = float("nan")

    @property
    def converged(self) -> bool:
        """The residual reached rtol (status 'converged')."""
        return self.status == Status.CONVERGED

    @property
    def usable(self) -> bool:
        """'converged' or 'noise_limited': the fixed point is found as well as M particles can
        tell (`Status`)."""
        return self.status in Status.USABLE

    @property
    def particles_for_rtol(self) -> int | None:
        """`particles_for_rtol(solver, noise_floor)` of this solve."""
        return None if self.solver is None else particles_for_rtol(self.solver, self.noise_floor)

    def predict(self, x):
        """The mean-field predictor on new inputs x (n*, d) -> (n*, C)."""
        return self.problem.predict(self.particles, self.background, x)

    def loss(self, data) -> float:
        """0.5 * weighted mean over points of |f(x) - y|^2 on a `Data` split."""
        f = self.predict(data.x)
        return float(0.5 * jnp.sum(data.weights[:, None] * (f - data.y) ** 2))

    def accuracy(self, data) -> float:
        f = np.asarray(self.predict(data.x))
        return float(np.sum(np.asarray(data.weights) * (f.argmax(1) == np.asarray(data.y).argmax(1))))

    @property
    def train_loss(self) -> float:
        return self.loss(self.problem.task.train)

    @property
    def test_loss(self) -> float:
        return self.loss(self.problem.task.test)

    def summary(self) -> dict:
        """A JSON-ready summary of the solve."""
        out = {
            "status": self.status,
            "message": self.message,
            "iterations": int(self.iterations),
            "self_consistency_error": float(self.self_consistency_error),
            "noise_floor": float(self.noise_floor),
            "certificate": float(self.certificate),
            "certificate_noise": float(self.certificate_noise),
            "train_loss": self.train_loss,
            "test_loss": self.test_loss,
            "n_particles": self.particles.n_particles,
            "particles_for_rtol": self.particles_for_rtol,
            "seed": self.seed,
        }
        if self.problem.task.classification:
            out["train_accuracy"] = self.accuracy(self.problem.task.train)
            out["test_accuracy"] = self.accuracy(self.problem.task.test)
        if "acceptance" in self.history and len(self.history["acceptance"]):
            out["acceptance"] = float(self.history["acceptance"][-1])
        if "seconds" in self.history:
            out["seconds"] = float(np.sum(self.history["seconds"]))
        return out


def safe_summary(solution) -> dict:
    """`solution.summary()`, tolerating a failed solve whose predictions cannot be computed."""
    try:
        return solution.summary()
    except Exception:
        return {
            "status": solution.status, "message": solution.message,
            "iterations": int(solution.iterations),
            "self_consistency_error": float(solution.self_consistency_error),
            "noise_floor": float(solution.noise_floor),
            "certificate": float(solution.certificate),
            "certificate_noise": float(solution.certificate_noise),
            "train_loss": None, "test_loss": None,
            "n_particles": solution.particles.n_particles, "seed": solution.seed,
        }
