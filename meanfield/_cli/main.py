"""The ``meanfield`` command line: ``meanfield solve`` and ``meanfield show``.

Exit codes: 0 converged (or `show` succeeded), 1 the solve failed (the results folder is still
written, with the failed status), 2 bad config or usage, 130 interrupted (state checkpointed;
rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

from .._io.config import DEFAULT_CONFIG, ConfigError, load_config, loads, parse_config

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
CHECKPOINT = "checkpoint.npz"
# modules that add a subcommand through `add_command(sub)`
COMMAND_MODULES = ("meanfield._cli.demo", "meanfield._baselines.compare", "meanfield._apps.clover",
                   "meanfield._cli.grokking", "meanfield._cli.llc")


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # exit code 2 with a one-line message, no traceback
        self.print_usage(sys.stderr)
        raise _UsageError(f"{self.prog}: error: {message}")


def _parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = _Parser(prog="meanfield", formatter_class=fmt,
                description="Solve the mean-field theory of wide two-layer networks.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser(
        "solve", formatter_class=fmt,
        help="solve a config and write a results folder",
        description="Solve the problem of a TOML config (see meanfield._config for the schema) "
                    "and write a results folder: config.toml, summary.json, arrays.npz and PNG "
                    "figures. Exit code 0 converged, 1 failed, 2 bad config/usage, 130 "
                    "interrupted (rerun to resume).")
    s.add_argument("config", nargs="?", metavar="CONFIG.toml", default=None,
                   help="TOML config; without it the built-in default problem is solved "
                        "(meanfield._config.DEFAULT_CONFIG)")
    s.add_argument("--out", metavar="DIR", default=None,
                   help="results folder (created if needed; the checkpoint lives in "
                        f"DIR/{CHECKPOINT})")
    s.add_argument("--json", action="store_true",
                   help="print exactly one JSON object (the summary) on stdout instead of the "
                        "human summary")
    s.add_argument("--seed", type=int, default=None, metavar="S",
                   help="solver seed overriding the config's top-level `seed` (default: the "
                        "config's, itself 0 by default)")
    s.add_argument("--resume", action="store_true",
                   help="require resuming from DIR/checkpoint.npz (an error if there is none); "
                        "without it a matching checkpoint in DIR is resumed anyway")
    s.add_argument("--quiet", action="store_true", help="no progress on stderr")
    s.add_argument("--print-config", action="store_true",
                   help="print the built-in default config (a commented TOML to start your own "
                        "from) and exit")

    sh = sub.add_parser(
        "show", formatter_class=fmt, help="reopen any results folder (redraws the figures of a solve folder)",
        description="Reopen a results folder and print its summary. For a `meanfield solve` "
                    "folder the figures are redrawn from its arrays; for the folders of the other "
                    "commands (clover, llc, grokking theory: their JSON record) and of `meanfield "
                    "demo` (its report) the saved figures and report are listed.")
    sh.add_argument("dir", metavar="DIR", help="a results folder written by any meanfield command")
    sh.add_argument("--to", default=None, metavar="OTHER",
                    help="folder to draw the figures into (default: DIR itself)")
    sh.add_argument("--json", action="store_true",
                    help="print the summary as one JSON object instead of text")
    s.set_defaults(func=_solve)
    sh.set_defaults(func=_show)
    # further subcommands register themselves here: each module's `add_command(sub)` adds its
    # parser and sets `func` to the function that runs it (returning the exit code)
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_command(sub)
    return p


def _fmt(v, spec=".3e"):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def _human(summary: dict, folder) -> str:
    lines = [
        f"status:                 {summary.get('status')}",
        f"message:                {summary.get('message', '')}",
        f"iterations:             {summary.get('iterations')}",
        f"self-consistency error: {_fmt(summary.get('self_consistency_error'))}",
        f"Monte-Carlo noise floor:{' '}{_fmt(summary.get('noise_floor'))}",
        f"train loss:             {_fmt(summary.get('train_loss'), '.4g')}",
        f"test loss:              {_fmt(summary.get('test_loss'), '.4g')}",
    ]
    if "train_accuracy" in summary:
        lines.append(f"train / test accuracy:  {_fmt(summary.get('train_accuracy'), '.3f')} / "
                     f"{_fmt(summary.get('test_accuracy'), '.3f')}")
    if summary.get("free_energy") is not None:
        lines.append(f"free energy:            {summary['free_energy']:.4f} "
                     f"+- {summary.get('free_energy_stderr') or 0:.2g}")
    if summary.get("wall_time_s") is not None:
        lines.append(f"wall time:              {summary['wall_time_s']:.1f} s")
    lines.append(f"results in:             {folder}")
    files = summary.get("files")
    if files:
        lines.append("files:                  " + ", ".join(files))
    return "\n".join(lines)


def _solve(args) -> int:
    from .._io import results as _results
    from .._solver.free_energy import free_energy
    from .._solver.solve import solve

    if args.print_config:
        print(DEFAULT_CONFIG, end="")
        return EXIT_OK
    if args.out is None:
        raise _UsageError("meanfield solve: error: the following arguments are required: --out "
                          "(the results folder)")

    out = Path(args.out)
    if args.config is None:
        print("meanfield: no CONFIG given; solving the built-in default problem "
              "(meanfield._config.DEFAULT_CONFIG)", file=sys.stderr)
        raw, base_dir = loads(DEFAULT_CONFIG, source="DEFAULT_CONFIG"), Path.cwd()
    else:
        path = Path(args.config)
        load_config(path)  # validates (and reports errors against the file)
        raw = loads(path.read_text(encoding="utf-8"), source=str(path))
        base_dir = path.resolve().parent
    if args.seed is not None:
        raw["seed"] = args.seed
    problem, solver, seed, options = parse_config(raw, base_dir=base_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {str(out)!r} exists and is not a folder")
    ckpt = out / CHECKPOINT
    if args.resume and not ckpt.is_file():
        raise ConfigError(f"--resume: no checkpoint at {str(ckpt)!r} to resume from")
    if ckpt.is_file() and not args.quiet:
        print(f"meanfield: resuming from {ckpt}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    try:
        solution = solve(problem, solver, key=seed, throw=False, progress=not args.quiet,
                         checkpoint=ckpt, checkpoint_every=options["checkpoint_every"])
    except ValueError as err:  # e.g. a checkpoint of another run
        raise ConfigError(str(err)) from err
    fe = None
    if options["free_energy"] and solution.converged:
        try:
            fe = free_energy(solution, n_strengths=options["free_energy_n_strengths"],
                             n_steps=options["free_energy_n_steps"], key=seed)
        except Exception as err:  # the free energy is an extra; report and go on
            print(f"meanfield: free energy failed: {err}", file=sys.stderr)
    wall = time.perf_counter() - t0
    summary = _results.write_results(out, solution, options["config"], free_energy=fe,
                                     seed=seed, wall_time=wall)
    if args.json:
        print(json.dumps({**summary, "results": str(out)}, allow_nan=False))
    else:
        print(_human(summary, out))
    if not solution.converged:
        print(f"meanfield: solve failed ({solution.status}): {solution.message}",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _show(args) -> int:
    from .._io.results import load_results, write_figures

    folder = Path(args.dir)
    if not (folder / "summary.json").is_file():
        return _show_other(folder, args)
    res = load_results(folder)
    target = Path(args.to) if args.to else res.path
    solution = res.solution()
    prior = res.arrays.get("prior_w")
    files = write_figures(solution, target, prior)
    if args.json:
        print(json.dumps({**res.summary, "figures": [str(target / f) for f in files]},
                         allow_nan=False))
    else:
        print(_human(res.summary, res.path))
        print("figures redrawn:        " + ", ".join(str(target / f) for f in files))
    return EXIT_OK


def _show_other(folder: Path, args) -> int:
    """`show` for folders of the other commands (clover, llc, grokking theory, demo)."""
    from .._io.results import ResultsError

    if not folder.is_dir():
        raise ResultsError(f"results folder {str(folder)!r} does not exist")
    if (folder / "report.md").is_file():  # a demo folder
        record = {"report": [str(folder / "report.md"), str(folder / "report.html")],
                  "steps": sorted(p.parent.name for p in folder.glob("*/section.json"))}
    else:
        records = []
        for path in sorted(folder.glob("*.json")):
            if path.name == "config.json":
                continue
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
                raise ResultsError(f"{str(path)!r} is corrupt: {err}") from err
            if isinstance(data, dict) and "versions" in data and "files" in data:
                records.append(data)
        if not records:
            raise ResultsError(
                f"{str(folder)!r} is not a complete results folder: it has neither summary.json "
                "(meanfield solve) nor an experiment record (clover.json, llc.json, theory.json) "
                "nor report.md (meanfield demo); the run was interrupted before it finished "
                "writing, or this is not a results folder")
        record = records[0]
        missing = [f for f in record["files"] if not (folder / f).is_file()]
        if missing:
            raise ResultsError(f"{str(folder)!r} is incomplete: {', '.join(missing)} missing")
        if args.to:
            print("meanfield show: --to redraws `meanfield solve` folders only; the figures "
                  "of this folder are listed as saved", file=sys.stderr)
    if args.json:
        print(json.dumps(record, allow_nan=False))
    else:
        for key, value in record.items():
            if isinstance(value, (str, int, float, bool)) or value is None:
                print(f"{key}: {value}")
        figs = [str(folder / f) for f in record.get("files", []) if f.endswith(".png")]
        for key in ("report", "steps"):
            if key in record:
                print(f"{key}: {', '.join(record[key])}")
        if figs:
            print("figures: " + ", ".join(figs))
    return EXIT_OK


def main(argv=None) -> int:
    """Entry point of the ``meanfield`` console script; returns the exit code."""
    from .._io.results import ResultsError

    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return args.func(args)
    except SystemExit as exc:  # --help
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_USAGE
    except _UsageError as err:
        print(str(err), file=sys.stderr)
        return EXIT_USAGE
    except (ConfigError, ResultsError) as err:
        print(f"meanfield: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        out = getattr(locals().get("args"), "out", None)
        msg = "meanfield: interrupted"
        if out:
            msg += f"; state saved in {Path(out) / CHECKPOINT}: rerun the same command to resume"
        print(msg, file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
