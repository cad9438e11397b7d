r"""Certificates: checks of a fixed point that do not come from the damped residual.

The residual |G(B) - B| / |B| compares the background with itself as measured on the *same*
persistent particles, so it vanishes whenever the particles stop moving, whether or not they
have reached the law the background asks for (a step size of 1e-300 gives a residual of 1e-16).
A certificate asks the other half of the fixed-point question: is the particle cloud rho the
law that the background it was moved against selects? Together with the residual (that
background equals the one measured on the cloud) it makes the fixed point.

**Equipartition (for foregrounds that sample the Gibbs law exp(-U)).** For rho_hat ∝ exp(-U)
and any test function f with enough decay, integration by parts gives Stein's identity
E_rho_hat[f . grad U - div f] = 0. With f(theta) = theta e_j it is the virial (equipartition)
theorem

    V_ij = E_rho[theta_i d_j U(theta; B)] - delta_ij = 0      at rho = rho_hat,

where U is the single-neuron energy of the frozen background B. At the fixed point B = G(rho)
and rho_hat is the proximal Gibbs law of Nitanda, Wu & Suzuki (2022, physics.md section 4).
`solve` evaluates it with the B the particles were moved against, not with G(rho): at a small
noise the energy amplifies the Monte-Carlo error of G(rho) by tbar ~ y / sigma^2, which the
certificate's own error bar would not include (the residual tests B = G(rho) with its floor).
Since E_rho[theta_i d_j log rho] = -delta_ij, V_ij = -E_rho[theta_i d_j (log rho_hat - log rho)],
so by Cauchy-Schwarz |V_ij| <= sqrt(E theta_i^2) sqrt(I(rho | rho_hat)): a non-zero V certifies
that the relative Fisher information, which bounds the KL divergence (the duality gap) under a
log-Sobolev inequality, is non-zero. V = 0 is necessary, not sufficient: it tests the second moments of the
cloud against the law, which is what the kernel Q depends on. The certificate is the scalar

    c = sqrt( (1/p) sum_ij V_ij^2 / (E_rho[theta_i^2] E_rho[(d_j U)^2]) ),

each entry in units of its Cauchy-Schwarz bound, so that c does not depend on the scale or the
anisotropy of U (at equilibrium the normalised entries have variance of order 1/M; without the
normalisation an anisotropic law, variance s_i along i and curvature 1/s_j along j, gives the
entry a variance s_i / (s_j M)). For a Gaussian cloud theta = s z against U = |theta|^2 / 2,
c = |s^2 - 1| / s^2: for small errors, the relative error of the second moments. Its Monte-Carlo
standard error comes from batch means over groups of chains (particles are independent chains; the iterates of an
averaged solution are grouped by particle index, so that correlated iterates of one chain are
never treated as independent).

**Stationarity (for `GradientDescent`, temperature zero).** The fixed point of the mean-field
gradient flow has every particle at rest, grad U(theta; G(rho)) = 0 on the support. The
certificate is how far one foreground call would move the cloud, relative to its size,

    c = lr n_steps sqrt(E_rho |grad U|^2) / sqrt(E_rho |theta|^2).

Example (the prior cloud of a problem with no interaction certifies itself; a shrunken one
does not):
    >>> import jax, meanfield as mf, numpy as np
    >>> task = mf.finite_dataset(np.linspace(-1, 1, 4)[:, None], np.linspace(-1, 1, 4))
    >>> problem = mf.BayesianProblem(task, mf.Erf(), width=1e6, noise=1.0)
    >>> cloud = problem.init_particles(jax.random.PRNGKey(0), 20000)
    >>> c, err = equipartition(problem, cloud, problem.background(problem.measure(cloud)))
    >>> bool(c < 3 * err + 0.005)
    True
    >>> shrunk = mf.Particles.uniform(0.5 * cloud.theta)
    >>> c, err = equipartition(problem, shrunk, problem.background(problem.measure(shrunk)))
    >>> round(c, 1), bool(c > 10 * err)
    (3.0, True)
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._model.particles import Particles

__all__ = ["equipartition", "stationarity"]


@eqx.filter_jit
def _virial(problem, theta, background):
    """Per particle, with g = grad U / c and c = max |grad U| (1 when that is 0 or not finite):
    theta_i g_j, theta_i^2 and g_j^2, and c."""
    grad = jax.vmap(jax.grad(lambda t: problem.energy(t, background)))(theta)
    c = jnp.max(jnp.abs(grad))
    c = jnp.where(jnp.isfinite(c) & (c > 0), c, 1.0)
    g = grad / c
    bad = jnp.where(jnp.all(jnp.isfinite(grad)), 1.0, jnp.nan)
    return theta[:, :, None] * g[:, None, :] * bad, theta**2, g**2, c


def _normalised(w, v, a, b, g_scale):
    """V_ij / sqrt(E a_i E b_j) for the weighted cloud (w sums to anything), with the gradient
    factors of v and b divided by g_scale (so that a huge gradient cannot overflow): V =
    g_scale E[v'] - I and sqrt(E b) = g_scale sqrt(E b'), hence V_ij / sqrt(...) =
    (E[v'] - I / g_scale) / sqrt(E a_i E b'_j)."""
    w = w / w.sum()
    p = v.shape[-1]
    dev = np.tensordot(w, v, axes=(0, 0)) - np.eye(p) / g_scale
    scale = np.sqrt(np.outer(w @ a, w @ b))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return dev / np.maximum(scale, 1e-300)


@eqx.filter_jit
def _gradient_sq(problem, theta, background):
    grad = jax.vmap(jax.grad(lambda t: problem.energy(t, background)))(theta)
    return jnp.sum(grad**2, axis=-1)


def _chain_groups(n_particles: int, n_chains: int | None, n_groups: int):
    """Index arrays of `n_groups` groups of chains: a pooled cloud of K iterates of n_chains
    chains (iterate-major) is grouped by chain index, so every group holds whole chains."""
    n_chains = n_particles if n_chains is None else n_chains
    size = n_chains // n_groups
    chain = np.arange(n_particles) % n_chains
    return [np.flatnonzero((chain >= g * size) & (chain < (g + 1) * size)) for g in range(n_groups)]


def equipartition(problem, particles: Particles, background, *, n_groups: int = 8,
                  n_chains: int | None = None) -> tuple[float, float]:
    """(c, standard error) of the equipartition certificate (module docstring).

    Args:
        problem: the problem whose `energy(theta, background)` the foreground samples.
        particles: the cloud (weighted; a `Grid`'s weights make this a quadrature).
        background: the background the foreground targeted (in `solve`, the one the
            particles were moved against).
        n_groups: groups of chains for the batch-means standard error (below 2 groups, or
            fewer than 2 chains per group, the error is reported as 0).
        n_chains: the number of independent chains when `particles` pools several iterates of
            the same chains (iterate-major); default: every particle is its own chain.
    """
    v, a, b, g_scale = (np.asarray(x, dtype=np.float64) for x in
                        _virial(problem, particles.theta, background))
    g_scale = float(g_scale)
    w = np.asarray(particles.weights, dtype=np.float64)
    p = v.shape[-1]
    m = particles.n_particles
    chains = m if n_chains is None else n_chains
    with np.errstate(invalid="ignore", over="ignore"):
        value = float(np.linalg.norm(_normalised(w, v, a, b, g_scale)) / np.sqrt(p))
        if n_groups < 2 or chains < 2 * n_groups:
            return value, 0.0
        groups = _chain_groups(m, n_chains, n_groups)
        per_group = np.stack([_normalised(w[i], v[i], a[i], b[i], g_scale) for i in groups])
        noise = float(np.sqrt(np.sum(per_group.var(axis=0, ddof=1)) / n_groups / p))
    return value, noise


def stationarity(problem, particles: Particles, background, *, displacement: float,
                 n_groups: int = 8, n_chains: int | None = None) -> tuple[float, float]:
    """(c, standard error) of the stationarity certificate, with `displacement` = lr n_steps
    the length one foreground call moves a particle per unit gradient (module docstring)."""
    g2 = np.asarray(_gradient_sq(problem, particles.theta, background), dtype=np.float64)
    t2 = np.sum(np.asarray(particles.theta, dtype=np.float64) ** 2, axis=-1)
    w = np.asarray(particles.weights, dtype=np.float64)
    scale = np.sqrt(max(float(np.dot(w, t2) / w.sum()), 1e-300))
    with np.errstate(invalid="ignore", over="ignore"):
        value = float(displacement * np.sqrt(np.dot(w, g2) / w.sum()) / scale)
    m = particles.n_particles
    chains = m if n_chains is None else n_chains
    if n_groups < 2 or chains < 2 * n_groups:
        return value, 0.0
    groups = _chain_groups(m, n_chains, n_groups)
    with np.errstate(invalid="ignore", over="ignore"):
        per = np.array([displacement * np.sqrt(np.dot(w[i], g2[i]) / w[i].sum()) / scale
                        for i in groups])
        noise = float(per.std(ddof=1) / np.sqrt(n_groups))
    return value, noise
