r"""The clipped ReLU, a bounded piecewise-linear sigmoid that is not odd.

    phi(z) = clip(z, 0, 1) = min(max(z, 0), 1),      phi'(z) = 1{0 < z < 1}.

Like HardTanh it is bounded, monotone and piecewise linear (a "hard sigmoid" rising from 0 to 1),
but it is not odd: its even part (phi(z) + phi(-z))/2 = min(|z|, 1)/2 is a capped |z|. A
bias-free two-layer network with an odd activation (HardTanh, Tanh, Erf) has only odd functions
a phi(w.x) in its span and cannot fit an even target such as x1 x2 or the continuous XOR
tanh(2 x1) tanh(2 x2); with the clipped ReLU a neuron pair (w, a), (-w, a) contributes the even
bump a min(|w.x|, 1), and x1 x2 = ((x1 + x2)^2 - (x1 - x2)^2)/4 is fitted by bumps along the two
diagonals with opposite signs of a. This is what makes the four-lobed clover of
`meanfield._clover`.

The Gaussian kernels E[phi(u) phi(v)] and E[phi'(u) phi'(v)] use the `Activation` base class's
2-D Gauss-Hermite default (algebraic convergence at the kinks, errors 1e-4 to 1e-2 at 48 nodes).

Example:
    >>> import meanfield as mf
    >>> [float(v) for v in mf.ClippedReLU()([-1.0, 0.5, 2.0])]
    [0.0, 0.5, 1.0]
"""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp

from .activations import Activation, _as_float


class ClippedReLU(Activation):
    """phi(z) = clip(z, 0, 1), phi'(z) = 1{0 < z < 1} (derivative 0 at the kinks)."""

    name: ClassVar[str] = "clipped_relu"

    def __call__(self, z):
        return jnp.clip(_as_float(z), 0.0, 1.0)

    def derivative(self, z):
        z = _as_float(z)
        return jnp.where((z > 0.0) & (z < 1.0), jnp.ones_like(z), jnp.zeros_like(z))
