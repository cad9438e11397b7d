"""Learning zero: the local learning coefficient of a tanh network at a zero-function point.

Model (Vaintrob, "Learning zero, and what SLT gets wrong about it"; physics.md section 6): a
bias-free two-layer tanh network on Gaussian inputs x ~ N(0, I_d),

    f_theta(x) = sum_{i=1}^h a_i tanh(w_i . x),    theta = (a, W) in R^(h (d + 1)),

learning the zero function with the infinite-data loss (population MSE, Gauss-Hermite quadrature)

    L(theta) = E_x[f_theta(x)^2] = a^T G(W) a,    G_ij(W) = E[tanh(w_i . x) tanh(w_j . x)].

Zero point (our choice, documented): w* = (a = 0, W = W0) with W0 ~ N(0, s^2/d) a random
initialisation (s = `weight_scale`). For d = 1 and distinct nonzero |w_i| the functions tanh(w_i x)
are linearly independent (their poles i pi/(2|w_i|) differ), so G(W) is positive definite on a
neighbourhood of W0: L is a nondegenerate quadratic form in a (h directions) and flat in W. Hence
the local RLCT is exactly

    lambda(w*) = h / 2 = 64 for h = 128.

At finite nbeta, freezing W = W0 and integrating the Gaussian in a with localisation gamma gives

    lambda_quad(nbeta) = sum_j nbeta g_j / (2 nbeta g_j + gamma),    g_j = eigenvalues of G(W0),

i.e. each eigen-direction of G counts 1/2 once nbeta g_j >~ gamma/2. If g_j ~ g_0 exp(-c j^p),
mode counting gives lambda ~ (1/2) (ln(2 nbeta g_0/gamma)/c)^(1/p): linear in ln nbeta for p = 1,
quadratic for p = 1/2.

Which p? Each single neuron has the stretched Hermite law |c_k[tanh(w .)]| ~ exp(-pi sqrt(k)/(2|w|))
(`meanfield._observables.hermite`); if the a-directions were Hermite modes with those weights, p = 1/2 and
lambda would grow like (ln nbeta)^2. They are not: G_ij = k(w_i, w_j) samples the kernel
k(w, w') = E[tanh(w x) tanh(w' x)], which is analytic in (w, w') near the real axis, and the
eigenvalues of a kernel analytic on a neighbourhood of an interval decay geometrically (Little &
Reade, "Eigenvalue estimates for analytic kernels", SIAM J. Math. Anal. 15, 1984), p = 1. For
h = 128, W0 ~ N(0, 1) (seed 0) the measured spectrum (2048 nodes, 23 eigenvalues above 1e-27 g_0)
fits p = 0.90 (rms 0.11 in ln g; p = 1: c = 2.74, rms 0.72; p = 1/2: rms 4.0), far below the
Hermite-tail bound g_j <~ h exp(-pi sqrt(2j)/max|w|). Mode counting with c = 2.74 predicts
d lambda / d ln nbeta = 1/(2c) = 0.18; lambda_quad fitted over 1e0..1e28 gives 0.18 (linear) and,
with a quadratic term, B = 0.16, C = 3.5e-4 (seeds 0-4: C = 1.8e-4..3.5e-4): linear with a slight
upward curvature (p slightly below 1 because w ~ N(0, 1) is unbounded). Hence lambda = 8 at
nbeta = 1e20, and the RLCT 64 only at nbeta ~ 1e110 (general fit) to 1e150 (linear fit),
an extrapolation far beyond any measurable eigenvalue.

The sampled lambda_hat (W free) is measured by `marginal_llc` (a integrated exactly) at every
nbeta and by joint MALA where that mixes; `run_llc_experiment` compares both with lambda_quad.
Measured (`meanfield llc` defaults: gamma = 100, seed 0, 21 nbeta in 1e0..1e20, 8 chains x 200,
11 min): lambda_hat = 0.208 at 1, 2.28 at 1e6, 4.71 at 1e12, 8.16 at 1e20 (errors <= 0.005),
0.001-0.043 above lambda_quad (W's freedom adds a little). On 1e2..1e20 (lambda >= 0.5): linear
law slope 0.174 +- 0.001 per e-fold (0.40 per decade), rms residual 0.084; pure quadratic
A + C l^2 rms 0.66 (rejected: residuals +0.8 .. -1.5, systematic); general quadratic B = 0.156,
C = 4.6e-4 +- 0.3e-4, rms 0.017. Joint MALA agrees to 1e4 (1.52 +- 0.06 vs 1.50) and falls
below beyond (1e5: 1.59 +- 0.08 vs 1.89; acceptance 0.53, then 0.35 at 1e6).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..._observables.hermite import gauss_hermite_rule
from .estimator import SGLD, LLCResult, calibrate_step_size, estimate_llc, hessian_preconditioner
from ..._misc import Progress
from ..._data.quadrature import product_rule
from ..._misc import check_integer, check_positive

__all__ = [
    "TanhNet",
    "gram_spectrum",
    "quadratic_lambda",
    "spectrum_decay_fit",
    "marginal_llc",
    "fit_growth_laws",
    "run_llc_experiment",
    "plot_llc_experiment",
]


class TanhNet(eqx.Module):
    """Bias-free tanh net f(x) = sum_i a_i tanh(w_i . x) with the quadrature loss E[f^2].

    Attributes: width h, input dim d (<= 3: product rule), n_nodes per axis of the Gauss-Hermite
    rule (256 for d = 1 keeps the error of E[tanh(w x)^2] below 1e-6 for |w| <= 3, see
    `meanfield._observables.hermite`). theta is flat: (a (h,), vec W (h, d)).
    """

    width: int = 128
    dim: int = 1
    n_nodes: int = 256

    def __check_init__(self):
        check_integer("width", self.width)
        if not isinstance(self.dim, int) or not 1 <= self.dim <= 3:
            raise ValueError(f"dim must be 1, 2 or 3 (tensor-product quadrature), got {self.dim!r}")
        if not isinstance(self.n_nodes, int) or self.n_nodes < 8 or self.n_nodes**self.dim > 300_000:
            raise ValueError(f"n_nodes must be an integer >= 8 with n_nodes**dim <= 300000, got "
                             f"{self.n_nodes!r} (dim={self.dim}); try 256 (d=1), 128 (d=2), 48 (d=3)")

    @property
    def n_params(self) -> int:
        return self.width * (self.dim + 1)

    @property
    def rlct(self) -> float:
        """h/2: L is a nondegenerate quadratic form in a at a = 0 (module docstring)."""
        return self.width / 2.0

    def split(self, theta):
        theta = jnp.asarray(theta)
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},) = h (d + 1), got {theta.shape}")
        return theta[: self.width], theta[self.width:].reshape(self.width, self.dim)

    def __call__(self, theta, x):
        """f_theta(x) for x of shape (..., d)."""
        a, w = self.split(theta)
        return jnp.tanh(jnp.asarray(x, jnp.float64) @ w.T) @ a

    def _rule(self):
        if self.dim == 1:
            z, om = gauss_hermite_rule(self.n_nodes)
            return z[:, None], om
        return product_rule(self.dim, self.n_nodes)

    def loss(self, theta):
        """L(theta) = E_x[f_theta(x)^2] by the Gauss-Hermite rule (float64)."""
        x, om = self._rule()
        f = self(theta, jnp.asarray(x))
        return jnp.dot(jnp.asarray(om), f * f)

    def zero_point(self, key=0, weight_scale: float = 1.0):
        """w* = (a = 0, W ~ N(0, weight_scale^2 / d)): a network computing exactly zero."""
        if not weight_scale > 0:
            raise ValueError(f"weight_scale must be positive, got {weight_scale!r}")
        key = jax.random.PRNGKey(key) if isinstance(key, int) else key
        w = jax.random.normal(key, (self.width, self.dim), jnp.float64) * weight_scale / math.sqrt(self.dim)
        return jnp.concatenate([jnp.zeros(self.width, jnp.float64), w.reshape(-1)])


def gram_spectrum(net: TanhNet, theta_star, n_nodes: int = 2048) -> np.ndarray:
    """Eigenvalues g_j (descending) of G = E[tanh(W x) tanh(W x)^T] at theta_star's W (d = 1).

    Computed as squared singular values of diag(sqrt(omega)) tanh(x_n w_i), which resolves them down
    to ~1e-32 g_max (eigh of G itself stops at ~1e-16 g_max). The *quadrature* limits them first:
    for h = 128, W ~ N(0, 1) the values at 512 nodes are off by 4% at g ~ 1e-16 g_0 and by 10x at
    1e-30 g_0; 2048 nodes agree with 4096 to 3e-4 down to g ~ 1e-28 g_0, below which the values are
    noise (~1e-32 g_0). So lambda_quad is trustworthy up to nbeta ~ gamma / (1e-27 g_0).
    """
    if net.dim != 1:
        raise ValueError(f"gram_spectrum supports dim = 1 only, got net.dim = {net.dim}")
    _, w = net.split(theta_star)
    z, om = gauss_hermite_rule(n_nodes)
    f = np.sqrt(om)[:, None] * np.tanh(np.outer(z, np.asarray(w)[:, 0]))
    s = np.linalg.svd(f, compute_uv=False)
    return s**2


def quadratic_lambda(nbeta, g, gamma: float) -> np.ndarray:
    """lambda_quad(nbeta) = sum_j nbeta g_j / (2 nbeta g_j + gamma) (W frozen, a Gaussian)."""
    nb = np.atleast_1d(np.asarray(nbeta, dtype=np.float64))[:, None]
    g = np.asarray(g, dtype=np.float64)[None, :]
    return np.sum(nb * g / (2 * nb * g + gamma), axis=1)


def spectrum_decay_fit(g, rel_floor: float = 1e-28) -> dict:
    """Fit log g_j = A - c j^p (j = 0, 1, ..) over eigenvalues above rel_floor * g_0.

    p = 1: geometric decay (lambda linear in log nbeta); p = 1/2: stretched (quadratic in log nbeta).
    Returns A, c, p and the rms residual in log g, plus the fits with p fixed to 1 and to 1/2.
    """
    from scipy.optimize import curve_fit

    g = np.asarray(g, dtype=np.float64)
    keep = (g > rel_floor * g[0]) & (g > 0) if g.size and g[0] > 0 else np.zeros(g.shape, bool)
    j = np.arange(g.size, dtype=np.float64)[keep]
    y = np.log(g[keep])

    def law(jj, a, c, p):
        return a - c * np.power(jj, p)

    nan = float("nan")
    if keep.sum() <= 3:  # too few resolved eigenvalues (a tiny net or W0 ~ 0): nothing to fit
        return {"A": nan, "c": nan, "p": nan, "rms": nan, "n_used": int(keep.sum()),
                "p=1": {"A": nan, "c": nan, "rms": nan},
                "p=1/2": {"A": nan, "c": nan, "rms": nan}}
    (a, c, p), _ = curve_fit(law, j, y, p0=(y[0], 1.0, 0.8), maxfev=20000)
    out = {"A": float(a), "c": float(c), "p": float(p),
           "rms": float(np.sqrt(np.mean((law(j, a, c, p) - y) ** 2))), "n_used": int(keep.sum())}
    for name, pp in (("p=1", 1.0), ("p=1/2", 0.5)):
        X = np.stack([np.ones_like(j), -np.power(j, pp)], axis=1)
        b, *_ = np.linalg.lstsq(X, y, rcond=None)
        out[name] = {"A": float(b[0]), "c": float(b[1]),
                     "rms": float(np.sqrt(np.mean((X @ b - y) ** 2)))}
    return out


def _marginal_terms(w, z, sq, c):
    """Per chain (w: (C, h)): 1/2 log det(I + c F^T F), lambda(W) and the gradient of the former.

    F[n, i] = sqrt(omega_n) tanh(z_n w_i). With M = [sqrt(c) F; I] = Q R (reduced QR), R^T R =
    I + c F^T F, so 1/2 log det = sum log|R_ii|, sum_j c g_j/(1 + c g_j) = h - |R^-1|_F^2, and
    d/dw_i 1/2 log det = sqrt(c) sum_n (Q_top R^-T)_{ni} D_{ni}, D = dF/dw. No eigenvalue of F^T F
    is formed, so directions with c g_j ~ 1 are resolved even when g_j ~ 1e-30 g_0.
    """
    h = w.shape[1]
    zw = z[None, :, None] * w[:, None, :]
    f = sq[None, :, None] * np.tanh(zw)
    d = (sq * z)[None, :, None] / np.cosh(zw) ** 2
    m = np.concatenate([math.sqrt(c) * f, np.broadcast_to(np.eye(h), (w.shape[0], h, h))], axis=1)
    q, r = np.linalg.qr(m)
    half_logdet = np.sum(np.log(np.abs(np.diagonal(r, axis1=1, axis2=2))), axis=1)
    r_inv = np.linalg.inv(r)
    lam = 0.5 * (h - np.sum(r_inv**2, axis=(1, 2)))
    grad = math.sqrt(c) * np.sum((q[:, : z.size, :] @ np.swapaxes(r_inv, 1, 2)) * d, axis=1)
    return half_logdet, lam, grad


def marginal_llc(net: TanhNet, theta_star, nbeta: float, localization: float = 100.0, seed: int = 0,
                 n_chains: int = 8, n_steps: int = 400, n_burnin: int = 100, n_nodes: int = 512,
                 target_accept: float = 0.6) -> LLCResult:
    """lambda_hat of the tanh net at theta* = (a = 0, W0) with the output weights a integrated out.

    The net is linear in a, so under p(a, W) ∝ exp(-nbeta a^T G(W) a - gamma/2 |(a, W) - (0, W0)|^2)
    a | W is Gaussian with precision 2 nbeta G(W) + gamma I, and exactly

        nbeta E[L | W] = lambda(W) = sum_j nbeta g_j(W) / (2 nbeta g_j(W) + gamma),
        p(W) ∝ exp(-gamma/2 |W - W0|^2) det(I + (2 nbeta/gamma) G(W))^(-1/2).

    So lambda_hat = nbeta E[L] - 0 = E_{p(W)}[lambda(W)] (Rao-Blackwellised), with W sampled by
    MALA on its marginal, preconditioned by 1/gamma (the marginal is the localisation Gaussian tilted
    by the determinant). The step size adapts towards `target_accept` during burn-in only and is
    then frozen, so the kept draws are exact MALA. Unlike joint MALA/SGLD on (a, W), whose step must
    shrink with the stiffest direction nbeta g_0 and which stalls beyond nbeta ~ 1e7 here, this mixes
    at any nbeta (the marginal of W is always on the localisation scale). G(W) uses an
    `n_nodes`-point rule (512: lambda within 0.02 of the 2048-node value up to nbeta = 1e20 for the
    h = 128 net, tests/apps/test_llc.py::test_gram_quadrature_nodes_for_h128); Gauss-Hermite rows with
    weight below 1e-40 of the largest are dropped.

    Example:
        >>> net = TanhNet(width=8)
        >>> res = marginal_llc(net, net.zero_point(0), nbeta=1e4, n_chains=4, n_steps=40, n_burnin=15,
        ...                    n_nodes=128)
        >>> 0 < res.lambda_hat < net.rlct
        True

    Returns an `LLCResult` whose loss_trace holds E[L | W_t] = lambda(W_t)/nbeta, init_loss = 0,
    acceptance the mean MALA acceptance after burn-in, final_theta the final W of each chain.
    """
    if net.dim != 1:
        raise ValueError(f"marginal_llc supports dim = 1 only, got net.dim = {net.dim}")
    nbeta = check_positive("nbeta", nbeta)
    gamma = check_positive("localization", localization)
    for name, v, lo in (("n_chains", n_chains, 2), ("n_steps", n_steps, 2), ("n_burnin", n_burnin, 0)):
        check_integer(name, v, minimum=lo)
    if n_burnin >= n_steps - 1:
        raise ValueError(f"n_burnin must be < n_steps - 1, got n_burnin={n_burnin}, n_steps={n_steps}")
    a_star, w_star = net.split(theta_star)
    if float(jnp.max(jnp.abs(a_star))) != 0.0:
        raise ValueError("marginal_llc needs a zero point with a = 0 (theta_star[:width] == 0)")
    w0 = np.asarray(w_star, dtype=np.float64)[:, 0]
    z, om = gauss_hermite_rule(n_nodes)
    keep = om > 1e-40 * om.max()       # rows below this add < 1e-40 to G: nothing at any nbeta used
    z, sq = z[keep], np.sqrt(om[keep])
    c = 2.0 * nbeta / gamma
    rng = np.random.default_rng([seed, 7])
    w = np.broadcast_to(w0, (n_chains, w0.size)).copy()
    u, lam, grad = _marginal_terms(w, z, sq, c)      # at W0: U = 1/2 log det, grad = its gradient
    eps = 0.5
    lam_trace = np.empty((n_chains, n_steps))
    acc_trace = np.empty((n_chains, n_steps))
    for t in range(n_steps):
        xi = rng.standard_normal(w.shape)
        s = math.sqrt(eps / gamma)
        prop = w - 0.5 * (eps / gamma) * grad + s * xi
        ld_p, lam_p, g_p = _marginal_terms(prop, z, sq, c)
        dp = prop - w0
        u_p = 0.5 * gamma * np.sum(dp**2, axis=1) + ld_p
        grad_p = gamma * dp + g_p
        back = (w - prop + 0.5 * (eps / gamma) * grad_p) / s
        log_a = -u_p + u - 0.5 * np.sum(back**2, axis=1) + 0.5 * np.sum(xi**2, axis=1)
        log_a = np.where(np.isfinite(log_a), log_a, -np.inf)
        acc = np.exp(np.minimum(log_a, 0.0))
        ok = rng.uniform(size=n_chains) < acc
        w = np.where(ok[:, None], prop, w)
        u = np.where(ok, u_p, u)
        lam = np.where(ok, lam_p, lam)
        grad = np.where(ok[:, None], grad_p, grad)
        lam_trace[:, t] = lam
        acc_trace[:, t] = acc
        if t < n_burnin:  # Robbins-Monro on log eps; frozen afterwards
            eps *= math.exp(0.5 * (float(acc.mean()) - target_accept) / math.sqrt(t + 1.0))
    kept = lam_trace[:, n_burnin:]
    chain_lambda = kept.mean(axis=1)
    half = kept.shape[1] // 2
    return LLCResult(
        lambda_hat=float(chain_lambda.mean()),
        lambda_hat_err=float(np.std(chain_lambda, ddof=1) / math.sqrt(n_chains)),
        chain_lambda=chain_lambda, loss_trace=lam_trace / nbeta,
        acceptance=float(acc_trace[:, n_burnin:].mean()),
        drift=float(kept[:, half:].mean() - kept[:, :half].mean()),
        init_loss=0.0, nbeta=nbeta, final_theta=w,
    )


def fit_growth_laws(nbetas, lam, err=None, lam_min: float = 0.5, lam_max: float = np.inf) -> dict:
    """Weighted least-squares fits of lambda against l = ln(nbeta) on lam_min <= lambda <= lam_max:

        linear:     lambda = A + B l            (Gram eigenvalues geometric, g_j ~ e^(-c j))
        quadratic:  lambda = A + C l^2          (g_j ~ e^(-c sqrt(j)), the Hermite law of one tanh)
        general:    lambda = A + B l + C l^2    (nests both; C / C_err says whether curvature is seen)

    Each entry: params, param_errors (from the weighted normal equations, scaled by
    sqrt(chi2/dof) when that exceeds 1), residuals (data - fit), chi2, chi2_per_dof, rms. With
    `err` = None the fits are unweighted and chi2 is the residual sum of squares. lam_min = 0.5
    drops the small-nbeta points where no Gram mode is resolved yet (lambda -> 0, not logarithmic).
    """
    nb = np.asarray(nbetas, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    sig = np.ones_like(lam) if err is None else np.maximum(np.asarray(err, dtype=np.float64), 1e-12)
    m = (lam >= lam_min) & (lam <= lam_max) & np.isfinite(lam)
    l, y, s = np.log(nb[m]), lam[m], sig[m]
    out = {"ln_nbeta_range": [float(l.min()), float(l.max())] if m.any() else None,
           "n_points": int(m.sum()), "weighted": err is not None, "lam_min": lam_min,
           "lam_max": None if not np.isfinite(lam_max) else float(lam_max)}
    laws = {"linear": (0, 1), "quadratic": (0, 2), "general": (0, 1, 2)}
    names = {0: "A", 1: "B", 2: "C"}
    for name, powers in laws.items():
        k = len(powers)
        if m.sum() <= k:
            out[name] = None
            continue
        X = np.stack([l**p for p in powers], axis=1)
        b, *_ = np.linalg.lstsq(X / s[:, None], y / s, rcond=None)
        res = y - X @ b
        chi2 = float(np.sum((res / s) ** 2))
        dof = int(m.sum()) - k
        cov = np.linalg.inv((X / s[:, None]).T @ (X / s[:, None])) * max(1.0, chi2 / dof)
        if err is None:
            cov = np.linalg.inv(X.T @ X) * chi2 / dof
        out[name] = {"law": " + ".join(f"{names[p]} l^{p}" if p else "A" for p in powers),
                     "params": {names[p]: float(v) for p, v in zip(powers, b)},
                     "param_errors": {names[p]: float(math.sqrt(cov[i, i])) for i, p in enumerate(powers)},
                     "residuals": [float(v) for v in res], "chi2": chi2,
                     "chi2_per_dof": chi2 / dof, "rms": float(np.sqrt(np.mean(res**2)))}
    return out


def _law_value(fit, l):
    p = fit["params"]
    return p.get("A", 0.0) + p.get("B", 0.0) * l + p.get("C", 0.0) * l**2


def run_llc_experiment(width: int = 128, nbetas=None, localization: float = 100.0, n_chains: int = 8,
                       n_steps: int = 400, n_burnin: int = 100, seed: int = 0,
                       weight_scale: float = 1.0, n_nodes: int = 512, mala_max_nbeta: float = 1e6,
                       mala_steps: int = 3000, mala_nodes: int = 256, target_accept: float = 0.85,
                       theory_nbetas=None, progress: bool = True) -> dict:
    """lambda_hat(nbeta) of the learning-zero tanh net at theta* = (0, W0), with theory and fits.

    Two estimators of the same posterior exp(-nbeta L - gamma/2 |theta - theta*|^2):
      * `marginal_llc` (a integrated exactly, W by MALA) at every nbeta: the headline numbers;
      * devinterp-style joint MALA on theta = (a, W) (`estimate_llc` with the Hessian
        preconditioner, step by `calibrate_step_size` to `target_accept`) for nbeta <=
        `mala_max_nbeta`, as an independent check where it mixes (beyond ~1e7 its step collapses).
    Returns a JSON-able dict (plus "loss_traces", an array, for the results folder):

      betas, lambda_hat, lambda_hat_err, acceptance, drift, chain_spread  (marginal estimator)
      mala: betas, lambda_hat, lambda_hat_err, acceptance, drift, step_size, chain_spread
      lambda_quad             W frozen at W0 (exact Gaussian in a), at `betas`
      theory_betas, theory_lambda   the same on a wide grid (2048-node Gram spectrum)
      spectrum, spectrum_fit  eigenvalues of G(W0) and the fit log g_j = A - c j^p
      fits, fits_theory       `fit_growth_laws` on lambda_hat (weighted) and on lambda_quad
      rlct                    h/2
    """
    if nbetas is None:
        nbetas = np.logspace(0, 20, 21)
    if theory_nbetas is None:
        theory_nbetas = np.logspace(-1, 28, 117)
    nbetas = np.asarray(nbetas, dtype=np.float64)
    if nbetas.ndim != 1 or nbetas.size < 1 or not np.all(nbetas > 0):
        raise ValueError(f"nbetas must be a non-empty 1-D array of positive numbers, got {nbetas!r}")
    net = TanhNet(width=width, dim=1, n_nodes=mala_nodes)
    theta_star = net.zero_point(seed, weight_scale)
    key = jax.random.PRNGKey(seed + 1)
    mala_betas = [float(b) for b in nbetas if b <= mala_max_nbeta]
    bar = Progress(len(nbetas) + len(mala_betas), "llc", enabled=progress)
    rows, mala_rows = [], []
    for i, nb in enumerate(nbetas):
        res = marginal_llc(net, theta_star, float(nb), localization, seed + 100 + i, n_chains,
                           n_steps, n_burnin, n_nodes)
        rows.append(res)
        bar.update(i + 1, f"marginal nbeta={nb:.3g} lambda_hat={res.lambda_hat:.3f} +- "
                          f"{res.lambda_hat_err:.3f} acc={res.acceptance:.2f}", force=True)
    for i, nb in enumerate(mala_betas):
        p = hessian_preconditioner(net.loss, theta_star, nb, localization)
        eps, _ = calibrate_step_size(net.loss, theta_star, nb, jax.random.fold_in(key, 2 * i),
                                     localization, p, target_accept=target_accept, step_size=0.5,
                                     n_chains=4, n_steps=200, n_iter=10)
        res = estimate_llc(net.loss, theta_star, SGLD(eps, nb, localization, True, p),
                           jax.random.fold_in(key, 2 * i + 1), n_chains, mala_steps, mala_steps // 4)
        mala_rows.append((res, eps))
        bar.update(len(nbetas) + i + 1, f"joint MALA nbeta={nb:.3g} lambda_hat={res.lambda_hat:.3f}"
                                        f" +- {res.lambda_hat_err:.3f} acc={res.acceptance:.2f}", force=True)
    bar.close("done")
    g = gram_spectrum(net, theta_star, n_nodes=2048)
    betas = [float(v) for v in nbetas]
    lam = np.array([r.lambda_hat for r in rows])
    err = np.array([r.lambda_hat_err for r in rows])
    tl = quadratic_lambda(theory_nbetas, g, localization)
    hi = 0.8 * net.rlct
    return {
        "betas": betas, "lambda_hat": lam.tolist(), "lambda_hat_err": err.tolist(),
        "acceptance": [r.acceptance for r in rows], "drift": [r.drift for r in rows],
        "chain_spread": [float(np.std(r.chain_lambda)) for r in rows],
        "estimator": "marginal_llc: a integrated exactly, W by MALA (Rao-Blackwellised)",
        "mala": {"betas": mala_betas, "lambda_hat": [r.lambda_hat for r, _ in mala_rows],
                 "lambda_hat_err": [r.lambda_hat_err for r, _ in mala_rows],
                 "acceptance": [r.acceptance for r, _ in mala_rows],
                 "drift": [r.drift for r, _ in mala_rows], "step_size": [e for _, e in mala_rows],
                 "chain_spread": [float(np.std(r.chain_lambda)) for r, _ in mala_rows],
                 "n_nodes": mala_nodes, "n_steps": mala_steps},
        "lambda_quad": [float(v) for v in quadratic_lambda(betas, g, localization)],
        "theory_betas": [float(v) for v in theory_nbetas], "theory_lambda": [float(v) for v in tl],
        "spectrum": [float(v) for v in g], "spectrum_fit": spectrum_decay_fit(g, rel_floor=1e-27),
        "fits": fit_growth_laws(betas, lam, err, lam_min=0.5, lam_max=hi),
        "fits_theory": fit_growth_laws(theory_nbetas, tl, None, lam_min=0.5, lam_max=hi),
        "rlct": net.rlct,
        "loss_traces": np.stack([r.loss_trace for r in rows]),
        "config": {"width": width, "localization": localization, "n_chains": n_chains,
                   "n_steps": n_steps, "n_burnin": n_burnin, "seed": seed,
                   "weight_scale": weight_scale, "n_nodes": n_nodes,
                   "mala_max_nbeta": mala_max_nbeta, "mala_steps": mala_steps,
                   "mala_nodes": mala_nodes, "target_accept": target_accept,
                   "zero_point": "a = 0, W ~ N(0, weight_scale^2)", "loss": "E_x[f(x)^2], x ~ N(0,1)",
                   "nbeta": "n * beta (infinite-data loss: only the product enters)"},
    }


def plot_llc_experiment(result: dict):
    """Figure of `run_llc_experiment`: lambda_hat vs nbeta against the RLCT, zoom with growth laws,
    and the Gram spectrum of G(W0). Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    fig, (ax, ax1, ax2) = plt.subplots(1, 3, figsize=(16, 4.6))
    b = np.asarray(result["betas"])
    tb = np.asarray(result["theory_betas"])
    mala = result.get("mala") or {}
    for a in (ax, ax1):
        a.errorbar(b, result["lambda_hat"], yerr=result["lambda_hat_err"], fmt="o", color="k", ms=4,
                   label=r"$\hat\lambda$: a integrated, W by MALA")
        if mala.get("betas"):
            a.errorbar(mala["betas"], mala["lambda_hat"], yerr=mala["lambda_hat_err"], fmt="s",
                       mfc="none", color="tab:purple", ms=7, label=r"$\hat\lambda$: joint MALA on (a, W)")
        a.plot(tb, result["theory_lambda"], "-", color="tab:blue", lw=1,
               label="W frozen at W0 (exact Gaussian)")
        a.set_xscale("log")
        a.set_xlabel(r"n$\beta$")
    ax.axhline(result["rlct"], color="tab:red", ls="--", label=f"RLCT = h/2 = {result['rlct']:g}")
    ax.set_ylim(-1, result["rlct"] * 1.1)
    ax.set_ylabel(r"$\hat\lambda$")
    ax.set_title("learning zero: h = %d tanh net" % result["config"]["width"])
    ax.legend(fontsize=7, loc="center left")
    lt = np.log(tb)
    fits = result["fits"]
    for name, col in (("linear", "tab:green"), ("quadratic", "tab:orange")):
        f = fits.get(name)
        if f:
            lo, hi = fits["ln_nbeta_range"]
            sel = (lt >= lo - 2) & (lt <= hi + 2)
            ax1.plot(tb[sel], _law_value(f, lt[sel]), ":" if name == "linear" else "--", color=col,
                     label=f"{name} in ln n$\\beta$: rms {f['rms']:.3f} "
                           f"($\\chi^2$/dof {f['chi2_per_dof']:.3g})")
    top = max(np.max(result["lambda_hat"]), 1.0)
    ax1.set_xlim(b.min() / 3, b.max() * 3)
    ax1.set_ylim(-0.2, top * 1.15)
    ax1.set_title("zoom: growth laws fitted to $\\hat\\lambda$")
    ax1.legend(fontsize=7, loc="upper left")
    g = np.asarray(result["spectrum"])
    ax2.semilogy(np.arange(g.size), g / g[0], ".", color="k", label="$g_j/g_0$ (2048 nodes)")
    sf = result["spectrum_fit"]
    j = np.arange(sf["n_used"])
    ax2.semilogy(j, np.exp(sf["A"] - sf["c"] * j ** sf["p"]) / g[0], "-", color="tab:blue",
                 label=f"fit $e^{{A - c j^p}}$: p = {sf['p']:.2f}")
    ax2.semilogy(j, np.exp(sf["p=1/2"]["A"] - sf["p=1/2"]["c"] * np.sqrt(j)) / g[0], "--",
                 color="tab:orange", label="best p = 1/2 (stretched) law")
    ax2.axhline(1e-27, color="gray", lw=0.5)
    ax2.set_ylim(1e-34, 3)
    ax2.set_xlabel("j")
    ax2.set_ylabel(r"eigenvalue of $G_{ij}=E[\tanh(w_i x)\tanh(w_j x)]$, / $g_0$")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig
