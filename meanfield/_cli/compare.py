"""`meanfield compare`: the mean field against NNGP, NTK and finite-width Langevin ensembles
(`meanfield._baselines.compare`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .._baselines.compare import SCALINGS, compare, table
from .._baselines.posterior import PosteriorLangevin
from .._io.config import ConfigError, parse_config
from .._io.figures import plot_compare
from .._io.results import jsonable, write_experiment, write_text
from .._misc import MAX_COUNT
from .._model.bayesian import BayesianProblem
from .common import (
    EXIT_OK, FORMATTER, compare_estimate, float_type, int_type, preflight, raw_config, seed_type,
)


def _int_list(text):
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, e.g. 8,16,32, got "
                                         f"{text!r}") from None
    if not values or any(v < 1 or v > MAX_COUNT for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, e.g. 8,16,32, got "
                                         f"{text!r}")
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"expected distinct widths, got {text!r}")
    return values


def add_parser(sub) -> None:
    """Register `meanfield compare` on the CLI's subparsers object."""
    p = sub.add_parser(
        "compare", formatter_class=FORMATTER,
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
                   help="how sigma_a2 and the noise change with N (see meanfield._baselines.compare): "
                        "'meanfield' keeps the mean-field problem fixed (sigma_a2, noise ~ "
                        "N0/N); 'standard' keeps the config's sigma_a2 and noise")
    p.add_argument("--chains", type=int_type(1, MAX_COUNT), default=16,
                   help="independent Langevin chains per width")
    p.add_argument("--warmup", type=int_type(0, MAX_COUNT), default=2000, help="warm-up steps per chain")
    p.add_argument("--samples", type=int_type(1, MAX_COUNT), default=200, help="recorded draws per chain")
    p.add_argument("--thin", type=int_type(1, MAX_COUNT), default=10, help="Langevin steps between draws")
    p.add_argument("--step-size", type=float_type(1e-12, 100.0), default=0.05,
                   help="initial Langevin step (adapted during warm-up), in whitened units")
    p.add_argument("--method", choices=("marginal", "joint"), default="marginal",
                   help="'marginal': read-out integrated out exactly; 'joint': per-layer "
                        "preconditioned Langevin on both layers")
    p.add_argument("--ntk-ridge", type=float_type(0.0), default=0.0,
                   help="ridge of the NTK predictor (0 = infinite-time gradient flow)")
    p.add_argument("--seed", type=seed_type, default=None,
                   help="seed overriding the config's top-level seed")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.config is None and not args.quiet:
        print("meanfield compare: no CONFIG given; using the built-in default problem",
              file=sys.stderr)
    raw, base = raw_config(args.config, args.seed)
    problem, solver, seed, options = parse_config(raw, base_dir=base)
    if not isinstance(problem, BayesianProblem):
        raise ConfigError("compare needs model.kind = 'bayesian' (the finite network's posterior "
                          "is the ground truth of the Bayesian mean field)")
    sampler = PosteriorLangevin(n_chains=args.chains, n_warmup=args.warmup,
                                n_samples=args.samples, thin=args.thin, step_size=args.step_size,
                                method=args.method)
    out = preflight("this comparison", out=Path(args.out),
                    **compare_estimate(problem, solver, sampler, args.widths))
    brief = compare_experiment(problem, solver, sampler, out, widths=args.widths,
                               scaling=args.scaling, ntk_ridge=args.ntk_ridge, seed=seed,
                               config=options["config"], progress=not args.quiet)
    if args.json:
        shown = {k: v for k, v in brief.items() if k not in ("table", "files")}
        print(json.dumps(jsonable(shown), allow_nan=False))
    else:
        print(brief["table"])
        print(f"results in: {out} ({', '.join(brief['files'])}, table.txt)")
    return EXIT_OK


def compare_experiment(problem, solver, sampler, out, *, widths, scaling="meanfield",
                       ntk_ridge=0.0, seed=0, config=None, progress=True) -> dict:
    """`compare` the mean field of `problem` with NNGP, NTK and Langevin ensembles at `widths`
    and write the results folder `out` (compare.json, config.json, arrays.npz, compare.png,
    table.txt); config.json holds `config` (the problem's) with the comparison's settings under
    "compare". Returns the brief record that `--json` prints (test losses, gaps per width,
    fitted rates), with the text `table` and the `files` written."""
    out = Path(out)
    settings = {"widths": list(widths), "scaling": scaling, "chains": sampler.n_chains,
                "warmup": sampler.n_warmup, "samples": sampler.n_samples, "thin": sampler.thin,
                "step_size": sampler.step_size, "method": sampler.method,
                "ntk_ridge": ntk_ridge}
    config = {**(config or {}), "compare": settings}
    t0 = time.perf_counter()
    res = compare(problem, widths, solver=solver, sampler=sampler, scaling=scaling,
                  ntk_ridge=ntk_ridge, seed=seed, progress=progress)
    result = res["result"]
    out.mkdir(parents=True, exist_ok=True)
    text = table(result)
    write_text(out / "table.txt", text + "\n")
    record = write_experiment(out, "compare", {**result, "table": "table.txt"}, config=config,
                              seed=seed, figures={"compare": plot_compare(result, res["arrays"])},
                              arrays=res["arrays"], wall_time=time.perf_counter() - t0)
    return {
        "test_loss": {k: v["test_loss"] for k, v in result["methods"].items()},
        "gaps": [{k: r[k] for k in ("width", "gap", "gap_floor", "gap_debiased",
                                    "gap_nngp", "alignment_to_mean_field")}
                 | {"rhat_potential": r["rhat"]["potential"]} for r in result["widths"]],
        "nngp_gap_to_mean_field": result["methods"]["nngp"]["gap_to_mean_field"],
        "gap_fit": result["gap_fit"],
        "self_convergence_fit": result["self_convergence_fit"], "results": str(out),
        "table": text, "files": record["files"],
    }
