r"""`AbstractForeground`: how particles move against a frozen background.

A foreground is an immutable configuration with a pure `init`/`run` pair (Optax style):

    particles, state = foreground.init(problem, key, n_particles)
    particles, state, info = foreground.run(problem, particles, background, key, state)

`run` moves all particles at once under the energy U(theta) = problem.energy(theta, background,
strength) and returns a dict of diagnostics (`acceptance`, `step_size`, ... where they apply).
`start` brings the initial cloud to the beginning of the fixed-point iteration; by default it
runs `burn_in` calls against the initial background, and the `Grid` overrides it.
`certificate` checks that a cloud is the law the foreground targets for the cloud's own field
(`meanfield._solver.certificate`): equipartition for the samplers of exp(-U) (the default),
stationarity for `GradientDescent`.

Subclasses: `Langevin`, `Tempering`, `GradientDescent`, `Grid`.
"""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp

from ..certificate import equipartition


class AbstractForeground(eqx.Module):
    """The interface `solve` drives (module docstring).

    Class attributes:
        stochastic: whether the particles carry Monte-Carlo noise (then `solve` measures the
            background's standard error from groups of particles and averages iterates).
        name: the foreground's name in configuration files.
    """

    stochastic: eqx.AbstractClassVar[bool]
    name: eqx.AbstractClassVar[str]

    @abc.abstractmethod
    def init(self, problem, key, n_particles: int):
        """(particles, state): the initial cloud and the foreground's own state."""

    @abc.abstractmethod
    def run(self, problem, particles, background, key, state, strength=1.0):
        """(particles, state, info): the particles moved against the frozen `background`, with
        the non-prior part of the action scaled by `strength`."""

    def start(self, problem, particles, state, field, key, *, burn_in: int, measure):
        """(particles, state, field) at the start of the iteration: `burn_in` calls of `run`
        against the background of the initial `field` (which is kept; `measure(particles)`
        would recompute it)."""
        for b in range(burn_in):
            bg = problem.background(jnp.asarray(field))
            particles, state, _ = self.run(problem, particles, bg, jax.random.fold_in(key, b),
                                           state)
        return particles, state, field

    def certificate(self, problem, particles, background, *, n_groups: int = 8,
                    n_chains: int | None = None) -> tuple[float, float]:
        """(c, standard error): how far `particles` are from the law this foreground targets
        for `background`. The default is the equipartition
        certificate of the Gibbs law exp(-U) that `Langevin`, `Tempering` (its beta = 1
        level) and `Grid` target."""
        return equipartition(problem, particles, background, n_groups=n_groups,
                             n_chains=n_chains)
