r"""Mixing: how a new background estimate is blended into the current one.

The fixed-point problem is B = G(B), where G recomputes the background from particles moved
against B. With residual R(B) = G(B) - B:

* `Damped(beta)`:       B' = B + beta R(B)  (simple mixing; beta = 1 is plain iteration).
* `Anderson(memory, beta, regularisation)`: type-II Anderson mixing (Anderson 1965; Walker & Ni
  2011). With the differences of the last m iterates dB_k and residuals dR_k,

      gamma = argmin_g |R - dR g|^2 + reg |g|^2,
      B'    = B + beta R - (dB + beta dR) gamma.

Both are `AbstractMixing`s: pure `init`/`update` pairs on float64 arrays, with their state
written to and read from a checkpoint by `state_arrays` / `state_from_arrays`. Anderson's extrapolated step can
leave the admissible set (for the Bayesian kernel, Q + sigma^2 I must stay positive definite):
the solver then falls back to the damped step and reports it.
"""


import abc

import equinox as eqx
import numpy as np

from .._misc import check_integer


class AbstractMixing(eqx.Module):
    """The interface `solve` drives: `init(field) -> state`, `update(field, new, state) ->
    (mixed, state)`, the damped step `damped(field, new)` (the fallback when `update` leaves the
    admissible set) and the state as named arrays for checkpoints."""

    beta: eqx.AbstractVar[float]
    name: eqx.AbstractClassVar[str]

    def __check_init__(self):
        if not (isinstance(self.beta, (int, float)) and 0.0 < self.beta <= 1.0):
            raise ValueError(f"beta must lie in (0, 1], got {self.beta!r}")

    @abc.abstractmethod
    def init(self, field: np.ndarray):
        """The state before the first update."""

    @abc.abstractmethod
    def update(self, field: np.ndarray, new: np.ndarray, state):
        """(the next field, the new state) from the current field B and G(B)."""

    def damped(self, field, new):
        """B + beta (G(B) - B)."""
        return field + self.beta * (new - field)

    def state_arrays(self, state) -> dict:
        """The state as {name: numpy array} (saved in a checkpoint)."""
        return {}

    def state_from_arrays(self, arrays, field: np.ndarray):
        """The state back from `state_arrays`' output (a mapping holding at least its keys)."""
        return self.init(field)


class Damped(AbstractMixing):
    """Damped (linear) mixing B' = B + beta (G(B) - B)."""

    beta: float = 0.5
    name = "damped"

    def init(self, field: np.ndarray):
        return {}

    def update(self, field: np.ndarray, new: np.ndarray, state):
        return self.damped(field, new), state


class Anderson(AbstractMixing):
    """Anderson (type II) mixing with a history of `memory` iterates."""

    memory: int = 5
    beta: float = 0.5
    regularisation: float = 1e-8
    name = "anderson"

    def __check_init__(self):
        check_integer("memory", self.memory)
        if not (self.regularisation >= 0.0):
            raise ValueError(f"regularisation must be >= 0, got {self.regularisation!r}")

    def init(self, field: np.ndarray):
        return {"fields": np.zeros((0, field.size)), "residuals": np.zeros((0, field.size))}

    def state_arrays(self, state) -> dict:
        return {"mix_fields": state["fields"], "mix_residuals": state["residuals"]}

    def state_from_arrays(self, arrays, field: np.ndarray):
        return {"fields": arrays["mix_fields"], "residuals": arrays["mix_residuals"]}

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
