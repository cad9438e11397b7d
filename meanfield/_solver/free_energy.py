r"""Free energy of a Bayesian mean-field solution (to choose between coexisting fixed points).

Linearising the log-likelihood G(K) = log N(y; 0, K + sigma^2 I) around the background kernel K
in the network kernel K_W = (sigma_a2/N) sum_i phi_i phi_i^T makes the N neurons independent, and

    log Z ≈ G(K) + N [ log z - <L>_rho ],        z = E_{z ~ N(0, I)} exp(L[phi(z)] - Gamma(z)),

where L is the data log-weight of the action (so tr(grad G . K) = N <L>_rho) and rho the
single-neuron law. F = -log Z. The expression is stationary in K exactly at the self-consistent
kernel, which makes F the right quantity to compare branches. G includes the log-determinant when
the action carries its gradient (cavity, or linearised with `trace_term=True`); with the plain
linearised action it is left out, consistently with that action. With a stabiliser, F is defined
up to a K-independent constant (the normaliser of the stabilised prior), which cancels between
branches.

log z is computed
* exactly by quadrature when the solution was obtained on a `Grid`;
* otherwise by thermodynamic integration, log z = -int_0^1 <V>_lambda d lambda with
  V = Gamma - L and <.>_lambda the law ∝ N(0, I) exp(-lambda V), sampled by MALA at the
  Gauss-Legendre nodes of [0, 1], annealed down from lambda = 1 starting at the solution's particles.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._model.bayesian import BayesianProblem, log_weight_per_particle
from .foreground import Grid, Langevin, LangevinState
from .solution import Solution
from .solve import warm_start
from .._misc import check_integer

_interaction = eqx.filter_jit(
    lambda problem, theta, bg: jax.vmap(lambda t: problem.interaction(t, bg))(theta)
)


class FreeEnergy(eqx.Module):
    """F = -log Z of a Bayesian mean-field solution and its parts.

    Attributes:
        value: F.
        stderr: Monte-Carlo standard error of F (0 for a grid solution).
        log_z: log of the single-neuron partition function.
        log_z_stderr: its standard error.
        likelihood_term: G(K).
        legendre_term: N <L>_rho.
        method: 'grid' or 'thermodynamic_integration'.
    """

    value: float
    stderr: float
    log_z: float
    log_z_stderr: float
    likelihood_term: float
    legendre_term: float
    method: str


def log_partition_ti(problem: BayesianProblem, background, particles, *, n_strengths: int = 12,
                     n_steps: int = 200, step_size: float = 0.1, key=0, n_groups: int = 8):
    """Thermodynamic integration of log z; returns (log z, standard error)."""
    check_integer("n_strengths", n_strengths, minimum=2)
    nodes, weights = np.polynomial.legendre.leggauss(n_strengths)
    lams = 0.5 * (nodes + 1.0)[::-1]
    wts = 0.5 * weights[::-1]
    key = jax.random.PRNGKey(key) if isinstance(key, int) else key
    sampler = Langevin(step_size=step_size, n_steps=n_steps)
    state = LangevinState(jnp.asarray(step_size))
    total, var = 0.0, 0.0
    for k, (lam, wt) in enumerate(zip(lams, wts)):
        means = []
        for block in range(4):
            kk = jax.random.fold_in(key, 4 * k + block)
            particles, state, _ = sampler.run(problem, particles, background, kk, state,
                                              strength=float(lam))
            if block == 0:
                continue  # burn-in at the new strength
            v = np.asarray(_interaction(problem, particles.theta, background))
            means.append([g.mean() for g in np.array_split(v, n_groups)])
        means = np.asarray(means).reshape(-1)
        total += wt * means.mean()
        var += (wt**2) * means.var(ddof=1) / means.size
    return -total, float(np.sqrt(var))


def free_energy(solution: Solution, *, n_strengths: int = 12, n_steps: int = 200,
                key=0) -> FreeEnergy:
    """The mean-field free energy F = -log Z of a Bayesian solution (see module docstring).

    Example (thermodynamic integration on particles against the exact quadrature on a grid):
        >>> import meanfield as mf, numpy as np
        >>> task = mf.finite_dataset(np.linspace(-1, 1, 6)[:, None], np.linspace(-1, 1, 6))
        >>> problem = mf.BayesianProblem(task, mf.Erf(), width=100.0, noise=0.1)
        >>> grid = mf.solve(problem, mf.FixedPoint(foreground=mf.Grid()), progress=False)
        >>> exact = mf.free_energy(grid)
        >>> cloud = mf.solve(problem, mf.FixedPoint(n_particles=256), key=1, progress=False)
        >>> fe = mf.free_energy(cloud, key=2, n_strengths=6, n_steps=100)
        >>> exact.method, fe.method
        ('grid', 'thermodynamic_integration')
        >>> abs(fe.value - exact.value) < 0.05      # F is about 6.57 here
        True
    """
    problem = solution.problem
    if not isinstance(problem, BayesianProblem):
        raise TypeError(
            f"free_energy needs a BayesianProblem solution, got {type(problem).__name__}"
        )
    bg = solution.background
    particles = solution.particles
    likelihood = float(problem.log_likelihood_term(solution.field))
    lw = np.asarray(log_weight_per_particle(problem, particles.theta, bg))
    w = np.asarray(particles.weights)
    mean_l = float(np.sum(w * lw))
    grid = getattr(solution.solver, "foreground", None)
    if isinstance(grid, Grid):
        log_z, log_z_err = grid.log_partition(problem, bg), 0.0
        mean_l_err = 0.0
        method = "grid"
    else:
        # thermodynamic integration starts from one iterate (the last of a pooled cloud)
        m = getattr(solution.solver, "n_particles", particles.n_particles)
        start = warm_start(particles, m) if particles.n_particles % m == 0 else particles
        log_z, log_z_err = log_partition_ti(problem, bg, start, n_strengths=n_strengths,
                                            n_steps=n_steps, key=key)
        groups = np.array_split(lw, 8)
        mean_l_err = float(np.std([g.mean() for g in groups], ddof=1) / np.sqrt(8))
        method = "thermodynamic_integration"
    n = problem.width
    value = -(likelihood + n * (log_z - mean_l))
    stderr = n * float(np.hypot(log_z_err, mean_l_err))
    return FreeEnergy(float(value), stderr, float(log_z), float(log_z_err), likelihood,
                      float(n * mean_l), method)

