"""log z and F along the replica-exchange ladder against the exact grid, on a bimodal neuron.

The designed problem (experiments/free_energy_bimodal.py): one input x = 1, target y = 1e5,
phi(z) = z^2, sextic stabiliser gamma = 4e-5, noise 1e5, width N = 52. Its self-consistent
single-neuron law has a GP-like basin at z = 0 and two droplet basins at |z| ~ 9 with about a
third of the mass, behind a barrier of 8.4 that plain MALA does not cross in 800 steps. The
ladder's log z must agree with the grid's within its error bar; the older thermodynamic
integration in the coupling, started from the equilibrium particles, misses by ~0.9 in log z
(47 in F, 47 of its error bars; slow test below prints it).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import meanfield as mf
from meanfield._model.bayesian import log_weight_per_particle
from meanfield._solver.free_energy import Ladder, LogPartition, log_partition_ladder

GAMMA, Y, NOISE, WIDTH = 4e-5, 1e5, 1e5, 52.0
GRID = mf.Grid(n_points=3001, extent=30.0)


def _problem():
    task = mf.finite_dataset(np.ones((1, 1)), np.full((1, 1), Y))
    return mf.BayesianProblem(task, mf.Quadratic(), width=WIDTH, noise=NOISE,
                              action=mf.LinearisedAction(stabiliser=GAMMA))


def _grid_solution(problem):
    return mf.solve(problem, mf.FixedPoint(foreground=GRID, mixing=mf.Anderson(), rtol=1e-10,
                                           max_iterations=500), progress=False)


def _basins(problem, bg):
    """(barrier position, barrier height above the GP minimum, droplet mass) of the exact law."""
    z = np.linspace(-GRID.extent, GRID.extent, GRID.n_points)
    u = np.asarray(jax.vmap(lambda t: problem.energy(t, bg))(jnp.asarray(z[:, None])))
    top = np.nonzero((z[1:-1] > 0) & (u[1:-1] >= u[:-2]) & (u[1:-1] >= u[2:]))[0][0] + 1
    w = np.exp(-(u - u.min()))
    return float(z[top]), float(u[top] - u[len(z) // 2]), float(w[np.abs(z) > z[top]].sum()
                                                                / w.sum())


def test_the_designed_neuron_is_bimodal_and_mala_does_not_cross():
    problem = _problem()
    sol = _grid_solution(problem)
    zb, height, mass = _basins(problem, sol.background)
    assert 6.0 < zb < 6.3 and height > 8.0 and 0.3 < mass < 0.4, (zb, height, mass)
    fg = mf.Langevin(step_size=1.0, n_steps=100)
    key = jax.random.PRNGKey(0)
    parts, state = fg.init(problem, key, 4096)
    for i in range(8):
        parts, state, _ = fg.run(problem, parts, sol.background, jax.random.fold_in(key, i), state)
    # started from the prior, MALA leaves the droplet basins (a third of the mass) nearly empty
    assert float(jnp.mean(jnp.abs(parts.theta[:, 0]) > zb)) < 0.05


def test_ladder_matches_the_grid_on_the_bimodal_neuron():
    """Measured (seeds 0-2, 512 columns, 200 sweeps): log z 0.4544 +- 0.0068, 0.4458 +- 0.0102,
    0.4468 +- 0.0116 against the grid's 0.4465."""
    problem = _problem()
    sol = _grid_solution(problem)
    exact = mf.free_energy(sol)
    fe = mf.free_energy(sol, method="ladder", ladder=Ladder(n_particles=512, n_sweeps=200), key=0)
    assert exact.method == "grid" and fe.method == "ladder"
    d = fe.details
    assert isinstance(d, LogPartition) and d.levels[0] == 0.0 and d.levels[-1] == 2.0
    assert d.min_swap_rate > 0.2, d.swap_rate
    assert 0.0 < fe.log_z_stderr < 0.03, d
    assert abs(fe.log_z - exact.log_z) < 3 * fe.log_z_stderr, (fe.log_z, exact.log_z, d)
    # the same background and the same (exact) <L>: F differs only through N log z
    assert fe.value - exact.value == pytest.approx(-WIDTH * (fe.log_z - exact.log_z), abs=1e-6)
    assert abs(fe.value - exact.value) < 3 * fe.stderr
    # the replicas at the target hold the droplet basins with their weight (binomial 0.02)
    zb, _, mass = _basins(problem, sol.background)
    frac = float(jnp.mean(jnp.abs(d.replicas[:, 0]) > zb))
    assert abs(frac - mass) < 0.1, (frac, mass)


def test_ladder_is_precise_on_a_law_close_to_its_prior():
    """Weak tilt (erf, log z = 0.0079): the warped pairs make the ladder exact to ~1e-5."""
    task = mf.finite_dataset(np.linspace(-1, 1, 6)[:, None], np.linspace(-1, 1, 6))
    problem = mf.BayesianProblem(task, mf.Erf(), width=100.0, noise=0.1)
    sol = mf.solve(problem, mf.FixedPoint(foreground=mf.Grid()), progress=False)
    exact = mf.Grid().log_partition(problem, sol.background)
    est = log_partition_ladder(problem, sol.background, Ladder(n_particles=256, n_sweeps=100),
                               key=1)
    assert est.n_warped >= 1
    assert abs(est.value - exact) < max(3 * est.stderr, 1e-4), (est.value, exact, est)
    assert est.stderr < 1e-2


def test_method_selection_and_arguments():
    task = mf.finite_dataset(np.linspace(-1, 1, 4)[:, None], np.linspace(-1, 1, 4))
    problem = mf.BayesianProblem(task, mf.Erf(), width=10.0, noise=0.1)
    grid = mf.solve(problem, mf.FixedPoint(foreground=mf.Grid(n_points=101)), progress=False)
    cloud = mf.solve(problem, mf.FixedPoint(n_particles=64, max_iterations=5), key=0,
                     throw=False, progress=False)
    # legacy callers (n_strengths/n_steps) keep the thermodynamic integration
    assert mf.free_energy(cloud, n_strengths=2, n_steps=5).method == "thermodynamic_integration"
    small = {"n_particles": 32, "n_sweeps": 4, "burn_in": 0, "chunk": 2, "n_groups": 4}
    assert mf.free_energy(cloud, ladder=small).method == "ladder"
    assert mf.free_energy(grid).method == "grid"
    assert mf.free_energy(grid, method="ladder", ladder=Ladder(**small)).method == "ladder"
    with pytest.raises(ValueError, match="method"):
        mf.free_energy(cloud, method="exact")
    with pytest.raises(ValueError, match="Grid"):
        mf.free_energy(cloud, method="grid")
    with pytest.raises(ValueError, match="nodes"):
        mf.free_energy(grid, method="thermodynamic_integration")
    with pytest.raises(ValueError, match="ladder"):
        mf.free_energy(cloud, ladder=3)
    with pytest.raises(ValueError, match="overlap"):
        Ladder(overlap=1.0)
    with pytest.raises(ValueError, match="n_groups"):
        Ladder(n_particles=8, n_groups=16)


@pytest.mark.slow
def test_particle_solutions_of_the_bimodal_neuron_ladder_against_grid():
    """Three tempered particle solutions: the ladder's log z at each solution's own background
    equals the grid's there within its error bar (and within 0.03); the older thermodynamic
    integration is printed, to show its miss. Measured (seeds 0-2): grid 0.3957, 0.4355, 0.4794;
    ladder 0.3879 +- 0.0040, 0.4366 +- 0.0034, 0.4757 +- 0.0053; thermodynamic integration
    1.2742 +- 0.0186, 1.3237 +- 0.0176, 1.3030 +- 0.0175 (a miss of 0.82-0.89, ~48 of its error
    bars; in F -46 against the ladder's +0.4, -0.06, +0.2)."""
    problem = _problem()
    solver = mf.FixedPoint(n_particles=4096,
                           foreground=mf.Tempering(n_levels=12, beta_min=0.02, n_steps=100,
                                                   swap_every=5, step_size=1.0),
                           mixing=mf.Damped(0.5), max_iterations=60, rtol=1e-3)
    for seed in range(3):
        sol = mf.solve(problem, solver, key=seed, throw=False, progress=False)
        assert sol.usable, sol.status
        exact = GRID.log_partition(problem, sol.background)
        fe = mf.free_energy(sol, key=10 + seed)
        ti = mf.free_energy(sol, key=10 + seed, method="thermodynamic_integration")
        lw = np.asarray(log_weight_per_particle(problem, sol.particles.theta, sol.background))
        f_exact = -(float(problem.log_likelihood_term(sol.field)) + WIDTH * exact) \
            + WIDTH * float(np.sum(np.asarray(sol.particles.weights) * lw))
        print(f"seed {seed}: log z grid {exact:.4f} ladder {fe.log_z:.4f} +- "
              f"{fe.log_z_stderr:.4f} TI {ti.log_z:.4f} +- {ti.log_z_stderr:.4f}; F grid "
              f"{f_exact:.2f} ladder {fe.value:.2f} TI {ti.value:.2f}")
        assert abs(fe.log_z - exact) < 3 * fe.log_z_stderr, (fe.log_z, exact, fe.details)
        assert fe.log_z_stderr < 0.03
        assert abs(fe.value - f_exact) == pytest.approx(WIDTH * abs(fe.log_z - exact), abs=1e-6)
