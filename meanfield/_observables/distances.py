r"""Distances between clouds of particles (two empirical laws of neurons).

* Sliced Wasserstein-2 (Rabin, Peyré, Delon & Bernot 2011; Bonneel et al. 2015): project both
  clouds on unit directions u and average the one-dimensional squared Wasserstein-2 distances,

      SW_2(mu, nu)^2 = E_u[ W_2(u#mu, u#nu)^2 ],
      W_2(P, Q)^2    = int_0^1 |F_P^{-1}(t) - F_Q^{-1}(t)|^2 dt   (1-D: sort and compare),

  with u uniform on the unit sphere. For two equal-size clouds the 1-D distance is exact (sorted
  samples); otherwise both quantile functions are compared on a common grid of levels. The
  directions come from `sphere_directions`: evenly spaced angles on the half circle in 2-D (then
  E_u[(u.v)^2] = |v|^2/2 holds exactly), seeded random unit vectors otherwise.
* Maximum mean discrepancy with the Gaussian kernel k(x, y) = exp(-|x - y|^2 / (2 h^2))
  (Gretton et al. 2012), unbiased estimator

      MMD^2 = mean_{i != j} k(x_i, x_j) + mean_{i != j} k(y_i, y_j) - 2 mean_{i, j} k(x_i, y_j).

Both are small for two samples of the same law and grow with the difference. A finite-sample
estimate is never exactly zero: compare it with its *noise floor*, the same distance between two
independent samples of one law.

Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((500, 2))
    >>> round(sliced_wasserstein(x, x + np.array([1.0, 1.0])), 6)  # |shift|/sqrt(2) in 2-D
    1.0
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._misc import check_integer, check_positive

__all__ = ["sliced_wasserstein", "maximum_mean_discrepancy", "sphere_directions"]


def _cloud(name: str, value) -> jnp.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric array of shape (n, p), got {type(value).__name__}: {err}") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise ValueError(f"{name} must be an array of shape (n, p) with n >= 2 points, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains {int((~np.isfinite(arr)).sum())} non-finite value(s)")
    return jnp.asarray(arr)


def sphere_directions(dim: int, n_directions: int = 256, *, seed: int = 0) -> np.ndarray:
    """Unit vectors in R^dim for slicing, shape (n_directions, dim).

    dim 1: the single direction +1. dim 2: angles pi k / n for k = 0..n-1 (an exact quadrature of
    the uniform law on the half circle for quadratic forms). dim >= 3: normalised Gaussian draws
    from numpy's default_rng(seed).
    """
    dim = check_integer("dim", dim)
    n_directions = check_integer("n_directions", n_directions)
    if dim == 1:
        return np.ones((1, 1))
    if dim == 2:
        angles = np.pi * np.arange(n_directions) / n_directions
        return np.stack([np.cos(angles), np.sin(angles)], axis=1)
    u = np.random.default_rng(seed).standard_normal((n_directions, dim))
    return u / np.linalg.norm(u, axis=1, keepdims=True)


@jax.jit
def _sw_equal(x, y, directions):
    px = jnp.sort(x @ directions.T, axis=0)
    py = jnp.sort(y @ directions.T, axis=0)
    return jnp.mean((px - py) ** 2)


@jax.jit
def _sw_quantiles(x, y, directions, levels):
    px = jnp.quantile(x @ directions.T, levels, axis=0)
    py = jnp.quantile(y @ directions.T, levels, axis=0)
    return jnp.mean((px - py) ** 2)


def sliced_wasserstein(x, y, *, n_directions: int = 256, seed: int = 0,
                       directions=None) -> float:
    """Sliced Wasserstein-2 distance SW_2 between two point clouds x (n, p) and y (m, p).

    Args:
        x, y: the clouds (equal weights per point); a 1-D array is a cloud in R^1.
        n_directions: number of slicing directions (ignored when `directions` is given).
        seed: seed of the random directions in dim >= 3.
        directions: explicit unit directions (k, p), e.g. to share them between comparisons.

    Returns:
        SW_2 (the square root of the direction-averaged squared 1-D W_2), in the units of x.
    """
    x, y = _cloud("x", x), _cloud("y", y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got shapes {x.shape} and {y.shape}")
    if directions is None:
        directions = sphere_directions(x.shape[1], n_directions, seed=seed)
    directions = np.asarray(directions, dtype=np.float64)
    if directions.ndim != 2 or directions.shape[1] != x.shape[1]:
        raise ValueError(f"directions must have shape (k, {x.shape[1]}), got {directions.shape}")
    directions = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    if x.shape[0] == y.shape[0]:
        sq = _sw_equal(x, y, jnp.asarray(directions))
    else:
        k = max(x.shape[0], y.shape[0])
        levels = jnp.asarray((np.arange(k) + 0.5) / k)
        sq = _sw_quantiles(x, y, jnp.asarray(directions), levels)
    return float(jnp.sqrt(sq))


@jax.jit
def _mmd2(x, y, h):
    def gram(a, b):
        d2 = jnp.sum(a**2, 1)[:, None] + jnp.sum(b**2, 1)[None, :] - 2 * a @ b.T
        return jnp.exp(-jnp.maximum(d2, 0.0) / (2 * h**2))

    n, m = x.shape[0], y.shape[0]
    kxx, kyy, kxy = gram(x, x), gram(y, y), gram(x, y)
    sxx = (jnp.sum(kxx) - jnp.trace(kxx)) / (n * (n - 1))
    syy = (jnp.sum(kyy) - jnp.trace(kyy)) / (m * (m - 1))
    return sxx + syy - 2 * jnp.mean(kxy)


def maximum_mean_discrepancy(x, y, *, bandwidth: float) -> float:
    """Unbiased estimate of MMD^2 with the Gaussian kernel of width `bandwidth` (can be < 0).

    For x ~ N(m1, s^2 I_p) and y ~ N(m2, s^2 I_p) the exact value is
    2 c (1 - exp(-|m1 - m2|^2 / (2 (h^2 + 2 s^2)))) with c = (h^2 / (h^2 + 2 s^2))^(p/2).
    """
    x, y = _cloud("x", x), _cloud("y", y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got shapes {x.shape} and {y.shape}")
    check_positive("bandwidth", bandwidth)
    return float(_mmd2(x, y, float(bandwidth)))
