"""Free energy of a Bayesian solution against closed forms and its variational property."""

import jax.numpy as jnp
import numpy as np
import pytest

import meanfield as mf
from meanfield._model.activations import Erf, Identity


def _linear_task():
    x = np.array([[-1.5, 0.3], [-0.5, -1.0], [0.2, 0.8], [1.0, 0.1], [1.6, -0.4], [0.4, 1.5]])
    y = x @ np.array([0.8, -0.3])
    return mf.finite_dataset(x, y)


def _closed_form_log_z(problem, background):
    """Identity network: the action is Gaussian, log z = -1/2 log det(I - c s^2 X^T t t^T X)."""
    x = np.asarray(problem.data.x)
    t = np.asarray(background.discrepancy)
    s2 = problem.sigma_w2 / problem.data.dim
    b = x.T @ t @ t.T @ x
    m = np.eye(x.shape[1]) - problem.coupling * s2 * b
    return -0.5 * np.linalg.slogdet(m)[1]


@pytest.mark.slow  # 15 s; the legacy TI estimator
def test_log_partition_matches_closed_form_on_grid_and_by_thermodynamic_integration():
    problem = mf.BayesianProblem(_linear_task(), Identity(), width=3.0, noise=0.1)
    grid_sol = mf.solve(problem, mf.FixedPoint(foreground=mf.Grid(n_points=201, extent=8.0),
                                               mixing=mf.Anderson(), rtol=1e-10), progress=False)
    exact = _closed_form_log_z(problem, grid_sol.background)
    assert exact > 0.05  # a non-trivial tilt of the prior
    fe_grid = mf.free_energy(grid_sol)
    assert fe_grid.method == "grid"
    assert abs(fe_grid.log_z - exact) < 1e-8

    sol = mf.solve(problem, mf.FixedPoint(n_particles=4096), key=0, progress=False)
    fe = mf.free_energy(sol, n_strengths=8, n_steps=100, key=1)
    assert fe.method == "thermodynamic_integration"
    exact_p = _closed_form_log_z(problem, sol.background)
    assert abs(fe.log_z - exact_p) < 5 * fe.log_z_stderr + 2e-3, (fe.log_z, exact_p, fe.log_z_stderr)
    # the particle and grid free energies agree within the Monte-Carlo error
    assert abs(fe.value - fe_grid.value) < 5 * fe.stderr + 0.02 * abs(fe_grid.value)


def _variational_functional(problem, grid, kernel):
    """Phi(K) = G(K) - tr(J K) + N log z(J), J = 1/2 sum_c t_c t_c^T: stationary at the fixed point."""
    bg = problem.background(kernel)
    t = bg.discrepancy
    legendre = 0.5 * float(jnp.sum(t * (kernel @ t)))
    return float(problem.log_likelihood_term(kernel)) - legendre + problem.width * grid.log_partition(problem, bg)


def test_free_energy_is_stationary_at_the_fixed_point():
    x = np.linspace(-2, 2, 8)[:, None]
    problem = mf.BayesianProblem(mf.finite_dataset(x, np.tanh(2 * x)), Erf(), width=2.0, noise=0.05)
    grid = mf.Grid(n_points=801, extent=10.0)
    sol = mf.solve(problem, mf.FixedPoint(foreground=grid, mixing=mf.Anderson(), rtol=1e-11,
                                          max_iterations=400), progress=False)
    k0 = sol.field
    fe = mf.free_energy(sol)
    assert fe.value == pytest.approx(-_variational_functional(problem, grid, k0), rel=1e-9)
    rng = np.random.default_rng(0)
    v = rng.normal(size=(8, 3))
    delta = jnp.asarray(v @ v.T / 3)  # a symmetric PSD direction
    phi0 = _variational_functional(problem, grid, k0)
    changes = [abs(_variational_functional(problem, grid, k0 + e * delta) - phi0) for e in (1e-4, 2e-4)]
    # second order: doubling the step quadruples the change ...
    assert changes[1] / changes[0] == pytest.approx(4.0, rel=0.15)
    # ... and it is far smaller than the first-order change of G alone
    g_change = abs(float(problem.log_likelihood_term(k0 + 1e-4 * delta) - problem.log_likelihood_term(k0)))
    assert changes[0] < 0.05 * g_change


def test_free_energy_refuses_training_problems():
    task = mf.finite_dataset(np.linspace(-1, 1, 5)[:, None], np.linspace(-1, 1, 5))
    problem = mf.TrainingProblem(task, Erf(), weight_decay=0.1, temperature=0.1)
    sol = mf.solve(problem, mf.FixedPoint(n_particles=64, max_iterations=3), progress=False,
                   throw=False)
    with pytest.raises(TypeError, match="BayesianProblem"):
        mf.free_energy(sol)
