"""Replica exchange in temperature fills both basins of a bimodal single-neuron law correctly.

A 1-D neuron with phi(z) = z^2, stabiliser gamma z^6 and a frozen discrepancy t has the action
S(z) = z^2/2 + gamma z^6 - b z^4 with b = c t^2/2: a GP-like basin at z = 0 and two "droplet"
basins at |z| ~ 9, behind a barrier of about 8. The exact basin weight comes from quadrature.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import meanfield as mf
from references import iid_relative_error
from meanfield._model.bayesian import BayesianBackground

GAMMA, B = 4e-5, 0.0089


def _problem_and_background():
    task = mf.finite_dataset(np.ones((1, 1)), np.ones((1, 1)))
    problem = mf.BayesianProblem(task, mf.Quadratic(), width=1.0, noise=1.0,
                                 action=mf.LinearisedAction(stabiliser=GAMMA))
    t = np.sqrt(2 * B / problem.coupling)
    bg = BayesianBackground(jnp.zeros((1, 1)), jnp.eye(1), jnp.full((1, 1), t))
    return problem, bg


def _exact_outer_mass():
    z = np.linspace(-20, 20, 400001)
    s = z**2 / 2 + GAMMA * z**6 - B * z**4
    w = np.exp(-(s - s.min()))
    zb = z[(z > 0) & (z < 8)][np.argmax(s[(z > 0) & (z < 8)])]  # barrier top
    return float(w[np.abs(z) > zb].sum() / w.sum()), float(zb)


def _outer_fraction(fg, n_calls, m=4096, seed=0):
    problem, bg = _problem_and_background()
    key = jax.random.PRNGKey(seed)
    particles, state = fg.init(problem, key, m)
    for i in range(n_calls):
        particles, state, info = fg.run(problem, particles, bg, jax.random.fold_in(key, i), state)
    _, zb = _exact_outer_mass()
    return float(jnp.mean(jnp.abs(particles.theta[:, 0]) > zb)), info


def test_energy_is_the_designed_double_well():
    problem, bg = _problem_and_background()
    z = jnp.linspace(-9.0, 9.0, 7)[:, None]
    u = jax.vmap(lambda t: problem.energy(t, bg))(z)
    zz = np.asarray(z[:, 0])
    np.testing.assert_allclose(u, zz**2 / 2 + GAMMA * zz**6 - B * zz**4, rtol=1e-12)


def test_tempering_equilibrates_basin_weights_where_mala_cannot():
    exact, _ = _exact_outer_mass()
    assert 0.3 < exact < 0.6
    tempering = mf.Tempering(n_levels=12, beta_min=0.02, n_steps=100, swap_every=5,
                             step_size=1.0)
    frac, info = _outer_fraction(tempering, 8)
    # binomial error of 4096 particles is 0.008; allow for residual equilibration
    assert abs(frac - exact) < 0.04, (frac, exact)
    assert min(info["swap_rate"]) > 0.05, info["swap_rate"]
    mala_frac, _ = _outer_fraction(mf.Langevin(step_size=1.0, n_steps=100), 8)
    # started from the prior, MALA is stuck behind the barrier: the droplet basin stays empty
    assert mala_frac < exact - 0.2, (mala_frac, exact)


def test_tempering_fixed_point_matches_grid():
    """A full solve with the tempered foreground equals the exact grid fixed point."""
    x = np.linspace(-2.0, 2.0, 10)[:, None]
    problem = mf.BayesianProblem(mf.finite_dataset(x, np.tanh(2.0 * x)), mf.Erf(), width=1.0,
                                 noise=0.01)
    grid = mf.solve(problem, mf.FixedPoint(foreground=mf.Grid(n_points=481, extent=12.0),
                                           mixing=mf.Anderson(), rtol=1e-9,
                                           max_iterations=200), progress=False)
    sol = mf.solve(problem, mf.FixedPoint(n_particles=2048,
                                          foreground=mf.Tempering(n_levels=4, n_steps=20)),
                   key=1, progress=False)
    err = float(jnp.linalg.norm(sol.field - grid.field) / jnp.linalg.norm(grid.field))
    iid = iid_relative_error(problem, grid, 2048)   # CLT error of the exact law, not the floor
    assert err < 4 * iid + 1e-3, (err, iid, sol.noise_floor)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_levels": 1}, "at least 2"),
    ({"n_steps": 12, "swap_every": 5}, "multiple of swap_every"),
    ({"beta_min": 1.0}, "beta_min"),
])
def test_tempering_argument_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mf.Tempering(**kwargs)
