"""Quadrature rules: Gauss-Hermite for expectations over standard normal variables,
Gauss-Legendre on [0, 1], and the logistic scale-mixture rule behind the tanh kernels.

For z ~ N(0, 1),

    E[g(z)] ≈ sum_k omega_k g(z_k),

with the probabilists' Gauss-Hermite rule (nodes z_k, weights omega_k summing to one), exact for
polynomials of degree <= 2K - 1. Product rules extend this to z ~ N(0, I_d).

The rule for every K is scipy's `roots_hermitenorm` (Golub-Welsch below 150 nodes, the
asymptotic Townsend-Trogdon-Olver construction above), with the weights renormalised to sum to
one. numpy's `hermegauss` overflows past ~180 nodes; this one reproduces E[z^(2m)] = (2m - 1)!!
to ~3e-14 relative for m <= 40 at K = 200, 400, 1000, 2000 (tests/observables/test_hermite.py). Weights below
~1e-308 (|z_k| >~ 37, K >~ 350) underflow to exactly zero.

`gauss_legendre_unit` is the Gauss-Legendre rule on [0, 1] (the one-dimensional integrals of the
piecewise-linear kernels), and `logistic_scale_mixture_rule` the rule over the Kolmogorov
distribution that turns the tanh kernels into sums of closed forms (see that function).
"""

from __future__ import annotations

import functools
import itertools
import numpy as np

from .._misc import check_integer


@functools.lru_cache(maxsize=32)
def _legendre_unit(n: int) -> tuple[np.ndarray, np.ndarray]:
    t, w = np.polynomial.legendre.leggauss(n)
    t, w = 0.5 * (t + 1.0), 0.5 * w
    t.setflags(write=False)
    w.setflags(write=False)
    return t, w


def gauss_legendre_unit(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes t_k in (0, 1), ascending, and weights w_k (sum 1) of the n-point Gauss-Legendre rule,

        int_0^1 g(t) dt ~= sum_k w_k g(t_k),   exact for polynomials of degree <= 2n - 1.

    Example:
        >>> t, w = gauss_legendre_unit(3)
        >>> round(float((w * t**5).sum()), 15)   # int_0^1 t^5 dt = 1/6
        0.166666666666667
    """
    n_nodes = check_integer("n_nodes", n_nodes, minimum=1)
    t, w = _legendre_unit(n_nodes)
    return t.copy(), w.copy()


def kolmogorov_pdf(x) -> np.ndarray:
    """Density of the Kolmogorov distribution, the law of sup_t |B(t)| for a Brownian bridge B,

        P(K <= x) = 1 - 2 sum_{j>=1} (-1)^(j-1) exp(-2 j^2 x^2)
                  = (sqrt(2 pi)/x) sum_{j>=1} exp(-(2j - 1)^2 pi^2/(8 x^2)),

    differentiated term by term (the second series below x = 1, the first above; 8 terms each, both
    converged to rounding there). numpy, float64; 0 at x <= 0.

    Example:
        >>> x = np.linspace(0.05, 6.0, 4000)
        >>> round(float(np.trapezoid(kolmogorov_pdf(x), x)), 9)   # a probability density
        1.0
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    j = np.arange(1, 9, dtype=np.float64).reshape((-1,) + (1,) * x.ndim)
    small = (x > 0) & (x < 1.0)
    xs = np.where(small, x, 1.0)
    a = (2.0 * j - 1.0) ** 2 * (np.pi**2 / 8.0)
    terms = np.exp(-a / xs**2) * (2.0 * a / xs**4 - 1.0 / xs**2)
    low = np.sqrt(2.0 * np.pi) * np.sum(terms, axis=0)
    xl = np.where(x >= 1.0, x, 1.0)
    high = 8.0 * xl * np.sum((-1.0) ** (j - 1.0) * j**2 * np.exp(-2.0 * j**2 * xl**2), axis=0)
    out = np.where(small, low, np.where(x >= 1.0, high, 0.0))
    return out


@functools.lru_cache(maxsize=8)
def _mixture_rule(step: float) -> tuple[np.ndarray, np.ndarray]:
    # nodes t = j * step in log K, kept where the weight exceeds ~1e-18 of its peak
    j = np.arange(int(np.ceil(-1.84 / step)), int(np.floor(1.58 / step)) + 1, dtype=np.float64)
    k = np.exp(j * step)
    w = step * kolmogorov_pdf(k) * k
    w = w / w.sum()
    k.setflags(write=False)
    w.setflags(write=False)
    return k, w


#: Step in log K of the default `logistic_scale_mixture_rule` (27 nodes).
MIXTURE_STEP = 0.125


def logistic_scale_mixture_rule(step: float = MIXTURE_STEP) -> tuple[np.ndarray, np.ndarray]:
    """Nodes K_j > 0 and weights w_j (sum 1) for E over the Kolmogorov distribution of K, with

        sech^2(z) = E_K[ sqrt(2/pi)/K exp(-z^2/(2 K^2)) ],     tanh(z) = E_K[ erf(z/(sqrt2 K)) ]

    (the standard logistic law is a scale mixture of normals, X = 2 K Z: Andrews & Mallows 1974,
    Stefanski 1991). Gaussian expectations of tanh and sech^2 then become expectations over K of
    closed forms; see `meanfield._model.activations.Tanh`.

    The rule is the trapezoidal rule in t = log K with the given step, on t in [-1.84, 1.58] (the
    density times K is below 1e-18 of its peak outside). In t the weight is analytic and decaying
    in the strip |Im t| < pi/4, so the rule converges like exp(-c/step): the first three moments
    E[1], E[1/K] = sqrt(pi/2), E[K^2] = pi^2/12 are matched to 5e-9 at step 0.2 (17 nodes), 4e-12
    at 0.15 (23 nodes), 7e-15 at the default 0.125 (27 nodes) and to rounding at 0.1 (34 nodes)
    (measured).

    Example:
        >>> k, w = logistic_scale_mixture_rule()
        >>> len(k), round(float(w.sum()), 15)
        (27, 1.0)
        >>> bool(abs((w / k).sum() - np.sqrt(np.pi / 2)) < 1e-14)   # E[1/K]
        True
        >>> bool(abs((w * k**2).sum() - np.pi**2 / 12) < 1e-14)     # E[K^2]
        True
    """
    step = float(step)
    if not (0.0 < step <= 0.5):
        raise ValueError(f"step must be in (0, 0.5], got {step!r}")
    k, w = _mixture_rule(step)
    return k.copy(), w.copy()


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
