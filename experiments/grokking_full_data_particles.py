"""Full-data (alpha = 1) modular addition: the particle solver with the tempered foreground
against the reduced Fourier theory (issue 8, "general solver in the full-data limit").

Usage: python experiments/grokking_full_data_particles.py SIGMA2 N_LEVELS BETA_MIN
(e.g. 0.02 16 0.02). Prints the theory's tau, droplet fraction and kernel share, then the
particle solve's status, tau, the fraction of neurons with |z|^2 > 40 (droplet-sized) and the
accuracies, as JSON.
"""
import sys, time, json
import numpy as np, jax, jax.numpy as jnp
import meanfield as mf
P, N, s2, gamma = 11, 100.0, float(sys.argv[1]), 1.0
th = mf.ModularTheory(P=P, width=N, sigma_a2=1.0, stabiliser=gamma, sigma_w2=1.0, scaling="whitened")
pt = th.solve(s2, branches=False)
print("theory", {k: getattr(pt, k) for k in ("tau", "m", "g", "droplet_fraction", "droplet_radius", "droplet_kernel_share")}, flush=True)
task = mf.modular_addition(P, 1.0, seed=0)
problem = mf.BayesianProblem(task, mf.Quadratic(), width=N, noise=s2, action=mf.LinearisedAction(stabiliser=gamma))
fg = mf.Tempering(n_levels=int(sys.argv[2]), beta_min=float(sys.argv[3]), n_steps=50, swap_every=5, step_size=0.05)
solver = mf.FixedPoint(n_particles=2048, foreground=fg, mixing=mf.Damped(0.3), max_iterations=60, burn_in=4)
t0 = time.time()
sol = mf.solve(problem, solver, key=0, throw=False, progress=True)
z = np.asarray(sol.particles.theta); r2 = (z**2).sum(1)
bg = sol.background
# tau: discrepancy / centred target
y = np.asarray(task.train.y); t = np.asarray(bg.discrepancy)
tau = float((t*y).sum()/(y*y).sum())
print(json.dumps({"status": sol.status, "iters": sol.iterations, "tau": tau, "sigma2_tau": s2*tau,
  "frac_r2_gt_40": float((r2>40).mean()), "r2_q": np.percentile(r2,[50,90,99]).tolist(),
  "test_acc": sol.accuracy(task.test) if task.test.n else None, "train_acc": sol.accuracy(task.train),
  "secs": time.time()-t0, "acc_hist": sol.history["acceptance"][-3:].tolist()}), flush=True)
