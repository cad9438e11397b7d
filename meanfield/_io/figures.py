"""Figures (matplotlib, Agg backend): of a solution (neuron cloud, convergence, predictions), of
`compare` (`plot_compare`) and of a `ModularTheory` scan (`plot_theory_scan`).

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
    """Residual |G(B) - B|/|B| per iteration with the tolerance and Monte-Carlo noise floor, and
    the certificate (`meanfield._solver.certificate`) with its threshold."""
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
        cert = np.asarray(h.get("certificate", []), dtype=np.float64)
        if len(cert) == len(res) and np.any(np.isfinite(cert) & (cert > 0)):
            ax.semilogy(it, cert, "s-", ms=2, lw=0.8, color="tab:purple",
                        label="certificate (equipartition / stationarity)")
            if solver is not None and len(h.get("certificate_noise", [])) == len(res):
                band = solver.certificate_tol + solver.noise_factor * np.asarray(
                    h["certificate_noise"], dtype=np.float64)
                ax.semilogy(it, band, "--", lw=0.8, color="tab:purple", alpha=0.6,
                            label="certificate threshold")
    else:
        ax.text(0.5, 0.5, "no iterations recorded", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_xlabel("fixed-point iteration")
    ax.set_ylabel("residual / certificate")
    ax.set_title(f"Convergence: {solution.status} after {solution.iterations} iterations")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def gp_prediction(problem, x_test):
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
    g = gp_prediction(problem, test.x) if gp else None
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


def plot_compare(result, arrays=None):
    """The `compare` figure: test loss per method, the finite-N gap |f_N - f_MF| against N
    (with its Monte-Carlo floor and fitted rate), and kernel alignment with the mean field.
    `result` is `compare(...)["result"]` (or the saved compare.json).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    methods = result["methods"]
    names = list(methods)
    ax = axes[0]
    ax.bar(range(len(names)), [methods[k]["test_loss"] for k in names],
           color=["C3", "C0", "C1"] + ["C2"] * (len(names) - 3))
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([k.replace("langevin_", "Langevin ") for k in names], rotation=40,
                       ha="right")
    ax.set_ylabel("test loss 0.5 <(f - y)^2>")
    ax.set_title("test loss per method")

    rows = result["widths"]
    n = np.array([r["width"] for r in rows], dtype=float)
    ax = axes[1]
    ax.plot(n, [r["gap"] for r in rows], "o-", color="C2",
            label="|f_N - f_MF| (Langevin ensemble)")
    # only where the raw gap is resolved above its floor; below it the debiased gap is noise
    ax.plot(n, [r["gap_debiased"] if r["gap"] > 1.02 * r["gap_floor"] and r["gap_debiased"] > 0
                else np.nan for r in rows], "^-", color="C4",
            label="debiased sqrt(gap^2 - floor^2) (where gap > floor)")
    ax.plot(n, [r["gap_floor"] for r in rows], "k:", label="Monte-Carlo floor")
    ax.plot(n, [r["gap_nngp"] for r in rows], "s--", color="C0", label="|f_N - f_NNGP|")
    ax.axhline(methods["nngp"]["gap_to_mean_field"], color="C0", lw=0.8,
               label="|f_NNGP - f_MF|")
    ax.plot(n[:-1], [r["gap_to_widest"] for r in rows[:-1]], "v-", color="C5",
            label=f"|f_N - f_{int(n[-1])}| (self-convergence)")
    fit = result.get("gap_fit")
    if fit:
        grid = np.geomspace(n.min(), n.max(), 50)
        ax.plot(grid, fit["prefactor"] * grid ** (-fit["rate"]), "C2:",
                label=f"fit N^-{fit['rate']:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width N")
    ax.set_ylabel("rms difference on test inputs")
    ax.set_title(f"finite-N gap ({result['scaling']} scaling)")
    ax.legend(fontsize=7)

    ax = axes[2]
    ax.plot(n, [r["alignment_to_mean_field"] for r in rows], "o-", color="C2",
            label="Langevin kernel Q_N")
    ax.axhline(methods["nngp"]["alignment_to_mean_field"], color="C0", label="NNGP K")
    ax.axhline(methods["ntk"]["alignment_to_mean_field"], color="C1", label="NTK Theta")
    ax.set_xscale("log")
    ax.set_xlabel("width N")
    ax.set_ylabel("alignment with mean-field Q")
    ax.set_title("kernel alignment")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_theory_scan(scan, title=""):
    """Order parameters and free energies against sigma^2 with the phase boundaries marked."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    s2 = scan.column("sigma2")
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    ax = axes[0]
    ax.semilogx(s2, scan.column("discrepancy"), "o-", label="discrepancy sigma^2 tau")
    ax.semilogx(s2, scan.column("droplet_fraction"), "s-", label="droplet fraction f")
    ax.semilogx(s2, scan.column("droplet_kernel_share"), "d-", label="droplets' kernel share")
    ax.set_xlabel("sigma^2")
    ax.set_title("order parameters")
    ax2 = axes[1]
    ax2.loglog(s2, scan.column("m"), "o-", label="m = <A_k B_k> (4 at prior)")
    ax2.loglog(s2, scan.column("g"), "^-", label="coupling g")
    gc = scan.asymptotic.get("g_c")
    if gc:
        ax2.axhline(gc, color="gray", ls=":", label="g_c (leading order)")
    ax2.set_xlabel("sigma^2")
    ax2.set_title("kernel order parameter and coupling")
    ax3 = axes[2]
    ax3.semilogx(s2, scan.column("free_energy"), "k-", label="F (mixed solution)")
    ax3.semilogx(s2, scan.column("free_energy_gp"), "b--", label="F GP-only branch")
    ff = scan.column("free_energy_feature")
    if np.any(np.isfinite(ff)):
        ax3.semilogx(s2, ff, "r--", label="F feature-only branch")
    ax3.set_xlabel("sigma^2")
    ax3.set_title("free energies")
    for a in axes:
        for val, col, lab in ((scan.sigma2_onset, "C2", "onset"),
                              (scan.sigma2_droplets, "C5", "droplets f_low"),
                              (scan.sigma2_specialised, "C3", "specialised"),
                              (scan.sigma2_coexistence, "C4", "coexistence")):
            if val:
                a.axvline(val, color=col, ls="--", lw=1, label=lab)
        a.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
