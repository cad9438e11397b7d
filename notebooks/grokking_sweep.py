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
# # Grokking in the data fraction: the general particle solver across $\alpha$
#
# With a training fraction $\alpha<1$ of the $P^2$ pairs the Fourier symmetry of the full-data
# theory is broken, so the mean field is solved with particles (`meanfield.grokking_sweep`): at
# each $\alpha$ a tempered foreground samples the single-neuron law (a GP-like basin and Fourier
# "droplets"), the background (kernel $Q$, discrepancy $\bar t$) is recomputed from the cloud, and
# the solution at one $\alpha$ starts the next. One sweep goes up from the prior, one comes back
# down from the largest $\alpha$; a first-order transition with hysteresis would show as two
# different curves.
#
# Below a transition the mean-field predictor is GP-like and, on held-out pairs, *worse* than
# chance: the NNGP kernel of $\phi(z)=z^2$ on two-hot inputs only knows "shares $n$" and "shares
# $m$", and the centred target of a held-out pair's true class gets only the $-1/P$ parts of the
# training pairs it shares a row or column with. Specialised neurons (one frequency $k$ in both
# input halves) carry the Fourier algorithm, which generalises.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import meanfield as mf

SMALL = os.environ.get("MEANFIELD_NOTEBOOK_SMALL") == "1"
P = 5 if SMALL else 11
ALPHAS = [0.6, 1.0] if SMALL else [0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0]
solver = mf.default_grokking_solver(n_particles=64 if SMALL else 1024,
                                    n_levels=3 if SMALL else 8,
                                    max_iterations=3 if SMALL else 40)

# %%
res = mf.grokking_sweep(P, ALPHAS, width=100.0, noise=0.015, solver=solver, progress=not SMALL)
print("alpha_c:", res.alpha_c, "+-", res.alpha_c_err, " lower bound:", res.alpha_c_lower_bound)
for a, up, dn, nngp in zip(res.alphas, res.column("up", "test_accuracy"),
                           res.column("down", "test_accuracy"), res.baselines["nngp"]):
    print(f"alpha={a:.2f}  mean field up={up:.3f} down={dn:.3f}  NNGP={nngp:.3f}")
fig = mf.plot_grokking_sweep(res)

# %% [markdown]
# ## What the specialised neurons look like
#
# The Fourier power of the cloud's neurons at the largest $\alpha$: a specialised neuron has one
# frequency with large power in *both* halves (`specialised_mask`).

# %%
z = np.asarray(res.particles["up"][-1].theta)  # the cloud at the largest alpha
power = mf.fourier_power(z, P)
mask = mf.specialised_mask(z, P)
fig, ax = plt.subplots(figsize=(5, 3.5))
k = mf.dominant_frequency(z, P)
rows = np.arange(len(k))
ax.scatter(power[rows, 0, k], power[rows, 1, k], s=4, c=np.where(mask, "C3", "C0"))
ax.set(xscale="log", yscale="log", xlabel="power of u at dominant k",
       ylabel="power of v at dominant k",
       title=f"specialised fraction {mask.mean():.3f} (red)")
