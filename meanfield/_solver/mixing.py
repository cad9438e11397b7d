r"""Mixing: how a new background estimate is blended into the current one.

The fixed-point problem is B = G(B), where G recomputes the background from particles moved
against B. With residual R(B) = G(B) - B:

* `Damped(beta)`:       B' = B + beta R(B)  (simple mixing; beta = 1 is plain iteration).
* `Anderson(memory, beta, regularisation)`: type-II Anderson mixing (Anderson 1965; Walker & Ni
  2011). With the differences of the last m iterates dB_k and residuals dR_k,

      gamma = argmin_g |R - dR g|^2 + reg |g|^2,
      B'    = B + beta R - (dB + beta dR) gamma.

Both are pure `init`/`update` pairs on flat float64 vectors. Anderson's extrapolated step can
leave the admissible set (for the Bayesian kernel, Q + sigma^2 I must stay positive definite):
the solver then falls back to the damped step and reports it.
"""

from __future__ import annotations

import equinox as eqx
import numpy as np


class Damped(eqx.Module):
    """Damped (linear) mixing B' = B + beta (G(B) - B)."""

    beta: float = 0.5
    name = "damped"

    def __check_init__(self):
        if not (isinstance(self.beta, (int, float)) and 0.0 < self.beta <= 1.0):
            raise ValueError(f"beta must lie in (0, 1], got {self.beta!r}")

    def init(self, field: np.ndarray):
        return {}

    def update(self, field: np.ndarray, new: np.ndarray, state):
        return field + self.beta * (new - field), state

    def damped(self, field, new):
        return field + self.beta * (new - field)


class Anderson(eqx.Module):
    """Anderson (type II) mixing with a history of `memory` iterates."""

    memory: int = 5
    beta: float = 0.5
    regularisation: float = 1e-8
    name = "anderson"

    def __check_init__(self):
        if not (isinstance(self.memory, int) and self.memory >= 1):
            raise ValueError(f"memory must be a positive integer, got {self.memory!r}")
        if not (isinstance(self.beta, (int, float)) and 0.0 < self.beta <= 1.0):
            raise ValueError(f"beta must lie in (0, 1], got {self.beta!r}")
        if not (self.regularisation >= 0.0):
            raise ValueError(f"regularisation must be >= 0, got {self.regularisation!r}")

    def init(self, field: np.ndarray):
        return {"fields": np.zeros((0, field.size)), "residuals": np.zeros((0, field.size))}

    def damped(self, field, new):
        return field + self.beta * (new - field)

    def update(self, field: np.ndarray, new: np.ndarray, state):
        shape = field.shape
        x = field.reshape(-1)
        r = (new - field).reshape(-1)
        xs = np.concatenate([state["fields"], x[None]], axis=0)[-(self.memory + 1):]
        rs = np.concatenate([state["residuals"], r[None]], axis=0)[-(self.memory + 1):]
        state = {"fields": xs, "residuals": rs}
        if xs.shape[0] < 2:
            return (x + self.beta * r).reshape(shape), state
        dx = np.diff(xs, axis=0).T  # (size, m)
        dr = np.diff(rs, axis=0).T
        scale = max(float(np.sum(dr * dr)) / dr.shape[1], 1e-300)
        gram = dr.T @ dr + self.regularisation * scale * np.eye(dr.shape[1])
        gamma = np.linalg.solve(gram, dr.T @ r)
        out = x + self.beta * r - (dx + self.beta * dr) @ gamma
        return out.reshape(shape), state
