r"""Ground truth at finite width: Langevin sampling of the exact posterior of a two-layer network.

Network, prior and likelihood (physics.md section 1, the conventions of `BayesianProblem`)::

    f_c(x) = sum_{i=1}^N a_ci phi(w_i . x),   w_i ~ N(0, sigma_w2/d I_d),   a_ci ~ N(0, sigma_a2/N),

    p(a, w | D) ∝ exp( -(1/(2 sigma^2)) sum_mu sum_c (f_c(x_mu) - y_mu,c)^2 ) prior(a) prior(w),

with sigma^2 = `noise`. This is the stationary law of full-batch Langevin dynamics at temperature
T = sigma^2 on the summed loss 0.5 sum (f - y)^2 with weight decay T/(prior variance) per layer.
We sample the potential U = -log p in whitened coordinates a = sqrt(sigma_a2/N) ahat,
w = sqrt(sigma_w2/d) zhat, where the prior is N(0, I)::

    U(ahat, zhat) = |ahat|^2/2 + |zhat|^2/2 + (1/(2 sigma^2)) sum_mu,c (f_c(x_mu) - y_mu,c)^2
                    + sum_i Gamma(zhat_i),

where Gamma(z_i) = gamma (|z_i|^2/d)^3 is the optional sextic stabiliser of one neuron
(`NetworkPosterior.stabiliser` = gamma, default 0; the same term, in the same whitened units, as
`LinearisedAction(stabiliser=gamma)` adds to the mean-field action; Rubin, Seroussi & Ringel add
it by hand for phi(z) = z^2). It is a factor exp(-sum_i Gamma(z_i)) in the prior of the input
weights, so it enters both methods' potentials unchanged.

Two samplers of the same law (`PosteriorLangevin.method`):

* ``"joint"``: Langevin on (ahat, zhat) with a per-layer diagonal preconditioner
  P = diag(h_a I, h_w I), h_l = h / (1 + L_l), where L_l is the Gauss-Newton curvature of the
  likelihood in layer l (read-out: lambda_max(c Phi Phi^T)/sigma^2 with c = sigma_a2/N and
  Phi_mu,i = phi(w_i.x_mu); input layer: the mean diagonal Gauss-Newton entry), measured at the end
  of each warm-up window and frozen for sampling. The read-out layer's data modes are stiff
  (curvature ~ lambda_max(K)/sigma^2) while its other modes and the input layer are not, so a
  common step size would not work; MALA with this constant P is exact.
* ``"marginal"`` (default): the read-out is Gaussian given w and is integrated out exactly,

      U(zhat) = |zhat|^2/2 + (1/2) sum_c y_c^T A^{-1} y_c + (C/2) log det A,
      A = c Phi Phi^T + sigma^2 I,

  (the finite-N version of the mean field's neuron action, without its linearisation), and
  Langevin runs on zhat alone; a draw of a given w is exact (`NetworkPosterior.sample_readout`,
  "Matheron's rule": a = a0 + c Phi^T A^{-1} (y - Phi a0 - eps), a0 ~ N(0, c I),
  eps ~ N(0, sigma^2 I)). Observables are Rao-Blackwellised: the recorded prediction is
  E[f(x*) | w, D] = c Phi(x*) Phi^T A^{-1} y. No stiff read-out modes are left, so it mixes
  far faster at small sigma^2.

Both: MALA (Metropolis-adjusted; exact) or ULA (`metropolis=False`, O(h) bias), all chains at once
(vmap inside jit-compiled `lax.scan`), warm-up windows adapt the step size towards
`target_acceptance` (then frozen: the sampling phase is a time-homogeneous exact chain), chains
start from independent prior draws (over-dispersed, so that split R-hat is meaningful).

The ensemble's observables (`PosteriorSamples`): per-draw potential and train loss traces, test
predictions, the posterior-mean predictor (average over chains and draws) with its standard error
from the spread of the chain means, the empirical kernel
Q_N(x, x') = sigma_a2 < (1/N) sum_i phi(w_i.x) phi(w_i.x') > (the finite-N counterpart of the mean
field's Q), and split R-hat / ESS of the traces (`meanfield._observables.mcmc_diagnostics`).

Example:
    >>> import meanfield as mf
    >>> task = mf.cubic_teacher(2, 16, eps=0.3, n_test=20, seed=0)
    >>> post = mf.NetworkPosterior(task, mf.Erf(), width=8, noise=0.1)
    >>> s = mf.sample_posterior(post, mf.PosteriorLangevin(n_chains=4, n_warmup=200,
    ...                         n_samples=50, thin=2), key=0, progress=False)
    >>> s.test_predictions.shape, s.rhat["potential"] < 1.2
    ((4, 50, 20, 1), True)

References: Roberts & Tweedie 1996 (MALA); Gelman et al. 2013 (R-hat, ESS); Seroussi, Naveh &
Ringel 2023 and Rubin, Seroussi & Ringel 2024 (Langevin ensembles as the finite-width reference).
"""

from __future__ import annotations


import equinox as eqx
import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from .._model.activations import Activation
from .._data.data import Task
from .._observables.mcmc_diagnostics import effective_sample_size, split_rhat
from .._misc import (
    MAX_COUNT, ComputationError, Progress, as_key, check_fraction, check_integer,
    check_positive,
)
from .._solver.foreground.mala import MALAState, adapt_step_size, mala_init, mala_step

__all__ = ["NetworkPosterior", "PosteriorLangevin", "PosteriorSamples", "sample_posterior"]


def spd_inverse_logdet(a):
    """(A^{-1}, log det A) of a symmetric positive-definite A by Gauss-Jordan sweeps.

    Pure jax.numpy (no LAPACK custom call): inside long vmapped `lax.scan` loops on a loaded CPU,
    XLA's LAPACK Cholesky occasionally wedged (all threads parked in futex waits, no error), so
    the sampler's inner loop avoids it. The sweep on pivot k divides row k by d_k = A_kk (a Schur
    complement, so log det A = sum_k log d_k) and eliminates column k from the other rows; after
    n sweeps the array holds A^{-1}. A non-positive pivot (A not positive definite) gives NaN.
    """
    n = a.shape[0]

    def sweep(k, carry):
        m, logdet = carry
        d = m[k, k]
        row = m[k] / d
        col = m[:, k]
        m = m - jnp.outer(col, row)
        m = m.at[k, :].set(row)
        m = m.at[:, k].set(-col / d)
        m = m.at[k, k].set(1.0 / d)
        return m, logdet + jnp.log(d)

    inv, logdet = jax.lax.fori_loop(0, n, sweep, (a, jnp.zeros((), dtype=a.dtype)))
    return 0.5 * (inv + inv.T), logdet


class NetworkPosterior(eqx.Module):
    """The exact posterior of a width-N two-layer network (module docstring for the formulas).

    Attributes:
        task: data (the likelihood uses the training split; predictions the test split).
        activation: phi.
        width: N, the number of hidden neurons (an integer).
        noise: sigma^2, the likelihood variance = Langevin temperature.
        sigma_w2, sigma_a2: prior variances, w ~ N(0, sigma_w2/d I), a ~ N(0, sigma_a2/N).
        stabiliser: gamma >= 0 of the per-neuron sextic Gamma(z_i) = gamma (|z_i|^2/d)^3 on the
            whitened input weights (default 0: none). The finite network's posterior is proper
            without it; with it, this is the finite-N counterpart of the stabilised mean-field
            action that phi(z) = z^2 needs (`LinearisedAction(stabiliser=gamma)`).

    Example (the stabiliser term alone, a neuron with |z|^2 = 2d):
        >>> import meanfield as mf, jax.numpy as jnp
        >>> task = mf.modular_addition(5, 0.5)
        >>> post = mf.NetworkPosterior(task, mf.Quadratic(), 2, 0.1, stabiliser=0.5)
        >>> z = jnp.sqrt(2.0) * jnp.ones((2, 10)).at[1].set(0.0)
        >>> round(float(post.stabiliser_energy(z)), 12)
        4.0
    """

    task: Task
    activation: Activation
    width: int = eqx.field(static=True)
    noise: float
    sigma_w2: float = 1.0
    sigma_a2: float = 1.0
    stabiliser: float = 0.0

    def __check_init__(self):
        check_integer("width", self.width, maximum=MAX_COUNT)
        for name in ("noise", "sigma_w2", "sigma_a2"):
            check_positive(name, getattr(self, name))
        check_positive("stabiliser", self.stabiliser, allow_zero=True,
                       hint=" (the sextic coefficient gamma; 0 for none)")
        if not isinstance(self.activation, Activation):
            raise ValueError(f"activation must be a meanfield Activation, got {self.activation!r}")

    @classmethod
    def from_problem(cls, problem, width: int | None = None) -> "NetworkPosterior":
        """The finite network of a `BayesianProblem` (same task, phi, noise and priors).

        width defaults to the problem's N (which must then be an integer)."""
        n = problem.width if width is None else width
        if float(n) != int(n):
            raise ValueError(f"width must be an integer number of neurons, got {n!r}")
        return cls(problem.task, problem.activation, int(n), problem.noise,
                   problem.sigma_w2, problem.sigma_a2)

    # --- geometry ---------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.task.train.dim

    @property
    def n_outputs(self) -> int:
        return self.task.train.n_outputs

    @property
    def coupling(self):
        """c = sigma_a2/N, the prior variance of one read-out weight."""
        return self.sigma_a2 / self.width

    @property
    def input_scale(self):
        return jnp.sqrt(self.sigma_w2 / self.dim)

    def features(self, z, x):
        """Phi_mu,i = phi(w_i . x_mu) from whitened input weights z (N, d): (n, N)."""
        return self.activation(x @ (self.input_scale * z).T)

    def output(self, ahat, z, x):
        """f(x) from whitened parameters: ahat (N, C), z (N, d), x (n, d) -> (n, C)."""
        return self.features(z, x) @ (jnp.sqrt(self.coupling) * ahat)

    # --- potentials -------------------------------------------------------------------------
    def stabiliser_energy(self, z):
        """sum_i Gamma(z_i) = gamma sum_i (|z_i|^2/d)^3 over the neurons (rows) of z (N, d)."""
        return self.stabiliser * jnp.sum((jnp.sum(z**2, axis=-1) / z.shape[-1]) ** 3)

    def joint_potential(self, ahat, z):
        """U(ahat, z) = |ahat|^2/2 + |z|^2/2 + sum (f - y)^2 / (2 sigma^2) + sum_i Gamma(z_i)."""
        data = self.task.train
        r = self.output(ahat, z, data.x) - data.y
        return (0.5 * jnp.sum(ahat**2) + 0.5 * jnp.sum(z**2) + 0.5 * jnp.sum(r**2) / self.noise
                + self.stabiliser_energy(z))

    def _gram(self, z):
        phi = self.features(z, self.task.train.x)
        n = phi.shape[0]
        a = self.coupling * (phi @ phi.T) + self.noise * jnp.eye(n, dtype=phi.dtype)
        return phi, jsl.cho_factor(a, lower=True)

    def marginal_potential(self, z):
        """-log p(z | D) + const with the read-out integrated out (module docstring)."""
        y = self.task.train.y
        _, factor = self._gram(z)
        quad = jnp.sum(y * jsl.cho_solve(factor, y))
        logdet = 2.0 * jnp.sum(jnp.log(jnp.diag(factor[0])))
        return (0.5 * jnp.sum(z**2) + 0.5 * quad + 0.5 * y.shape[1] * logdet
                + self.stabiliser_energy(z))

    def marginal_value_and_grad(self, z):
        """(U(z), dU/dz) of `marginal_potential` with the gradient written out:

            dU/dPhi = c (C A^{-1} - alpha alpha^T) Phi,   alpha = A^{-1} y,
            dU/dz_i = z_i + sqrt(sigma_w2/d) sum_mu (dU/dPhi)_mu,i phi'(w_i.x_mu) x_mu
                      + dGamma/dz_i,

        (cheaper than differentiating through a factorisation; `spd_inverse_logdet` inverts A).

        With fewer neurons than data (N < n) A is never formed: by Woodbury, with the N x N
        matrix B = Phi^T Phi + (sigma^2/c) I,

            A^{-1} = (I - Phi B^{-1} Phi^T)/sigma^2,     c A^{-1} Phi = Phi B^{-1},
            log det A = n log sigma^2 + N log(c/sigma^2) + log det B,

        so a step costs O(n N^2 + N^3) instead of O(n^3)."""
        x, y = self.task.train.x, self.task.train.y
        s = self.input_scale
        pre = x @ (s * z).T
        phi = self.activation(pre)
        n, width = phi.shape
        c, noise = self.coupling, self.noise
        c_out = y.shape[1]
        if width < n:
            b_inv, logdet_b = spd_inverse_logdet(phi.T @ phi
                                                 + (noise / c) * jnp.eye(width, dtype=phi.dtype))
            alpha = (y - phi @ (b_inv @ (phi.T @ y))) / noise
            logdet = n * jnp.log(noise) + width * jnp.log(c / noise) + logdet_b
            g_phi = c_out * (phi @ b_inv) - c * (alpha @ (alpha.T @ phi))  # (n, N)
        else:
            eye = jnp.eye(n, dtype=phi.dtype)
            a_inv, logdet = spd_inverse_logdet(c * (phi @ phi.T) + noise * eye)
            alpha = a_inv @ y
            g_phi = c * ((c_out * a_inv - alpha @ alpha.T) @ phi)  # (n, N)
        u = 0.5 * jnp.sum(z**2) + 0.5 * jnp.sum(y * alpha) + 0.5 * c_out * logdet
        grad = z + s * ((g_phi * self.activation.derivative(pre)).T @ x)
        stab, g_stab = jax.value_and_grad(self.stabiliser_energy)(z)
        return u + stab, grad + g_stab

    def conditional_mean(self, z, x):
        """E[f(x) | w, D] = c Phi(x) Phi^T A^{-1} y, shape (n*, C) (Woodbury when N < n)."""
        phi = self.features(z, self.task.train.x)
        y = self.task.train.y
        n, width = phi.shape
        if width < n:
            b_inv, _ = spd_inverse_logdet(phi.T @ phi + (self.noise / self.coupling)
                                          * jnp.eye(width, dtype=phi.dtype))
            alpha = (y - phi @ (b_inv @ (phi.T @ y))) / self.noise
        else:
            a = self.coupling * (phi @ phi.T) + self.noise * jnp.eye(n, dtype=phi.dtype)
            a_inv, _ = spd_inverse_logdet(a)
            alpha = a_inv @ y
        return self.coupling * (self.features(z, x) @ (phi.T @ alpha))

    def sample_readout(self, key, z):
        """An exact draw of ahat from p(a | w, D) (Matheron's rule), whitened, shape (N, C)."""
        data = self.task.train
        phi, factor = self._gram(z)
        k0, k1 = jax.random.split(key)
        c = self.coupling
        a0 = jnp.sqrt(c) * jax.random.normal(k0, (self.width, self.n_outputs), dtype=phi.dtype)
        eps = jnp.sqrt(self.noise) * jax.random.normal(k1, data.y.shape, dtype=phi.dtype)
        a = a0 + c * (phi.T @ jsl.cho_solve(factor, data.y - phi @ a0 - eps))
        return a / jnp.sqrt(c)

    def readout_posterior(self, z):
        """Mean (N, C) and covariance (N, N) of the raw read-out a given w (closed form).

        Sigma = (Phi^T Phi/sigma^2 + I/c)^{-1}, mean = Sigma Phi^T y / sigma^2 (each output)."""
        phi = self.features(z, self.task.train.x)
        prec = phi.T @ phi / self.noise + jnp.eye(self.width, dtype=phi.dtype) / self.coupling
        cov = jnp.linalg.inv(prec)
        cov = 0.5 * (cov + cov.T)
        return cov @ (phi.T @ self.task.train.y) / self.noise, cov

    # --- curvature scales for the per-layer preconditioner ----------------------------------
    def layer_curvatures(self, ahat, z):
        """(L_a, L_w): Gauss-Newton curvature scales of the likelihood per whitened layer."""
        x = self.task.train.x
        phi = self.features(z, x)
        l_a = jnp.linalg.eigvalsh(self.coupling * (phi @ phi.T))[-1] / self.noise
        dphi = self.activation.derivative(x @ (self.input_scale * z).T)  # (n, N)
        a2 = self.coupling * jnp.sum(ahat**2, axis=1)  # (N,)
        diag = (self.input_scale**2) * jnp.einsum("mi,md,i->id", dphi**2, x**2, a2)
        return l_a, jnp.mean(diag) / self.noise


class PosteriorLangevin(eqx.Module):
    """Configuration of the ensemble Langevin sampler (module docstring).

    Attributes:
        n_chains: independent chains run at once.
        n_warmup: warm-up steps (step-size adaptation, preconditioner estimation), discarded.
        n_samples: recorded draws per chain.
        thin: Langevin steps between recorded draws.
        step_size: initial global step h (whitened units).
        method: "marginal" (read-out integrated out; default) or "joint".
        metropolis: MALA (exact) if True, ULA otherwise.
        sample_input: False freezes the input weights at their initial values (joint method only):
            then the law sampled is p(a | w, D), a Gaussian known in closed form (a test case).
        target_acceptance: what the warm-up aims the MALA acceptance rate at.
        n_windows: warm-up adaptation windows.
    """

    n_chains: int = 16
    n_warmup: int = 2000
    n_samples: int = 200
    thin: int = 10
    step_size: float = 0.05
    method: str = eqx.field(static=True, default="marginal")
    metropolis: bool = eqx.field(static=True, default=True)
    sample_input: bool = eqx.field(static=True, default=True)
    target_acceptance: float = 0.6
    n_windows: int = 20

    def __check_init__(self):
        for name in ("n_chains", "n_samples", "thin", "n_windows"):
            check_integer(name, getattr(self, name), maximum=MAX_COUNT)
        check_integer("n_warmup", self.n_warmup, minimum=0, maximum=MAX_COUNT)
        check_positive("step_size", self.step_size)
        if self.method not in ("marginal", "joint"):
            raise ValueError(f"method must be 'marginal' or 'joint', got {self.method!r}")
        if not self.sample_input and self.method != "joint":
            raise ValueError("sample_input=False (frozen input weights) needs method='joint'")
        check_fraction("target_acceptance", self.target_acceptance)


class PosteriorSamples(eqx.Module):
    """The output of `sample_posterior`.

    Attributes:
        posterior: the `NetworkPosterior` sampled.
        sampler: the `PosteriorLangevin` configuration.
        z: final whitened input weights per chain (n_chains, N, d).
        ahat: final whitened read-out per chain (n_chains, N, C) (an exact conditional draw for
            the marginal method).
        potential: U per recorded draw (n_chains, n_samples).
        train_loss: 0.5 mean_mu |f(x_mu) - y_mu|^2 per draw (Rao-Blackwellised f for the marginal
            method), (n_chains, n_samples).
        test_predictions: f on the test inputs per draw (n_chains, n_samples, n_test, C).
        kernel_train: empirical kernel Q_N on the training inputs, chain averages (n_chains, n, n).
        kernel_test_train: Q_N(x*, X), chain averages (n_chains, n_test, n).
        trace: optional recorded parameters per draw (dict of arrays), see `record`.
        acceptance: mean MALA acceptance of the sampling phase.
        step_sizes: (h_a, h_w) used in the sampling phase (h_a = nan for the marginal method).
        rhat, ess: split R-hat and ESS of the potential and train-loss traces.
    """

    posterior: NetworkPosterior
    sampler: PosteriorLangevin
    z: jnp.ndarray
    ahat: jnp.ndarray
    potential: np.ndarray
    train_loss: np.ndarray
    test_predictions: np.ndarray
    kernel_train: np.ndarray
    kernel_test_train: np.ndarray
    trace: dict
    acceptance: float
    step_sizes: tuple
    rhat: dict
    ess: dict

    @property
    def mean_prediction(self) -> np.ndarray:
        """Posterior-mean predictor on the test inputs, (n_test, C)."""
        return self.test_predictions.mean(axis=(0, 1))

    @property
    def prediction_stderr(self) -> np.ndarray:
        """Standard error of `mean_prediction` from the spread of the chain means."""
        chain_means = self.test_predictions.mean(axis=1)
        m = chain_means.shape[0]
        if m < 2:
            return np.full(chain_means.shape[1:], np.nan)
        return chain_means.std(axis=0, ddof=1) / np.sqrt(m)

    @property
    def kernel(self) -> np.ndarray:
        """Posterior-averaged empirical kernel on the training inputs, (n, n)."""
        return self.kernel_train.mean(axis=0)

    @property
    def test_loss(self) -> float:
        data = self.posterior.task.test
        f = self.mean_prediction
        return float(0.5 * np.sum(np.asarray(data.weights)[:, None] * (f - np.asarray(data.y))**2))

    def summary(self) -> dict:
        return {
            "width": self.posterior.width, "method": self.sampler.method,
            "n_chains": self.sampler.n_chains, "n_samples": self.sampler.n_samples,
            "test_loss": self.test_loss, "acceptance": self.acceptance,
            "step_sizes": [float(s) for s in self.step_sizes],
            "rhat": dict(self.rhat), "ess": dict(self.ess),
            "mean_train_loss": float(np.mean(self.train_loss[:, self.train_loss.shape[1] // 2:])),
        }


# ------------------------------------------------------------------------------------------
# chains: the package's one MALA kernel (meanfield._solver.foreground.mala) on the state dict


def _value_and_grad(post: NetworkPosterior, sampler: PosteriorLangevin):
    """U and its gradient as a function of the state dict."""
    if sampler.method == "marginal":
        def vg(state):
            u, g = post.marginal_value_and_grad(state["z"])
            return u, {"z": g}
        return vg
    if sampler.sample_input:
        return jax.value_and_grad(lambda s: post.joint_potential(s["ahat"], s["z"]))
    return jax.value_and_grad(
        lambda s: post.joint_potential(s["ahat"], jax.lax.stop_gradient(s["z"])))


def _leaf_steps(sampler, state, h_a, h_w):
    """The step size of every leaf of the state dict (None: frozen)."""
    return {k: {"ahat": h_a, "z": h_w if sampler.sample_input else None}[k] for k in state}


def _mala_steps(vg, chain: MALAState, steps, key, n_steps, metropolis):
    """n_steps MALA steps of one chain; returns (chain, acceptance probability per step)."""

    def body(c, k):
        c, info = mala_step(vg, c, k, steps, metropolis=metropolis)
        return c, info.acceptance_probability

    return jax.lax.scan(body, chain, jax.random.split(key, n_steps))


@eqx.filter_jit
def _run_block(post, sampler, states, keys, h_a, h_w, n_steps):
    """n_steps Langevin steps for every chain; returns states and mean acceptance probability."""
    vg = _value_and_grad(post, sampler)

    def one_chain(state, key):
        steps = _leaf_steps(sampler, state, h_a, h_w)
        chain, probs = _mala_steps(vg, mala_init(vg, state), steps, key, n_steps,
                                   sampler.metropolis)
        return chain.position, jnp.mean(probs)

    return jax.vmap(one_chain)(states, keys)


@eqx.filter_jit
def _sample_block(post, sampler, states, keys, h_a, h_w, record_params):
    """n_samples x thin steps per chain, recording observables after every `thin` steps."""
    vg = _value_and_grad(post, sampler)
    xtr, xte, y = post.task.train.x, post.task.test.x, post.task.train.y

    def observe(state):
        z = state["z"]
        if sampler.method == "marginal":
            ftr = post.conditional_mean(z, xtr)
            fte = post.conditional_mean(z, xte)
        else:
            ftr = post.output(state["ahat"], z, xtr)
            fte = post.output(state["ahat"], z, xte)
        ptr = post.features(z, xtr)
        pte = post.features(z, xte)
        k_tr = (post.sigma_a2 / post.width) * ptr @ ptr.T
        k_st = (post.sigma_a2 / post.width) * pte @ ptr.T
        loss = 0.5 * jnp.mean(jnp.sum((ftr - y) ** 2, axis=1))
        return loss, fte, k_tr, k_st

    def one_chain(state, key):
        steps = _leaf_steps(sampler, state, h_a, h_w)

        def outer(carry, k):
            chain, ktr_sum, kst_sum = carry
            chain, probs = _mala_steps(vg, chain, steps, k, sampler.thin, sampler.metropolis)
            loss, fte, k_tr, k_st = observe(chain.position)
            rec = {"potential": chain.value, "train_loss": loss, "test": fte,
                   "acc": jnp.mean(probs)}
            if record_params:
                rec["params"] = chain.position
            return (chain, ktr_sum + k_tr, kst_sum + k_st), rec

        n = xtr.shape[0]
        init = (mala_init(vg, state), jnp.zeros((n, n)), jnp.zeros((xte.shape[0], n)))
        (final, ktr, kst), rec = jax.lax.scan(outer, init,
                                              jax.random.split(key, sampler.n_samples))
        return final.position, ktr / sampler.n_samples, kst / sampler.n_samples, rec

    return jax.vmap(one_chain)(states, keys)


def sample_posterior(posterior: NetworkPosterior, sampler: PosteriorLangevin | None = None, *,
                     key=0, init: dict | None = None, record: bool = False,
                     progress: bool = True) -> PosteriorSamples:
    """Run an ensemble of Langevin chains on the exact posterior of a finite network.

    Args:
        posterior: the `NetworkPosterior`.
        sampler: the `PosteriorLangevin` configuration (default `PosteriorLangevin()`).
        key: integer seed or PRNG key.
        init: optional whitened start {"z": (n_chains, N, d), "ahat": (n_chains, N, C)}; by
            default z is drawn from the prior and ahat from p(a | w, D) (joint) per chain.
        record: also keep the parameters of every recorded draw (`PosteriorSamples.trace`).
        progress: report warm-up and sampling on stderr.

    Returns:
        `PosteriorSamples` with traces, predictions, kernels and split R-hat / ESS.

    A sampling phase whose MALA acceptance is below 0.05, or non-finite draws, raise
    `ComputationError`, a `RuntimeError` (the chains did not move; lower `step_size` or use method="marginal").
    """
    sampler = PosteriorLangevin() if sampler is None else sampler
    if not isinstance(posterior, NetworkPosterior):
        raise ValueError(f"posterior must be a NetworkPosterior, got {type(posterior).__name__}")
    key, _ = as_key(key)
    k_init, k_read, k_warm, k_samp = jax.random.split(key, 4)
    m, n_neur, d, c_out = sampler.n_chains, posterior.width, posterior.dim, posterior.n_outputs
    if init is None:
        z = jax.random.normal(k_init, (m, n_neur, d), dtype=jnp.float64)
        ahat = jax.vmap(posterior.sample_readout)(jax.random.split(k_read, m), z)
    else:
        z = jnp.asarray(init["z"], dtype=jnp.float64)
        ahat = jnp.asarray(init.get("ahat", jnp.zeros((m, n_neur, c_out))), dtype=jnp.float64)
        if z.shape != (m, n_neur, d) or ahat.shape != (m, n_neur, c_out):
            raise ValueError(f"init must hold z of shape {(m, n_neur, d)} and ahat of shape "
                             f"{(m, n_neur, c_out)}, got {z.shape} and {ahat.shape}")
    states = {"z": z} if sampler.method == "marginal" else {"ahat": ahat, "z": z}

    def step_sizes(h, states):
        if sampler.method == "marginal":
            return jnp.asarray(jnp.nan), jnp.asarray(h)
        curv = jax.vmap(posterior.layer_curvatures)(states["ahat"], states["z"])
        l_a, l_w = float(jnp.max(curv[0])), float(jnp.max(curv[1]))
        return jnp.asarray(h / (1.0 + l_a)), jnp.asarray(h / (1.0 + l_w))

    h = float(sampler.step_size)
    bar = Progress(sampler.n_warmup + sampler.n_samples * sampler.thin,
                   f"langevin[N={n_neur}, {sampler.method}]", enabled=progress)
    done = 0
    if sampler.n_warmup > 0:
        windows = min(sampler.n_windows, sampler.n_warmup)
        sizes = [sampler.n_warmup // windows + (i < sampler.n_warmup % windows)
                 for i in range(windows)]
        for i, size in enumerate(sizes):
            h_a, h_w = step_sizes(h, states)
            states, acc = _run_block(posterior, sampler, states,
                                     jax.random.split(jax.random.fold_in(k_warm, i), m),
                                     h_a, h_w, size)
            acc = float(jnp.mean(acc))
            if sampler.metropolis:
                h = float(adapt_step_size(h, acc, sampler.target_acceptance))
            done += size
            bar.update(done, f"warm-up acc {acc:.2f} h {h:.2e}")
    h_a, h_w = step_sizes(h, states)
    states, k_tr, k_st, rec = _sample_block(posterior, sampler, states,
                                            jax.random.split(k_samp, m), h_a, h_w, record)
    bar.update(done + sampler.n_samples * sampler.thin, "sampled", force=True)
    bar.close()
    potential = np.asarray(rec["potential"])
    loss = np.asarray(rec["train_loss"])
    test = np.asarray(rec["test"])
    if not (np.all(np.isfinite(potential)) and np.all(np.isfinite(test))):
        raise ComputationError("Langevin chains produced non-finite values: lower step_size")
    acceptance = float(np.mean(np.asarray(rec["acc"])))
    if sampler.metropolis and acceptance < 0.05:
        raise ComputationError(f"MALA acceptance {acceptance:.3f} in the sampling phase: the "
                               "chains barely move; lower step_size, warm up longer, or use "
                               "method='marginal'")
    if np.all(np.asarray(rec["acc"]) == 0):
        raise ComputationError("no Langevin move was accepted")
    if potential.shape[1] >= 4:
        rhat = {"potential": split_rhat(potential), "train_loss": split_rhat(loss)}
        ess = {"potential": effective_sample_size(potential),
               "train_loss": effective_sample_size(loss)}
    else:
        rhat = {"potential": float("nan"), "train_loss": float("nan")}
        ess = {"potential": float("nan"), "train_loss": float("nan")}
    if sampler.method == "marginal":
        ahat_final = jax.vmap(posterior.sample_readout)(
            jax.random.split(jax.random.fold_in(k_read, 1), m), states["z"])
    else:
        ahat_final = states["ahat"]
    trace = {k: np.asarray(v) for k, v in rec["params"].items()} if record else {}
    return PosteriorSamples(
        posterior=posterior, sampler=sampler, z=states["z"], ahat=ahat_final,
        potential=potential, train_loss=loss, test_predictions=test,
        kernel_train=np.asarray(k_tr), kernel_test_train=np.asarray(k_st), trace=trace,
        acceptance=acceptance, step_sizes=(float(h_a), float(h_w)), rhat=rhat, ess=ess)
