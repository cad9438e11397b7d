"""Activation functions and their Gaussian kernels.

An activation phi acts elementwise on pre-activations z = w . x. Besides phi and phi', the
two-layer kernels (see `meanfield._observables.kernels`) need two Gaussian expectations: for

    (u, v) ~ N(0, Sigma),    Sigma = [[s11, s12], [s12, s22]],

    gaussian_kernel(s11, s12, s22)            = E[phi(u) phi(v)]
    gaussian_derivative_kernel(s11, s12, s22) = E[phi'(u) phi'(v)].

The base class `Activation` evaluates both by a tensor-product Gauss-Hermite rule on the Cholesky
factor of Sigma (`meanfield._data.quadrature.bivariate_normal_rule`, `n_nodes` points per axis,
default 48, so 48^2 = 2304 evaluations per entry). It is accurate only for smooth phi at moderate
variance, because phi(sqrt(s) z) sharpens as s grows (for tanh at rho = 1: 2e-7 at variance 1,
6e-4 at 4, 1e-2 / 2e-1 for kernel / derivative kernel at 10; table in `Tanh`). For phi with kinks
or jumps (ReLU, HardTanh) the rule converges only algebraically (errors 1e-4 to 1e-2 at 48 nodes).
So the subclasses override it:

- Erf      arcsine kernel (Williams 1997)
- Tanh     the logistic scale mixture tanh(z) = E_K erf(z/(sqrt2 K)), K Kolmogorov-distributed:
           Erf's closed forms averaged over two scales by a 27-node rule in log K, relative
           errors <= 2e-14 at any variance and correlation (see Tanh)
- ReLU     arc-cosine kernels of degree 1 and 0 (Cho & Saul 2009)
- HardTanh one-dimensional smooth integrals (Price's theorem + Sheppard's formula), see HardTanh
- Quadratic, Identity: Gaussian moments.
- ClippedReLU (not odd, for the clover app): the quadrature default.

Every class is registered by name in `ACTIVATION_REGISTRY` (`activation_from_name`).

All array arguments broadcast elementwise. Covariances are cast to float64 (the package's kernel
precision policy); phi and phi' keep the dtype of their floating input. Degenerate covariances
(s11 = 0 or s22 = 0, |s12| = sqrt(s11 s22)) give finite values, never NaN. Conventions at kinks:
ReLU'(0) = 0 and HardTanh'(+-1) = 0 (the indicator of the open set), consistent with the kernels
at zero variance (u = 0 a.s.).
"""

from __future__ import annotations

import abc
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.special as jsp_special
import numpy as np

from .._data.quadrature import bivariate_normal_rule, logistic_scale_mixture_rule
from .._misc import check_integer

__all__ = [
    "Activation",
    "Erf",
    "Tanh",
    "HardTanh",
    "ReLU",
    "Quadratic",
    "Identity",
    "ClippedReLU",
    "activation_from_name",
    "ACTIVATION_REGISTRY",
    "ACTIVATION_NAMES",
]


def _as_float(z):
    """z as a jax array of floating dtype (integers and bools go to the default float)."""
    z = jnp.asarray(z)
    if not jnp.issubdtype(z.dtype, jnp.inexact):
        z = z.astype(jnp.float64)
    return z


def _covariance_args(s11, s12, s22):
    """Cast the three covariance entries to float64 and broadcast them to a common shape."""
    s11, s12, s22 = (jnp.asarray(s, dtype=jnp.float64) for s in (s11, s12, s22))
    return jnp.broadcast_arrays(s11, s12, s22)


def _sqrt_det(s11, s12, s22):
    """sqrt(s11 s22 - s12^2) as sqrt((g - |s12|)(g + |s12|)), g = sqrt(s11 s22).

    g - |s12| is exact near a singular covariance (Sterbenz), and exactly 0 on a diagonal
    (s11 = s22 = s12: sqrt(fl(s^2)) = s), whatever the compiler does: the direct form
    s11 s22 - s12^2, contracted to a fused multiply-add under jit, leaves a residue of +-1e-15 s^2
    whose square root (1e-8 s) shows in the ReLU derivative kernel as a 1e-9 error.
    """
    g = jnp.sqrt(s11 * s22)
    a = jnp.abs(s12)
    return jnp.sqrt(jnp.maximum((g - a) * (g + a), 0.0))


class Activation(eqx.Module):
    """An elementwise activation phi with its derivative and Gaussian kernels.

    Subclasses define `__call__` (phi) and `derivative` (phi'); the Gaussian kernels

        gaussian_kernel(s11, s12, s22)            = E[phi(u) phi(v)],
        gaussian_derivative_kernel(s11, s12, s22) = E[phi'(u) phi'(v)],
        (u, v) ~ N(0, [[s11, s12], [s12, s22]]),

    default to 2-D Gauss-Hermite quadrature with `n_nodes` points per axis; subclasses with a
    closed form override them. The quadrature default stays callable on any instance as
    `Activation.gaussian_kernel(act, s11, s12, s22)`.

    Attributes:
        name: the activation's name as accepted by `activation_from_name` (class attribute).
        n_nodes: Gauss-Hermite points per axis of the quadrature default (static, default 48).
    """

    name: ClassVar[str] = "activation"
    n_nodes: int = eqx.field(static=True, default=48, kw_only=True)

    def __check_init__(self):
        check_integer("n_nodes", self.n_nodes, minimum=1)

    @abc.abstractmethod
    def __call__(self, z):
        """phi(z), elementwise."""

    @abc.abstractmethod
    def derivative(self, z):
        """phi'(z), elementwise."""

    def gaussian_kernel(self, s11, s12, s22):
        """E[phi(u) phi(v)] for (u, v) ~ N(0, [[s11, s12], [s12, s22]]) (quadrature default)."""
        return _quadrature(self, False, *_covariance_args(s11, s12, s22))

    def gaussian_derivative_kernel(self, s11, s12, s22):
        """E[phi'(u) phi'(v)] for (u, v) ~ N(0, [[s11, s12], [s12, s22]]) (quadrature default)."""
        return _quadrature(self, True, *_covariance_args(s11, s12, s22))

    def evaluation_cost(self) -> int:
        """Integrand evaluations per kernel entry (1 for closed forms), to chunk big matrices."""
        cls = type(self)
        quadrature = (
            cls.gaussian_kernel is Activation.gaussian_kernel
            or cls.gaussian_derivative_kernel is Activation.gaussian_derivative_kernel
        )
        return self.n_nodes**2 if quadrature else 1


@eqx.filter_jit
def _quadrature(activation: Activation, derivative: bool, s11, s12, s22):
    """sum_k omega_k f(u_k) f(v_k) with f = phi or phi' on the bivariate Gauss-Hermite rule."""
    f = activation.derivative if derivative else activation.__call__
    u, v, weights = bivariate_normal_rule(s11, s12, s22, activation.n_nodes)
    return jnp.sum(weights * (f(u) * f(v)), axis=-1)


class Erf(Activation):
    """phi(z) = erf(z), phi'(z) = (2/sqrt(pi)) exp(-z^2).

    Closed forms (Williams 1997):

        E[phi(u) phi(v)]   = (2/pi) arcsin( 2 s12 / sqrt((1 + 2 s11)(1 + 2 s22)) )
        E[phi'(u) phi'(v)] = (4/pi) / sqrt( (1 + 2 s11)(1 + 2 s22) - 4 s12^2 )
    """

    name: ClassVar[str] = "erf"

    def __call__(self, z):
        return jsp_special.erf(_as_float(z))

    def derivative(self, z):
        z = _as_float(z)
        return (2.0 / math.sqrt(math.pi)) * jnp.exp(-(z * z))

    def gaussian_kernel(self, s11, s12, s22):
        s11, s12, s22 = _covariance_args(s11, s12, s22)
        arg = 2.0 * s12 / jnp.sqrt((1.0 + 2.0 * s11) * (1.0 + 2.0 * s22))
        return (2.0 / math.pi) * jnp.arcsin(jnp.clip(arg, -1.0, 1.0))

    def gaussian_derivative_kernel(self, s11, s12, s22):
        s11, s12, s22 = _covariance_args(s11, s12, s22)
        det = (1.0 + 2.0 * s11) * (1.0 + 2.0 * s22) - 4.0 * s12 * s12
        # det >= 1 + 2 (s11 + s22) > 0 for a valid covariance; guard rounding anyway
        return (4.0 / math.pi) / jnp.sqrt(jnp.maximum(det, 1.0))


_MIXTURE_K, _MIXTURE_W = logistic_scale_mixture_rule()


@jax.jit
def _tanh_kernels(s11, s12, s22):
    """(E[tanh(u) tanh(v)], E[sech^2(u) sech^2(v)]) by the logistic scale mixture; see Tanh."""
    k2 = jnp.asarray(_MIXTURE_K**2)
    w = jnp.asarray(_MIXTURE_W)
    ki = k2[:, None]
    kj = k2[None, :]
    weights = w[:, None] * w[None, :]
    # s11 s22 - s12^2 directly (differentiable, also at zero variance): its rounding residue,
    # <= 1e-15 s11 s22, is below 1e-13 of q >= K^2 K'^2 + K^2 s22 + K'^2 s11 (K >= 0.15)
    det = jnp.maximum(s11 * s22 - s12 * s12, 0.0)
    a11, a12, a22, det = (x[..., None, None] for x in (s11, s12, s22, det))
    # (K^2 + s11)(K'^2 + s22) - s12^2 as a sum of non-negative terms: no cancellation at |rho| = 1
    q = ki * kj + ki * a22 + kj * a11 + det
    inverse_root = jax.lax.rsqrt(q)
    kernel = jnp.sum(weights * jnp.arctan(a12 * inverse_root), axis=(-2, -1))
    derivative = jnp.sum(weights * inverse_root, axis=(-2, -1))
    return (2.0 / math.pi) * kernel, (2.0 / math.pi) * derivative


class Tanh(Activation):
    """phi(z) = tanh(z), phi'(z) = 1 - tanh(z)^2. Kernels by the logistic scale mixture.

    The standard logistic law is a scale mixture of normals (Andrews & Mallows 1974; Stefanski
    1991): with K drawn from the Kolmogorov distribution,

        sech^2(z) = E_K[ sqrt(2/pi)/K exp(-z^2/(2 K^2)) ],      tanh(z) = E_K[ erf(z/(sqrt2 K)) ].

    The Gaussian expectations over (u, v) are then closed forms (those of `Erf`) for each pair of
    independent scales K, K', leaving a smooth two-dimensional integral over (K, K'):

        E[phi(u) phi(v)]   = (2/pi) E_{K,K'} arcsin( s12 / sqrt((K^2 + s11)(K'^2 + s22)) ),
        E[phi'(u) phi'(v)] = (2/pi) E_{K,K'} 1 / sqrt((K^2 + s11)(K'^2 + s22) - s12^2),

    with (K^2 + s11)(K'^2 + s22) - s12^2 = K^2 K'^2 + K^2 s22 + K'^2 s11 + (s11 s22 - s12^2) >= 0,
    evaluated as that sum (no cancellation at |rho| = 1). In t = log K the integrands are analytic
    for |Im t| < pi/2 whatever the covariance (their singularities sit at K^2 < 0), and the
    mixing density for |Im t| < pi/4, so the trapezoidal rule in log K
    (`meanfield._data.quadrature.logistic_scale_mixture_rule`, 27 nodes, 27^2 = 729 evaluations
    of an inverse square root and an arctangent per entry) converges at a rate that does not
    depend on the variances: no node count to raise with the pre-activation variance. Measured against independent references (mpmath and
    composite Gauss-Legendre, tests/model/test_kernel_accuracy.py): relative errors <= 2e-14 for
    both kernels at variances 1e-8 to 1e4 and every correlation in [-1, 1], +-1 included.

    `n_nodes` (default 48) only sets the base class's Gauss-Hermite rule, still callable as
    `Activation.gaussian_kernel(Tanh(), s11, s12, s22)`; its own kernels do not use it. That rule
    converges slowly at large variances because tanh(sqrt(s) z) sharpens. Measured relative errors
    (kernel / derivative kernel) at s11 = s22 = s, rho = 1, the worst case (at rho = 0.5 they are
    5-40x smaller); reference: composite Gauss-Legendre converged to 1e-15:

        s      n_nodes=48     96             160            (scale mixture, default)
        0.5    2e-10/4e-09    4e-15/3e-14    8e-16/7e-15    2e-16/2e-15
        1      2e-07/4e-06    3e-11/1e-09    5e-15/4e-13    2e-15/2e-16
        2      2e-05/5e-04    5e-08/2e-06    1e-10/1e-08    2e-16/1e-15
        4      6e-04/1e-02    1e-05/4e-04    1e-07/1e-05    2e-15/1e-15
        10     1e-02/2e-01    8e-04/3e-02    6e-05/3e-03    2e-15/3e-15
    """

    name: ClassVar[str] = "tanh"

    def __call__(self, z):
        return jnp.tanh(_as_float(z))

    def derivative(self, z):
        t = jnp.tanh(_as_float(z))
        return 1.0 - t * t

    def gaussian_kernel(self, s11, s12, s22):
        return _tanh_kernels(*_covariance_args(s11, s12, s22))[0]

    def gaussian_derivative_kernel(self, s11, s12, s22):
        return _tanh_kernels(*_covariance_args(s11, s12, s22))[1]

    def evaluation_cost(self) -> int:
        return len(_MIXTURE_K) ** 2


class ReLU(Activation):
    """phi(z) = max(z, 0), phi'(z) = 1{z > 0} (so phi'(0) = 0).

    Arc-cosine kernels (Cho & Saul 2009) with rho = s12/sqrt(s11 s22), theta = arccos(rho):

        E[phi(u) phi(v)]   = sqrt(s11 s22)/(2 pi) * (sin(theta) + (pi - theta) cos(theta))
        E[phi'(u) phi'(v)] = (pi - theta)/(2 pi)         (0 where s11 s22 = 0: u or v is 0 a.s.)

    evaluated as theta = atan2(sqrt(s11 s22 - s12^2), s12), exact for singular covariances. Near
    |rho| = 1 the derivative kernel is a square root of 1 - rho^2, so a one-ulp error in the inputs
    (e.g. x.x computed two ways) changes it by ~1e-8: that is its conditioning, not quadrature.
    """

    name: ClassVar[str] = "relu"

    def __call__(self, z):
        z = _as_float(z)
        return jnp.where(z > 0, z, jnp.zeros_like(z))

    def derivative(self, z):
        z = _as_float(z)
        return jnp.where(z > 0, jnp.ones_like(z), jnp.zeros_like(z))

    def gaussian_kernel(self, s11, s12, s22):
        s11, s12, s22 = _covariance_args(s11, s12, s22)
        # norm sin(theta) = sqrt(det), norm cos(theta) = s12: no division, exact at rho = +-1
        sqrt_det = _sqrt_det(s11, s12, s22)
        theta = jnp.arctan2(sqrt_det, s12)
        value = (sqrt_det + (math.pi - theta) * s12) / (2.0 * math.pi)
        return jnp.where((s11 > 0) & (s22 > 0), value, 0.0)

    def gaussian_derivative_kernel(self, s11, s12, s22):
        s11, s12, s22 = _covariance_args(s11, s12, s22)
        sqrt_det = _sqrt_det(s11, s12, s22)
        value = (math.pi - jnp.arctan2(sqrt_det, s12)) / (2.0 * math.pi)
        return jnp.where((s11 > 0) & (s22 > 0), value, 0.0)


_HT_LEGENDRE_NODES = 64
_HT_T, _HT_W = np.polynomial.legendre.leggauss(_HT_LEGENDRE_NODES)
_HT_T = 0.5 * (_HT_T + 1.0)  # nodes on [0, 1]
_HT_W = 0.5 * _HT_W


@jax.jit
def _hardtanh_kernels(s11, s12, s22):
    """(E[phi(u)phi(v)], E[phi'(u)phi'(v)]) for phi = clip(., -1, 1); see HardTanh."""
    pos1 = s11 > 0
    pos2 = s22 > 0
    both = pos1 & pos2
    sd1 = jnp.sqrt(jnp.where(pos1, s11, 1.0))
    sd2 = jnp.sqrt(jnp.where(pos2, s22, 1.0))
    norm = jnp.sqrt(jnp.where(both, s11 * s22, 1.0))
    rho = jnp.where(both, jnp.clip(s12 / norm, -1.0, 1.0), 0.0)
    r = jnp.abs(rho)
    sign = jnp.sign(rho)
    # arcsin(r) from the determinant: exact pi/2 for an exactly singular covariance (arcsin(r) near
    # r = 1 would amplify a one-ulp error in r to ~1e-8)
    sqrt_det = _sqrt_det(s11, s12, s22)
    psi = jnp.where(both, jnp.arctan2(jnp.abs(s12), sqrt_det), 0.0)[..., None]
    a = 1.0 / sd1  # thresholds in standard units; finite placeholders where a variance is 0
    b = 1.0 / sd2
    erf_a = jnp.where(pos1, jsp_special.erf(a / math.sqrt(2.0)), 1.0)
    erf_b = jnp.where(pos2, jsp_special.erf(b / math.sqrt(2.0)), 1.0)

    theta = psi * jnp.asarray(_HT_T)
    weights = psi * jnp.asarray(_HT_W)
    s = jnp.sin(theta)
    c2 = jnp.cos(theta) ** 2
    a_ = a[..., None]
    b_ = b[..., None]
    ab = a_ * b_
    # a^2 - 2ab s + b^2 = (a - b)^2 + 2ab cos^2/(1 + s): no cancellation as s -> 1
    e1 = jnp.exp(-((a_ - b_) ** 2) / (2.0 * c2) - ab / (1.0 + s))
    e2 = jnp.exp(-(a_ * a_ + 2.0 * ab * s + b_ * b_) / (2.0 * c2))
    integrand = jnp.where(both[..., None], e1 - e2, 0.0)
    prob = erf_a * erf_b + jnp.sum(weights * integrand, axis=-1) / math.pi
    r_ = r[..., None]
    bracket = r * erf_a * erf_b + jnp.sum(weights * integrand * (r_ - s), axis=-1) / math.pi
    kernel = sign * jnp.sqrt(s11 * s22) * bracket
    return kernel, prob


class HardTanh(Activation):
    """phi(z) = clip(z, -1, 1), phi'(z) = 1{|z| < 1}.

    Both kernels reduce to smooth one-dimensional integrals (evaluated by 64-point Gauss-Legendre,
    accurate to ~1e-13 against adaptive scipy references; the 2-D Gauss-Hermite default converges
    only algebraically because of the kinks: errors 1e-4 to 1e-2 at 48 nodes). With
    a = 1/sqrt(s11), b = 1/sqrt(s22), rho = s12/sqrt(s11 s22), r = |rho|, and

        I(t) = exp(-(a^2 - 2ab sin t + b^2)/(2 cos^2 t))
               - exp(-(a^2 + 2ab sin t + b^2)/(2 cos^2 t)),

    Sheppard's formula for the bivariate normal rectangle gives

        E[phi'(u) phi'(v)] = P(|u| < 1, |v| < 1)
                           = erf(a/sqrt2) erf(b/sqrt2) + (1/pi) int_0^{arcsin r} I(t) dt,

    and Price's theorem (d/ds12 E[phi(u)phi(v)] = E[phi'(u)phi'(v)], E[phi] = 0) integrated in s12
    gives

        E[phi(u) phi(v)] = sign(rho) sqrt(s11 s22) [ r erf(a/sqrt2) erf(b/sqrt2)
                                                    + (1/pi) int_0^{arcsin r} I(t) (r - sin t) dt ].

    Zero variance (u = 0 a.s.) gives E[phi phi] = 0 and E[phi' phi'] = P(|v| < 1).
    """

    name: ClassVar[str] = "hardtanh"

    def __call__(self, z):
        return jnp.clip(_as_float(z), -1.0, 1.0)

    def derivative(self, z):
        z = _as_float(z)
        return jnp.where(jnp.abs(z) < 1.0, jnp.ones_like(z), jnp.zeros_like(z))

    def gaussian_kernel(self, s11, s12, s22):
        return _hardtanh_kernels(*_covariance_args(s11, s12, s22))[0]

    def gaussian_derivative_kernel(self, s11, s12, s22):
        return _hardtanh_kernels(*_covariance_args(s11, s12, s22))[1]

    def evaluation_cost(self) -> int:
        return _HT_LEGENDRE_NODES


class Quadratic(Activation):
    """phi(z) = z^2, phi'(z) = 2 z.

        E[phi(u) phi(v)]   = E[u^2 v^2] = s11 s22 + 2 s12^2
        E[phi'(u) phi'(v)] = 4 E[u v]   = 4 s12
    """

    name: ClassVar[str] = "quadratic"

    def __call__(self, z):
        z = _as_float(z)
        return z * z

    def derivative(self, z):
        return 2.0 * _as_float(z)

    def gaussian_kernel(self, s11, s12, s22):
        s11, s12, s22 = _covariance_args(s11, s12, s22)
        return s11 * s22 + 2.0 * s12 * s12

    def gaussian_derivative_kernel(self, s11, s12, s22):
        s11, s12, s22 = _covariance_args(s11, s12, s22)
        return 4.0 * s12


class Identity(Activation):
    """phi(z) = z, phi'(z) = 1.

        E[phi(u) phi(v)] = s12,    E[phi'(u) phi'(v)] = 1
    """

    name: ClassVar[str] = "identity"

    def __call__(self, z):
        return _as_float(z)

    def derivative(self, z):
        return jnp.ones_like(_as_float(z))

    def gaussian_kernel(self, s11, s12, s22):
        s11, s12, s22 = _covariance_args(s11, s12, s22)
        return s12

    def gaussian_derivative_kernel(self, s11, s12, s22):
        s11, s12, s22 = _covariance_args(s11, s12, s22)
        return jnp.ones_like(s12)


class ClippedReLU(Activation):
    r"""The clipped ReLU, a bounded piecewise-linear sigmoid that is not odd.

        phi(z) = clip(z, 0, 1) = min(max(z, 0), 1),      phi'(z) = 1{0 < z < 1}

    (derivative 0 at the kinks). Like HardTanh it is bounded, monotone and piecewise linear (a
    "hard sigmoid" rising from 0 to 1), but it is not odd: its even part (phi(z) + phi(-z))/2 =
    min(|z|, 1)/2 is a capped |z|. A bias-free two-layer network with an odd activation (HardTanh,
    Tanh, Erf) has only odd functions a phi(w.x) in its span and cannot fit an even target such as
    x1 x2 or the continuous XOR tanh(2 x1) tanh(2 x2); with the clipped ReLU a neuron pair (w, a),
    (-w, a) contributes the even bump a min(|w.x|, 1), and x1 x2 = ((x1 + x2)^2 - (x1 - x2)^2)/4 is
    fitted by bumps along the two diagonals with opposite signs of a. This is what makes the
    four-lobed clover of `meanfield._apps.clover`.

    The Gaussian kernels use the base class's 2-D Gauss-Hermite default, which converges only
    algebraically (and erratically) at the kinks: at 48 nodes and variances 0.5-3, measured
    against 1-D integrals (tests/model/test_activations.py), errors up to 4e-3 for the kernel and 4e-2
    for the derivative kernel (an indicator); 400 nodes bring them to ~1e-3 and ~6e-3.

    Example:
        >>> [float(v) for v in ClippedReLU()([-1.0, 0.5, 2.0])]
        [0.0, 0.5, 1.0]
        >>> [float(v) for v in ClippedReLU().derivative([-1.0, 0.5, 2.0])]
        [0.0, 1.0, 0.0]
    """

    name: ClassVar[str] = "clipped_relu"

    def __call__(self, z):
        return jnp.clip(_as_float(z), 0.0, 1.0)

    def derivative(self, z):
        z = _as_float(z)
        return jnp.where((z > 0.0) & (z < 1.0), jnp.ones_like(z), jnp.zeros_like(z))


#: The one activation registry: `Activation.name` -> class, for `activation_from_name`.
ACTIVATION_REGISTRY: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Erf, Tanh, HardTanh, ReLU, Quadratic, Identity, ClippedReLU)
}
#: The names a config file's `[model] activation` accepts (`meanfield run`): the registered
#: activations whose kernels are closed forms or converge spectrally. The clipped ReLU (kinks and
#: quadrature only) is registered for the clover app but not offered there.
ACTIVATION_NAMES: tuple[str, ...] = tuple(n for n in ACTIVATION_REGISTRY if n != ClippedReLU.name)


def activation_from_name(name: str) -> Activation:
    """The activation called `name` (case-insensitive), any key of `ACTIVATION_REGISTRY`
    (the `ACTIVATION_NAMES` and "clipped_relu").

    Example:
        >>> activation_from_name("erf")
        Erf()
        >>> activation_from_name("Clipped_ReLU")
        ClippedReLU()
    """
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in ACTIVATION_REGISTRY:
        raise ValueError(
            f"unknown activation {name!r}; allowed names are {', '.join(ACTIVATION_REGISTRY)}"
        )
    return ACTIVATION_REGISTRY[key]()
