"""Small shared pieces, one home each: argument validators, PRNG keys, atomic file writes, JSON
conversion, a progress reporter and the resource budget (memory and time a run may take, checked
before anything large is allocated). Nothing here knows about networks or particles.

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

__all__ = ["check_integer", "MAX_COUNT", "check_positive", "check_real", "check_fraction", "check_seed",
           "as_key", "MAX_SEED", "atomic_write", "write_text", "jsonable", "Progress",
           "ComputationError", "ResourceError", "memory_limit", "time_limit", "check_budget",
           "format_bytes", "format_seconds"]


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


#: the largest count (of steps, chains, neurons) a size argument takes: beyond it JAX's int32
#: loop counters and XLA's shape arithmetic overflow (and XLA aborts the process)
MAX_COUNT = 2**31 - 1


def check_integer(name: str, value, *, minimum: int = 1, hint: str = "",
                  maximum: int | None = None) -> int:
    """`value` as an ``int`` >= `minimum` (and <= `maximum` when given; bools and non-integral
    numbers are refused)."""
    allowed = f"an integer >= {minimum}" if maximum is None else \
        f"an integer in [{minimum}, {maximum}]"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be {allowed}{hint}, got {value!r} of type "
                         f"{type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {allowed}{hint}, got {value!r}")
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

#: the largest seed a command accepts: 2^62 leaves room for the small offsets some runs add
#: (seed + 1 for a second network, seed + 1000 + k along a sweep) below JAX's 64-bit limit
MAX_SEED = 2**62


def check_seed(name: str, value, *, hint: str = "") -> int:
    """`value` as an ``int`` seed in [0, MAX_SEED] = [0, 2^62]."""
    ok = not isinstance(value, (bool, np.bool_)) and isinstance(value, numbers.Integral) \
        and 0 <= value <= MAX_SEED
    if not ok:
        raise ValueError(f"{name} must be an integer in [0, 2^62]{hint}, got {value!r}")
    return int(value)


def as_key(key):
    """(jax PRNG key, integer seed or None) from an integer seed or a ``jax.random.PRNGKey``.

    An integer seed must fit in 64 bits (JAX's seeds are int64): [-2^63, 2^63 - 1].
    """
    import jax
    import jax.numpy as jnp

    if isinstance(key, (bool, np.bool_)):
        raise ValueError(f"key must be an integer seed or a jax.random.PRNGKey, got {key!r}")
    if isinstance(key, numbers.Integral):
        if not -(2**63) <= key < 2**63:
            raise ValueError(f"an integer seed must fit in 64 bits, [-2^63, 2^63 - 1], got {key!r}")
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


# --------------------------------------------------------------------------------------------
# failures and the resource budget


class ComputationError(RuntimeError):
    """A computation ran and failed (a solve that did not converge, chains that did not move, a
    theory without a root); the message says what failed and what to try. The command line
    exits with code 1 on it (code 2 is for bad input)."""


class ResourceError(ValueError):
    """A run would need more memory or time than the budget; the message gives the estimate, the
    budget and what would fit. Raised before anything large is allocated."""


_GiB = 1024**3


def format_bytes(n: float) -> str:
    """A byte count for people: 512 B, 3.2 MiB, 41 GiB, 7.3e+03 TiB."""
    n = float(n)
    for unit, size in (("TiB", 1024**4), ("GiB", _GiB), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            v = n / size
            return f"{v:.3g} {unit}" if v < 1e4 else f"{v:.2g} {unit}"
    return f"{n:.0f} B"


def format_seconds(s: float) -> str:
    """A duration for people: 40 s, 12 min, 5.3 h, 41 days, 2.1e+06 years."""
    s = float(s)
    if not math.isfinite(s):
        return "forever"
    for unit, size in (("years", 365.25 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if s >= 2 * size or (unit == "h" and s >= size):
            v = s / size
            return f"{v:.2g} {unit}" if v < 1e4 else f"{v:.1e} {unit}"
    return f"{s:.0f} s"


def _parse_size(text: str) -> float:
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1024, "M": 1024**2, "G": _GiB, "T": 1024**4}.get(text[-1:], 1)
    return float(text[:-1] if scale != 1 else text) * scale


def _env_number(name: str, parse) -> float | None:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        value = parse(raw)
    except (ValueError, IndexError):
        raise ValueError(f"the environment variable {name}={raw!r} is not a number; unset it or "
                         f"give e.g. {name}={'64G' if 'MEMORY' in name else '86400'}") from None
    if not value > 0:
        raise ValueError(f"the environment variable {name}={raw!r} must be positive")
    return value


def _host_available_memory() -> float:
    """Bytes of host memory available now: MemAvailable (Linux), capped by a cgroup limit."""
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = float(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            avail = float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            avail = 8.0 * _GiB  # unknown: a laptop's worth
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            limit = Path(limit_file).read_text().strip()
            usage = float(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and float(limit) < 2**60:
            avail = min(avail, float(limit) - usage)
        break
    return max(avail, 0.0)


def _accelerator_memory() -> float | None:
    """Free bytes on the default JAX device when it is an accelerator that reports them."""
    try:
        import jax

        if jax.default_backend() == "cpu":
            return None
        stats = jax.devices()[0].memory_stats() or {}
        if "bytes_limit" in stats:
            return float(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    except Exception:  # a backend without memory statistics: fall back to host memory
        return None
    return None


def memory_limit() -> float:
    """The memory budget of one run, in bytes: ``MEANFIELD_MEMORY_LIMIT`` (e.g. ``64G``) if set,
    else 80% of what is available now (on an accelerator, of its free memory)."""
    env = _env_number("MEANFIELD_MEMORY_LIMIT", _parse_size)
    if env is not None:
        return env
    dev = _accelerator_memory()
    return 0.8 * (dev if dev is not None else _host_available_memory())


#: default time budget of one run, in seconds (overridden by MEANFIELD_TIME_LIMIT)
DEFAULT_TIME_LIMIT = 24 * 3600.0


def time_limit() -> float:
    """The time budget of one run, in seconds: ``MEANFIELD_TIME_LIMIT`` if set, else 24 h."""
    env = _env_number("MEANFIELD_TIME_LIMIT", float)
    return DEFAULT_TIME_LIMIT if env is None else env


def operations_per_second() -> float:
    """A deliberately optimistic rate of the cost unit the estimates count (one multiply-add of
    a particle with one data point, including its share of the gradient), so that time estimates
    are lower bounds: measured about 2e8/s on one busy CPU core; taken as 1e9/s per 2 cores on
    a CPU and 1e11/s on an accelerator."""
    try:
        import jax

        if jax.default_backend() != "cpu":
            return 1e11
    except Exception:
        pass
    return 5e8 * max(1, min(os.cpu_count() or 1, 64))


def check_budget(what: str, *, nbytes: float = 0.0, operations: float = 0.0,
                 fits: str = "") -> float:
    """Refuse a run that would not fit: raise `ResourceError` when `nbytes` (the largest arrays
    it holds at once) exceeds `memory_limit()` or `operations` (in the unit of
    `operations_per_second`) would take longer than `time_limit()`. The message names `what`,
    gives both estimates and the budget, and `fits` (what would fit, e.g. "n_particles <=
    2.6e+06"). Returns the estimated seconds, for the caller to announce long runs."""
    seconds = float(operations) / operations_per_second()
    mem = memory_limit()
    if nbytes > mem:
        raise ResourceError(
            f"{what} would need about {format_bytes(nbytes)} of memory, more than the "
            f"{format_bytes(mem)} available to it{'; ' + fits if fits else ''} (the budget is "
            "80% of the memory available now; set MEANFIELD_MEMORY_LIMIT, e.g. 64G, to change "
            "it)")
    limit = time_limit()
    if seconds > limit:
        raise ResourceError(
            f"{what} would take at least {format_seconds(seconds)} (a lower bound), more than "
            f"the {format_seconds(limit)} a run may take{'; ' + fits if fits else ''} (set "
            "MEANFIELD_TIME_LIMIT, in seconds, to allow longer runs)")
    return seconds
