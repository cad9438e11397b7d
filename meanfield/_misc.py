"""Small shared pieces, one home each: argument validators, PRNG keys, atomic file writes, JSON
conversion and a progress reporter. Nothing here knows about networks or particles.

Validators return the value converted (``int`` or ``float``) and raise ``ValueError`` naming the
argument, the value received and what would work:

    >>> check_integer("n_steps", 50)
    50
    >>> check_positive("noise", 0.01)
    0.01
    >>> check_positive("noise", -1.0)
    Traceback (most recent call last):
    ...
    ValueError: noise must be a finite positive number, got -1.0
    >>> check_integer("n_steps", 2.5, minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: n_steps must be an integer >= 1, got 2.5 of type float
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["check_integer", "check_positive", "check_real", "check_fraction", "as_key",
           "atomic_write", "write_text", "jsonable", "Progress"]


# --------------------------------------------------------------------------------------------
# validators


def _is_real(value) -> bool:
    """A real number: a Python/numpy scalar or a 0-d array of a real dtype (not a bool)."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, numbers.Real):
        return True
    dtype = getattr(value, "dtype", None)
    return getattr(value, "ndim", None) == 0 and dtype is not None and np.dtype(dtype).kind in "iuf"


def check_integer(name: str, value, *, minimum: int = 1, hint: str = "") -> int:
    """`value` as an ``int`` >= `minimum` (bools and non-integral numbers are refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}{hint}, got {value!r} of type "
                         f"{type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}{hint}, got {value!r}")
    return int(value)


def check_positive(name: str, value, *, allow_zero: bool = False, hint: str = "") -> float:
    """`value` as a finite ``float`` > 0 (>= 0 with `allow_zero`)."""
    ok = _is_real(value) and math.isfinite(float(value)) and (
        float(value) >= 0 if allow_zero else float(value) > 0)
    if not ok:
        what = "a finite number >= 0" if allow_zero else "a finite positive number"
        raise ValueError(f"{name} must be {what}{hint}, got {value!r}")
    return float(value)


def check_real(name: str, value, *, hint: str = "") -> float:
    """`value` as a finite ``float`` of any sign."""
    if not _is_real(value) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite real number{hint}, got {value!r}")
    return float(value)


def check_fraction(name: str, value, *, closed: bool = False, hint: str = "") -> float:
    """`value` as a ``float`` in the open interval (0, 1) ([0, 1] with `closed`)."""
    ok = _is_real(value) and ((0.0 <= float(value) <= 1.0) if closed else (0.0 < float(value) < 1.0))
    if not ok:
        what = "[0, 1]" if closed else "(0, 1)"
        raise ValueError(f"{name} must lie in {what}{hint}, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------------
# PRNG keys


def as_key(key):
    """(jax PRNG key, integer seed or None) from an integer seed or a ``jax.random.PRNGKey``."""
    import jax
    import jax.numpy as jnp

    if isinstance(key, (bool, np.bool_)):
        raise ValueError(f"key must be an integer seed or a jax.random.PRNGKey, got {key!r}")
    if isinstance(key, numbers.Integral):
        return jax.random.PRNGKey(int(key)), int(key)
    key = jnp.asarray(key)
    if key.shape != (2,) or key.dtype != jnp.uint32:
        raise ValueError("key must be an integer seed or a jax.random.PRNGKey, got an array of "
                         f"shape {key.shape} and dtype {key.dtype}")
    return key, None


# --------------------------------------------------------------------------------------------
# files and JSON

_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(path, write) -> None:
    """Call ``write(fh)`` on a temporary sibling of `path`, then ``os.replace`` it into place, so
    that `path` is never half-written (an interrupted write leaves the old file or none)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; use the usual mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def jsonable(obj):
    """Recursively convert to JSON-safe values (numpy scalars to Python, NaN/inf to None).

    >>> jsonable({"a": np.float64(1.5), "b": [np.int64(2), float("nan")]})
    {'a': 1.5, 'b': [2, None]}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


# --------------------------------------------------------------------------------------------
# progress


class Progress:
    """Report `update(i, message)` calls on stderr.

    On a terminal the line is refreshed in place; otherwise a line is written at most every
    `interval` seconds (and at the end), so logs of long runs stay readable.
    """

    def __init__(self, total: int, description: str, enabled: bool = True, interval: float = 2.0,
                 stream=None):
        self.total = total
        self.description = description
        self.enabled = enabled
        self.interval = interval
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self._last = -float("inf")
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def update(self, i: int, message: str = "", force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        elapsed = now - self.start
        line = f"{self.description}: {i}/{self.total} [{elapsed:6.1f}s] {message}"
        if self._tty:
            self.stream.write("\r" + line[:160].ljust(160))
            self.stream.flush()
        elif force or now - self._last >= self.interval:
            self.stream.write(line + "\n")
            self.stream.flush()
            self._last = now

    def close(self, message: str = "") -> None:
        if not self.enabled:
            return
        if self._tty:
            self.stream.write("\n")
        if message:
            self.stream.write(f"{self.description}: {message}\n")
        self.stream.flush()
