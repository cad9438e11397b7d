"""Finite-width ground truth for grokking on modular addition (issue 8, item 3).

For each width N and training fraction alpha, Langevin (MALA) ensembles of the exact posterior of
the two-layer network f_p(x) = sum_i a_ip phi(w_i . x), phi(z) = z^2, on
`modular_addition(P, alpha, seed=0)`, read-out integrated out (`PosteriorLangevin(method=
"marginal")`), with the sextic stabiliser Gamma(z_i) = gamma (|z_i|^2/d)^3 on the whitened input
weights (as `LinearisedAction(stabiliser=gamma)`), from two starts:

* "prior":   chains start from prior draws (the Gaussian-process-like branch);
* "fourier": chains start from `fourier_seeded_weights` (a fraction of single-frequency droplet
  neurons, sized by the full-data reduced theory `ModularTheory(...).solve(sigma2)`).

A first-order transition is metastable: the two starts may settle on different branches at the
same alpha, and then each curve gives its own transition alpha (hysteresis). The noise follows
sigma^2 = noise_ref * sqrt(100/N), which keeps u = 2 sigma_a2 P^2 / (N sigma^4) fixed across N
(physics.md section 6). Per point: train loss and accuracy (does it fit?), test accuracy and loss
of the posterior-mean predictor, the mean per-chain test accuracy, the Fourier observables of the
final neurons (`fourier_summary`), split R-hat, acceptance and wall time; NNGP (same noise) and
NTK (gradient flow) predictors on the same task. The transition alpha of each curve is where the
test accuracy first rises through (1/P + 1)/2, by linear interpolation, with an error of half the
bracketing interval (or the shift of the crossing under the chains' standard error, if larger):
the library's one rule (`meanfield._apps.grokking.transition`), the same as the mean field's.
Specialised neurons are counted by `specialised_mask` (threshold 8), as in `grokking_sweep`.

Every finished (N, alpha, start) point is saved at once under OUT/points/; a rerun with the same
settings reuses them (`--fresh` recomputes).

Usage:
    nice -n 5 python experiments/grokking_langevin.py [--out DIR] [--json] [--small] [options]

Writes OUT/grokking_langevin.json (`meanfield._io.results.write_experiment`) and
OUT/grokking_langevin.png.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# As in experiments/compare.py: single-threaded Eigen and synchronous dispatch avoid a silent
# XLA hang of vmapped linear algebra on a loaded CPU. Must be set before JAX starts.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
os.environ.setdefault("JAX_CPU_ENABLE_ASYNC_DISPATCH", "false")

import jax  # noqa: E402
import numpy as np  # noqa: E402

import meanfield as mf  # noqa: E402
from meanfield._apps.grokking.transition import (  # noqa: E402
    RHAT_TARGET, accuracy_midpoint, accuracy_transition, chains_mixed, mixed_transition,
    specialised_fraction,
)
from meanfield._misc import Progress  # noqa: E402
from meanfield._io.results import jsonable, write_experiment, write_text  # noqa: E402

HERE = Path(__file__).resolve().parent
NAME = "grokking_langevin"
STARTS = ("prior", "fourier")


def _floats(text):
    return [float(t) for t in text.split(",") if t.strip()]


def _ints(text):
    return [int(t) for t in text.split(",") if t.strip()]


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default=str(HERE.parent / "results" / NAME),
                   help="results folder (points/ inside it holds the finished points)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--small", action="store_true",
                   help="tiny run (P=5, N=8,16, 3 alphas, a few hundred steps) for testing")
    p.add_argument("--fresh", action="store_true", help="recompute points already saved")
    p.add_argument("--P", type=int, default=11, help="the modulus")
    p.add_argument("--widths", type=_ints, default=[50, 100, 200], help="widths N")
    p.add_argument("--alphas", type=_floats,
                   default=[0.3, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95],
                   help="training fractions alpha (alpha = 1 has no held-out pairs)")
    p.add_argument("--noise-ref", type=float, default=0.015,
                   help="sigma^2 at N = 100; sigma^2 = noise_ref sqrt(100/N)")
    p.add_argument("--stabiliser", type=float, default=1.0, help="gamma of the sextic")
    p.add_argument("--sigma-a2", type=float, default=1.0, help="read-out prior variance")
    p.add_argument("--sigma-w2", type=float, default=1.0, help="input prior variance")
    p.add_argument("--chains", type=int, default=8, help="chains per start")
    p.add_argument("--warmup", type=int, default=600, help="warm-up MALA steps")
    p.add_argument("--samples", type=int, default=60, help="recorded draws per chain")
    p.add_argument("--thin", type=int, default=10, help="MALA steps between draws")
    p.add_argument("--rhat-target", type=float, default=RHAT_TARGET,
                   help="split R-hat (potential and train loss) below which a point counts as "
                        "mixed; only mixed points enter a transition")
    p.add_argument("--extend", type=int, default=0,
                   help="rounds of continuation for a point whose chains have not mixed: each "
                        "round continues every chain from its last state and records twice as "
                        "many draws, the earlier rounds serving as burn-in")
    p.add_argument("--seed-fraction", type=float, default=None,
                   help="droplet share of the Fourier start (default: the reduced theory's "
                        "droplet fraction at alpha = 1, at least two droplets per frequency)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (task split: seed 0)")
    args = p.parse_args(argv)
    if args.small:
        args.P, args.widths, args.alphas = 5, [8, 16], [0.4, 0.7, 0.9]
        args.chains, args.warmup, args.samples, args.thin = 4, 100, 20, 5
    if args.P < 3 or args.P % 2 == 0:
        p.error(f"--P must be an odd integer >= 3, got {args.P}")
    if not all(0 < a <= 1 for a in args.alphas):
        p.error(f"--alphas must lie in (0, 1], got {args.alphas}")
    if not all(n >= 1 for n in args.widths):
        p.error(f"--widths must be positive integers, got {args.widths}")
    if not 1.0 < args.rhat_target < 2.0:
        p.error(f"--rhat-target must lie in (1, 2), e.g. 1.05, got {args.rhat_target}")
    if not 0 <= args.extend <= 8:
        p.error(f"--extend must be an integer in [0, 8] (each round doubles the draws), got "
                f"{args.extend}")
    return args


def noise_for(args, width):
    return args.noise_ref * float(np.sqrt(100.0 / width))


def seed_setting(args, width):
    """Droplet size x and share for the Fourier start from the full-data reduced theory."""
    theory = mf.ModularTheory(P=args.P, width=float(width), sigma_a2=args.sigma_a2,
                              stabiliser=args.stabiliser, sigma_w2=args.sigma_w2)
    pt = theory.solve(noise_for(args, width), branches=False)
    x = pt.droplet_radius
    if not np.isfinite(x):
        x = theory.asymptotic()["droplet_radius"]
    k = (args.P - 1) // 2
    frac = args.seed_fraction
    if frac is None:
        frac = min(1.0, max(pt.droplet_fraction, 2.0 * k / width))
    return {"radius": float(x), "fraction": float(frac),
            "theory_droplet_fraction": float(pt.droplet_fraction), "theory_tau": float(pt.tau)}


def _point_key(args, width, alpha, start):
    return {"P": args.P, "width": width, "alpha": alpha, "start": start,
            "noise": noise_for(args, width), "stabiliser": args.stabiliser,
            "sigma_a2": args.sigma_a2, "sigma_w2": args.sigma_w2, "chains": args.chains,
            "warmup": args.warmup, "samples": args.samples, "thin": args.thin,
            "seed": args.seed, "seed_fraction": args.seed_fraction,
            "rhat_target": args.rhat_target, "extend": args.extend}


def run_point(args, width, alpha, start):
    P = args.P
    task = mf.modular_addition(P, alpha, seed=0)
    noise = noise_for(args, width)
    post = mf.NetworkPosterior(task, mf.Quadratic(), width, noise, sigma_w2=args.sigma_w2,
                               sigma_a2=args.sigma_a2, stabiliser=args.stabiliser)
    sampler = mf.PosteriorLangevin(n_chains=args.chains, n_warmup=args.warmup,
                                   n_samples=args.samples, thin=args.thin, method="marginal")
    init, seed_info = None, None
    if start == "fourier":
        seed_info = seed_setting(args, width)
        z0 = mf.fourier_seeded_weights(P, width, args.chains, seed_info["fraction"],
                                       key=1000 + args.seed, radius=seed_info["radius"])
        init = {"z": z0}
    t0 = time.time()
    s = mf.sample_posterior(post, sampler, key=args.seed, init=init, progress=True)
    rounds = [{"n_warmup": args.warmup, "n_samples": args.samples, "rhat": s.rhat, "ess": s.ess,
               "wall_time_s": time.time() - t0}]
    steps = args.warmup + args.samples * args.thin
    for r in range(1, args.extend + 1):
        if chains_mixed(s.rhat, args.rhat_target):
            break
        # continue every chain from its last state; the step size re-adapts over a short
        # warm-up, and only the new (twice as long) segment is recorded
        n_samples = 2 * rounds[-1]["n_samples"]
        cont = mf.PosteriorLangevin(n_chains=args.chains, n_warmup=100, n_samples=n_samples,
                                    thin=args.thin, method="marginal")
        t1 = time.time()
        s = mf.sample_posterior(post, cont, key=args.seed + 100_003 * r, init={"z": s.z},
                                progress=True)
        steps += 100 + n_samples * args.thin
        rounds.append({"n_warmup": 100, "n_samples": n_samples, "rhat": s.rhat, "ess": s.ess,
                       "wall_time_s": time.time() - t1})
    wall = time.time() - t0
    test, train = task.test, task.train
    chain_means = s.test_predictions.mean(axis=1)  # (chains, n_test, C)
    chain_acc = np.array([mf.classification_accuracy(f, test) for f in chain_means])
    # does each chain fit its training data? (Rao-Blackwellised predictor at the final state)
    f_train = np.asarray(jax.vmap(lambda z: post.conditional_mean(z, train.x))(s.z))
    train_acc = np.array([mf.classification_accuracy(f, train) for f in f_train])
    half = s.train_loss.shape[1] // 2
    z = np.asarray(s.z).reshape(-1, 2 * P)
    readout = np.asarray(s.ahat).reshape(-1, P)
    fourier = mf.fourier_summary(z, P, readout=readout)
    r2 = np.sum(z**2, axis=1)  # squared norm of the whitened input weights
    return {
        "width": width, "alpha": alpha, "start": start, "noise": noise,
        "n_train": train.n, "n_test": test.n,
        "test_accuracy": mf.classification_accuracy(s.mean_prediction, test),
        "test_accuracy_chains_mean": float(chain_acc.mean()),
        "test_accuracy_chains_stderr": float(chain_acc.std(ddof=1) / np.sqrt(chain_acc.size))
        if chain_acc.size > 1 else None,
        "test_accuracy_chains": chain_acc.tolist(),
        "test_loss": s.test_loss,
        "train_loss": float(np.mean(s.train_loss[:, half:])),
        "train_loss_first_half": float(np.mean(s.train_loss[:, :half])),
        "train_accuracy_chains_mean": float(train_acc.mean()),
        "train_accuracy_chains_min": float(train_acc.min()),
        "single_frequency_fraction": fourier["single_frequency_fraction"],
        "ipr_mean": fourier["ipr_mean"], "ipr_random": fourier["ipr_random"],
        "phase_coherence": fourier.get("phase_coherence"),
        "dominant_frequency_counts": fourier["dominant_frequency_counts"],
        "specialised_fraction": specialised_fraction(z, P),
        "r2_quantiles_50_90_99": np.percentile(r2, [50, 90, 99]).tolist(),
        "rhat": s.rhat, "ess": s.ess, "mixed": chains_mixed(s.rhat, args.rhat_target),
        "rhat_target": args.rhat_target, "rounds": rounds, "total_steps": steps,
        "acceptance": s.acceptance,
        "step_size": s.step_sizes[1], "wall_time_s": wall, "seed_setting": seed_info,
    }


def baselines(args, width, alpha):
    task = mf.modular_addition(args.P, alpha, seed=0)
    kw = {"sigma_w2": args.sigma_w2, "sigma_a2": args.sigma_a2}
    gp = mf.nngp_predictor(task, mf.Quadratic(), noise=noise_for(args, width), **kw)
    nt = None  # plain gradient flow; a tiny ridge only if Theta is numerically singular
    for ridge in (0.0, 1e-10, 1e-8, 1e-6):
        try:
            nt = mf.ntk_predictor(task, mf.Quadratic(), ridge=ridge, return_var=False, **kw)
            break
        except ValueError:
            continue
    out = {"nngp": gp.summary()}
    out["ntk"] = {**nt.summary(), "ridge": ridge} if nt is not None else None
    return out


def transition(alphas, acc, P, stderr=None):
    """(alpha_t, err) by the library's one rule (`accuracy_transition`), or (None, None)."""
    return _pair(accuracy_transition(alphas, acc, P, stderr=stderr))


def _pair(c):
    """(value, error) of a crossed `Crossing`, else (None, None)."""
    return (c.value, c.error) if c.crossed else (None, None)


def figure(result, P):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, width in enumerate(result["widths"]):
        c = colours[j % len(colours)]
        for start, ls in (("prior", "-"), ("fourier", "--")):
            pts = [p for p in result["points"] if p["width"] == width and p["start"] == start]
            pts.sort(key=lambda p: p["alpha"])
            if not pts:
                continue
            a = [p["alpha"] for p in pts]
            axes[0].errorbar(a, [p["test_accuracy_chains_mean"] for p in pts],
                             yerr=[p["test_accuracy_chains_stderr"] or 0 for p in pts], ls=ls,
                             color=c, marker="o", ms=3, capsize=2,
                             label=f"N={width} {start} start")
            bad = [p for p in pts if not p.get("mixed", True)]
            if bad:  # chains not mixed (R-hat >= target): open markers, left out of alpha_t
                axes[0].plot([p["alpha"] for p in bad],
                             [p["test_accuracy_chains_mean"] for p in bad], "o", ms=8,
                             mfc="none", color="r", ls="none")
            axes[1].plot(a, [p["single_frequency_fraction"] for p in pts], ls=ls, color=c,
                         marker="o", ms=3, label=f"N={width} {start}")
            axes[2].plot(a, [p["train_loss"] for p in pts], ls=ls, color=c, marker="o", ms=3,
                         label=f"N={width} {start}")
        base = [b for b in result["baselines"] if b["width"] == width]
        base.sort(key=lambda b: b["alpha"])
        axes[0].plot([b["alpha"] for b in base], [b["nngp"]["test_accuracy"] for b in base],
                     ls=":", color=c, lw=1, label=f"NNGP (sigma^2 of N={width})")
        axes[2].plot([b["alpha"] for b in base], [b["nngp"]["train_loss"] for b in base],
                     ls=":", color=c, lw=1)
    base = [b for b in result["baselines"] if b["width"] == result["widths"][0] and b["ntk"]]
    base.sort(key=lambda b: b["alpha"])
    axes[0].plot([b["alpha"] for b in base], [b["ntk"]["test_accuracy"] for b in base],
                 ls="-.", color="k", lw=1, label="NTK (gradient flow)")
    axes[0].axhline((1.0 / P + 1.0) / 2, color="grey", lw=0.5)
    axes[0].axhline(1.0 / P, color="grey", lw=0.5, ls=":")
    axes[0].set(xlabel="training fraction alpha", ylabel="test accuracy (per-chain mean)",
                title=f"modular addition P={P}: Langevin ensembles\n(red rings: R-hat >= "
                      f"{result['rhat_target']:g}, left out of alpha_t)")
    axes[1].set(xlabel="alpha", ylabel="single-frequency fraction of neurons",
                title="Fourier features of the final neurons")
    axes[2].set(xlabel="alpha", ylabel="train loss (0.5 mean |f - y|^2)", yscale="log",
                title="fit to the training data (dotted: NNGP)")
    axes[0].legend(fontsize=6, ncol=2)
    axes[1].legend(fontsize=6)
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    args = parse(argv)
    out = Path(args.out)
    points_dir = out / "points"
    points_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    todo = [(n, a, s) for n in args.widths for a in args.alphas for s in STARTS]
    bar = Progress(len(todo), "grokking-langevin points")
    points = []
    for i, (width, alpha, start) in enumerate(todo):
        path = points_dir / f"N{width}_a{alpha:.4f}_{start}.json"
        key = _point_key(args, width, alpha, start)
        rec = None
        if path.exists() and not args.fresh:
            saved = json.loads(path.read_text())
            if saved.get("key") == jsonable(key):
                rec = saved["point"]
        if rec is None:
            rec = run_point(args, width, alpha, start)
            write_text(path, json.dumps(jsonable({"key": key, "point": rec}), indent=1) + "\n")
        points.append(jsonable(rec))
        bar.update(i + 1, f"N={width} alpha={alpha:g} {start}: test acc "
                          f"{rec['test_accuracy_chains_mean']:.2f} sff "
                          f"{rec['single_frequency_fraction']:.2f} ({rec['wall_time_s']:.0f}s)")
    bar.close()
    base = []
    for width in args.widths:
        for alpha in args.alphas:
            base.append(jsonable({"width": width, "alpha": alpha,
                                  **baselines(args, width, alpha)}))
    level = accuracy_midpoint(args.P)
    transitions = []
    for width in args.widths:
        for start in STARTS:
            pts = [p for p in points if p["width"] == width and p["start"] == start]
            # a point whose chains have not mixed counts as missing
            c, c_all, left = mixed_transition(pts, args.P, rhat_target=args.rhat_target)
            c_mean, _, _ = mixed_transition(pts, args.P, key="test_accuracy", stderr_key=None,
                                            rhat_target=args.rhat_target)
            (at, err), (at_mean, err_mean), (at_all, err_all) = map(_pair, (c, c_mean, c_all))
            transitions.append({"width": width, "start": start, "alpha_t": at, "alpha_t_err": err,
                                "alpha_t_posterior_mean_predictor": at_mean,
                                "alpha_t_posterior_mean_predictor_err": err_mean,
                                "alpha_t_all_points": at_all, "alpha_t_all_points_err": err_all,
                                "unmixed_alphas": left})
        for method in ("nngp", "ntk"):
            bs = sorted((b for b in base if b["width"] == width and b[method]),
                        key=lambda b: b["alpha"])
            at, err = transition([b["alpha"] for b in bs],
                                 [b[method]["test_accuracy"] for b in bs], args.P)
            transitions.append({"width": width, "start": method, "alpha_t": at,
                                "alpha_t_err": err})
    config = {k: v for k, v in vars(args).items() if k not in ("json", "out", "fresh")}
    config["noise_by_width"] = {str(n): noise_for(args, n) for n in args.widths}
    config["u"] = 2 * args.sigma_a2 * args.P**2 / (100 * args.noise_ref**2)
    payload = {"widths": args.widths, "alphas": args.alphas, "P": args.P,
               "rhat_target": args.rhat_target,
               "accuracy_level": level, "points": points, "baselines": base,
               "transitions": transitions,
               "seed_settings": {str(n): seed_setting(args, n) for n in args.widths}}
    fig = figure(jsonable(payload), args.P)
    record = write_experiment(out, NAME, payload, config=config, seed=args.seed,
                              figures={NAME: fig}, wall_time=time.time() - t0)
    if args.json:
        print(json.dumps(record))
    else:
        print(f"wrote {out / (NAME + '.json')} and {out / (NAME + '.png')}", file=sys.stderr)
        for t in transitions:
            print(json.dumps(t), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
