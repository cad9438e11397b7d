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
# # Learning zero: how far below the RLCT does $\hat\lambda$ stay?
#
# A bias-free tanh net $f(x)=\sum_i a_i\tanh(w_i x)$ on $x\sim N(0,1)$ learns $f=0$ with the
# infinite-data loss $L=E[f^2]=a^\top G(W)a$, $G_{ij}=E[\tanh(w_ix)\tanh(w_jx)]$. At $a=0$ and generic
# $W$ the loss is a nondegenerate quadratic form in $a$, so the local RLCT is $h/2$. But the
# eigenvalues $g_j$ of $G$ inherit the fast Hermite decay of tanh, and at inverse temperature
# $n\beta$ only modes with $n\beta g_j \gtrsim \gamma/2$ count:
# $\lambda(n\beta)\approx\sum_j n\beta g_j/(2n\beta g_j+\gamma)$.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from meanfield._observables.hermite import fit_hermite_decay, tanh_decay_rate, tanh_hermite_coefficients
from meanfield._apps.llc.learning_zero import TanhNet, gram_spectrum, quadratic_lambda, run_llc_experiment

SMALL = os.environ.get("MEANFIELD_NOTEBOOK_SMALL") == "1"

# %% [markdown]
# ## Hermite spectrum of tanh(w x): $|c_k|\sim e^{-\pi\sqrt k/(2|w|)}$

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
for w in (0.5, 1.0, 2.0):
    c = tanh_hermite_coefficients([w], 150, 400)[:, 0]
    fit = fit_hermite_decay(c)
    print(f"w={w}: fitted c={fit['stretched']['c']:.3f}, theory pi/(2w)={tanh_decay_rate(w):.3f}")
    k = np.arange(1, 151, 2)
    ax.semilogy(np.sqrt(k), np.abs(c[k]), ".", label=f"w={w}")
ax.set_xlabel("sqrt(k)")
ax.set_ylabel("|c_k|")
ax.legend()
plt.show()

# %% [markdown]
# ## Gram spectrum and the Gaussian (frozen-W) prediction

# %%
h = 32 if SMALL else 128
net = TanhNet(width=h)
theta = net.zero_point(0)
g = gram_spectrum(net, theta, 1024 if SMALL else 2048)
nb = np.logspace(0, 28, 57)
lam = quadratic_lambda(nb, g, 100.0)
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.semilogx(nb, lam, label="lambda_quad")
ax.axhline(h / 2, color="r", ls="--", label="RLCT h/2")
ax.set_xlabel("n beta")
ax.legend()
plt.show()

# %% [markdown]
# ## Sampled $\hat\lambda$ (W free)
# `marginal_llc` integrates the output weights $a$ exactly (the net is linear in them) and samples
# $W$ by MALA on its marginal; joint MALA on $(a, W)$ is the devinterp-style cross-check where it
# mixes. The full run is `meanfield llc --out results/llc` (about 10 minutes).

# %%
from meanfield._apps.llc.learning_zero import plot_llc_experiment

res = run_llc_experiment(width=h, nbetas=[1e0, 1e4, 1e8] if SMALL else np.logspace(0, 16, 9),
                         n_steps=40 if SMALL else 200, n_burnin=15 if SMALL else 80,
                         n_chains=4 if SMALL else 8, n_nodes=256 if SMALL else 512,
                         mala_max_nbeta=0.0 if SMALL else 1e4, progress=False)
for b, l, e, q, a in zip(res["betas"], res["lambda_hat"], res["lambda_hat_err"], res["lambda_quad"],
                         res["acceptance"]):
    print(f"nbeta={b:8.1e}  lambda_hat={l:6.3f} +- {e:5.3f}  W frozen={q:6.3f}  acc={a:.2f}")
print("Gram spectrum fit log g_j = A - c j^p:", {k: res["spectrum_fit"][k] for k in ("c", "p", "rms")})
print("linear fit:", res["fits"]["linear"] and res["fits"]["linear"]["params"])
plot_llc_experiment(res)
plt.show()
