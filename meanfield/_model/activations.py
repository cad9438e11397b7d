"""Activation functions and their Gaussian kernels.

An activation phi acts elementwise on pre-activations z = w . x. Besides phi and phi', the
two-layer kernels (see `meanfield._observables.kernels`) need two Gaussian expectations: for

    (u, v) ~ N(0, Sigma),    Sigma = [[s11, s12], [s12, s22]],

    gaussian_kernel(s11, s12, s22)            = E[phi(u) phi(v)]
    gaussian_derivative_kernel(s11, s12, s22) = E[phi'(u) phi'(v)].

Every registered activation overrides both with closed forms, up to a smooth low-dimensional
integral evaluated by a rule whose accuracy does not depend on the covariance. Measured against
independent high-precision references (tests/model/test_kernel_accuracy.py: 251 covariances,
variances 0 to 10, every correlation in [-1, 1] with +-1 exactly, unequal and nearly equal
variances): relative errors <= 6e-13 wherever a kernel exceeds 1e-3, and absolute errors
<= 2e-14 on the values that vanish (odd kernels at s12 = 0; the ReLU-type kernels near rho = -1,
where they are relative errors up to 3e-10 on values ~1e-9, the rounding of the inputs). A random
sample at variances 1e-8 to 1e4 gave <= 3e-12 where the kernel exceeds 1e-3. The test requires
1e-6 relative with an absolute floor of 1e-12.

- Erf      arcsine kernel (Williams 1997)
- Tanh     the logistic scale mixture tanh(z) = E_K erf(z/(sqrt2 K)), K Kolmogorov-distributed:
           Erf's closed forms averaged over two scales by a 27-node rule in log K, see Tanh
- ReLU     arc-cosine kernels of degree 1 and 0 (Cho & Saul 2009)
- HardTanh and ClippedReLU: closed forms in bivariate normal orthant probabilities (Sheppard's
           integral, and Genz's near-singular expansion at |rho| >= 0.925), see HardTanh
- Quadratic, Identity: Gaussian moments.

The base class `Activation` keeps a generic default for new subclasses: a tensor-product
Gauss-Hermite rule on the Cholesky factor of Sigma (`meanfield._data.quadrature.
bivariate_normal_rule`, `n_nodes` points per axis, default 48, so 2304 evaluations per entry). It
is accurate only for smooth phi at moderate variance, because phi(sqrt(s) z) sharpens as s grows
(for tanh at rho = 1: 2e-7 at variance 1, 6e-4 at 4, 1e-2 / 2e-1 for kernel / derivative kernel
at 10; table in `Tanh`), and it converges only algebraically for phi with kinks or jumps (errors
1e-4 to 1: see ClippedReLU).

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

from .._data.quadrature import (
    bivariate_normal_rule,
    gauss_legendre_unit,
    logistic_scale_mixture_rule,
)
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


# Piecewise-linear kernels. For a standard normal pair (X, Y) of correlation r, write
# c = sqrt(1 - r^2) and
#     L(h, k; r) = P(X > h, Y > k),      R(h, k; r) = E[(X - h)_+ (Y - k)_+].
# Every continuous piecewise-linear phi is a line plus ramps (z - a)_+, and its Gaussian kernels are
# sums of L, R and one-dimensional normal tails at the kinks (HardTanh, ClippedReLU below).

_BVN_SWITCH = 0.925  # |r| at and above which L uses the near-singular expansion
_BVN_T, _BVN_W = gauss_legendre_unit(20)  # theta in [0, arcsin r]
_BVN_X, _BVN_V = gauss_legendre_unit(16)  # x = sqrt(1 - t^2) in [0, sqrt(1 - r^2)]
_BVN_COST = len(_BVN_T) + len(_BVN_X)  # integrand evaluations per L
# standardised thresholds are capped here: a normal tail beyond 50 is below 1e-545, i.e. zero in
# float64, and the cap keeps h^2, h k finite when a variance is (near) zero
_THRESHOLD_CAP = 50.0
_TWO_PI = 2.0 * math.pi


def _normal_sf(x):
    return jsp_special.ndtr(-x)


def _normal_pdf(x):
    return jnp.exp(-0.5 * x * x) / math.sqrt(_TWO_PI)


def _bvn_upper(h, k, r, c):
    """L(h, k; r) = P(X > h, Y > k) for a standard normal pair of correlation r; c = sqrt(1 - r^2).

    c is passed in, computed from the covariance (`_standardised`), because 1 - r^2 rounds badly
    near |r| = 1. Absolute error <= 3e-16 (measured against two independent 30-digit mpmath
    integrals on 630 cases: thresholds h, k in [-2, 10] and 50, r in [-1, 1] with +-1,
    +-(1 - 1e-10), +-0.925). Values far below 1e-16 carry that absolute error, not a relative one.

    |r| < 0.925: Sheppard's formula in the Drezner-Wesolowsky form,
        L = Phi(-h) Phi(-k) + (1/2pi) int_0^{arcsin r} exp(-(h^2 - 2hk sin t + k^2)/(2 cos^2 t)) dt,
    20-point Gauss-Legendre.
    |r| >= 0.925 (the form of Genz 2004, Stat. Comput. 14, 251, for r > 0; r < 0 by Y -> -Y):
        L(h, k; r) = Phi(-max(h, k)) - J,   J = int_r^1 phi_2(h, k; t) dt
                   = (1/2pi) int_0^a exp(-(b^2/x^2 + hk)/2) B(x) dx,
    with x = sqrt(1 - t^2), a = c, b = |h - k| and B(x) = exp(-hk x^2/(2(1 + t)^2))/t. The boundary
    layer exp(-b^2/(2x^2)), sharp when a variance pair is nearly collinear with equal standardised
    thresholds, is integrated exactly against the series B = 1 + c1 x^2 + c2 x^4 + O(x^6),
    c1 = (4 - hk)/8, c2 = (4 - hk)(12 - hk)/128 (closed forms I_0, I_1, I_2 below); the O(x^6)
    remainder is smooth enough for 16-point Gauss-Legendre. Exact at r = +-1 (J = 0).
    """
    near = jnp.abs(r) >= _BVN_SWITCH
    hh, kk_ = h[..., None], k[..., None]
    # |r| < 0.925 (placeholders elsewhere keep the unused branch finite)
    theta_max = jnp.arctan2(jnp.where(near, 0.0, r), jnp.where(near, 1.0, c))
    theta = theta_max[..., None] * jnp.asarray(_BVN_T)
    sin, cos = jnp.sin(theta), jnp.cos(theta)
    exponent = (hh * hh + kk_ * kk_ - 2.0 * hh * kk_ * sin) / (2.0 * cos * cos)
    far_value = _normal_sf(h) * _normal_sf(k) + theta_max * jnp.sum(
        jnp.asarray(_BVN_W) * jnp.exp(-exponent), axis=-1
    ) / _TWO_PI
    # |r| >= 0.925, in terms of (h, sign(r) k) and |r|
    sign = jnp.where(r < 0, -1.0, 1.0)
    k1 = sign * k
    a = jnp.where(near, c, 0.3)
    positive = a > 0
    a = jnp.where(positive, a, 1.0)
    hk = h * k1
    b = jnp.abs(h - k1)
    ratio = b / a
    # I_n = int_0^a x^(2n) exp(-(b^2/x^2 + hk)/2) dx by the recurrence
    # I_n = (a^(2n+1) e - b^2 I_(n-1))/(2n + 1), e = exp(-(b^2/a^2 + hk)/2)
    e = jnp.exp(-(ratio * ratio + hk) / 2.0)
    i0 = a * e - b * math.sqrt(_TWO_PI) * jnp.exp(jsp_special.log_ndtr(-ratio) - hk / 2.0)
    i1 = (a**3 * e - b * b * i0) / 3.0
    i2 = (a**5 * e - b * b * i1) / 5.0
    c1 = (4.0 - hk) / 8.0
    c2 = (4.0 - hk) * (12.0 - hk) / 128.0
    x = a[..., None] * jnp.asarray(_BVN_X)
    xs = x * x
    t = jnp.sqrt(1.0 - xs)
    b_, hk_ = b[..., None], hk[..., None]
    full = jnp.exp(-(b_ * b_ + 2.0 * hk_ * xs / (1.0 + t)) / (2.0 * xs)) / t
    series = jnp.exp(-(b_ * b_ / xs + hk_) / 2.0) * (
        1.0 + xs * (c1[..., None] + c2[..., None] * xs)
    )
    remainder = a * jnp.sum(jnp.asarray(_BVN_V) * (full - series), axis=-1)
    j = jnp.where(positive, (i0 + c1 * i1 + c2 * i2 + remainder) / _TWO_PI, 0.0)
    top = _normal_sf(jnp.maximum(h, k1))
    near_value = jnp.where(r < 0, _normal_sf(h) - top + j, top - j)
    return jnp.where(near, near_value, far_value)


def _quotient(numerator, c):
    """numerator / c for c >= 0, its limit (0 or +-1e30) at c = 0, capped at +-1e30."""
    q = numerator / jnp.where(c > 0, c, 1.0)
    q = jnp.where(c > 0, q, jnp.sign(numerator) * 1e30)
    return jnp.clip(q, -1e30, 1e30)


def _ramp_moment(h, k, r, c, c_plus, lower):
    """R(h, k; r) = E[(X - h)_+ (Y - k)_+], given c = sqrt(1 - r^2), c_plus = c/(1 + |r|) and
    lower = L(h, k; r):

        R = (r + hk) L + c phi(h) phi(m_k) - k phi(h) Phi(-m_k) - h phi(k) Phi(-m_h),
        m_k = (k - r h)/c,   m_h = (h - r k)/c

    (Stein's lemma twice). m_k is evaluated as (k - sign(r) h)/c + sign(r) h c/(1 + |r|), which is
    (k - r h)/c without its cancellation near |r| = 1 and has the right limit at c = 0.
    """
    sign = jnp.where(r < 0, -1.0, 1.0)
    m_k = _quotient(k - sign * h, c) + sign * h * c_plus
    m_h = _quotient(h - sign * k, c) + sign * k * c_plus
    pdf_h, pdf_k = _normal_pdf(h), _normal_pdf(k)
    return ((r + h * k) * lower + c * pdf_h * _normal_pdf(m_k)
            - k * pdf_h * _normal_sf(m_k) - h * pdf_k * _normal_sf(m_h))


def _standardised(s11, s12, s22):
    """(both, g, h, k, r, c, c_plus) for the piecewise-linear kernels: both = (s11 > 0 and
    s22 > 0), g = sqrt(s11 s22) (0 unless both), the standardised unit thresholds h = 1/sqrt(s11)
    and k = 1/sqrt(s22) (capped at _THRESHOLD_CAP, the cap where a variance is 0), r = s12/g,
    c = sqrt(1 - r^2) and c_plus = c/(1 + |r|) from `_sqrt_det` (r = 0, c = c_plus = 1 unless both).
    """
    pos1, pos2 = s11 > 0, s22 > 0
    both = pos1 & pos2
    g = jnp.sqrt(s11 * s22)
    g_safe = jnp.where(both & (g > 0), g, 1.0)
    sqrt_det = _sqrt_det(s11, s12, s22)
    r = jnp.where(both, jnp.clip(s12 / g_safe, -1.0, 1.0), 0.0)
    c = jnp.where(both, jnp.minimum(sqrt_det / g_safe, 1.0), 1.0)
    c_plus = jnp.where(both, sqrt_det / (g_safe + jnp.abs(s12)), 1.0)
    cap = _THRESHOLD_CAP
    h = jnp.where(pos1, jnp.minimum(jax.lax.rsqrt(jnp.where(pos1, s11, 1.0)), cap), cap)
    k = jnp.where(pos2, jnp.minimum(jax.lax.rsqrt(jnp.where(pos2, s22, 1.0)), cap), cap)
    return both, jnp.where(both, g, 0.0), h, k, r, c, c_plus


@jax.jit
def _hardtanh_kernels(s11, s12, s22):
    """(E[phi(u)phi(v)], E[phi'(u)phi'(v)]) for phi = clip(., -1, 1); see HardTanh."""
    both, g, h, k, r, c, c_plus = _standardised(s11, s12, s22)
    same = _bvn_upper(h, k, r, c)  # P(u > 1, v > 1) = P(u < -1, v < -1)
    opposite = _bvn_upper(h, k, -r, c)  # P(u > 1, v < -1) = P(u < -1, v > 1)
    inside = 1.0 - jsp_special.erfc(h / math.sqrt(2.0)) - jsp_special.erfc(k / math.sqrt(2.0))
    prob = inside + 2.0 * (same + opposite)
    ramps = _ramp_moment(h, k, r, c, c_plus, same) - _ramp_moment(h, k, -r, c, c_plus, opposite)
    kernel = s12 * inside + 2.0 * g * ramps
    return kernel, prob


@jax.jit
def _clipped_relu_kernels(s11, s12, s22):
    """(E[phi(u)phi(v)], E[phi'(u)phi'(v)]) for phi = clip(., 0, 1); see ClippedReLU."""
    both, g, h, k, r, c, c_plus = _standardised(s11, s12, s22)
    zero = jnp.zeros_like(h)
    l00 = 0.25 + jnp.arctan2(r, c) / _TWO_PI
    l0k = _bvn_upper(zero, k, r, c)
    lh0 = _bvn_upper(h, zero, r, c)
    lhk = _bvn_upper(h, k, r, c)
    r00 = r * l00 + c / _TWO_PI
    ramps = (
        r00
        - _ramp_moment(zero, k, r, c, c_plus, l0k)
        - _ramp_moment(h, zero, r, c, c_plus, lh0)
        + _ramp_moment(h, k, r, c, c_plus, lhk)
    )
    kernel = jnp.where(both, g * ramps, 0.0)
    prob = jnp.where(both, l00 - l0k - lh0 + lhk, 0.0)
    return kernel, prob


class HardTanh(Activation):
    """phi(z) = clip(z, -1, 1), phi'(z) = 1{|z| < 1}.

    Both kernels are closed forms in the bivariate normal orthant probability and ramp moment of
    a standard pair (X, Y) of correlation rho = s12/sqrt(s11 s22),

        L(h, k; rho) = P(X > h, Y > k),     R(h, k; rho) = E[(X - h)_+ (Y - k)_+]
                     = (rho + hk) L + c phi(h) phi(m_k) - k phi(h) Phi(-m_k) - h phi(k) Phi(-m_h),

    c = sqrt(1 - rho^2), m_k = (k - rho h)/c, m_h = (h - rho k)/c (Stein's lemma). Writing
    phi(z) = z - (z - 1)_+ + (-z - 1)_+, h = 1/sqrt(s11), k = 1/sqrt(s22), g = sqrt(s11 s22) and
    T = P(|u| > 1) + P(|v| > 1) = erfc(h/sqrt2) + erfc(k/sqrt2),

        E[phi'(u) phi'(v)] = P(|u| < 1, |v| < 1) = 1 - T + 2 [L(h, k; rho) + L(h, k; -rho)],
        E[phi(u) phi(v)]   = s12 (1 - T) + 2 g [R(h, k; rho) - R(h, k; -rho)]

    (E[u (v - 1)_+] = s12 P(v > 1) by Stein's lemma). L is Sheppard's one-dimensional integral by
    20-point Gauss-Legendre for |rho| < 0.925 and, above, the near-singular expansion of Genz
    (2004) with its boundary layer integrated in closed form (`_bvn_upper`), so nearly collinear
    inputs with nearly equal variances are as accurate as any others. Measured relative errors
    against independent references (tests/model/test_kernel_accuracy.py, variances up to 10,
    every correlation in [-1, 1], +-1 included): <= 3e-15 for the kernel and <= 1.1e-13 for the
    derivative kernel (absolute <= 2e-19 where the kernel vanishes); <= 7e-13 on a random sample of
    covariances with rho = +-(1 - 1e-9 .. 1e-1) and nearly equal variances, <= 3e-12 at variances
    1e-8 to 1e4. The 64-point Gauss-Legendre integral in arcsin(rho) used before was off by up to
    1.8e-4 (derivative kernel) and 1.8e-10 (kernel) at s11 = 9.31, s22 = 9.39, rho = -0.999999:
    its integrand has a boundary layer of width ~|1/sqrt(s11) - 1/sqrt(s22)| at |rho| -> 1. The
    2-D Gauss-Hermite default converges only algebraically because of the kinks (errors 1e-4 to
    1e-2 at 48 nodes).

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
        return 2 * _BVN_COST


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

    Kernels in closed form up to bivariate normal orthant probabilities L (see HardTanh for L, R
    and the accuracy): with phi(z) = z_+ - (z - 1)_+, g = sqrt(s11 s22), h = 1/sqrt(s11),
    k = 1/sqrt(s22), rho = s12/g,

        E[phi(u) phi(v)]   = g [R(0, 0) - R(0, k) - R(h, 0) + R(h, k)],
        E[phi'(u) phi'(v)] = P(0 < u < 1, 0 < v < 1) = L(0, 0) - L(0, k) - L(h, 0) + L(h, k),

    all at correlation rho, with L(0, 0) = 1/4 + arcsin(rho)/(2 pi) and R(0, 0) = rho L(0, 0) +
    sqrt(1 - rho^2)/(2 pi) (the arc-cosine kernel). Both are 0 where a variance is 0 (phi(0) =
    phi'(0) = 0). Measured against independent references (tests/model/test_kernel_accuracy.py,
    variances up to 10, every correlation, +-1 included): relative errors <= 6e-13 where a kernel
    exceeds 1e-3, absolute <= 2e-14 below (relative up to 3e-10 on the values ~1e-9 near
    rho = -1, which the rounding of the inputs limits); <= 3e-12 at variances 1e-8 to 1e4. They
    used the base class's 2-D Gauss-Hermite default before, which converges only algebraically at
    the kinks: relative errors up to 2.5e-1 (kernel) and 1 (derivative kernel, e.g. twice the
    value at s11 = s22 = 10, s12 = 0) at 48 nodes; that rule stays callable as
    `Activation.gaussian_kernel(ClippedReLU(), ...)`.

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

    def gaussian_kernel(self, s11, s12, s22):
        return _clipped_relu_kernels(*_covariance_args(s11, s12, s22))[0]

    def gaussian_derivative_kernel(self, s11, s12, s22):
        return _clipped_relu_kernels(*_covariance_args(s11, s12, s22))[1]

    def evaluation_cost(self) -> int:
        return 3 * _BVN_COST


#: The one activation registry: `Activation.name` -> class, for `activation_from_name`.
ACTIVATION_REGISTRY: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Erf, Tanh, HardTanh, ReLU, Quadratic, Identity, ClippedReLU)
}
#: The names a config file's `[model] activation` accepts (`meanfield run`): the registered
#: activations but the clipped ReLU, which is registered for the clover app and not offered there.
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
