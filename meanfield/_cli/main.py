"""The ``meanfield`` command line: one module per command, registered here.

Every command module (solve, show, demo, compare, clover, grokking, llc) has `add_parser(sub)`,
which adds its parser to the subparsers object and sets `func` to its `run(args) -> exit code`.

Exit codes (`common`): 0 success, 1 the computation failed (the results folder is still written,
with the failed status), 2 bad config or usage, 130 interrupted (state checkpointed; rerun the
same command to resume).
"""

from __future__ import annotations

import sys
from pathlib import Path

from .._io.config import ConfigError
from .._io.results import ResultsError
from . import clover, compare, demo, grokking, llc, show, solve
from .common import (  # noqa: F401  (the exit codes are part of this module's interface)
    CHECKPOINT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, FORMATTER, Parser,
    UsageError,
)

#: the commands, in the order `meanfield --help` lists them
COMMANDS = (solve, show, demo, compare, clover, grokking, llc)


def _parser() -> Parser:
    p = Parser(prog="meanfield", formatter_class=FORMATTER,
               description="Solve the mean-field theory of wide two-layer networks.")
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
