"""Every registered activation's Gaussian kernels against independent high-precision references.

For (u, v) ~ N(0, [[s11, s12], [s12, s22]]) both kernels, E[phi(u) phi(v)] and E[phi'(u) phi'(v)],
of every activation in ACTIVATION_REGISTRY at its default settings must satisfy

    |library - reference| <= 1e-6 |reference| + 1e-12,

eagerly, under jax.jit and under jax.vmap. The absolute floor 1e-12 is for values that vanish
(odd kernels at s12 = 0, the ReLU-type kernels at rho = -1, where no relative error exists); it is
below anything a kernel matrix can resolve. The sample: variances from 0 and 1e-4 to 10, equal and
unequal (up to 1000:1), nearly equal (1 + 1e-4, the case where a one-dimensional integral in
arcsin(rho) has a boundary layer), every rho in {-1, -0.999999, -0.99, -0.5, 0, 0.5, 0.99,
0.999999, 1}, zero variances, and a seeded random sample of near-collinear covariances.

rho = +-1 exactly. For pairs whose product s11 s22 is the square of a float (SQUARE_PAIRS),
s12 = +-sqrt(s11 s22) is singular in exact arithmetic, and the reference is the exact value at
those float inputs. For the other pairs, s12 = +-fl(sqrt(fl(s11 s22))) is singular only up to
rounding, and a kernel with a square-root branch in 1 - rho^2 (ReLU's derivative kernel, the
clipped ReLU's) moves by ~1e-9 per ulp of s12 there: conditioning, not accuracy. There the
reference is the singular value (the covariance the caller meant) and the library must match it.

References (none uses the library's code):
- all but tanh: condition on u, v | u ~ N(beta u, c^2), c^2 = s22 - s12^2/s11 in exact rational
  arithmetic from the float inputs; the inner expectation E[g(m + c Z)] is a closed form (normal
  cdf/pdf for the piecewise-linear phi, erf(m/sqrt(1 + 2c^2)) for erf, moments for the
  polynomials), and the outer one-dimensional integral is scipy.integrate.quad at epsabs 1e-15,
  epsrel 1e-13, split at the kinks of phi(u) and around the transitions of the inner function
  (width c/|beta|). At c = 0 the inner function is phi' or phi itself.
- tanh: a 2-D composite Gauss-Legendre rule in (z1, z2) on [-9, 9]^2 (36 panels of 16 points):
  the integrand's poles lie >= pi/(2 sqrt(10)) ~ 0.5 from the real axis, so each panel of
  half-width 0.25 converges like 3.7^-32 ~ 1e-18; checked below against the same rule with
  60 panels and against 30-digit mpmath where the integral is one-dimensional (rho = 0, +-1).
- the scipy references themselves are cross-checked against the same one-dimensional reduction
  evaluated by mpmath at 30 digits on the hardest points.
"""

from __future__ import annotations

import fractions
import math

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from scipy import integrate, special

from meanfield._model.activations import ACTIVATION_REGISTRY

RTOL, ATOL = 1e-6, 1e-12
RHOS = (-1.0, -0.999999, -0.99, -0.5, 0.0, 0.5, 0.99, 0.999999, 1.0)
# s11 s22 is the square of a float (100/4^k, 36, 0.140625, 1, ...): +-sqrt is exactly singular
SQUARE_PAIRS = [
    (10.0, 10.0), (10.0, 2.5), (10.0, 0.625), (10.0, 0.009765625), (0.0390625, 10.0), (9.0, 4.0),
    (2.25, 0.0625), (1.0, 1.0), (0.25, 0.25), (1.0, 9.0), (0.015625, 0.015625),
]
OTHER_PAIRS = [
    (7.0, 7.0), (2.5, 2.5), (0.3, 0.3), (0.01, 0.01), (1e-4, 1e-4), (10.0, 0.5), (7.0, 1.3),
    (0.01, 10.0), (2.5, 0.3), (1e-4, 3.0), (4.0, 9.0), (9.31, 9.39), (1.0, 1.0001),
]
ZERO_VARIANCE = [(0.0, 0.0), (0.0, 10.0), (3.0, 0.0), (0.0, 1e-4), (1e-4, 0.0)]


def _grid():
    """(s11, s12, s22, singular): singular asks for the exactly singular reference."""
    points = []
    for pairs, square in ((SQUARE_PAIRS, True), (OTHER_PAIRS, False)):
        for s11, s22 in pairs:
            g = math.sqrt(s11 * s22)
            for rho in RHOS:
                s12 = g if rho == 1 else (-g if rho == -1 else rho * g)
                points.append((s11, s12, s22, abs(rho) == 1 and not square))
    points += [(a, 0.0, b, False) for a, b in ZERO_VARIANCE]
    # near-collinear, nearly equal or unequal variances, both signs: seeded random sample
    rng = np.random.default_rng(20261125)
    for _ in range(30):
        s11 = float(rng.uniform(0.05, 10.0))
        s22 = float(min(10.0, s11 * (1.0 + rng.choice([-1, 1]) * 10 ** rng.uniform(-8, -0.3))))
        rho = float(rng.choice([-1, 1]) * (1.0 - 10 ** rng.uniform(-7, -1)))
        points.append((s11, rho * math.sqrt(s11 * s22), s22, False))
    return points


POINTS = _grid()

# --------------------------------------------------------------------------------------------
# scipy references: one-dimensional reduction by conditioning on u


def _npdf(x):
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _relu_mean(m, c):  # E[(m + c Z)_+]
    return m * special.ndtr(m / c) + c * _npdf(m / c)


PHI = {
    ("erf", 0): special.erf,
    ("erf", 1): lambda x: 2.0 / math.sqrt(math.pi) * math.exp(-x * x),
    ("relu", 0): lambda x: max(x, 0.0),
    ("relu", 1): lambda x: float(x > 0),
    ("hardtanh", 0): lambda x: min(max(x, -1.0), 1.0),
    ("hardtanh", 1): lambda x: float(abs(x) < 1),
    ("clipped_relu", 0): lambda x: min(max(x, 0.0), 1.0),
    ("clipped_relu", 1): lambda x: float(0 < x < 1),
    ("quadratic", 0): lambda x: x * x,
    ("quadratic", 1): lambda x: 2.0 * x,
    ("identity", 0): lambda x: x,
    ("identity", 1): lambda x: 1.0,
}
# E[g(m + c Z)] for c > 0
INNER = {
    ("erf", 0): lambda m, c: special.erf(m / math.sqrt(1 + 2 * c * c)),
    ("erf", 1): lambda m, c: (2 / math.sqrt(math.pi) * math.exp(-m * m / (1 + 2 * c * c))
                              / math.sqrt(1 + 2 * c * c)),
    ("relu", 0): _relu_mean,
    ("relu", 1): lambda m, c: special.ndtr(m / c),
    ("hardtanh", 0): lambda m, c: _relu_mean(m + 1, c) - _relu_mean(m - 1, c) - 1,
    ("hardtanh", 1): lambda m, c: special.ndtr((1 - m) / c) - special.ndtr((-1 - m) / c),
    ("clipped_relu", 0): lambda m, c: _relu_mean(m, c) - _relu_mean(m - 1, c),
    ("clipped_relu", 1): lambda m, c: special.ndtr((1 - m) / c) - special.ndtr(-m / c),
    ("quadratic", 0): lambda m, c: m * m + c * c,
    ("quadratic", 1): lambda m, c: 2 * m,
    ("identity", 0): lambda m, c: m,
    ("identity", 1): lambda m, c: 1.0,
}
KINKS = {"erf": [], "relu": [0.0], "hardtanh": [-1.0, 1.0], "clipped_relu": [0.0, 1.0],
         "quadratic": [], "identity": [], "tanh": []}
ZMAX = 13.0


def _conditional_std(s11, s12, s22, singular):
    """c = sqrt(s22 - s12^2/s11) of the float inputs, exactly (0 if singular or not positive)."""
    c2 = fractions.Fraction(s22) - fractions.Fraction(s12) ** 2 / fractions.Fraction(s11)
    return 0.0 if singular or c2 <= 0 else math.sqrt(float(c2))


def _quad(f, points):
    edges = sorted({-ZMAX, ZMAX, *(p for p in points if abs(p) < ZMAX)})
    return sum(integrate.quad(f, a, b, epsabs=1e-15, epsrel=1e-13, limit=400)[0]
               for a, b in zip(edges[:-1], edges[1:]))


def _breakpoints(name, sd, b, c):
    """Kinks of phi(sd z), and the transitions of the inner mean at b z = kink (width c/|b|)."""
    points = [0.0] + [k / sd for k in KINKS[name]]
    if b != 0:
        for k in KINKS[name]:
            z0, w = k / b, c / abs(b)
            points += [z0] + ([z0 + j * w for j in (-64, -16, -4, -1, 1, 4, 16, 64)] if w else [])
    return points


def scipy_reference(name, d, s11, s12, s22, singular=False):
    f = PHI[name, d]
    if s11 == 0 and s22 == 0:
        return f(0.0) ** 2
    if s11 == 0:
        s11, s22 = s22, s11
    sd = math.sqrt(s11)
    if s22 == 0:  # v = 0 a.s.
        return f(0.0) * _quad(lambda z: f(sd * z) * _npdf(z), _breakpoints(name, sd, 0.0, 0.0))
    c = _conditional_std(s11, s12, s22, singular)
    b = s12 / sd  # v = b z + c Z', z = u/sd
    inner = (lambda m: f(m)) if c == 0 else (lambda m: INNER[name, d](m, c))
    return _quad(lambda z: f(sd * z) * inner(b * z) * _npdf(z), _breakpoints(name, sd, b, c))


# --------------------------------------------------------------------------------------------
# tanh: 2-D composite Gauss-Legendre


def _composite_rule(panels, zmax=9.0):
    t, w = np.polynomial.legendre.leggauss(16)
    edges = np.linspace(-zmax, zmax, panels + 1)
    half = (np.diff(edges) / 2)[:, None]
    mid = ((edges[:-1] + edges[1:]) / 2)[:, None]
    z = (mid + half * t).ravel()
    return z, (half * w).ravel() * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def tanh_reference(d, s11, s12, s22, singular=False, panels=36):
    fn = (lambda x: 1.0 - np.tanh(x) ** 2) if d else np.tanh
    if s11 == 0 and s22 == 0:
        return float(fn(0.0)) ** 2
    if s11 == 0:
        s11, s22 = s22, s11
    z, w = _composite_rule(panels)
    sd = math.sqrt(s11)
    if s22 == 0:
        return float(fn(0.0)) * float(np.sum(w * fn(sd * z)))
    c = _conditional_std(s11, s12, s22, singular)
    b = s12 / sd
    inner = fn(b * z[:, None] + c * z[None, :]) @ w
    return float(np.sum(w * fn(sd * z) * inner))


# --------------------------------------------------------------------------------------------
# mpmath at 30 digits: the same one-dimensional reductions, independent of scipy and float64


def mp_reference(name, d, s11, s12, s22):
    """30-digit value; tanh only where the integral is one-dimensional (rho = +-1 or 0)."""
    with mpmath.workdps(30):
        s11, s12, s22 = (mpmath.mpf(x) for x in (s11, s12, s22))
        if name == "tanh":
            f = (lambda x: 1 - mpmath.tanh(x) ** 2) if d else mpmath.tanh
        else:
            f = {
                ("erf", 0): mpmath.erf,
                ("erf", 1): lambda x: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x),
                ("relu", 0): lambda x: max(x, 0), ("relu", 1): lambda x: mpmath.mpf(x > 0),
                ("hardtanh", 0): lambda x: min(max(x, -1), 1),
                ("hardtanh", 1): lambda x: mpmath.mpf(abs(x) < 1),
                ("clipped_relu", 0): lambda x: min(max(x, 0), 1),
                ("clipped_relu", 1): lambda x: mpmath.mpf(0 < x < 1),
            }[name, d]
        sd = mpmath.sqrt(s11)
        c2 = s22 - s12 * s12 / s11
        b = s12 / sd
        kinks = [mpmath.mpf(k) for k in KINKS[name]]
        points = [mpmath.mpf(0)] + [k / sd for k in kinks]

        if c2 <= 0:  # singular: v = b z
            points += [k / b for k in kinks] if b else []
            integrand = lambda z: f(sd * z) * f(b * z) * mpmath.npdf(z)
        elif s12 == 0 and name == "tanh":  # independent: a product of 1-D integrals
            sd2 = mpmath.sqrt(s22)
            line = [-mpmath.inf, 0, mpmath.inf]
            return (mpmath.quad(lambda z: f(sd * z) * mpmath.npdf(z), line)
                    * mpmath.quad(lambda z: f(sd2 * z) * mpmath.npdf(z), line))
        else:
            c = mpmath.sqrt(c2)
            ncdf, npdf = mpmath.ncdf, mpmath.npdf
            relu_mean = lambda m: m * ncdf(m / c) + c * npdf(m / c)
            inner = {
                ("erf", 0): lambda m: mpmath.erf(m / mpmath.sqrt(1 + 2 * c2)),
                ("erf", 1): lambda m: (2 / mpmath.sqrt(mpmath.pi)
                                       * mpmath.exp(-m * m / (1 + 2 * c2))
                                       / mpmath.sqrt(1 + 2 * c2)),
                ("relu", 0): relu_mean, ("relu", 1): lambda m: ncdf(m / c),
                ("hardtanh", 0): lambda m: relu_mean(m + 1) - relu_mean(m - 1) - 1,
                ("hardtanh", 1): lambda m: ncdf((1 - m) / c) - ncdf((-1 - m) / c),
                ("clipped_relu", 0): lambda m: relu_mean(m) - relu_mean(m - 1),
                ("clipped_relu", 1): lambda m: ncdf((1 - m) / c) - ncdf(-m / c),
            }[name, d]
            for k in kinks if b else []:
                z0, w = k / b, c / abs(b)
                points += [z0] + [z0 + j * w for j in (-64, -16, -4, -1, 1, 4, 16, 64)]
            integrand = lambda z: f(sd * z) * inner(b * z) * mpmath.npdf(z)
        edges = [-mpmath.inf] + sorted(set(p for p in points if abs(p) < 40)) + [mpmath.inf]
        return mpmath.quad(integrand, edges)


# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def references():
    """{(name, d): array over POINTS}, computed once for the module."""
    out = {}
    for name in ACTIVATION_REGISTRY:
        for d in (0, 1):
            if name == "tanh":
                values = [tanh_reference(d, *p) for p in POINTS]
            else:
                values = [scipy_reference(name, d, *p) for p in POINTS]
            out[name, d] = np.array(values)
    return out


def _arrays():
    return tuple(jnp.asarray(np.array(col, dtype=np.float64)) for col in list(zip(*POINTS))[:3])


def _check(name, method, got, ref):
    got = np.asarray(got)
    assert got.shape == ref.shape and np.all(np.isfinite(got)), (name, method)
    err = np.abs(got - ref)
    bad = np.flatnonzero(err > RTOL * np.abs(ref) + ATOL)
    worst = [(POINTS[i][:3], float(ref[i]), float(got[i])) for i in bad[:5]]
    assert bad.size == 0, f"{name}.{method}: {bad.size} of {ref.size} points off, e.g. {worst}"
    return float(np.max(err / np.maximum(np.abs(ref), ATOL / RTOL)))


@pytest.mark.parametrize("name", list(ACTIVATION_REGISTRY))
def test_kernels_match_high_precision_references(name, references):
    act = ACTIVATION_REGISTRY[name]()  # default settings
    s11, s12, s22 = _arrays()
    for d, method in enumerate(("gaussian_kernel", "gaussian_derivative_kernel")):
        fn = getattr(act, method)
        ref = references[name, d]
        _check(name, method, fn(s11, s12, s22), ref)
        _check(name, method + " (jit)", jax.jit(fn)(s11, s12, s22), ref)
        _check(name, method + " (vmap)", jax.vmap(fn)(s11, s12, s22), ref)


def test_tanh_reference_is_converged(references):
    """The composite rule agrees with itself at 60 panels, and with 30-digit mpmath where the
    integral is one-dimensional (rho = +-1 on exactly singular pairs, rho = 0, zero variance)."""
    picks = [i for i, p in enumerate(POINTS) if i % 7 == 0]
    for d in (0, 1):
        for i in picks:
            assert tanh_reference(d, *POINTS[i], panels=60) == pytest.approx(
                references["tanh", d][i], rel=1e-13, abs=1e-15)
    one_dimensional = [(10.0, 10.0, 10.0), (10.0, -10.0, 10.0), (10.0, -5.0, 2.5),
                       (0.0390625, 0.625, 10.0), (1.0, 1.0, 1.0), (10.0, 0.0, 10.0),
                       (0.01, 0.0, 10.0)]
    for d in (0, 1):
        for p in one_dimensional:
            exact = float(mp_reference("tanh", d, *p))
            assert tanh_reference(d, *p) == pytest.approx(exact, rel=1e-13, abs=1e-15), (d, p)


HARD = [  # exactly singular, near-collinear with nearly equal and with unequal variances
    (10.0, -10.0, 10.0), (9.0, 6.0, 4.0), (10.0, -0.3125, 0.009765625),
    (9.31, 0.999999 * math.sqrt(9.31 * 9.39), 9.39), (1.0, -0.999999 * math.sqrt(1.0001), 1.0001),
    (0.01, 0.99 * math.sqrt(0.1), 10.0), (2.5, -0.5 * math.sqrt(0.75), 0.3),
]


@pytest.mark.parametrize("name", ["erf", "relu", "hardtanh", "clipped_relu"])
def test_scipy_references_agree_with_mpmath(name):
    for d in (0, 1):
        for p in HARD:
            exact = float(mp_reference(name, d, *p))
            value = scipy_reference(name, d, *p)
            assert value == pytest.approx(exact, rel=1e-11, abs=1e-14), (d, p)


def test_cost_stays_below_the_old_gauss_hermite_default():
    """evaluation_cost() (integrand evaluations per entry, used to chunk kernel matrices) of every
    registered activation at its defaults is at most the 48^2 = 2304 of the 2-D rule it replaced."""
    for name, cls in ACTIVATION_REGISTRY.items():
        cost = cls().evaluation_cost()
        assert 1 <= cost <= 48**2, (name, cost)
