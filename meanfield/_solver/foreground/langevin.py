r"""`Langevin`: MALA (or ULA) sampling of the single-neuron law exp(-U), all particles at once.

    theta' = theta - (h/2) grad U(theta) + sqrt(h) xi,    xi ~ N(0, I),

accepted with probability min(1, exp(-U(theta') + U(theta)) q(theta|theta') / q(theta'|theta))
(the kernel is `mala.mala_step`, with one chain per particle); `metropolis=False` gives the
unadjusted Langevin algorithm (ULA). Between calls the step size h is adapted towards
`target_acceptance` by `mala.adapt_step_size` when `adapt=True` (Roberts & Rosenthal 1998: the
optimal MALA acceptance is about 0.574).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from ..._misc import check_fraction, check_integer, check_positive
from ..._model.particles import Particles
from .base import AbstractForeground
from .mala import (MALAState, adapt_step_size, mala_chain, mala_init, scale_potential, scale_state,
                   unscale_state)


class LangevinState(eqx.Module):
    step_size: jax.Array


class Langevin(AbstractForeground):
    """MALA (or ULA) sampling of exp(-U), all particles in parallel.

    Attributes:
        step_size: initial h (in the problem's coordinates; whitened for Bayesian problems).
        n_steps: Langevin steps per call (per fixed-point iteration).
        metropolis: apply the Metropolis correction (MALA); False gives ULA.
        adapt: adapt h between calls towards `target_acceptance` (MALA only).
        target_acceptance: the acceptance rate the adaptation aims at.

    Example (particles of a frozen background, moved by one call):
        >>> import meanfield as mf, numpy as np, jax
        >>> task = mf.finite_dataset(np.linspace(-1, 1, 4)[:, None], np.linspace(-1, 1, 4))
        >>> problem = mf.BayesianProblem(task, mf.Erf(), width=10.0, noise=0.1)
        >>> fg = mf.Langevin(n_steps=10)
        >>> particles, state = fg.init(problem, jax.random.PRNGKey(0), 64)
        >>> bg = problem.background(problem.measure(particles))
        >>> particles, state, info = fg.run(problem, particles, bg, jax.random.PRNGKey(1), state)
        >>> particles.theta.shape, 0.0 < info["acceptance"] <= 1.0
        ((64, 1), True)
    """

    step_size: float = 0.1
    n_steps: int = 50
    metropolis: bool = eqx.field(static=True, default=True)
    adapt: bool = eqx.field(static=True, default=True)
    target_acceptance: float = 0.6
    stochastic = True
    name = "langevin"

    def __check_init__(self):
        check_positive("step_size", self.step_size)
        check_integer("n_steps", self.n_steps)
        check_fraction("target_acceptance", self.target_acceptance)

    def init(self, problem, key, n_particles: int):
        particles = problem.init_particles(key, n_particles)
        return particles, LangevinState(jnp.asarray(self.step_size, dtype=jnp.float64))

    def run(self, problem, particles, background, key, state, strength=1.0):
        theta, accept = langevin_steps(
            problem, particles.theta, background, key, state.step_size, strength,
            n_steps=self.n_steps, metropolis=self.metropolis,
        )
        acceptance = float(accept)
        h = state.step_size
        if self.metropolis and self.adapt:
            h = adapt_step_size(h, acceptance, self.target_acceptance)
        info = {"acceptance": acceptance, "step_size": float(state.step_size)}
        return Particles(theta, particles.weights), LangevinState(jnp.asarray(h)), info


@eqx.filter_jit
def langevin_steps(problem, theta, background, key, step_size, strength, *, n_steps,
                   metropolis, beta=1.0):
    """`n_steps` MALA steps of every particle (rows of theta) under beta U; returns the moved
    particles and the fraction of moves taken."""

    def energy(t):
        return beta * problem.energy(t, background, strength)

    value_and_grad = jax.vmap(jax.value_and_grad(energy))
    state, _, taken = mala_chain(value_and_grad, mala_init(value_and_grad, theta), key,
                                 step_size, n_steps, metropolis=metropolis)
    return state.position, taken


def energy_value_and_grad(problem, background, strength):
    """theta (M, p) -> (U (M,), grad U (M, p)): the energy of every particle (row) and its
    gradient."""
    return jax.vmap(jax.value_and_grad(lambda t: problem.energy(t, background, strength)))


@eqx.filter_jit
def langevin_chain(problem, state: MALAState, background, key, step_size, strength, *, n_steps,
                   metropolis, beta=1.0):
    """`langevin_steps` from a state of U whose value and gradient are known: state =
    MALAState(theta, U (M,), grad U (M, p)), unscaled. Evaluates nothing at the start (the
    chain under beta U starts from beta U and beta grad U) and returns the final state of U,
    with its value and gradient, and the fraction of moves taken; so a caller that changes beta
    between calls (tempering) evaluates U once per proposal only."""
    value_and_grad = scale_potential(energy_value_and_grad(problem, background, strength), beta)
    state, _, taken = mala_chain(value_and_grad, scale_state(state, beta), key, step_size,
                                 n_steps, metropolis=metropolis, has_aux=True)
    return unscale_state(state), taken
