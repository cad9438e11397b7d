r"""Modular addition at a training fraction alpha: the general particle solver across alpha.

With alpha < 1 the training set breaks the Fourier symmetry that `ModularTheory` relies on, so no
reduced theory exists and the full Bayesian mean field (physics.md section 2) is solved with
particles: `BayesianProblem(modular_addition(P, alpha), Quadratic(), width=N, noise=sigma^2,
action=...)`, for each alpha of a grid, by two continuation sweeps (`meanfield.sweep`):

* **up**: from the prior at the smallest alpha, upwards (the GP-like side);
* **down**: from the last solution of the up sweep (at the largest alpha, on the feature side when
  alpha_max is past the transition) back downwards.

The foreground must sample the *whole* single-neuron law: it has a GP-like basin near the prior
and Fourier "droplets" (one frequency k with A_k = B_k large, see `ModularTheory`) beyond a
barrier. Plain MALA would keep the basin weights of its starting cloud, so the default foreground
is `Tempering` (replica exchange in temperature). With it, both sweeps find the equilibrium
neuron law at the given background; they can still differ if the *self-consistency* has two
solutions (a first-order transition with hysteresis). Where they agree, the crossover is a
single branch and the free energy is not needed to choose; where they differ, the coexistence
range is reported (`hysteresis_alphas`).

Observables at every point: train and test accuracy and loss of the mean predictor, the
discrepancy amplitude tau = <tbar, y>/|y|^2, the specialised (droplet) fraction of the neurons
(`specialised_mask`), the droplets' share of the kernel on the training targets

    share = sum_c y_c^T Q_drop y_c / sum_c y_c^T Q y_c,

the dominant-frequency histogram of the droplets and the mean IPR. The NNGP (the GP limit of the
same network, same noise) and NTK (gradient flow to interpolation) test accuracies are computed on
the same splits.

The transition alpha_c of a sweep is where its test accuracy first rises through the midpoint
between chance (1/P) and 1 (linear interpolation; the one rule of `transition.accuracy_transition`,
also applied to the finite-width Langevin curves), over the alphas < 1 only (at alpha = 1 nothing
is held out and the "test" split is the training set); its error is half the bracketing alpha
interval. When the accuracy stays below the midpoint, alpha_c is reported as None together
with `alpha_c_lower_bound`, the largest alpha < 1 of the grid. The reported alpha_c is the mean of the two sweeps' values, with error
max(half-interval, |up - down|/2).

Example (tiny, seconds):
    >>> import meanfield as mf
    >>> solver = mf.FixedPoint(n_particles=64, foreground=mf.Tempering(n_levels=3, n_steps=5),
    ...                        max_iterations=2, burn_in=0)
    >>> res = mf.grokking_sweep(5, [0.5, 1.0], solver=solver, progress=False)
    >>> len(res.branches["up"]), len(res.branches["down"])
    (2, 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..._model.activations import Quadratic
from ..._model.bayesian import BayesianProblem, CavityAction, LinearisedAction
from ..._solver.foreground import Tempering
from ..._solver.free_energy import free_energy as compute_free_energy
from ..._observables.fourier import inverse_participation_ratio, specialised_mask, dominant_frequency
from ..._solver.mixing import Damped
from ..._baselines.predictors import nngp_predictor, ntk_predictor
from ..._solver.solve import FixedPoint
from ..._solver.sweep import sweep
from .transition import SPECIALISED_THRESHOLD, sweep_transition
from ..._data.tasks import modular_addition

__all__ = ["GrokkingSweep", "grokking_sweep", "default_grokking_solver", "plot_grokking_sweep"]


def default_grokking_solver(n_particles: int = 1024, n_levels: int = 8, beta_min: float = 0.05,
                            max_iterations: int = 40, damping: float = 0.2,
                            n_average: int = 8) -> FixedPoint:
    """The solver `grokking_sweep` uses by default: tempered MALA, damped mixing, and the last
    `n_average` iterates averaged (`FixedPoint.n_average`; the predictor's consistency)."""
    return FixedPoint(n_particles=n_particles,
                      foreground=Tempering(n_levels=n_levels, beta_min=beta_min, n_steps=50,
                                           swap_every=5, step_size=0.05),
                      mixing=Damped(damping), max_iterations=max_iterations, burn_in=4,
                      n_average=n_average)


@dataclass
class GrokkingSweep:
    """Result of `grokking_sweep`.

    Attributes:
        P, width, noise, sigma_a2, sigma_w2, action: the problem family.
        alphas: the alpha grid (increasing).
        branches: {"up": [...], "down": [...]}, one record per alpha in increasing alpha order.
        baselines: {"nngp": [...], "ntk": [...]} test accuracies per alpha.
        alpha_c, alpha_c_err: the predicted transition and its error (module docstring).
        alpha_c_lower_bound: when no crossing is found below alpha = 1, the largest alpha < 1
            swept (the transition lies above it).
        alpha_c_branch: {"up": (value, err) or None, "down": ...}.
        hysteresis_alphas: alphas < 1 where the two sweeps' test accuracies differ by more than
            0.25 and by more than 3 binomial standard errors of the held-out set.
        particles: {"up": [...], "down": [...]}, the final particle clouds (increasing alpha).
        free_energy_gap: with `free_energy=True`, per alpha {"alpha", "delta_F" = F_up -
            F_down, "stderr", "kernel_distance", "same_branch", "selected"}. kernel_distance is
            |Q_up - Q_down| / |Q_down| on the training inputs; the two sweeps sit on the same
            branch when it is within 3 times their summed Monte-Carlo floors. "selected" is the
            branch of lower F where |delta_F| exceeds 3 standard errors, "equal" where it does
            not, "not_equilibrated" where a branch's cloud is not the law of its own
            background (`FreeEnergy.equilibrated` False: its F is not that of a
            self-consistent state), and "inconsistent" where the branches are the same yet
            |delta_F| exceeds 3 standard errors: then an estimate is biased beyond its error
            bar and F decides nothing. With the default estimator (`meanfield.free_energy`'s
            replica-exchange ladder, whose error bar counts the schedule bias) this flags a real
            failure; with the older thermodynamic integration (`free_energy_options=
            {"n_strengths": ...}`) it was the rule on modular addition (hysteretic across
            droplet basins: misses of 1e2-1e6 in F).
    """

    P: int
    width: float
    noise: float
    sigma_a2: float
    sigma_w2: float
    action: str
    alphas: list
    branches: dict
    baselines: dict = field(default_factory=dict)
    alpha_c: float | None = None
    alpha_c_err: float | None = None
    alpha_c_branch: dict = field(default_factory=dict)
    hysteresis_alphas: list = field(default_factory=list)
    alpha_c_lower_bound: float | None = None
    particles: dict = field(default_factory=dict, repr=False)
    free_energy_gap: list | None = None

    def column(self, branch: str, key: str) -> np.ndarray:
        return np.asarray([np.nan if r.get(key) is None else r[key]
                           for r in self.branches[branch]], dtype=float)

    def to_json(self) -> dict:
        up = self.column("up", "test_accuracy").tolist()
        return {
            "P": self.P, "N": self.width, "sigma2": self.noise, "sigma_a2": self.sigma_a2,
            "sigma_w2": self.sigma_w2, "action": self.action,
            "alpha_c": self.alpha_c, "alpha_c_err": self.alpha_c_err,
            "alpha_c_branch": self.alpha_c_branch,
            "alpha_c_lower_bound": self.alpha_c_lower_bound,
            "alphas": list(self.alphas),
            "test_accuracy": up,
            "test_accuracy_down": self.column("down", "test_accuracy").tolist(),
            "hysteresis_alphas": self.hysteresis_alphas,
            "nngp_test_accuracy": self.baselines.get("nngp"),
            "ntk_test_accuracy": self.baselines.get("ntk"),
            "free_energy_up": (None if self.free_energy_gap is None
                               else self.column("up", "free_energy").tolist()),
            "free_energy_down": (None if self.free_energy_gap is None
                                 else self.column("down", "free_energy").tolist()),
            "free_energy_gap": self.free_energy_gap,
            "branches": self.branches,
        }


def _check_alphas(alphas, P):
    try:
        vals = sorted(float(a) for a in alphas)
    except TypeError as err:
        raise ValueError(f"alphas must be a sequence of numbers in (0, 1], got {alphas!r}") from err
    if len(vals) < 2 or not all(0 < a <= 1 for a in vals):
        raise ValueError(f"alphas must hold at least two values in (0, 1], got {alphas!r}")
    if len(set(vals)) != len(vals):
        raise ValueError(f"alphas must be distinct, got {alphas!r}")
    small = [a for a in vals if a * P * P < 1.5]
    if small:
        raise ValueError(f"alpha = {small[0]} keeps fewer than 2 of the P^2 = {P * P} pairs; use "
                         f"alpha >= {2 / (P * P):.3g}")
    return vals


def _observer(P, threshold, free_energy_options=None):
    def observe(solution):
        problem = solution.problem
        task = problem.task
        z = np.asarray(solution.particles.theta)
        wts = np.asarray(solution.particles.weights)
        drop = specialised_mask(z, P, threshold)
        # droplets' share of the kernel on the training targets
        phi = np.asarray(problem.features(solution.particles.theta, task.train.x))  # (M, n)
        y = np.asarray(task.train.y)
        proj = (phi @ y) ** 2  # (M, C): (phi_i . y_c)^2
        per = (wts[:, None] * proj).sum(1)
        share = float(per[drop].sum() / per.sum()) if per.sum() > 0 else float("nan")
        tbar = np.asarray(solution.background.discrepancy)
        tau = float((tbar * y).sum() / (y * y).sum())
        k = dominant_frequency(z, P)
        return {
            "train_accuracy": solution.accuracy(task.train),
            "test_accuracy": solution.accuracy(task.test),
            "tau": tau,
            "specialised_fraction": float(np.sum(wts * drop)),
            "specialised_kernel_share": share,
            "specialised_frequency_counts": np.bincount(k[drop], minlength=P // 2 + 1)[1:].tolist(),
            "ipr_mean": float(np.nanmean(inverse_participation_ratio(z, P))),
            "n_train": task.train.n,
            **_free_energy_record(solution, free_energy_options),
        }
    return observe


def _finite_or_none(x):
    return float(x) if x is not None and np.isfinite(x) else None


def _free_energy_record(solution, options) -> dict:
    """F of a usable point (`meanfield.free_energy` with `options`, seeded by the point's own
    seed) with its equilibrium check; {} when F is not asked for or the point is not usable."""
    if options is None or not solution.usable:
        return {}
    fe = compute_free_energy(solution, key=int(solution.seed or 0), **options)
    return {"free_energy": fe.value, "free_energy_stderr": fe.stderr,
            "free_energy_method": fe.method, "free_energy_log_z": fe.log_z,
            "free_energy_log_z_stderr": fe.log_z_stderr,
            "free_energy_equilibrium_gap": _finite_or_none(fe.equilibrium_gap),
            "free_energy_equilibrium_gap_stderr": _finite_or_none(fe.equilibrium_gap_stderr),
            "free_energy_equilibrated": fe.equilibrated}


def grokking_sweep(P: int, alphas, *, width: float = 100.0, noise: float = 0.015,
                   sigma_a2: float = 1.0, sigma_w2: float = 1.0, action=None,
                   solver: FixedPoint | None = None, seed: int = 0, data_seed: int = 0,
                   folder=None, threshold: float = SPECIALISED_THRESHOLD, baselines: bool = True,
                   free_energy: bool = False, free_energy_options: dict | None = None,
                   progress: bool = True) -> GrokkingSweep:
    """Sweep the mean field of modular addition over the training fraction alpha (module doc).

    Args:
        P: the modulus (odd, >= 3).
        alphas: training fractions in (0, 1] (sorted here).
        width, noise, sigma_a2, sigma_w2: N, sigma^2 and the prior variances.
        action: `LinearisedAction(stabiliser=...)` (default stabiliser 1) or `CavityAction()`.
        solver: the `FixedPoint` for every point (default `default_grokking_solver()`).
        seed: solver seed (point k of the up sweep uses seed + k, of the down sweep seed + 1000
            + k). data_seed: the train/test split seed (`modular_addition`).
        folder: where both sweeps save their points (`up/`, `down/`); a rerun resumes.
        threshold: the power threshold of `specialised_mask`.
        baselines: compute NNGP and NTK test accuracies too.
        free_energy: compute the mean-field free energy F = -log Z at every point of both
            branches (`meanfield.free_energy`: log z by bridge sampling along a replica-exchange
            ladder from a hot Gaussian, independent of the point's particles, with an error bar
            that includes the schedule bias) and compare the branches
            (`GrokkingSweep.free_energy_gap`). With the stabiliser F is defined up to an
            alpha-dependent constant common to both branches.
        free_energy_options: keyword arguments of `free_energy` (default: the ladder with
            `Ladder()`'s settings; e.g. {"ladder": {"n_particles": 1024}}; {"n_strengths": 8,
            "n_steps": 100} selects the older thermodynamic integration).
        progress: report each point on stderr.
    """
    if isinstance(P, bool) or not isinstance(P, (int, np.integer)) or P < 3 or P % 2 == 0:
        raise ValueError(f"P must be an odd integer >= 3, got {P!r}")
    vals = _check_alphas(alphas, P)
    action = LinearisedAction(stabiliser=1.0) if action is None else action
    if not isinstance(action, (LinearisedAction, CavityAction)):
        raise ValueError(f"action must be LinearisedAction(...) or CavityAction(...), got "
                         f"{type(action).__name__}")
    solver = default_grokking_solver() if solver is None else solver
    if not isinstance(seed, (int, np.integer)) or not isinstance(data_seed, (int, np.integer)):
        raise ValueError(f"seed and data_seed must be integers, got {seed!r}, {data_seed!r}")

    def make(alpha):
        return BayesianProblem(modular_addition(P, alpha, seed=data_seed), Quadratic(),
                               width=float(width), noise=float(noise), sigma_w2=float(sigma_w2),
                               sigma_a2=float(sigma_a2), action=action)

    make(vals[0])  # validates width, noise, prior variances and the action up front
    # F is computed by the observer (not by `sweep`), so that its equilibrium check is recorded
    observe = _observer(P, threshold, dict(free_energy_options or {}) if free_energy else None)
    folder = None if folder is None else Path(folder)
    fe = {}
    up = sweep(make, vals, solver, key=int(seed), observe=observe, progress=progress,
               folder=None if folder is None else folder / "up", **fe)
    down = sweep(make, vals[::-1], solver, key=int(seed) + 1000, init=up.particles[-1],
                 observe=observe, progress=progress,
                 folder=None if folder is None else folder / "down", **fe)
    res = GrokkingSweep(P=int(P), width=float(width), noise=float(noise),
                        sigma_a2=float(sigma_a2), sigma_w2=float(sigma_w2), action=action.name,
                        alphas=vals, branches={"up": up.points, "down": down.points[::-1]},
                        particles={"up": up.particles, "down": down.particles[::-1]})
    if baselines:
        res.baselines = {"nngp": [], "ntk": []}
        for a in vals:
            task = make(a).task
            res.baselines["nngp"].append(nngp_predictor(
                task, Quadratic(), noise=noise, sigma_w2=sigma_w2, sigma_a2=sigma_a2).test_accuracy)
            res.baselines["ntk"].append(ntk_predictor(
                task, Quadratic(), ridge=1e-8, sigma_w2=sigma_w2, sigma_a2=sigma_a2,
                return_var=False).test_accuracy)
    x = np.asarray(vals)
    held = x < 1.0  # alpha = 1 has no held-out pairs
    if held.sum() >= 2:
        res.alpha_c, res.alpha_c_err, per = sweep_transition(
            x, res.column("up", "test_accuracy"), res.column("down", "test_accuracy"), P)
        res.alpha_c_branch = {b: ({"alpha_c": c.value, "err": c.error} if c.crossed else None)
                              for b, c in per.items()}
    else:
        res.alpha_c_branch = {"up": None, "down": None}
    if res.alpha_c is None and held.any():
        res.alpha_c_lower_bound = float(x[held].max())
    gap = np.abs(res.column("up", "test_accuracy") - res.column("down", "test_accuracy"))
    n_test = np.asarray([P * P - r["n_train"] for r in res.branches["up"]], dtype=float)
    # a difference counts when it beats 0.25 and 3 binomial standard errors of the difference
    # of two accuracies on n_test held-out pairs (at worst p = 1/2: sqrt(2 * 0.25 / n_test))
    binomial = 3.0 * np.sqrt(0.5 / np.maximum(n_test, 1.0))
    res.hysteresis_alphas = [a for a, g, e, nt in zip(vals, gap, binomial, n_test)
                             if nt > 0 and a < 1.0 and g > max(0.25, e)]
    if free_energy:
        res.free_energy_gap = []
        for a, ru, rd, pu, pd in zip(vals, res.branches["up"], res.branches["down"],
                                     res.particles["up"], res.particles["down"]):
            problem = make(a)
            q_up = np.asarray(problem.kernel(pu, problem.task.train.x))
            q_dn = np.asarray(problem.kernel(pd, problem.task.train.x))
            dist = float(np.linalg.norm(q_up - q_dn) / max(np.linalg.norm(q_dn), 1e-300))
            same = bool(dist <= 3.0 * (ru["noise_floor"] + rd["noise_floor"]))
            fu, fd = ru.get("free_energy"), rd.get("free_energy")
            row = {"alpha": a, "delta_F": None, "stderr": None, "kernel_distance": dist,
                   "same_branch": same, "selected": None}
            if fu is not None and fd is not None:
                err = float(np.hypot(*(math.inf if r["free_energy_stderr"] is None
                                       else r["free_energy_stderr"] for r in (ru, rd))))
                delta = float(fu - fd)
                if False in (ru.get("free_energy_equilibrated"),
                             rd.get("free_energy_equilibrated")):
                    sel = "not_equilibrated"
                elif abs(delta) <= 3 * err:
                    sel = "equal"
                elif same:
                    sel = "inconsistent"
                else:
                    sel = "up" if delta < 0 else "down"
                row.update(delta_F=delta, stderr=_finite_or_none(err), selected=sel)
            res.free_energy_gap.append(row)
    return res


def plot_grokking_sweep(res: GrokkingSweep, title: str = ""):
    """Test accuracy and specialised fraction against alpha, both sweeps and the baselines."""
    import matplotlib.pyplot as plt

    x = np.asarray(res.alphas)
    with_f = res.free_energy_gap is not None
    fig, axes = plt.subplots(1, 3 if with_f else 2, figsize=(16 if with_f else 11, 4))
    ax = axes[0]
    ax.plot(x, res.column("up", "test_accuracy"), "o-", color="C0", label="mean field, up sweep")
    ax.plot(x, res.column("down", "test_accuracy"), "s--", color="C3",
            label="mean field, down sweep")
    if res.baselines:
        ax.plot(x, res.baselines["nngp"], "^:", color="0.4", label="NNGP")
        ax.plot(x, res.baselines["ntk"], "v:", color="0.7", label="NTK")
    ax.axhline(1.0 / res.P, color="k", lw=0.6, ls=":")
    if res.alpha_c is not None:
        ax.axvspan(res.alpha_c - res.alpha_c_err, res.alpha_c + res.alpha_c_err, color="C2",
                   alpha=0.2, label=f"alpha_c = {res.alpha_c:.3f} ± {res.alpha_c_err:.3f}")
    ax.set(xlabel="training fraction alpha", ylabel="test accuracy", ylim=(-0.03, 1.03))
    ax.legend(fontsize=8)
    ax = axes[1]
    for b, st, c in (("up", "o-", "C0"), ("down", "s--", "C3")):
        ax.plot(x, res.column(b, "specialised_fraction"), st, color=c, label=f"{b}: fraction")
        ax.plot(x, res.column(b, "specialised_kernel_share"), st, color=c, alpha=0.45,
                label=f"{b}: kernel share")
    ax.set(xlabel="training fraction alpha", ylabel="specialised (droplet) neurons",
           ylim=(-0.03, 1.03))
    ax.legend(fontsize=8)
    if with_f:
        ax = axes[2]
        g = [r for r in res.free_energy_gap if r["delta_F"] is not None]
        if g:
            a = np.asarray([r["alpha"] for r in g])
            d = np.asarray([r["delta_F"] for r in g])
            e = np.asarray([np.nan if r["stderr"] is None else r["stderr"] for r in g])
            ax.plot(a, d, "-", color="0.6", lw=0.8)
            sel = np.asarray([r["selected"] for r in g])
            bad = sel == "inconsistent"
            off = sel == "not_equilibrated"
            ok = ~(bad | off)
            if ok.any():
                ax.errorbar(a[ok], d[ok], yerr=3 * e[ok], fmt="o", color="k", capsize=3,
                            label="F_up - F_down (3 s.e.)")
            if bad.any():
                ax.errorbar(a[bad], d[bad], yerr=3 * e[bad], fmt="x", color="C3", capsize=3,
                            label="same branch, gap beyond 3 s.e.: estimate biased")
            if off.any():
                ax.plot(a[off], d[off], "s", mfc="none", color="C1",
                        label="a cloud is not the law of its background")
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.set(xlabel="training fraction alpha", ylabel="F_up - F_down",
               title="free energies of the two sweeps (below 0: up selected)")
        ax.legend(fontsize=8)
    fig.suptitle(title or f"modular addition P={res.P}, N={res.width:g}, sigma^2={res.noise:g}, "
                          f"{res.action} action")
    fig.tight_layout()
    return fig

