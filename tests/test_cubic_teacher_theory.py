"""The cubic-teacher reduced theory: its features, its neuron integral and its kernel limit."""

import math

import numpy as np
import pytest

import meanfield as mf
from meanfield._grokking_theory import CubicTeacherTheory


def test_hermite_features_against_quadrature():
    # c_k(w) = E[erf(w.x) He_k(w*.x)]/sqrt(k!) for x ~ N(0, I_2), w* = e_1, by Gauss-Hermite
    th = CubicTeacherTheory(d=2, width=1.0, n_hermite=4)
    x, wt = np.polynomial.hermite_e.hermegauss(80)
    wt = wt / wt.sum()
    X1, X2 = np.meshgrid(x, x, indexing="ij")
    W = np.outer(wt, wt)
    from scipy.special import erf
    for w in ([0.3, 0.2], [0.9, -0.4], [-0.5, 0.1]):
        rho, q = w[0], w[0] ** 2 + w[1] ** 2
        got = th.features(rho, q)
        for k, ck in zip(th.orders, got):
            hk = np.polynomial.hermite_e.hermeval(X1, [0] * k + [1]) / math.sqrt(math.factorial(k))
            ref = np.sum(W * erf(w[0] * X1 + w[1] * X2) * hk)
            assert ck == pytest.approx(ref, abs=1e-10)


def test_neuron_reduction_against_direct_quadrature_in_d2():
    # the (rho, r) reduction of the single-neuron integral against a direct 2-D grid in w
    d, N, n = 2, 50.0, 40.0
    th = CubicTeacherTheory(d=d, width=N, eps=0.3, sigma2=0.5, sigma_a2=1.0, n_rho=4001)
    t = np.array([0.4, -0.6])
    nb = th.neuron(t, n)
    s = math.sqrt(1.0 / d)
    g = np.linspace(-8, 8, 1601) * s
    W1, W2 = np.meshgrid(g, g, indexing="ij")
    c1, c3 = th.features(W1, W1**2 + W2**2)
    L = 0.5 * n**2 / N * (t[0] * c1 + t[1] * c3) ** 2
    lw = -0.5 * (W1**2 + W2**2) / s**2 + L
    p = np.exp(lw - lw.max())
    p /= p.sum()
    log_z = math.log(np.sum(np.exp(lw - lw.max())) * (g[1] - g[0]) ** 2 / (2 * math.pi * s**2)) + lw.max()
    assert nb["log_z"] == pytest.approx(log_z, abs=1e-6)
    assert nb["rho2"] == pytest.approx(np.sum(p * W1**2), rel=1e-6)
    assert nb["cc"][0, 1] == pytest.approx(np.sum(p * c1 * c3), rel=1e-6)


def test_kernel_limit_against_exact_gp_at_moderate_n():
    # N -> infinity: the neurons keep their prior, and the continuum (equivalent-kernel) theory
    # must match the exact finite-n GP discrepancy once n is large enough for sums to become
    # integrals but small enough that few kernel modes are fitted (n lambda_k ~ sigma^2).
    d, s2, eps, n = 2, 0.5, 0.3, 200
    th = CubicTeacherTheory(d=d, width=1e12, eps=eps, sigma2=s2, n_hermite=6)
    t = np.array(th.best(float(n)).t[:2])
    errs = []
    for seed in range(4):
        task = mf.cubic_teacher(d, n, eps=eps, seed=seed)
        x, y = np.asarray(task.train.x), np.asarray(task.train.y)
        q = np.asarray(mf.nngp_kernel(mf.Erf(), x))
        tb = np.linalg.solve(q + s2 * np.eye(n), y)[:, 0]
        xi = x[:, 0]
        exact = np.array([np.mean(tb * xi), np.mean(tb * (xi**3 - 3 * xi) / math.sqrt(6))])
        errs.append(exact)
    exact = np.mean(errs, axis=0)
    assert t[0] == pytest.approx(exact[0], rel=0.15)
    assert t[1] == pytest.approx(exact[1], rel=0.35)


def test_feature_learning_phases_in_n():
    th = CubicTeacherTheory(d=50, width=100.0, eps=-0.3, sigma2=1.0)
    low = th.best(30.0)
    high = th.best(3000.0)
    assert low.phase == "GFL" and low.n_peaks == 1
    assert high.phase.startswith("GMFL") and high.n_peaks >= 2
    assert high.overlap_var > 2 * low.overlap_var  # neurons align with the teacher
    assert high.discrepancy[0] < low.discrepancy[0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="d must"):
        CubicTeacherTheory(d=1, width=1.0)
    with pytest.raises(ValueError, match="n_hermite"):
        CubicTeacherTheory(d=3, width=1.0, n_hermite=1)
    with pytest.raises(ValueError, match="width"):
        CubicTeacherTheory(d=3, width=-1.0)
