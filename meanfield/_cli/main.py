"""The ``meanfield`` command line: one module per command, registered here.

Every command module (solve, show, demo, compare, clover, grokking, llc) has `add_parser(sub)`,
which adds its parser to the subparsers object and sets `func` to its `run(args) -> exit code`.

Exit codes (`common`): 0 success, 1 the computation failed (the results folder is still written,
with the failed status), 2 bad config or usage, 130 interrupted (state checkpointed; rerun the
same command to resume).

Bad input never ends in a traceback: a bad option or config, a results folder that cannot be
written (a file in the way, no permission, a read-only or full disk: `OutputError`, or an
`OSError` met while writing), a run that would not fit in memory or time (`ResourceError`, raised
before anything large is allocated) and the library's own argument errors exit with code 2 and
one line naming the option, the value and what would work; a computation that ran and failed
(`ComputationError`, `SolveError`) exits with code 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .._io.config import ConfigError
from .._io.results import OutputError, ResultsError, os_error_message
from .._misc import ComputationError, ResourceError
from .._solver.solution import SolveError
from . import clover, compare, demo, grokking, llc, show, solve
from .common import (  # noqa: F401  (the exit codes are part of this module's interface)
    CHECKPOINT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, FORMATTER, Parser,
    UsageError,
)

#: the commands, in the order `meanfield --help` lists them
COMMANDS = (solve, show, demo, compare, clover, grokking, llc)


def _parser() -> Parser:
    p = Parser(prog="meanfield", formatter_class=FORMATTER,
               description="Solve the mean-field theory of wide two-layer networks.",
               epilog="Every run is checked before it starts: its results folder must be "
                      "writable, and its estimated memory and time must fit the budget (80% "
                      "of the memory available now, 24 h; set MEANFIELD_MEMORY_LIMIT, e.g. "
                      "64G, and MEANFIELD_TIME_LIMIT, in seconds, to change them). Exit codes: "
                      "0 success, 1 the computation failed, 2 bad input, 130 interrupted.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv=None) -> int:
    """Entry point of the ``meanfield`` console script; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return args.func(args)
    except SystemExit as exc:  # --help
        return int(exc.code or 0) if isinstance(exc.code, int) else EXIT_USAGE
    except UsageError as err:
        print(str(err), file=sys.stderr)
        return EXIT_USAGE
    except (ConfigError, ResultsError, OutputError, ResourceError) as err:
        print(f"{_prog(argv)}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (ComputationError, SolveError) as err:
        print(f"{_prog(argv)}: failed: {err}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as err:  # met while writing results (the folder was checked before)
        option = "--to" if argv and "--to" in argv else "--out"
        print(f"{_prog(argv)}: error: {os_error_message(err, option)}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError as err:
        print(f"{_prog(argv)}: error: out of memory ({err or 'MemoryError'}); use smaller "
              "sizes, or set MEANFIELD_MEMORY_LIMIT to what this machine can hold so that "
              "oversized runs are refused up front", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as err:
        if not _out_of_memory(err):
            raise
        print(f"{_prog(argv)}: error: the accelerator or host ran out of memory "
              f"({str(err).splitlines()[0][:200]}); use smaller sizes", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        out = getattr(locals().get("args"), "out", None)
        msg = "meanfield: interrupted"
        if out:
            msg += f"; state saved in {Path(out) / CHECKPOINT}: rerun the same command to resume"
        print(msg, file=sys.stderr)
        return EXIT_INTERRUPTED


def _prog(argv) -> str:
    """'meanfield CMD' (or 'meanfield grokking SUB') for error messages."""
    words = [a for a in (sys.argv[1:] if argv is None else list(argv))[:2]
             if not a.startswith("-")]
    if words and words[0] != "grokking":
        words = words[:1]
    return " ".join(["meanfield", *words])


def _out_of_memory(err: BaseException) -> bool:
    """An XLA allocation failure (jax raises it as a RuntimeError subclass)."""
    text = str(err)
    return "RESOURCE_EXHAUSTED" in text or "Out of memory" in text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
