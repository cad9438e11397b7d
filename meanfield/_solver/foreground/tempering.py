r"""`Tempering`: replica exchange (parallel tempering) in temperature, all particles at once.

Each level k of a geometric ladder beta_0 < ... < beta_{L-1} = 1 samples exp(-beta_k U) with the
MALA kernel (`langevin.langevin_chain`); neighbouring levels exchange states with probability
min(1, exp((beta_{k+1} - beta_k) (U(theta_{k+1}) - U(theta_k)))).

The unscaled U and grad U of every replica are evaluated once per call and then carried: through
the MALA blocks (the state of the last accepted proposal) and through the swaps (exchanged with
the positions), so a call costs n_steps + 1 evaluations, not n_steps + 2 per block.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..._misc import check_fraction, check_integer, check_positive
from ..._model.particles import Particles
from .base import AbstractForeground
from .langevin import energy_value_and_grad, langevin_chain
from .mala import MALAState, adapt_step_size


class TemperingState(eqx.Module):
    replicas: jax.Array  # (L - 1, M, p): the particles at the strengths below the top
    step_size: jax.Array  # (L,): MALA step size per level


class Tempering(AbstractForeground):
    r"""Replica exchange (parallel tempering) in temperature, all particles at once.

    The single-neuron law exp(-U) can have several basins (a GP-like one near the prior and
    "droplets" of specialised neurons far from it, separated by a barrier). MALA moves particles
    within a basin but not across a high barrier, so the *weights* of the basins would stay
    whatever the initial cloud gave them: a silently wrong neuron distribution. Tempering fixes
    this. Each particle has L replicas at inverse temperatures beta_min = beta_0 < ... <
    beta_{L-1} = 1, each sampling exp(-beta_k U) by MALA; every `swap_every` steps neighbouring
    levels (alternately the even and the odd pairs) exchange their states with probability

        min(1, exp((beta_{k+1} - beta_k) (U(theta_{k+1}) - U(theta_k)))),

    which leaves the product of the L laws invariant (Swendsen & Wang 1986; Geyer 1991). At small
    beta the barriers are low (beta times their height), so replicas cross there and are handed up
    the ladder, refilling every basin of the top level in proportion to its true weight. Only the
    top level (beta = 1) is returned as the particles. The ladder is geometric; neighbouring levels
    must overlap (the `swap_rate` in the run info should stay well above zero).

    (Tempering in the coupling strength alone, prior fixed, does not work for this purpose: the
    droplet basin then appears through a first-order transition in the strength, at which the
    barrier is still present.)

    Attributes:
        n_levels: L, the number of temperatures (>= 2).
        beta_min: the lowest inverse temperature, in (0, 1).
        step_size: initial MALA step size at every level (adapted per level).
        n_steps: MALA steps per call at every level.
        swap_every: MALA steps between exchange attempts.
        target_acceptance: MALA acceptance the per-level step-size adaptation aims at.

    Example (4 levels; the info reports the swap rate of each neighbouring pair):
        >>> import meanfield as mf, numpy as np, jax
        >>> task = mf.finite_dataset(np.linspace(-1, 1, 4)[:, None], np.linspace(-1, 1, 4))
        >>> problem = mf.BayesianProblem(task, mf.Erf(), width=10.0, noise=0.1)
        >>> fg = mf.Tempering(n_levels=4, n_steps=10)
        >>> particles, state = fg.init(problem, jax.random.PRNGKey(0), 64)
        >>> bg = problem.background(problem.measure(particles))
        >>> particles, state, info = fg.run(problem, particles, bg, jax.random.PRNGKey(1), state)
        >>> len(info["swap_rate"]), state.replicas.shape
        (3, (3, 64, 1))

    Reference: Earl & Deem, "Parallel tempering: theory, applications, and new perspectives",
    Phys. Chem. Chem. Phys. 7, 3910 (2005).
    """

    n_levels: int = 8
    beta_min: float = 0.05
    step_size: float = 0.1
    n_steps: int = 50
    swap_every: int = 5
    target_acceptance: float = 0.6
    stochastic = True
    name = "tempering"

    def __check_init__(self):
        check_integer("n_levels", self.n_levels, minimum=2,
                      hint=" (a ladder needs at least 2 temperatures)")
        check_fraction("beta_min", self.beta_min)
        check_positive("step_size", self.step_size)
        check_integer("n_steps", self.n_steps)
        check_integer("swap_every", self.swap_every)
        if self.n_steps % self.swap_every:
            raise ValueError(f"n_steps ({self.n_steps}) must be a multiple of swap_every "
                             f"({self.swap_every})")
        check_fraction("target_acceptance", self.target_acceptance)

    def ladder(self) -> np.ndarray:
        """The inverse temperatures beta_0 = beta_min < ... < beta_{L-1} = 1 (geometric)."""
        return np.geomspace(self.beta_min, 1.0, self.n_levels)

    def init(self, problem, key, n_particles: int):
        keys = jax.random.split(key, self.n_levels)
        particles = problem.init_particles(keys[-1], n_particles)
        replicas = jnp.stack([problem.init_particles(k, n_particles).theta for k in keys[:-1]])
        h = jnp.full((self.n_levels,), self.step_size, dtype=jnp.float64)
        return particles, TemperingState(replicas, h)

    def run(self, problem, particles, background, key, state, strength=1.0):
        betas = jnp.asarray(self.ladder())
        theta = jnp.concatenate([state.replicas, particles.theta[None]], axis=0)
        theta, accept, swaps = _tempered(problem, theta, background, key, state.step_size, betas,
                                         strength,
                                         n_blocks=self.n_steps // self.swap_every,
                                         block_steps=self.swap_every)
        accept = np.asarray(accept)
        h = adapt_step_size(state.step_size, accept, self.target_acceptance)
        info = {"acceptance": float(accept[-1]), "step_size": float(state.step_size[-1]),
                "level_acceptance": accept.tolist(), "swap_rate": np.asarray(swaps).tolist()}
        return (Particles(theta[-1], particles.weights),
                TemperingState(theta[:-1], h), info)


def exchange_neighbours(theta, log_ratio, active, key):
    """One replica-exchange move between neighbouring levels: the pair (k, k+1) of an `active`
    (L-1,) row swaps its states particle by particle where log u < log_ratio (L-1, M). A state
    is theta (L, M, p), or any pytree of (L, M, ...) arrays swapped together (e.g. a `MALAState`:
    the positions with their U and grad U); u is drawn in the dtype of its first leaf. Returns
    (theta, the swap rate per pair, 0 where inactive)."""
    dtype = jax.tree_util.tree_leaves(theta)[0].dtype
    u = jax.random.uniform(key, log_ratio.shape, dtype=dtype)
    take = active[:, None] & (jnp.log(u) < log_ratio)  # (L-1, M)
    none = jnp.zeros((1, take.shape[1]), dtype=bool)
    up = jnp.concatenate([take, none], axis=0)  # level k takes k+1's state
    down = jnp.concatenate([none, take], axis=0)  # level k+1 takes k's state

    def swap(a):
        tail = (1,) * (a.ndim - 2)
        return jnp.where(up.reshape(up.shape + tail), jnp.roll(a, -1, axis=0),
                         jnp.where(down.reshape(down.shape + tail), jnp.roll(a, 1, axis=0), a))

    theta = jax.tree_util.tree_map(swap, theta)
    return theta, jnp.where(active, jnp.mean(take.astype(dtype), axis=1), 0.0)


@eqx.filter_jit
def _tempered(problem, theta, background, key, step_size, betas, strength, *, n_blocks,
              block_steps):
    n_levels = theta.shape[0]

    def mala_level(state, k, h, beta):
        return langevin_chain(problem, state, background, k, h, strength, n_steps=block_steps,
                              metropolis=True, beta=beta)

    def block(carry, k):
        st, acc, swp, parity = carry
        k_move, k_swap = jax.random.split(k)
        st, a = jax.vmap(mala_level)(st, jax.random.split(k_move, n_levels), step_size, betas)
        # exchange pairs (k, k+1) with k of the current parity, with the carried U (L, M):
        # log alpha = (beta_{k+1} - beta_k) (U(theta_{k+1}) - U(theta_k))
        active = (jnp.arange(n_levels - 1) % 2) == parity
        log_ratio = (betas[1:] - betas[:-1])[:, None] * (st.value[1:] - st.value[:-1])
        st, rate = exchange_neighbours(st, log_ratio, active, k_swap)
        return (st, acc + a, swp + rate, 1 - parity), None

    # U and grad U of every replica, evaluated once and carried through blocks and swaps
    u, g = jax.vmap(energy_value_and_grad(problem, background, strength))(theta)
    keys = jax.random.split(key, n_blocks)
    init = (MALAState(theta, u, g), jnp.zeros((n_levels,), theta.dtype),
            jnp.zeros((n_levels - 1,), theta.dtype), jnp.asarray(0))
    (state, acc, swp, _), _ = jax.lax.scan(block, init, keys)
    theta = state.position
    # pair k is tried in the blocks whose parity is k % 2
    n_tries = jnp.asarray([max((n_blocks + 1 - (k % 2)) // 2, 1) for k in range(n_levels - 1)],
                          dtype=theta.dtype)
    return theta, acc / n_blocks, swp / n_tries
