r"""Stationarity diagnostics of an ensemble of Markov chains: split R-hat and effective sample size.

Both take `draws` of shape (n_chains, n_draws) (one scalar observable: a loss trace, a parameter,
a prediction at one input) and follow Gelman et al., *Bayesian Data Analysis* (3rd ed., 2013),
section 11.4-11.5, as implemented in Stan (without rank normalisation):

split R-hat. Cut every chain in half (m = 2 n_chains sequences of length n), with W the mean
within-sequence variance and B/n the variance of the sequence means,

    var+ = (n - 1)/n W + B/n,      R-hat = sqrt(var+ / W).

R-hat -> 1 when all sequences sample the same law; R-hat > 1.01 (strict) or 1.05 (lenient) says
the chains have not mixed: run longer or warm up more.

Effective sample size. With the autocorrelation of the pooled sequences
rho_t = 1 - (W - mean_j acov_j(t)) / var+, Geyer's initial monotone positive sequence
P_k = rho_{2k} + rho_{2k+1} (summed while positive, made non-increasing) gives
tau = -1 + 2 sum_k P_k and ESS = m n / tau.

Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal((4, 1000))      # independent draws
    >>> bool(abs(split_rhat(x) - 1) < 0.01), bool(3000 < effective_sample_size(x) < 5000)
    (True, True)
"""

from __future__ import annotations

import numpy as np

__all__ = ["split_rhat", "effective_sample_size"]


def _draws(draws, minimum: int = 4) -> np.ndarray:
    x = np.asarray(draws, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(f"draws must have shape (n_chains, n_draws), got shape {x.shape}")
    if x.shape[1] < minimum:
        raise ValueError(f"draws needs at least {minimum} draws per chain, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("draws contain non-finite values: the chains diverged")
    return x


def _split(x: np.ndarray) -> np.ndarray:
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)


def _variances(x):
    n = x.shape[1]
    w = np.mean(np.var(x, axis=1, ddof=1))
    b_over_n = np.var(np.mean(x, axis=1), ddof=1)
    return w, (n - 1) / n * w + b_over_n


def split_rhat(draws) -> float:
    """Split R-hat of `draws` (n_chains, n_draws); see the module docstring. Needs >= 4 draws."""
    x = _split(_draws(draws))
    w, var_plus = _variances(x)
    if w == 0:
        return 1.0 if var_plus == 0 else float("inf")
    return float(np.sqrt(var_plus / w))


def _autocovariance(x: np.ndarray) -> np.ndarray:
    """Biased autocovariance of every row (FFT), lags 0..n-1."""
    n = x.shape[1]
    xc = x - x.mean(axis=1, keepdims=True)
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(xc, n=size, axis=1)
    return np.fft.irfft(f * np.conj(f), n=size, axis=1)[:, :n] / n


def effective_sample_size(draws) -> float:
    """Effective number of independent draws in `draws` (n_chains, n_draws), Geyer/Stan style."""
    x = _split(_draws(draws))
    m, n = x.shape
    w, var_plus = _variances(x)
    if var_plus == 0:
        return float(m * n)
    acov = _autocovariance(x) * n / (n - 1.0)  # unbiased at lag 0, matching var(ddof=1)
    rho = 1.0 - (w - acov.mean(axis=0)) / var_plus
    rho[0] = 1.0
    tau = -1.0
    prev = np.inf
    for k in range(0, n - 1, 2):
        p = rho[k] + rho[k + 1]
        if p <= 0:
            break
        p = min(p, prev)
        tau += 2.0 * p
        prev = p
    tau = max(tau, 1.0 / np.log10(max(m * n, 10)))  # Stan's cap on antithetic chains
    return float(m * n / tau)
