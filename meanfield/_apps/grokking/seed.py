r"""A start on the Fourier-feature branch for finite modular-addition networks.

Langevin chains started from the prior sit on the Gaussian-process-like branch, and at a first
order transition they may never leave it in any affordable time (metastability). To locate the
other branch, chains start from a network seeded with Gromov's Fourier features (Gromov 2023;
the droplets of Rubin, Seroussi & Ringel 2024): a fraction of the neurons are single-frequency
"droplets", whose whitened input weights z = (u, v) in R^{2P} are

    u_n = r cos(2 pi k n / P + phi_u) + s xi_n,     v_m = r cos(2 pi k m / P + phi_v) + s xi'_m,

with frequencies k spread evenly over 1..(P-1)/2 (droplet j gets k = 1 + j mod K, K = (P-1)/2),
independent uniform phases phi_u, phi_v, and a small Gaussian jitter s xi. The other neurons are
prior draws z ~ N(0, I). For odd P and k != 0, |u|^2 = r^2 P / 2 (the jitter aside), which is
the Fourier block norm A_k of the reduced theory (`ModularTheory`, module docstring: A_k, B_k are
the squared norms of block k of u and v, and a droplet has A = B = x). So r = sqrt(2 x / P), and
a droplet has |z|^2 ~ 2 x. The read-out is not seeded: the marginal sampler integrates it out,
and given Fourier input weights its posterior mean is Fourier too.

The droplet size x: pass the reduced theory's `ModularTheory(...).solve(sigma2).droplet_radius`;
the default, x = P^{3/2}, is the theory's leading-order coexistence size x_c = sqrt(P^3/gamma)
at stabiliser gamma = 1 in whitened units (`ModularTheory.asymptotic()["droplet_radius"]`).

Example:
    >>> import meanfield as mf
    >>> z = mf.fourier_seeded_weights(11, 40, 2, 0.25, key=0, radius=35.0, jitter=0.0)
    >>> z.shape
    (2, 40, 22)
    >>> mf.single_frequency_fraction(z[0, :10], 11)
    1.0
"""

from __future__ import annotations

import math

import jax
import numpy as np

from ..._misc import check_integer

__all__ = ["fourier_seeded_weights"]


def fourier_seeded_weights(P: int, width: int, n_chains: int, fraction: float, key=0, *,
                           radius: float | None = None, jitter: float = 0.1) -> np.ndarray:
    """Whitened input weights with a fraction of single-frequency neurons (module docstring).

    Args:
        P: the modulus (odd, >= 3); the inputs have d = 2P coordinates.
        width: N, the number of hidden neurons.
        n_chains: independent networks (each gets its own phases, jitter and prior neurons).
        fraction: share of droplet neurons in (0, 1]; the first round(fraction N) (at least one)
            neurons of each network are droplets, the rest prior draws.
        key: integer seed or JAX PRNG key.
        radius: x, the droplet's Fourier block norm A = B = x (so |z|^2 ~ 2x); default P^{3/2}.
        jitter: standard deviation s of the Gaussian noise added to the droplets (>= 0).

    Returns:
        numpy array z of shape (n_chains, width, 2P), float64, ready for
        `sample_posterior(..., init={"z": z})`.
    """
    if isinstance(P, bool) or not isinstance(P, (int, np.integer)) or P < 3 or P % 2 == 0:
        raise ValueError(f"P must be an odd integer >= 3 (the modulus), got {P!r}")
    for name, v in (("width", width), ("n_chains", n_chains)):
        check_integer(name, v)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)) \
            or not (0.0 < float(fraction) <= 1.0):
        raise ValueError(f"fraction must lie in (0, 1] (the share of droplet neurons), got "
                         f"{fraction!r}")
    x = float(P) ** 1.5 if radius is None else radius
    if isinstance(x, bool) or not isinstance(x, (int, float, np.floating)) \
            or not (0.0 < float(x) < math.inf):
        raise ValueError(f"radius must be a finite positive number (the droplet block norm x; "
                         f"e.g. ModularTheory(...).solve(sigma2).droplet_radius), got {radius!r}")
    if isinstance(jitter, bool) or not isinstance(jitter, (int, float, np.floating)) \
            or not (0.0 <= float(jitter) < math.inf):
        raise ValueError(f"jitter must be a finite number >= 0, got {jitter!r}")
    key = jax.random.PRNGKey(int(key)) if isinstance(key, (int, np.integer)) else key
    seed = np.asarray(jax.random.randint(key, (4,), 0, 2**31 - 1))
    rng = np.random.default_rng([int(s) for s in seed])
    n_drop = min(width, max(1, int(round(fraction * width))))
    n_modes = (P - 1) // 2
    r = math.sqrt(2.0 * float(x) / P)
    z = rng.standard_normal((n_chains, width, 2 * P))
    k = 1 + np.arange(n_drop) % n_modes  # (n_drop,)
    grid = np.arange(P)
    phases = rng.uniform(0.0, 2.0 * np.pi, size=(n_chains, n_drop, 2))
    angle = 2.0 * np.pi * k[None, :, None] * grid[None, None, :] / P  # (1, n_drop, P)
    u = r * np.cos(angle + phases[..., 0:1])
    v = r * np.cos(angle + phases[..., 1:2])
    noise = float(jitter) * rng.standard_normal((n_chains, n_drop, 2 * P))
    z[:, :n_drop] = np.concatenate([u, v], axis=-1) + noise
    return z
