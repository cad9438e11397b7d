r"""`Grid`: the exact reference for low-dimensional neurons.

Particles are the nodes of a uniform grid on [-extent, extent]^p and their weights are exp(-U)
times the cell volume, normalised,

    omega_g = exp(-U(theta_g)) / sum_g' exp(-U(theta_g')),

so every average over the single-neuron law is a quadrature with no Monte-Carlo noise.

The extent adapts: whenever more than `boundary_tolerance` of the probability lies on the
outermost shell, the grid grows by a factor 1.5 per axis at the same spacing (so the
quadrature's accuracy is kept), until the mass is inside or the node count would exceed
`max_nodes`; then it raises, naming the extent it needed and the memory it would take. Shells
that hold less than a tenth of the tolerance are dropped again (never below `extent`), so a
grid grown for a wide intermediate iterate shrinks back.
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
            it the grid grows (module docstring).
        max_nodes: the most nodes the grid may grow to (all axes together); beyond, `run`
            raises with the extent that would be needed.

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
    max_nodes: int = 2**20
    stochastic = False
    name = "grid"

    def __check_init__(self):
        check_integer("n_points", self.n_points, minimum=3)
        check_positive("extent", self.extent)
        check_integer("max_nodes", self.max_nodes, minimum=3)

    @property
    def spacing(self) -> float:
        return 2.0 * self.extent / (self.n_points - 1)

    def nodes(self, dim: int, extent: float | None = None):
        """(nodes (n^dim, dim), cell volume) of the grid on [-extent, extent]^dim at this
        grid's spacing (default extent: `self.extent`, with `n_points` per axis)."""
        if dim > 2:
            raise ValueError(
                f"Grid integrates neurons with at most 2 parameters, this problem has {dim}; "
                "use Langevin() instead"
            )
        if extent is None or extent == self.extent:
            extent, n = self.extent, self.n_points
        else:
            n = 2 * int(np.ceil(extent / self.spacing)) + 1
            extent = 0.5 * (n - 1) * self.spacing
        if n**dim > self.max_nodes:
            raise ValueError(
                f"Grid would need {n}^{dim} = {n**dim} nodes (extent {extent:.3g} at spacing "
                f"{self.spacing:.3g}; about {n**dim * 8 * (dim + 2) / 2**20:.0f} MiB of nodes "
                f"and weights) but max_nodes is {self.max_nodes}: the single-neuron law is too "
                "wide for this grid; raise max_nodes, coarsen it (fewer n_points), or use "
                "Langevin()")
        axis = np.linspace(-extent, extent, n)
        pts = np.array(list(itertools.product(axis, repeat=dim)), dtype=np.float64)
        cell = (axis[1] - axis[0]) ** dim
        return jnp.asarray(pts), cell

    def _fit(self, problem, theta, background, strength):
        """(nodes, normalised weights, log density, boundary mass) on a grid grown until the
        outer shell holds at most `boundary_tolerance` of the probability."""
        while True:
            log_p = self.log_density(problem, theta, background, strength)
            if not bool(jnp.all(jnp.isfinite(log_p))):
                raise FloatingPointError("the single-neuron action is not finite on the grid")
            w = jnp.exp(log_p - jnp.max(log_p))
            w = w / jnp.sum(w)
            extent = float(jnp.max(jnp.abs(theta)))
            edge = jnp.max(jnp.abs(theta), axis=-1) >= extent * (1 - 1e-9)
            edge_mass = float(jnp.sum(jnp.where(edge, w, 0.0)))
            if edge_mass <= self.boundary_tolerance:
                return self._shrink(theta, w, log_p, edge_mass)
            dim = theta.shape[-1]
            widest = 0.5 * (_largest_odd(self.max_nodes ** (1.0 / dim)) - 1) * self.spacing
            grown = 1.5 * extent
            if grown > widest and widest > extent * (1 + 1e-9):
                grown = widest  # the widest grid within max_nodes, before giving up
            theta, _ = self.nodes(dim, grown)

    def _shrink(self, theta, w, log_p, edge_mass):
        """Drop outer shells (down to `extent`) that hold less than a tenth of the tolerance, so
        that a grid grown for a wide intermediate law does not stay large."""
        radius = jnp.max(jnp.abs(theta), axis=-1)
        extent = float(jnp.max(radius))
        while extent / 1.5 >= self.extent * (1 + 1e-9):
            n = 2 * int(np.ceil(extent / 1.5 / self.spacing)) + 1
            inner = 0.5 * (n - 1) * self.spacing
            if inner >= extent * (1 - 1e-9):
                break
            if float(jnp.sum(jnp.where(radius >= inner * (1 - 1e-9), w, 0.0))) \
                    > 0.1 * self.boundary_tolerance:
                break
            keep = np.flatnonzero(np.asarray(radius) <= inner * (1 + 1e-9))
            theta, w, log_p, radius = theta[keep], w[keep], log_p[keep], radius[keep]
            w = w / jnp.sum(w)
            edge_mass = float(jnp.sum(jnp.where(radius >= inner * (1 - 1e-9), w, 0.0)))
            extent = inner
        return theta, w, log_p, edge_mass

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
        theta, w, _, edge_mass = self._fit(problem, particles.theta, background, strength)
        return Particles(theta, w), state, {"boundary_mass": edge_mass,
                                            "extent": float(jnp.max(jnp.abs(theta)))}

    def log_partition(self, problem, background, strength=1.0):
        """log E_prior exp(-strength * interaction): the single-neuron partition function.

        The prior is N(0, I) in the problem's coordinates, so log z = log sum_g cell *
        (2 pi)^{-p/2} exp(-U(theta_g)).
        """
        theta, _, log_p, _ = self._fit(problem, self.nodes(problem.n_params)[0], background,
                                       strength)
        cell = self.spacing ** theta.shape[1]
        p = theta.shape[1]
        return float(jax.scipy.special.logsumexp(log_p) + np.log(cell) - 0.5 * p * np.log(2 * np.pi))


def _largest_odd(x: float) -> int:
    n = int(np.floor(x + 1e-9))
    return n if n % 2 else n - 1


@eqx.filter_jit
def _grid_energy(problem, theta, background, strength):
    # in batches of nodes, so that a grown grid's (nodes x data) features fit in memory
    return jax.lax.map(lambda t: problem.energy(t, background, strength), theta,
                       batch_size=min(theta.shape[0], 16384))
