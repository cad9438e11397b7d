"""`meanfield clover`: clover-leaf neuron clouds, foreground neurons against their background."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from .._apps.clover import OTHER_PAIRS, CloverSetting, plot_clover, plot_other_pairs, run_clover
from .._io.results import jsonable, write_experiment
from .._misc import MAX_COUNT
from .common import (
    EXIT_OK, EXIT_USAGE, FORMATTER, clover_estimate, format_number, int_type, preflight, seed_type,
)


def add_parser(sub) -> None:
    """Register `meanfield clover` on the argparse subparsers object `sub`."""
    p = sub.add_parser(
        "clover", formatter_class=FORMATTER,
        help="clover-leaf neuron clouds: foreground neurons reproduce their background",
        description="Train a wide mean-field network on the continuous XOR with 2-D Gaussian "
                    "inputs (infinite data), train i.i.d. foreground neurons against its frozen "
                    "residual, compare with a GP-like control and the fixed point solved from "
                    "scratch, and report sliced-Wasserstein distances against the noise floor. "
                    "Exit code 0 on success.")
    p.add_argument("--width", type=int_type(2, MAX_COUNT), default=2048, metavar="N",
                   help="neurons of the joint network and of the foreground")
    p.add_argument("--steps", type=int_type(1, MAX_COUNT), default=2000, metavar="S",
                   help="Langevin steps of every training (learning rate 0.5, T = lambda = 0.01)")
    p.add_argument("--nodes", type=int_type(2, 447), default=16, metavar="K",
                   help="Gauss-Hermite nodes per input axis (K^2 weighted points)")
    p.add_argument("--solve-iterations", type=int_type(1), default=300, metavar="I",
                   help="most fixed-point iterations of the from-scratch solve")
    p.add_argument("--no-solve", action="store_true", help="skip the from-scratch fixed point")
    p.add_argument("--no-pairs", action="store_true",
                   help="skip the other activation/target pairs")
    p.add_argument("--seed", type=seed_type, default=0, help="random seed")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="results folder (clover.json, config.json, arrays.npz, clover.png, "
                        "clover_pairs.png); nothing is written without it")
    p.add_argument("--json", action="store_true",
                   help="print exactly one JSON object (the summary) on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def clover_experiment(setting: CloverSetting, *, out=None, solve_from_scratch: bool = True,
                      progress: bool = True) -> dict:
    """Run the clover experiment of `setting`; with `out`, write its results folder
    (clover.json, config.json, arrays.npz, clover.png, clover_pairs.png). Returns the summary
    (JSON-ready after `jsonable`), with `wall_time_s` and, with `out`, `results`."""
    t0 = time.perf_counter()
    result = run_clover(setting, progress=progress, solve_from_scratch=solve_from_scratch)
    wall = time.perf_counter() - t0
    summary = dict(result.summary)
    if out:
        figs = {"clover": plot_clover(result)}
        if result.other_pairs:
            figs["clover_pairs"] = plot_other_pairs(result)
        write_experiment(out, "clover", summary, config=setting.as_dict(), seed=setting.seed,
                         figures=figs, arrays=result.arrays(), wall_time=wall)
        summary["results"] = str(Path(out))
    summary["wall_time_s"] = wall
    return summary


def run(args) -> int:
    try:
        setting = CloverSetting(width=args.width, n_foreground=args.width, n_steps=args.steps,
                                n_nodes=args.nodes, solve_iterations=args.solve_iterations,
                                other_pairs=() if args.no_pairs else OTHER_PAIRS, seed=args.seed)
    except ValueError as err:
        print(f"meanfield clover: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    preflight("this clover run", out=args.out,
              **clover_estimate(setting, solve_from_scratch=not args.no_solve))
    r = clover_experiment(setting, out=args.out, solve_from_scratch=not args.no_solve,
                          progress=not args.quiet)
    if args.json:
        print(json.dumps(jsonable(r), allow_nan=False))
        return EXIT_OK
    print(f"joint loss {r['joint_loss']:.5g} (mean {r['joint_loss_mean']:.5g} +- "
          f"{r['joint_loss_std']:.2g}), recombined foreground loss {r['recombined_loss']:.5g}, "
          f"GP-like control loss {r['control_loss']:.5g}")
    print(f"sliced W2 to background: foreground {r['foreground_distance']:.4g}, noise floor "
          f"{r['noise_floor']:.4g}, control {r['control_distance']:.4g}, untrained control "
          f"{r['untrained_control_distance']:.4g}, fixed point "
          f"{format_number(r['fixed_point_distance'], '.4g')} "
          f"({r.get('fixed_point_status', 'skipped')})")
    if args.out:
        print(f"results in {args.out}")
    return EXIT_OK
