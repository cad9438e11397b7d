"""Particles: an ensemble of neurons theta_i with weights omega_i.

A sampled cloud has omega_i = 1/M; a grid (the exact low-dimensional reference) has omega_i
proportional to the density at each grid point times the cell volume. Every average over the
neuron distribution rho is then

    <g>_rho ≈ sum_i omega_i g(theta_i).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float


class Particles(eqx.Module):
    """Neuron parameters `theta` (M, p) with averaging weights (M,) summing to one."""

    theta: Float[Array, "m p"]
    weights: Float[Array, " m"]

    @classmethod
    def uniform(cls, theta) -> "Particles":
        theta = jnp.asarray(theta)
        m = theta.shape[0]
        return cls(theta, jnp.full((m,), 1.0 / m, dtype=theta.dtype))

    @property
    def n_particles(self) -> int:
        return int(self.theta.shape[0])

    def average(self, values):
        """Weighted average over particles of `values` with leading axis M."""
        return jnp.tensordot(self.weights.astype(values.dtype), values, axes=1)

    def groups(self, n_groups: int) -> list["Particles"]:
        """Split into contiguous groups (for batch-means error bars), each renormalised."""
        m = self.n_particles
        size = m // n_groups
        out = []
        for g in range(n_groups):
            sl = slice(g * size, (g + 1) * size)
            w = self.weights[sl]
            out.append(Particles(self.theta[sl], w / jnp.sum(w)))
        return out
