"""Reference error scales computed independently of the solver under test.

`iid_relative_error` is the Monte-Carlo error a field estimate from M i.i.d. draws of an exactly
known single-neuron law would have (central limit theorem), computed from that law itself (the
nodes and weights of a `Grid` solution), not from the particle solver's own `noise_floor`.
"""

import jax
import jax.numpy as jnp
import numpy as np

from meanfield._model.particles import Particles


def iid_relative_error(problem, exact, n_particles: int) -> float:
    """sqrt(E|C - F|^2 / M) / |F| for the field F = E[C] of the exact law of `exact` (a Grid
    solution: nodes theta_g, weights w_g), C the one-particle contribution to `problem.measure`
    (Frobenius norms), M = n_particles."""
    theta = exact.particles.theta
    w = np.asarray(exact.particles.weights)
    one = jax.vmap(lambda t: problem.measure(Particles(t[None], jnp.ones(1))))
    per = np.concatenate([np.asarray(one(theta[i:i + 4096]))
                          for i in range(0, theta.shape[0], 4096)])
    field = np.tensordot(w, per, axes=1)
    dev = (per - field).reshape(per.shape[0], -1)
    var = float(w @ np.sum(dev**2, axis=1))
    return float(np.sqrt(var / n_particles) / np.linalg.norm(field))
