"""Checkpoints of `solve`: the iteration state as one `.npz`, written atomically.

`save_checkpoint` writes to a temporary file in the same folder and renames it over the old
one, so a kill at any moment leaves either the previous checkpoint or the new one. `load_checkpoint`
returns None when there is none, and refuses (ValueError naming the file and what to do) a file
that cannot be read or that belongs to another run (its fingerprint differs).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["save_checkpoint", "load_checkpoint"]


def save_checkpoint(path: Path, payload: dict) -> None:
    """Write `payload` ({name: array}) to `path` as `.npz`, atomically (temporary file, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **payload)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_checkpoint(path: Path, expected: str, required=(), finite=()) -> dict | None:
    """The checkpoint at `path` as {name: array}, or None when there is none.

    Raises ValueError, naming the file, when it cannot be read, belongs to another run
    (fingerprint differs from `expected`), lacks one of the `required` fields, or holds a
    non-finite value in one of the `finite` fields."""
    if not path.exists():
        return None
    if not path.is_file():
        raise ValueError(f"checkpoint {path} is not a file; pass the path of a file")
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except Exception as err:  # a truncated or foreign file
        raise ValueError(
            f"checkpoint {path} cannot be read ({err}); delete it to start afresh"
        ) from err
    found = str(data.get("fingerprint"))
    if found != expected:
        raise ValueError(
            f"checkpoint {path} belongs to a different problem, solver or seed "
            f"(fingerprint {found}, this run {expected}); use another path or delete it"
        )
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"checkpoint {path} lacks the field(s) {', '.join(missing)}: it is "
                         "damaged or was not written by this version; delete it to start afresh")
    for k in finite:
        if k in data and not np.all(np.isfinite(np.asarray(data[k], dtype=np.float64))):
            raise ValueError(f"checkpoint {path} holds non-finite values in {k!r}: it is "
                             "damaged; delete it to start afresh")
    return data
