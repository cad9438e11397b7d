r"""The Bayesian (adaptive-kernel) mean field of a two-layer network (physics.md section 2).

Network and prior (Bayesian convention)::

    f_c(x) = sum_{i=1}^N a_ci phi(w_i . x),   w_i ~ N(0, sigma_w2/d I),   a_ci ~ N(0, sigma_a2/N),

Gaussian likelihood of variance `noise` = sigma^2. Integrating out the read-out leaves every hidden
neuron in the same effective action. We sample in whitened coordinates z = w / sqrt(sigma_w2/d),
so the prior is N(0, I) and the action reads

    S[z] = |z|^2/2 + Gamma(z) - L[phi],            phi_mu = phi(w . x_mu),   c = sigma_a2 / N,

with the data log-weight L of the chosen action:

    linearised:  L = (c/2) sum_c (phi . tbar_c)^2              [ - (C c/2) phi . A^{-1} phi  if trace_term ]
    cavity:      L = (1/2) sum_c c (phi . tbar_c)^2 / (1 + c phi . A^{-1} phi) - (C/2) log(1 + c phi . A^{-1} phi)

and the background fields (the kernel Q, A = Q + sigma^2 I, the discrepancy tbar)

    Q_{mu nu} = sigma_a2 <phi_mu phi_nu>_S,     tbar = A^{-1} y,     fbar(x*) = Q(x*, X) A^{-1} y.

`Gamma(z) = stabiliser * (|z|^2/d)^3` is the optional sextic stabiliser (Rubin, Seroussi & Ringel 2024
add one by hand for phi(z) = z^2; we write it in whitened units so `stabiliser` is dimensionless).

The linearised action as written in physics.md drops the trace term (C c/2) phi.A^{-1}phi, which
is smaller than the kept term by a factor of order sigma^2/n; `trace_term=True` keeps it. The
cavity action keeps one neuron's rank-one contribution exactly (Sherman-Morrison) and is bounded
for any phi.

References: Seroussi, Naveh & Ringel, Nat. Commun. 2023; Rubin, Seroussi & Ringel, ICLR 2024.
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jaxtyping import Array, Float

from .activations import Activation, Quadratic
from .._data.data import Data, Task
from .particles import Particles
from .problem import AbstractProblem
from .._misc import check_positive


_CHUNK_ELEMENTS = 1 << 24  # (particle, input) pairs per chunk: 128 MiB of float64 features


def _by_rows(fn, x, n_particles: int, chunk_elements: int):
    """fn applied to row blocks of x small enough that an (M, rows) array holds at most
    `chunk_elements` entries, concatenated."""
    rows = max(1, int(chunk_elements) // max(int(n_particles), 1))
    if x.shape[0] <= rows:
        return fn(x)
    return jnp.concatenate([fn(x[i:i + rows]) for i in range(0, x.shape[0], rows)])


class LinearisedAction(eqx.Module):
    """Action linearised in the kernel around the background (physics.md section 2).

    Attributes:
        stabiliser: coefficient gamma of Gamma(z) = gamma (|z|^2/d)^3, in whitened units.
        trace_term: keep the log-det term -(C c/2) phi.A^{-1}phi that physics.md drops.
    """

    stabiliser: float = 0.0
    trace_term: bool = eqx.field(static=True, default=False)
    name = "linearised"

    def __check_init__(self):
        if not (self.stabiliser >= 0.0):
            raise ValueError(f"stabiliser must be >= 0, got {self.stabiliser!r}")

    def log_weight(self, phi, background: "BayesianBackground", coupling):
        proj = phi @ background.discrepancy  # (C,)
        out = 0.5 * coupling * jnp.sum(proj**2)
        if self.trace_term:
            c_out = background.discrepancy.shape[1]
            out = out - 0.5 * c_out * coupling * (phi @ (background.inverse @ phi))
        return out

    @property
    def uses_log_det(self) -> bool:
        return self.trace_term

    @property
    def needs_inverse(self) -> bool:
        """Whether log_weight reads A^{-1} (only the trace term does)."""
        return self.trace_term


class CavityAction(eqx.Module):
    """Rank-one (cavity) action: one neuron's contribution to log-likelihood kept exactly.

    Attributes:
        stabiliser: coefficient gamma of Gamma(z) = gamma (|z|^2/d)^3 (optional; not needed for
            boundedness).
    """

    stabiliser: float = 0.0
    name = "cavity"

    def __check_init__(self):
        if not (self.stabiliser >= 0.0):
            raise ValueError(f"stabiliser must be >= 0, got {self.stabiliser!r}")

    def log_weight(self, phi, background: "BayesianBackground", coupling):
        proj = phi @ background.discrepancy
        g = coupling * (phi @ (background.inverse @ phi))
        c_out = background.discrepancy.shape[1]
        return 0.5 * coupling * jnp.sum(proj**2) / (1.0 + g) - 0.5 * c_out * jnp.log1p(g)

    @property
    def uses_log_det(self) -> bool:
        return True

    @property
    def needs_inverse(self) -> bool:
        """Whether log_weight reads A^{-1} (the rank-one correction phi.A^{-1}phi does)."""
        return True


class BayesianBackground(eqx.Module):
    """Frozen background of the Bayesian mean field: kernel Q, A^{-1} and discrepancy tbar.

    `inverse` (A^{-1}, A = Q + sigma^2 I) is None when the action does not read it
    (`needs_inverse`: the plain linearised action needs only tbar = A^{-1} y).
    """

    kernel: Float[Array, "n n"]
    inverse: Float[Array, "n n"] | None
    discrepancy: Float[Array, "n c"]


def _shifted(kernel, noise):
    """A = Q + noise I."""
    return kernel + noise * jnp.eye(kernel.shape[0], dtype=kernel.dtype)


@jax.jit
def _admissible(kernel, noise):
    return jnp.all(jnp.isfinite(jnp.linalg.cholesky(_shifted(kernel, noise))))


@functools.partial(jax.jit, static_argnames="with_inverse")
def _background_arrays(kernel, noise, y, with_inverse: bool):
    """(A^{-1} or None, tbar = A^{-1} y) from one Cholesky factorisation of A = Q + noise I."""
    factor = jsl.cho_factor(_shifted(kernel, noise), lower=True)
    tbar = jsl.cho_solve(factor, y)
    if not with_inverse:
        return None, tbar
    inverse = jsl.cho_solve(factor, jnp.eye(kernel.shape[0], dtype=kernel.dtype))
    return 0.5 * (inverse + inverse.T), tbar


class BayesianProblem(AbstractProblem):
    """A wide two-layer network in the Bayesian (posterior) ensemble, in mean-field scaling.

    Attributes:
        task: training and test data.
        activation: phi.
        width: N, the number of hidden neurons whose mean field is solved.
        noise: sigma^2, the likelihood variance (temperature of the equivalent Langevin dynamics).
        sigma_w2, sigma_a2: prior variances, w ~ N(0, sigma_w2/d I), a ~ N(0, sigma_a2/N).
        action: `LinearisedAction(...)` or `CavityAction(...)`.

    Example:
        >>> import meanfield as mf, numpy as np
        >>> x = np.linspace(-2, 2, 8)[:, None]
        >>> task = mf.finite_dataset(x, np.tanh(2 * x))
        >>> problem = mf.BayesianProblem(task, mf.Erf(), width=200.0, noise=0.01)
        >>> sol = mf.solve(problem, mf.FixedPoint(n_particles=512), key=0, progress=False)
        >>> sol.status, sol.usable      # 512 particles cannot resolve rtol = 1e-3, and say so
        ('noise_limited', True)
    """

    task: Task
    activation: Activation
    width: float
    noise: float
    sigma_w2: float = 1.0
    sigma_a2: float = 1.0
    action: LinearisedAction | CavityAction = LinearisedAction()

    def __check_init__(self):
        for name in ("width", "noise", "sigma_w2", "sigma_a2"):
            check_positive(name, getattr(self, name))
        if (
            isinstance(self.activation, Quadratic)
            and isinstance(self.action, LinearisedAction)
            and self.action.stabiliser == 0.0
        ):
            raise ValueError(
                "activation 'quadratic' with the linearised action and stabiliser = 0 gives an "
                "unbounded quartic action: exp(-S) is not normalisable. Use a stabiliser > 0 "
                "(e.g. LinearisedAction(stabiliser=1.0)) or CavityAction()."
            )

    # --- geometry -------------------------------------------------------------------------
    @property
    def data(self) -> Data:
        return self.task.train

    @property
    def n_params(self) -> int:
        return self.data.dim

    @property
    def coupling(self) -> float:
        """c = sigma_a2 / N, the weight of one neuron in the kernel."""
        return self.sigma_a2 / self.width

    @property
    def prior_scale(self) -> float:
        return (self.sigma_w2 / self.data.dim) ** 0.5

    def input_weights(self, theta):
        """Map whitened particle coordinates z to input weights w = sqrt(sigma_w2/d) z."""
        return self.prior_scale * theta

    def init_particles(self, key, n_particles: int) -> Particles:
        z = jax.random.normal(key, (n_particles, self.n_params), dtype=jnp.float64)
        return Particles.uniform(z)

    def features(self, theta, x):
        """phi(w . x) for every particle: theta (M, d), x (n, d) -> (M, n)."""
        return self.activation(self.input_weights(theta) @ x.T)

    # --- the single-neuron action ---------------------------------------------------------
    def stabiliser_energy(self, theta):
        gamma = self.action.stabiliser
        if gamma == 0.0:
            return jnp.zeros((), dtype=theta.dtype)
        return gamma * (jnp.sum(theta**2) / theta.shape[-1]) ** 3

    def interaction(self, theta, background: BayesianBackground):
        """Gamma(z) - L[phi]: everything in S except the Gaussian prior term."""
        phi = self.activation(self.data.project(self.input_weights(theta)))
        return self.stabiliser_energy(theta) - self.action.log_weight(phi, background, self.coupling)

    def energy(self, theta, background: BayesianBackground, strength=1.0):
        """S[z] with the non-prior part scaled by `strength` (1 = the action itself)."""
        return 0.5 * jnp.sum(theta**2) + strength * self.interaction(theta, background)

    # --- background ---------------------------------------------------------------------
    def measure(self, particles: Particles):
        """The field the iteration mixes: Q = sigma_a2 sum_i omega_i phi_i phi_i^T."""
        phi = self.activation(self.data.project(self.input_weights(particles.theta)))
        return self.sigma_a2 * (phi.T * particles.weights) @ phi

    def background(self, kernel) -> BayesianBackground:
        """The frozen background of kernel Q: tbar = A^{-1} y from one Cholesky factorisation
        of A = Q + sigma^2 I (compiled once per shape), and A^{-1} only when the action reads
        it (`needs_inverse`)."""
        kernel = jnp.asarray(kernel)
        inverse, tbar = _background_arrays(kernel, self.noise, self.data.y,
                                           with_inverse=self.action.needs_inverse)
        return BayesianBackground(kernel, inverse, tbar)

    def field_is_admissible(self, kernel) -> bool:
        """A kernel iterate is usable when Q + sigma^2 I is positive definite."""
        return bool(_admissible(jnp.asarray(kernel), self.noise))

    # --- observables --------------------------------------------------------------------
    def predict(self, particles: Particles, background: BayesianBackground, x,
                chunk_elements: int = _CHUNK_ELEMENTS):
        """Mean predictor fbar(x*) = Q(x*, X) A^{-1} y, with Q(x*, X) from the particle cloud.

        Evaluated as sigma_a2 sum_i w_i phi_i(x*) (phi_i(X) . tbar): the (n*, n) matrix
        Q(x*, X) is never formed, and the new inputs go through in chunks of at most
        `chunk_elements` (particle, input) pairs, so memory stays bounded as n* grows.
        """
        x = jnp.asarray(x, dtype=jnp.float64)
        phi = self.features(particles.theta, self.data.x)
        coef = particles.weights[:, None] * (phi @ background.discrepancy)  # (M, C)
        return _by_rows(lambda xs: self.sigma_a2 * self.features(particles.theta, xs).T @ coef,
                        x, particles.n_particles, chunk_elements)

    def kernel(self, particles: Particles, x1, x2=None,
               chunk_elements: int = _CHUNK_ELEMENTS):
        """The adapted kernel Q(x1, x2) = sigma_a2 <phi(w.x1) phi(w.x2)> on new inputs (rows of
        x1 in chunks of at most `chunk_elements` (particle, input) pairs)."""
        x1 = jnp.asarray(x1, dtype=jnp.float64)
        x2 = x1 if x2 is None else jnp.asarray(x2, dtype=jnp.float64)
        p2 = particles.weights[:, None] * self.features(particles.theta, x2)
        return _by_rows(lambda xs: self.sigma_a2 * self.features(particles.theta, xs).T @ p2,
                        x1, particles.n_particles, chunk_elements)

    def log_likelihood_term(self, kernel):
        """G(Q) of the free energy: -1/2 sum_c y_c.A^{-1}y_c [- C/2 log det A] - nC/2 log(2 pi).

        The log-det term is included when the action's gradient carries it (cavity, or linearised
        with trace_term), so that the free energy is stationary at the fixed point.
        """
        n, c_out = self.data.y.shape
        factor = jsl.cho_factor(_shifted(kernel, self.noise), lower=True)
        quad = jnp.sum(self.data.y * jsl.cho_solve(factor, self.data.y))
        out = -0.5 * quad - 0.5 * n * c_out * jnp.log(2 * jnp.pi)
        if self.action.uses_log_det:
            out = out - c_out * jnp.sum(jnp.log(jnp.diag(factor[0])))
        return out


def log_weight_per_particle(problem: BayesianProblem, theta, background: BayesianBackground):
    """L[phi] for every particle: theta (M, d) -> (M,)."""
    phi = problem.features(theta, problem.data.x)
    return jax.vmap(lambda p: problem.action.log_weight(p, background, problem.coupling))(phi)
