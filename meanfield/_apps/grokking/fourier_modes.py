r"""The paper's own reduction of full-data modular addition: independent Fourier modes.

Rubin, Seroussi & Ringel (ICLR 2024, section 3.2 and appendix B) treat the modular-addition
network f_p(x_nm) = sum_i a_pi (w_i . x_nm)^2 with input weights of prior covariance **1**
(w ~ N(0, I_{2P}); `sigma_w2 = 2P` in this package's convention w ~ N(0, sigma_w2/d I)), read-out
a ~ N(0, sigma_a2/N), noise sigma^2, on all P^2 pairs. With the Fourier variables
w_n = sum_k w_k e^{-2 pi i k n/P} (and v_k for the second half), Phi = |w_k|^2, Psi = |v_k|^2, and
their *per-mode* sextic stabiliser Gamma = sum_k P (gamma/6)(|w_k|^6 + |v_k|^6), every mode k != 0
has the same action (their eqs. 16, 34)

    S_k(Phi, Psi) = P [ (Phi + Psi)/2 - u a^2 Phi Psi + (gamma/6)(Phi^3 + Psi^3) ],
    u = 2 sigma_a2 P^2 / (N sigma^4)                       (the "effective interaction"),

where a is the discrepancy amplitude, sigma^2 tbar = a y (a = -1: nothing learned). Besides the
Gaussian saddle at 0 it has, for u a^2 >= sqrt(gamma), the saddles Phi = Psi = w_+-^2,

    w_+-^2 = ( u a^2 +- sqrt((u a^2)^2 - gamma) ) / gamma        (their eq. 40),

and to leading order in P the mode's law is the two-delta mixture of their eqs. 41-42,

    p = 4 e^{-dS} / (1 + 4 e^{-dS}),   dS = S_k(w_+^2, w_+^2) - S_k(0, 0),
    lambda = sigma_a2 <Phi Psi> = sigma_a2 p w_+^4,     a = -sigma^2 / (lambda(a) + sigma^2)  (eq. 38).

`FourierModeTheory.solve(sigma2)` returns every root a of the last equation; `scan` follows the
branch from the GP side (a = -1 at large sigma^2) and finds the phase boundaries: the mixed phase
GMFL-I begins where the droplet weight p first exceeds `p_low`, and GMFL-II where it exceeds
1 - p_low (the paper's "within O(1)" of the Gaussian saddle: dS = O(1) while it is O(P) outside
the mixed phase, so the boundaries hardly depend on p_low; `scan` reports them for two values).

Readings where the paper contradicts itself (both implemented, `reading=`):

* "eq16" (default): the quartic coefficient u a^2 of eqs. 16 and 34; its saddle equation is
  0 = |w|(1 - 2 u a^2 |v|^2 + gamma |w|^4), which gives eq. 40.
* "eq39": eq. 39 as printed, 0 = |w|(1 - (8 sigma_a2 a^2 P/(N sigma^4)) |v|^2 + gamma |w|^4):
  the same action with u replaced by u' = 4 sigma_a2 P/(N sigma^4) = 2u/P.

and for the modes k and -k (conjugates, w_{-k} = conj w_k): eq. 41 weighs each k in 1..P-1 by
e^{-S_k} (`pairing="per_k"`, the paper's), while a conjugate pair is one complex variable whose
action is S_k + S_{-k} = 2 S_k (`pairing="conjugate_pair"`: dS doubled). Leading-order
degeneracy (dS = 0) is the same in both, so only the sharpness of the crossover differs.

At leading order (a = -1 on the GP side) the mixed phase begins where dS = 0, i.e.
u a^2 = 2 sqrt(gamma/3): the transition is set by u alone, at any P, for a P-independent gamma.
This is the reading in which the paper's claim "u is the control parameter" holds, and it differs
from the stabiliser on the total norm that `ModularTheory` and `LinearisedAction` use (there the
transition drifts with P unless gamma ~ P^-3, see `ModularTheory`).

Reference: Rubin, Seroussi & Ringel, "Grokking as a first order phase transition in two layer
networks", ICLR 2024 (arXiv:2310.03789), eqs. 14-16, 34, 38-42 and Fig. 3 (N = 1000, P = 401,
sigma_a^2 = 0.002/N, gamma = 1e-4: GMFL-I from sigma^2 ~ 0.227, GMFL-II from ~ 0.175, a from
-1 to about -0.7 across GMFL-I).

Example:
    >>> th = FourierModeTheory(P=401, width=1000.0, sigma_a2=0.002 / 1000, stabiliser=1e-4)
    >>> round(th.u_degenerate, 5)
    0.01155
    >>> th.solve(0.3)[0].a
    -1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ..._misc import ComputationError, check_positive

__all__ = ["FourierModeTheory", "FourierModePoint"]

READINGS = ("eq16", "eq39")
PAIRINGS = ("per_k", "conjugate_pair")


@dataclass(frozen=True)
class FourierModePoint:
    """One self-consistent solution: sigma2, a, u, w_+^2 (nan without a saddle), dS and the
    droplet weight p of a mode, and lambda."""

    sigma2: float
    a: float
    u: float
    w_plus2: float
    delta_action: float
    droplet_weight: float
    kernel_eigenvalue: float


@dataclass(frozen=True)
class FourierModeTheory:
    """The leading-order Fourier-mode theory of the paper (module docstring).

    Attributes:
        P: the modulus (odd, >= 3). width: N. sigma_a2: read-out prior variance times N
        (a ~ N(0, sigma_a2/N)). stabiliser: gamma of the per-mode Gamma. reading: "eq16" or
        "eq39". pairing: "per_k" or "conjugate_pair".
    """

    P: int
    width: float
    sigma_a2: float
    stabiliser: float
    reading: str = "eq16"
    pairing: str = "per_k"

    def __post_init__(self):
        if isinstance(self.P, bool) or not isinstance(self.P, (int, np.integer)) or self.P < 3:
            raise ValueError(f"P must be an integer >= 3 (the modulus), got {self.P!r}")
        for name in ("width", "sigma_a2", "stabiliser"):
            check_positive(name, getattr(self, name))
        if self.reading not in READINGS:
            raise ValueError(f"reading must be one of {READINGS}, got {self.reading!r}")
        if self.pairing not in PAIRINGS:
            raise ValueError(f"pairing must be one of {PAIRINGS}, got {self.pairing!r}")

    # --- pieces -------------------------------------------------------------------------
    def u(self, sigma2) -> float:
        """u = 2 sigma_a2 P^2 / (N sigma^4) (eq16) or u' = 2u/P (eq39)."""
        u = 2.0 * self.sigma_a2 * self.P**2 / (self.width * sigma2**2)
        return u if self.reading == "eq16" else 2.0 * u / self.P

    @property
    def u_degenerate(self) -> float:
        """u a^2 at which the droplet saddle is degenerate with the Gaussian one: 2 sqrt(gamma/3)."""
        return 2.0 * math.sqrt(self.stabiliser / 3.0)

    def saddle(self, ua2):
        """(w_+^2, dS) at coupling u a^2; (nan, inf) when there is no droplet saddle."""
        g = self.stabiliser
        disc = ua2 * ua2 - g
        if disc < 0:
            return math.nan, math.inf
        w2 = (ua2 + math.sqrt(disc)) / g
        ds = self.P * (w2 - ua2 * w2 * w2 + g * w2**3 / 3.0)
        if self.pairing == "conjugate_pair":
            ds *= 2.0
        return w2, ds

    def kernel_eigenvalue(self, a, sigma2):
        """lambda(a) = sigma_a2 p w_+^4 with the mode's droplet weight p (eqs. 41-42)."""
        w2, ds = self.saddle(self.u(sigma2) * a * a)
        if not math.isfinite(ds):
            return 0.0, math.nan, ds, 0.0
        # p = 4 e^{-dS} / (1 + 4 e^{-dS}), overflow-safe
        p = 1.0 / (1.0 + math.exp(min(ds - math.log(4.0), 700.0)))
        return self.sigma_a2 * p * w2 * w2, w2, ds, p

    # --- self-consistency ---------------------------------------------------------------
    def solve(self, sigma2, n_grid: int = 4001) -> list:
        """Every root a in [-1, 0) of a + sigma^2/(lambda(a) + sigma^2) = 0, from a = -1 up."""
        sigma2 = check_positive("sigma2", sigma2)

        def resid(a):
            lam = self.kernel_eigenvalue(a, sigma2)[0]
            return a + sigma2 / (lam + sigma2)

        grid = -1.0 + (1.0 - np.geomspace(1.0, 1e-9, n_grid))  # dense near a = -1
        grid = np.unique(np.concatenate([grid, np.linspace(-1.0, -1e-9, n_grid)]))
        vals = np.array([resid(a) for a in grid])
        roots = []
        if vals[0] == 0.0:
            roots.append(-1.0)
        for i in range(len(grid) - 1):
            if vals[i] < 0 < vals[i + 1] or vals[i] > 0 > vals[i + 1]:
                roots.append(optimize.brentq(resid, grid[i], grid[i + 1], xtol=1e-14))
            elif vals[i + 1] == 0.0:
                roots.append(float(grid[i + 1]))
        out = []
        for a in roots:
            lam, w2, ds, p = self.kernel_eigenvalue(a, sigma2)
            out.append(FourierModePoint(sigma2, float(a), self.u(sigma2), w2, ds, p, lam))
        if not out:  # cannot happen: resid(-1) <= 0 and resid(0-) > 0
            raise ComputationError(f"no self-consistent a found at sigma2={sigma2!r}")
        return out

    def scan(self, sigma2s, p_low: float = 0.01) -> dict:
        """Follow the GP-side branch over decreasing sigma^2 and locate GMFL-I and GMFL-II.

        Returns a dict with the per-sigma^2 arrays (sigma2, a, u, droplet_weight, delta_action,
        n_roots) and the boundaries `sigma2_gmfl1`, `sigma2_gmfl2` (droplet weight first above
        p_low, resp. 1 - p_low), each refined by bisection, also at p_low = 0.1 (`*_p10`).
        """
        if not 0 < p_low < 0.5:
            raise ValueError(f"p_low must lie in (0, 0.5), got {p_low!r}")
        sig = np.sort(np.asarray(sigma2s, dtype=np.float64))[::-1]
        if sig.size < 2 or np.any(~np.isfinite(sig)) or np.any(sig <= 0):
            raise ValueError(f"sigma2s must be >= 2 finite positive values, got {sigma2s!r}")
        a_prev = -1.0
        rows = []
        for s2 in sig:
            roots = self.solve(float(s2))
            pt = min(roots, key=lambda r: abs(r.a - a_prev))  # continuation from the GP side
            a_prev = pt.a
            rows.append((s2, pt.a, pt.u, pt.droplet_weight, pt.delta_action, len(roots)))
        arr = np.array(rows)

        def weight(s2):
            return self.solve(float(s2))[0].droplet_weight  # the GP-side (lowest-a) root

        def boundary(level):
            w = arr[:, 3]
            idx = np.nonzero(w >= level)[0]
            if idx.size == 0 or idx[0] == 0:
                return None
            hi, lo = arr[idx[0] - 1, 0], arr[idx[0], 0]
            return float(optimize.brentq(lambda s: weight(s) - level, lo, hi, xtol=1e-10))

        out = {"sigma2": arr[:, 0], "a": arr[:, 1], "u": arr[:, 2], "droplet_weight": arr[:, 3],
               "delta_action": arr[:, 4], "n_roots": arr[:, 5].astype(int)}
        out["sigma2_gmfl1"] = boundary(p_low)
        out["sigma2_gmfl2"] = boundary(1.0 - p_low)
        out["sigma2_gmfl1_p10"] = boundary(0.1)
        out["sigma2_gmfl2_p10"] = boundary(0.9)
        for key in ("sigma2_gmfl1", "sigma2_gmfl2"):
            s2 = out[key]
            out[key.replace("sigma2", "a")] = None if s2 is None else self.solve(s2)[0].a
            out[key.replace("sigma2", "u")] = None if s2 is None else self.u(s2)
        return out
