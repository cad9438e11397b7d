"""Hermite analysis of functions of Gaussian inputs: quadrature losses and Hermite spectra.

For x ~ N(0, 1) the normalised probabilists' Hermite polynomials

    h_k(x) = He_k(x) / sqrt(k!),    E[h_j(x) h_k(x)] = delta_jk,

are an orthonormal basis of L^2(N(0, 1)), so any f with E[f^2] < infinity has

    f = sum_k c_k h_k,    c_k = E[f(x) h_k(x)],    E[f^2] = sum_k c_k^2     (Parseval).

They are computed with the three-term recurrence in normalised form,

    h_0 = 1,  h_1 = x,  h_{k+1} = (x h_k - sqrt(k) h_{k-1}) / sqrt(k + 1),

which never forms k! or He_k (both overflow for k of a few hundred). Inside expectations the
Gauss-Hermite weight omega_n is folded into the starting values (the recurrence is linear), so
omega_n h_k(x_n) stays finite even at nodes where h_k alone is huge.

Decay of the spectrum of tanh (derivation, checked numerically in tests/observables/test_hermite.py). With
x = sqrt(2) y,

    c_k[f] = pi^(-1/4) * < f(sqrt(2) y) exp(-y^2/2), psi_k(y) >,

where psi_k are the orthonormal Hermite *functions*. For g analytic in the strip |Im y| < tau the
Hermite-function coefficients decay like exp(-tau sqrt(2k + 1)) up to algebraic factors (Hille
1940; Boyd, "The rate of convergence of Hermite function series", Math. Comp. 35, 1980). tanh(w x)
has its nearest poles at x = +- i pi / (2|w|), i.e. y = +- i pi / (2 sqrt(2) |w|), so

    |c_k[tanh(w .)]| = exp(-c(w) sqrt(k) + O(log k)),    c(w) = pi / (2 |w|),    k odd

(even coefficients vanish because tanh is odd). `tanh_decay_rate` returns c(w); `fit_hermite_decay`
fits log|c_k| = A + p log k - c sqrt(k) and compares it with a geometric law log|c_k| = A - c k.

Quadrature accuracy. `gaussian_expectation` uses the K-point rule of `meanfield._data.quadrature`; for
E[tanh(w x)^2] its error decays like exp(-const * sqrt(K) / |w|) (same strip argument), so the
number of nodes must grow like w^2. `tanh_quadrature_error` measures it against a 2000-node
reference; measured absolute errors of E[tanh(w x)^2] (see tests/observables/test_hermite.py):

    |w|     K=32     K=64     K=128    K=256
    0.5     4e-12    <1e-14   <1e-14   <1e-14
    1       3e-06    3e-09    1e-13    <1e-14
    2       2e-03    9e-05    7e-07    6e-10
    3       2e-02    2e-03    1e-04    1e-06
    4       4e-02    1e-02    1e-03    4e-05

The learning-zero experiment draws w ~ N(0, 1) (max |w| ~ 2.6 for h = 128): its joint-MALA loss
uses K = 256 (error <~ 1e-6 per neuron pair), but lambda depends on Gram eigenvalues far below
that (g_j ~ gamma/(2 nbeta)), which need more nodes: the marginal estimator uses K = 512 (lambda
within 0.02 of K = 2048 up to nbeta = 1e20; K = 256 only up to 1e12), the theory curve K = 2048
(tests/apps/test_llc.py::test_gram_quadrature_nodes_for_h128).

Measured Hermite decay of tanh(w x) (k_max = 200, 400 nodes, fit over odd k >= 5): fitted c = 3.21,
1.587, 0.786, 0.512 for w = 0.5, 1, 2, 3 against pi/(2w) = 3.14, 1.571, 0.785, 0.524; the stretched
law fits with rms 0.003-0.014 in log|c_k|, the geometric law with rms 0.4-1.2.
"""

from __future__ import annotations

import math
from typing import Callable

import jax.numpy as jnp
import numpy as np

from .._data.quadrature import gauss_hermite_normal, product_rule
from .._misc import check_integer

# the one Gauss-Hermite rule (meanfield._data.quadrature), under the name this module has always used
gauss_hermite_rule = gauss_hermite_normal

__all__ = [
    "gauss_hermite_rule",
    "hermite_normalised",
    "gaussian_expectation",
    "tanh_quadrature_error",
    "hermite_coefficients",
    "tanh_hermite_coefficients",
    "network_hermite_spectrum",
    "tanh_decay_rate",
    "fit_hermite_decay",
]


def hermite_normalised(x, k_max: int, weights=None):
    """h_k(x) = He_k(x)/sqrt(k!) for k = 0..k_max, shape x.shape + (k_max + 1,).

    Stable normalised recurrence h_{k+1} = (x h_k - sqrt(k) h_{k-1})/sqrt(k+1). If `weights` (same
    shape as x) is given, returns weights * h_k(x), computed by starting the recurrence from the
    weights (no overflow of h_k at large |x| where the weight underflows). numpy, float64.

    Example:
        >>> h = hermite_normalised(np.array([2.0]), 3)     # He_3(2) = 8 - 6 = 2, /sqrt(6)
        >>> round(float(h[0, 3]), 12) == round(2 / math.sqrt(6), 12)
        True
    """
    k_max = check_integer("k_max", k_max, minimum=0)
    x = np.asarray(x, dtype=np.float64)
    start = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64) * np.ones_like(x)
    out = np.empty(x.shape + (k_max + 1,), dtype=np.float64)
    out[..., 0] = start
    if k_max >= 1:
        out[..., 1] = x * start
    for k in range(1, k_max):
        out[..., k + 1] = (x * out[..., k] - math.sqrt(k) * out[..., k - 1]) / math.sqrt(k + 1)
    return out


def gaussian_expectation(g: Callable, n_nodes: int = 128, dim: int = 1):
    """E_{x ~ N(0, I_dim)}[g(x)] by the (tensor-product) Gauss-Hermite rule.

        E[g(x)] ~= sum_n omega_n g(x_n),

    exact for polynomials of degree <= 2 n_nodes - 1 in each coordinate. `g` maps nodes of shape
    (n_nodes**dim, dim) to values of shape (n_nodes**dim, ...); jax-traceable (the nodes are
    constants). Product rules cost n_nodes**dim evaluations: use dim <= 3.
    """
    n_nodes = check_integer("n_nodes", n_nodes, minimum=1)
    dim = check_integer("dim", dim, minimum=1)
    if n_nodes**dim > 2_000_000:
        raise ValueError(f"n_nodes**dim = {n_nodes}**{dim} nodes is too many for a product rule; "
                         "use dim <= 3 with n_nodes <= 128")
    x, w = product_rule(dim, n_nodes)
    vals = g(jnp.asarray(x))
    return jnp.tensordot(jnp.asarray(w), vals, axes=(0, 0))


def tanh_quadrature_error(w: float, n_nodes: int, reference_nodes: int = 2000) -> float:
    """|K-point minus reference-point Gauss-Hermite value| of E[tanh(w x)^2], x ~ N(0, 1)."""
    n_nodes = check_integer("n_nodes", n_nodes, minimum=1)

    def value(k):
        z, om = gauss_hermite_rule(k)
        return float(np.sum(om * np.tanh(w * z) ** 2))

    return abs(value(n_nodes) - value(reference_nodes))


def hermite_coefficients(f: Callable, k_max: int, n_nodes: int = 400) -> np.ndarray:
    """c_k = E[f(x) h_k(x)], k = 0..k_max, x ~ N(0, 1), by an n_nodes-point rule (numpy).

    `f` maps nodes (n_nodes,) to (n_nodes,) or (n_nodes, m) (m functions at once; the result is
    then (k_max + 1, m)). The rule integrates f h_k exactly when f is a polynomial of degree
    <= 2 n_nodes - 1 - k; for analytic f keep n_nodes well above k_max (default 400 for
    k_max <= 200) and check by doubling it.
    """
    k_max = check_integer("k_max", k_max, minimum=0)
    n_nodes = check_integer("n_nodes", n_nodes, minimum=1)
    if n_nodes <= k_max:
        raise ValueError(f"n_nodes must exceed k_max (the rule cannot resolve h_k beyond it); "
                         f"got n_nodes={n_nodes}, k_max={k_max}")
    z, om = gauss_hermite_rule(n_nodes)
    wh = hermite_normalised(z, k_max, weights=om)  # (n_nodes, k_max+1)
    fz = np.asarray(f(z), dtype=np.float64)
    return np.tensordot(wh, fz, axes=(0, 0))


def tanh_hermite_coefficients(w, k_max: int, n_nodes: int = 400) -> np.ndarray:
    """Hermite coefficients of tanh(w_i x) for each scalar weight w_i: shape (k_max + 1, len(w))."""
    w = np.atleast_1d(np.asarray(w, dtype=np.float64))
    return hermite_coefficients(lambda z: np.tanh(np.outer(z, w)), k_max, n_nodes)


def network_hermite_spectrum(a, w, k_max: int, n_nodes: int = 400) -> np.ndarray:
    """Hermite coefficients c_k of f(x) = sum_i a_i tanh(w_i x) (1-D input), k = 0..k_max.

    Linear in a: c = C a with C[k, i] the coefficients of tanh(w_i x). The power spectrum is c_k^2
    and sum_k c_k^2 = E[f^2] (Parseval; the truncation at k_max drops a tail ~ exp(-2c sqrt(k_max))).
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if a.shape != w.shape:
        raise ValueError(f"a and w must have the same length, got {a.shape} and {w.shape}")
    return tanh_hermite_coefficients(w, k_max, n_nodes) @ a


def tanh_decay_rate(w) -> np.ndarray:
    """c(w) = pi/(2|w|): |c_k[tanh(w x)]| ~ exp(-c(w) sqrt(k)) (strip of analyticity |Im x| < pi/(2|w|))."""
    return np.pi / (2.0 * np.abs(np.asarray(w, dtype=np.float64)))


def fit_hermite_decay(coeffs, k_min: int = 5, floor: float = 1e-13, odd_only: bool = True) -> dict:
    """Fit the decay of |c_k| by least squares on log|c_k| over k >= k_min with |c_k| > floor*max|c|.

    Two laws:
        "stretched":  log|c_k| = A + p log k - c sqrt(k)     (analytic in a strip: Hille/Boyd)
        "geometric":  log|c_k| = A - c k                      (entire-type / analytic in an ellipse)

    Returns {"stretched": {"A", "p", "c", "rms"}, "geometric": {"A", "c", "rms"}, "k": ks used}.
    `floor` drops coefficients at the float64 round-off level of the quadrature.
    """
    c = np.abs(np.asarray(coeffs, dtype=np.float64).reshape(-1))
    k = np.arange(c.size)
    mask = (k >= k_min) & (c > floor * c.max())
    if odd_only:
        mask &= (k % 2 == 1)
    if mask.sum() < 4:
        raise ValueError(f"need >= 4 coefficients above floor={floor} with k >= k_min={k_min}; "
                         f"got {int(mask.sum())}: lower k_min or floor, or raise k_max")
    ks, y = k[mask].astype(np.float64), np.log(c[mask])
    X = np.stack([np.ones_like(ks), np.log(ks), -np.sqrt(ks)], axis=1)
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    rms_s = float(np.sqrt(np.mean((X @ beta - y) ** 2)))
    Xg = np.stack([np.ones_like(ks), -ks], axis=1)
    bg, *_ = np.linalg.lstsq(Xg, y, rcond=None)
    rms_g = float(np.sqrt(np.mean((Xg @ bg - y) ** 2)))
    return {
        "stretched": {"A": float(beta[0]), "p": float(beta[1]), "c": float(beta[2]), "rms": rms_s},
        "geometric": {"A": float(bg[0]), "c": float(bg[1]), "rms": rms_g},
        "k": ks.astype(int).tolist(),
    }
