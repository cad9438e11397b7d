"""Gauss-Hermite quadrature for expectations over standard normal variables.

For z ~ N(0, 1),

    E[g(z)] ≈ sum_k omega_k g(z_k),

with the probabilists' Gauss-Hermite rule (nodes z_k, weights omega_k summing to one), exact for
polynomials of degree <= 2K - 1. Product rules extend this to z ~ N(0, I_d).
"""

from __future__ import annotations

import itertools

import numpy as np


def gauss_hermite_normal(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the K-point rule for E over N(0, 1); weights sum to one.

    Example:
        >>> z, w = gauss_hermite_normal(20)
        >>> round(float((w * z**4).sum()), 12)   # E[z^4] = 3
        3.0
    """
    if not isinstance(n_nodes, (int, np.integer)) or n_nodes < 1:
        raise ValueError(f"n_nodes must be a positive integer, got {n_nodes!r}")
    z, w = np.polynomial.hermite_e.hermegauss(int(n_nodes))
    return z, w / w.sum()


def product_rule(dim: int, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor-product Gauss-Hermite rule for E over N(0, I_dim).

    Returns nodes of shape (n_nodes**dim, dim) and weights of shape (n_nodes**dim,) summing to one.
    """
    if not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    z, w = gauss_hermite_normal(n_nodes)
    nodes = np.array(list(itertools.product(z, repeat=dim)), dtype=np.float64)
    weights = np.array([np.prod(c) for c in itertools.product(w, repeat=dim)], dtype=np.float64)
    return nodes.reshape(-1, dim), weights


def bivariate_normal_rule(s11, s12, s22, n_nodes: int = 40):
    """Nodes (u, v) and weights for E over (u, v) ~ N(0, [[s11, s12], [s12, s22]]).

    Uses the Cholesky factor of the covariance on a product rule; inputs may be arrays (broadcast),
    and the returned u, v have the broadcast shape plus a trailing quadrature axis of n_nodes**2.
    Works inside jit (jax.numpy).
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
