r"""Where an order parameter sampled on a grid crosses a level: the one crossing estimator.

A transition read off a sweep is the control value lambda_c where an order parameter y(lambda),
known only on a grid lambda_1 < ... < lambda_n (with standard errors sigma_i, or none), crosses a
level L: a test accuracy through halfway between chance and 1 (grokking's alpha_c), a free-energy
difference Delta F through 0 (`meanfield.crossing`), a droplet fraction through f_low. Walking the
grid in the order of the sweep (`sweep="up"`: increasing lambda, `"down"`: decreasing), the first
bracket [lambda_i, lambda_{i+1}] where y - L changes sign in the requested `direction` gives, by
linear interpolation (in lambda, or in log lambda with `scale="log"`),

    lambda_c = lambda_i + t (lambda_{i+1} - lambda_i),    t = (L - y_i) / (y_{i+1} - y_i).

`direction="rising"`: y goes from below L to L or above; `"falling"`: from above L to L or below;
`"either"`: any change of sign, and a grid point exactly at L is itself the crossing (its bracket
is then the two neighbouring grid points). Non-finite entries (a branch that does not exist
there) are dropped first.

Two error models, both from the same bracket:

* `error="bracket"` (for a steep order parameter such as an accuracy, whose shape inside the
  bracket is unknown): the larger of half the bracket and half the spread of the crossings of
  y + sigma and y - sigma (the shift of the crossing under the errors, when both cross);
* `error="propagated"` (for a smooth one such as Delta F): sigma propagated linearly through the
  interpolation,

      sigma_c = sqrt((1 - t)^2 sigma_i^2 + t^2 sigma_{i+1}^2) / |slope|,

  raised to half the bracket when y at either end lies within 2 sigma of L (the side of that end
  is then uncertain).

The result says why when there is no crossing: `status` is "crossed", "never" (y stays on one side
of L over the whole grid) or "beyond_at_start" (rising/falling only: the first point of the sweep
is already at or past L, so the crossing, if any, lies before the grid).

Example:
    >>> import numpy as np
    >>> alpha = np.array([0.5, 0.6, 0.7, 0.8])
    >>> c = find_crossing(alpha, [0.0, 0.2, 0.8, 1.0], 0.5, direction="rising")
    >>> c.status, round(c.value, 6), c.bracket, round(c.error, 6)
    ('crossed', 0.65, (0.6, 0.7), 0.05)
    >>> find_crossing(alpha, [0.6, 0.7, 0.8, 0.9], 0.5, direction="rising").status
    'beyond_at_start'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._misc import check_real

__all__ = ["Crossing", "find_crossing", "DIRECTIONS", "SWEEPS", "ERROR_MODELS", "SCALES"]

DIRECTIONS = ("rising", "falling", "either")
SWEEPS = ("up", "down")
ERROR_MODELS = ("bracket", "propagated")
SCALES = ("linear", "log")
STATUSES = ("crossed", "never", "beyond_at_start")


@dataclass(frozen=True)
class Crossing:
    """Where an order parameter crosses a level (module docstring).

    Attributes:
        status: "crossed", "never" or "beyond_at_start".
        value: lambda_c (None unless crossed).
        error: its uncertainty under the chosen error model (None unless crossed).
        bracket: the two grid values around lambda_c, in the sweep's order (None unless crossed).
    """

    status: str
    value: float | None = None
    error: float | None = None
    bracket: tuple | None = None

    @property
    def crossed(self) -> bool:
        return self.status == "crossed"


def _choice(name, value, options):
    if value not in options:
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def _first_bracket(y, level, direction):
    """(i, exact) for the first bracket [i, i+1] of the sweep-ordered y, or a status string."""
    s = np.sign(y - level)
    if direction != "either" and s.size and s[0] != (-1.0 if direction == "rising" else 1.0):
        return "beyond_at_start"
    for i in range(s.size - 1):
        if direction == "either":
            if s[i] == 0.0:
                return i, True
            if s[i] != s[i + 1]:
                return i, False
        elif direction == "rising" and s[i] < 0 <= s[i + 1]:
            return i, False
        elif direction == "falling" and s[i] > 0 >= s[i + 1]:
            return i, False
    return "never"


def find_crossing(values, signal, level=0.0, *, errors=None, direction: str = "either",
                  sweep: str = "up", error: str = "bracket", scale: str = "linear") -> Crossing:
    """The first crossing of `level` by `signal` along the sweep (module docstring).

    Args:
        values: the control-parameter grid lambda (any order; sorted here), distinct.
        signal: the order parameter y at those values (NaN where it does not exist).
        level: L.
        errors: standard errors sigma of `signal` (default none).
        direction: "rising", "falling" or "either" (in the order of the sweep).
        sweep: "up" (walk increasing lambda) or "down" (decreasing).
        error: "bracket" or "propagated".
        scale: interpolate in "linear" lambda or in "log" lambda (lambda > 0).

    Returns:
        A `Crossing`.

    Example:
        >>> c = find_crossing([1.0, 2.0, 4.0], [3.0, 1.0, -1.0], scale="log", error="propagated")
        >>> round(c.value, 6), c.error
        (2.828427, 0.0)
    """
    _choice("direction", direction, DIRECTIONS)
    _choice("sweep", sweep, SWEEPS)
    _choice("error", error, ERROR_MODELS)
    _choice("scale", scale, SCALES)
    level = check_real("level", level)
    x = np.asarray(values, dtype=float)
    y = np.asarray(signal, dtype=float)
    e = np.zeros_like(y) if errors is None else np.asarray(errors, dtype=float)
    if not (x.shape == y.shape == e.shape) or x.ndim != 1:
        raise ValueError(f"values, signal and errors must be 1-D of one length, got shapes "
                         f"{x.shape}, {y.shape}, {e.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y, e = x[ok], y[ok], e[ok]
    if np.any(~np.isfinite(e)) or np.any(e < 0):
        raise ValueError(f"errors must be finite and >= 0 where the signal is finite, got "
                         f"{e.tolist()}")
    if scale == "log" and np.any(x <= 0):
        raise ValueError(f"scale='log' needs positive values, got {x.tolist()}")
    order = np.argsort(x, kind="stable")
    x, y, e = x[order], y[order], e[order]
    if np.any(np.diff(x) == 0):
        raise ValueError(f"values must be distinct, got {x.tolist()}")
    if sweep == "down":
        x, y, e = x[::-1], y[::-1], e[::-1]
    found = _first_bracket(y, level, direction)
    if isinstance(found, str):
        return Crossing(found)
    i, exact = found
    u = np.log(x) if scale == "log" else x
    if exact:
        lo, hi = max(i - 1, 0), min(i + 1, x.size - 1)
        value, bracket = float(x[i]), (float(x[lo]), float(x[hi]))
        err = 0.5 * abs(x[hi] - x[lo])
    else:
        t = (level - y[i]) / (y[i + 1] - y[i])
        uc = u[i] + t * (u[i + 1] - u[i])
        value = float(math.exp(uc)) if scale == "log" else float(uc)
        bracket = (float(x[i]), float(x[i + 1]))
        half = 0.5 * abs(x[i + 1] - x[i])
        slope = (y[i + 1] - y[i]) / (u[i + 1] - u[i])
        stat = float(np.hypot((1 - t) * e[i], t * e[i + 1]) / abs(slope))
        if scale == "log":
            stat *= value  # d lambda = lambda d log lambda
        if error == "propagated":
            marginal = abs(y[i] - level) < 2 * e[i] or abs(y[i + 1] - level) < 2 * e[i + 1]
            err = max(stat, half) if marginal else stat
        else:
            err = half
    if error == "bracket" and errors is not None and np.any(e > 0):
        kw = dict(direction=direction, sweep=sweep, error=error, scale=scale)
        shifted = [find_crossing(x, y + sign * e, level, **kw) for sign in (1.0, -1.0)]
        if all(c.crossed for c in shifted):
            err = max(err, 0.5 * abs(shifted[0].value - shifted[1].value))
    return Crossing("crossed", value, float(err), bracket)
