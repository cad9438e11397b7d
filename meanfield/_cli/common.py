"""What every command of the ``meanfield`` command line shares: exit codes, the argument
parser class (usage errors exit with code 2 and one line, no traceback) and small formatters.

Exit codes: 0 success (a solve converged), 1 the computation failed (its results folder is still
written, with the failed status), 2 bad config or usage, 130 interrupted (state checkpointed where
the command supports it; rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import math
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
CHECKPOINT = "checkpoint.npz"
FORMATTER = argparse.ArgumentDefaultsHelpFormatter


class UsageError(Exception):
    """A usage error with its one-line message (the CLI prints it and exits with code 2)."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # exit code 2 with a one-line message, no traceback
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: error: {message}")


def raw_config(config, seed=None):
    """(raw config dict, base folder of its relative paths) from a CONFIG.toml path, validated
    against the file, or from the built-in DEFAULT_CONFIG when `config` is None (base: the
    working folder); a `seed` that is not None overrides the config's."""
    from pathlib import Path

    from .._io.config import DEFAULT_CONFIG, load_config, loads

    if config is None:
        raw, base = loads(DEFAULT_CONFIG, source="DEFAULT_CONFIG"), Path.cwd()
    else:
        path = Path(config)
        load_config(path)  # validates (and reports errors against the file)
        raw, base = loads(path.read_text(encoding="utf-8"), source=str(path)), \
            path.resolve().parent
    if seed is not None:
        raw["seed"] = seed
    return raw, base


def finite_or_none(x):
    """`x` as a float, or None when it is None or not finite (JSON has no NaN)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def format_number(v, spec=".3e"):
    """`v` formatted with `spec` if it is a float, 'n/a' if None, else str(v)."""
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)
