r"""`meanfield compare`: the mean field against NNGP, NTK and finite-width Langevin ensembles.

For one Bayesian problem (task, phi, width N0, sigma^2, sigma_w2, sigma_a2) this computes

* the mean-field (adaptive-kernel) predictor f_MF and kernel Q (`solve`);
* the NNGP posterior mean (`nngp_predictor`, same sigma_a2, sigma_w2, sigma^2) and the NTK
  infinite-time gradient-flow predictor (`ntk_predictor`, ridge `ntk_ridge`);
* for every width N in `widths`, the posterior-mean predictor f_N of an ensemble of Langevin
  chains on the exact posterior of the width-N network (`sample_posterior`),

and reports test losses, the kernel alignment of each kernel with Q, and the finite-N gap

    gap(N) = sqrt( mean_{x*} |f_N(x*) - f_MF(x*)|^2 )     (rms over test inputs),

with its Monte-Carlo floor s = sqrt(mean se(f_N)^2 + mean se(f_MF)^2) (standard errors from
independent chains and from particle groups), the debiased gap sqrt(gap^2 - s^2), and a fitted
rate gap_debiased ~ A N^(-r) (least squares in log-log over the widths whose raw gap exceeds
1.02 s; nearer the floor the debiased gap is noise).

Scaling of the width family. The mean field at width N depends on N through c = sigma_a2/N.
With ``scaling = "meanfield"`` (default) the network at width N uses

    sigma_a2(N) = sigma_a2 N0 / N,     sigma^2(N) = sigma^2 N0 / N,

the mean-field scaling (read-out variance sigma_a2/N^2 up to the constant, temperature ~ 1/N),
under which the linearised mean-field equations are *exactly* N-independent (Q scales with
sigma^2, tbar with 1/sigma^2, and c tbar tbar^T is invariant), so f_MF is one fixed target, equal
to the config's problem at N = N0, and the network's gap to it is the finite-width correction.
The NNGP predictor is also N-independent under this family. With ``scaling = "standard"``
sigma_a2 and sigma^2 stay at the config's values, the mean field is solved again at every N (its
coupling c = sigma_a2/N then vanishes and both it and the network tend to the NNGP).
"""

from __future__ import annotations

import time

import numpy as np

from .._misc import ComputationError
from .._model.bayesian import BayesianProblem, LinearisedAction
from .posterior import NetworkPosterior, PosteriorLangevin, sample_posterior
from .predictors import kernel_alignment, nngp_predictor, ntk_predictor, regression_loss

__all__ = ["compare", "fit_power_law", "table"]

SCALINGS = ("meanfield", "standard")


def fit_power_law(widths, gaps):
    """Least-squares fit of log gap = log A - r log N; returns (r, A).

    Example:
        >>> r, a = fit_power_law([10, 20, 40], [0.1, 0.05, 0.025])
        >>> round(r, 6), round(a, 6)
        (1.0, 1.0)
    """
    n = np.asarray(widths, dtype=np.float64)
    g = np.asarray(gaps, dtype=np.float64)
    if n.shape != g.shape or n.size < 2 or np.any(n <= 0) or np.any(g <= 0):
        raise ValueError(f"need >= 2 positive widths and gaps of the same length, got {n} and {g}")
    slope, intercept = np.polyfit(np.log(n), np.log(g), 1)
    return float(-slope), float(np.exp(intercept))


def _scaled_problem(problem: BayesianProblem, width: int, scaling: str) -> BayesianProblem:
    if scaling == "standard":
        return BayesianProblem(problem.task, problem.activation, float(width), problem.noise,
                               problem.sigma_w2, problem.sigma_a2, problem.action)
    factor = problem.width / width
    return BayesianProblem(problem.task, problem.activation, float(width),
                           problem.noise * factor, problem.sigma_w2, problem.sigma_a2 * factor,
                           problem.action)


def _mean_field_prediction(solution, x, n_groups=8):
    """f_MF on x and its Monte-Carlo standard error (groups of particles, background fixed)."""
    problem, parts, bg = solution.problem, solution.particles, solution.background
    f = np.asarray(problem.predict(parts, bg, x))
    if parts.n_particles < 2 * n_groups:
        return f, np.zeros_like(f)
    groups = np.stack([np.asarray(problem.predict(g, bg, x)) for g in parts.groups(n_groups)])
    return f, groups.std(axis=0, ddof=1) / np.sqrt(n_groups)


def _rms(v):
    return float(np.sqrt(np.mean(np.square(v))))


def compare(problem: BayesianProblem, widths, *, solver=None, sampler: PosteriorLangevin | None
            = None, scaling: str = "meanfield", ntk_ridge: float = 0.0, seed: int = 0,
            progress: bool = True) -> dict:
    """Run the comparison (module docstring); returns a JSON-ready dict plus arrays.

    Args:
        problem: the reference `BayesianProblem` (its width is N0).
        widths: the finite widths N (integers >= 1) of the Langevin ensembles.
        solver: `FixedPoint` for the mean-field solves (default `FixedPoint()`).
        sampler: `PosteriorLangevin` for the ensembles (default `PosteriorLangevin()`).
        scaling: "meanfield" or "standard" (module docstring).
        ntk_ridge: ridge of the NTK predictor (0: infinite-time gradient flow).
        seed: seeds the mean-field solve and the chains.
        progress: report on stderr.

    Returns:
        {"result": JSON-ready dict, "arrays": dict of numpy arrays} (the figure: `plot_compare`).
    """
    from .._solver.solve import FixedPoint, solve

    if not isinstance(problem, BayesianProblem):
        raise ValueError(f"compare needs a BayesianProblem (model.kind = 'bayesian'), got "
                         f"{type(problem).__name__}")
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
    widths = [int(n) for n in widths]
    if not widths or any(n < 1 for n in widths) or len(set(widths)) != len(widths):
        raise ValueError(f"widths must be distinct positive integers, got {widths!r}")
    widths = sorted(widths)
    solver = FixedPoint() if solver is None else solver
    sampler = PosteriorLangevin() if sampler is None else sampler
    task = problem.task
    xte, yte = np.asarray(task.test.x), np.asarray(task.test.y)
    t0 = time.perf_counter()

    invariant = scaling == "meanfield" and isinstance(problem.action, LinearisedAction) \
        and not problem.action.trace_term
    solutions = {}

    def mean_field(width):
        key = "ref" if invariant else width
        if key not in solutions:
            p = problem if invariant else _scaled_problem(problem, width, scaling)
            sol = solve(p, solver, key=seed, throw=False, progress=progress)
            if not sol.usable:
                raise ComputationError(f"the mean-field solve at width {p.width:g} failed "
                                   f"({sol.status}): {sol.message}")
            f, se = _mean_field_prediction(sol, xte)
            q = np.asarray(p.kernel(sol.particles, task.train.x))
            solutions[key] = {"solution": sol, "f": f, "se": se, "kernel": q}
        return solutions[key]

    ref = mean_field(int(problem.width) if float(problem.width).is_integer() else widths[-1])
    kw = {"sigma_w2": problem.sigma_w2, "sigma_a2": problem.sigma_a2}
    gp = nngp_predictor(task, problem.activation, noise=problem.noise, **kw)
    ntk = ntk_predictor(task, problem.activation, ridge=ntk_ridge, **kw)
    f_gp = np.asarray(gp.test_mean)
    q_ref = ref["kernel"]
    methods = {
        "mean_field": {"test_loss": regression_loss(ref["f"], task.test),
                       "train_loss": ref["solution"].train_loss,
                       "alignment_to_mean_field": 1.0},
        "nngp": {"test_loss": gp.test_loss, "train_loss": gp.train_loss,
                 "alignment_to_mean_field": kernel_alignment(np.asarray(gp.kernel), q_ref),
                 "gap_to_mean_field": _rms(f_gp - ref["f"])},
        "ntk": {"test_loss": ntk.test_loss, "train_loss": ntk.train_loss,
                "alignment_to_mean_field": kernel_alignment(np.asarray(ntk.kernel), q_ref),
                "gap_to_mean_field": _rms(np.asarray(ntk.test_mean) - ref["f"]),
                "ridge": ntk_ridge},
    }
    rows, arrays = [], {"x_test": xte, "y_test": yte, "f_mean_field": ref["f"],
                        "f_mean_field_stderr": ref["se"], "f_nngp": f_gp,
                        "f_ntk": np.asarray(ntk.test_mean), "kernel_mean_field": q_ref,
                        "kernel_nngp": np.asarray(gp.kernel), "kernel_ntk": np.asarray(ntk.kernel)}
    for i, width in enumerate(widths):
        mf_n = mean_field(width)
        net_problem = _scaled_problem(problem, width, scaling)
        post = NetworkPosterior.from_problem(net_problem, width)
        samples = sample_posterior(post, sampler, key=seed * 1000 + i + 1, progress=progress)
        f_n, se_n = samples.mean_prediction, samples.prediction_stderr
        raw = _rms(f_n - mf_n["f"])
        floor = float(np.sqrt(np.mean(se_n**2) + np.mean(mf_n["se"] ** 2)))
        row = {
            "width": width, "sigma_a2": net_problem.sigma_a2, "noise": net_problem.noise,
            "test_loss": samples.test_loss,
            "gap": raw, "gap_floor": floor,
            "gap_debiased": float(np.sqrt(max(raw**2 - floor**2, 0.0))),
            "gap_nngp": _rms(f_n - f_gp),
            "alignment_to_mean_field": kernel_alignment(samples.kernel, mf_n["kernel"]),
            "alignment_nngp_to_mean_field": kernel_alignment(
                np.asarray(gp.kernel) * (net_problem.sigma_a2 / problem.sigma_a2),
                mf_n["kernel"]),
            "kernel_relative_distance": float(np.linalg.norm(samples.kernel - mf_n["kernel"])
                                              / np.linalg.norm(mf_n["kernel"])),
            "rhat": samples.rhat, "ess": samples.ess, "acceptance": samples.acceptance,
            "mean_field_test_loss": regression_loss(mf_n["f"], task.test),
        }
        rows.append(row)
        methods[f"langevin_N{width}"] = {"test_loss": samples.test_loss,
                                         "alignment_to_mean_field":
                                             row["alignment_to_mean_field"]}
        arrays[f"f_langevin_N{width}"] = f_n
        arrays[f"f_langevin_N{width}_stderr"] = se_n
        arrays[f"kernel_langevin_N{width}"] = samples.kernel
        arrays[f"potential_trace_N{width}"] = samples.potential
        arrays[f"train_loss_trace_N{width}"] = samples.train_loss
    # fit the debiased gaps of the widths whose raw gap is resolved (above its Monte-Carlo floor)
    above = [r for r in rows if r["gap"] > 1.02 * r["gap_floor"] and r["gap_debiased"] > 0]
    rate = None
    if len(above) >= 2:
        r, a = fit_power_law([r["width"] for r in above], [r["gap_debiased"] for r in above])
        rate = {"rate": r, "prefactor": a, "widths_used": [r_["width"] for r_ in above],
                "fitted": "gap_debiased = sqrt(gap^2 - floor^2)"}
    # self-convergence of the ensembles, independent of the mean-field solution's own error:
    # d(N) = rms(f_N - f_Nmax) = A |N^-r - Nmax^-r| if f_N = f_inf + A N^-r
    self_fit = None
    n_max = widths[-1]
    f_max = arrays[f"f_langevin_N{n_max}"]
    for row in rows:
        row["gap_to_widest"] = _rms(arrays[f"f_langevin_N{row['width']}"] - f_max)
    if len(rows) >= 3:
        ns = np.array([r["width"] for r in rows[:-1]], dtype=float)
        ds = np.array([r["gap_to_widest"] for r in rows[:-1]])
        best = None
        for r_ in np.linspace(0.05, 3.0, 600):
            basis = np.abs(ns ** -r_ - n_max ** -r_)
            amp = float(np.exp(np.mean(np.log(ds) - np.log(basis))))
            err = float(np.sum((np.log(ds) - np.log(amp * basis)) ** 2))
            if best is None or err < best[0]:
                best = (err, r_, amp)
        self_fit = {"rate": float(best[1]), "prefactor": best[2], "reference_width": n_max}
        if self_fit["rate"] > 0:
            # Richardson extrapolation f_inf = f_Nmax - A Nmax^-r along the direction f_N - f_Nmax
            prev = arrays[f"f_langevin_N{rows[-2]['width']}"]
            n_prev = rows[-2]["width"]
            r_ = self_fit["rate"]
            lam = n_max ** -r_ / (n_prev ** -r_ - n_max ** -r_)
            f_inf = f_max - lam * (prev - f_max)
            arrays["f_langevin_extrapolated"] = f_inf
            self_fit["extrapolated_gap_to_mean_field"] = _rms(f_inf - ref["f"])
            self_fit["extrapolated_test_loss"] = regression_loss(f_inf, task.test)
    result = {
        "self_convergence_fit": self_fit,
        "scaling": scaling, "reference_width": problem.width,
        "alpha": problem.sigma_a2 * problem.width, "beta": problem.noise * problem.width,
        "methods": methods, "widths": rows, "gap_fit": rate,
        "mean_field_status": ref["solution"].status,
        "wall_time_s": time.perf_counter() - t0,
    }
    return {"result": result, "arrays": arrays}


def table(result) -> str:
    """A plain-text table of the comparison."""
    lines = ["method                 test loss   alignment(Q_MF)   rms gap to f_MF"]
    for k, v in result["methods"].items():
        gap = v.get("gap_to_mean_field")
        lines.append(f"{k:<22} {v['test_loss']:10.4g}   {v['alignment_to_mean_field']:15.4f}"
                     f"   {'' if gap is None else format(gap, '.4g')}")
    lines += ["", "width N   sigma_a2     noise      gap      floor    debiased   "
                  "gap_NNGP  R-hat(U)  ESS(U)  acc"]
    for r in result["widths"]:
        lines.append(f"{r['width']:7d}  {r['sigma_a2']:.3e}  {r['noise']:.3e}  {r['gap']:.4f}  "
                     f"{r['gap_floor']:.4f}  {r['gap_debiased']:.4f}    {r['gap_nngp']:.4f}  "
                     f"{r['rhat']['potential']:.3f}  {r['ess']['potential']:7.0f}  "
                     f"{r['acceptance']:.2f}")
    sf = result.get("self_convergence_fit")
    if sf:
        lines.append("")
        lines.append("self-convergence |f_N - f_Nmax|: " + ", ".join(
            f"N={r['width']}: {r['gap_to_widest']:.4f}" for r in result["widths"][:-1]))
        lines.append(f"fitted |f_N - f_Nmax| = A |N^-r - Nmax^-r|: r = {sf['rate']:.3f}, "
                     f"A = {sf['prefactor']:.3g}")
        if "extrapolated_gap_to_mean_field" in sf:
            lines.append("extrapolated f_inf: rms gap to f_MF "
                         f"{sf['extrapolated_gap_to_mean_field']:.4f}, test loss "
                         f"{sf['extrapolated_test_loss']:.4f}")
    fit = result.get("gap_fit")
    lines.append("")
    lines.append(f"fitted gap ~ {fit['prefactor']:.3g} N^-{fit['rate']:.3f} over N = "
                 f"{fit['widths_used']}" if fit else
                 "gap rate not fitted (fewer than two widths above the Monte-Carlo floor)")
    return "\n".join(lines)
