"""Training-dynamics mean field (physics.md section 3)."""

import jax.numpy as jnp
import numpy as np
import pytest

import meanfield as mf
from references import iid_relative_error
from meanfield._model.activations import Tanh


def _task():
    x = np.linspace(-2, 2, 9)[:, None]
    return mf.finite_dataset(x, 0.8 * np.tanh(1.5 * x))


def test_langevin_stationary_law_matches_grid():
    """T > 0: rho ∝ exp(-Psi/T); particles (MALA) and the exact grid give the same f_rho."""
    problem = mf.TrainingProblem(_task(), Tanh(), weight_decay=1.0, temperature=0.05)
    grid = mf.solve(problem, mf.FixedPoint(foreground=mf.Grid(n_points=161, extent=4.0),
                                           mixing=mf.Anderson(), rtol=1e-10), progress=False)
    sol = mf.solve(problem, mf.FixedPoint(n_particles=4096, foreground=mf.Langevin(step_size=0.01)),
                   key=0, progress=False)
    err = float(jnp.linalg.norm(sol.field - grid.field) / jnp.linalg.norm(grid.field))
    assert float(jnp.linalg.norm(grid.field)) > 0.1  # the solution is not the trivial f = 0
    iid = iid_relative_error(problem, grid, 4096)   # CLT error of the exact law, not the floor
    assert err < 5 * iid + 1e-3, (err, iid, sol.noise_floor)
    assert sol.train_loss == pytest.approx(grid.train_loss, rel=0.1)


def test_joint_training_lowers_the_loss():
    problem = mf.TrainingProblem(_task(), Tanh(), weight_decay=0.0)
    run = mf.train_network(problem, 256, n_steps=2000, learning_rate=0.2, key=0)
    losses = np.asarray(run.losses)
    assert losses.shape == (200,)
    assert losses[-1] < 0.1 * losses[0]
    assert np.all(np.diff(losses) <= 1e-9)  # without weight decay the loss is the objective


def test_frozen_background_gradient_descent_is_the_joint_fixed_point():
    """Particles of a jointly trained network, continued against their own frozen background,
    stay put: the trained network is a fixed point of the foreground/background map."""
    problem = mf.TrainingProblem(_task(), Tanh(), weight_decay=1e-2)
    run = mf.train_network(problem, 512, n_steps=20000, learning_rate=0.5, key=1)
    f = problem.measure(run.particles)
    fg = mf.GradientDescent(learning_rate=0.5, n_steps=200)
    moved, _, _ = fg.run(problem, run.particles, problem.background(f), None, None)
    shift = float(jnp.max(jnp.abs(moved.theta - run.particles.theta)))
    assert shift < 1e-3


def test_bad_training_arguments():
    with pytest.raises(ValueError, match="temperature"):
        mf.TrainingProblem(_task(), Tanh(), temperature=-1.0)
    with pytest.raises(ValueError, match="n_neurons"):
        mf.train_network(mf.TrainingProblem(_task(), Tanh()), 0)
