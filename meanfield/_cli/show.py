"""`meanfield show`: reopen any results folder (redraws the figures of a solve folder)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .._io.config import ConfigError
from .._io.results import (
    OutputError, ResultsError, check_output_folder, load_results, write_figures,
)
from .common import EXIT_OK, FORMATTER
from .solve import human


def add_parser(sub) -> None:
    """Register `meanfield show` on the CLI's subparsers object."""
    sh = sub.add_parser(
        "show", formatter_class=FORMATTER, help="reopen any results folder (redraws the figures of a solve folder)",
        description="Reopen a results folder and print its summary. For a `meanfield solve` "
                    "folder the figures are redrawn from its arrays; for the folders of the other "
                    "commands (clover, llc, grokking theory: their JSON record) and of `meanfield "
                    "demo` (its report) the saved figures and report are listed.")
    sh.add_argument("dir", metavar="DIR", help="a results folder written by any meanfield command")
    sh.add_argument("--to", default=None, metavar="OTHER",
                    help="folder to draw the figures into (default: DIR itself)")
    sh.add_argument("--json", action="store_true",
                    help="print the summary as one JSON object instead of text")
    sh.set_defaults(func=run)


def run(args) -> int:
    folder = Path(args.dir)
    if folder.exists() and not folder.is_dir():
        raise ResultsError(f"DIR: {str(folder)!r} is a file, not a results folder")
    if not (folder / "summary.json").is_file():
        return _show_other(folder, args)
    res = load_results(folder)
    if args.to:
        target = check_output_folder(args.to, "--to")
    else:
        try:
            target = check_output_folder(res.path, "DIR")
        except OutputError as err:
            raise OutputError(f"{err} (the figures are redrawn into DIR itself; give --to OTHER "
                              "to draw them into another folder)") from None
    try:
        solution = res.solution()
    except ConfigError as err:
        raise ResultsError(f"{str(folder / 'config.toml')!r} is not a valid config: {err}") \
            from None
    except (ValueError, TypeError, KeyError, IndexError) as err:
        raise ResultsError(f"{str(folder)!r} is corrupt: its arrays do not fit its config "
                           f"({type(err).__name__}: {err})") from None
    prior = res.arrays.get("prior_w")
    try:
        files = write_figures(solution, target, prior)
    except (ValueError, TypeError, KeyError, IndexError) as err:
        raise ResultsError(f"{str(folder)!r} is corrupt: its figures cannot be drawn from its "
                           f"arrays ({type(err).__name__}: {err})") from None
    if args.json:
        print(json.dumps({**res.summary, "figures": [str(target / f) for f in files]},
                         allow_nan=False))
    else:
        print(human(res.summary, res.path))
        print("figures redrawn:        " + ", ".join(str(target / f) for f in files))
    return EXIT_OK


def _show_other(folder: Path, args) -> int:
    """`show` for folders of the other commands (clover, llc, grokking theory, demo)."""
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
            if (isinstance(data, dict) and "versions" in data
                    and isinstance(data.get("files"), list)
                    and all(isinstance(f, str) for f in data["files"])):
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
