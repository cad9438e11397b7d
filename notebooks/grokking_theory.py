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
# # Grokking as a first-order transition: the reduced full-data theory
#
# Modular addition with $\phi(z)=z^2$ on all $P^2$ pairs (Rubin, Seroussi & Ringel, ICLR 2024).
# The discrepancy is one number times the target, $\bar t = \tau y$, and a neuron's action
# reduces to $S=|z|^2/2+\Gamma(|z|^2)-g\sum_k A_kB_k$ over its Fourier modes
# ($g=\kappa P\tau^2/N$). Below a noise $\sigma^2_{\rm onset}$ single-frequency *droplet*
# neurons appear, the coupling stays pinned at its coexistence value $g_c$ (mixed phase), and
# the unlearned fraction $\sigma^2\tau$ falls linearly with $\sigma^2$.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import meanfield as mf
from meanfield._io.figures import plot_theory_scan

SMALL = os.environ.get("MEANFIELD_NOTEBOOK_SMALL") == "1"
P = 7 if SMALL else 11
COUNT = 5 if SMALL else 16

# %% [markdown]
# ## The mixed phase as the noise decreases (whitened stabiliser = `LinearisedAction`'s)

# %%
theory = mf.ModularTheory(P=P, width=100.0, sigma_a2=1.0, stabiliser=1.0)
asym = theory.asymptotic()
sig = np.geomspace(3 * asym["sigma2_onset"], asym["sigma2_onset"] / 20, COUNT)
scan = theory.scan(sig, branches=not SMALL)
print("onset", scan.sigma2_onset, "droplets", scan.sigma2_droplets,
      "specialised", scan.sigma2_specialised, "leading order", asym)
fig = plot_theory_scan(scan, title=f"P={P}, whitened stabiliser")

# %% [markdown]
# ## The same theory in the `fixed_u` reading: $u_c = 16\sqrt\gamma/\sigma_w^4$ at any $P$

# %%
th_u = mf.ModularTheory(P=P, width=100.0, stabiliser=1.0, scaling="fixed_u")
a = th_u.asymptotic()
pts = [th_u.solve(s2, branches=False) for s2 in np.geomspace(3, 0.1, COUNT) * a["sigma2_onset"]]
print("u_c (leading order):", a["u_c"])
for p in pts:
    print(f"u={p.u:8.3g}  discrepancy={p.discrepancy:.3f}  g/g_c={p.g / a['g_c']:.3f}  "
          f"droplet x/x_c={p.droplet_radius / a['droplet_radius']:.3f}")

# %% [markdown]
# ## Fourier observables of a synthetic Gromov network versus random neurons

# %%
rng = np.random.default_rng(0)
n = np.arange(P)
k = rng.integers(1, P // 2 + 1, 200)
pu, pv = rng.uniform(0, 2 * np.pi, (2, 200))
th_ = 2 * np.pi * k[:, None] * n / P
w = np.concatenate([np.cos(th_ + pu[:, None]), np.cos(th_ + pv[:, None])], 1)
a_out = np.cos(th_ + (pu + pv)[:, None])
print("Fourier neurons:", mf.fourier_summary(w + 0.1 * rng.standard_normal(w.shape), P, a_out))
print("random neurons: ", mf.fourier_summary(rng.standard_normal(w.shape), P,
                                              rng.standard_normal(a_out.shape)))
