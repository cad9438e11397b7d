"""A small progress reporter: one refreshed line on a terminal, periodic lines otherwise."""

from __future__ import annotations

import sys
import time


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
