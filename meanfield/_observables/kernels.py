"""Infinite-width kernels of the two-layer network, their finite-width estimates, and GP regression.

Parameterisation. The network with N hidden neurons is

    f(x) = sum_{i=1}^N a_i phi(w_i . x),     a_i ~ N(0, sigma_a2 / N),   w_i ~ N(0, sigma_w2/d I_d),

d = x.shape[-1]. For two inputs x, x' the pre-activations (u, v) = (w . x, w . x') of one neuron
are jointly Gaussian with covariance

    Sigma(x, x') = (sigma_w2 / d) [[x.x, x.x'], [x.x', x'.x']].

NNGP. As N -> infinity, f is a Gaussian process with covariance

    K(x, x') = E[f(x) f(x')] = sigma_a2 E[phi(u) phi(v)].

NTK. Write the parameters in standardised form, a_i = sqrt(sigma_a2/N) a^_i and
w_i = sqrt(sigma_w2/d) w^_i with a^_i ~ N(0, 1), w^_i ~ N(0, I_d) (Jacot et al.'s "NTK
parameterisation"), and take gradients with respect to theta^ = (a^, w^):

    Theta(x, x') = sum_i [ df/da^_i(x) df/da^_i(x') + grad_{w^_i} f(x) . grad_{w^_i} f(x') ]
                 = sum_i (sigma_a2/N) [ phi(w_i.x) phi(w_i.x')
                                        + a^_i^2 (sigma_w2/d) (x.x') phi'(w_i.x) phi'(w_i.x') ]
              -> K(x, x') + sigma_a2 (sigma_w2/d) (x.x') E[phi'(u) phi'(v)]     (N -> infinity).

Equivalently Theta = J P J^T, with J the Jacobian of f in the raw parameters (a, w) and P the
diagonal prior covariance (sigma_a2/N for each a_i, sigma_w2/d for each entry of w_i): the kernel of
gradient flow on (a, w) with per-layer learning rates equal to the prior variances. Gradients taken
directly in the raw parameters without that preconditioning (the "standard parameterisation" NTK)
weight the two terms differently (N E[phi phi] + sigma_a2 x.x' E[phi' phi']); that is NOT the
convention here.

Finite-width estimates. `empirical_nngp_kernel` and `empirical_ntk_kernel` replace E over w by the
average over an explicit sample of M weight vectors w_i (rows of `w`, drawn from
N(0, sigma_w2/d I) by the caller) and, for the NTK, the a^_i^2 factor by its mean 1. With
`return_stderr=True` they also return the standard error of that Monte-Carlo mean per entry.

GP regression. `gp_posterior` is the predictor of physics.md section 2 with any kernel:
mean = K(X*, X) (K + noise I)^{-1} y.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_factor, cho_solve

from .._model.activations import Activation

__all__ = [
    "nngp_kernel",
    "ntk_kernel",
    "empirical_nngp_kernel",
    "empirical_ntk_kernel",
    "gp_posterior",
]

# Kernel matrices whose evaluation needs more than this many integrand evaluations at once are
# built row-block by row-block (jax.lax.map) to bound memory (2^22 float64 = 32 MiB per temporary).
_ELEMENT_BUDGET = 2**22


def _is_concrete(value) -> bool:
    return not isinstance(value, jax.core.Tracer)


def _check_variance(name: str, value) -> None:
    if _is_concrete(value):
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != () or not np.isfinite(arr) or arr < 0:
            raise ValueError(f"{name} must be a finite non-negative scalar, got {value!r}")


def _f64(value):
    """A scalar hyperparameter as a float64 array (traced, not static, under jit: no recompiles)."""
    return jnp.asarray(value, dtype=jnp.float64)


def _inputs(name: str, x):
    x = jnp.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (n, d), got shape {x.shape}")
    return x.astype(jnp.float64)


def _input_pair(x1, x2):
    """Validated float64 inputs; x2 stays None when it defaults to x1."""
    x1 = _inputs("x1", x1)
    if x2 is None:
        return x1, None
    x2 = _inputs("x2", x2)
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(
            f"x1 and x2 must have the same input dimension, got {x1.shape[1]} and {x2.shape[1]}"
        )
    return x1, x2


def _covariances(x1, x2, sigma_w2):
    """s11 (n1, 1), s12 (n1, n2), s22 (1, n2) of the pre-activations; x2 None means x2 = x1.

    With x2 = x1 the variances are read off the diagonal of the same Gram matrix, so that
    s11 s22 - s12^2 is exactly 0 on the diagonal (kernels are ill-conditioned at |rho| = 1).
    """
    d = x1.shape[1]
    scale = sigma_w2 / d
    if x2 is None:
        s12 = scale * (x1 @ x1.T)
        diag = jnp.diagonal(s12)
        return diag[:, None], s12, diag[None, :]
    s11 = scale * jnp.sum(x1 * x1, axis=1)[:, None]
    s22 = scale * jnp.sum(x2 * x2, axis=1)[None, :]
    return s11, scale * (x1 @ x2.T), s22


def _pairwise(fn, activation: Activation, s11, s12, s22, budget: int):
    """fn(s11, s12, s22) on the (n1, n2) grid, in row blocks when quadrature makes it big."""
    n1, n2 = s12.shape
    cost = activation.evaluation_cost()
    if n1 * n2 * cost <= budget:
        return fn(s11, s12, s22)
    rows = max(1, budget // (n2 * cost))
    s22_row = s22[0]
    return jax.lax.map(
        lambda args: fn(args[0], args[1], s22_row), (s11[:, 0], s12), batch_size=rows
    )


@eqx.filter_jit
def _kernel_matrix(activation: Activation, x1, x2, sigma_w2, sigma_a2, ntk: bool, budget: int):
    s11, s12, s22 = _covariances(x1, x2, sigma_w2)

    def nngp(a11, a12, a22):
        return activation.gaussian_kernel(a11, a12, a22)

    def both(a11, a12, a22):
        # s12 = (sigma_w2/d) x.x', so (sigma_w2/d)(x.x') E[phi'phi'] = s12 E[phi'phi']
        k = activation.gaussian_kernel(a11, a12, a22)
        return k + a12 * activation.gaussian_derivative_kernel(a11, a12, a22)

    return sigma_a2 * _pairwise(both if ntk else nngp, activation, s11, s12, s22, budget)


def nngp_kernel(activation: Activation, x1, x2=None, *, sigma_w2=1.0, sigma_a2=1.0):
    """NNGP kernel K(x, x') = sigma_a2 E[phi(u) phi(v)], shape (n1, n2).

    (u, v) ~ N(0, sigma_w2/d [[x.x, x.x'], [x.x', x'.x']]) with d = x1.shape[1]; x2 defaults to x1.

    Example:
        >>> from meanfield import Identity
        >>> x = jnp.array([[1.0, 0.0], [1.0, 1.0]])
        >>> nngp_kernel(Identity(), x, sigma_w2=2.0).tolist()   # sigma_w2/d x.x'
        [[1.0, 1.0], [1.0, 2.0]]
    """
    _check_variance("sigma_w2", sigma_w2)
    _check_variance("sigma_a2", sigma_a2)
    x1, x2 = _input_pair(x1, x2)
    return _kernel_matrix(
        activation, x1, x2, _f64(sigma_w2), _f64(sigma_a2), False, _ELEMENT_BUDGET
    )


def ntk_kernel(activation: Activation, x1, x2=None, *, sigma_w2=1.0, sigma_a2=1.0):
    """NTK Theta(x, x') = K(x, x') + sigma_a2 (sigma_w2/d) (x.x') E[phi'(u) phi'(v)], (n1, n2).

    The tangent kernel with respect to both layers in the standardised (NTK) parameterisation; see
    the module docstring. x2 defaults to x1.
    """
    _check_variance("sigma_w2", sigma_w2)
    _check_variance("sigma_a2", sigma_a2)
    x1, x2 = _input_pair(x1, x2)
    return _kernel_matrix(activation, x1, x2, _f64(sigma_w2), _f64(sigma_a2), True, _ELEMENT_BUDGET)


def _weights(w, d):
    w = jnp.asarray(w)
    if w.ndim != 2 or w.shape[1] != d:
        raise ValueError(f"w must have shape (M, {d}) to match the inputs, got shape {w.shape}")
    if w.shape[0] < 2:
        raise ValueError(f"w needs at least 2 weight vectors for an average, got {w.shape[0]}")
    return w.astype(jnp.float64)


def _mc_mean_and_stderr(first, second, m):
    """Mean and standard error of the mean from the first and second sample moments."""
    var = jnp.maximum(second - first * first, 0.0) * (m / (m - 1.0))
    return first, jnp.sqrt(var / m)


@eqx.filter_jit
def _empirical_matrix(activation: Activation, w, x1, x2, sigma_w2, sigma_a2, ntk, stderr):
    x2 = x1 if x2 is None else x2
    m = w.shape[0]
    z1 = x1 @ w.T  # (n1, M)
    z2 = x2 @ w.T
    p1, p2 = activation(z1), activation(z2)
    first = (p1 @ p2.T) / m
    if stderr:
        second = ((p1 * p1) @ (p2 * p2).T) / m
    if ntk:
        g = (sigma_w2 / x1.shape[1]) * (x1 @ x2.T)
        q1, q2 = activation.derivative(z1), activation.derivative(z2)
        first = first + g * ((q1 @ q2.T) / m)
        if stderr:
            second = (
                second
                + 2.0 * g * (((p1 * q1) @ (p2 * q2).T) / m)
                + g * g * (((q1 * q1) @ (q2 * q2).T) / m)
            )
    if not stderr:
        return sigma_a2 * first
    mean, se = _mc_mean_and_stderr(first, second, m)
    return sigma_a2 * mean, sigma_a2 * se


def empirical_nngp_kernel(activation: Activation, w, x1, x2=None, *, sigma_a2, return_stderr=False):
    """Finite-width NNGP estimate sigma_a2 (1/M) sum_i phi(w_i . x) phi(w_i . x'), shape (n1, n2).

    Args:
        activation: phi.
        w: (M, d) weight vectors, drawn from N(0, sigma_w2/d I) by the caller.
        x1, x2: inputs (n1, d), (n2, d); x2 defaults to x1.
        sigma_a2: read-out prior variance times N.
        return_stderr: also return the per-entry standard error of the Monte-Carlo mean
            (computed from the sample variance of the M per-neuron terms).
    """
    _check_variance("sigma_a2", sigma_a2)
    x1, x2 = _input_pair(x1, x2)
    w = _weights(w, x1.shape[1])
    args = (_f64(1.0), _f64(sigma_a2), False, bool(return_stderr))
    return _empirical_matrix(activation, w, x1, x2, *args)


def empirical_ntk_kernel(
    activation: Activation, w, x1, x2=None, *, sigma_w2, sigma_a2, return_stderr=False
):
    """Finite-width NTK estimate, shape (n1, n2):

        sigma_a2 (1/M) sum_i [ phi(w_i.x) phi(w_i.x')
                               + (sigma_w2/d)(x.x') phi'(w_i.x) phi'(w_i.x') ].

    The read-out factor a^_i^2 of the finite-network NTK is replaced by its mean 1 (see the module
    docstring). Arguments as in `empirical_nngp_kernel`; sigma_w2 must be the variance scale the
    rows of w were drawn with (it weights the input-layer term).
    """
    _check_variance("sigma_w2", sigma_w2)
    _check_variance("sigma_a2", sigma_a2)
    x1, x2 = _input_pair(x1, x2)
    w = _weights(w, x1.shape[1])
    args = (_f64(sigma_w2), _f64(sigma_a2), True, bool(return_stderr))
    return _empirical_matrix(activation, w, x1, x2, *args)


def gp_posterior(kernel_train, kernel_test_train, y, noise, kernel_test_diag=None):
    """Gaussian-process posterior mean (and latent variance) by a float64 Cholesky solve.

        mean = K(X*, X) (K(X, X) + noise I)^{-1} y
        var  = diag K(X*, X*) - diag[ K(X*, X) (K(X, X) + noise I)^{-1} K(X, X*) ]

    Args:
        kernel_train: K(X, X), shape (n, n).
        kernel_test_train: K(X*, X), shape (m, n).
        y: targets, shape (n,) or (n, C).
        noise: observation-noise variance sigma^2 > 0 (a scalar).
        kernel_test_diag: optional diag K(X*, X*), shape (m,).

    Returns:
        mean with the trailing shape of y ((m,) or (m, C)); if kernel_test_diag is given, the pair
        (mean, var) with var of shape (m,) the variance of the latent function (no noise added).
        Under jit a kernel that is not positive definite gives NaN instead of an error.
    """
    if _is_concrete(noise):
        arr = np.asarray(noise, dtype=np.float64)
        if arr.shape != () or not np.isfinite(arr) or arr <= 0:
            raise ValueError(f"noise must be a finite positive scalar variance, got {noise!r}")
    k = jnp.asarray(kernel_train).astype(jnp.float64)
    kst = jnp.asarray(kernel_test_train).astype(jnp.float64)
    y = jnp.asarray(y).astype(jnp.float64)
    if k.ndim != 2 or k.shape[0] != k.shape[1]:
        raise ValueError(f"kernel_train must be square (n, n), got shape {k.shape}")
    n = k.shape[0]
    if kst.ndim != 2 or kst.shape[1] != n:
        raise ValueError(f"kernel_test_train must have shape (m, {n}), got shape {kst.shape}")
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(f"y must have shape ({n},) or ({n}, C), got shape {y.shape}")
    a = k + noise * jnp.eye(n, dtype=jnp.float64)
    factor = cho_factor(a, lower=True)
    if _is_concrete(factor[0]) and not bool(jnp.all(jnp.isfinite(factor[0]))):
        raise ValueError(
            "kernel_train + noise * I is not positive definite (Cholesky failed); "
            "check the kernel for NaN or increase noise"
        )
    mean = kst @ cho_solve(factor, y)
    if kernel_test_diag is None:
        return mean
    diag = jnp.asarray(kernel_test_diag).astype(jnp.float64)
    if diag.shape != (kst.shape[0],):
        raise ValueError(
            f"kernel_test_diag must have shape ({kst.shape[0]},), got shape {diag.shape}"
        )
    var = diag - jnp.sum(kst * cho_solve(factor, kst.T).T, axis=1)
    return mean, var
