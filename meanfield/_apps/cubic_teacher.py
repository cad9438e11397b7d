r"""Continuum (large-n) mean-field theory of the cubic teacher with an erf student.

Rubin, Seroussi & Ringel (ICLR 2024), section 3.1: the teacher y = He_1(w*.x) + eps He_3(w*.x),
x ~ N(0, I_d), learned by f(x) = sum_i a_i erf(w_i . x) with w ~ N(0, sigma_w2/d I),
a ~ N(0, sigma_a2/N) and noise sigma^2. The Bayesian adaptive-kernel theory of physics.md section 2
(linearised action) reduces, for n training points in the continuum (equivalent-kernel) limit, to
a few discrepancy coefficients t_k on the odd Hermite functions of xi = w*.x and a single-neuron
law that depends on w only through the overlap rho = w.w* and |w_perp|^2 (`CubicTeacherTheory`,
whose docstring has the equations). Feature learning shows as side peaks of p(rho): the phases
"GFL" (unimodal), "GMFL-I" (side peaks beside the central one) and "GMFL-II" (bimodal).

The r-integral over |w_perp|^2 ~ (sigma_w2/d) chi^2_{d-1} uses the Gauss rule of the Gamma law by
Golub-Welsch (`_gamma_law_nodes`), which stays finite at any d.

Example:
    >>> th = CubicTeacherTheory(d=2, width=100.0, eps=0.3, sigma2=0.1)
    >>> th.best(200.0).phase in ("GFL", "GMFL-I", "GMFL-II")
    True

Reference: Rubin, Seroussi & Ringel, "Grokking as a first order phase transition in two layer
networks", ICLR 2024 (arXiv:2310.03789), section 3.1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize, special

from .._misc import ComputationError, check_integer, check_positive, check_real

__all__ = ["CubicTeacherTheory", "CubicTeacherPoint"]

_N_LAGUERRE = 48


def _gamma_law_nodes(shape, n):
    """Nodes x_i and log-weights of the n-point Gauss rule for the Gamma(shape, 1) law.

    E[f(X)] ~= sum_i exp(logw_i) f(x_i), X ~ Gamma(shape, 1): generalised Gauss-Laguerre with
    alpha = shape - 1, by Golub-Welsch on the Jacobi matrix (diagonal 2i + alpha + 1, i = 0..n-1;
    off-diagonal sqrt(i (i + alpha)), i = 1..n-1); the normalised weights are the squared first
    components of its eigenvectors. Unlike `scipy.special.roots_genlaguerre`, whose weights carry
    Gamma(alpha + 1) and overflow to inf for alpha > ~170 (chi^2 with d > ~343 dof), this stays
    finite for any shape.
    """
    alpha = shape - 1.0
    i = np.arange(n, dtype=np.float64)
    diag = 2.0 * i + alpha + 1.0
    off = np.sqrt(i[1:] * (i[1:] + alpha))
    x, v = linalg.eigh_tridiagonal(diag, off)
    with np.errstate(divide="ignore"):
        logw = 2.0 * np.log(np.abs(v[0]))
    return x, logw


_SQRT_PI = math.sqrt(math.pi)


@dataclass(frozen=True)
class CubicTeacherPoint:
    """A self-consistent solution of `CubicTeacherTheory` at one training-set size n.

    Attributes:
        n: training points.
        t: (t1, t3, ...), the discrepancy tbar(x) = sum_k t_k He_k(xi)/sqrt(k!), xi = w*.x,
            over the kept odd orders k = 1, 3, ... (`CubicTeacherTheory.n_hermite` of them).
        discrepancy: sigma^2 t / y_coef componentwise: the unlearned fraction of He_1 and of
            He_3 (1 = nothing learned; the He_3 entry is nan when eps = 0).
        kernel: the Galerkin kernel M_ij = sigma_a2 <c_i c_j>.
        overlap_var: <rho^2>, rho = w.w* (sigma_w2/d under the prior).
        n_peaks: local maxima of the overlap marginal p(rho) (1, 2 or 3).
        phase: "GFL" (p(rho) unimodal), "GMFL-I" (side peaks beside a central one) or
            "GMFL-II" (rho = 0 is a local minimum: bimodal).
        side_mass: probability of |rho| beyond the barrier between the central and side peaks
            (0 when unimodal; 1 when bimodal).
        free_energy: F = n y.t/2 - N log z + n^2 t.M.t/2 (stationary at the solution).
        rho, density: the overlap grid and p(rho) on it.
        side_rho: |rho| of the outer side peak of p(rho) (nan when unimodal).
        side_log_ratio: log p(side_rho)/p(0), the side peaks' height against the central one
            (-(S_side - S_0) in the paper's single-neuron action; nan when unimodal).
        side_share: the side peaks' share of the learned signal t.M.t = sigma_a2 <(t.c)^2>,
            i.e. of <(t.c)^2> over |rho| beyond the barrier (0 when unimodal). At large d the
            side mass is O(d^{-1/2}) while the aligned neurons' c is O(1), so this share, not
            the mass, says when the side peaks matter.
    """

    n: float
    t: tuple
    discrepancy: tuple
    kernel: np.ndarray
    overlap_var: float
    n_peaks: int
    phase: str
    side_mass: float
    free_energy: float
    rho: np.ndarray
    density: np.ndarray
    side_rho: float = math.nan
    side_log_ratio: float = math.nan
    side_share: float = 0.0


@dataclass(frozen=True)
class CubicTeacherTheory:
    r"""Continuum (large-n) adaptive-kernel theory of the cubic teacher with an erf student.

    Teacher y = He_1(xi) + eps He_3(xi), xi = w*.x, x ~ N(0, I_d); student
    f(x) = sum_i a_i erf(w_i . x), w ~ N(0, sigma_w2/d I), a ~ N(0, sigma_a2/N), noise sigma^2.
    With e_1 = He_1(xi), e_3 = He_3(xi)/sqrt(6) (orthonormal under the Gaussian) and Stein's lemma,

        c_1(w) = E[erf(w.x) e_1] = (2/sqrt(pi)) rho / sqrt(1 + 2 q),
        c_3(w) = E[erf(w.x) e_3] = -(4/sqrt(pi)) rho^3 / (sqrt(6) (1 + 2 q)^{3/2}),

    rho = w.w*, q = |w|^2. Replacing sums over the n training points by n E_x (the continuum /
    equivalent-kernel limit) and projecting the discrepancy on span{e_1, e_3} (Galerkin),

        tbar(x) = t_1 e_1 + t_3 e_3,   (n M + sigma^2) t = (1, sqrt(6) eps),
        M_ij = sigma_a2 <c_i c_j>,     S[w] = d|w|^2/(2 sigma_w2) - (sigma_a2 n^2 / 2N) (t . c(w))^2.

    The neuron law depends on w only through (rho, r = |w_perp|^2): an exact 2-D quadrature (a
    uniform grid in rho, Gauss-Laguerre in r ~ (sigma_w2/d) chi^2_{d-1}). The action is even in
    rho; feature learning shows as side peaks of p(rho) at |rho| = O(1) (the student aligning with
    w*). Several self-consistent solutions can coexist (first-order transition); `solve` returns
    all it finds and `best` the one of lowest F.

    Readings: the paper keeps the target's span {e_1, e_3} (`n_hermite=2`); by the rotation
    symmetry about w* the continuum discrepancy is an odd function of xi alone, so keeping odd
    orders 1, 3, ..., 2 n_hermite - 1 converges to the exact continuum theory (the kernel maps
    e_1 and e_3 onto He_5, He_7, ... once the neurons align with w*). Both are tested.

    The paper's experiment (N=700, n=3000, d=150, sigma_w2=0.5, sigma_a2=8/N, eps=-0.3; a
    transition reported at sigma^2 ~= 0.18, i.e. u = `control_parameter(n)` ~= 30.2). Here
    (`sigma2_transition`, experiments/cubic_teacher_paper.py): side peaks of p(rho) appear at
    sigma^2 = 0.193 (u = 26.3) and carry half of the learned signal at sigma^2 = 0.169 (u = 34.2)
    for n_hermite = 2 (0.192 and 0.168 for n_hermite = 4); along the joint limit (alpha = beta) the latter
    moves to 0.177 (u = 31.4) at beta = 16, the former to 0.227 (u = 19.0). The side peaks sit at
    |rho| ~= 0.6-0.8 there (the paper: "roughly +-1"), 4-5 nats below the central one at d = 150
    (~log d: degenerate at leading order in d). One solution per sigma^2 was found at d = 150: a
    sharp crossover in the discrepancy, no coexisting branch.

    Attributes: d, width (N), eps, sigma2, sigma_a2, sigma_w2, n_rho (grid points in rho),
    n_hermite (odd Hermite orders kept in the discrepancy; 2 = the paper's truncation).

    Example:
        >>> import meanfield as mf
        >>> th = mf.CubicTeacherTheory(d=2, width=100.0, eps=0.3, sigma2=0.1)
        >>> pt = th.best(200.0)
        >>> 0 < pt.discrepancy[0] < 1
        True

    Reference: Rubin, Seroussi & Ringel, ICLR 2024, section 3.1.
    """

    d: int
    width: float
    eps: float = 0.0
    sigma2: float = 1.0
    sigma_a2: float = 1.0
    sigma_w2: float = 1.0
    n_rho: int = 2001
    n_hermite: int = 2

    def __post_init__(self):
        check_integer("d", self.d, minimum=2, hint=" (input dimension)")
        for name in ("width", "sigma2", "sigma_a2", "sigma_w2"):
            check_positive(name, getattr(self, name))
        check_real("eps", self.eps, hint=" (the He_3 strength)")
        check_integer("n_rho", self.n_rho, minimum=101, hint=" (grid points in rho)")
        hint = " (odd Hermite orders 1, 3, ..., 2 n_hermite - 1 kept; at most 12)"
        if check_integer("n_hermite", self.n_hermite, minimum=2, hint=hint) > 12:
            raise ValueError(f"n_hermite must be an integer in [2, 12]{hint}, got "
                             f"{self.n_hermite!r}")

    @property
    def orders(self):
        return tuple(range(1, 2 * self.n_hermite, 2))

    def control_parameter(self, n):
        """The paper's effective interaction u = n^2 sigma_a2 / (sigma^4 d N) (section 3.1).

        Invariant under the joint limit N -> beta N, d -> sqrt(beta) d, sigma_a2 -> sigma_a2 /
        sqrt(beta), sigma^2 -> (alpha/beta) sigma^2, n -> alpha n; the action is d times a
        function of u and of the discrepancy (paper eq. 13, coefficient (2/pi) u). Our sigma_a2 is
        the paper's sigma_a^2 (read-out prior a ~ N(0, sigma_a^2/N) in both), so the paper's
        experiment (N=700, n=3000, d=150, sigma_a^2=8/N, sigma^2=0.18) has u = 30.2.
        """
        n = check_positive("n", n, hint=" (the number of training points)")
        return float(n) ** 2 * self.sigma_a2 / (self.sigma2**2 * self.d * self.width)

    @property
    def y_coef(self):
        y = np.zeros(self.n_hermite)
        y[0], y[1] = 1.0, math.sqrt(6.0) * self.eps
        return y

    def _nodes(self):
        cached = self.__dict__.get("_cache")
        if cached is None:
            x, logw = _gamma_law_nodes(0.5 * (self.d - 1), _N_LAGUERRE)
            r = x * 2.0 * self.sigma_w2 / self.d
            cached = (r, logw)
            object.__setattr__(self, "_cache", cached)
        return cached

    def features(self, rho, q):
        """c_k(w) = E[erf(w.x) He_k(xi)]/sqrt(k!) for k = 1, 3, ...: a list, one per order.

        Stein's lemma gives c_k = rho^k E[erf^(k)(u)]/sqrt(k!), u ~ N(0, q), and with
        erf^(k)(u) = (2/sqrt(pi)) (-1)^(k-1) H_(k-1)(u) e^(-u^2) (physicists' Hermite),
        E[e^(-u^2) H_(2i)(u)] = (2i)!/i! (-1)^i (1+2q)^(-i-1/2).
        """
        s = 1.0 + 2.0 * q
        out = []
        for k in self.orders:
            i = (k - 1) // 2
            coef = (2.0 / _SQRT_PI) * math.factorial(2 * i) / math.factorial(i) * (-1) ** i \
                / math.sqrt(math.factorial(k))
            out.append(coef * rho**k * s ** (-i - 0.5))
        return out

    def _rho_grid(self, t, n):
        # a coarse look over the whole range the coupling could reach, then a fine grid where
        # the log-weight is within 60 of its maximum
        coupling = 0.5 * self.sigma_a2 * n**2 / self.width
        bound = coupling * (np.sum(np.abs(t)) * 2.0) ** 2
        rho_max = math.sqrt(2.0 * self.sigma_w2 * (bound + 60.0) / self.d)
        rho = np.linspace(0.0, rho_max, 20001)
        q = rho**2 + self.sigma_w2 * (self.d - 1) / self.d
        L = coupling * sum(tk * ck for tk, ck in zip(t, self.features(rho, q))) ** 2
        lw = L - 0.5 * self.d * rho**2 / self.sigma_w2
        keep = np.nonzero(lw > lw.max() - 60.0)[0]
        top = rho[min(keep[-1] + 2, rho.size - 1)] + 6.0 * math.sqrt(self.sigma_w2 / self.d)
        return np.linspace(-top, top, self.n_rho)

    def neuron(self, t, n):
        """log z, <c c^T>, <rho^2> and p(rho) for discrepancy coefficients t at size n."""
        t = np.asarray(t, dtype=np.float64)
        r, logw = self._nodes()
        rho = self._rho_grid(t, n)
        cs = self.features(rho[:, None], rho[:, None] ** 2 + r[None, :])
        coupling = 0.5 * self.sigma_a2 * n**2 / self.width
        L = coupling * sum(tk * ck for tk, ck in zip(t, cs)) ** 2
        log_prior = -0.5 * self.d * rho**2 / self.sigma_w2 - 0.5 * math.log(
            2 * math.pi * self.sigma_w2 / self.d)
        drho = rho[1] - rho[0]
        lw = log_prior[:, None] + logw[None, :] + L + math.log(drho)
        log_z = float(special.logsumexp(lw))
        p = np.exp(lw - log_z)
        cc = np.array([[np.sum(p * ci * cj) for cj in cs] for ci in cs])
        dens = p.sum(axis=1) / drho
        signal = np.sum(p * sum(tk * ck for tk, ck in zip(t, cs)) ** 2, axis=1)
        return {"log_z": log_z, "cc": cc, "rho2": float(np.sum(p.sum(1) * rho**2)),
                "rho": rho, "density": dens, "signal": signal}

    def _residual(self, t, n):
        M = self.sigma_a2 * self.neuron(t, n)["cc"]
        return (n * M + self.sigma2 * np.eye(len(t))) @ t - self.y_coef

    def _point(self, t, n):
        nb = self.neuron(t, n)
        M = self.sigma_a2 * nb["cc"]
        F = 0.5 * n * self.y_coef @ t - self.width * nb["log_z"] + 0.5 * n**2 * t @ M @ t
        rho, dens = nb["rho"], nb["density"]
        half = rho >= 0
        rp, dp = rho[half], dens[half]
        peaks = [i for i in range(1, dp.size - 1) if dp[i] >= dp[i - 1] and dp[i] > dp[i + 1]]
        central = dp[0] >= dp[1]  # rho = 0 is a local maximum
        side = [i for i in peaks if i > 0]
        n_peaks = (1 if central else 0) + 2 * len(side)
        side_rho, side_log_ratio, side_share = math.nan, math.nan, 0.0
        if not side:
            phase, side_mass = "GFL", 0.0
        else:
            i_side = side[-1]
            i_bar = int(np.argmin(dp[:i_side + 1])) if central else 0
            side_mass = float(2.0 * np.sum(dp[i_bar:]) * (rho[1] - rho[0]))
            side_mass = min(side_mass, 1.0)
            phase = "GMFL-I" if central else "GMFL-II"
            side_rho = float(rp[i_side])
            side_log_ratio = float(math.log(dp[i_side] / dp[0]))
            sig = nb["signal"]
            side_share = float(np.sum(sig[np.abs(rho) >= rp[i_bar]]) / np.sum(sig))
        yc = self.y_coef[:2]
        disc = self.sigma2 * t[:2] / np.where(yc != 0, yc, np.nan)
        return CubicTeacherPoint(n=float(n), t=tuple(float(v) for v in t),
                                 discrepancy=(float(disc[0]), float(disc[1])), kernel=M,
                                 overlap_var=nb["rho2"], n_peaks=n_peaks, phase=phase,
                                 side_mass=side_mass, free_energy=float(F), rho=rho, density=dens,
                                 side_rho=side_rho, side_log_ratio=side_log_ratio,
                                 side_share=side_share)

    def solve(self, n, starts=None) -> list:
        """All distinct self-consistent solutions found from the GP start and from `starts`."""
        n = check_positive("n", n, hint=" (the number of training points)")
        r, logw = self._nodes()
        # GP start: the prior kernel
        rho = np.linspace(-8, 8, 801) * math.sqrt(self.sigma_w2 / self.d)
        prior = np.exp(-0.5 * self.d * rho**2 / self.sigma_w2)
        prior /= prior.sum()
        cs = self.features(rho[:, None], rho[:, None] ** 2 + r[None, :])
        wr = np.exp(logw)[None, :] * prior[:, None]
        M0 = self.sigma_a2 * np.array([[np.sum(wr * ci * cj) for cj in cs] for ci in cs])
        t_gp = np.linalg.solve(n * M0 + self.sigma2 * np.eye(self.n_hermite), self.y_coef)
        inits = [t_gp] + [np.asarray(s, dtype=np.float64) for s in (starts or [])]
        inits.append(t_gp * 0.05)
        sols = []
        for t0 in inits:
            res = optimize.root(lambda t: self._residual(t, n) / self.y_coef[0], t0,
                                method="hybr", options={"xtol": 1e-11})
            if not res.success or np.linalg.norm(self._residual(res.x, n)) > 1e-7:
                continue
            if any(np.allclose(res.x, s.t, rtol=1e-5, atol=1e-12) for s in sols):
                continue
            sols.append(self._point(res.x, n))
        if not sols:
            raise ComputationError(f"no self-consistent solution found at n={n!r}")
        return sols

    def best(self, n, starts=None) -> CubicTeacherPoint:
        """The solution of lowest free energy at n."""
        return min(self.solve(n, starts), key=lambda p: p.free_energy)

    def sigma2_transition(self, n, lo, hi, criterion="peaks", xtol=1e-4, coarse=8):
        """The noise sigma^2 in (lo, hi) where the lowest-F solution at n changes phase.

        Walks down from hi to lo in `coarse` steps, each solve continued from the previous
        solution (t ~ 1/sigma^2 rescaled), until the criterion is first met; then bisects that
        step to `xtol`, continuing from the nearest solution that meets it. The theory's own
        `sigma2` is ignored. criterion="peaks": side peaks of p(rho) appear (GFL above, GMFL
        below: the spinodal of the side saddles); criterion="share": the side peaks carry half of
        the learned signal (`side_share` >= 1/2). Raises ValueError if it is met at hi or nowhere
        on the walk.

        Example:
            >>> import meanfield as mf
            >>> th = mf.CubicTeacherTheory(d=50, width=100.0, eps=-0.3, n_rho=301)
            >>> s2 = th.sigma2_transition(300.0, 0.3, 1.5, xtol=0.1, coarse=2)
            >>> 0.45 < s2 < 0.75
            True
        """
        import dataclasses
        if criterion not in ("peaks", "share"):
            raise ValueError(f"criterion must be 'peaks' or 'share', got {criterion!r}")
        lo, hi = check_positive("lo", lo), check_positive("hi", hi)
        if not lo < hi:
            raise ValueError(f"need lo < hi (a sigma^2 bracket), got lo={lo!r}, hi={hi!r}")
        check_integer("coarse", coarse, hint=" (walk steps)")

        def solve(s2, start):
            guess = [start[1] * start[0] / s2] if start is not None else None
            pt = dataclasses.replace(self, sigma2=s2).best(n, guess)
            ok = pt.phase != "GFL" if criterion == "peaks" else pt.side_share >= 0.5
            return ok, (s2, np.asarray(pt.t))

        ok, last = solve(hi, None)
        if ok:
            raise ValueError(f"the {criterion!r} criterion is already met at hi={hi}: raise hi")
        found = None
        for s2 in np.linspace(hi, lo, coarse + 1)[1:]:
            ok, cur = solve(float(s2), last)
            if ok:
                found = cur
                break
            last = cur
        if found is None:
            raise ValueError(f"the {criterion!r} criterion is not met down to lo={lo}: lower lo")
        a, b = found[0], last[0]  # met at a < b, not met at b
        while b - a > xtol:
            mid = 0.5 * (a + b)
            ok, cur = solve(mid, found)
            if ok:
                a, found = mid, cur
            else:
                b = mid
        return 0.5 * (a + b)
