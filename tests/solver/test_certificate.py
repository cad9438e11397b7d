"""The certificates (equipartition, stationarity) and the statuses they decide, against closed
forms and the exact grid."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import meanfield as mf
from meanfield._solver.certificate import equipartition, stationarity


def _weak_problem():
    # width 1e6: the interaction is ~1e-6, so the law of a neuron is its N(0, I) prior
    task = mf.finite_dataset(np.linspace(-1, 1, 4)[:, None], np.linspace(-1, 1, 4))
    return mf.BayesianProblem(task, mf.Erf(), width=1e6, noise=1.0)


def _strong_problem(n=16):
    # d = 2 cubic teacher at width 4, noise 0.01: far from the prior (strong feature learning)
    task = mf.cubic_teacher(2, n, eps=0.3, n_test=20, seed=0)
    return mf.BayesianProblem(task, mf.Erf(), width=4.0, noise=0.01)


@pytest.mark.parametrize("scale", [0.5, 0.9, 1.3])
def test_equipartition_of_a_scaled_gaussian(scale):
    """For U ~ |theta|^2 / 2 (p = 1) and a cloud theta = s z, E theta d U = E theta^2 = s^2 m
    with m = mean(z^2), so V = s^2 m - 1 and the normalised c = |1 - 1 / (s^2 m)|; its error
    bar must match the CLT error sqrt(2 / M) / s^2 of that expression."""
    problem = _weak_problem()
    cloud = problem.init_particles(jax.random.PRNGKey(3), 40000)
    scaled = mf.Particles.uniform(scale * cloud.theta)
    c, err = equipartition(problem, scaled, problem.background(problem.measure(scaled)),
                           n_groups=10)
    m = float(jnp.mean(cloud.theta**2))
    assert c == pytest.approx(abs(1.0 - 1.0 / (scale**2 * m)), abs=1e-4)
    clt = np.sqrt(2.0 / 40000) / scale**2
    assert 0.5 * clt < err < 2.0 * clt


def test_equipartition_groups_whole_chains_of_a_pooled_cloud():
    """K identical copies of one draw carry the information of one draw: grouped by chain the
    error bar stays that of M particles, not of K M."""
    problem = _weak_problem()
    cloud = problem.init_particles(jax.random.PRNGKey(4), 4096)
    pooled = mf.Particles.uniform(jnp.concatenate([cloud.theta] * 8))
    c1, e1 = equipartition(problem, cloud, problem.background(problem.measure(cloud)),
                           n_groups=8)
    c8, e8 = equipartition(problem, pooled, problem.background(problem.measure(pooled)),
                           n_groups=8, n_chains=4096)
    assert c8 == pytest.approx(c1, rel=1e-10)
    assert e8 == pytest.approx(e1, rel=1e-10)


def test_grid_law_passes_the_certificate_to_quadrature_accuracy():
    problem = _strong_problem()
    sol = mf.solve(problem, mf.FixedPoint(foreground=mf.Grid(n_points=121, extent=9.0),
                                          mixing=mf.Damped(0.3), rtol=1e-6, max_iterations=300),
                   progress=False)
    assert sol.status == "converged"
    assert sol.certificate < 1e-4
    # the grid's weights for a *different* background are not the law of this one
    other = problem.background(0.5 * np.asarray(sol.field))
    c, _ = equipartition(problem, sol.particles, problem.background(sol.field))
    c_wrong, _ = equipartition(problem, sol.particles, problem.background(0.5 * sol.field))
    assert c < 1e-4 < 0.05 < c_wrong, (c, c_wrong, other)


def test_particles_that_never_move_are_not_converged():
    """Step size 1e-300: G(B) = B exactly (residual ~1e-16) but the cloud is the prior's."""
    problem = _strong_problem()
    solver = mf.FixedPoint(n_particles=1024, foreground=mf.Langevin(step_size=1e-300,
                                                                   adapt=False),
                           max_iterations=12)
    sol = mf.solve(problem, solver, key=0, progress=False, throw=False)
    assert sol.history["residual"][-1] < 1e-12
    assert sol.status == "not_equilibrated", sol.message
    assert not sol.usable
    with pytest.raises(mf.SolveError, match="not equilibrated"):
        mf.solve(problem, solver, key=0, progress=False)


def test_moving_particles_pass_where_frozen_ones_fail():
    """The same problem with a working foreground ends usable, with a passing certificate."""
    problem = _strong_problem()
    sol = mf.solve(problem, mf.FixedPoint(n_particles=1024, max_iterations=60), key=0,
                   progress=False, throw=False)
    assert sol.usable, sol.message
    assert sol.certificate <= sol.solver.certificate_tol + 3 * sol.certificate_noise


def test_stationarity_of_gradient_descent():
    """A trained cloud at rest passes; the initial cloud of the same problem does not."""
    task = mf.finite_dataset(np.linspace(-1, 1, 6)[:, None], np.sin(2 * np.linspace(-1, 1, 6)))
    problem = mf.TrainingProblem(task, mf.Tanh(), weight_decay=0.1)
    fg = mf.GradientDescent(learning_rate=0.2, n_steps=200)
    sol = mf.solve(problem, mf.FixedPoint(n_particles=512, foreground=fg, max_iterations=200,
                                          rtol=1e-4),
                   key=0, progress=False, throw=False)
    assert sol.usable, sol.message
    start = problem.init_particles(jax.random.PRNGKey(0), 512)
    c0, _ = stationarity(problem, start, problem.background(sol.field), displacement=0.2 * 200)
    assert sol.certificate < 0.01 < c0, (sol.certificate, c0)


def test_a_floor_above_the_field_is_unresolved():
    """16 particles of a strongly coupled problem: the floor exceeds half the field."""
    task = mf.finite_dataset(np.linspace(-1, 1, 6)[:, None], np.linspace(-1, 1, 6))
    problem = mf.TrainingProblem(task, mf.Erf(), temperature=1e3, weight_decay=1.0)
    sol = mf.solve(problem, mf.FixedPoint(n_particles=64, max_iterations=30), key=0,
                   progress=False, throw=False)
    assert sol.noise_floor > 0.5
    assert sol.status == "unresolved", sol.message
    assert sol.particles_for_rtol > 64
