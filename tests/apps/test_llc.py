"""LLC estimator against known answers (meanfield._apps.llc.estimator, meanfield._apps.llc.learning_zero).

Tolerances. Each sampled check compares with the *exact finite-nbeta* value of the same posterior
(closed form, or 1-D/2-D quadrature independent of any sampler) within max(4 sigma, rel), sigma
the standard error over 8-16 independent chains (itself uncertain by ~20-25%, hence 4 and not 2
or 3). The relative floor (4%, 6% for the k = 2, 3 monomials, whose heavy-tailed loss gives noisier
chains, 8% for the 2-D normal crossing) is below the gap to every neighbouring answer the test
must tell apart: d/2 against (d - 1)/2 (25%), 1/(2k) for k against k + 1 (>= 33%), the 1/8 steps
of the Aoyagi-Watanabe formula around lambda = 1-1.5 (>= 8%), the multiplicity-2 log correction
1/ln(nbeta) (7% at 1e6). The exact finite-nbeta values are in turn compared with the asymptotic
lambda within the finite-nbeta bias they show (stated at each test). Measured: a biased sampler
(ULA with a large step: +300%; MALA left at acceptance ~0.4 on reduced-rank regression: -4.4%)
fails them.
"""

import math

import jax
import numpy as np
import pytest
from scipy.integrate import quad

from meanfield._apps.llc.learning_zero import (TanhNet, fit_growth_laws, gram_spectrum, marginal_llc,
                                     quadratic_lambda)
from meanfield._apps.llc.estimator import (SGLD, MonomialModel, QuadraticModel, ReducedRankRegression,
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


def test_normal_crossing():
    m = MonomialModel((1, 2))                                   # L = w1^2 w2^4: lambda = 1/4, m = 1
    nb, g = 1e6, 1.0
    wt = lambda x: math.exp(-g * x * x / 2) / math.sqrt(2 * nb * x**4 + g)
    c = (g / nb) ** 0.25
    exact = quad(lambda x: wt(x) * nb * x**4 / (2 * nb * x**4 + g), 0, 10, points=[c])[0] / \
        quad(wt, 0, 10, points=[c])[0]
    assert abs(exact / m.rlct - 1) < 0.02
    _check(_mala(m, nb, g, 20000, target=0.9), exact, rel=0.08)


@pytest.mark.parametrize("shape", [(2, 3, 1), (2, 2, 1), (3, 3, 1),
                                   pytest.param((2, 2, 2), marks=pytest.mark.slow),
                                   pytest.param((3, 3, 2), marks=pytest.mark.slow)])
def test_rrr_exact_integral_approaches_aoyagi_watanabe(shape):
    # The sampler-free finite-nbeta value tends to lambda - (m - 1)/ln(nbeta) (Z ~ nbeta^-lambda
    # (ln nbeta)^(m-1)); at nbeta = 1e8 the O(1/ln^2) remainder measured <= 0.0023. Tolerance 0.005
    # rejects a lambda off by 1/8 (the smallest step of the formula) and a wrong multiplicity
    # (1/ln 1e8 = 0.054). Shapes: m = 1 (2,3,1), (2,2,2), (3,3,2); m = 2 (2,2,1), (3,3,1).
    m = ReducedRankRegression(*shape, 0)
    nb = 1e8
    exact = m.exact_lambda_hat(nb, 1.0)
    assert abs(exact - (m.rlct - (m.multiplicity - 1) / math.log(nb))) < 0.005, (exact, m.rlct)


@pytest.mark.parametrize("shape", [(2, 3, 1, 0), (2, 2, 1, 0), pytest.param((2, 2, 2, 0), marks=[
    pytest.mark.slow, pytest.mark.xfail(strict=True, reason="fixed-step MALA stalls: measured 1.431 +- 0.010 against exact 1.497 (-4.4%), "
                        "acceptance falls from the calibrated 0.9 to 0.41 as chains reach stiffer "
                        "parts of the zero set")])])
def test_reduced_rank_regression(shape):
    # MALA at nbeta = 1e6 against the exact finite-nbeta integral (4 sigma or 4%), and that exact
    # value against Aoyagi-Watanabe; for (2, 2, 1, 0) (m = 2) the 7% log correction is the point.
    m = ReducedRankRegression(*shape)
    exact = m.exact_lambda_hat(1e6, 1.0)
    res = _mala(m, 1e6, 1.0, 8000, target=0.9, n_chains=16)
    _check(res, exact, rel=0.04)
    assert abs(exact - (m.rlct - (m.multiplicity - 1) / math.log(1e6))) < 0.01


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


def test_marginal_estimator_agrees_with_joint_mala_and_theory():
    # Two samplers of the same posterior (a integrated exactly + W by MALA, versus MALA on (a, W)),
    # and the frozen-W Gaussian value they must approach when W barely moves (gamma = 1e4).
    net = TanhNet(width=8, n_nodes=128)
    th = net.zero_point(3)
    nb, gamma = 1e3, 100.0
    marg = marginal_llc(net, th, nb, gamma, seed=0, n_chains=8, n_steps=200, n_burnin=60,
                        n_nodes=128)
    p = hessian_preconditioner(net.loss, th, nb, gamma)
    joint = estimate_llc(net.loss, th, SGLD(0.3, nb, gamma, True, p), 0, 16, 2000, 400)
    tol = 4 * math.hypot(marg.lambda_hat_err, joint.lambda_hat_err) + 0.02 * marg.lambda_hat
    assert abs(marg.lambda_hat - joint.lambda_hat) < tol, (marg.summary(), joint.summary())
    assert joint.acceptance > 0.5 and marg.acceptance > 0.4
    stiff = marginal_llc(net, th, nb, 1e4, seed=1, n_chains=4, n_steps=80, n_burnin=30, n_nodes=128)
    lq = float(quadratic_lambda(nb, gram_spectrum(net, th, 1024), 1e4)[0])
    assert abs(stiff.lambda_hat / lq - 1) < 0.02, (stiff.summary(), lq)


def test_gram_quadrature_nodes_for_h128():
    # The documented node counts: lambda_quad from 512 nodes is within 0.02 of 2048 nodes up to
    # nbeta = 1e20 for the h = 128 net (256 nodes: up to 1e12), at gamma = 100.
    net = TanhNet(width=128)
    th = net.zero_point(0)
    nb = np.logspace(0, 20, 11)
    ref = quadratic_lambda(nb, gram_spectrum(net, th, 2048), 100.0)
    assert np.abs(quadratic_lambda(nb, gram_spectrum(net, th, 512), 100.0) - ref).max() < 0.02
    assert np.abs(quadratic_lambda(nb[:7], gram_spectrum(net, th, 256), 100.0) - ref[:7]).max() < 0.02


def test_growth_law_fits_recover_the_law():
    l = np.linspace(2, 40, 15)
    nb = np.exp(l)
    lin = fit_growth_laws(nb, 0.3 + 0.2 * l, np.full(15, 0.01))
    assert abs(lin["linear"]["params"]["B"] - 0.2) < 1e-10 and lin["linear"]["chi2"] < 1e-15
    assert lin["quadratic"]["chi2_per_dof"] > 100
    quad_ = fit_growth_laws(nb, 0.5 + 0.004 * l**2, np.full(15, 0.01))
    assert abs(quad_["quadratic"]["params"]["C"] - 0.004) < 1e-10
    assert quad_["linear"]["chi2_per_dof"] > 100
    assert abs(quad_["general"]["params"]["B"]) < 1e-8
