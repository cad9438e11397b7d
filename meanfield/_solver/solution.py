"""The result of a solve: particles, background, history and a readable status."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._model.particles import Particles


class Status:
    """Readable outcomes of `solve`."""

    CONVERGED = "converged"
    MAX_ITERATIONS = "max_iterations"
    DIVERGED = "diverged"
    NONFINITE = "nonfinite"

    ALL = (CONVERGED, MAX_ITERATIONS, DIVERGED, NONFINITE)


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

    @property
    def converged(self) -> bool:
        return self.status == Status.CONVERGED

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
            "train_loss": self.train_loss,
            "test_loss": self.test_loss,
            "n_particles": self.particles.n_particles,
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
            "noise_floor": float(solution.noise_floor), "train_loss": None, "test_loss": None,
            "n_particles": solution.particles.n_particles, "seed": solution.seed,
        }
