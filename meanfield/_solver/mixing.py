r"""Mixing: how a new background estimate is blended into the current one.

The fixed-point problem is B = G(B), where G recomputes the background from particles moved
against B. With residual R(B) = G(B) - B:

* `Damped(beta)`:       B' = B + beta_k R(B)  (simple mixing; beta = 1 is plain iteration).
  With `adapt=True` (the default) beta_k backs off when the iteration overshoots: with
  c = cos(R_k, R_{k-1}) the angle between successive residuals,

      beta_{k+1} = beta_k / 2                 if c < -0.3 or |R_k| > 2 |R_{k-1}|  (oscillation),
      beta_{k+1} = min(1.25 beta_k, beta)     if c > 0.5                          (steady descent),

  and beta_k >= beta / 256. A period-2 oscillation has c = -1; a residual that is pure
  Monte-Carlo noise has c = -beta_k / 2 on average, so noise alone does not shrink beta <= 0.6.
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
    """Damped (linear) mixing B' = B + beta_k (G(B) - B), beta_k backing off on overshoot.

    Attributes:
        beta: the initial and largest mixing fraction.
        adapt: halve beta_k when successive residuals point against each other (or the residual
            doubles), grow it back towards `beta` while they agree (module docstring); False
            keeps beta_k = beta.

    Example (the period-2 cycle of x -> -x, which plain iteration never leaves, is damped out):
        >>> import numpy as np
        >>> mix, x = Damped(beta=1.0), np.array([1.0])
        >>> state = mix.init(x)
        >>> for _ in range(30):
        ...     x, state = mix.update(x, -x, state)
        >>> bool(abs(x[0]) < 1e-6), float(state["beta"])
        (True, 0.5)
    """

    beta: float = 0.5
    adapt: bool = True
    name = "damped"

    def init(self, field: np.ndarray):
        return {"beta": np.asarray(float(self.beta)), "residual": np.zeros(0)}

    def state_arrays(self, state) -> dict:
        return {"mix_beta": np.asarray(state["beta"]), "mix_residual": state["residual"]}

    def state_from_arrays(self, arrays, field: np.ndarray):
        return {"beta": np.asarray(arrays["mix_beta"]), "residual": arrays["mix_residual"]}

    def update(self, field: np.ndarray, new: np.ndarray, state):
        r = np.asarray(new - field, dtype=np.float64).reshape(-1)
        beta, previous = float(state["beta"]), state["residual"]
        if self.adapt and previous.size == r.size:
            nr, npr = float(np.linalg.norm(r)), float(np.linalg.norm(previous))
            if nr > 0.0 and npr > 0.0:
                c = float(np.dot(r, previous)) / (nr * npr)
                if c < -0.3 or nr > 2.0 * npr:
                    beta = max(0.5 * beta, self.beta / 256.0)
                elif c > 0.5:
                    beta = min(1.25 * beta, float(self.beta))
        mixed = field + beta * r.reshape(np.shape(field))
        return mixed, {"beta": np.asarray(beta), "residual": r}


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
