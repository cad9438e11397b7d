r"""Fourier observables of modular-addition neurons (Gromov 2023; Rubin, Seroussi & Ringel 2024).

A neuron of a modular-addition network has input weights w = (u, v) in R^{2P} (u acts on the
one-hot of n, v on the one-hot of m) and, in a finite network, read-out weights a in R^P. With the
DFT  u_hat_k = P^{-1/2} sum_n u_n exp(-2 pi i k n / P)  (unitary, so sum_k |u_hat_k|^2 = |u|^2):

* `fourier_power(w, P)`: the per-neuron power spectrum of each half, folded over +-k,
      power[i, h, k] = |hat_k|^2 (k = 0, and k = P/2 for even P) or 2 |hat_k|^2 (0 < k < P/2),
  so that power[i, h].sum() = |half h of w_i|^2 (Parseval).
* `inverse_participation_ratio(w, P)`: IPR = sum_k p_k^2 of the neuron's non-constant spectrum
  p_k = (power_u[k] + power_v[k]) / sum_{k>0}(...): 1 for a single-frequency neuron, and for
  Gaussian (prior) weights with odd P exactly E[IPR] = 3/(2K+1), K = (P-1)/2 (the p_k are
  Dirichlet(2, ..., 2)).
* `single_frequency_fraction(w, P, threshold)`: the fraction of neurons whose dominant non-zero
  frequency carries at least `threshold` of the non-constant power of *each* half.
* `specialised_mask(w, P, threshold)`: the neurons that sit in a Fourier "droplet": at their
  dominant frequency k *both* halves carry folded power >= `threshold` (whitened units, where a
  prior neuron's power per frequency is Exp(mean 2), so threshold 8 leaves a prior neuron
  specialised with probability about K e^{-8}, 0.2% for P = 11). This is the mean-field
  counterpart of `single_frequency_fraction`: a droplet of the reduced theory has A_k = B_k ~ 17
  (P = 11) in one mode but keeps its prior power elsewhere, so it is specialised without being
  single-frequency at threshold 0.9.
* `phase_relation(w, readout, P)`: at each neuron's dominant frequency k, the mismatch
  Delta = arg a_hat_k - arg u_hat_k - arg v_hat_k (wrapped to (-pi, pi]). Gromov's solution,
  u_n = cos(2 pi k n/P + phi_u), v_m = cos(2 pi k m/P + phi_v), a_p = cos(2 pi k p/P + phi_u +
  phi_v), has Delta = 0: the cross term 2 u_n v_m of (u_n + v_m)^2 contains
  cos(2 pi k (n+m)/P + phi_u + phi_v), which the read-out picks up.
* `implied_readout(w, x, discrepancy)`: for a Bayesian mean-field particle cloud, whose read-out
  is integrated out, the posterior mean read-out of a neuron is proportional to
  sum_mu tbar_{mu p} phi(w . x_mu) (physics.md section 2), used in place of a.
* `fourier_summary(...)`: the scalars above in one dict (for sweeps and JSON).

Everything takes plain arrays (numpy or jax) of input weights, so it applies to particle clouds
(`problem.input_weights(solution.particles.theta)`) and to finite networks alike.
"""

from __future__ import annotations

import numpy as np

from .._misc import check_integer, check_positive

__all__ = [
    "fourier_power",
    "inverse_participation_ratio",
    "dominant_frequency",
    "single_frequency_fraction",
    "specialised_mask",
    "phase_relation",
    "implied_readout",
    "fourier_summary",
]


def _halves(w, P):
    P = check_integer("P", P, minimum=2, hint=" (the modulus)")
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2 or w.shape[1] != 2 * P:
        raise ValueError(
            f"w must have shape (M, 2P) = (M, {2 * P}) (input weights of M neurons: the halves "
            f"act on one-hot(n) and one-hot(m)), got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("w contains non-finite values")
    return w[:, :P], w[:, P:]


def _dft(x):
    return np.fft.fft(x, axis=-1) / np.sqrt(x.shape[-1])


def fourier_power(w, P: int) -> np.ndarray:
    """Folded power spectra, shape (M, 2, P//2 + 1); power[i, 0] is u's, power[i, 1] is v's.

    Example:
        >>> import numpy as np
        >>> P = 7; n = np.arange(P)
        >>> w = np.concatenate([np.cos(2 * np.pi * 2 * n / P), np.sin(2 * np.pi * 2 * n / P)])
        >>> np.round(fourier_power(w, P)[0], 6)
        array([[0. , 0. , 3.5, 0. ],
               [0. , 0. , 3.5, 0. ]])
    """
    u, v = _halves(w, P)
    out = []
    for half in (u, v):
        p2 = np.abs(_dft(half)) ** 2
        n_k = P // 2 + 1
        fold = p2[:, :n_k].copy()
        upper = (P - 1) // 2  # frequencies with a distinct partner -k
        fold[:, 1:upper + 1] += p2[:, P - upper:][:, ::-1]
        out.append(fold)
    return np.stack(out, axis=1)


def _nonconstant(power):
    spec = power[:, 0, 1:] + power[:, 1, 1:]
    tot = spec.sum(axis=1)
    return spec, tot


def inverse_participation_ratio(w, P: int) -> np.ndarray:
    """Per-neuron IPR sum_k p_k^2 of the non-constant spectrum of both halves, shape (M,).

    A neuron with no non-constant power gets nan.
    """
    spec, tot = _nonconstant(fourier_power(w, P))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = spec / tot[:, None]
    return np.sum(p**2, axis=1)


def dominant_frequency(w, P: int) -> np.ndarray:
    """Per-neuron dominant non-zero frequency k in 1..P//2 (of both halves' summed power)."""
    spec, _ = _nonconstant(fourier_power(w, P))
    return np.argmax(spec, axis=1) + 1


def single_frequency_fraction(w, P: int, threshold: float = 0.9) -> float:
    """Fraction of neurons with >= `threshold` of each half's non-constant power at one k.

    The dominant frequency is that of the two halves' summed spectrum; both halves must carry at
    least `threshold` of their own non-constant power there.
    """
    if not (0.0 < threshold <= 1.0):
        raise ValueError(f"threshold must lie in (0, 1], got {threshold!r}")
    power = fourier_power(w, P)
    k = dominant_frequency(w, P)
    rows = np.arange(power.shape[0])
    ok = np.ones(power.shape[0], dtype=bool)
    for h in (0, 1):
        nonconst = power[:, h, 1:].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = power[rows, h, k] / nonconst
        ok &= share >= threshold
    return float(np.mean(ok))


def specialised_mask(w, P: int, threshold: float = 8.0) -> np.ndarray:
    """Boolean (M,): both halves' folded power at the neuron's dominant frequency >= threshold.

    Example:
        >>> import numpy as np
        >>> P = 11; n = np.arange(P); r = np.sqrt(2 * 17 / P)
        >>> droplet = np.concatenate([r * np.cos(2 * np.pi * 3 * n / P),
        ...                           r * np.cos(2 * np.pi * 3 * n / P + 1.0)])
        >>> specialised_mask(np.stack([droplet, np.zeros(2 * P) + 0.1]), P).tolist()
        [True, False]
    """
    check_positive("threshold", threshold, hint=" (a Fourier power)")
    power = fourier_power(w, P)
    k = dominant_frequency(w, P)
    rows = np.arange(power.shape[0])
    return np.minimum(power[rows, 0, k], power[rows, 1, k]) >= threshold


def phase_relation(w, readout, P: int) -> tuple[np.ndarray, np.ndarray]:
    """(Delta, weight) per neuron: the phase mismatch at its dominant frequency and its weight.

    Delta = arg a_hat_k - arg u_hat_k - arg v_hat_k wrapped to (-pi, pi]; weight = |u_hat_k|
    |v_hat_k| |a_hat_k| (use it to weight averages; Gromov's solution has Delta = 0).
    `readout` has shape (M, P): a finite network's read-out weights of each neuron, or
    `implied_readout(...)` for a Bayesian particle cloud.
    """
    u, v = _halves(w, P)
    a = np.asarray(readout, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.shape != (u.shape[0], P):
        raise ValueError(f"readout must have shape (M, P) = ({u.shape[0]}, {P}), got {a.shape}")
    k = dominant_frequency(w, P)
    rows = np.arange(u.shape[0])
    uh, vh, ah = _dft(u)[rows, k], _dft(v)[rows, k], _dft(a)[rows, k]
    delta = np.angle(ah) - np.angle(uh) - np.angle(vh)
    delta = np.angle(np.exp(1j * delta))
    return delta, np.abs(uh) * np.abs(vh) * np.abs(ah)


def implied_readout(w, x, discrepancy, activation=None) -> np.ndarray:
    """Posterior-mean read-out direction of each neuron, sum_mu tbar_{mu p} phi(w . x_mu).

    Args:
        w: input weights (M, d); x: training inputs (n, d); discrepancy: tbar (n, C) (e.g.
            `solution.background.discrepancy`); activation: phi (default z^2).

    Returns (M, C). Proportional to E[a_i | w_i] = (sigma_a2/N) sum_mu tbar_mu phi_i(x_mu).
    """
    w = np.asarray(w, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(discrepancy, dtype=np.float64)
    z = w @ x.T
    phi = z * z if activation is None else np.asarray(activation(z))
    return phi @ t


def fourier_summary(w, P: int, readout=None, threshold: float = 0.9) -> dict:
    """Scalars for a cloud or network: IPR (mean, median), single-frequency fraction, the
    histogram of dominant frequencies, and with a read-out the phase coherence
    |sum_i weight_i exp(i Delta_i)| / sum_i weight_i (1 when every neuron obeys Delta = 0) and the
    weighted mean cos(Delta)."""
    ipr = inverse_participation_ratio(w, P)
    k = dominant_frequency(w, P)
    hist = np.bincount(k, minlength=P // 2 + 1)[1:]
    out = {
        "ipr_mean": float(np.nanmean(ipr)),
        "ipr_median": float(np.nanmedian(ipr)),
        "ipr_random": 3.0 / (2 * ((P - 1) // 2) + 1) if P % 2 else None,
        "single_frequency_fraction": single_frequency_fraction(w, P, threshold),
        "dominant_frequency_counts": hist.tolist(),
    }
    if readout is not None:
        delta, weight = phase_relation(w, readout, P)
        tot = weight.sum()
        out["phase_coherence"] = float(np.abs(np.sum(weight * np.exp(1j * delta))) / tot) \
            if tot > 0 else float("nan")
        out["phase_cos_mean"] = float(np.sum(weight * np.cos(delta)) / tot) if tot > 0 \
            else float("nan")
    return out
