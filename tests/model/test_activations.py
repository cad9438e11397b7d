"""Activations: phi', closed-form Gaussian kernels against quadrature, references, Monte Carlo."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

from meanfield import (
    ACTIVATION_NAMES,
    Activation,
    ClippedReLU,
    Erf,
    HardTanh,
    Identity,
    Quadratic,
    ReLU,
    Tanh,
    activation_from_name,
)

ALL = [Erf(), Tanh(), HardTanh(), ReLU(), Quadratic(), Identity(), ClippedReLU()]
IDS = [a.name for a in ALL]
SMOOTH_CLOSED = [Erf(), Quadratic(), Identity()]
KINKED = [HardTanh(), ReLU()]
COVS = [(1.0, 0.3, 2.0), (0.5, -0.4, 0.7), (0.3, 0.3, 0.3), (2.0, -1.2, 1.5)]


def _covs_array(covs):
    return tuple(jnp.array(c) for c in zip(*covs))


@pytest.mark.parametrize("act", ALL, ids=IDS)
def test_derivative_equals_autodiff_away_from_kinks(act):
    z = np.linspace(-2.9, 2.9, 59)
    z = z[(np.abs(z) > 0.05) & (np.abs(np.abs(z) - 1.0) > 0.05)]  # kinks of relu / hardtanh
    z = jnp.asarray(z)
    auto = jax.vmap(jax.grad(act))(z)
    np.testing.assert_allclose(act.derivative(z), auto, rtol=1e-12, atol=1e-14)
    # and the function is elementwise and jit-compatible
    np.testing.assert_allclose(jax.jit(act)(z), jnp.stack([act(zi) for zi in z]), rtol=1e-14)


@pytest.mark.parametrize("act", SMOOTH_CLOSED, ids=[a.name for a in SMOOTH_CLOSED])
def test_smooth_closed_forms_equal_quadrature_default(act):
    s11, s12, s22 = _covs_array(COVS)
    np.testing.assert_allclose(
        act.gaussian_kernel(s11, s12, s22),
        Activation.gaussian_kernel(act, s11, s12, s22),
        atol=1e-8,
    )
    np.testing.assert_allclose(
        act.gaussian_derivative_kernel(s11, s12, s22),
        Activation.gaussian_derivative_kernel(act, s11, s12, s22),
        atol=1e-8,
    )


@pytest.mark.parametrize("act", KINKED, ids=[a.name for a in KINKED])
def test_kinked_closed_forms_near_quadrature_default(act):
    # Gauss-Hermite converges only algebraically for kinked phi (and phi' jumps), so the default
    # rule is a loose check here (measured errors <= 2.5e-2 at 96 nodes); the tight checks are the
    # adaptive references and Monte Carlo below.
    fine = type(act)(n_nodes=96)
    s11, s12, s22 = _covs_array(COVS)
    np.testing.assert_allclose(
        act.gaussian_kernel(s11, s12, s22),
        Activation.gaussian_kernel(fine, s11, s12, s22),
        atol=3e-3,
    )
    np.testing.assert_allclose(
        act.gaussian_derivative_kernel(s11, s12, s22),
        Activation.gaussian_derivative_kernel(fine, s11, s12, s22),
        atol=3e-2,
    )


def _rectangle_probability(cov, lo, hi):
    mvn = stats.multivariate_normal(mean=[0.0, 0.0], cov=cov)
    return (
        mvn.cdf([hi, hi]) - mvn.cdf([lo, hi]) - mvn.cdf([hi, lo]) + mvn.cdf([lo, lo])
    )


def _nested(outer_phi, inner_mean, s11, s12, s22, breaks):
    """E[phi(u) E[phi(v) | u]] by adaptive quadrature; inner_mean(m, c) = E[phi(m + c Z)]."""
    beta = s12 / s11
    c = math.sqrt(s22 - s12 * s12 / s11)
    sd = math.sqrt(s11)

    def f(u):
        return outer_phi(u) * inner_mean(beta * u, c) * stats.norm.pdf(u, scale=sd)

    edges = [-np.inf, *breaks, np.inf]
    return sum(
        integrate.quad(f, lo, hi, epsabs=1e-13, epsrel=1e-12, limit=200)[0]
        for lo, hi in zip(edges[:-1], edges[1:])
    )


def _relu_mean(m, c):
    return m * special.ndtr(m / c) + c * stats.norm.pdf(m / c)


def _clip_mean(m, c):
    lo, hi = (-1.0 - m) / c, (1.0 - m) / c
    inside = m * (special.ndtr(hi) - special.ndtr(lo))
    inside = inside + c * (stats.norm.pdf(lo) - stats.norm.pdf(hi))
    return -special.ndtr(lo) + special.ndtr(-hi) + inside


REF_COVS = [(1.0, 0.3, 2.0), (0.5, -0.4, 0.7), (2.0, -1.2, 1.5), (0.3, 0.295, 0.3)]


@pytest.mark.parametrize("cov", REF_COVS)
def test_relu_and_hardtanh_against_adaptive_references(cov):
    s11, s12, s22 = cov
    relu, ht = ReLU(), HardTanh()
    ref = _nested(lambda u: max(u, 0.0), _relu_mean, s11, s12, s22, [0.0])
    assert float(relu.gaussian_kernel(*cov)) == pytest.approx(ref, abs=1e-10)
    cov_m = [[s11, s12], [s12, s22]]
    p_pos = stats.multivariate_normal(mean=[0.0, 0.0], cov=cov_m).cdf([0.0, 0.0])  # P(u<0, v<0)
    assert float(relu.gaussian_derivative_kernel(*cov)) == pytest.approx(p_pos, abs=1e-9)

    ref = _nested(lambda u: min(max(u, -1.0), 1.0), _clip_mean, s11, s12, s22, [-1.0, 1.0])
    assert float(ht.gaussian_kernel(*cov)) == pytest.approx(ref, abs=1e-10)
    assert float(ht.gaussian_derivative_kernel(*cov)) == pytest.approx(
        _rectangle_probability(cov_m, -1.0, 1.0), abs=1e-9
    )


def test_tanh_scale_mixture_against_the_gauss_hermite_default_at_moderate_variance():
    # the base class's Gauss-Hermite rule at 160 nodes is converged to <= 1e-8 relative at
    # variances <= 2 (table in Tanh's docstring), and is an independent check of the scale mixture
    s11, s12, s22 = _covs_array(COVS)
    fine = Tanh(n_nodes=160)
    for method in ("gaussian_kernel", "gaussian_derivative_kernel"):
        np.testing.assert_allclose(
            getattr(Tanh(), method)(s11, s12, s22),
            getattr(Activation, method)(fine, s11, s12, s22),
            rtol=1e-8, atol=1e-12,
        )
    # n_nodes sets only that default: Tanh's own kernels do not depend on it
    np.testing.assert_array_equal(
        fine.gaussian_kernel(s11, s12, s22), Tanh().gaussian_kernel(s11, s12, s22)
    )


def _mc_sample(cov, n, seed):
    s11, s12, s22 = cov
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((2, n))
    l11 = math.sqrt(s11)
    l21 = s12 / l11
    l22 = math.sqrt(max(s22 - l21 * l21, 0.0))
    return jnp.asarray(l11 * z[0]), jnp.asarray(l21 * z[0] + l22 * z[1])


# the last two are singular (|rho| = 1), chosen exactly representable so that det = 0 in floats
MC_COVS = [(1.0, 0.3, 2.0), (0.5, -0.4, 0.7), (1.5, 1.5, 1.5), (1.0, -1.5, 2.25)]


@pytest.mark.parametrize("act", ALL, ids=IDS)
def test_gaussian_kernels_match_monte_carlo(act):
    n = 10**6
    for k, cov in enumerate(MC_COVS):
        u, v = _mc_sample(cov, n, seed=k)
        for prod, method in (
            (act(u) * act(v), act.gaussian_kernel),
            (act.derivative(u) * act.derivative(v), act.gaussian_derivative_kernel),
        ):
            prod = np.asarray(prod)
            mean, se = prod.mean(), prod.std(ddof=1) / math.sqrt(n)
            value = float(method(*cov))
            info = (act.name, method.__name__, cov, value, mean, se)
            assert abs(value - mean) <= 5.0 * se + 1e-9, info


@pytest.mark.parametrize("act", ALL, ids=IDS)
def test_degenerate_covariances_are_finite(act):
    s11 = jnp.array([0.0, 0.0, 1.0, 2.0, 2.0, 0.7])
    s12 = jnp.array([0.0, 0.0, 0.0, 2.0, -2.0, 0.7 * (1 + 1e-15)])
    s22 = jnp.array([0.0, 1.0, 0.0, 2.0, 2.0, 0.7])
    for method in (act.gaussian_kernel, act.gaussian_derivative_kernel):
        out = method(s11, s12, s22)
        assert out.shape == (6,)
        assert np.all(np.isfinite(out)), (act.name, method.__name__, out)
    # u = 0 a.s. when s11 = 0: E[phi(u)phi(v)] = phi(0) E[phi(v)], E[phi'phi'] = phi'(0) E[phi'(v)]
    v = jnp.asarray(np.random.default_rng(0).standard_normal(400_000))
    assert float(act.gaussian_kernel(0.0, 0.0, 1.0)) == pytest.approx(
        float(act(0.0) * jnp.mean(act(v))), abs=5e-3
    )
    assert float(act.gaussian_derivative_kernel(0.0, 0.0, 1.0)) == pytest.approx(
        float(act.derivative(0.0) * jnp.mean(act.derivative(v))), abs=5e-3
    )


def test_known_degenerate_values():
    # E[relu(u)^2] = s/2
    assert float(ReLU().gaussian_kernel(2.0, 2.0, 2.0)) == pytest.approx(1.0, abs=1e-12)
    assert float(ReLU().gaussian_derivative_kernel(2.0, -2.0, 2.0)) == pytest.approx(0.0, abs=1e-12)
    assert float(HardTanh().gaussian_derivative_kernel(2.0, 2.0, 2.0)) == pytest.approx(
        special.erf(0.5), abs=1e-12
    )
    assert float(HardTanh().gaussian_derivative_kernel(0.0, 0.0, 0.5)) == pytest.approx(
        special.erf(1.0), abs=1e-14
    )
    assert float(Erf().gaussian_kernel(0.5, 0.5, 0.5)) == pytest.approx(
        2.0 / math.pi * math.asin(0.5), abs=1e-14
    )


@pytest.mark.parametrize("act", ALL, ids=IDS)
def test_kernels_broadcast_and_jit(act):
    s11 = jnp.array([[1.0], [0.5]])
    s12 = jnp.array([[0.2, -0.1, 0.0]])
    s22 = jnp.array(0.9)
    eager = act.gaussian_kernel(s11, s12, s22)
    assert eager.shape == (2, 3)
    assert eager.dtype == jnp.float64
    jitted = jax.jit(lambda a, b, c: act.gaussian_derivative_kernel(a, b, c))(s11, s12, s22)
    np.testing.assert_allclose(jitted, act.gaussian_derivative_kernel(s11, s12, s22), rtol=1e-13)
    np.testing.assert_allclose(
        eager[1, 0], act.gaussian_kernel(0.5, 0.2, 0.9), rtol=1e-13, atol=1e-15
    )


def test_activation_from_name_and_names():
    assert set(ACTIVATION_NAMES) == {"erf", "tanh", "hardtanh", "relu", "quadratic", "identity"}
    for name in ACTIVATION_NAMES:
        act = activation_from_name(name)
        assert isinstance(act, Activation)
        assert act.name == name
    assert isinstance(activation_from_name(" ReLU "), ReLU)
    allowed = "erf, tanh, hardtanh, relu, quadratic, identity"
    with pytest.raises(ValueError, match=rf"'sigmoid'.*{allowed}"):
        activation_from_name("sigmoid")
    with pytest.raises(ValueError, match="unknown activation"):
        activation_from_name(3)


def test_activations_are_immutable_and_validated():
    act = Tanh()
    with pytest.raises(dataclasses.FrozenInstanceError):
        act.n_nodes = 3
    with pytest.raises(ValueError, match="n_nodes"):
        Tanh(n_nodes=0)
    with pytest.raises(TypeError):
        Activation()  # abstract


def test_clipped_relu_is_in_the_one_registry():
    """ClippedReLU is registered (the clover app takes its names from the registry) but is not one
    of the config-file ACTIVATION_NAMES; its kernels match 1-D integrals at s12 = 0 and
    s12 = s11 = s22 (u = v), computed independently with scipy.integrate.quad."""
    import meanfield as mf
    from meanfield._apps.clover import ACTIVATIONS, make_activation
    from meanfield._model.activations import ACTIVATION_REGISTRY

    assert ACTIVATION_REGISTRY["clipped_relu"] is mf.ClippedReLU
    assert set(ACTIVATIONS) == set(ACTIVATION_NAMES) | {"clipped_relu"}
    assert "clipped_relu" not in ACTIVATION_NAMES
    assert isinstance(activation_from_name("clipped_relu"), mf.ClippedReLU)
    assert isinstance(make_activation("clipped_relu"), mf.ClippedReLU)
    with pytest.raises(ValueError, match=r"'sigmoid'.*clipped_relu"):
        make_activation("sigmoid")
    # closed forms (orthant probabilities), exact to rounding; at s12 = 0 the kernel factorises
    # and at s12 = s11 = s22 (u = v) it is a one-dimensional integral
    phi = mf.ClippedReLU()
    for s in (0.5, 1.7, 3.0, 10.0):
        density = lambda u: stats.norm.pdf(u, scale=math.sqrt(s))
        quad = lambda f, a, b: integrate.quad(f, a, b, epsabs=1e-14, epsrel=1e-13)[0]
        mean = quad(lambda u: u * density(u), 0, 1) + quad(density, 1, np.inf)
        second = quad(lambda u: u * u * density(u), 0, 1) + quad(density, 1, np.inf)
        slope = quad(density, 0, 1)                 # E[phi'] = P(0 < u < 1)
        assert float(phi.gaussian_kernel(s, 0.0, s)) == pytest.approx(mean**2, rel=1e-11)
        assert float(phi.gaussian_kernel(s, s, s)) == pytest.approx(second, rel=1e-11)
        assert float(phi.gaussian_derivative_kernel(s, s, s)) == pytest.approx(slope, rel=1e-11)
        assert float(phi.gaussian_derivative_kernel(s, 0.0, s)) == pytest.approx(
            slope**2, rel=1e-11
        )
        assert float(phi.gaussian_kernel(s, -s, s)) == pytest.approx(0.0, abs=1e-15)  # v = -u


def test_relu_and_hardtanh_kernels_are_exact_on_the_diagonal_under_jit():
    """A jitted kernel matrix of x.x^T has s11 = s22 = s12 on its diagonal: theta = 0 exactly, so
    E[phi'(u)^2] = 1/2 and E[phi(u)^2] = s/2 for ReLU to the last ulp (a fused multiply-add in
    s11 s22 - s12^2 used to leave sqrt(1e-15 s^2) there, a 1.5e-9 error); off the diagonal the
    square root of the determinant matches its exact value from rational arithmetic to its
    conditioning."""
    import fractions

    import jax

    from meanfield._model.activations import _sqrt_det

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((50, 3)))
    s = jnp.sum(x * x, axis=1)

    @jax.jit
    def kernels(x):
        g = x @ x.T
        d = jnp.diag(g)
        return (ReLU().gaussian_kernel(d[:, None], g, d[None, :]),
                ReLU().gaussian_derivative_kernel(d[:, None], g, d[None, :]))

    k, dk = kernels(x)
    np.testing.assert_allclose(np.diag(k), np.asarray(s) / 2, rtol=1e-15)
    assert np.all(np.diag(dk) == 0.5)
    # near-singular covariances: against the exact determinant of the float inputs
    for s11, s22, rho in [(1.7, 2.3, 1 - 1e-9), (1.7, 2.3, -(1 - 1e-12)), (4.0, 0.25, 0.3)]:
        s12 = rho * math.sqrt(s11 * s22)
        exact = (fractions.Fraction(s11) * fractions.Fraction(s22)
                 - fractions.Fraction(s12) ** 2)
        ref = math.sqrt(float(exact)) if exact > 0 else 0.0
        got = float(jax.jit(_sqrt_det)(s11, s12, s22))
        # the rounding of s11 s22 itself bounds any float evaluation: |error| <~ sqrt(ulp) g
        g = math.sqrt(s11 * s22)
        assert abs(got - ref) <= 3e-8 * g, (s11, s22, rho, got, ref)
