"""Particles: an ensemble of neurons theta_i with weights omega_i.

A sampled cloud has omega_i = 1/M; a grid (the exact low-dimensional reference) has omega_i
proportional to the density at each grid point times the cell volume. Every average over the
neuron distribution rho is then

    <g>_rho ≈ sum_i omega_i g(theta_i).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
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

    def shard(self, devices=None) -> "Particles":
        """Spread the particles over `devices` (default: all of `jax.devices()`) along M.

        Every per-particle computation (the foreground step) then runs where its particles live,
        and averages over particles (the kernel) become cross-device reductions; jit propagates
        the sharding, so the whole fixed-point iteration stays distributed. Sums are taken in a
        different order than on one device, so a sharded run agrees with a single-device run to
        rounding at each step and within Monte-Carlo error over a whole Langevin solve (a
        Metropolis chain amplifies rounding differences), exactly for a grid.

        Raises:
            ValueError: M is not a multiple of the number of devices.
        """
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        devices = list(jax.devices() if devices is None else devices)
        m = self.n_particles
        if not devices or m % len(devices):
            raise ValueError(
                f"n_particles = {m} must be a positive multiple of the number of devices "
                f"({len(devices)}) to shard the particles; use n_particles = "
                f"{max(1, round(m / max(len(devices), 1))) * max(len(devices), 1)}")
        mesh = Mesh(np.asarray(devices), ("particles",))
        return Particles(
            jax.device_put(self.theta, NamedSharding(mesh, PartitionSpec("particles", None))),
            jax.device_put(self.weights, NamedSharding(mesh, PartitionSpec("particles"))),
        )
