r"""Foregrounds: how particles move against a frozen background.

Each foreground is an immutable configuration with a pure `init`/`run` pair (Optax style):

    particles, state = foreground.init(problem, key, n_particles)
    particles, state, info = foreground.run(problem, particles, background, key, state)

`run` moves all particles at once (vmap inside one jit-compiled `lax.scan`) under the energy
U(theta) = problem.energy(theta, background):

* `Langevin`: the Metropolis-adjusted Langevin algorithm (MALA) targeting exp(-U),

      theta' = theta - (h/2) grad U(theta) + sqrt(h) xi,    xi ~ N(0, I),

  accepted with probability min(1, exp(-U(theta') + U(theta)) q(theta|theta') / q(theta'|theta));
  `metropolis=False` gives the unadjusted Langevin algorithm (ULA). The step size h is adapted
  between calls towards `target_acceptance` when `adapt=True` (Roberts & Rosenthal 1998: the
  optimal MALA acceptance is about 0.574).
* `GradientDescent`: theta' = theta - lr grad U(theta) (zero temperature).
* `Grid`: the exact reference for low-dimensional neurons: particles are the nodes of a
  uniform grid on [-extent, extent]^p and their weights are exp(-U) times the cell volume,
  normalised. There is no Monte-Carlo noise.
"""

from __future__ import annotations

import itertools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._model.particles import Particles


def _check_positive(name, value, *, integer=False):
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float))
    if not ok or isinstance(value, bool) or not (value > 0) or value == float("inf"):
        kind = "a positive integer" if integer else "a finite positive number"
        raise ValueError(f"{name} must be {kind}, got {value!r}")


class LangevinState(eqx.Module):
    step_size: jax.Array


class Langevin(eqx.Module):
    """MALA (or ULA) sampling of exp(-U), all particles in parallel.

    Attributes:
        step_size: initial h (in the problem's coordinates; whitened for Bayesian problems).
        n_steps: Langevin steps per call (per fixed-point iteration).
        metropolis: apply the Metropolis correction (MALA); False gives ULA.
        adapt: adapt h between calls towards `target_acceptance` (MALA only).
        target_acceptance: the acceptance rate the adaptation aims at.
    """

    step_size: float = 0.1
    n_steps: int = 50
    metropolis: bool = eqx.field(static=True, default=True)
    adapt: bool = eqx.field(static=True, default=True)
    target_acceptance: float = 0.6
    stochastic = True
    name = "langevin"

    def __check_init__(self):
        _check_positive("step_size", self.step_size)
        _check_positive("n_steps", self.n_steps, integer=True)
        if not (0.0 < self.target_acceptance < 1.0):
            raise ValueError(
                f"target_acceptance must lie in (0, 1), got {self.target_acceptance!r}"
            )

    def init(self, problem, key, n_particles: int):
        particles = problem.init_particles(key, n_particles)
        return particles, LangevinState(jnp.asarray(self.step_size, dtype=jnp.float64))

    def run(self, problem, particles, background, key, state, strength=1.0):
        theta, accept = _mala(
            problem, particles.theta, background, key, state.step_size, strength,
            n_steps=self.n_steps, metropolis=self.metropolis,
        )
        acceptance = float(accept)
        h = state.step_size
        if self.metropolis and self.adapt:
            h = h * float(np.exp(np.clip(2.0 * (acceptance - self.target_acceptance), -1.0, 1.0)))
        info = {"acceptance": acceptance, "step_size": float(state.step_size)}
        return Particles(theta, particles.weights), LangevinState(jnp.asarray(h)), info


@eqx.filter_jit
def _mala(problem, theta, background, key, step_size, strength, *, n_steps, metropolis,
          beta=1.0):
    def energy(t):
        return beta * problem.energy(t, background, strength)

    value_and_grad = jax.vmap(jax.value_and_grad(energy))
    u0, g0 = value_and_grad(theta)
    h = step_size

    def step(carry, k):
        t, u, g, acc = carry
        k_noise, k_accept = jax.random.split(k)
        xi = jax.random.normal(k_noise, t.shape, dtype=t.dtype)
        prop = t - 0.5 * h * g + jnp.sqrt(h) * xi
        up, gp = value_and_grad(prop)
        finite = jnp.isfinite(up) & jnp.all(jnp.isfinite(gp), axis=-1)
        if metropolis:
            log_fwd = -0.5 * jnp.sum(xi**2, axis=-1)
            back = t - prop + 0.5 * h * gp
            log_bwd = -0.5 * jnp.sum(back**2, axis=-1) / h
            log_ratio = -(up - u) + log_bwd - log_fwd
            log_unif = jnp.log(jax.random.uniform(k_accept, u.shape, dtype=u.dtype))
            take = finite & (log_unif < log_ratio)
        else:
            # ULA accepts every move; a non-finite proposal is propagated so the solver sees it.
            take = jnp.ones_like(finite)
        t = jnp.where(take[:, None], prop, t)
        u = jnp.where(take, up, u)
        g = jnp.where(take[:, None], gp, g)
        return (t, u, g, acc + jnp.mean(take.astype(t.dtype))), None

    keys = jax.random.split(key, n_steps)
    (theta, _, _, acc), _ = jax.lax.scan(step, (theta, u0, g0, jnp.zeros((), theta.dtype)), keys)
    return theta, acc / n_steps


class GradientDescent(eqx.Module):
    """Zero-temperature foreground: plain gradient descent on U, all particles at once.

    Attributes:
        learning_rate: lr in theta' = theta - lr grad U.
        n_steps: steps per call.
    """

    learning_rate: float = 0.05
    n_steps: int = 100
    stochastic = True  # particles are drawn at random at init: groups still give error bars
    name = "gradient_descent"

    def __check_init__(self):
        _check_positive("learning_rate", self.learning_rate)
        _check_positive("n_steps", self.n_steps, integer=True)

    def init(self, problem, key, n_particles: int):
        return problem.init_particles(key, n_particles), None

    def run(self, problem, particles, background, key, state, strength=1.0):
        theta = _descend(problem, particles.theta, background, self.learning_rate, strength,
                         n_steps=self.n_steps)
        return Particles(theta, particles.weights), state, {}


@eqx.filter_jit
def _descend(problem, theta, background, lr, strength, *, n_steps):
    grad = jax.vmap(jax.grad(lambda t: problem.energy(t, background, strength)))

    def step(t, _):
        return t - lr * grad(t), None

    theta, _ = jax.lax.scan(step, theta, None, length=n_steps)
    return theta


class Grid(eqx.Module):
    """Exact single-neuron law on a uniform grid (for p <= 2 parameters per neuron).

    Attributes:
        n_points: grid points per axis.
        extent: the grid covers [-extent, extent] per axis (in the problem's coordinates;
            whitened for Bayesian problems, where the prior has unit variance).
        boundary_tolerance: largest allowed probability mass in the outermost grid shell; above
            it the grid is too small and `run` raises.
    """

    n_points: int = 201
    extent: float = 6.0
    boundary_tolerance: float = 1e-7
    stochastic = False
    name = "grid"

    def __check_init__(self):
        _check_positive("n_points", self.n_points, integer=True)
        _check_positive("extent", self.extent)
        if self.n_points < 3:
            raise ValueError(f"n_points must be at least 3, got {self.n_points!r}")

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


class TemperingState(eqx.Module):
    replicas: jax.Array  # (L - 1, M, p): the particles at the strengths below the top
    step_size: jax.Array  # (L,): MALA step size per level


class Tempering(eqx.Module):
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
        _check_positive("n_levels", self.n_levels, integer=True)
        if self.n_levels < 2:
            raise ValueError(f"n_levels must be at least 2, got {self.n_levels!r}")
        if not (isinstance(self.beta_min, (int, float)) and 0.0 < self.beta_min < 1.0):
            raise ValueError(f"beta_min must lie in (0, 1), got {self.beta_min!r}")
        _check_positive("step_size", self.step_size)
        _check_positive("n_steps", self.n_steps, integer=True)
        _check_positive("swap_every", self.swap_every, integer=True)
        if self.n_steps % self.swap_every:
            raise ValueError(f"n_steps ({self.n_steps}) must be a multiple of swap_every "
                             f"({self.swap_every})")
        if not (0.0 < self.target_acceptance < 1.0):
            raise ValueError(
                f"target_acceptance must lie in (0, 1), got {self.target_acceptance!r}")

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
        factor = np.exp(np.clip(2.0 * (accept - self.target_acceptance), -1.0, 1.0))
        h = state.step_size * jnp.asarray(factor)
        info = {"acceptance": float(accept[-1]), "step_size": float(state.step_size[-1]),
                "level_acceptance": accept.tolist(), "swap_rate": np.asarray(swaps).tolist()}
        return (Particles(theta[-1], particles.weights),
                TemperingState(theta[:-1], h), info)


@eqx.filter_jit
def _tempered(problem, theta, background, key, step_size, betas, strength, *, n_blocks,
              block_steps):
    n_levels = theta.shape[0]

    def energy(t):  # U per particle: (M, p) -> (M,)
        return jax.vmap(lambda x: problem.energy(x, background, strength))(t)

    def mala_level(t, k, h, beta):
        return _mala(problem, t, background, k, h, strength, n_steps=block_steps,
                     metropolis=True, beta=beta)

    def block(carry, k):
        th, acc, swp, parity = carry
        k_move, k_swap = jax.random.split(k)
        th, a = jax.vmap(mala_level)(th, jax.random.split(k_move, n_levels), step_size, betas)
        u_all = jax.vmap(energy)(th)  # (L, M)
        # exchange pairs (k, k+1) with k of the current parity:
        # log alpha = (beta_{k+1} - beta_k) (U(theta_{k+1}) - U(theta_k))
        active = (jnp.arange(n_levels - 1) % 2) == parity
        log_ratio = (betas[1:] - betas[:-1])[:, None] * (u_all[1:] - u_all[:-1])
        u = jax.random.uniform(k_swap, log_ratio.shape, dtype=th.dtype)
        take = active[:, None] & (jnp.log(u) < log_ratio)  # (L-1, M)
        none = jnp.zeros((1, th.shape[1]), dtype=bool)
        up = jnp.concatenate([take, none], axis=0)[..., None]  # level k takes k+1's state
        down = jnp.concatenate([none, take], axis=0)[..., None]  # level k+1 takes k's state
        th = jnp.where(up, jnp.roll(th, -1, axis=0), jnp.where(down, jnp.roll(th, 1, axis=0), th))
        rate = jnp.where(active, jnp.mean(take.astype(th.dtype), axis=1), 0.0)
        return (th, acc + a, swp + rate, 1 - parity), None

    keys = jax.random.split(key, n_blocks)
    init = (theta, jnp.zeros((n_levels,), theta.dtype), jnp.zeros((n_levels - 1,), theta.dtype),
            jnp.asarray(0))
    (theta, acc, swp, _), _ = jax.lax.scan(block, init, keys)
    # pair k is tried in the blocks whose parity is k % 2
    n_tries = jnp.asarray([max((n_blocks + 1 - (k % 2)) // 2, 1) for k in range(n_levels - 1)],
                          dtype=theta.dtype)
    return theta, acc / n_blocks, swp / n_tries
