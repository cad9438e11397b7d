"""LLC estimator against known answers (meanfield._llc).

Tolerances: each fast check compares with the *exact finite-nbeta* value (closed form or 1-D
quadrature) within max(4 sigma, 4%) and with the asymptotic lambda within the stated bias; a
biased sampler (e.g. plain SGLD with a large step, or MALA at acceptance 0.6 on singular models,
which gave -20%) fails them.
"""

import math

import jax
import numpy as np
import pytest
from scipy.integrate import quad

from meanfield._learning_zero import TanhNet, quadratic_lambda, gram_spectrum
from meanfield._llc import (SGLD, MonomialModel, QuadraticModel, ReducedRankRegression,
                            aoyagi_watanabe_rlct, calibrate_step_size, estimate_llc,
                            hessian_preconditioner)


def _mala(model, nbeta, gamma, n_steps, precondition=False, eps0=1e-2, n_chains=8, target=0.85):
    p = hessian_preconditioner(model.loss, model.w_star, nbeta, gamma) if precondition else None
    eps, _ = calibrate_step_size(model.loss, model.w_star, nbeta, 0, gamma, p, target_accept=target,
                                 step_size=1.0 if precondition else eps0)
    return estimate_llc(model.loss, model.w_star, SGLD(eps, nbeta, gamma, True, p), 1, n_chains,
                        n_steps, n_steps // 5)


def _check(res, exact, rel=0.04):
    tol = max(4 * res.lambda_hat_err, rel * exact)
    assert abs(res.lambda_hat - exact) < tol, (res.summary(), exact)


def test_aoyagi_watanabe_formula():
    assert aoyagi_watanabe_rlct(2, 2, 1, 0) == (1.0, 2)        # |a|^2 |b|^2, a, b in R^2
    assert aoyagi_watanabe_rlct(2, 3, 1, 0) == (1.0, 1)        # min(M, N)/2
    assert aoyagi_watanabe_rlct(2, 2, 2, 0) == (1.5, 1)
    assert aoyagi_watanabe_rlct(3, 3, 3, 1) == (4.0, 1)
    assert aoyagi_watanabe_rlct(2, 5, 2, 2) == ((2 + 5) * 2 / 2 - 2, 1)   # regular: ((M+N)H - H^2)/2
    assert aoyagi_watanabe_rlct(2, 2, 5, 2) == (2.0, 1)        # M + N < H + r: MN/2
    with pytest.raises(ValueError, match="r must be"):
        aoyagi_watanabe_rlct(2, 2, 1, 2)


def test_regular_quadratic():
    m = QuadraticModel((1.0, 10.0, 100.0, 0.1))                 # lambda = d/2 = 2
    res = _mala(m, 1e4, 1.0, 3000, precondition=True)
    _check(res, m.exact_lambda_hat(1e4, 1.0))
    assert abs(res.lambda_hat / m.rlct - 1) < 0.05
    assert res.acceptance > 0.6


def test_unadjusted_sgld_bias_is_flagged():
    m = QuadraticModel((1.0, 1.0))                              # exact 0.99995 at nbeta 1e4
    good = estimate_llc(m.loss, m.w_star, SGLD(1e-6, 1e4, 1.0), 0, 8, 3000, 600)
    _check(good, m.exact_lambda_hat(1e4, 1.0), rel=0.06)
    assert good.acceptance > 0.95
    bad = estimate_llc(m.loss, m.w_star, SGLD(1.5e-4, 1e4, 1.0), 0, 8, 3000, 600)
    # ULA on a quadratic with curvature k: E[nbeta L] inflated by 1/(1 - eps nbeta k / 2) -> +300%
    assert bad.lambda_hat > 2.0 and bad.acceptance < 0.9


def _exact_1d(k, nbeta, gamma):
    p = lambda x: math.exp(-nbeta * x ** (2 * k) - gamma * x * x / 2)
    s = nbeta ** (-1 / (2 * k))
    z = quad(p, 0, 5, points=[s])[0]
    return quad(lambda x: p(x) * nbeta * x ** (2 * k), 0, 5, points=[s])[0] / z


@pytest.mark.parametrize("k", [2, 3])
def test_monomial_one_dimensional(k):
    m = MonomialModel((k,))                                     # lambda = 1/(2k)
    exact = _exact_1d(k, 1e6, 1.0)
    assert abs(exact / m.rlct - 1) < 0.03                       # finite-nbeta bias at 1e6: < 3%
    _check(_mala(m, 1e6, 1.0, 6000), exact, rel=0.06)


@pytest.mark.slow
def test_normal_crossing():
    m = MonomialModel((1, 2))                                   # L = w1^2 w2^4: lambda = 1/4, m = 1
    nb, g = 1e6, 1.0
    wt = lambda x: math.exp(-g * x * x / 2) / math.sqrt(2 * nb * x**4 + g)
    c = (g / nb) ** 0.25
    exact = quad(lambda x: wt(x) * nb * x**4 / (2 * nb * x**4 + g), 0, 10, points=[c])[0] / \
        quad(wt, 0, 10, points=[c])[0]
    assert abs(exact / m.rlct - 1) < 0.02
    _check(_mala(m, nb, g, 20000, target=0.9), exact, rel=0.08)


@pytest.mark.slow
@pytest.mark.parametrize("shape", [(2, 3, 1, 0), (2, 2, 2, 0)])
def test_reduced_rank_regression(shape):
    m = ReducedRankRegression(*shape)
    res = _mala(m, 1e6, 1.0, 20000, target=0.9)
    assert abs(res.lambda_hat / m.rlct - 1) < 0.1, (res.summary(), m.rlct)


def test_tanh_net_matches_gaussian_theory_at_low_nbeta():
    # W-coupling negligible at small nbeta: lambda_hat = lambda_quad (frozen-W Gaussian) to ~5%
    net = TanhNet(width=8, n_nodes=128)
    th = net.zero_point(3)
    nb, gamma = 1e2, 100.0
    p = hessian_preconditioner(net.loss, th, nb, gamma)
    res = estimate_llc(net.loss, th, SGLD(0.3, nb, gamma, True, p), 0, 8, 1500, 300)
    exact = float(quadratic_lambda(nb, gram_spectrum(net, th, 1024), gamma)[0])
    _check(res, exact, rel=0.06)


def test_errors_name_argument():
    with pytest.raises(ValueError, match="step_size"):
        SGLD(-1.0, 1.0)
    with pytest.raises(ValueError, match="n_burnin"):
        estimate_llc(QuadraticModel((1.0,)).loss, np.zeros(1), SGLD(0.1, 1.0), 0, 2, 10, 10)
    with pytest.raises(ValueError, match="preconditioner"):
        SGLD(0.1, 1.0, preconditioner=np.ones(3)).factors(2)
