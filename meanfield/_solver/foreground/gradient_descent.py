r"""`GradientDescent`: the zero-temperature foreground, theta' = theta - lr grad U(theta)."""

from __future__ import annotations

import equinox as eqx
import jax

from ..._misc import check_integer, check_positive
from ..._model.particles import Particles
from ..certificate import stationarity
from .base import AbstractForeground


class GradientDescent(AbstractForeground):
    """Zero-temperature foreground: plain gradient descent on U, all particles at once.

    Attributes:
        learning_rate: lr in theta' = theta - lr grad U.
        n_steps: steps per call.

    Example (a training problem at T = 0 moves downhill):
        >>> import meanfield as mf, numpy as np, jax
        >>> task = mf.finite_dataset(np.linspace(-1, 1, 4)[:, None], np.linspace(-1, 1, 4))
        >>> problem = mf.TrainingProblem(task, mf.Tanh())
        >>> fg = mf.GradientDescent(n_steps=5)
        >>> particles, _ = fg.init(problem, jax.random.PRNGKey(0), 32)
        >>> moved, _, _ = fg.run(problem, particles, problem.background(problem.measure(particles)),
        ...                      None, None)
        >>> moved.theta.shape
        (32, 2)
    """

    learning_rate: float = 0.05
    n_steps: int = 100
    stochastic = True  # particles are drawn at random at init: groups still give error bars
    name = "gradient_descent"

    def __check_init__(self):
        check_positive("learning_rate", self.learning_rate)
        check_integer("n_steps", self.n_steps)

    def init(self, problem, key, n_particles: int):
        return problem.init_particles(key, n_particles), None

    def certificate(self, problem, particles, background, *, n_groups: int = 8,
                    n_chains: int | None = None) -> tuple[float, float]:
        """The stationarity certificate: lr n_steps rms |grad U| relative to rms |theta| (how
        far the next call would move the cloud; `meanfield._solver.certificate`)."""
        return stationarity(problem, particles, background,
                            displacement=self.learning_rate * self.n_steps, n_groups=n_groups,
                            n_chains=n_chains)

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
