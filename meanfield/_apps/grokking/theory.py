r"""Reduced (full-data) mean-field theory of modular addition (Rubin, Seroussi & Ringel, ICLR 2024).

A reference solver, a reduction of the Bayesian adaptive-kernel theory of physics.md section 2
(linearised action, prior w ~ N(0, sigma_w2/d I), read-out a ~ N(0, sigma_a2/N), likelihood
variance sigma^2) to a handful of scalars: `ModularTheory`, modular addition on the full data set
(all P^2 pairs), phi(z) = z^2, two-hot inputs in R^{2P}, P outputs, centred one-hot targets,
sextic stabiliser. (The cubic teacher's reduced theory, `CubicTeacherTheory`, lives in
`meanfield._apps.cubic_teacher`.)

Modular addition: the reduction
-------------------------------
Write a neuron's whitened input weights z = w / sqrt(sigma_w2/d), d = 2P, as two halves (u, v),
and the unitary DFT of each half. For odd P the non-zero frequencies pair into K = (P-1)/2 real
2-D blocks; A_k and B_k are the squared norms of block k of u and v (A_k, B_k ~ chi^2_2 under the
prior). On the full data set the problem is invariant under (n, m, p) -> (n+a, m+b, p+a+b) and
under the automorphisms n -> c n of Z_P, so the discrepancy is one number times the target,

    tbar_p(n, m) = tau (delta_{p, n+m} - 1/P),   tau = 1 / (lambda + sigma^2),

lambda the eigenvalue of the data kernel Q on the target vectors. Because
(u_n + v_m)^2 = u_n^2 + v_m^2 + 2 u_n v_m and the centred target kills the first two terms,

    sum_{n,m} tbar_p(n,m) phi = 2 tau [(u * v)_p - (sum u)(sum v)/P],
    L[z] = (sigma_a2/2N) sum_p (sum_mu tbar_{p mu} phi_mu)^2 = g sum_{k=1}^K A_k B_k,
    g = kappa P tau^2 / N,      kappa = sigma_a2 sigma_w2^2 / (4 P^2),
    lambda = kappa m,           m = < A_k B_k >  (any k != 0; 4 under the prior),

so the single-neuron action is S[z] = |z|^2/2 + Gamma(|z|^2) - g sum_k A_k B_k (tested against
`BayesianProblem` on `modular_addition(P, 1.0)` in tests/apps/test_grokking_theory.py). Without
Gamma this is an unbounded quartic; the stabiliser is

    Gamma(R) = gamma_eff (R/d)^3,   R = |z|^2,
    gamma_eff = stabiliser                  (scaling="whitened": exactly LinearisedAction's),
    gamma_eff = stabiliser / P^3            (scaling="fixed_u").

In raw weights |z|^2/d = |w|^2/sigma_w2, so the whitened reading is Gamma(w) = gamma
(|w|^2/sigma_w2)^3, a sextic in |w| with a P-independent coefficient (the form "gamma |w|^6" of
a hand-added stabiliser), and the fixed_u reading is the same sextic divided by P^3.

Single-neuron partition function. Modes interact only through Gamma(R). We keep one "active" mode
exactly (a 2-D integral over S = A_k + B_k and R_b, the squared norm of the other d - 4
coordinates; the integral over A - B at fixed S is an error function) and resum the weak,
independent fluctuations of the other modes in the Gaussian-process (GP) basin:

    z(g) = Z0 (1 + J0_GP/Z0)^K + K J0_D,
    Z0   = E[exp(-Gamma(R))],   J0 = E[(exp(g A B) - 1) exp(-Gamma(A + B + R_b))],

J0 split at the barrier S_b of the active mode's S-profile into a GP part (S < S_b) and a droplet
part (S > S_b): a *specialised* (droplet) neuron has one Fourier mode at A = B ~ x* with
x* = O(P^{3/2}) ("whitened") or O(P^3) ("fixed_u"). Its probability is the droplet (specialised)
fraction f = K J0_D / z, and m = (1/K) d log z / dg. Neglected: two active modes in one neuron
(suppressed by Gamma) and the coupling of a droplet's other modes (their g A B is O(g)).

Self-consistency lambda = kappa m(g(lambda)) has exactly one root (m increases with g, g decreases
with lambda). Its free energy (the Legendre form of `meanfield._solver.free_energy`, stationary exactly
at the root)

    F(lambda) = P (P-1) tau / 2 - N log z(g) + N g K lambda / kappa

compares the GP-only (z = Z0 (1+j)^K) and feature-only (z = K J0_D) branches; the full solution
mixes them (the paper's "mixed phase": tau stays pinned near the coexistence value while the
droplet fraction grows). Phase boundaries in sigma^2 (decreasing noise): `sigma2_onset`, where the
droplets carry half of the kernel on the target, and `sigma2_specialised`, where the droplet
fraction reaches 1 - `f_low` (see `ModularTheoryScan`).

Leading order in large P (single-neuron energy of a droplet E(x) = x - g x^2 + (gamma_eff/P^3) x^3
with A = B = x): coexistence at g_c = 2 sqrt(gamma_eff / P^3), x_c = sqrt(P^3/gamma_eff), so with
u = 2 sigma_a2 P^2 / (N sigma^4) (the control parameter of physics.md section 6) and
g ~= sigma_w2^2 u / (8 P^3) on the GP branch,

    u_c = 16 sqrt(gamma_eff P^3) / sigma_w2^2,

P-independent only if gamma_eff ~ P^{-3} ("fixed_u"); with the whitened stabiliser of
`LinearisedAction` the transition sits at u_c ~ P^{3/2}. This is the stabiliser-scaling
ambiguity: the claim "u alone sets the transition in the joint limit" needs the fixed_u reading.

References: Rubin, Seroussi & Ringel, "Grokking as a first order phase transition in two layer
networks", ICLR 2024 (arXiv:2310.03789); Gromov, arXiv:2301.02679 (the Fourier solution);
Seroussi, Naveh & Ringel, Nat. Commun. 2023 (the adaptive-kernel action).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

from ..._misc import ComputationError, check_positive
from ..._solver.crossing import find_crossing

__all__ = [
    "ModularTheory",
    "ModularTheoryPoint",
    "ModularTheoryScan",
    "STABILISER_SCALINGS",
]

STABILISER_SCALINGS = ("whitened", "fixed_u")

_N_LAGUERRE = 48
_N_LEGENDRE = 48


# --------------------------------------------------------------------------------------------
# one-dimensional pieces of the active-mode integral


def _log_g_closed(a):
    """log G(a), G(a) = int_0^1 exp(a (1 - t^2)) dt = e^a sqrt(pi) erf(sqrt a) / (2 sqrt a)."""
    return a + 0.5 * np.log(np.pi) - np.log(2.0) - 0.5 * np.log(a) + np.log(special.erf(np.sqrt(a)))


_T_NODES, _T_WEIGHTS = np.polynomial.legendre.leggauss(_N_LEGENDRE)
_T_NODES = 0.5 * (_T_NODES + 1.0)
_T_WEIGHTS = 0.5 * _T_WEIGHTS


def _log_f0_h1(a):
    """log F0(a) and log H1(a) for a = g S^2/4 >= 0 (arrays).

    F0(a) = int_0^1 expm1(a (1-t^2)) dt,   H1(a) = int_0^1 (1-t^2) exp(a (1-t^2)) dt = G'(a).
    Quadrature for a < 1 (no cancellation), closed forms (in logs) for a >= 1.
    """
    a = np.asarray(a, dtype=np.float64)
    out0 = np.empty_like(a)
    out1 = np.empty_like(a)
    small = a < 1.0
    if np.any(small):
        s = a[small][:, None]
        q = 1.0 - _T_NODES[None, :] ** 2
        f0 = np.sum(_T_WEIGHTS * np.expm1(s * q), axis=1)
        h1 = np.sum(_T_WEIGHTS * q * np.exp(s * q), axis=1)
        with np.errstate(divide="ignore"):
            out0[small] = np.log(f0)
        out1[small] = np.log(h1)
    big = ~small
    if np.any(big):
        ab = a[big]
        lg = _log_g_closed(ab)
        out0[big] = lg + np.log1p(-np.exp(-lg))
        # H1 = G (1 - 1/(2a)) + 1/(2a)
        out1[big] = lg + np.log(1.0 - 0.5 / ab + 0.5 / ab * np.exp(-lg))
    return out0, out1


def _normalised_laguerre(n: int, alpha: float):
    """Nodes and log-weights of the n-point generalised Gauss-Laguerre rule for the weight
    x^alpha e^-x / Gamma(alpha + 1) (weights summing to one), by Golub-Welsch: no overflow for
    large alpha."""
    i = np.arange(n, dtype=np.float64)
    diag = 2.0 * i + alpha + 1.0
    off = np.sqrt(i[1:] * (i[1:] + alpha))
    jac = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
    x, vecs = np.linalg.eigh(jac)
    with np.errstate(divide="ignore"):
        return x, 2.0 * np.log(np.abs(vecs[0]))


class _ChiSquareExpectation:
    """E[exp(-Gamma(S + R))] for R ~ chi^2_k, by Gauss-Laguerre on the exponentially tilted law."""

    def __init__(self, dof: float, gamma_eff: float, d: int):
        self.shape = 0.5 * dof
        self.gamma_eff = gamma_eff
        self.d = d
        x, w = special.roots_genlaguerre(_N_LAGUERRE, self.shape - 1.0)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            logw = np.log(w) - special.gammaln(self.shape)
        if not np.all(np.isfinite(logw)):
            # the unnormalised weights overflow (shape > ~170, i.e. P > ~170): the normalised
            # ones from the Jacobi matrix (Golub-Welsch) instead, the same rule
            x, logw = _normalised_laguerre(_N_LAGUERRE, self.shape - 1.0)
        self.x = x
        self.logw = logw

    def gamma(self, r):
        return self.gamma_eff * (r / self.d) ** 3

    def gamma_prime(self, r):
        return 3.0 * self.gamma_eff * r**2 / self.d**3

    def log_expect(self, s):
        """log E[exp(-Gamma(s + R))] for an array s >= 0."""
        s = np.asarray(s, dtype=np.float64)[..., None]
        c = self.gamma_prime(s)
        r = self.x * 2.0 / (1.0 + 2.0 * c)  # nodes of Gamma(shape, 2/(1+2c))
        rem = self.gamma(s + r) - self.gamma(s) - c * r
        log_inner = special.logsumexp(self.logw - rem, axis=-1)
        return -self.gamma(s[..., 0]) - self.shape * np.log1p(2.0 * c[..., 0]) + log_inner


# --------------------------------------------------------------------------------------------
# modular addition


@dataclass(frozen=True)
class ModularTheoryPoint:
    """The self-consistent full-data solution at one noise level sigma^2.

    Attributes:
        sigma2: the likelihood variance.
        tau: the discrepancy amplitude, tbar = tau (y) with tbar = (y - fbar)/sigma^2.
        discrepancy: sigma^2 tau = sigma^2/(lambda + sigma^2) in [0, 1]: the fraction of the
            target not yet learned, y - fbar = discrepancy * y (1 = nothing learned).
        kernel_eigenvalue: lambda, the eigenvalue of Q on the target.
        m: <A_k B_k>, the per-mode order parameter (4 under the prior).
        g: the single-neuron coupling kappa P tau^2 / N.
        droplet_fraction: the fraction of specialised (single-frequency droplet) neurons.
        droplet_radius: x*, the droplet's A = B at the peak of its S-profile (nan if none).
        droplet_kernel_share: f m_droplet / m, the droplets' share of the kernel on the target
            (they are few but heavy: one droplet carries x*^2/K of m against 4 for a GP neuron).
        free_energy: F of the full (mixed) solution.
        free_energy_gp, free_energy_feature: F of the GP-only and feature-only branches (nan
            where that branch has no self-consistent solution).
        neuron_free_energy_gp, neuron_free_energy_droplet: -log of the single-neuron weight of
            the GP basin and of the droplet basin (all K modes) at this solution's coupling g;
            they cross at the coexistence coupling g_c (inf where there is no droplet peak).
        u: 2 sigma_a2 P^2 / (N sigma^4).
    """

    sigma2: float
    tau: float
    discrepancy: float
    kernel_eigenvalue: float
    m: float
    g: float
    droplet_fraction: float
    droplet_radius: float
    droplet_kernel_share: float
    free_energy: float
    free_energy_gp: float
    free_energy_feature: float
    neuron_free_energy_gp: float
    neuron_free_energy_droplet: float
    u: float


@dataclass(frozen=True)
class ModularTheoryScan:
    """A scan of `ModularTheory` over sigma^2 with its phase boundaries.

    `sigma2_onset`: the droplets' share of the kernel on the target reaches 1/2 (the learned
    Fourier features dominate: the mixed phase begins); `sigma2_droplets`: the droplet fraction
    reaches f_low; `sigma2_specialised`: it reaches 1 - f_low (every neuron specialised). Each
    is None when the scan does not cross it; `sigma2_coexistence` is where the GP-only and
    feature-only free energies cross (None if they do not within the scan, e.g. when the
    feature-only branch has no self-consistent solution); `sigma2_gp_spinodal` is the smallest
    scanned sigma^2 at which the GP-only branch still has a solution (None if it exists on the
    whole scan).
    """

    points: list
    sigma2_onset: float | None
    sigma2_droplets: float | None
    sigma2_specialised: float | None
    sigma2_coexistence: float | None
    sigma2_gp_spinodal: float | None = None
    asymptotic: dict = field(default_factory=dict)

    def column(self, name):
        return np.array([getattr(p, name) for p in self.points], dtype=np.float64)


@dataclass(frozen=True)
class ModularTheory:
    r"""Full-data mean-field theory of modular addition with phi(z) = z^2 (module docstring).

    Attributes:
        P: the modulus (odd, >= 3).
        width: N, the number of hidden neurons.
        sigma_a2: read-out prior variance (a ~ N(0, sigma_a2/N)).
        stabiliser: gamma, the sextic coefficient.
        sigma_w2: input-weight prior variance (w ~ N(0, sigma_w2/d I), d = 2P).
        scaling: "whitened" (Gamma = gamma (|z|^2/d)^3, as `LinearisedAction(stabiliser=gamma)`)
            or "fixed_u" (Gamma = gamma (|z|^2/d)^3 / P^3, the reading in which
            u = 2 sigma_a2 P^2/(N sigma^4) alone sets the transition at large P).
        f_low: droplet fraction that marks the phase boundaries (onset at f_low, fully
            specialised at 1 - f_low).

    Example:
        >>> import meanfield as mf
        >>> th = mf.ModularTheory(P=11, width=100.0, sigma_a2=1.0, stabiliser=1.0)
        >>> pt = th.solve(1e-2)
        >>> 0.0 < pt.discrepancy <= 1.0
        True
    """

    P: int
    width: float
    sigma_a2: float = 1.0
    stabiliser: float = 1.0
    sigma_w2: float = 1.0
    scaling: str = "whitened"
    f_low: float = 0.01

    def __post_init__(self):
        P = self.P
        if isinstance(P, bool) or not isinstance(P, (int, np.integer)) or P < 3 or P % 2 == 0:
            raise ValueError(f"P must be an odd integer >= 3 (the modulus), got {P!r}")
        check_positive("width", self.width, hint=" (N, the number of hidden neurons)")
        check_positive("sigma_a2", self.sigma_a2)
        check_positive("sigma_w2", self.sigma_w2)
        check_positive("stabiliser", self.stabiliser,
                       hint=" (the sextic coefficient gamma; phi = z^2 needs gamma > 0)")
        if self.scaling not in STABILISER_SCALINGS:
            raise ValueError(f"scaling must be one of {STABILISER_SCALINGS}, got {self.scaling!r}")
        if not (0.0 < self.f_low < 0.5):
            raise ValueError(f"f_low must lie in (0, 0.5), got {self.f_low!r}")

    # --- constants ------------------------------------------------------------------------
    @property
    def d(self) -> int:
        return 2 * self.P

    @property
    def n_modes(self) -> int:
        return (self.P - 1) // 2

    @property
    def kappa(self) -> float:
        return self.sigma_a2 * self.sigma_w2**2 / (4.0 * self.P**2)

    @property
    def gamma_eff(self) -> float:
        return self.stabiliser / (self.P**3 if self.scaling == "fixed_u" else 1.0)

    def coupling(self, tau):
        """g = kappa P tau^2 / N."""
        return self.kappa * self.P * tau**2 / self.width

    def u(self, sigma2):
        return 2.0 * self.sigma_a2 * self.P**2 / (self.width * sigma2**2)

    # --- the single-neuron partition function ----------------------------------------------
    def _tables(self):
        key = "_cache"
        cached = self.__dict__.get(key)
        if cached is None:
            cached = {
                "full": _ChiSquareExpectation(self.d, self.gamma_eff, self.d),
                "bulk": _ChiSquareExpectation(self.d - 4, self.gamma_eff, self.d),
            }
            object.__setattr__(self, key, cached)
        return cached

    def _s_grid(self, g):
        # the active mode's exponent -S/2 + g S^2/4 - Gamma(S): its droplet peak and the range
        # to integrate (until it has fallen 80 below its maximum)
        s = np.geomspace(1e-3, 1e13, 1600)
        e = -0.5 * s + 0.25 * g * s**2 - self.gamma_eff * (s / self.d) ** 3
        peaks = np.nonzero((e[1:-1] >= e[:-2]) & (e[1:-1] >= e[2:]))[0] + 1
        i = int(peaks[-1]) if peaks.size else int(np.argmax(e))
        beyond = np.nonzero(e[i:] < e[i] - 80.0)[0]
        s_max = s[i + beyond[0]] if beyond.size else s[-1]
        s_max = max(s_max, 80.0 + 4.0 * self.d)
        return np.unique(np.concatenate([np.linspace(0.0, 60.0, 600)[1:],
                                         np.geomspace(60.0, s_max, 3000)]))

    def single_neuron(self, g):
        """log z, the per-mode <A B>, and the droplet split at coupling g (a dict).

        Keys: log_z (full), log_z_gp, log_z_feature (log(K J0_D); -inf if no droplet peak),
        m, m_gp, m_feature, droplet_fraction, droplet_radius, s_barrier.

        Accuracy: log_z_gp resums the GP basin as K independent modes, z_GP = Z0 (1 + j)^K,
        which neglects the modes' coupling through the shared norm. Measured against plain
        Monte Carlo over the prior (2e6 draws; P = 11, N = 100, alpha = 1,
        experiments/free_energy_grokking.py) it is high by 0.003, 0.017 and 0.06-0.07 in log z
        at g = 0.020, 0.040 and 0.0586 (sigma^2 = 0.015): N times that, up to ~7, in F. The
        droplet part log_z_feature is a 1-D quadrature and exact to its grid.
        """
        g = float(g)
        if not (g >= 0.0 and math.isfinite(g)):
            raise ValueError(f"g must be a finite non-negative coupling, got {g!r}")
        tab = self._tables()
        K = self.n_modes
        log_z0 = float(tab["full"].log_expect(np.zeros(1))[0])
        s = self._s_grid(g)
        a = 0.25 * g * s**2
        if g == 0.0:
            log_f0 = np.full_like(s, -np.inf)
            log_h1 = np.full_like(s, np.log(2.0 / 3.0))
        else:
            with np.errstate(divide="ignore"):
                log_f0, log_h1 = _log_f0_h1(a)
        base = np.log(0.25) - 0.5 * s + tab["bulk"].log_expect(s)
        # integrands over S: J0 (expm1 weight) and J1 = dJ0/dg (A B e^{g A B} weight)
        l0 = base + np.log(s) + log_f0
        l1 = base + 3.0 * np.log(s) - np.log(4.0) + log_h1
        # the S-profile's barrier between the GP part and the droplet peak
        prof = base + np.log(s) + 0.25 * g * s**2  # log of the e^{g A B} weight, up to O(1)
        s_b, x_peak = np.inf, float("nan")
        if g > 0:
            peaks = np.nonzero((prof[1:-1] >= prof[:-2]) & (prof[1:-1] >= prof[2:]))[0] + 1
            drop = peaks[s[peaks] > 1.0 / g]
            if drop.size:  # an interior droplet peak beyond S = 1/g, where coupling beats prior
                i_hi = int(drop[-1])
                gp_peaks = peaks[s[peaks] < 1.0 / g]
                i_lo = int(gp_peaks[0]) if gp_peaks.size else 0
                s_b = float(s[i_lo + int(np.argmin(prof[i_lo:i_hi + 1]))])
                x_peak = 0.5 * float(s[i_hi])
        w = np.zeros_like(s)
        w[1:] += 0.5 * np.diff(s)
        w[:-1] += 0.5 * np.diff(s)
        logw = np.log(w, where=w > 0, out=np.full_like(w, -np.inf))
        gp = s < s_b
        with np.errstate(divide="ignore"):
            lj0_gp = special.logsumexp(np.where(gp, l0 + logw, -np.inf))
            lj1_gp = special.logsumexp(np.where(gp, l1 + logw, -np.inf))
            lj0_d = special.logsumexp(np.where(~gp, l0 + logw, -np.inf))
            lj1_d = special.logsumexp(np.where(~gp, l1 + logw, -np.inf))
        # GP basin: z_gp = Z0 (1 + j)^K, j = J0_gp / Z0;  dz_gp/dg = K (1+j)^{K-1} J1_gp
        log1pj = np.logaddexp(0.0, lj0_gp - log_z0)
        log_z_gp = log_z0 + K * log1pj
        log_dz_gp = np.log(K) + (K - 1) * log1pj + lj1_gp
        log_z_d = np.log(K) + lj0_d
        log_dz_d = np.log(K) + lj1_d
        log_z = np.logaddexp(log_z_gp, log_z_d)
        log_dz = np.logaddexp(log_dz_gp, log_dz_d)
        frac = float(np.exp(log_z_d - log_z)) if np.isfinite(log_z_d) else 0.0
        return {
            "log_z": float(log_z),
            "log_z_gp": float(log_z_gp),
            "log_z_feature": float(log_z_d),
            "m": float(np.exp(log_dz - log_z) / K),
            "m_gp": float(np.exp(log_dz_gp - log_z_gp) / K),
            "m_feature": float(np.exp(log_dz_d - log_z_d) / K) if np.isfinite(log_z_d) else np.nan,
            "droplet_fraction": frac,
            "droplet_radius": x_peak,
            "s_barrier": s_b,
        }

    # --- self-consistency ------------------------------------------------------------------
    def _root(self, sigma2, branch):
        key = {"full": "m", "gp": "m_gp", "feature": "m_feature"}[branch]

        def h(log_lam):
            lam = math.exp(log_lam)
            m = self.single_neuron(self.coupling(1.0 / (lam + sigma2)))[key]
            if not (np.isfinite(m) and m > 0):
                return np.nan
            return math.log(self.kappa * m) - log_lam

        if branch != "full":
            # restricted branches: the basin itself depends on g, so scan for the root
            grid = np.linspace(math.log(self.kappa * 1e-2), math.log(self.kappa * 4.0) + 30.0, 36)
            vals = np.array([h(x) for x in grid])
            for j in range(1, grid.size):
                if np.isfinite(vals[j - 1]) and np.isfinite(vals[j]) and vals[j - 1] > 0 >= vals[j]:
                    try:
                        return math.exp(optimize.brentq(h, grid[j - 1], grid[j], xtol=1e-12))
                    except ValueError:
                        return None
            return None
        lo = math.log(self.kappa * 1e-3)
        hi = math.log(self.kappa * 4.0) + 1.0
        h_lo = h(lo)
        if not (np.isfinite(h_lo) and h_lo > 0):
            raise ComputationError(f"self-consistency: no root above lambda = {math.exp(lo):.3g}")
        h_hi = h(hi)
        n = 0
        while not (np.isfinite(h_hi) and h_hi < 0):
            lo, hi = hi, hi + 2.0
            h_hi = h(hi)
            n += 1
            if n > 60:
                raise ComputationError(f"self-consistency: no root found for sigma2={sigma2!r}")
        root = optimize.brentq(h, lo, hi, xtol=1e-12, rtol=1e-10, maxiter=200)
        return math.exp(root)

    def free_energy(self, lam, sigma2, branch="full"):
        """F(lambda) = P(P-1) tau/2 - N log z(g) + N g K lambda / kappa (stationary at the root)."""
        tau = 1.0 / (lam + sigma2)
        g = self.coupling(tau)
        key = {"full": "log_z", "gp": "log_z_gp", "feature": "log_z_feature"}[branch]
        log_z = self.single_neuron(g)[key]
        return (0.5 * self.P * (self.P - 1) * tau - self.width * log_z
                + self.width * g * self.n_modes * lam / self.kappa)

    def solve(self, sigma2, branches: bool = True) -> ModularTheoryPoint:
        """The self-consistent solution at noise sigma^2 (with the branch free energies).

        `branches=False` skips the GP-only / feature-only branch solves (their F is then nan).
        """
        sigma2 = check_positive("sigma2", sigma2, hint=" (the likelihood variance)")
        lam = self._root(sigma2, "full")
        if lam is None:
            raise ComputationError(f"no self-consistent solution at sigma2={sigma2!r}")
        tau = 1.0 / (lam + sigma2)
        g = self.coupling(tau)
        sn = self.single_neuron(g)
        branch_f = {}
        for b in ("gp", "feature"):
            lb = self._root(sigma2, b) if branches else None
            branch_f[b] = self.free_energy(lb, sigma2, b) if lb is not None else float("nan")
        return ModularTheoryPoint(
            sigma2=sigma2, tau=tau, discrepancy=sigma2 * tau, kernel_eigenvalue=lam, m=sn["m"],
            g=g, droplet_fraction=sn["droplet_fraction"], droplet_radius=sn["droplet_radius"],
            droplet_kernel_share=(sn["droplet_fraction"] * sn["m_feature"] / sn["m"]
                                  if sn["droplet_fraction"] > 0 else 0.0),
            free_energy=self.free_energy(lam, sigma2, "full"), free_energy_gp=branch_f["gp"],
            free_energy_feature=branch_f["feature"], neuron_free_energy_gp=-sn["log_z_gp"],
            neuron_free_energy_droplet=-sn["log_z_feature"], u=self.u(sigma2))

    def asymptotic(self) -> dict:
        """Leading-order (large P) boundaries: coexistence coupling, droplet size, sigma^2's."""
        g_c = 2.0 * math.sqrt(self.gamma_eff / self.P**3)
        x_c = math.sqrt(self.P**3 / self.gamma_eff)
        lam_gp = 4.0 * self.kappa
        tau_c = math.sqrt(self.width * g_c / (self.kappa * self.P))
        s_on = 1.0 / tau_c - lam_gp
        s_sp = 1.0 / tau_c - self.kappa * x_c**2 / self.n_modes
        return {"g_c": g_c, "droplet_radius": x_c, "tau_c": tau_c,
                "u_c": 16.0 * math.sqrt(self.gamma_eff * self.P**3) / self.sigma_w2**2,
                "sigma2_onset": s_on if s_on > 0 else None,
                "sigma2_specialised": s_sp if s_sp > 0 else None}

    def scan(self, sigma2s, progress=None, branches: bool = True) -> ModularTheoryScan:
        """Solve at every sigma^2 and locate the phase boundaries (refined by bisection)."""
        sig = np.sort(np.asarray(sigma2s, dtype=np.float64))[::-1]
        if sig.size < 2 or not np.all(np.isfinite(sig)) or np.any(sig <= 0):
            raise ValueError(f"sigma2s must be >= 2 finite positive values, got {sigma2s!r}")
        pts = []
        for i, s2 in enumerate(sig):
            pts.append(self.solve(float(s2), branches=branches))
            if progress is not None:
                progress.update(i + 1, f"sigma2={s2:.3g} f={pts[-1].droplet_fraction:.3f}")
        def at(log_s2, name):
            s2 = math.exp(log_s2)
            lam = self._root(s2, "full")
            sn = self.single_neuron(self.coupling(1.0 / (lam + s2)))
            if name == "share":
                return sn["droplet_fraction"] * sn["m_feature"] / sn["m"] \
                    if sn["droplet_fraction"] > 0 else 0.0
            return sn["droplet_fraction"]

        def crossing(values, name, level):
            # the first grid bracket (decreasing sigma2) where `values` rises to `level`, then
            # refined on the theory itself; None if never reached or reached at the largest sigma2
            c = find_crossing(sig, values, level, direction="rising", sweep="down")
            if not c.crossed:
                return None
            a, b = (math.log(v) for v in c.bracket)
            return math.exp(optimize.brentq(lambda x: at(x, name) - level, b, a, xtol=1e-6))

        frac = np.array([p.droplet_fraction for p in pts])
        share = np.array([p.droplet_kernel_share for p in pts])
        fg = np.array([p.free_energy_gp for p in pts])
        ff = np.array([p.free_energy_feature for p in pts])
        # coexistence: F_feature - F_gp changes sign (first from the largest sigma2, log-linear)
        coex = find_crossing(sig, ff - fg, 0.0, direction="either", sweep="down",
                             scale="log").value
        gp_ok = np.isfinite(fg)
        spin = float(sig[gp_ok][-1]) if gp_ok.any() and not gp_ok.all() else None
        return ModularTheoryScan(points=pts, sigma2_onset=crossing(share, "share", 0.5),
                                 sigma2_droplets=crossing(frac, "frac", self.f_low),
                                 sigma2_specialised=crossing(frac, "frac", 1.0 - self.f_low),
                                 sigma2_coexistence=coex, sigma2_gp_spinodal=spin,
                                 asymptotic=self.asymptotic())
