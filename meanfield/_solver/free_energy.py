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

log z, the one hard number, is computed

* exactly by quadrature when the solution was obtained on a `Grid` (method 'grid');
* by default (method 'ladder') along a path of laws that replica exchange keeps equilibrated,
  from an exactly sampled wide Gaussian to the single-neuron law (`log_partition_ladder`);
* with method 'thermodynamic_integration' (the older estimator, kept for comparison and for
  callers that pass `n_strengths`): log z = -int_0^1 <V>_lambda d lambda with V = Gamma - L and
  <.>_lambda the law ∝ N(0, I) exp(-lambda V), sampled by MALA at the Gauss-Legendre nodes of
  [0, 1], annealed down from lambda = 1 starting at the solution's particles. It cannot move
  particles between basins (a droplet basin emptying as lambda falls keeps its particles), so on
  a multimodal law it is hysteretic and its error bar, which counts only the Monte-Carlo noise,
  is far too small (modular addition: misses of 1e2-1e6 in F).

The ladder
----------
Every level k = 0 .. L-1 is a law exp(-E_k) with

    E_k(z) = a_k |z|^2/2 + b_k V(z),        V = Gamma - L (the non-prior part of S),

on a path in (a, b) of two legs, parametrised by a position t in [0, 2]:

    leg 1, t in [0, 1]: a = beta_min, b = t beta_min     (the coupling, at temperature 1/beta_min)
    leg 2, t in [1, 2]: a = b = beta_min + (t - 1)(1 - beta_min)   (the temperature, at coupling 1)

Level 0 is the Gaussian N(0, I/beta_min), sampled exactly, with log Z_0 = (p/2) log(2 pi/beta_min);
the last level is exp(-S) itself, S = |z|^2/2 + V, so log z = log Z_{L-1} - (p/2) log(2 pi). Leg 2
is the ladder of the `Tempering` foreground: at coupling 1 the droplet basins exist at every
temperature, and at high temperature the barriers between them and the GP-like basin are low
(beta times their height), so replicas cross there. Leg 1 joins the hot end to a law with a known
normaliser; it runs in the coupling, but at temperature 1/beta_min, where barriers are low too.
(Annealing in the coupling at temperature 1, as thermodynamic integration does, or along a
geometric bridge from the wide Gaussian, would not do: at coupling below about 1 the droplet
basin is absent, and it appears through a first-order transition with the barrier still up.)

1. *Ladder (pilot pass).* Starting from exact draws of level 0, each next position t_{k+1} is
   chosen so that the effective sample size of the incremental weights exp(-(E_{k+1} - E_k)) over
   the M particles is `overlap` M (adaptive tempering, Jasra et al. 2011), the particles are
   resampled with those weights and moved by MALA at the new level (sequential Monte Carlo, Del
   Moral, Doucet & Jasra 2006; its estimate of log z is kept as the diagnostic `smc`).
2. *Replica exchange.* Every particle column then carries one replica per level: MALA at every
   level, level 0 redrawn exactly, and after every `steps_per_sweep` steps neighbouring levels
   (alternately the even and the odd pairs, the non-reversible scheme) exchange with probability

       min(1, exp((a_{k+1} - a_k)(r(z_{k+1}) - r(z_k)) + (b_{k+1} - b_k)(V(z_{k+1}) - V(z_k)))),

   r = |z|^2/2, which leaves the product of the level laws invariant. Replicas that cross a
   barrier at high temperature are handed down to the target, so every level holds every basin
   with its true weight.
3. *Bridge sampling between neighbours.* With r and V recorded for n samples at every level and
   Delta E = E_{k+1} - E_k, the ratio r_k = Z_{k+1}/Z_k solves the optimal (Meng & Wong 1996)
   bridge equation, which for equal sample sizes is Bennett's acceptance ratio:

       sum_{x ~ k} sigmoid(-(Delta E(x) + log r_k)) = sum_{x ~ k+1} sigmoid(Delta E(x) + log r_k),

   and log z = sum_k log r_k - (p/2) log beta_min. The forward and backward stepping-stone
   estimates (Xie et al. 2011),

       log r_k^fwd = log <exp(-Delta E)>_k,        log r_k^bwd = -log <exp(+Delta E)>_{k+1},

   are biased low and high by poor overlap, bracketing the truth.

   *Warp.* On leg 2 neighbouring levels differ mostly in the width of their Gaussian part, which
   costs variance for nothing. The map z -> z sqrt(a_k/a_{k+1}) carries N(0, I/a_k) onto
   N(0, I/a_{k+1}), so that in

       Z_{k+1}/Z_k = (a_k/a_{k+1})^{p/2} < exp(-[b_{k+1} V(z sqrt(a_k/a_{k+1})) - b_k V(z)]) >_k

   only V is left (warp bridge sampling, Meng & Schilling 2002); for a law close to its prior
   this is exact up to O(V). A basin that V pins in place (a droplet sits where V puts it, at
   every temperature) is not carried along by the map, and the warped estimate then misses it.
   So each such pair is estimated both ways, and the warped estimates are used only where the
   warped forward and backward estimates agree (the map overlaps both ways) and the warped
   bridge estimate agrees with the plain one, each within three jackknife errors of the
   difference; elsewhere the plain ones, which every basin overlaps, are kept (`n_warped`
   counts the warped pairs). The exchange moves themselves are never warped.

   The forward-backward gap summed over the ladder and the shift of the bridge estimate when
   every other level is dropped (the halved ladder) measure the schedule bias.

The error bar `stderr` is sqrt(mc^2 + bias^2), where mc is the jackknife standard error over
groups of particle columns (independent chains, so it counts their autocorrelation) and bias is
the largest of |fwd - bwd|/2 (overlap), |halved - full| (halving the levels) and |drift|/2
(halving the run: the first against the second half of the recorded sweeps, non-stationarity),
each counted beyond twice its own jackknife standard error (the backward estimate is
heavy-tailed: its noise alone would otherwise dominate the bar). A non-equilibrated ladder shows up as a small swap rate
(`min_swap_rate`), as a large forward-backward gap, and as a `drift`.

References: Neal, "Annealed importance sampling", Stat. Comput. 11, 125 (2001); Meng & Wong,
"Simulating ratios of normalizing constants via a simple identity", Stat. Sinica 6, 831 (1996);
Bennett, J. Comput. Phys. 22, 245 (1976); Xie, Lewis, Fan, Kuo & Chen, "Improving marginal
likelihood estimation for Bayesian phylogenetic model selection", Syst. Biol. 60, 150 (2011);
Meng & Schilling, "Warp bridge sampling", J. Comput. Graph. Stat. 11, 552 (2002); Geyer 1991 and
Earl & Deem 2005 (replica exchange); Jasra, Stephens, Doucet & Tsagaris, Scand. J.
Stat. 38, 1 (2011) (adaptive tempering).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

from .._model.bayesian import BayesianProblem, log_weight_per_particle
from .._misc import as_key, check_fraction, check_integer, check_positive
from .foreground import Grid, Langevin, LangevinState, langevin_steps
from .foreground.mala import adapt_step_size
from .foreground.tempering import exchange_neighbours
from .solution import Solution
from .solve import warm_start

METHODS = ("grid", "ladder", "thermodynamic_integration")

_interaction = eqx.filter_jit(
    lambda problem, theta, bg: jax.vmap(lambda t: problem.interaction(t, bg))(theta)
)


class FreeEnergy(eqx.Module):
    """F = -log Z of a Bayesian mean-field solution and its parts.

    Attributes:
        value: F.
        stderr: its error bar: for 'ladder' the Monte-Carlo error and the schedule bias of
            log z together (`LogPartition.stderr`) with the Monte-Carlo error of N <L>; for
            'thermodynamic_integration' the Monte-Carlo error only; 0 for 'grid'.
        log_z: log of the single-neuron partition function.
        log_z_stderr: its error bar (as `stderr`).
        likelihood_term: G(K).
        legendre_term: N <L>_rho.
        method: 'grid', 'ladder' or 'thermodynamic_integration'.
        details: the `LogPartition` of the ladder (None for the other methods).
        equilibrium_gap: N (<L>_eq - <L>_rho), with <L>_eq over the ladder's replicas of the
            exact law at the solution's background and <L>_rho over the solution's cloud (method
            'ladder'; 0 for 'grid', nan for 'thermodynamic_integration'). F is the free energy of
            a self-consistent state only when the cloud is the law of its own background; a gap
            beyond its error bar says it is not (e.g. a basin of that law the solver's
            foreground never visited), and then F, however precise, decides nothing.
        equilibrium_gap_stderr: its standard error.
    """

    value: float
    stderr: float
    log_z: float
    log_z_stderr: float
    likelihood_term: float
    legendre_term: float
    method: str
    details: "LogPartition | None" = None
    equilibrium_gap: float = float("nan")
    equilibrium_gap_stderr: float = float("nan")

    @property
    def equilibrated(self) -> bool | None:
        """Whether the cloud is the law of its background: |equilibrium_gap| within 4 standard
        errors (None where not checked)."""
        if not math.isfinite(self.equilibrium_gap):
            return None
        return bool(abs(self.equilibrium_gap) <= 4.0 * self.equilibrium_gap_stderr + 1e-12)


# --------------------------------------------------------------------------------------------
# the ladder estimator


class Ladder(eqx.Module):
    """Settings of `log_partition_ladder` (module docstring, "The ladder").

    Attributes:
        n_particles: M, independent replica columns (each holds one replica per level).
        beta_min: inverse temperature of the hot end of the path, in (0, 1) (the reference
            is N(0, I/beta_min)).
        overlap: target effective sample size fraction between neighbouring levels, in (0, 1):
            higher means more levels.
        max_levels: refuse a ladder longer than this (raise).
        n_sweeps: recorded exchange sweeps.
        burn_in: exchange sweeps before recording (step sizes adapt per level during them).
        steps_per_sweep: MALA steps at every level between exchange attempts.
        pilot_steps: MALA steps per adaptation window at each new level of the pilot pass (two
            windows per level).
        step_size: MALA step size at the target; a level with prior weight a starts at
            step_size / a and adapts.
        target_acceptance: MALA acceptance the per-level step-size adaptation aims at.
        n_groups: groups of particle columns for the jackknife error.
        chunk: exchange sweeps per compiled call (memory: chunk x L x M numbers).
    """

    n_particles: int = 512
    beta_min: float = 0.05
    overlap: float = 0.5
    max_levels: int = 256
    n_sweeps: int = 200
    burn_in: int = 200
    steps_per_sweep: int = 5
    pilot_steps: int = 10
    step_size: float = 0.1
    target_acceptance: float = 0.6
    n_groups: int = 16
    chunk: int = 25

    def __check_init__(self):
        check_integer("n_particles", self.n_particles, minimum=2)
        check_fraction("beta_min", self.beta_min)
        check_fraction("overlap", self.overlap)
        check_integer("max_levels", self.max_levels, minimum=2)
        check_integer("n_sweeps", self.n_sweeps, minimum=2)
        check_integer("burn_in", self.burn_in, minimum=0)
        check_integer("steps_per_sweep", self.steps_per_sweep)
        check_integer("pilot_steps", self.pilot_steps)
        check_positive("step_size", self.step_size)
        check_fraction("target_acceptance", self.target_acceptance)
        check_integer("n_groups", self.n_groups, minimum=2)
        check_integer("chunk", self.chunk)
        if self.n_particles < self.n_groups:
            raise ValueError(f"n_particles ({self.n_particles}) must be at least n_groups "
                             f"({self.n_groups})")


class LogPartition(eqx.Module):
    """log z of the single-neuron law by the ladder, with its error budget.

    Attributes:
        value: log z (bridge sampling along the full ladder).
        stderr: sqrt(mc_stderr^2 + schedule_bias^2), the error bar to use.
        mc_stderr: jackknife standard error over groups of particle columns.
        schedule_bias: max(|forward - backward|/2, |halved - value|, |drift|/2), each gap
            counted beyond twice its own jackknife standard error.
        forward, backward: the stepping-stone estimates from below and from above.
        halved: the bridge estimate on every other level.
        drift: first half of the recorded sweeps minus the second half (non-stationarity shows
            here; within a few mc_stderr when the ladder is equilibrated).
        smc: the pilot pass's sequential Monte-Carlo estimate (annealing up once).
        levels: the positions 0 = t_0 < ... < t_{L-1} = 2 of the levels on the path.
        swap_rate: exchange acceptance of each neighbouring pair.
        acceptance: MALA acceptance per level.
        replicas: the M replicas of the target level (t = 2) at the end of the run: samples
            of the single-neuron law (e.g. for its basin weights).
        n_warped: how many of the L - 1 neighbouring ratios were estimated through the warp
            (module docstring, step 3).
    """

    value: float
    stderr: float
    mc_stderr: float
    schedule_bias: float
    forward: float
    backward: float
    halved: float
    drift: float
    smc: float
    levels: np.ndarray
    swap_rate: np.ndarray
    acceptance: np.ndarray
    replicas: jax.Array
    n_warped: int = 0

    @property
    def n_levels(self) -> int:
        return int(len(self.levels))

    @property
    def min_swap_rate(self) -> float:
        return float(np.min(self.swap_rate))


def _path(t, beta_min):
    """(a, b) of the level at position t in [0, 2] of the path (module docstring)."""
    t = np.asarray(t, dtype=np.float64)
    a = np.where(t <= 1.0, beta_min, beta_min + (t - 1.0) * (1.0 - beta_min))
    b = np.where(t <= 1.0, t * beta_min, a)
    return a, b


def _potential(problem, theta, background):
    """V for theta (..., p) -> (...)."""
    flat = theta.reshape(-1, theta.shape[-1])
    v = jax.vmap(lambda t: problem.interaction(t, background))(flat)
    return v.reshape(theta.shape[:-1])


_potential_jit = eqx.filter_jit(_potential)

# the neighbours whose warped potential is recorded for every level: offsets -2, -1, +1, +2
_OFFSETS = (-2, -1, 1, 2)


def _moves(problem, theta, background, key, step_size, a, b, n_steps):
    """MALA under E = a |z|^2/2 + b V at every level: theta (L, M, p); step_size, a, b (L,)."""
    def level(t, k, h, aa, bb):
        return langevin_steps(problem, t, background, k, h, bb / aa, n_steps=n_steps,
                              metropolis=True, beta=aa)

    return jax.vmap(level)(theta, jax.random.split(key, theta.shape[0]), step_size, a, b)


_moves_jit = eqx.filter_jit(_moves)


@eqx.filter_jit
def _exchange(problem, theta, background, key, step_size, a, b, parity, *, n_sweeps, steps):
    """`n_sweeps` replica-exchange sweeps.

    Returns the states; the record (6, n_sweeps, L, M) of |z_k|^2/2, V(z_k) and the warped
    potentials V(z_k sqrt(a_k / a_{k+o})) for o in `_OFFSETS` (clamped at the ends), taken after
    the MALA moves of every sweep; the mean MALA acceptance per level; the summed swap rate per
    pair.
    """
    n_levels = theta.shape[0]
    idx = jnp.arange(n_levels)
    # scale[o][k] = sqrt(a_k / a_{k+o})
    scales = [jnp.sqrt(a / a[jnp.clip(idx + o, 0, n_levels - 1)]) for o in _OFFSETS]

    def sweep(carry, k):
        th, acc, swp, par = carry
        k_move, k_ref, k_swap = jax.random.split(k, 3)
        th, ac = _moves(problem, th, background, k_move, step_size, a, b, steps)
        # level 0 (b = 0) is the Gaussian N(0, I/a_0): an exact fresh draw
        th = th.at[0].set(jax.random.normal(k_ref, th[0].shape, dtype=th.dtype)
                          / jnp.sqrt(a[0]))
        r = 0.5 * jnp.sum(th**2, axis=-1)
        v = _potential(problem, th, background)
        warped = [_potential(problem, th * sc[:, None, None], background) for sc in scales]
        active = (jnp.arange(n_levels - 1) % 2) == par
        # log alpha = E_k(z_k) + E_{k+1}(z_{k+1}) - E_k(z_{k+1}) - E_{k+1}(z_k)
        log_ratio = ((a[1:] - a[:-1])[:, None] * (r[1:] - r[:-1])
                     + (b[1:] - b[:-1])[:, None] * (v[1:] - v[:-1]))
        th, rate = exchange_neighbours(th, log_ratio, active, k_swap)
        return (th, acc + ac, swp + rate, 1 - par), jnp.stack([r, v] + warped)

    init = (theta, jnp.zeros((n_levels,), theta.dtype), jnp.zeros((n_levels - 1,), theta.dtype),
            jnp.asarray(parity))
    (theta, acc, swp, _), record = jax.lax.scan(sweep, init, jax.random.split(key, n_sweeps))
    return theta, jnp.moveaxis(record, 1, 0), acc / n_sweeps, swp


def _ess_fraction(log_w):
    log_w = log_w - np.max(log_w)
    w = np.exp(log_w)
    return float(w.sum() ** 2 / (w.size * np.sum(w**2)))


def _next_level(r, v, t, beta_min, overlap):
    """The next position t' in (t, end of the current leg] at which the incremental weights
    exp(-(E_t' - E_t)) keep an effective sample size of `overlap` M (bisection)."""
    end = 1.0 if t < 1.0 else 2.0
    a0, b0 = _path(t, beta_min)

    def ess(t_new):
        a1, b1 = _path(t_new, beta_min)
        return _ess_fraction(-((a1 - a0) * r + (b1 - b0) * v))

    if ess(end) >= overlap:
        return end
    lo = math.log(end - t) - 40.0
    hi = math.log(end - t)
    if ess(t + math.exp(lo)) < overlap:
        raise FloatingPointError(f"the ladder cannot leave t = {t:.3g}: the action is not finite "
                                 "or its spread is astronomical")
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if ess(t + math.exp(mid)) >= overlap:
            lo = mid
        else:
            hi = mid
    return t + math.exp(lo)


def _systematic_resample(log_w, u):
    w = np.exp(log_w - np.max(log_w))
    c = np.cumsum(w / w.sum())
    c[-1] = 1.0
    return np.searchsorted(c, (u + np.arange(w.size)) / w.size)


def _logmeanexp(x):
    return float(special.logsumexp(x) - math.log(x.size))


def _bar_root(e1, e2, u0):
    """log r solving mean sigmoid(-(e1 + u)) = mean sigmoid(e2 + u) (Newton, safeguarded by a
    bisection bracket); e1 = Delta E on samples of the lower level, e2 on the upper one."""
    def h(u):
        return np.mean(special.expit(-(e1 + u))) - np.mean(special.expit(e2 + u))

    lo = min(u0, -np.max(e1), -np.max(e2)) - 1.0
    hi = max(u0, -np.min(e1), -np.min(e2)) + 1.0
    u = min(max(u0, lo), hi)
    for _ in range(200):
        f = h(u)
        if f > 0:
            lo = u
        else:
            hi = u
        p1 = special.expit(-(e1 + u))
        p2 = special.expit(e2 + u)
        df = -np.mean(p1 * (1 - p1)) - np.mean(p2 * (1 - p2))
        step = u - f / df if df < 0 else 0.5 * (lo + hi)
        u_new = step if lo < step < hi else 0.5 * (lo + hi)
        if abs(u_new - u) < 1e-12 * max(1.0, abs(u)) or hi - lo < 1e-12:
            return u_new
        u = u_new
    return u


def _bar_jackknife(e1, e2, u):
    """Leave-one-group-out roots by one Newton step from the full root u; e1, e2 (G, n_g)."""
    p1 = special.expit(-(e1 + u))
    p2 = special.expit(e2 + u)
    f_g = p1.sum(1) - p2.sum(1)
    df_g = -(p1 * (1 - p1)).sum(1) - (p2 * (1 - p2)).sum(1)
    df = df_g.sum() - df_g
    # df = 0: no sample of either level sits where the bridge weights overlap (no error bar)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(df < 0, u - (f_g.sum() - f_g) / np.where(df < 0, df, -1.0), np.nan)


def _logmeanexp_jackknife(x):
    """Leave-one-group-out log mean exp of x (G, n_g) -> (G,)."""
    lse = special.logsumexp(x, axis=1)
    g, n_g = x.shape
    return np.asarray([special.logsumexp(np.delete(lse, k)) - math.log((g - 1) * n_g)
                       for k in range(g)])


def _pair_increments(vals, a, b, i, j, warped):
    """(e1, e2): E_j - E_i on the samples of level i and of level j, (G, n_g) each; plain, or
    through the warp z -> z sqrt(a_i/a_j) (which maps N(0, I/a_i) onto N(0, I/a_j), so that the
    prior parts of the two levels cancel: vals (6, G, n_g, L) as recorded by `_exchange`)."""
    if not warped or a[i] == a[j]:
        e1 = (a[j] - a[i]) * vals[0, ..., i] + (b[j] - b[i]) * vals[1, ..., i]
        e2 = (a[j] - a[i]) * vals[0, ..., j] + (b[j] - b[i]) * vals[1, ..., j]
        return e1, e2
    slot = {o: 2 + n for n, o in enumerate(_OFFSETS)}
    o = j - i
    # E_j(z sqrt(a_i/a_j)) - E_i(z) + (p/2) log(a_i/a_j) [the Jacobian; added in _bridge]
    e1 = b[j] * vals[slot[o], ..., i] - b[i] * vals[1, ..., i]
    e2 = b[j] * vals[1, ..., j] - b[i] * vals[slot[-o], ..., j]
    return e1, e2


def _bar_pair(e1, e2):
    """{"bar", "fwd", "bwd"} -> (estimate, jackknife replicates (G,)) of log Z_j/Z_i."""
    f = _logmeanexp(-e1.ravel())
    bk = -_logmeanexp(e2.ravel())
    u = _bar_root(e1.ravel(), e2.ravel(), 0.5 * (f + bk))
    return {"bar": (u, _bar_jackknife(e1, e2, u)), "fwd": (f, _logmeanexp_jackknife(-e1)),
            "bwd": (bk, -_logmeanexp_jackknife(e2))}


def _bridge(vals, a, b, p, pairs):
    """Sums over `pairs` (i, j), j - i in {1, 2}, of log Z_j/Z_i: {"bar", "fwd", "bwd"} ->
    (estimate, jackknife replicates (G,)), and the number of pairs estimated through the warp.

    Each pair whose levels differ in a is estimated both ways. The warped estimates (far less
    noisy where the levels differ mostly by the width of their Gaussian part) are used when
    the warped forward and backward estimates agree (the warp overlaps both ways) and the
    warped bridge estimate agrees with the plain one, each within three jackknife errors of
    the difference. A basin that does not move with the Gaussian width (a droplet sits where V
    puts it, at every temperature) is missed by the warp, and then the plain estimates, which
    every basin overlaps, are kept.
    """
    out = {"bar": [0.0, 0.0], "fwd": [0.0, 0.0], "bwd": [0.0, 0.0]}
    n_warped = 0
    for i, j in pairs:
        use = _bar_pair(*_pair_increments(vals, a, b, i, j, False))
        if a[i] != a[j]:
            jac = 0.5 * p * math.log(a[i] / a[j])  # log Z_j/Z_i = jac + log of the warped ratio
            warp = _bar_pair(*_pair_increments(vals, a, b, i, j, True))
            warp = {k: (est + jac, reps + jac) for k, (est, reps) in warp.items()}
            agrees = _excess(warp["bar"][0] - use["bar"][0], warp["bar"][1] - use["bar"][1],
                             3.0) == 0
            overlaps = _excess(warp["fwd"][0] - warp["bwd"][0],
                               warp["fwd"][1] - warp["bwd"][1], 3.0) == 0
            if agrees and overlaps:
                use = warp
                n_warped += 1
        for name, (est, reps) in use.items():
            out[name][0] += est
            out[name][1] = out[name][1] + reps
    return out, n_warped


def _jackknife_se(reps):
    """Jackknife standard error of leave-one-group-out replicates (inf if one is not finite:
    a pair without overlap)."""
    reps = np.asarray(reps, dtype=np.float64)
    if not np.all(np.isfinite(reps)):
        return math.inf
    g = reps.size
    return float(np.sqrt((g - 1) / g * np.sum((reps - reps.mean()) ** 2)))


def _excess(difference, reps, n_se=2.0):
    """|difference| beyond `n_se` times its own jackknife standard error (0 if within it)."""
    return max(0.0, abs(difference) - n_se * _jackknife_se(reps))


def log_partition_ladder(problem: BayesianProblem, background, ladder: Ladder | None = None, *,
                         key=0) -> LogPartition:
    r"""log z = log E_{z ~ N(0, I)} exp(-V(z)) by bridge sampling along a replica-exchange
    ladder from N(0, I/beta_min) (module docstring, "The ladder").

    Args:
        problem: the problem whose single-neuron action S = |z|^2/2 + V is integrated
            (`problem.interaction` is V; any problem with that interface works).
        background: the frozen background of S.
        ladder: a `Ladder` (default `Ladder()`).
        key: integer seed or PRNG key.

    Returns:
        A `LogPartition` (value, error bar and its parts, the ladder and its swap rates, and
        the replicas at the target).

    Example (a bimodal neuron, phi = z^2 with a sextic stabiliser: a GP-like basin at 0 and
    droplets at |z| ~ 9 with a third of the mass, behind a barrier of 8.4; against the grid):
        >>> import meanfield as mf, numpy as np, jax.numpy as jnp
        >>> task = mf.finite_dataset(np.ones((1, 1)), np.full((1, 1), 1e5))
        >>> problem = mf.BayesianProblem(task, mf.Quadratic(), width=52.0, noise=1e5,
        ...                              action=mf.LinearisedAction(stabiliser=4e-5))
        >>> bg = problem.background(jnp.full((1, 1), 4007.5))
        >>> exact = mf.Grid(n_points=3001, extent=30.0).log_partition(problem, bg)
        >>> est = log_partition_ladder(problem, bg, Ladder(n_particles=256, n_sweeps=100),
        ...                            key=0)
        >>> round(exact, 3), bool(abs(est.value - exact) < 3 * est.stderr), est.stderr < 0.05
        (0.447, True, True)
    """
    ladder = Ladder() if ladder is None else ladder
    key, _ = as_key(key)
    m, bmin = ladder.n_particles, float(ladder.beta_min)
    p = problem.n_params
    k_pilot, k_run = jax.random.split(key)

    # 1. the pilot pass: adaptive levels, SMC from exact draws of the reference
    theta = jax.random.normal(jax.random.fold_in(k_pilot, 0), (m, p), dtype=jnp.float64)
    theta = theta / math.sqrt(bmin)
    ts, states, steps = [0.0], [theta], [ladder.step_size / bmin]
    smc = 0.0
    while ts[-1] < 2.0:
        if len(ts) >= ladder.max_levels:
            raise RuntimeError(
                f"the ladder needs more than max_levels = {ladder.max_levels} levels (reached "
                f"t = {ts[-1]:.3g} of 2); raise max_levels or lower overlap")
        t = ts[-1]
        v = np.asarray(_potential_jit(problem, theta, background))
        r = 0.5 * np.sum(np.asarray(theta) ** 2, axis=-1)
        if not np.all(np.isfinite(v)):
            raise FloatingPointError(f"the single-neuron action is not finite at t = {t:.3g}")
        t_new = _next_level(r, v, t, bmin, ladder.overlap)
        (a0, b0), (a1, b1) = (tuple(float(x) for x in _path(q, bmin)) for q in (t, t_new))
        log_w = -((a1 - a0) * r + (b1 - b0) * v)
        smc += _logmeanexp(log_w)
        u = float(jax.random.uniform(jax.random.fold_in(k_pilot, 100_000 + len(ts))))
        theta = theta[_systematic_resample(log_w, u)]
        h = steps[-1] * a0 / a1
        for w in range(2):
            kk = jax.random.fold_in(k_pilot, 2 * len(ts) + w + 1)
            moved, acc = _moves_jit(problem, theta[None], background, kk, jnp.asarray([h]),
                                    jnp.asarray([a1]), jnp.asarray([b1]), ladder.pilot_steps)
            theta = moved[0]
            h = float(adapt_step_size(h, float(acc[0]), ladder.target_acceptance))
        ts.append(t_new)
        states.append(theta)
        steps.append(h)
    a_np, b_np = _path(np.asarray(ts), bmin)
    n_levels = a_np.size

    # 2. replica exchange on that ladder, level 0 exact
    theta = jnp.stack(states)
    h = jnp.asarray(steps)
    a_j, b_j = jnp.asarray(a_np), jnp.asarray(b_np)
    n_burn = -(-ladder.burn_in // ladder.chunk)
    n_rec = -(-ladder.n_sweeps // ladder.chunk)
    records, accs, swaps = [], [], []
    for c in range(n_burn + n_rec):
        kk = jax.random.fold_in(k_run, c)
        theta, rec, acc, swp = _exchange(problem, theta, background, kk, h, a_j, b_j,
                                         (c * ladder.chunk) % 2, n_sweeps=ladder.chunk,
                                         steps=ladder.steps_per_sweep)
        acc = np.asarray(acc)
        if c < n_burn:
            h = jnp.asarray(adapt_step_size(np.asarray(h), acc, ladder.target_acceptance))
        else:
            records.append(np.asarray(rec))
            accs.append(acc)
            swaps.append(np.asarray(swp))
    record = np.concatenate(records, axis=1)[:, : ladder.n_sweeps]  # (6, T, L, M)
    if not np.all(np.isfinite(record)):
        raise FloatingPointError("the single-neuron action is not finite on the ladder")
    n_tries = n_rec * ladder.chunk
    tries = np.asarray([max((n_tries + 1 - (k % 2)) // 2, 1) for k in range(n_levels - 1)])
    swap_rate = np.sum(swaps, axis=0) / tries

    # 3. bridge sampling between neighbours (and on the halved ladder, and per half-run)
    t_len = record.shape[1]
    g = ladder.n_groups
    cols = (m // g) * g
    # (6, T, L, M) -> (6, G, T, M/G, L): groups of particle columns
    grouped = record[..., :cols].reshape(6, t_len, n_levels, g, cols // g)
    grouped = grouped.transpose(0, 3, 1, 4, 2)

    def estimate(part, pairs):
        return _bridge(part.reshape(6, g, -1, n_levels), a_np, b_np, p, pairs)[0]

    full = list(zip(range(n_levels - 1), range(1, n_levels)))
    est, n_warped = _bridge(grouped.reshape(6, g, -1, n_levels), a_np, b_np, p, full)
    (value, reps), (fwd, reps_f), (bwd, reps_b) = est["bar"], est["fwd"], est["bwd"]
    half_idx = list(range(0, n_levels, 2))
    if half_idx[-1] != n_levels - 1:
        half_idx.append(n_levels - 1)
    halved, reps_h = estimate(grouped, list(zip(half_idx[:-1], half_idx[1:])))["bar"]
    first, reps_1 = estimate(grouped[:, :, : t_len // 2], full)["bar"]
    second, reps_2 = estimate(grouped[:, :, t_len // 2:], full)["bar"]
    mc = _jackknife_se(reps)
    bias = max(0.5 * _excess(fwd - bwd, reps_f - reps_b), _excess(halved - value, reps_h - reps),
               0.5 * _excess(first - second, reps_1 - reps_2))
    offset = -0.5 * p * math.log(bmin)  # log z = sum of the ratios + log Z_0 - (p/2) log 2 pi
    return LogPartition(value=float(value + offset), stderr=float(math.hypot(mc, bias)),
                        mc_stderr=mc, schedule_bias=float(bias), forward=float(fwd + offset),
                        backward=float(bwd + offset), halved=float(halved + offset),
                        drift=float(first - second), smc=float(smc + offset),
                        levels=np.asarray(ts), swap_rate=swap_rate,
                        acceptance=np.mean(accs, axis=0), replicas=theta[-1],
                        n_warped=n_warped)


# --------------------------------------------------------------------------------------------
# thermodynamic integration (the older estimator)


def log_partition_ti(problem: BayesianProblem, background, particles, *, n_strengths: int = 12,
                     n_steps: int = 200, step_size: float = 0.1, key=0, n_groups: int = 8):
    """Thermodynamic integration of log z in the coupling (module docstring); returns (log z,
    Monte-Carlo standard error). Hysteretic on multimodal laws: prefer `log_partition_ladder`."""
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


# --------------------------------------------------------------------------------------------
# the entry point


def _as_ladder(ladder) -> Ladder:
    if ladder is None:
        return Ladder()
    if isinstance(ladder, Ladder):
        return ladder
    if isinstance(ladder, dict):
        return Ladder(**ladder)
    raise ValueError(f"ladder must be a Ladder, a dict of its fields or None, got "
                     f"{type(ladder).__name__}")


def free_energy(solution: Solution, *, method: str | None = None, ladder=None, key=0,
                n_strengths: int | None = None, n_steps: int | None = None) -> FreeEnergy:
    """The mean-field free energy F = -log Z of a Bayesian solution (see module docstring),

        F = -( G(K) + N [ log z - <L>_rho ] ).

    Args:
        solution: a `Solution` of a `BayesianProblem`.
        method: 'grid' (exact; the default for a solution found on a `Grid`), 'ladder' (the
            default otherwise: `log_partition_ladder`) or 'thermodynamic_integration' (the
            older, hysteretic estimator; the default when `n_strengths` or `n_steps` is given,
            so that callers written for it keep their meaning).
        ladder: a `Ladder` or a dict of its fields (method 'ladder').
        key: integer seed or PRNG key (the stochastic methods).
        n_strengths, n_steps: Gauss-Legendre nodes and MALA steps per block of the
            thermodynamic integration (defaults 12 and 200).

    Example (the ladder on particles against the exact quadrature on a grid):
        >>> import meanfield as mf, numpy as np
        >>> task = mf.finite_dataset(np.linspace(-1, 1, 6)[:, None], np.linspace(-1, 1, 6))
        >>> problem = mf.BayesianProblem(task, mf.Erf(), width=100.0, noise=0.1)
        >>> grid = mf.solve(problem, mf.FixedPoint(foreground=mf.Grid()), progress=False)
        >>> exact = mf.free_energy(grid)
        >>> cloud = mf.solve(problem, mf.FixedPoint(n_particles=256), key=1, progress=False)
        >>> fe = mf.free_energy(cloud, key=2, ladder={"n_particles": 256, "n_sweeps": 100})
        >>> exact.method, fe.method
        ('grid', 'ladder')
        >>> abs(fe.value - exact.value) < 0.05      # F is about 6.57 here
        True
    """
    problem = solution.problem
    if not isinstance(problem, BayesianProblem):
        raise TypeError(
            f"free_energy needs a BayesianProblem solution, got {type(problem).__name__}"
        )
    grid = getattr(solution.solver, "foreground", None)
    if method is None:
        if isinstance(grid, Grid):
            method = "grid"
        elif n_strengths is not None or n_steps is not None:
            method = "thermodynamic_integration"
        else:
            method = "ladder"
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "grid" and not isinstance(grid, Grid):
        raise ValueError("method 'grid' needs a solution found on a Grid foreground")
    if method == "thermodynamic_integration" and isinstance(grid, Grid):
        raise ValueError("thermodynamic integration samples particles; a Grid solution's nodes "
                         "are not samples (use method 'grid' or 'ladder')")
    bg = solution.background
    particles = solution.particles
    likelihood = float(problem.log_likelihood_term(solution.field))
    lw = np.asarray(log_weight_per_particle(problem, particles.theta, bg))
    w = np.asarray(particles.weights)
    mean_l = float(np.sum(w * lw))
    details = None
    gap, gap_err = float("nan"), float("nan")
    if isinstance(grid, Grid):
        mean_l_err = 0.0
    else:
        mean_l_err = _group_stderr(lw)
    if method == "grid":
        log_z, log_z_err = grid.log_partition(problem, bg), 0.0
        gap, gap_err = 0.0, 0.0
    elif method == "ladder":
        details = log_partition_ladder(problem, bg, _as_ladder(ladder), key=key)
        log_z, log_z_err = details.value, details.stderr
        lw_eq = np.asarray(log_weight_per_particle(problem, details.replicas, bg))
        if isinstance(grid, Grid):
            # the grid's weighted nodes are the exact law: the check is the replicas' own noise
            mean_l_err_cloud = 0.0
        else:
            mean_l_err_cloud = mean_l_err
        gap = problem.width * (float(lw_eq.mean()) - mean_l)
        gap_err = problem.width * float(np.hypot(_group_stderr(lw_eq), mean_l_err_cloud))
    else:
        # thermodynamic integration starts from one iterate (the last of a pooled cloud)
        m = getattr(solution.solver, "n_particles", particles.n_particles)
        start = warm_start(particles, m) if particles.n_particles % m == 0 else particles
        log_z, log_z_err = log_partition_ti(problem, bg, start,
                                            n_strengths=12 if n_strengths is None else n_strengths,
                                            n_steps=200 if n_steps is None else n_steps, key=key)
    n = problem.width
    value = -(likelihood + n * (log_z - mean_l))
    stderr = n * float(np.hypot(log_z_err, mean_l_err))
    return FreeEnergy(float(value), stderr, float(log_z), float(log_z_err), likelihood,
                      float(n * mean_l), method, details, float(gap), float(gap_err))


def _group_stderr(values, n_groups: int = 8) -> float:
    """Standard error of the mean of `values` from the spread of `n_groups` group means."""
    groups = np.array_split(np.asarray(values), n_groups)
    return float(np.std([g.mean() for g in groups], ddof=1) / np.sqrt(n_groups))
