"""The Monte-Carlo floor that `solve` reports is the seed-to-seed spread it claims to be.

`Solution.noise_floor` (and `measure`'s noise) is the batch-means standard error of the field G
measured on M particles: E|G - E G|_F^2 = noise^2. Check it against the spread of G over K
independent foreground clouds (different seeds) moved against one frozen background: with

    s^2 = sum_k |G_k - Gbar|^2 / (K - 1),       ratio = s^2 / mean_k(noise_k^2),

ratio is ~1; it is at worst a chi-square with K - 1 degrees of freedom over K - 1 (one dominant
component; more components only narrow it), so a 99.9% interval of that law bounds it. The same
interval must reject a floor inflated or deflated tenfold (the test has power).
"""

import jax
import numpy as np
import pytest
from scipy import stats

import meanfield as mf
from meanfield._solver import solve as _solve
from meanfield._solver.foreground import LangevinState

K = 8  # independent clouds


def _chi2_interval(dof, level=0.999):
    lo, hi = stats.chi2.ppf([(1 - level) / 2, (1 + level) / 2], dof)
    return lo / dof, hi / dof


def _accepts(ratio, dof):
    lo, hi = _chi2_interval(dof)
    return lo <= ratio <= hi


@pytest.mark.parametrize("m", [512, 2048])
def test_reported_floor_matches_the_seed_to_seed_spread(m):
    task = mf.cubic_teacher(2, 12, eps=0.3, n_test=10, seed=0)
    problem = mf.BayesianProblem(task, mf.Erf(), width=10.0, noise=0.01)
    sol = mf.solve(problem, mf.FixedPoint(n_particles=m), key=0, progress=False)
    fg = mf.Langevin(n_steps=50)
    fields, noises = [], []
    for k in range(K):
        particles, _ = fg.init(problem, jax.random.PRNGKey(1000 + k), m)
        state = LangevinState(np.asarray(sol.history["step_size"][-1]))
        for i in range(4):
            particles, state, _ = fg.run(problem, particles, sol.background,
                                         jax.random.PRNGKey(100 * k + i), state)
        g, noise = _solve.measure(problem, particles, 8, True)
        fields.append(np.asarray(g))
        noises.append(noise)
    fields = np.stack(fields)
    s2 = np.sum((fields - fields.mean(axis=0)) ** 2) / (K - 1)
    ratio = s2 / np.mean(np.square(noises))
    assert _accepts(ratio, K - 1), (ratio, _chi2_interval(K - 1))
    # a floor ten times too large or too small would be caught
    assert not _accepts(s2 / np.mean(np.square(10 * np.asarray(noises))), K - 1)
    assert not _accepts(s2 / np.mean(np.square(0.1 * np.asarray(noises))), K - 1)
    # the solve's own reported floor is the same estimator at (nearly) the same background
    reported = sol.noise_floor * float(np.linalg.norm(sol.field))
    assert _accepts(s2 / reported**2, K - 1), (s2, reported**2)


def test_floor_scales_as_one_over_sqrt_m():
    """Quadrupling M halves the floor (central limit theorem), within the batch-means noise."""
    task = mf.cubic_teacher(2, 12, eps=0.3, n_test=10, seed=0)
    problem = mf.BayesianProblem(task, mf.Erf(), width=10.0, noise=0.01)
    small = mf.solve(problem, mf.FixedPoint(n_particles=512), key=1, progress=False)
    big = mf.solve(problem, mf.FixedPoint(n_particles=2048), key=1, progress=False)
    f_small = np.mean(small.history["noise"][-5:])
    f_big = np.mean(big.history["noise"][-5:])
    assert 1.4 < f_small / f_big < 2.9, (f_small, f_big)
