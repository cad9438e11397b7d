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
# # The neuron distribution of a Bayesian two-layer network
#
# A wide erf network learns a cubic teacher in two dimensions. In mean-field scaling every hidden
# neuron feels the same effective action
#
# $$S[w] = \frac{d|w|^2}{2\sigma_w^2} - \frac{\sigma_a^2}{2N}\sum_c\Big(\sum_\mu \bar t_{\mu c}\,\phi(w\cdot x_\mu)\Big)^2,$$
#
# with the discrepancy $\bar t = (Q+\sigma^2 I)^{-1}y$ computed from the kernel $Q$ of the neuron
# cloud itself. `meanfield.solve` finds the self-consistent cloud with particles; in $d=2$ we can
# check it against the exact grid solution, and against the Gaussian-process (NNGP) limit.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import meanfield as mf

SMALL = os.environ.get("MEANFIELD_NOTEBOOK_SMALL") == "1"
M = 1024 if SMALL else 8192
task = mf.cubic_teacher(2, 16, eps=0.3, n_test=200, seed=0)
problem = mf.BayesianProblem(task, mf.Erf(), width=10.0, noise=0.01)

# %% [markdown]
# ## Particles, grid and the GP limit

# %%
particles = mf.solve(problem, mf.FixedPoint(n_particles=M, mixing=mf.Anderson()), key=0)
grid = mf.solve(problem, mf.FixedPoint(foreground=mf.Grid(n_points=81 if SMALL else 161, extent=9.0),
                                       mixing=mf.Anderson(), rtol=1e-8))
gp_problem = mf.BayesianProblem(task, mf.Erf(), width=1e9, noise=0.01)
gp = mf.solve(gp_problem, mf.FixedPoint(foreground=mf.Grid(n_points=81, extent=9.0)))


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


print(particles.message)
print(f"kernel: particles vs grid {rel(particles.field, grid.field):.3%} "
      f"(Monte-Carlo floor {particles.noise_floor:.3%}); grid vs GP {rel(gp.field, grid.field):.1%}")
print(f"test loss: mean field {particles.test_loss:.4f}, grid {grid.test_loss:.4f}, GP {gp.test_loss:.4f}")

# %% [markdown]
# ## The neuron cloud: feature learning stretches it along the teacher direction

# %%
w = np.asarray(problem.input_weights(particles.particles.theta))
prior = np.random.default_rng(0).normal(size=w.shape) * np.sqrt(problem.sigma_w2 / 2)
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.scatter(prior[:, 0], prior[:, 1], s=2, alpha=0.3, label="prior (GP limit)", color="tab:blue")
ax.scatter(w[:, 0], w[:, 1], s=2, alpha=0.3, label="mean-field posterior", color="tab:orange")
ax.set_xlabel("$w_1$ (teacher direction)")
ax.set_ylabel("$w_2$")
ax.legend(markerscale=5)
ax.set_aspect("equal")
plt.show()

# %% [markdown]
# ## Free energy
#
# $F=-\log Z$ in mean field, from the exact grid and by thermodynamic integration over particles.

# %%
fe_grid = mf.free_energy(grid)
fe_particles = mf.free_energy(particles, n_strengths=6 if SMALL else 12, n_steps=50 if SMALL else 200)
print(f"F grid = {fe_grid.value:.3f}; F particles = {fe_particles.value:.3f} ± {fe_particles.stderr:.3f}")
