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
# # Mean field against NNGP, NTK and finite-width networks
#
# The Bayesian two-layer network $f_c(x)=\sum_i a_{ci}\,\phi(w_i\cdot x)$ with
# $w\sim N(0,\sigma_w^2/d\,I)$, $a\sim N(0,\sigma_a^2/N)$ and likelihood variance $\sigma^2$ has
# three limits to compare: the Gaussian process (NNGP, neurons at their prior), the NTK
# (infinite-time gradient flow of the linearised net) and the mean field (neurons adapt to the
# data through the kernel $Q$ and discrepancy $\bar t$). Finite networks sampled from their exact
# posterior by ensembles of Langevin chains are the ground truth. In the mean-field width family
# ($\sigma_a^2,\sigma^2\propto N_0/N$) the mean-field problem is the same at every $N$, so the
# finite-$N$ predictor should approach it as $N$ grows, while the NNGP stays off.

# %%
import os


import meanfield as mf

SMALL = os.environ.get("MEANFIELD_NOTEBOOK_SMALL") == "1"
task = mf.cubic_teacher(2, 16 if SMALL else 64, eps=0.3, n_test=50 if SMALL else 400, seed=0)
problem = mf.BayesianProblem(task, mf.Erf(), width=32.0, noise=0.05, sigma_a2=0.1)
solver = mf.FixedPoint(n_particles=512 if SMALL else 16384, mixing=mf.Damped(0.2))
sampler = (mf.PosteriorLangevin(n_chains=2, n_warmup=50, n_samples=10, thin=2) if SMALL else
           mf.PosteriorLangevin(n_chains=8, n_warmup=3000, n_samples=100, thin=20))
widths = [4, 8] if SMALL else [8, 16, 32, 64]

# %% [markdown]
# `mf.compare` solves the mean field, computes the NNGP and NTK predictors and samples the finite
# networks; it returns a JSON-ready result, the arrays and a figure.

# %%
res = mf.compare(problem, widths, solver=solver, sampler=sampler, seed=0, progress=False)
result = res["result"]
for name, method in result["methods"].items():
    print(f"{name:14s} test loss {method['test_loss']:.4f}")

# %% [markdown]
# The gap $|f_N - f_{\rm MF}|$ (rms over test inputs) against the Monte-Carlo floor of the
# comparison, the NNGP's distance from the mean field, and the Gelman-Rubin $\hat R$ of the chains
# (a value near 1 says the ensemble is at equilibrium).

# %%
print(f"|f_NNGP - f_MF| = {result['methods']['nngp']['gap_to_mean_field']:.4f}")
for g in result["widths"]:
    print(f"N = {g['width']:4d}: |f_N - f_MF| = {g['gap']:.4f} (floor {g['gap_floor']:.4f}), "
          f"kernel alignment {g['alignment_to_mean_field']:.4f}, "
          f"R-hat {g['rhat']['potential']:.3f}")

# %%
from meanfield._io.figures import plot_compare  # noqa: E402

plot_compare(res["result"], res["arrays"])
