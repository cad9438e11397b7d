"""Hermite polynomials, Gauss-Hermite losses and the Hermite spectrum of tanh (meanfield._observables.hermite)."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from meanfield._observables.hermite import (fit_hermite_decay, gauss_hermite_rule, gaussian_expectation,
                                hermite_coefficients, hermite_normalised, network_hermite_spectrum,
                                tanh_decay_rate, tanh_hermite_coefficients, tanh_quadrature_error)
from meanfield._apps.llc.learning_zero import TanhNet, gram_spectrum


def test_hermite_values_and_orthonormality():
    x = np.array([0.3, -1.7, 2.0])
    h = hermite_normalised(x, 4)
    he = np.stack([np.ones_like(x), x, x**2 - 1, x**3 - 3 * x, x**4 - 6 * x**2 + 3], axis=1)
    np.testing.assert_allclose(h, he / np.sqrt([1, 1, 2, 6, 24]), rtol=1e-13)
    z, w = gauss_hermite_rule(200)               # exact for degree <= 399: E[h_j h_k] = delta_jk
    wh = hermite_normalised(z, 150, weights=w)
    gram = wh.T @ hermite_normalised(z, 150)
    np.testing.assert_allclose(gram, np.eye(151), atol=1e-10)


def test_large_rules_beyond_numpy():
    for n in (151, 400, 1000):
        z, w = gauss_hermite_rule(n)
        assert np.all(np.isfinite(w)) and abs(w.sum() - 1) < 1e-13
        assert abs(w @ z**4 - 3) < 1e-12


@pytest.mark.parametrize("n", [200, 400, 1000])
def test_one_gauss_hermite_rule_against_independent_references(n):
    """The one rule (meanfield._data.quadrature) at 200, 400, 1000 nodes: the normal's even moments
    E[z^2m] = (2m - 1)!! exactly (m <= 40 < n), odd moments zero, weights >= 0 summing to one,
    nodes symmetric and distinct; against numpy's hermegauss (a different construction) where it
    is finite (n = 200)."""
    from meanfield._data.quadrature import gauss_hermite_normal
    assert gauss_hermite_rule is gauss_hermite_normal           # one rule, two names
    z, w = gauss_hermite_normal(n)
    assert z.shape == w.shape == (n,) and np.all(np.diff(z) > 0)
    np.testing.assert_array_equal(z, -z[::-1])
    np.testing.assert_array_equal(w, w[::-1])
    assert np.all(w >= 0) and abs(w.sum() - 1) < 1e-14
    # positive wherever representable: zeros only in the two tails, where exp(-z^2/2) < 1e-300
    assert np.all(w[np.abs(z) < 30] > 0) and np.all(np.abs(z[w == 0]) > 36)
    if n == 200:
        assert np.all(w > 0)
    for m in range(1, 41):
        exact = math.prod(range(1, 2 * m, 2))                     # (2m - 1)!!
        assert abs(w @ z ** (2 * m) / exact - 1) < 1e-13, m
        scale = math.sqrt(math.prod(range(1, 4 * m - 2, 2)))        # sqrt(E[z^(4m-2)])
        assert abs(w @ z ** (2 * m - 1)) < 1e-13 * scale, m
    if n == 200:
        ze, we = np.polynomial.hermite_e.hermegauss(n)
        np.testing.assert_allclose(z, ze, rtol=0, atol=1e-13)
        np.testing.assert_allclose(w, we / we.sum(), rtol=1e-11)
    else:
        with np.errstate(all="ignore"):
            assert not np.all(np.isfinite(np.polynomial.hermite_e.hermegauss(n)[1]))  # why one rule


def test_gauss_hermite_rule_rejects_bad_node_counts():
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_nodes must be an integer >= 1"):
            gauss_hermite_rule(bad)
    z, w = gauss_hermite_rule(1)
    assert z.tolist() == [0.0] and w.tolist() == [1.0]
    z[0] = 5.0                                   # callers get their own copy of the cached rule
    assert gauss_hermite_rule(1)[0].tolist() == [0.0]


def test_parseval_and_network_spectrum():
    c = tanh_hermite_coefficients([1.0, 0.5], 150, 400)
    z, w = gauss_hermite_rule(400)
    np.testing.assert_allclose((c**2).sum(0), [w @ np.tanh(z) ** 2, w @ np.tanh(0.5 * z) ** 2], rtol=1e-12)
    assert np.all(np.abs(c[::2]) < 1e-15)        # tanh is odd
    a = np.array([0.3, -1.2])
    np.testing.assert_allclose(network_hermite_spectrum(a, [1.0, 0.5], 150), c @ a, atol=1e-15)
    f = hermite_coefficients(lambda x: x**3, 5, 20)      # x^3 = He_3 + 3 He_1
    np.testing.assert_allclose(f, [0, 3, 0, math.sqrt(6), 0, 0], atol=1e-13)


@pytest.mark.parametrize("w", [1.0, 2.0])
def test_tanh_decay_rate_matches_strip_theory(w):
    # |c_k| ~ exp(-pi sqrt(k) / (2|w|)): fitted c within 3% of theory; the stretched law fits >= 50x
    # better (rms of log|c_k|) than a geometric law. Coefficients converged (800 vs 400 nodes).
    c = tanh_hermite_coefficients([w], 200, 400)[:, 0]
    c2 = tanh_hermite_coefficients([w], 200, 800)[:, 0]
    assert np.abs(c - c2).max() < 1e-8
    fit = fit_hermite_decay(c, k_min=5)
    assert abs(fit["stretched"]["c"] / tanh_decay_rate(w) - 1) < 0.03
    assert fit["geometric"]["rms"] > 50 * fit["stretched"]["rms"]


def test_quadrature_error_table():
    # the documented table: nodes needed grow like w^2
    assert tanh_quadrature_error(1.0, 128) < 1e-12
    assert tanh_quadrature_error(2.0, 256) < 1e-8
    assert tanh_quadrature_error(3.0, 256) < 1e-5
    errs = [tanh_quadrature_error(2.0, k) for k in (32, 64, 128, 256)]
    assert all(b < a / 10 for a, b in zip(errs, errs[1:]))


def test_gaussian_expectation_and_net_loss():
    val = gaussian_expectation(lambda x: x[:, 0] ** 2 * x[:, 1] ** 2, n_nodes=8, dim=2)
    assert abs(float(val) - 1.0) < 1e-13
    net = TanhNet(width=5, dim=1, n_nodes=256)
    theta = jnp.concatenate([jnp.asarray([0.5, -0.2, 0.1, 0.3, -0.4]), net.zero_point(1)[5:]])
    a, w = net.split(theta)
    z, om = gauss_hermite_rule(256)
    feats = np.tanh(np.outer(z, np.asarray(w)[:, 0]))
    gram = feats.T @ (om[:, None] * feats)
    assert abs(float(net.loss(theta)) - float(np.asarray(a) @ gram @ np.asarray(a))) < 1e-13
    assert float(net.loss(net.zero_point(1))) == 0.0
    with pytest.raises(ValueError, match="dim"):
        TanhNet(width=4, dim=5)


def test_gram_spectrum_converged():
    net = TanhNet(width=32)
    theta = net.zero_point(0)
    g1, g2 = gram_spectrum(net, theta, 1024), gram_spectrum(net, theta, 2048)
    keep = g2 > 1e-18 * g2[0]
    assert keep.sum() >= 10
    np.testing.assert_allclose(g1[keep], g2[keep], rtol=1e-3)


def test_errors_name_argument():
    with pytest.raises(ValueError, match="k_max"):
        hermite_normalised(np.zeros(2), -1)
    with pytest.raises(ValueError, match="n_nodes must exceed k_max"):
        hermite_coefficients(np.tanh, 50, 20)
