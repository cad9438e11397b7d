r"""Where grokking happens: the one rule for the transition alpha_c of a curve of test accuracy.

Both sides of the headline comparison (the mean field's `grokking_sweep` and the finite-width
Langevin ensembles of `experiments/grokking_langevin.py`) read alpha_c off a curve acc(alpha) of
test accuracy on the held-out pairs by the same rule: the first rising crossing, in increasing
alpha, of the midpoint between chance and perfect accuracy,

    acc(alpha_c) = (1/P + 1) / 2,

by linear interpolation between grid points (`find_crossing(..., direction="rising")`), with the
error of the "bracket" model: half the bracketing alpha interval, or half the shift of the
crossing under acc +- stderr when that is larger. Only alphas < 1 count (at alpha = 1 nothing is
held out). Neurons count as specialised ("droplets") by `specialised_mask` (folded Fourier power
at the dominant frequency >= `SPECIALISED_THRESHOLD` in both input halves) on both sides too.

Example (a curve that rises through 0.545 = (1/11 + 1)/2 between alpha = 0.6 and 0.7):
    >>> c = accuracy_transition([0.4, 0.5, 0.6, 0.7, 0.8], [0.1, 0.1, 0.3, 0.8, 1.0], P=11)
    >>> c.status, round(c.value, 4), round(c.error, 4)
    ('crossed', 0.6491, 0.05)
"""

from __future__ import annotations

import numpy as np

from ..._misc import check_integer
from ..._observables.fourier import specialised_mask
from ..._solver.crossing import Crossing, find_crossing

__all__ = ["accuracy_midpoint", "accuracy_transition", "sweep_transition", "specialised_fraction",
           "chains_mixed", "mixed_transition", "SPECIALISED_THRESHOLD", "RHAT_TARGET"]

#: Fourier power at the dominant frequency that marks a specialised neuron (`specialised_mask`).
SPECIALISED_THRESHOLD = 8.0

#: Split R-hat below which a finite-width Langevin point counts as mixed (`chains_mixed`).
RHAT_TARGET = 1.05


def accuracy_midpoint(P: int) -> float:
    """(1/P + 1) / 2, halfway between chance and perfect test accuracy."""
    P = check_integer("P", P, minimum=2, hint=" (the modulus)")
    return 0.5 * (1.0 + 1.0 / P)


def accuracy_transition(alphas, accuracy, P: int, *, stderr=None) -> Crossing:
    """The transition alpha_c of one accuracy curve (module docstring); alphas >= 1 are dropped.

    Args:
        alphas: training fractions (any order).
        accuracy: test accuracy at those alphas (NaN where missing).
        P: the modulus.
        stderr: standard errors of the accuracies (e.g. over chains), or None.

    Returns:
        A `Crossing`: status "crossed" with value and error, "never" (the accuracy stays below
        the midpoint over the grid), or "beyond_at_start" (already above it at the smallest
        alpha).
    """
    a = np.asarray(alphas, dtype=float)
    acc = np.asarray(accuracy, dtype=float)
    if a.shape != acc.shape or a.ndim != 1:
        raise ValueError(f"alphas and accuracy must be 1-D of one length, got shapes {a.shape} "
                         f"and {acc.shape}")
    err = None if stderr is None else np.asarray(stderr, dtype=float)
    held = a < 1.0
    if err is not None:
        err = np.where(np.isfinite(err), err, 0.0)[held]
    return find_crossing(a[held], acc[held], accuracy_midpoint(P), errors=err,
                         direction="rising", sweep="up", error="bracket")


def chains_mixed(rhat, target: float = RHAT_TARGET) -> bool:
    """Whether an ensemble of chains has mixed: every recorded split R-hat finite and < target.

    The finite-width side of an alpha_c table uses only points that pass (the others count as
    missing in `accuracy_transition`): a point whose chains disagree measures the starts, not
    the posterior.

    Args:
        rhat: a dict of split R-hat values (e.g. `PosteriorSamples.rhat`: potential and train
            loss) or one number.
        target: the threshold (default `RHAT_TARGET` = 1.05).

    Example:
        >>> chains_mixed({"potential": 1.02, "train_loss": 1.04}), chains_mixed({"potential": 1.2})
        (True, False)
    """
    values = list(rhat.values()) if isinstance(rhat, dict) else [rhat]
    v = np.asarray(values, dtype=float)
    return bool(v.size > 0 and np.all(np.isfinite(v)) and np.all(v < target))


def mixed_transition(points, P: int, *, key: str = "test_accuracy_chains_mean",
                     stderr_key: str | None = "test_accuracy_chains_stderr",
                     rhat_target: float = RHAT_TARGET):
    """`accuracy_transition` of one finite-width curve from its mixed points only.

    Args:
        points: records with "alpha", "rhat" (a dict of split R-hat) and the accuracy `key`
            (and its standard error `stderr_key`, or None for none), in any order.
        P: the modulus.
        key, stderr_key: which accuracy (and error) to read.
        rhat_target: `chains_mixed`'s threshold.

    Returns:
        (Crossing from the mixed points, the others counting as missing; Crossing from all
        points; the alphas left out, increasing).

    Example (the unmixed upper bracket moves the crossing to the next mixed point):
        >>> pts = [{"alpha": a, "rhat": {"potential": r}, "acc": v}
        ...        for a, v, r in [(0.6, 0.2, 1.0), (0.7, 0.8, 1.3), (0.8, 1.0, 1.0)]]
        >>> c, c_all, left = mixed_transition(pts, 3, key="acc", stderr_key=None)
        >>> round(c.value, 4), round(c_all.value, 4), left
        (0.7167, 0.6778, [0.7])
    """
    pts = sorted(points, key=lambda q: q["alpha"])
    mixed = [chains_mixed(q["rhat"], rhat_target) for q in pts]
    a = [q["alpha"] for q in pts]
    acc = [q[key] for q in pts]
    se = None if stderr_key is None else [q[stderr_key] or 0.0 for q in pts]
    c = accuracy_transition(a, [v if m else float("nan") for v, m in zip(acc, mixed)], P,
                            stderr=se)
    return c, accuracy_transition(a, acc, P, stderr=se), [x for x, m in zip(a, mixed) if not m]


def specialised_fraction(w, P: int, weights=None, threshold: float = SPECIALISED_THRESHOLD) -> float:
    """The (weighted) fraction of neurons, rows of w (M, 2P), that `specialised_mask` marks."""
    mask = specialised_mask(np.asarray(w, dtype=float), P, threshold)
    if weights is None:
        return float(np.mean(mask))
    wts = np.asarray(weights, dtype=float)
    return float(np.sum(wts * mask) / np.sum(wts))


def sweep_transition(alphas, accuracy_up, accuracy_down, P: int):
    """alpha_c of a continuation sweep up and back down (`grokking_sweep`).

    Each branch's crossing is `accuracy_transition`; alpha_c is the mean of the branches that
    cross, with error max(their errors, half their spread) (the spread is hysteresis).

    Returns:
        (alpha_c, error, {"up": Crossing, "down": Crossing}); alpha_c and error are None when
        neither branch crosses.

    Example:
        >>> a = [0.5, 0.6, 0.7, 0.8, 0.9]
        >>> ac, err, per = sweep_transition(a, [0.1, 0.1, 0.2, 0.9, 1.0], [0.1, 0.2, 0.9, 1.0, 1.0], 11)
        >>> round(ac, 4), round(err, 4), per["down"].bracket
        (0.6994, 0.05, (0.6, 0.7))
    """
    per = {"up": accuracy_transition(alphas, accuracy_up, P),
           "down": accuracy_transition(alphas, accuracy_down, P)}
    found = [c for c in per.values() if c.crossed]
    if not found:
        return None, None, per
    value = float(np.mean([c.value for c in found]))
    spread = 0.5 * abs(found[0].value - found[-1].value)
    return value, float(max(max(c.error for c in found), spread)), per
