"""`meanfield solve`: solve the problem of a TOML config and write a results folder."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .._io.config import DEFAULT_CONFIG, ConfigError, parse_config
from .._io.results import write_results
from .._solver.foreground import Grid
from .._solver.free_energy import Ladder, free_energy
from .._solver.solve import solve
from .common import (
    CHECKPOINT, EXIT_FAILED, EXIT_OK, FORMATTER, UsageError, format_number, preflight,
    raw_config, seed_type, solve_estimate,
)


def add_parser(sub) -> None:
    """Register `meanfield solve` on the CLI's subparsers object."""
    s = sub.add_parser(
        "solve", formatter_class=FORMATTER,
        help="solve a config and write a results folder",
        description="Solve the problem of a TOML config (see meanfield._io.config for the schema) "
                    "and write a results folder: config.toml, summary.json, arrays.npz and PNG "
                    "figures. Exit code 0 converged or noise_limited (as good as the particles "
                    "can tell), 1 failed (stagnated, max_iterations, diverged, nonfinite), 2 bad "
                    "config/usage, 130 interrupted (rerun to resume).")
    s.add_argument("config", nargs="?", metavar="CONFIG.toml", default=None,
                   help="TOML config; without it the built-in default problem is solved "
                        "(meanfield._io.config.DEFAULT_CONFIG)")
    s.add_argument("--out", metavar="DIR", default=None,
                   help="results folder (created if needed; the checkpoint lives in "
                        f"DIR/{CHECKPOINT})")
    s.add_argument("--json", action="store_true",
                   help="print exactly one JSON object (the summary) on stdout instead of the "
                        "human summary")
    s.add_argument("--seed", type=seed_type, default=None, metavar="S",
                   help="solver seed overriding the config's top-level `seed` (default: the "
                        "config's, itself 0 by default)")
    s.add_argument("--resume", action="store_true",
                   help="require resuming from DIR/checkpoint.npz (an error if there is none); "
                        "without it a matching checkpoint in DIR is resumed anyway")
    s.add_argument("--quiet", action="store_true", help="no progress on stderr")
    s.add_argument("--print-config", action="store_true",
                   help="print the built-in default config (a commented TOML to start your own "
                        "from) and exit")

    s.set_defaults(func=run)


def human(summary: dict, folder) -> str:
    lines = [
        f"status:                 {summary.get('status')}",
        f"message:                {summary.get('message', '')}",
        f"iterations:             {summary.get('iterations')}",
        f"self-consistency error: {format_number(summary.get('self_consistency_error'))}",
        f"Monte-Carlo noise floor:{' '}{format_number(summary.get('noise_floor'))}",
        f"certificate:            {format_number(summary.get('certificate'))} +- "
        f"{format_number(summary.get('certificate_noise'))}",
        f"train loss:             {format_number(summary.get('train_loss'), '.4g')}",
        f"test loss:              {format_number(summary.get('test_loss'), '.4g')}",
    ]
    if "train_accuracy" in summary:
        lines.append(f"train / test accuracy:  {format_number(summary.get('train_accuracy'), '.3f')} / "
                     f"{format_number(summary.get('test_accuracy'), '.3f')}")
    if summary.get("free_energy") is not None:
        method = summary.get("free_energy_method")
        lines.append(f"free energy:            {summary['free_energy']:.4f} "
                     f"+- {summary.get('free_energy_stderr') or 0:.2g}"
                     + (f" ({method})" if method else ""))
    if summary.get("wall_time_s") is not None:
        lines.append(f"wall time:              {summary['wall_time_s']:.1f} s")
    lines.append(f"results in:             {folder}")
    files = summary.get("files")
    if files:
        lines.append("files:                  " + ", ".join(files))
    return "\n".join(lines)


def run(args) -> int:
    if args.print_config:
        print(DEFAULT_CONFIG, end="")
        return EXIT_OK
    if args.out is None:
        raise UsageError("meanfield solve: error: the following arguments are required: --out "
                          "(the results folder)")

    out = Path(args.out)
    if args.config is None:
        print("meanfield: no CONFIG given; solving the built-in default problem "
              "(meanfield._io.config.DEFAULT_CONFIG)", file=sys.stderr)
    raw, base_dir = raw_config(args.config, args.seed)
    problem, solver, seed, options = parse_config(raw, base_dir=base_dir)
    ckpt = out / CHECKPOINT
    if args.resume and not ckpt.is_file():
        raise ConfigError(f"--resume: no checkpoint at {str(ckpt)!r} to resume from")
    # a grid solution's free energy is exact (method 'grid', a quadrature: no cost to speak of)
    method = ("grid" if isinstance(solver.foreground, Grid)
              else options["free_energy_method"])
    ladder = Ladder(n_particles=options["free_energy_particles"],
                    n_sweeps=options["free_energy_sweeps"])
    if not options["free_energy"] or method == "grid":
        fe_cost = {}
    elif method == "ladder":
        fe_cost = {"free_energy_ladder": ladder}
    else:
        fe_cost = {"free_energy_nodes": options["free_energy_n_strengths"],
                   "free_energy_steps": options["free_energy_n_steps"]}
    preflight("this solve", out=out, **solve_estimate(problem, solver, **fe_cost))
    if ckpt.is_file() and not args.quiet:
        print(f"meanfield: resuming from {ckpt}", file=sys.stderr)

    t0 = time.perf_counter()
    try:
        solution = solve(problem, solver, key=seed, throw=False, progress=not args.quiet,
                         checkpoint=ckpt, checkpoint_every=options["checkpoint_every"])
    except ValueError as err:  # e.g. a checkpoint of another run
        raise ConfigError(str(err)) from err
    fe = None
    if options["free_energy"] and solution.usable:
        try:
            if method == "grid":
                fe = free_energy(solution, method="grid")
            elif method == "ladder":
                fe = free_energy(solution, method="ladder", ladder=ladder, key=seed)
            else:
                fe = free_energy(solution, method="thermodynamic_integration",
                                 n_strengths=options["free_energy_n_strengths"],
                                 n_steps=options["free_energy_n_steps"], key=seed)
        except Exception as err:  # the free energy is an extra; report and go on
            print(f"meanfield: free energy failed: {err}", file=sys.stderr)
    wall = time.perf_counter() - t0
    summary = write_results(out, solution, options["config"], free_energy=fe,
                                     seed=seed, wall_time=wall)
    if args.json:
        print(json.dumps({**summary, "results": str(out)}, allow_nan=False))
    else:
        print(human(summary, out))
    if not solution.usable:
        print(f"meanfield: solve failed ({solution.status}): {solution.message}",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
