"""Fourier observables on neurons with known answers (synthetic Fourier features, Gaussian)."""

import numpy as np
import pytest

import meanfield as mf
from meanfield._observables.fourier import (dominant_frequency, fourier_power, fourier_summary,
                                implied_readout, inverse_participation_ratio, phase_relation,
                                single_frequency_fraction)


def gromov_neurons(P, M, rng, noise=0.0):
    """Gromov's solution: u, v, a cosines at one frequency, phases phi_u, phi_v, phi_u + phi_v."""
    n = np.arange(P)
    k = rng.integers(1, P // 2 + 1, size=M)
    pu, pv = rng.uniform(0, 2 * np.pi, (2, M))
    th = 2 * np.pi * k[:, None] * n[None, :] / P
    u = np.cos(th + pu[:, None])
    v = 0.7 * np.cos(th + pv[:, None])
    a = 1.3 * np.cos(th + (pu + pv)[:, None])
    w = np.concatenate([u, v], axis=1) + noise * rng.standard_normal((M, 2 * P))
    return w, a, k


def test_parseval_and_single_frequency():
    rng = np.random.default_rng(0)
    for P in (7, 8, 11):
        w, a, k = gromov_neurons(P, 50, rng)
        power = fourier_power(w, P)
        np.testing.assert_allclose(power[:, 0].sum(1), (w[:, :P] ** 2).sum(1), rtol=1e-12)
        np.testing.assert_allclose(power[:, 1].sum(1), (w[:, P:] ** 2).sum(1), rtol=1e-12)
        if P % 2:  # (k = P/2 of even P is real-valued, not a clean cosine of any phase)
            np.testing.assert_array_equal(dominant_frequency(w, P), k)
            np.testing.assert_allclose(inverse_participation_ratio(w, P), 1.0, atol=1e-12)
            assert single_frequency_fraction(w, P) == 1.0
            delta, weight = phase_relation(w, a, P)
            np.testing.assert_allclose(delta, 0.0, atol=1e-10)
            assert np.all(weight > 0)


def test_gaussian_neurons_ipr_matches_dirichlet():
    P, M = 11, 40000
    K = (P - 1) // 2
    w = np.random.default_rng(1).standard_normal((M, 2 * P))
    ipr = inverse_participation_ratio(w, P)
    se = ipr.std() / np.sqrt(M)
    assert abs(ipr.mean() - 3.0 / (2 * K + 1)) < 4 * se
    assert single_frequency_fraction(w, P) < 0.01
    # a random read-out has no phase relation
    a = np.random.default_rng(2).standard_normal((M, P))
    s = fourier_summary(w, P, readout=a)
    assert s["phase_coherence"] < 0.05
    assert sum(s["dominant_frequency_counts"]) == M


def test_flipped_readout_and_noise():
    rng = np.random.default_rng(3)
    P = 13
    w, a, _ = gromov_neurons(P, 200, rng, noise=0.05)
    s = fourier_summary(w, P, readout=a)
    assert s["single_frequency_fraction"] > 0.9 and s["phase_coherence"] > 0.95
    s_flip = fourier_summary(w, P, readout=-a)
    assert s_flip["phase_cos_mean"] < -0.95  # a -> -a is Delta = pi


def test_implied_readout_of_fourier_neuron():
    # for a Fourier neuron and the full-data centred target, sum_mu y_mu phi_mu is a cosine at
    # the neuron's frequency with phase phi_u + phi_v: the implied read-out obeys Delta = 0
    P = 11
    task = mf.modular_addition(P, 1.0)
    rng = np.random.default_rng(4)
    w, _, k = gromov_neurons(P, 30, rng)
    a = implied_readout(w, np.asarray(task.train.x), np.asarray(task.train.y))
    delta, _ = phase_relation(w, a, P)
    np.testing.assert_allclose(delta, 0.0, atol=1e-9)
    np.testing.assert_array_equal(dominant_frequency(w, P), k)


def test_bad_input():
    with pytest.raises(ValueError, match="shape"):
        fourier_power(np.zeros((3, 5)), 3)
    with pytest.raises(ValueError, match="P must"):
        fourier_power(np.zeros((3, 6)), 1)
    with pytest.raises(ValueError, match="readout"):
        phase_relation(np.ones((2, 6)), np.ones((2, 4)), 3)
