"""Two-layer NNGP / NTK kernels against wide random networks, and the GP posterior."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import meanfield._observables.kernels as kernels_module
from meanfield import (
    ClippedReLU,
    Erf,
    HardTanh,
    Identity,
    Quadratic,
    ReLU,
    Tanh,
    empirical_nngp_kernel,
    empirical_ntk_kernel,
    gp_posterior,
    nngp_kernel,
    ntk_kernel,
)

ALL = [Erf(), Tanh(), HardTanh(), ReLU(), Quadratic(), Identity(), ClippedReLU()]
IDS = [a.name for a in ALL]
SIGMA_W2 = 1.7
SIGMA_A2 = 0.6
D = 3
M = 200_000


@pytest.fixture(scope="module")
def inputs():
    rng = np.random.default_rng(1)
    x1 = jnp.asarray(rng.standard_normal((5, D)))
    x2 = jnp.asarray(rng.standard_normal((4, D)))
    return x1, x2


@pytest.fixture(scope="module")
def weights():
    rng = np.random.default_rng(2)
    w_hat = rng.standard_normal((M, D))
    a_hat = rng.standard_normal(M)
    return jnp.asarray(w_hat), jnp.asarray(a_hat)


@pytest.mark.parametrize("act", ALL, ids=IDS)
def test_nngp_matches_wide_random_network(act, inputs, weights):
    x1, x2 = inputs
    w = math.sqrt(SIGMA_W2 / D) * weights[0]
    for b in (None, x2):
        analytic = nngp_kernel(act, x1, b, sigma_w2=SIGMA_W2, sigma_a2=SIGMA_A2)
        emp, se = empirical_nngp_kernel(act, w, x1, b, sigma_a2=SIGMA_A2, return_stderr=True)
        assert analytic.shape == emp.shape == ((5, 5) if b is None else (5, 4))
        assert np.all(se > 0)
        z = np.abs(np.asarray(analytic - emp)) / np.asarray(se)
        assert z.max() < 5.0, (act.name, z.max())


def _finite_network_ntk(act, a_hat, w_hat, x):
    """NTK of f(x) = sqrt(sigma_a2/M) sum_i a^_i phi(sqrt(sigma_w2/d) w^_i . x) by autodiff.

    Gradients are taken with respect to the standardised parameters (a^, w^) ~ N(0, 1) (the NTK
    parameterisation). Returns Theta = sum_i c_i (one term per neuron) and its Monte-Carlo standard
    error sqrt(M) std_i(c_i).
    """
    m, d = w_hat.shape

    def f(params, xi):
        a, w = params
        return math.sqrt(SIGMA_A2 / m) * jnp.sum(a * act(math.sqrt(SIGMA_W2 / d) * (w @ xi)))

    ja, jw = jax.jit(jax.vmap(jax.grad(f), in_axes=(None, 0)))((a_hat, w_hat), x)  # (n,M), (n,M,d)
    contrib = ja[:, None, :] * ja[None, :, :] + jnp.einsum("xid,yid->xyi", jw, jw)  # (n, n, M)
    theta = jnp.sum(contrib, axis=-1)
    se = math.sqrt(m) * jnp.std(contrib, axis=-1, ddof=1)
    return theta, se


@pytest.mark.parametrize("act", ALL, ids=IDS)
def test_ntk_matches_autodiff_ntk_of_wide_network(act, inputs, weights):
    x1, _ = inputs
    w_hat, a_hat = weights
    theta_net, se_net = _finite_network_ntk(act, a_hat, w_hat, x1)
    analytic = ntk_kernel(act, x1, sigma_w2=SIGMA_W2, sigma_a2=SIGMA_A2)
    z = np.abs(np.asarray(analytic - theta_net)) / np.asarray(se_net)
    assert z.max() < 5.0, (act.name, z.max())

    # the formula-based empirical NTK against the analytic one
    w = math.sqrt(SIGMA_W2 / D) * w_hat
    emp, se = empirical_ntk_kernel(
        act, w, x1, sigma_w2=SIGMA_W2, sigma_a2=SIGMA_A2, return_stderr=True
    )
    z = np.abs(np.asarray(analytic - emp)) / np.asarray(se)
    assert z.max() < 5.0, (act.name, z.max())


@pytest.mark.parametrize("act", ALL, ids=IDS)
def test_empirical_ntk_equals_autodiff_ntk_with_unit_readout(act, inputs, weights):
    # with a^_i^2 = 1 exactly, the autodiff NTK of the finite network IS the empirical formula
    x1, x2 = inputs
    x = jnp.concatenate([x1, x2])
    w_hat = weights[0][:5000]
    signs = jnp.where(weights[1][:5000] > 0, 1.0, -1.0)
    theta_net, _ = _finite_network_ntk(act, signs, w_hat, x)
    emp = empirical_ntk_kernel(
        act, math.sqrt(SIGMA_W2 / D) * w_hat, x, sigma_w2=SIGMA_W2, sigma_a2=SIGMA_A2
    )
    np.testing.assert_allclose(emp, theta_net, rtol=1e-10, atol=1e-12)


def test_closed_form_linear_kernels(inputs):
    x1, x2 = inputs
    gram = SIGMA_W2 / D * (x1 @ x2.T)
    np.testing.assert_allclose(
        nngp_kernel(Identity(), x1, x2, sigma_w2=SIGMA_W2, sigma_a2=SIGMA_A2), SIGMA_A2 * gram
    )
    np.testing.assert_allclose(
        ntk_kernel(Identity(), x1, x2, sigma_w2=SIGMA_W2, sigma_a2=SIGMA_A2), 2 * SIGMA_A2 * gram
    )
    # x2 defaults to x1, symmetric
    k = nngp_kernel(Erf(), x1)
    np.testing.assert_allclose(k, nngp_kernel(Erf(), x1, x1), rtol=1e-14)
    np.testing.assert_allclose(k, k.T, rtol=1e-14)


BLOCKED = [Tanh(), Erf(), HardTanh(), ClippedReLU()]


@pytest.mark.parametrize("act", BLOCKED, ids=[a.name for a in BLOCKED])
def test_row_blocked_evaluation_matches_direct(act, monkeypatch):
    rng = np.random.default_rng(3)
    x1 = jnp.asarray(rng.standard_normal((7, D)))
    x2 = jnp.asarray(rng.standard_normal((5, D)))
    direct = ntk_kernel(act, x1, x2)
    monkeypatch.setattr(kernels_module, "_ELEMENT_BUDGET", 2 * 5 * act.evaluation_cost())
    blocked = ntk_kernel(act, x1, x2)
    np.testing.assert_allclose(blocked, direct, rtol=1e-13, atol=1e-15)


def test_kernels_under_jit(inputs):
    x1, x2 = inputs
    jitted = jax.jit(lambda a, b, s: ntk_kernel(Tanh(), a, b, sigma_w2=s))(x1, x2, 2.0)
    np.testing.assert_allclose(jitted, ntk_kernel(Tanh(), x1, x2, sigma_w2=2.0), rtol=1e-13)


def test_kernel_argument_errors(inputs):
    x1, x2 = inputs
    with pytest.raises(ValueError, match="same input dimension"):
        nngp_kernel(Erf(), x1, x2[:, :2])
    with pytest.raises(ValueError, match="x1 must be a 2-D"):
        nngp_kernel(Erf(), x1[0])
    with pytest.raises(ValueError, match="sigma_w2"):
        ntk_kernel(Erf(), x1, sigma_w2=-1.0)
    with pytest.raises(ValueError, match="sigma_a2"):
        nngp_kernel(Erf(), x1, sigma_a2=float("nan"))
    with pytest.raises(ValueError, match=r"w must have shape \(M, 3\)"):
        empirical_nngp_kernel(Erf(), jnp.ones((10, 2)), x1, sigma_a2=1.0)


def _spd(rng, n):
    a = rng.standard_normal((n, n))
    return a @ a.T / n


def test_gp_posterior_matches_numpy_solve():
    rng = np.random.default_rng(4)
    n, m = 8, 5
    pts = rng.standard_normal((n + m, 2))
    full = np.asarray(nngp_kernel(Erf(), jnp.asarray(pts)))
    k, kst, kss = full[:n, :n], full[n:, :n], np.diag(full[n:, n:])
    noise = 0.3
    for y in (rng.standard_normal(n), rng.standard_normal((n, 2))):
        mean, var = gp_posterior(jnp.asarray(k), jnp.asarray(kst), jnp.asarray(y), noise, kss)
        a = k + noise * np.eye(n)
        np.testing.assert_allclose(mean, kst @ np.linalg.solve(a, y), rtol=1e-10, atol=1e-12)
        expected_var = kss - np.einsum("ij,ji->i", kst, np.linalg.solve(a, kst.T))
        np.testing.assert_allclose(var, expected_var, rtol=1e-10, atol=1e-12)
        assert mean.shape == (m,) + y.shape[1:]
    # mean only, and under jit with a traced noise
    only = gp_posterior(k, kst, y, noise)
    np.testing.assert_allclose(only, mean, rtol=1e-13)
    args = (jnp.asarray(k), jnp.asarray(kst), jnp.asarray(y), jnp.asarray(noise))
    jitted = jax.jit(gp_posterior)(*args)
    np.testing.assert_allclose(jitted, mean, rtol=1e-12)


@pytest.mark.parametrize("noise", [0.0, -1e-3, float("nan"), float("inf"), np.ones(3)])
def test_gp_posterior_rejects_bad_noise(noise):
    rng = np.random.default_rng(5)
    k = _spd(rng, 3)
    with pytest.raises(ValueError, match="noise"):
        gp_posterior(k, k, np.ones(3), noise)


def test_gp_posterior_rejects_bad_shapes_and_indefinite_kernel():
    k = np.eye(3)
    with pytest.raises(ValueError, match="kernel_test_train"):
        gp_posterior(k, np.ones((2, 4)), np.ones(3), 0.1)
    with pytest.raises(ValueError, match="y must have shape"):
        gp_posterior(k, np.ones((2, 3)), np.ones(4), 0.1)
    with pytest.raises(ValueError, match="not positive definite"):
        gp_posterior(-np.eye(3), np.ones((2, 3)), np.ones(3), 0.1)
