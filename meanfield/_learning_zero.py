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

i.e. each eigen-direction of G counts 1/2 once nbeta g_j >~ gamma/2. The eigenvalues inherit the
fast decay of the Hermite spectrum of tanh (see `meanfield._hermite`), so only a slowly growing
number of modes is "resolved": if g_j ~ exp(-c j^p), then lambda_quad ~ (log(nbeta)/c)^(1/p) / 2, linear
in log nbeta for p = 1 and quadratic for p = 1/2. `spectrum_decay_fit` measures p; the sampled
lambda_hat (W free) is compared against lambda_quad in `run_llc_experiment`.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._hermite import gauss_hermite_rule
from ._llc import SGLD, calibrate_step_size, estimate_llc, hessian_preconditioner
from ._quadrature import product_rule

__all__ = [
    "TanhNet",
    "gram_spectrum",
    "quadratic_lambda",
    "spectrum_decay_fit",
    "fit_growth_laws",
    "run_llc_experiment",
]


class TanhNet(eqx.Module):
    """Bias-free tanh net f(x) = sum_i a_i tanh(w_i . x) with the quadrature loss E[f^2].

    Attributes: width h, input dim d (<= 3: product rule), n_nodes per axis of the Gauss-Hermite
    rule (256 for d = 1 keeps the error of E[tanh(w x)^2] below 1e-6 for |w| <= 3, see
    `meanfield._hermite`). theta is flat: (a (h,), vec W (h, d)).
    """

    width: int = 128
    dim: int = 1
    n_nodes: int = 256

    def __check_init__(self):
        if not isinstance(self.width, int) or self.width < 1:
            raise ValueError(f"width must be a positive integer, got {self.width!r}")
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
    keep = g > rel_floor * g[0]
    j = np.arange(g.size, dtype=np.float64)[keep]
    y = np.log(g[keep])

    def law(jj, a, c, p):
        return a - c * np.power(jj, p)

    (a, c, p), _ = curve_fit(law, j, y, p0=(y[0], 1.0, 0.8), maxfev=20000)
    out = {"A": float(a), "c": float(c), "p": float(p),
           "rms": float(np.sqrt(np.mean((law(j, a, c, p) - y) ** 2))), "n_used": int(keep.sum())}
    for name, pp in (("p=1", 1.0), ("p=1/2", 0.5)):
        X = np.stack([np.ones_like(j), -np.power(j, pp)], axis=1)
        b, *_ = np.linalg.lstsq(X, y, rcond=None)
        out[name] = {"A": float(b[0]), "c": float(b[1]),
                     "rms": float(np.sqrt(np.mean((X @ b - y) ** 2)))}
    return out


def fit_growth_laws(nbetas, lam, err=None, lam_min: float = 0.0, lam_max: float = np.inf) -> dict:
    """Weighted least-squares fits of lambda against l = ln(nbeta) on lam_min <= lambda <= lam_max:

        linear:     lambda = A + B l
        quadratic:  lambda = A + B l + C l^2

    Returns per law: params, residuals (data - fit), chi2 and chi2/dof (with `err`; otherwise
    unweighted rms), the ln(nbeta) range used, and the predicted nbeta where the law reaches h/2
    is left to the caller.
    """
    nb = np.asarray(nbetas, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    sig = np.ones_like(lam) if err is None else np.maximum(np.asarray(err, dtype=np.float64), 1e-12)
    m = (lam >= lam_min) & (lam <= lam_max) & np.isfinite(lam)
    l, y, s = np.log(nb[m]), lam[m], sig[m]
    out = {"ln_nbeta_range": [float(l.min()), float(l.max())] if m.any() else None, "n_points": int(m.sum())}
    for name, deg in (("linear", 1), ("quadratic", 2)):
        if m.sum() <= deg + 1:
            out[name] = None
            continue
        X = np.stack([l**k for k in range(deg + 1)], axis=1)
        b, *_ = np.linalg.lstsq(X / s[:, None], y / s, rcond=None)
        res = y - X @ b
        chi2 = float(np.sum((res / s) ** 2))
        out[name] = {"params": [float(v) for v in b], "residuals": [float(v) for v in res],
                     "chi2": chi2, "chi2_per_dof": chi2 / (m.sum() - deg - 1),
                     "rms": float(np.sqrt(np.mean(res**2)))}
    return out


def run_llc_experiment(width: int = 128, nbetas=None, localization: float = 100.0, n_chains: int = 8,
                       n_steps: int = 2000, n_burnin: int = 500, seed: int = 0,
                       weight_scale: float = 1.0, n_nodes: int = 256, target_accept: float = 0.6,
                       theory_nbetas=None, min_acceptance: float = 0.3,
                       verbose: bool = False) -> dict:
    """lambda_hat(nbeta) of the learning-zero tanh net by preconditioned MALA, plus theory and fits.

    For each nbeta: P = (nbeta H(w*) + gamma I)^(-1) (`hessian_preconditioner`), step size by
    `calibrate_step_size` to `target_accept`, then `estimate_llc` with `n_chains` chains. The W
    directions are free (only the localisation holds them). Returns a JSON-able dict:

      betas, lambda_hat, lambda_hat_err, acceptance, drift, step_size, chain_spread   (per nbeta)
      lambda_quad             lambda_quad at `betas` (W frozen, exact Gaussian)
      theory_betas, theory_lambda   lambda_quad on a wide grid (default 1e-1..1e28)
      spectrum, spectrum_fit  eigenvalues of G(W0) and their decay-law fit
      reliable                acceptance >= min_acceptance (else the chains did not mix)
      fits, fits_theory       growth laws (linear / quadratic in ln nbeta) fitted to the reliable
                              lambda_hat, and to lambda_quad on 1 <= lambda <= 0.8 h/2
      rlct                    h/2;   config   the arguments
    """
    if nbetas is None:
        nbetas = np.logspace(0, 10, 11)
    if theory_nbetas is None:
        theory_nbetas = np.logspace(-1, 28, 117)
    net = TanhNet(width=width, dim=1, n_nodes=n_nodes)
    theta_star = net.zero_point(seed, weight_scale)
    key = jax.random.PRNGKey(seed + 1)
    rows = []
    for i, nb in enumerate(np.asarray(nbetas, dtype=np.float64)):
        p = hessian_preconditioner(net.loss, theta_star, float(nb), localization)
        eps, _ = calibrate_step_size(net.loss, theta_star, float(nb), jax.random.fold_in(key, 2 * i),
                                     localization, p, target_accept=target_accept, step_size=0.5,
                                     n_chains=4, n_steps=200, n_iter=8)
        res = estimate_llc(net.loss, theta_star, SGLD(eps, float(nb), localization, True, p),
                           jax.random.fold_in(key, 2 * i + 1), n_chains, n_steps, n_burnin)
        rows.append((res, eps))
        if verbose:
            print(f"nbeta={nb:.3g} eps={eps:.3g} lambda_hat={res.lambda_hat:.3f} +- "
                  f"{res.lambda_hat_err:.3f} acc={res.acceptance:.2f} drift={res.drift:.3f}", flush=True)
    g = gram_spectrum(net, theta_star, n_nodes=2048)
    betas = [float(v) for v in nbetas]
    lam = [r.lambda_hat for r, _ in rows]
    err = [r.lambda_hat_err for r, _ in rows]
    lq = quadratic_lambda(betas, g, localization)
    tl = quadratic_lambda(theory_nbetas, g, localization)
    hi = 0.8 * net.rlct
    acc = np.array([r.acceptance for r, _ in rows])
    ok = acc >= min_acceptance        # MALA that rejects nearly everything has not mixed
    return {
        "betas": betas, "lambda_hat": lam, "lambda_hat_err": err,
        "acceptance": [r.acceptance for r, _ in rows], "drift": [r.drift for r, _ in rows],
        "step_size": [float(e) for _, e in rows],
        "chain_spread": [float(np.std(r.chain_lambda)) for r, _ in rows],
        "lambda_quad": [float(v) for v in lq],
        "theory_betas": [float(v) for v in theory_nbetas], "theory_lambda": [float(v) for v in tl],
        "spectrum": [float(v) for v in g], "spectrum_fit": spectrum_decay_fit(g, rel_floor=1e-27),
        "reliable": [bool(v) for v in ok],
        "fits": fit_growth_laws(np.asarray(betas)[ok], np.asarray(lam)[ok], np.asarray(err)[ok],
                                lam_min=0.0, lam_max=hi),
        "fits_theory": fit_growth_laws(theory_nbetas, tl, None, lam_min=1.0, lam_max=hi),
        "rlct": net.rlct,
        "config": {"width": width, "localization": localization, "n_chains": n_chains,
                   "n_steps": n_steps, "n_burnin": n_burnin, "seed": seed,
                   "weight_scale": weight_scale, "n_nodes": n_nodes, "target_accept": target_accept,
                   "zero_point": "a = 0, W ~ N(0, weight_scale^2)", "loss": "E_x[f(x)^2], x ~ N(0,1)"},
    }
