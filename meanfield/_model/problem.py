r"""`AbstractProblem`: what the fixed-point iteration needs to know about a mean-field theory.

A mean-field problem describes one neuron (a particle theta in R^p) moving in a field that the
whole cloud of neurons creates. In the notation of physics.md section 4:

    field      F[rho]   = measure(particles)       (kernel Q, or the network output f_rho)
    background B(F)     = background(field)        (what the foreground sees, frozen)
    energy     U(theta) = energy(theta, B)         (the single-neuron action; law exp(-U))

and the fixed point is F = measure(particles ~ exp(-U(.; B(F)))). `solve` drives any subclass
through these five members; it does not ask which subclass it has.

Subclasses: `BayesianProblem` (posterior ensemble, kernel field) and `TrainingProblem`
(gradient flow / Langevin training, output field).
"""

from __future__ import annotations

import abc

import equinox as eqx

from .particles import Particles


class AbstractProblem(eqx.Module):
    """The interface `solve` drives (module docstring)."""

    @property
    @abc.abstractmethod
    def n_params(self) -> int:
        """p, the number of parameters of one neuron (the particles' dimension)."""

    @abc.abstractmethod
    def init_particles(self, key, n_particles: int) -> Particles:
        """The initial cloud of `n_particles` equally weighted particles."""

    @abc.abstractmethod
    def energy(self, theta, background, strength=1.0):
        """U(theta) of one particle against the frozen `background`, with the non-prior part
        scaled by `strength` (1: the action itself; 0: the prior alone)."""

    @abc.abstractmethod
    def measure(self, particles: Particles):
        """The field the iteration mixes, measured on the weighted particles."""

    @abc.abstractmethod
    def background(self, field):
        """The frozen background the foreground sees, from a field."""

    def field_is_admissible(self, field) -> bool:
        """Whether a mixed field may be used as the next iterate (every field, unless a subclass
        restricts it); when not, `solve` falls back to the damped step."""
        return True
