# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Clover-leaf neuron clouds: foreground neurons reproduce their background
#
# A wide two-layer network $f(x)=\frac1N\sum_i a_i\,\phi(w_i\cdot x)$ on 2-D Gaussian inputs is
# trained (noisy gradient descent, weight decay $\lambda$, temperature $T$) on the continuous XOR
# $y=\tanh(2x_1)\tanh(2x_2)$ with infinite data (a Gauss-Hermite rule). Each neuron is a point
# $w_i\in\mathbb R^2$. Every neuron moves in the same potential
# $\Psi(\theta;\rho)=E_x[(f_\rho-y)\,a\,\phi(w\cdot x)]+\frac\lambda2|\theta|^2$, so the trained
# cloud must be the Gibbs law $\rho\propto e^{-\Psi(\theta;\rho)/T}$ of its own residual: fresh
# neurons trained only against the *frozen* residual land in the same cloud. See
# `meanfield/_clover.py` for the setting and why it is chosen (the clipped ReLU
# $\phi(z)=\mathrm{clip}(z,0,1)$ is not odd; an odd activation cannot fit the even XOR).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import meanfield as mf

SMALL = os.environ.get("MEANFIELD_NOTEBOOK_SMALL") == "1"
if SMALL:  # seconds, for the test suite; the real run is `meanfield clover` (width 2048)
    setting = mf.CloverSetting(width=128, n_foreground=128, n_steps=150, n_nodes=8,
                               solve_iterations=3, solve_steps=10, other_pairs=())
else:
    setting = mf.CloverSetting()
setting

# %% [markdown]
# ## Run: joint network, foreground, GP-like controls, fixed point from scratch

# %%
result = mf.run_clover(setting, progress=not SMALL)
r = result.summary
for k in ("joint_loss", "recombined_loss", "control_loss", "foreground_distance", "noise_floor",
          "control_distance", "untrained_control_distance", "fixed_point_distance",
          "fixed_point_status"):
    print(f"{k:28s} {r[k]}")

# %% [markdown]
# ## The picture: background blue, foreground orange
#
# Left: the foreground neurons (trained against the frozen residual of the joint network) on the
# joint network's cloud. Middle: the control, trained against the residual of a GP-like
# (random-feature, lazy) network: almost no residual is left to learn from, and the neurons stay
# in the Gaussian prior. Right: the cloud of the fixed-point iteration started from scratch.

# %%
fig = mf.plot_clover(result)
fig

# %% [markdown]
# ## Self-consistency in numbers
#
# The sliced Wasserstein-2 distance between two clouds is never zero for finite samples; its
# *noise floor* is the distance between two independent joint networks (two samples of the same
# cloud). The foreground should sit at the floor, the control far above it.

# %%
names = ["noise_floor", "foreground_distance", "fixed_point_distance",
         "untrained_control_distance", "control_distance"]
vals = [r[n] if r[n] is not None else np.nan for n in names]
fig2, ax = plt.subplots(figsize=(6, 3))
ax.barh(names, vals, color=["0.5", "tab:orange", "tab:orange", "tab:red", "tab:red"])
ax.set_xscale("log")
ax.set_xlabel("sliced $W_2$ to the background cloud")
fig2.tight_layout()

# %% [markdown]
# ## Other activation/target pairs
#
# HardTanh (odd, no biases) on the even XOR: $E[y\,\phi(w\cdot x)]=0$ for every $w$, nothing
# drives the neurons and the cloud stays at the prior Gaussian. HardTanh on the odd
# $\tanh(x_1)$: two lobes along $\pm e_1$. The clipped ReLU on $x_1x_2$: a clover again.

# %%
if not SMALL:
    mf.plot_other_pairs(result)
