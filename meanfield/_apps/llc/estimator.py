"""Local learning coefficient (LLC) estimation by (Metropolis-adjusted) Langevin sampling.

Definitions (Lau, Furman, Wang, Murfet & Wei 2023, "Quantifying degeneracy in singular models via
the learning coefficient", arXiv:2308.12108; devinterp's `estimate_learning_coeff`). Around a
parameter w* the localised tempered posterior is

    p(w) ∝ exp(-U(w)),    U(w) = n beta L(w) + (gamma/2) |w - w*|^2,

and the estimator is

    lambda_hat = n beta (E_p[L(w)] - L(w*)).

As n beta -> infinity (and gamma fixed) lambda_hat -> lambda, the local RLCT, because the volume
of {L < eps} near w* scales like eps^lambda (log eps)^(m-1): for L = sum c_i w_i^2 in d dimensions
lambda = d/2, for L = w^(2k) lambda = 1/(2k).

nbeta. With a finite data set, L_n = L + O(1/sqrt(n)) fluctuations and n, beta enter separately;
devinterp's default is nbeta = m / ln m with m the *batch size* (`default_nbeta`), i.e. beta* =
1/ln m. Here L is the *infinite-data* loss (population risk by quadrature or in closed form): the
posterior depends only on the product n beta, so the only parameter is `nbeta`; "beta" in the
learning-zero experiment means nbeta. The loss is whatever `loss_fn` returns (for the tanh net the
MSE E[f^2], without the 1/2 of a unit-variance Gaussian likelihood: with that convention every
nbeta below is halved).

Sampler (`SGLD`). With a constant symmetric positive-definite preconditioner P = R R^T,

    w' = w - (eps/2) P grad U(w) + sqrt(eps) R xi,    xi ~ N(0, I).

With P = I this is devinterp's SGLD update, Delta w = (eps/2)(-gamma (w - w*) - nbeta grad L) +
N(0, eps), except that the gradient is exact (no minibatches), i.e. the unadjusted Langevin
algorithm, whose stationary law is biased by O(eps). With `metropolis=True` the move is accepted
with the Metropolis-Hastings probability (MALA), which removes that bias: the chain then samples
p exactly. The acceptance probability is *computed* in both modes, so for SGLD it serves as a
diagnostic of the discretisation error (it should be close to one). A constant P keeps MALA exact;
`hessian_preconditioner` gives P = (nbeta H(w*) + gamma I)^(-1) (H clipped to >= 0), which whitens
the Gaussian part of p and is what makes stiff problems (curvatures spanning 1e-30..1e2) samplable.

Conventions shared with devinterp (Lau et al. 2023; devinterp's `SGLD` and
`estimate_learning_coeff`): the update above with P = I and noise N(0, eps) (noise_level 1); the
names `localization` (gamma) and `nbeta`; lambda_hat = nbeta (mean sampled loss - L(w*)) averaged
over chains; chains start at w*; the MALA acceptance probability as the step-size diagnostic
(devinterp's `MalaAcceptanceRate` callback).

Where we differ, deliberately: (i) exact gradients of the population loss, no minibatches (so
"SGLD" here is the unadjusted Langevin algorithm); (ii) optional Metropolis correction (MALA),
which makes the chain exact at any step size; (iii) optional *constant* preconditioner (one that adapts along the
chain, as in RMSprop-SGLD, biases the stationary law unless a correction term is added); (iv) `n_burnin` draws are
discarded (devinterp's default `num_burnin_steps` is 0, averaging from the first step, which biases
lambda_hat low because chains start at the minimum of the loss); (v) the error bar is the standard
error over independent chains, and `drift` (second- minus first-half estimate) flags chains that
have not equilibrated; (vi) no weight decay term.

Diagnostics (`LLCResult`): loss_trace (every step of every chain), acceptance, chain_lambda (its
spread is the chain spread), drift. Calibration: `calibrate_step_size` picks eps for a target MALA
acceptance at given (nbeta, gamma, P); choose gamma so that nbeta times the curvatures of interest
exceed it (else they are masked by the localisation, cf. `QuadraticModel.exact_lambda_hat`) while
chains stay in the basin of w* (check drift and the loss trace).

Known limitation, measured (tests/apps/test_llc.py): on singular models a fixed-step MALA calibrated at
w* loses acceptance as chains move along the zero set into stiffer regions and then under-samples
them: reduced-rank regression (M, N, H) = (2, 2, 2) at nbeta = 1e6 gives 1.431 +- 0.010 against the
exact 1.497 (-4.4%), with acceptance 0.41 after calibration to 0.9. Models linear in some weights
avoid this by integrating those out (`meanfield._apps.llc.learning_zero.marginal_llc`).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable, Optional

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..._solver.foreground.mala import MALAState, mala_step
from ..._misc import check_integer, check_positive

__all__ = [
    "SGLD",
    "ChainState",
    "LLCResult",
    "sgld_init",
    "sgld_step",
    "estimate_llc",
    "calibrate_step_size",
    "hessian_preconditioner",
    "QuadraticModel",
    "MonomialModel",
    "ReducedRankRegression",
    "aoyagi_watanabe_rlct",
]


class SGLD(eqx.Module):
    """Langevin sampler of exp(-nbeta L(w) - localization/2 |w - w*|^2).

    Attributes:
        step_size: eps in w' = w - (eps/2) P grad U + sqrt(eps) R xi (P = R R^T).
        nbeta: n * beta (with infinite-data losses only the product matters).
        localization: gamma, strength of the pull to w* (devinterp's `localization`).
        metropolis: accept/reject (MALA, exact) if True; plain SGLD/ULA if False.
        preconditioner: None (identity), a (d,) diagonal or a (d, d) SPD matrix P.
    """

    step_size: float
    nbeta: float
    localization: float = 1.0
    metropolis: bool = False
    preconditioner: Optional[jax.Array] = None

    def __check_init__(self):
        check_positive("step_size", self.step_size)
        check_positive("nbeta", self.nbeta)
        check_positive("localization", self.localization, allow_zero=True)

    def factors(self, dim: int):
        """(R, R^{-1}) with P = R R^T, as dense (dim, dim) float64 arrays."""
        if self.preconditioner is None:
            eye = jnp.eye(dim, dtype=jnp.float64)
            return eye, eye
        p = jnp.asarray(self.preconditioner, dtype=jnp.float64)
        if p.ndim == 1:
            if p.shape != (dim,) or not bool(jnp.all(p > 0)):
                raise ValueError(f"diagonal preconditioner must be positive with shape ({dim},), "
                                 f"got shape {p.shape}")
            r = jnp.diag(jnp.sqrt(p))
            return r, jnp.diag(1.0 / jnp.sqrt(p))
        if p.shape != (dim, dim):
            raise ValueError(f"preconditioner must have shape ({dim},) or ({dim}, {dim}), got {p.shape}")
        r = jnp.linalg.cholesky(0.5 * (p + p.T))
        if not bool(jnp.all(jnp.isfinite(r))):
            raise ValueError("preconditioner is not symmetric positive definite (Cholesky failed)")
        r_inv = jax.scipy.linalg.solve_triangular(r, jnp.eye(dim, dtype=jnp.float64), lower=True)
        return r, r_inv


class ChainState(eqx.Module):
    """One chain: position, loss L(w), potential U(w) and its gradient, accepted-move count."""

    theta: jax.Array
    loss: jax.Array
    potential: jax.Array
    grad: jax.Array
    n_accept: jax.Array


def _potential_and_grad(loss_fn, theta, w_star, nbeta, gamma):
    def u(t):
        loss = loss_fn(t)
        d = t - w_star
        return nbeta * loss + 0.5 * gamma * jnp.dot(d, d), loss

    (pot, loss), g = jax.value_and_grad(u, has_aux=True)(theta)
    return pot, loss, g


def sgld_init(sampler: SGLD, loss_fn: Callable, theta, w_star) -> ChainState:
    """Initial chain state at `theta` (pure)."""
    theta = jnp.asarray(theta, dtype=jnp.float64)
    pot, loss, g = _potential_and_grad(loss_fn, theta, jnp.asarray(w_star, jnp.float64),
                                       sampler.nbeta, sampler.localization)
    return ChainState(theta, loss, pot, g, jnp.zeros((), jnp.int64))


def _step(loss_fn, metropolis, state, key, w_star, eps, nbeta, gamma, r, r_inv):
    """One step of the package's MALA kernel (`mala_step`) with the constant preconditioner
    P = R R^T; the loss rides along as the potential's auxiliary output."""

    def value_and_grad(t):
        pot, loss, g = _potential_and_grad(loss_fn, t, w_star, nbeta, gamma)
        return (pot, loss), g

    chain = MALAState(state.theta, state.potential, state.grad, state.loss)
    chain, info = mala_step(value_and_grad, chain, key, eps, preconditioner=(r, r_inv),
                            metropolis=metropolis, has_aux=True)
    new = ChainState(chain.position, chain.aux, chain.value, chain.grad,
                     state.n_accept + info.accepted.astype(jnp.int64))
    return new, (new.loss, info.acceptance_probability)


def sgld_step(sampler: SGLD, loss_fn: Callable, w_star, state: ChainState, key):
    """One (MALA or SGLD) step (pure). Returns (new_state, (loss, acceptance_probability))."""
    r, r_inv = sampler.factors(state.theta.shape[0])
    return _step(loss_fn, sampler.metropolis, state, key, jnp.asarray(w_star, jnp.float64),
                 jnp.asarray(sampler.step_size, jnp.float64), jnp.asarray(sampler.nbeta, jnp.float64),
                 jnp.asarray(sampler.localization, jnp.float64), r, r_inv)


@partial(jax.jit, static_argnames=("loss_fn", "metropolis", "n_steps"))
def _run_chains(loss_fn, metropolis, n_steps, theta0, keys, w_star, eps, nbeta, gamma, r, r_inv):
    def one_chain(t0, key):
        pot, loss, g = _potential_and_grad(loss_fn, t0, w_star, nbeta, gamma)
        state = ChainState(t0, loss, pot, g, jnp.zeros((), jnp.int64))

        def body(s, k):
            return _step(loss_fn, metropolis, s, k, w_star, eps, nbeta, gamma, r, r_inv)

        state, (losses, acc) = jax.lax.scan(body, state, jax.random.split(key, n_steps))
        return state.theta, losses, acc

    return jax.vmap(one_chain)(theta0, keys)


class LLCResult(eqx.Module):
    """Output of `estimate_llc`.

    lambda_hat = nbeta (mean of post-burn-in losses over all chains - L(w*)); lambda_hat_err is the
    standard error over chains (std of the per-chain estimates / sqrt(n_chains)); chain_lambda holds
    the per-chain estimates (their spread is the chain-spread diagnostic), loss_trace the losses of
    every step (n_chains, n_steps), acceptance the mean Metropolis acceptance probability after
    burn-in (for SGLD: the probability MALA would have accepted, a discretisation diagnostic), drift
    the difference of the estimate between the second and first halves of the kept draws.
    """

    lambda_hat: float
    lambda_hat_err: float
    chain_lambda: np.ndarray
    loss_trace: np.ndarray
    acceptance: float
    drift: float
    init_loss: float
    nbeta: float
    final_theta: np.ndarray

    def summary(self) -> dict:
        return {"lambda_hat": self.lambda_hat, "lambda_hat_err": self.lambda_hat_err,
                "acceptance": self.acceptance, "drift": self.drift, "nbeta": self.nbeta,
                "chain_spread": float(np.std(self.chain_lambda))}


def estimate_llc(loss_fn: Callable, w_star, sampler: SGLD, key, n_chains: int = 8,
                 n_steps: int = 2000, n_burnin: int = 500, init=None) -> LLCResult:
    """lambda_hat = nbeta (E[L] - L(w*)) from `n_chains` vectorised chains started at w* (or `init`).

    `loss_fn` maps a flat float64 parameter vector to a scalar and must be jax-traceable; pass the
    same function object across calls to reuse the compiled sampler.
    """
    for name, v, lo in (("n_chains", n_chains, 1), ("n_steps", n_steps, 2), ("n_burnin", n_burnin, 0)):
        check_integer(name, v, minimum=lo)
    if n_burnin >= n_steps - 1:
        raise ValueError(f"n_burnin must be < n_steps - 1 to keep draws, got n_burnin={n_burnin}, "
                         f"n_steps={n_steps}")
    w_star = jnp.asarray(w_star, dtype=jnp.float64).reshape(-1)
    dim = w_star.shape[0]
    r, r_inv = sampler.factors(dim)
    theta0 = jnp.broadcast_to(w_star if init is None else jnp.asarray(init, jnp.float64),
                              (n_chains, dim))
    if isinstance(key, int):
        key = jax.random.PRNGKey(key)
    keys = jax.random.split(key, n_chains)
    f64 = partial(jnp.asarray, dtype=jnp.float64)
    theta, losses, acc = _run_chains(loss_fn, bool(sampler.metropolis), int(n_steps), theta0, keys,
                                     w_star, f64(sampler.step_size), f64(sampler.nbeta),
                                     f64(sampler.localization), r, r_inv)
    losses = np.asarray(losses)
    init_loss = float(loss_fn(w_star))
    kept = losses[:, n_burnin:]
    chain_lambda = sampler.nbeta * (kept.mean(axis=1) - init_loss)
    half = kept.shape[1] // 2
    drift = sampler.nbeta * (kept[:, half:].mean() - kept[:, :half].mean())
    err = float(np.std(chain_lambda, ddof=1) / math.sqrt(n_chains)) if n_chains > 1 else float("nan")
    return LLCResult(
        lambda_hat=float(chain_lambda.mean()), lambda_hat_err=err, chain_lambda=chain_lambda,
        loss_trace=losses, acceptance=float(np.asarray(acc)[:, n_burnin:].mean()),
        drift=float(drift), init_loss=init_loss, nbeta=float(sampler.nbeta),
        final_theta=np.asarray(theta),
    )


def calibrate_step_size(loss_fn: Callable, w_star, nbeta: float, key, localization: float = 1.0,
                        preconditioner=None, target_accept: float = 0.85, step_size: float = 1.0,
                        n_chains: int = 4, n_steps: int = 400, n_iter: int = 14) -> tuple[float, list]:
    """Largest-ish step size whose MALA acceptance is near `target_accept` (bisection in log eps).

    Runs short MALA chains from w* and measures the acceptance over their second half (chains of
    singular models wander from w* into stiffer regions, so the first steps overstate it);
    quadruples/quarters eps until the acceptance brackets the target,
    then bisects geometrically. Returns (eps, history) with history = [(eps, acceptance), ...].
    Singular posteriors need a high target (>= 0.85): their curvature grows along the arms of the
    zero set, and at 0.6-0.65 MALA chains stall in stiff regions (measured biases of -20% for
    L = w1^2 w2^4 and -11% for reduced-rank regression at nbeta = 1e5-1e6; 0.9 brings them to <= 5%).
    For plain SGLD use a target of ~0.9 or above: the MALA acceptance measures how far the
    unadjusted chain's stationary law is from p (devinterp's MalaAcceptanceRate callback serves
    the same purpose). Localisation: gamma should be small against nbeta times the curvatures one
    wants resolved, and large enough that chains stay in the basin of w*; check `drift`.
    """
    if not 0 < target_accept < 1:
        raise ValueError(f"target_accept must be in (0, 1), got {target_accept!r}")
    key = jax.random.PRNGKey(key) if isinstance(key, int) else key
    lo, hi, hist = None, None, []
    eps = check_positive("step_size", step_size)
    for i in range(n_iter):
        s = SGLD(eps, nbeta, localization, metropolis=True, preconditioner=preconditioner)
        res = estimate_llc(loss_fn, w_star, s, jax.random.fold_in(key, i), n_chains=n_chains,
                           n_steps=n_steps, n_burnin=n_steps // 2)
        hist.append((eps, res.acceptance))
        if res.acceptance >= target_accept:
            lo = eps
        else:
            hi = eps
        if lo is not None and hi is not None:
            if hi / lo < 1.2:
                break
            eps = math.sqrt(lo * hi)
        else:
            eps = eps * 4.0 if hi is None else eps / 4.0
    return (lo if lo is not None else hist[-1][0]), hist


def hessian_preconditioner(loss_fn: Callable, w_star, nbeta: float, localization: float):
    """P = (nbeta H_+ + gamma I)^(-1), H_+ the Hessian of L at w* with negative eigenvalues clipped.

    Exactly whitens p when L is quadratic; at singular points (H = 0 in degenerate directions)
    those directions get the localisation scale 1/sqrt(gamma).
    """
    check_positive("nbeta", nbeta)
    check_positive("localization", localization)
    w_star = jnp.asarray(w_star, dtype=jnp.float64)
    h = np.asarray(jax.hessian(loss_fn)(w_star))
    evals, evecs = np.linalg.eigh(0.5 * (h + h.T))
    inv = 1.0 / (nbeta * np.clip(evals, 0.0, None) + localization)
    return jnp.asarray((evecs * inv) @ evecs.T)


# ----------------------------------------------------------------------------------------------
# Known-answer models
# ----------------------------------------------------------------------------------------------


class QuadraticModel(eqx.Module):
    """Regular model L(w) = sum_i c_i w_i^2 (c_i > 0): lambda = d/2, multiplicity 1, w* = 0.

    Finite-nbeta exact value with localisation gamma: sum_i nbeta c_i / (2 nbeta c_i + gamma).
    """

    curvatures: tuple

    def loss(self, w):
        return jnp.sum(jnp.asarray(self.curvatures, jnp.float64) * w**2)

    @property
    def w_star(self):
        return jnp.zeros(len(self.curvatures), jnp.float64)

    @property
    def rlct(self):
        return len(self.curvatures) / 2.0

    def exact_lambda_hat(self, nbeta, gamma):
        c = np.asarray(self.curvatures, dtype=np.float64)
        return float(np.sum(nbeta * c / (2 * nbeta * c + gamma)))


class MonomialModel(eqx.Module):
    """Normal crossing L(w) = prod_i w_i^(2 k_i) at w* = 0 (Watanabe 2009, ch. 2; Lau et al. 2023).

    lambda = min_i 1/(2 k_i) (with prior/localisation positive at 0), multiplicity m = number of i
    attaining the minimum. In one dimension, L = w^(2k): lambda = 1/(2k) and, without localisation,
    nbeta E[L] = 1/(2k) exactly for every nbeta (a Gamma integral).
    """

    powers: tuple

    def __check_init__(self):
        if len(self.powers) < 1 or any((not isinstance(k, int)) or k < 1 for k in self.powers):
            raise ValueError(f"powers must be positive integers k_i (L = prod w_i^(2 k_i)), got {self.powers!r}")

    def loss(self, w):
        return jnp.prod(w ** jnp.asarray([2.0 * k for k in self.powers], dtype=jnp.float64))

    @property
    def w_star(self):
        return jnp.zeros(len(self.powers), jnp.float64)

    @property
    def rlct(self):
        return min(1.0 / (2 * k) for k in self.powers)

    @property
    def multiplicity(self):
        return sum(1 for k in self.powers if 1.0 / (2 * k) == self.rlct)


def aoyagi_watanabe_rlct(M: int, N: int, H: int, r: int) -> tuple[float, int]:
    """RLCT (lambda, m) of reduced-rank regression y = B A x, A: H x M, B: N x H, true rank r.

    Aoyagi & Watanabe, "Stochastic complexities of reduced rank regression in Bayesian estimation",
    Neural Networks 18 (2005). With M inputs, N outputs, H hidden, r = true rank (0 <= r <= H):

      if N + r <= M + H, M + r <= N + H and H + r <= M + N:
          M + H + N + r even: lambda = [2(H + r)(M + N) - (M - N)^2 - (H + r)^2] / 8,      m = 1
          M + H + N + r odd:  lambda = [2(H + r)(M + N) - (M - N)^2 - (H + r)^2 + 1] / 8,  m = 2
      elif M + H < N + r: lambda = [H M - H r + N r] / 2,  m = 1
      elif N + H < M + r: lambda = [H N - H r + M r] / 2,  m = 1
      else (M + N < H + r): lambda = M N / 2,             m = 1

    Checks: H = r with M != N gives ((M + N) H - H^2)/2 (regular, GL(H) quotient); H = 1, r = 0 gives
    min(M, N)/2 with m = 2 iff M = N (|a|^2 |b|^2).
    """
    for name, v in (("M", M), ("N", N), ("H", H)):
        check_integer(name, v)
    if not isinstance(r, int) or not 0 <= r <= min(H, M, N):
        raise ValueError(f"r must be an integer in [0, min(H, M, N)] = [0, {min(H, M, N)}], got {r!r}")
    if N + r <= M + H and M + r <= N + H and H + r <= M + N:
        base = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2
        if (M + H + N + r) % 2 == 0:
            return base / 8.0, 1
        return (base + 1) / 8.0, 2
    if M + H < N + r:
        return (H * M - H * r + N * r) / 2.0, 1
    if N + H < M + r:
        return (H * N - H * r + M * r) / 2.0, 1
    return M * N / 2.0, 1


class ReducedRankRegression(eqx.Module):
    """Infinite-data reduced-rank regression: x ~ N(0, I_M), model B A x, truth T of rank r.

        L(A, B) = E|B A x - T x|^2 = ||B A - T||_F^2,    T = diag(1, 2, .., r) padded to N x M.

    Parameters are flattened as w = (vec A (H x M), vec B (N x H)); w* = (A*, B*) with
    A* = [I_r 0; 0 0] (H x M) and B* = T's first r columns (N x H): L(w*) = 0.
    """

    M: int
    N: int
    H: int
    r: int

    def __check_init__(self):
        aoyagi_watanabe_rlct(self.M, self.N, self.H, self.r)

    @property
    def dim(self):
        return self.H * self.M + self.N * self.H

    def split(self, w):
        a = w[: self.H * self.M].reshape(self.H, self.M)
        b = w[self.H * self.M:].reshape(self.N, self.H)
        return a, b

    @property
    def target(self):
        t = np.zeros((self.N, self.M))
        for i in range(self.r):
            t[i, i] = i + 1.0
        return jnp.asarray(t)

    def loss(self, w):
        a, b = self.split(w)
        d = b @ a - self.target
        return jnp.sum(d * d)

    @property
    def w_star(self):
        a = np.zeros((self.H, self.M))
        b = np.zeros((self.N, self.H))
        for i in range(self.r):
            a[i, i] = 1.0
            b[i, i] = i + 1.0
        return jnp.asarray(np.concatenate([a.reshape(-1), b.reshape(-1)]))

    @property
    def rlct(self):
        return aoyagi_watanabe_rlct(self.M, self.N, self.H, self.r)[0]

    def exact_lambda_hat(self, nbeta: float, gamma: float) -> float:
        """Exact finite-nbeta value of nbeta E[L] under exp(-nbeta L - gamma/2 |w|^2), for r = 0.

        Independent of any sampler: B integrates out exactly (each of its N rows is Gaussian with
        precision 2 nbeta A A^T + gamma I), leaving an integral over the singular values s_i of A
        (H x M, H <= M), whose density under the Gaussian is prop. to prod_i s_i^(M-H)
        prod_{i<j} |s_i^2 - s_j^2| exp(-gamma |s|^2 / 2):

            nbeta E[L] = < N sum_i nbeta s_i^2 / (2 nbeta s_i^2 + gamma) >,
            weight     = prod_i s_i^(M-H) (2 nbeta s_i^2 + gamma)^(-N/2) exp(-gamma s_i^2/2)
                         prod_{i<j} |s_i^2 - s_j^2|,

        done by adaptive quadrature in log s (1-D for H = 1, 2-D for H = 2; relative accuracy
        ~1e-7). As nbeta -> infinity it tends to lambda - (m - 1)/ln(nbeta) + O(1/ln^2) with
        (lambda, m) of `aoyagi_watanabe_rlct` (tests/apps/test_llc.py checks this for five shapes).
        """
        from scipy.integrate import dblquad, quad

        if self.r != 0 or self.H > 2 or self.H > self.M:
            raise ValueError(f"exact_lambda_hat needs r = 0 and H <= min(2, M); got M={self.M}, "
                             f"N={self.N}, H={self.H}, r={self.r}")
        nb, g = check_positive("nbeta", nbeta), check_positive("gamma", gamma)
        M, N, H = self.M, self.N, self.H

        def integrand(u, power):  # u = log s; includes the Jacobian ds = s du
            s = np.exp(np.asarray(u, dtype=np.float64))
            logw = float(np.sum((M - H + 1) * u - 0.5 * g * s**2 - 0.5 * N * np.log(2 * nb * s**2 + g)))
            vd = abs(s[0] ** 2 - s[1] ** 2) if H == 2 else 1.0
            lam = N * float(np.sum(nb * s**2 / (2 * nb * s**2 + g)))
            return math.exp(logw) * vd * lam**power

        if H == 1:
            c = 0.5 * math.log(g / nb)
            num, den = (quad(lambda u, k=k: integrand(np.array([u]), k), -50.0, 5.0, points=[c],
                             limit=200, epsabs=0.0, epsrel=1e-10)[0] for k in (1, 0))
        else:
            lo = 0.5 * math.log(g / nb) - 14.0    # weight ~ s^(2 (M - H) + 2) below the kink
            num, den = (dblquad(lambda u1, u2, k=k: integrand(np.array([u1, u2]), k), lo, 4.0,
                                lo, 4.0, epsabs=0.0, epsrel=1e-7)[0] for k in (1, 0))
        return num / den

    @property
    def multiplicity(self):
        return aoyagi_watanabe_rlct(self.M, self.N, self.H, self.r)[1]
