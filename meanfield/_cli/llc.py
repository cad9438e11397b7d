"""``meanfield llc``: lambda-hat of the learning-zero tanh net against n beta (issue 4).

Runs `meanfield._apps.llc.learning_zero.run_llc_experiment` over a log-spaced grid of n beta, prints a
table (or, with ``--json``, one JSON object with betas, lambda_hat, lambda_hat_err, the growth-law
fits and the diagnostics) and with ``--out DIR`` writes a results folder (llc.json, config.json,
arrays.npz with the loss traces, llc.png) by `meanfield._io.results.write_experiment`.

Example (a few seconds):

    meanfield llc --small --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from .._io.config import ConfigError
from .common import (
    EXIT_OK, FORMATTER, SCALE_MAX, SCALE_MIN, llc_estimate, preflight, seed_type,
)

# (full run, --small) defaults of the size options
_SIZES = {
    "width": (128, 16),
    "beta_max": (1e20, 1e8),
    "n_betas": (21, 3),
    "steps": (200, 60),
    "burnin": (80, 20),
    "chains": (8, 4),
    "nodes": (512, 256),
    "mala_max": (1e6, 1e2),
    "mala_steps": (3000, 300),
}


def add_parser(sub) -> None:
    """Register ``meanfield llc`` on the argparse subparsers object `sub`."""
    p = sub.add_parser(
        "llc", formatter_class=FORMATTER,
        help="local learning coefficient of the learning-zero tanh net against n beta",
        description="Measure lambda-hat = n beta (E[L] - L(w*)) of a bias-free tanh net "
                    "f(x) = sum_i a_i tanh(w_i x), x ~ N(0, 1), at a zero point w* = (a = 0, W0 "
                    "random), with the infinite-data loss L = E[f^2] (Gauss-Hermite quadrature), "
                    "over log-spaced n beta; compare with the RLCT h/2 and fit growth laws in "
                    "ln(n beta). Size options default to the full run; --small changes their "
                    "defaults to a quick one (explicit options still win).")
    S = argparse.SUPPRESS

    def size(flag, key, typ, text):
        full, small = _SIZES[key]
        p.add_argument(flag, dest=key, type=typ, default=S,
                       help=f"{text} (default: {full:g}; with --small: {small:g})")

    size("--width", "width", int, "hidden units h (RLCT = h/2)")
    p.add_argument("--beta-min", type=float, default=1.0, help="smallest n beta")
    size("--beta-max", "beta_max", float, "largest n beta")
    size("--n-betas", "n_betas", int, "number of log-spaced n beta values")
    size("--steps", "steps", int, "MALA steps per chain of the marginal estimator (W)")
    size("--burnin", "burnin", int, "burn-in steps discarded (step size adapts only there)")
    size("--chains", "chains", int, "independent chains (error bar = std over chains / sqrt)")
    size("--nodes", "nodes", int, "Gauss-Hermite nodes of the marginal estimator's Gram matrix")
    size("--mala-max", "mala_max", float,
         "joint (a, W) MALA cross-check runs for n beta up to this (0: none)")
    size("--mala-steps", "mala_steps", int, "steps per chain of the joint MALA cross-check")
    p.add_argument("--localization", type=float, default=100.0,
                   help="gamma of the localising term gamma/2 |w - w*|^2 (devinterp's name)")
    p.add_argument("--weight-scale", type=float, default=1.0,
                   help="W0 ~ N(0, weight_scale^2): the zero point's hidden weights")
    p.add_argument("--seed", type=seed_type, default=0, help="seed of W0 and of the chains")
    p.add_argument("--small", action="store_true", help="quick run: the small size defaults")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="results folder to write (llc.json, config.json, arrays.npz, llc.png)")
    p.add_argument("--json", action="store_true",
                   help="print exactly one JSON object on stdout instead of the table")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def _options(args) -> dict:
    opts = {k: getattr(args, k, v[1] if args.small else v[0]) for k, v in _SIZES.items()}
    checks = [("--width", opts["width"], 1), ("--n-betas", opts["n_betas"], 1),
              ("--steps", opts["steps"], 3), ("--burnin", opts["burnin"], 0),
              ("--chains", opts["chains"], 2), ("--nodes", opts["nodes"], 16),
              ("--mala-steps", opts["mala_steps"], 8)]
    for flag, v, lo in checks:
        if v < lo:
            raise ConfigError(f"{flag} must be >= {lo}, got {v}")
    if opts["burnin"] >= opts["steps"] - 1:
        raise ConfigError(f"--burnin must be < --steps - 1 to keep draws, got --burnin "
                          f"{opts['burnin']} with --steps {opts['steps']}")
    for flag, v in (("--beta-min", args.beta_min), ("--beta-max", opts["beta_max"]),
                    ("--localization", args.localization), ("--weight-scale", args.weight_scale)):
        if not (SCALE_MIN <= v <= SCALE_MAX):  # refuses nan and inf too
            raise ConfigError(f"{flag} must be a number in [{SCALE_MIN:g}, {SCALE_MAX:g}], got {v}")
    if not (0 <= opts["mala_max"] <= SCALE_MAX):
        raise ConfigError(f"--mala-max must be 0 (no cross-check) or a number in (0, "
                          f"{SCALE_MAX:g}], got {opts['mala_max']}")
    if opts["beta_max"] < args.beta_min:
        raise ConfigError(f"--beta-max ({opts['beta_max']:g}) must be >= --beta-min "
                          f"({args.beta_min:g})")
    return opts


def _table(res: dict) -> str:
    lines = [f"{'n beta':>10} {'lambda_hat':>11} {'+-':>7} {'W frozen':>9} {'accept':>7}"]
    for b, l, e, q, a in zip(res["betas"], res["lambda_hat"], res["lambda_hat_err"],
                             res["lambda_quad"], res["acceptance"]):
        lines.append(f"{b:10.3g} {l:11.4f} {e:7.4f} {q:9.4f} {a:7.2f}")
    m = res["mala"]
    for b, l, e, a in zip(m["betas"], m["lambda_hat"], m["lambda_hat_err"], m["acceptance"]):
        lines.append(f"joint MALA n beta={b:.3g}: lambda_hat={l:.4f} +- {e:.4f} (accept {a:.2f})")
    for name in ("linear", "quadratic", "general"):
        f = res["fits"].get(name)
        if f:
            ps = ", ".join(f"{k}={v:.4g}+-{res['fits'][name]['param_errors'][k]:.2g}"
                           for k, v in f["params"].items())
            lines.append(f"fit {name:9s} ({f['law']}): {ps}; chi2/dof={f['chi2_per_dof']:.3g}")
    lines.append(f"RLCT h/2 = {res['rlct']:g}")
    return "\n".join(lines)


def run(args) -> int:
    """Run ``meanfield llc`` (see `add_command`); returns the exit code."""
    from .._apps.llc.learning_zero import plot_llc_experiment, run_llc_experiment
    from .._io.results import write_experiment

    opts = _options(args)
    preflight("this llc run", out=args.out, **llc_estimate(opts))
    betas = np.logspace(np.log10(args.beta_min), np.log10(opts["beta_max"]), opts["n_betas"])
    config = {**opts, "beta_min": args.beta_min, "localization": args.localization,
              "weight_scale": args.weight_scale, "seed": args.seed, "small": bool(args.small)}
    t0 = time.perf_counter()
    try:
        res = run_llc_experiment(
            width=opts["width"], nbetas=betas, localization=args.localization,
            n_chains=opts["chains"], n_steps=opts["steps"], n_burnin=opts["burnin"],
            seed=args.seed, weight_scale=args.weight_scale, n_nodes=opts["nodes"],
            mala_max_nbeta=opts["mala_max"], mala_steps=opts["mala_steps"],
            mala_nodes=min(256, opts["nodes"]), progress=not args.quiet)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    wall = time.perf_counter() - t0
    traces = res.pop("loss_traces")
    res["wall_time_s"] = wall
    if args.out:
        import matplotlib

        matplotlib.use("Agg")
        fig = plot_llc_experiment(res)
        record = write_experiment(args.out, "llc", res, config=config, seed=args.seed,
                                  figures={"llc": fig}, arrays={"loss_traces": traces,
                                                                "betas": np.asarray(res["betas"])},
                                  wall_time=wall)
        res["results"] = str(args.out)
        res["files"] = record["files"]
    if args.json:
        from .._io.results import jsonable

        print(json.dumps(jsonable(res), allow_nan=False))
    else:
        print(_table(res))
        if args.out:
            print(f"results in: {args.out}")
    sys.stdout.flush()
    return EXIT_OK
