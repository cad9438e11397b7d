"""Data sets: the arrays a problem is solved on.

A `Data` holds inputs x (n, d), targets y (n, C) and weights omega (n,) that define the data
average used by the training-dynamics mean field,

    E_x[g(x)] = sum_mu omega_mu g(x_mu),

so that a finite sample has omega_mu = 1/n and an infinite-data task has quadrature weights. The
Bayesian theory sums over training points without weights (a likelihood per point); it uses x and
y only.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int


def _as_2d(name: str, value, *, ndim_hint: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array {ndim_hint}, got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one column {ndim_hint}, got shape "
                         f"{arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{name} contains {bad} non-finite value(s); clean or drop those rows")
    return arr


class Data(eqx.Module):
    """Inputs, targets and averaging weights of one split.

    Attributes:
        x: inputs, shape (n, d).
        y: targets, shape (n, C).
        weights: averaging weights, shape (n,), non-negative and summing to one.
        sparse_index, sparse_value: with `Data(x, y, sparse=True)`, the (n, k) column indices
            and values of the non-zeros of rows with at most k <= d/8 of them (one-hot, two-hot
            inputs), used by `project` as a gather; None (the default) keeps the dense matmul.
            Measured on a 2-core CPU (benchmarks/run.py, two_hot_step), the gather with its
            scatter-add gradient is *slower* than XLA's dense matmul for modular addition
            (0.65-0.96x at P = 11-41, M = 1024), which is why it is opt-in.
    """

    x: Float[Array, "n d"]
    y: Float[Array, "n c"]
    weights: Float[Array, " n"]
    sparse_index: Int[Array, "n k"] | None
    sparse_value: Float[Array, "n k"] | None

    def __init__(self, x, y, weights=None, sparse: bool = False):
        x_arr = _as_2d("x", x, ndim_hint="(n, d)")
        y_arr = _as_2d("y", y, ndim_hint="(n, C) or a 1-D array of n targets")
        if x_arr.shape[0] != y_arr.shape[0]:
            raise ValueError(
                f"x and y must have the same number of rows, got x {x_arr.shape} and y {y_arr.shape}"
            )
        if x_arr.shape[0] == 0:
            raise ValueError("a data set needs at least one point, got n = 0")
        n = x_arr.shape[0]
        if weights is None:
            w_arr = np.full(n, 1.0 / n)
        else:
            w_arr = np.asarray(weights, dtype=np.float64).reshape(-1)
            if w_arr.shape != (n,):
                raise ValueError(f"weights must have shape ({n},), got {w_arr.shape}")
            if not np.all(np.isfinite(w_arr)) or np.any(w_arr < 0) or w_arr.sum() <= 0:
                raise ValueError("weights must be finite, non-negative and not all zero")
            w_arr = w_arr / w_arr.sum()
        self.x = jnp.asarray(x_arr)
        self.y = jnp.asarray(y_arr)
        self.weights = jnp.asarray(w_arr)
        self.sparse_index, self.sparse_value = _sparse_rows(x_arr) if sparse else (None, None)

    def project(self, w):
        """x_mu . w for every point: w (..., d) -> (..., n).

        The dense matmul by default. With `Data(x, y, sparse=True)` rows with few non-zeros
        (one-hot, two-hot inputs such as modular addition's) are kept as (index, value) pairs and
        the projection is a gather of k entries per row (the same numbers: the skipped terms are
        exact zeros; slower than the matmul on CPU, see the `sparse_index` attribute).
        """
        if self.sparse_index is None:
            return w @ self.x.T
        return jnp.sum(jnp.take(w, self.sparse_index, axis=-1) * self.sparse_value, axis=-1)

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def dim(self) -> int:
        return int(self.x.shape[1])

    @property
    def n_outputs(self) -> int:
        return int(self.y.shape[1])


def _sparse_rows(x: np.ndarray, max_fraction: float = 0.125):
    """(index, value) arrays of shape (n, k) for inputs whose rows have at most k non-zeros,
    k <= max_fraction * d (rows with fewer are padded with index 0, value 0); (None, None)
    otherwise."""
    n, d = x.shape
    nnz = (x != 0).sum(axis=1)
    k = int(nnz.max()) if n else 0
    if d < 8 or k == 0 or k > max_fraction * d:
        return None, None
    idx = np.zeros((n, k), dtype=np.int32)
    val = np.zeros((n, k), dtype=np.float64)
    for i in range(n):
        cols = np.nonzero(x[i])[0]
        idx[i, :cols.size] = cols
        val[i, :cols.size] = x[i, cols]
    return jnp.asarray(idx), jnp.asarray(val)


class Task(eqx.Module):
    """A learning problem: a training split, a test split and a name.

    `classification` marks targets whose arg-max is the class (accuracy is then reported).
    """

    train: Data
    test: Data
    name: str = eqx.field(static=True, default="task")
    classification: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        if self.train.dim != self.test.dim:
            raise ValueError(
                f"train and test inputs must have the same dimension, got {self.train.dim} and {self.test.dim}"
            )
        if self.train.n_outputs != self.test.n_outputs:
            raise ValueError(
                f"train and test targets must have the same number of outputs, got "
                f"{self.train.n_outputs} and {self.test.n_outputs}"
            )
