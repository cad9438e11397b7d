"""Cloud distances against closed forms."""

import numpy as np
import pytest

import meanfield as mf


def test_sliced_wasserstein_shift_is_exact_in_2d():
    x = np.random.default_rng(0).standard_normal((300, 2))
    shift = np.array([0.7, -1.9])
    # the same cloud shifted: every slice is shifted by u.shift, and E_u (u.shift)^2 = |shift|^2/2
    assert mf.sliced_wasserstein(x, x + shift) == pytest.approx(np.linalg.norm(shift) / np.sqrt(2), rel=1e-12)
    assert mf.sliced_wasserstein(x, x) == 0.0


def test_sliced_wasserstein_gaussian_scale_and_symmetry():
    rng = np.random.default_rng(1)
    # 1-D: W2(N(0,1), N(0,4)) = |1 - 2| = 1
    a, b = rng.standard_normal(10000), 2 * rng.standard_normal(10000)
    assert mf.sliced_wasserstein(a, b) == pytest.approx(1.0, abs=0.04)
    # 3-D isotropic: every slice is W2(N(0,1), N(0,s^2)) = |1 - s|
    x, y = rng.standard_normal((4000, 3)), 1.5 * rng.standard_normal((4000, 3))
    assert mf.sliced_wasserstein(x, y, n_directions=128) == pytest.approx(0.5, abs=0.04)
    assert mf.sliced_wasserstein(x, y) == pytest.approx(mf.sliced_wasserstein(y, x), rel=1e-12)
    # unequal sizes go through quantiles: still close
    assert mf.sliced_wasserstein(x[:1500], y, n_directions=128) == pytest.approx(0.5, abs=0.05)
    # a second sample of the same law is far closer than the scaled one (the noise floor)
    assert mf.sliced_wasserstein(x, rng.standard_normal((4000, 3))) < 0.06


def test_mmd_against_closed_form():
    rng = np.random.default_rng(2)
    s, h, p = 1.0, 1.5, 2
    delta = np.array([1.0, 0.5])
    x = s * rng.standard_normal((3000, p))
    y = delta + s * rng.standard_normal((3000, p))
    c = (h**2 / (h**2 + 2 * s**2)) ** (p / 2)
    exact = 2 * c * (1 - np.exp(-delta @ delta / (2 * (h**2 + 2 * s**2))))
    assert mf.maximum_mean_discrepancy(x, y, bandwidth=h) == pytest.approx(exact, abs=0.01)
    same = mf.maximum_mean_discrepancy(x, s * rng.standard_normal((3000, p)), bandwidth=h)
    assert abs(same) < 0.005


def test_distance_errors_name_the_argument():
    with pytest.raises(ValueError, match="same dimension"):
        mf.sliced_wasserstein(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="x contains"):
        mf.sliced_wasserstein(np.full((4, 2), np.nan), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="bandwidth"):
        mf.maximum_mean_discrepancy(np.zeros((4, 2)), np.zeros((4, 2)), bandwidth=0.0)
    with pytest.raises(ValueError, match="n >= 2"):
        mf.sliced_wasserstein(np.zeros((1, 2)), np.zeros((4, 2)))
