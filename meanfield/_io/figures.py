"""Figures of a solution (matplotlib, Agg backend): neuron cloud, convergence, predictions.

Every function returns a `matplotlib.figure.Figure` built without pyplot's global state (no
`plt.show`), so it works headless and in tests; save it with ``fig.savefig(path)``.
"""

from __future__ import annotations

import jax
import numpy as np
from matplotlib.figure import Figure

FOREGROUND = "tab:orange"
BACKGROUND = "tab:blue"


def neuron_weights(problem, theta) -> np.ndarray:
    """Input weights w (M, d) of particles: Bayesian `input_weights`, training `split(theta)[0]`."""
    theta = np.asarray(theta)
    if hasattr(problem, "input_weights"):
        return np.asarray(problem.input_weights(theta))
    if hasattr(problem, "split"):
        return np.asarray(problem.split(theta)[0])
    return theta


def prior_weights(problem, n: int, seed: int = 0) -> np.ndarray:
    """Input weights of `n` particles drawn from the problem's prior / initialisation."""
    particles = problem.init_particles(jax.random.PRNGKey(seed), n)
    return neuron_weights(problem, particles.theta)


def _display_points(w, weights, n_max=4096, seed=0):
    """Points to scatter: a weighted (grid) cloud is resampled by its weights."""
    weights = np.asarray(weights, dtype=np.float64)
    if np.allclose(weights, weights[0]) and len(w) <= n_max:
        return w
    rng = np.random.default_rng(seed)
    p = weights / weights.sum()
    idx = rng.choice(len(w), size=min(n_max, 4096), p=p)
    return w[idx]


def plot_neurons(solution, prior_particles=None) -> Figure:
    """Scatter of the neurons' input weights (first two coordinates), foreground over prior.

    Args:
        solution: a `Solution`.
        prior_particles: `Particles` (or an (M, p) theta array) of the prior/background cloud;
            default: as many particles drawn from the problem's prior/initialisation.
    """
    problem = solution.problem
    w = neuron_weights(problem, solution.particles.theta)
    w = _display_points(w, solution.particles.weights)
    if prior_particles is None:
        w0 = prior_weights(problem, max(len(w), 1), seed=(solution.seed or 0) + 12345)
    else:
        theta0 = getattr(prior_particles, "theta", prior_particles)
        w0 = neuron_weights(problem, theta0)
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    if w.shape[1] == 1:
        bins = 60
        ax.hist(w0[:, 0], bins=bins, density=True, alpha=0.5, color=BACKGROUND, label="prior")
        ax.hist(w[:, 0], bins=bins, density=True, alpha=0.6, color=FOREGROUND,
                label="mean-field solution")
        ax.set_xlabel("input weight $w$")
        ax.set_ylabel("density")
    else:
        ax.scatter(w0[:, 0], w0[:, 1], s=3, alpha=0.35, color=BACKGROUND, label="prior",
                   rasterized=True)
        ax.scatter(w[:, 0], w[:, 1], s=3, alpha=0.6, color=FOREGROUND,
                   label="mean-field solution", rasterized=True)
        ax.set_xlabel("$w_1$")
        ax.set_ylabel("$w_2$")
        ax.set_aspect("equal", adjustable="datalim")
        ax.axhline(0, color="0.8", lw=0.5, zorder=0)
        ax.axvline(0, color="0.8", lw=0.5, zorder=0)
    extra = "" if w.shape[1] <= 2 else f" (first 2 of {w.shape[1]} coordinates)"
    ax.set_title(f"Neuron input weights{extra}\n{getattr(problem.task, 'name', '')}")
    ax.legend(loc="upper right", markerscale=4)
    fig.tight_layout()
    return fig


def plot_convergence(solution) -> Figure:
    """Residual |G(B) - B|/|B| per iteration with the tolerance and Monte-Carlo noise floor."""
    h = solution.history
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    res = np.asarray(h.get("residual", []), dtype=np.float64)
    it = np.arange(1, len(res) + 1)
    if len(res):
        ax.semilogy(it, res, "o-", ms=3, color="k", label="residual $|G(B)-B|/|B|$")
        if len(h.get("tolerance", [])):
            ax.semilogy(it, np.asarray(h["tolerance"], dtype=np.float64), "--",
                        color="tab:green", label="stopping threshold")
        noise = np.asarray(h.get("noise", []), dtype=np.float64)
        if len(noise) and np.any(noise > 0):
            ax.semilogy(it, noise, ":", color=BACKGROUND, label="Monte-Carlo noise floor")
        solver = solution.solver
        if solver is not None:
            ax.axhline(solver.rtol, color="tab:red", lw=0.8, label=f"rtol = {solver.rtol:g}")
    else:
        ax.text(0.5, 0.5, "no iterations recorded", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel("fixed-point iteration")
    ax.set_ylabel("relative change of the background")
    ax.set_title(f"Convergence: {solution.status} after {solution.iterations} iterations")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _gp_prediction(problem, x_test):
    """NNGP (prior-kernel) predictor of a Bayesian problem on x_test, or None."""
    from .._model.bayesian import BayesianProblem
    from .._observables.kernels import gp_posterior, nngp_kernel

    if not isinstance(problem, BayesianProblem):
        return None
    try:
        x = problem.data.x
        k = nngp_kernel(problem.activation, x, sigma_w2=problem.sigma_w2,
                        sigma_a2=problem.sigma_a2)
        ks = nngp_kernel(problem.activation, x_test, x, sigma_w2=problem.sigma_w2,
                         sigma_a2=problem.sigma_a2)
        return np.asarray(gp_posterior(k, ks, problem.data.y, problem.noise))
    except Exception:  # an activation without a kernel; the GP line is optional
        return None


def plot_predictions(solution, gp: bool = True) -> Figure:
    """Test predictions of the mean-field predictor against the targets (and the NNGP's)."""
    problem = solution.problem
    test = problem.task.test
    y = np.asarray(test.y)
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    try:
        f = np.asarray(solution.predict(test.x))
    except Exception:  # a failed solve may have no background
        f = None
    if f is not None and np.all(np.isfinite(f)):
        ax.scatter(y.ravel(), f.ravel(), s=6, alpha=0.6, color=FOREGROUND,
                   label=f"mean field (test loss {solution.test_loss:.3g})")
    g = _gp_prediction(problem, test.x) if gp else None
    if g is not None and np.all(np.isfinite(g)):
        loss = float(0.5 * np.sum(np.asarray(test.weights)[:, None] * (g - y) ** 2))
        ax.scatter(y.ravel(), g.ravel(), s=6, alpha=0.4, color=BACKGROUND,
                   label=f"NNGP (test loss {loss:.3g})")
    lo, hi = float(np.min(y)), float(np.max(y))
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, label="$f = y$")
    ax.set_xlabel("target $y$ (test set)")
    ax.set_ylabel("prediction $f(x)$")
    ax.set_title("Test predictions")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
