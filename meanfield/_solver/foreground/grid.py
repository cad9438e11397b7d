r"""`Grid`: the exact reference for low-dimensional neurons.

Particles are the nodes of a uniform grid on [-extent, extent]^p and their weights are exp(-U)
times the cell volume, normalised,

    omega_g = exp(-U(theta_g)) / sum_g' exp(-U(theta_g')),

so every average over the single-neuron law is a quadrature with no Monte-Carlo noise.
"""

from __future__ import annotations

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..._misc import check_integer, check_positive
from ..._model.particles import Particles
from .base import AbstractForeground


class Grid(AbstractForeground):
    """Exact single-neuron law on a uniform grid (for p <= 2 parameters per neuron).

    Attributes:
        n_points: grid points per axis.
        extent: the grid covers [-extent, extent] per axis (in the problem's coordinates;
            whitened for Bayesian problems, where the prior has unit variance).
        boundary_tolerance: largest allowed probability mass in the outermost grid shell; above
            it the grid is too small and `run` raises.

    Example (the exact law of a 1-parameter neuron; weights sum to one):
        >>> import meanfield as mf, numpy as np
        >>> task = mf.finite_dataset(np.linspace(-1, 1, 4)[:, None], np.linspace(-1, 1, 4))
        >>> problem = mf.BayesianProblem(task, mf.Erf(), width=10.0, noise=0.1)
        >>> sol = mf.solve(problem, mf.FixedPoint(foreground=mf.Grid(n_points=101)),
        ...                progress=False)
        >>> sol.particles.n_particles, round(float(sol.particles.weights.sum()), 12)
        (101, 1.0)
    """

    n_points: int = 201
    extent: float = 6.0
    boundary_tolerance: float = 1e-7
    stochastic = False
    name = "grid"

    def __check_init__(self):
        check_integer("n_points", self.n_points, minimum=3)
        check_positive("extent", self.extent)

    def nodes(self, dim: int):
        if dim > 2:
            raise ValueError(
                f"Grid integrates neurons with at most 2 parameters, this problem has {dim}; "
                "use Langevin() instead"
            )
        axis = np.linspace(-self.extent, self.extent, self.n_points)
        pts = np.array(list(itertools.product(axis, repeat=dim)), dtype=np.float64)
        cell = (axis[1] - axis[0]) ** dim
        return jnp.asarray(pts), cell

    def init(self, problem, key, n_particles: int):
        theta, _ = self.nodes(problem.n_params)
        m = theta.shape[0]
        return Particles(theta, jnp.full((m,), 1.0 / m)), None

    def start(self, problem, particles, state, field, key, *, burn_in: int, measure):
        """The grid's initial weights are uniform: start from the prior law instead (the
        weights at strength 0) and measure the field there; `burn_in` does not apply."""
        particles, state, _ = self.run(problem, particles, problem.background(field), None,
                                       state, strength=0.0)
        return particles, state, measure(particles)

    def log_density(self, problem, theta, background, strength=1.0):
        return -_grid_energy(problem, theta, background, strength)

    def run(self, problem, particles, background, key, state, strength=1.0):
        log_p = self.log_density(problem, particles.theta, background, strength)
        if not bool(jnp.all(jnp.isfinite(log_p))):
            raise FloatingPointError("the single-neuron action is not finite on the grid")
        w = jnp.exp(log_p - jnp.max(log_p))
        w = w / jnp.sum(w)
        edge = jnp.max(jnp.abs(particles.theta), axis=-1) >= self.extent * (1 - 1e-9)
        edge_mass = float(jnp.sum(jnp.where(edge, w, 0.0)))
        if edge_mass > self.boundary_tolerance:
            raise ValueError(
                f"Grid(extent={self.extent}) is too small: {edge_mass:.2e} of the probability "
                f"lies on its boundary (tolerance {self.boundary_tolerance:.0e}); increase extent"
            )
        return Particles(particles.theta, w), state, {"boundary_mass": edge_mass}

    def log_partition(self, problem, background, strength=1.0):
        """log E_prior exp(-strength * interaction): the single-neuron partition function.

        The prior is N(0, I) in the problem's coordinates, so log z = log sum_g cell *
        (2 pi)^{-p/2} exp(-U(theta_g)).
        """
        theta, cell = self.nodes(problem.n_params)
        log_p = self.log_density(problem, theta, background, strength)
        p = theta.shape[1]
        return float(jax.scipy.special.logsumexp(log_p) + np.log(cell) - 0.5 * p * np.log(2 * np.pi))


@eqx.filter_jit
def _grid_energy(problem, theta, background, strength):
    return jax.vmap(lambda t: problem.energy(t, background, strength))(theta)
