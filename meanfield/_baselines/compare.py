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

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .._model.bayesian import BayesianProblem, LinearisedAction
from .posterior import NetworkPosterior, PosteriorLangevin, sample_posterior
from .predictors import kernel_alignment, nngp_predictor, ntk_predictor, regression_loss

__all__ = ["compare", "add_command", "fit_power_law"]

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
        {"result": JSON-ready dict, "arrays": dict of numpy arrays, "figure": matplotlib figure}.
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
            if not sol.converged:
                raise RuntimeError(f"the mean-field solve at width {p.width:g} failed "
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
    return {"result": result, "arrays": arrays, "figure": _figure(result, arrays)}


def _figure(result, arrays):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    methods = result["methods"]
    names = list(methods)
    ax = axes[0]
    ax.bar(range(len(names)), [methods[k]["test_loss"] for k in names],
           color=["C3", "C0", "C1"] + ["C2"] * (len(names) - 3))
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([k.replace("langevin_", "Langevin ") for k in names], rotation=40,
                       ha="right")
    ax.set_ylabel("test loss 0.5 <(f - y)^2>")
    ax.set_title("test loss per method")

    rows = result["widths"]
    n = np.array([r["width"] for r in rows], dtype=float)
    ax = axes[1]
    ax.plot(n, [r["gap"] for r in rows], "o-", color="C2",
            label="|f_N - f_MF| (Langevin ensemble)")
    # only where the raw gap is resolved above its floor; below it the debiased gap is noise
    ax.plot(n, [r["gap_debiased"] if r["gap"] > 1.02 * r["gap_floor"] and r["gap_debiased"] > 0
                else np.nan for r in rows], "^-", color="C4",
            label="debiased sqrt(gap^2 - floor^2) (where gap > floor)")
    ax.plot(n, [r["gap_floor"] for r in rows], "k:", label="Monte-Carlo floor")
    ax.plot(n, [r["gap_nngp"] for r in rows], "s--", color="C0", label="|f_N - f_NNGP|")
    ax.axhline(methods["nngp"]["gap_to_mean_field"], color="C0", lw=0.8,
               label="|f_NNGP - f_MF|")
    ax.plot(n[:-1], [r["gap_to_widest"] for r in rows[:-1]], "v-", color="C5",
            label=f"|f_N - f_{int(n[-1])}| (self-convergence)")
    fit = result.get("gap_fit")
    if fit:
        grid = np.geomspace(n.min(), n.max(), 50)
        ax.plot(grid, fit["prefactor"] * grid ** (-fit["rate"]), "C2:",
                label=f"fit N^-{fit['rate']:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width N")
    ax.set_ylabel("rms difference on test inputs")
    ax.set_title(f"finite-N gap ({result['scaling']} scaling)")
    ax.legend(fontsize=7)

    ax = axes[2]
    ax.plot(n, [r["alignment_to_mean_field"] for r in rows], "o-", color="C2",
            label="Langevin kernel Q_N")
    ax.axhline(methods["nngp"]["alignment_to_mean_field"], color="C0", label="NNGP K")
    ax.axhline(methods["ntk"]["alignment_to_mean_field"], color="C1", label="NTK Theta")
    ax.set_xscale("log")
    ax.set_xlabel("width N")
    ax.set_ylabel("alignment with mean-field Q")
    ax.set_title("kernel alignment")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


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


# ------------------------------------------------------------------------------------------
# command line


def _int_list(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def add_command(sub) -> None:
    """Register `meanfield compare` on the CLI's subparsers object."""
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = sub.add_parser(
        "compare", formatter_class=fmt,
        help="mean field vs NNGP, NTK and finite-width Langevin ensembles",
        description="Solve the mean field of a Bayesian config, compute the NNGP and NTK "
                    "predictors, sample the exact posterior of finite networks at several "
                    "widths N by ensemble Langevin dynamics, and write a table, a figure and "
                    "compare.json to DIR: test loss per method, kernel alignment with the "
                    "mean-field kernel, and the gap |f_N - f_MF| vs N with a fitted rate.")
    p.add_argument("config", nargs="?", metavar="CONFIG.toml", default=None,
                   help="TOML config with model.kind = 'bayesian'; without it the built-in "
                        "default problem of `meanfield solve` (DEFAULT_CONFIG)")
    p.add_argument("--out", required=True, metavar="DIR", help="results folder")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (test losses per method, gaps per width, fitted "
                        "rate) on stdout")
    p.add_argument("--widths", type=_int_list, default=[8, 16, 32, 64, 128], metavar="N,N,...",
                   help="finite widths of the Langevin ensembles")
    p.add_argument("--scaling", choices=SCALINGS, default="meanfield",
                   help="how sigma_a2 and the noise change with N (see meanfield._compare): "
                        "'meanfield' keeps the mean-field problem fixed (sigma_a2, noise ~ "
                        "N0/N); 'standard' keeps the config's sigma_a2 and noise")
    p.add_argument("--chains", type=int, default=16, help="independent Langevin chains per width")
    p.add_argument("--warmup", type=int, default=2000, help="warm-up steps per chain")
    p.add_argument("--samples", type=int, default=200, help="recorded draws per chain")
    p.add_argument("--thin", type=int, default=10, help="Langevin steps between draws")
    p.add_argument("--step-size", type=float, default=0.05,
                   help="initial Langevin step (adapted during warm-up)")
    p.add_argument("--method", choices=("marginal", "joint"), default="marginal",
                   help="'marginal': read-out integrated out exactly; 'joint': per-layer "
                        "preconditioned Langevin on both layers")
    p.add_argument("--ntk-ridge", type=float, default=0.0,
                   help="ridge of the NTK predictor (0 = infinite-time gradient flow)")
    p.add_argument("--seed", type=int, default=None,
                   help="seed overriding the config's top-level seed")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def run(args) -> int:
    from .._io.config import DEFAULT_CONFIG, ConfigError, load_config, loads, parse_config
    from .._io.results import write_experiment, write_text

    if args.config is None:
        raw, base = loads(DEFAULT_CONFIG, source="DEFAULT_CONFIG"), Path.cwd()
        if not args.quiet:
            print("meanfield compare: no CONFIG given; using the built-in default problem",
                  file=sys.stderr)
    else:
        path = Path(args.config)
        load_config(path)
        raw, base = loads(path.read_text(encoding="utf-8"), source=str(path)), \
            path.resolve().parent
    if args.seed is not None:
        raw["seed"] = args.seed
    problem, solver, seed, options = parse_config(raw, base_dir=base)
    if not isinstance(problem, BayesianProblem):
        raise ConfigError("compare needs model.kind = 'bayesian' (the finite network's posterior "
                          "is the ground truth of the Bayesian mean field)")
    for name in ("chains", "warmup", "samples", "thin"):
        v = getattr(args, name)
        if v < (0 if name == "warmup" else 1):
            kind = "non-negative" if name == "warmup" else "positive"
            raise ConfigError(f"--{name}: must be a {kind} integer, got {v}")
    if not args.step_size > 0:
        raise ConfigError(f"--step-size: must be positive, got {args.step_size}")
    if not args.ntk_ridge >= 0:
        raise ConfigError(f"--ntk-ridge: must be >= 0, got {args.ntk_ridge}")
    sampler = PosteriorLangevin(n_chains=args.chains, n_warmup=args.warmup,
                                n_samples=args.samples, thin=args.thin, step_size=args.step_size,
                                method=args.method)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {str(out)!r} exists and is not a folder")
    t0 = time.perf_counter()
    res = compare(problem, args.widths, solver=solver, sampler=sampler, scaling=args.scaling,
                  ntk_ridge=args.ntk_ridge, seed=seed, progress=not args.quiet)
    result = res["result"]
    settings = {"widths": args.widths, "scaling": args.scaling, "chains": args.chains,
                "warmup": args.warmup, "samples": args.samples, "thin": args.thin,
                "step_size": args.step_size, "method": args.method,
                "ntk_ridge": args.ntk_ridge}
    out.mkdir(parents=True, exist_ok=True)
    text = table(result)
    write_text(out / "table.txt", text + "\n")
    record = write_experiment(out, "compare", {**result, "table": "table.txt"},
                              config={**options["config"], "compare": settings}, seed=seed,
                              figures={"compare": res["figure"]}, arrays=res["arrays"],
                              wall_time=time.perf_counter() - t0)
    if args.json:
        brief = {
            "test_loss": {k: v["test_loss"] for k, v in result["methods"].items()},
            "gaps": [{k: r[k] for k in ("width", "gap", "gap_floor", "gap_debiased",
                                        "gap_nngp", "alignment_to_mean_field")}
                     | {"rhat_potential": r["rhat"]["potential"]} for r in result["widths"]],
            "nngp_gap_to_mean_field": result["methods"]["nngp"]["gap_to_mean_field"],
            "gap_fit": result["gap_fit"],
            "self_convergence_fit": result["self_convergence_fit"], "results": str(out),
        }
        from .._io.results import jsonable

        print(json.dumps(jsonable(brief), allow_nan=False))
    else:
        print(text)
        print(f"results in: {out} ({', '.join(record['files'])}, table.txt)")
    return 0
