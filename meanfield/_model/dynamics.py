r"""Mean field of training dynamics (physics.md section 3).

Network in mean-field parameterisation, one particle theta_i = (w_i, a_i) per neuron::

    f(x) = (1/N) sum_i a_i phi(w_i . x)      ->      f_rho(x) = E_rho[a phi(w . x)],

loss 0.5 E_x |f - y|^2 + (lambda/2N) sum_i |theta_i|^2. Gradient flow in time rescaled by N moves
every particle in the same potential (Mei, Montanari & Nguyen 2018; Chizat & Bach 2018)

    Psi(theta; rho) = E_x[(f_rho(x) - y(x)) . a phi(w . x)] + (lambda/2) |theta|^2,

and with Langevin noise at temperature T the stationary law is rho ∝ exp(-Psi/T). The background
is the mean-field prediction f_rho on the training inputs (equivalently the residual f_rho - y).
The foreground energy is Psi at T = 0 (use `GradientDescent`) and Psi/T at T > 0 (use
`Langevin`, which then samples exp(-Psi/T)).

`train_network` trains a finite network of N particles jointly, in the same parameterisation:
every step recomputes the background from the particles themselves (the iteration with one
foreground step and no damping).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .activations import Activation
from .._data.data import Data, Task
from .particles import Particles
from .problem import AbstractProblem
from .._misc import MAX_COUNT, check_integer, check_positive


class ResidualBackground(eqx.Module):
    """Frozen background of the training-dynamics mean field."""

    prediction: Float[Array, "n c"]
    residual: Float[Array, "n c"]


class TrainingProblem(AbstractProblem):
    """Mean-field gradient flow (T = 0) or Langevin dynamics (T > 0) of a two-layer network.

    Attributes:
        task: data; the training split's weights define E_x.
        activation: phi.
        weight_decay: lambda.
        temperature: T (0 for gradient flow).
        init_w2: initial w ~ N(0, init_w2/d I).
        init_a2: initial a ~ N(0, init_a2 I_C).
    """

    task: Task
    activation: Activation
    weight_decay: float = 0.0
    temperature: float = 0.0
    init_w2: float = 1.0
    init_a2: float = 1.0

    def __check_init__(self):
        for name in ("weight_decay", "temperature"):
            check_positive(name, getattr(self, name), allow_zero=True)
        for name in ("init_w2", "init_a2"):
            check_positive(name, getattr(self, name))

    @property
    def data(self) -> Data:
        return self.task.train

    @property
    def n_params(self) -> int:
        return self.data.dim + self.data.n_outputs

    def split(self, theta):
        d = self.data.dim
        return theta[..., :d], theta[..., d:]

    def init_particles(self, key, n_particles: int) -> Particles:
        kw, ka = jax.random.split(key)
        d, c = self.data.dim, self.data.n_outputs
        w = jax.random.normal(kw, (n_particles, d), dtype=jnp.float64) * (self.init_w2 / d) ** 0.5
        a = jax.random.normal(ka, (n_particles, c), dtype=jnp.float64) * self.init_a2**0.5
        return Particles.uniform(jnp.concatenate([w, a], axis=1))

    def output(self, theta, x):
        """a phi(w . x) per particle: theta (M, p), x (n, d) -> (M, n, C)."""
        w, a = self.split(theta)
        return self.activation(w @ x.T)[:, :, None] * a[:, None, :]

    def potential(self, theta, background: ResidualBackground):
        """Psi(theta; rho) for one particle."""
        w, a = self.split(theta)
        phi = self.activation(self.data.project(w))  # (n,)
        drive = jnp.sum(self.data.weights[:, None] * background.residual * phi[:, None] * a[None, :])
        return drive + 0.5 * self.weight_decay * jnp.sum(theta**2)

    def energy(self, theta, background: ResidualBackground, strength=1.0):
        psi = self.potential(theta, background)
        return psi / self.temperature if self.temperature > 0 else psi

    def measure(self, particles: Particles):
        """f_rho on the training inputs: sum_i omega_i a_i phi(w_i . x)."""
        return particles.average(self.output(particles.theta, self.data.x))

    def background(self, prediction) -> ResidualBackground:
        return ResidualBackground(prediction, prediction - self.data.y)

    def predict(self, particles: Particles, background, x):
        x = jnp.asarray(x, dtype=jnp.float64)
        return particles.average(self.output(particles.theta, x))

    def loss(self, particles: Particles, data: Data | None = None) -> float:
        data = self.data if data is None else data
        f = self.predict(particles, None, data.x)
        return float(0.5 * jnp.sum(data.weights[:, None] * (f - data.y) ** 2))


class TrainingRun(eqx.Module):
    """Result of `train_network`: final particles and the loss trace."""

    particles: Particles
    losses: Float[Array, " steps"]


def train_network(problem: TrainingProblem, n_neurons: int, *, n_steps: int = 1000,
                  learning_rate: float = 0.1, key=0, particles: Particles | None = None,
                  record_every: int = 10) -> TrainingRun:
    """Train a finite network of `n_neurons` jointly in mean-field parameterisation.

    Each step is theta_i <- theta_i - lr grad_theta Psi(theta_i; rho_N) [+ sqrt(2 lr T) xi] with
    rho_N the network's own empirical neuron distribution, i.e. full-batch gradient descent
    (Langevin at T > 0) on the loss with learning rate lr * N in the network's own parameters.
    """
    check_integer("n_neurons", n_neurons, maximum=MAX_COUNT)
    check_integer("n_steps", n_steps, maximum=MAX_COUNT)
    check_positive("learning_rate", learning_rate)
    check_integer("record_every", record_every)
    k = jax.random.PRNGKey(key) if isinstance(key, int) else key
    k_init, k_run = jax.random.split(k)
    if particles is None:
        particles = problem.init_particles(k_init, n_neurons)
    theta, losses = _train(problem, particles, k_run, learning_rate, n_steps=n_steps,
                           record_every=record_every)
    return TrainingRun(Particles(theta, particles.weights), losses)


@eqx.filter_jit
def _train(problem, particles, key, lr, *, n_steps, record_every):
    weights = particles.weights
    grad = jax.vmap(jax.grad(problem.potential), in_axes=(0, None))
    temperature = problem.temperature

    def step(theta, k):
        f = jnp.tensordot(weights, problem.output(theta, problem.data.x), axes=1)
        bg = problem.background(f)
        theta = theta - lr * grad(theta, bg)
        if temperature > 0:
            theta = theta + jnp.sqrt(2 * lr * temperature) * jax.random.normal(k, theta.shape)
        loss = 0.5 * jnp.sum(problem.data.weights[:, None] * (f - problem.data.y) ** 2)
        return theta, loss

    def block(theta, ks):
        theta, losses = jax.lax.scan(step, theta, ks)
        return theta, losses[-1]

    n_blocks = n_steps // record_every
    keys = jax.random.split(key, n_blocks * record_every).reshape(n_blocks, record_every, -1)
    theta, losses = jax.lax.scan(block, particles.theta, keys)
    rest = n_steps - n_blocks * record_every
    if rest:
        theta, _ = jax.lax.scan(step, theta, jax.random.split(jax.random.fold_in(key, 1), rest))
    return theta, losses
