"""The exact `Grid` reference: adaptive extent (grow, shrink, refuse) and its defaults solving
the built-in default problem."""

import tomllib

import jax.numpy as jnp
import numpy as np
import pytest

import meanfield as mf
from meanfield._io.config import DEFAULT_CONFIG, parse_config


def _problem():
    task = mf.finite_dataset(np.linspace(-1, 1, 4)[:, None], np.linspace(-1, 1, 4))
    return mf.BayesianProblem(task, mf.Erf(), width=10.0, noise=0.1)


def test_a_grid_too_small_grows_to_the_fixed_point_of_a_large_one():
    problem = _problem()
    small = mf.solve(problem, mf.FixedPoint(foreground=mf.Grid(n_points=101, extent=2.0),
                                            rtol=1e-10),
                     progress=False)
    large = mf.solve(problem, mf.FixedPoint(foreground=mf.Grid(n_points=401, extent=8.0),
                                            rtol=1e-10),
                     progress=False)
    assert small.status == "converged"
    grown = float(jnp.max(jnp.abs(small.particles.theta)))
    assert grown > 4.0                            # the N(0, 1)-like law needs |z| up to ~6
    rel = float(jnp.linalg.norm(small.field - large.field) / jnp.linalg.norm(large.field))
    assert rel < 1e-8
    # the log-partition function grows its grid too, and agrees
    bg = large.background
    z_small = mf.Grid(n_points=101, extent=2.0).log_partition(problem, bg)
    z_large = mf.Grid(n_points=401, extent=8.0).log_partition(problem, bg)
    assert z_small == pytest.approx(z_large, abs=1e-8)


def test_a_grid_grown_for_a_wide_law_shrinks_back():
    problem = _problem()
    grid = mf.Grid(n_points=41, extent=4.0)
    wide = mf.Particles.uniform(grid.nodes(1, 20.0)[0])
    bg = problem.background(problem.measure(wide))
    moved, _, info = grid.run(problem, wide, bg, None, None)
    assert 4.0 <= float(jnp.max(jnp.abs(moved.theta))) < 10.0
    assert moved.n_particles < wide.n_particles
    assert info["boundary_mass"] <= grid.boundary_tolerance
    assert float(jnp.sum(moved.weights)) == pytest.approx(1.0, abs=1e-12)


def test_a_grid_that_would_exceed_max_nodes_refuses_with_the_extent_it_needs():
    problem = _problem()
    grid = mf.Grid(n_points=101, extent=0.5, max_nodes=120)
    with pytest.raises(ValueError, match="max_nodes is 120"):
        mf.solve(problem, mf.FixedPoint(foreground=grid), progress=False)


@pytest.mark.slow
def test_grid_defaults_solve_the_built_in_default_problem_as_the_particles_do():
    """`Grid()` with `FixedPoint`'s default mixing solves the built-in default problem (it used
    to need Damped(0.05) and extent 24), and its predictor equals the particle solver's within
    the particles' own seed-to-seed spread. Measured: 74 iterations, the grid grown to extent
    ~30 on a wide intermediate iterate and shrunk back to 9.4; particles vs grid 2.7e-3 and
    2.3e-3 rms relative, seed to seed 3.3e-3."""
    problem, particle_solver, _, _ = parse_config(tomllib.loads(DEFAULT_CONFIG))
    grid = mf.solve(problem, mf.FixedPoint(foreground=mf.Grid()), progress=False)
    assert grid.status == "converged"
    assert grid.certificate < 1e-5
    x = problem.task.test.x
    exact = np.asarray(grid.predict(x))
    scale = np.sqrt(np.mean(exact**2))
    preds = [np.asarray(mf.solve(problem, particle_solver, key=k, progress=False).predict(x))
             for k in (0, 1)]
    spread = np.sqrt(np.mean((preds[0] - preds[1]) ** 2)) / scale
    for p in preds:
        # each seed's error is about spread / sqrt(2) if the particles are unbiased
        assert np.sqrt(np.mean((p - exact) ** 2)) / scale < 2.0 * spread
