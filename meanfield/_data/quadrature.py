"""Gauss-Hermite quadrature for expectations over standard normal variables.

For z ~ N(0, 1),

    E[g(z)] ≈ sum_k omega_k g(z_k),

with the probabilists' Gauss-Hermite rule (nodes z_k, weights omega_k summing to one), exact for
polynomials of degree <= 2K - 1. Product rules extend this to z ~ N(0, I_d).

The rule for every K is scipy's `roots_hermitenorm` (Golub-Welsch below 150 nodes, the
asymptotic Townsend-Trogdon-Olver construction above), with the weights renormalised to sum to
one. numpy's `hermegauss` overflows past ~180 nodes; this one reproduces E[z^(2m)] = (2m - 1)!!
to ~3e-14 relative for m <= 40 at K = 200, 400, 1000, 2000 (tests/observables/test_hermite.py). Weights below
~1e-308 (|z_k| >~ 37, K >~ 350) underflow to exactly zero.
"""

from __future__ import annotations

import functools
import itertools
import numpy as np

from .._misc import check_integer


@functools.lru_cache(maxsize=32)
def _rule(n: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.special import roots_hermitenorm

    z, w = roots_hermitenorm(n)
    z, w = np.asarray(z, dtype=np.float64), np.asarray(w, dtype=np.float64)
    w = w / w.sum()
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


def gauss_hermite_normal(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z_k and weights omega_k of the K-point rule for E over N(0, 1), for any K.

        E[g(z)] ~= sum_k omega_k g(z_k),   exact for polynomials of degree <= 2K - 1,

    weights >= 0 summing to one, nodes ascending and symmetric (z_k = -z_{K+1-k}). Stable for any
    K (see the module docstring). Also
    exported as `meanfield._observables.hermite.gauss_hermite_rule` (the same function).

    Example:
        >>> z, w = gauss_hermite_normal(20)
        >>> round(float((w * z**4).sum()), 12)   # E[z^4] = 3
        3.0
        >>> z, w = gauss_hermite_normal(1000)    # numpy's hermegauss gives NaN here
        >>> round(float((w * z**2).sum()), 12), round(float(w.sum()), 12)
        (1.0, 1.0)

    References: G. H. Golub and J. H. Welsch, Math. Comp. 23, 221-230 (1969); A. Townsend,
    T. Trogdon and S. Olver, IMA J. Numer. Anal. 36, 337-358 (2016).
    """
    n_nodes = check_integer("n_nodes", n_nodes, minimum=1)
    z, w = _rule(n_nodes)
    return z.copy(), w.copy()


def product_rule(dim: int, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor-product Gauss-Hermite rule for E over N(0, I_dim).

        E[g(x)] ~= sum_n omega_n g(x_n),   x_n = (z_{k_1}, ..., z_{k_dim}),   omega_n = prod_i omega_{k_i}.

    Returns nodes of shape (n_nodes**dim, dim) and weights of shape (n_nodes**dim,) summing to one.

    Example:
        >>> x, w = product_rule(2, 5)
        >>> x.shape, round(float(w @ (x[:, 0]**2 * x[:, 1]**2)), 12)   # E[x1^2 x2^2] = 1
        ((25, 2), 1.0)
    """
    dim = check_integer("dim", dim, minimum=1)
    z, w = gauss_hermite_normal(n_nodes)
    nodes = np.array(list(itertools.product(z, repeat=dim)), dtype=np.float64)
    weights = np.array([np.prod(c) for c in itertools.product(w, repeat=dim)], dtype=np.float64)
    return nodes.reshape(-1, dim), weights


def bivariate_normal_rule(s11, s12, s22, n_nodes: int = 40):
    """Nodes (u, v) and weights for E over (u, v) ~ N(0, [[s11, s12], [s12, s22]]).

    Uses the Cholesky factor of the covariance on a product rule; inputs may be arrays (broadcast),
    and the returned u, v have the broadcast shape plus a trailing quadrature axis of n_nodes**2.
    Works inside jit (jax.numpy).

    Example:
        >>> u, v, w = bivariate_normal_rule(1.0, 0.5, 2.0, n_nodes=10)
        >>> round(float((w * u * v).sum()), 12), round(float((w * v**2).sum()), 12)   # s12, s22
        (0.5, 2.0)
    """
    import jax.numpy as jnp

    z, w = gauss_hermite_normal(n_nodes)
    z1 = jnp.asarray(np.repeat(z, n_nodes))
    z2 = jnp.asarray(np.tile(z, n_nodes))
    weights = jnp.asarray(np.outer(w, w).reshape(-1))
    s11 = jnp.asarray(s11)[..., None]
    s12 = jnp.asarray(s12)[..., None]
    s22 = jnp.asarray(s22)[..., None]
    l11 = jnp.sqrt(s11)
    l21 = jnp.where(l11 > 0, s12 / jnp.where(l11 > 0, l11, 1.0), 0.0)
    l22 = jnp.sqrt(jnp.maximum(s22 - l21**2, 0.0))
    u = l11 * z1
    v = l21 * z1 + l22 * z2
    return u, v, weights
