"""Grokking in training time: AdamW on the network of the Langevin ground truth (issue 8, item 3).

The network is the one `experiments/grokking_langevin.py` samples, in the same (Bayesian,
"ntk") parameterisation, trained with `meanfield.train(..., parameterisation="ntk",
optimizer="adamw")`:

    f_p(x) = sqrt(sigma_a2/N) sum_i ahat_ip phi(sqrt(sigma_w2/d) zhat_i . x),   phi(z) = z^2,

on `modular_addition(P, alpha, seed=0)`, loss 0.5 mean_mu |f(x_mu) - y_mu|^2, whitened
parameters initialised from the prior N(0, 1), and decoupled weight decay lambda (optax.adamw:
theta <- theta - lr (adam_direction + lambda theta)). The posterior of the Langevin runs is the
Gibbs law of the same loss at temperature sigma^2/n with L2 strength sigma^2/n on the whitened
weights (prior-matched decay lambda_prior = sigma^2/n ~ 1e-4 here), and without the sextic
stabiliser (which only matters for the width of the neuron law, not for the minimiser). With
lambda_prior the decay acts on a time scale 1/(lr lambda) ~ 1e6 steps, far beyond what is
affordable, so the default decay is larger (0.1); `--weight-decays` takes a list, and the
token `prior` means sigma^2/n at each alpha (with sigma^2 = noise_ref sqrt(100/N)).

Recorded per (N, alpha, weight decay, seed): test and train accuracy and loss every
`--record-every` steps; the "grok step", the first recorded step with test accuracy >= 0.9, and
the step where the training accuracy first reaches 1 (memorisation); the final accuracies. Per
(N, weight decay) the alpha where the final test accuracy (seed mean) crosses (1/P + 1)/2.

Usage:
    nice -n 5 python experiments/grokking_training.py [--out DIR] [--json] [--small] [options]

Writes OUT/grokking_training.json (`meanfield._io.results.write_experiment`) and
OUT/grokking_training.png; finished runs are saved under OUT/runs/ and reused by a rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
os.environ.setdefault("JAX_CPU_ENABLE_ASYNC_DISPATCH", "false")

import numpy as np  # noqa: E402

import meanfield as mf  # noqa: E402
from meanfield._misc import Progress  # noqa: E402
from meanfield._io.results import jsonable, write_experiment, write_text  # noqa: E402

HERE = Path(__file__).resolve().parent
NAME = "grokking_training"
sys.path.insert(0, str(HERE))
from grokking_langevin import transition  # noqa: E402
from meanfield._apps.grokking.transition import accuracy_midpoint  # noqa: E402


def _floats(text):
    return [float(t) for t in text.split(",") if t.strip()]


def _ints(text):
    return [int(t) for t in text.split(",") if t.strip()]


def _decays(text):
    out = []
    for t in text.split(","):
        t = t.strip()
        if t:
            out.append("prior" if t == "prior" else float(t))
    return out


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default=str(HERE.parent / "results" / NAME), help="results folder")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--small", action="store_true", help="tiny run (P=5, N=16, 2 alphas)")
    p.add_argument("--fresh", action="store_true", help="recompute runs already saved")
    p.add_argument("--P", type=int, default=11, help="the modulus")
    p.add_argument("--widths", type=_ints, default=[50, 100, 200], help="widths N")
    p.add_argument("--alphas", type=_floats,
                   default=[0.3, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95],
                   help="training fractions alpha")
    p.add_argument("--weight-decays", type=_decays, default=[0.1],
                   help="decoupled AdamW decays; 'prior' = sigma^2/n")
    p.add_argument("--noise-ref", type=float, default=0.015,
                   help="sigma^2 at N = 100 (only for the 'prior' decay)")
    p.add_argument("--seeds", type=_ints, default=[0, 1], help="initialisation seeds")
    p.add_argument("--learning-rate", type=float, default=3e-3, help="AdamW learning rate")
    p.add_argument("--steps", type=int, default=30000, help="optimisation steps")
    p.add_argument("--record-every", type=int, default=250, help="steps between records")
    args = p.parse_args(argv)
    if args.small:
        args.P, args.widths, args.alphas, args.seeds = 5, [16], [0.5, 0.9], [0]
        args.steps, args.record_every = 400, 50
    if args.P < 3 or args.P % 2 == 0:
        p.error(f"--P must be an odd integer >= 3, got {args.P}")
    return args


def first_step(steps, values, level):
    hit = np.flatnonzero(np.asarray(values) >= level)
    return int(steps[hit[0]]) if hit.size else None


def run_one(args, width, alpha, decay, seed):
    task = mf.modular_addition(args.P, alpha, seed=0)
    lam = args.noise_ref * float(np.sqrt(100.0 / width)) / task.train.n if decay == "prior" \
        else decay
    t0 = time.time()
    r = mf.train(task, mf.Quadratic(), width=width, parameterisation="ntk", optimizer="adamw",
                 learning_rate=args.learning_rate, weight_decay=lam, n_steps=args.steps,
                 record_every=args.record_every, key=seed)
    return {
        "width": width, "alpha": alpha, "weight_decay": decay, "lambda": lam, "seed": seed,
        "n_train": task.train.n, "n_test": task.test.n, "wall_time_s": time.time() - t0,
        "grok_step": first_step(r.steps, r.test_accuracies, 0.9),
        "memorise_step": first_step(r.steps, r.train_accuracies, 1.0 - 1e-9),
        "final_test_accuracy": float(r.test_accuracies[-1]),
        "final_train_accuracy": float(r.train_accuracies[-1]),
        "final_train_loss": float(r.train_losses[-1]), "final_test_loss": float(r.test_losses[-1]),
        "steps": r.steps, "test_accuracy": r.test_accuracies,
        "train_accuracy": r.train_accuracies, "train_loss": r.train_losses,
    }


def figure(result, P):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = result["runs"]
    width0 = 100 if 100 in result["widths"] else result["widths"][0]
    decay0 = result["weight_decays"][0]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    cmap = plt.get_cmap("viridis")
    alphas = result["alphas"]
    for j, alpha in enumerate(alphas):
        rs = [r for r in runs if r["width"] == width0 and r["alpha"] == alpha
              and r["weight_decay"] == decay0 and r["seed"] == result["seeds"][0]]
        for r in rs:
            axes[0].plot(r["steps"], r["test_accuracy"], color=cmap(j / max(1, len(alphas) - 1)),
                         label=f"alpha={alpha:g}")
            axes[0].plot(r["steps"], r["train_accuracy"], color=cmap(j / max(1, len(alphas) - 1)),
                         ls=":", lw=0.8)
    axes[0].set(xlabel="AdamW step", ylabel="accuracy (solid test, dotted train)",
                title=f"N={width0}, weight decay {decay0}, seed {result['seeds'][0]}")
    axes[0].legend(fontsize=6)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = ["-", "--", ":", "-."]
    for i, width in enumerate(result["widths"]):
        for k, decay in enumerate(result["weight_decays"]):
            acc, grok, grok_a = [], [], []
            for alpha in alphas:
                rs = [r for r in runs if r["width"] == width and r["alpha"] == alpha
                      and r["weight_decay"] == decay]
                acc.append(np.mean([r["final_test_accuracy"] for r in rs]))
                g = [r["grok_step"] for r in rs if r["grok_step"] is not None]
                if len(g) == len(rs) and g:
                    grok.append(np.mean(g))
                    grok_a.append(alpha)
            lab = f"N={width}, wd={decay}"
            axes[1].plot(alphas, acc, color=colours[i], ls=styles[k % 4], marker="o", ms=3,
                         label=lab)
            axes[2].plot(grok_a, grok, color=colours[i], ls=styles[k % 4], marker="o", ms=3,
                         label=lab)
    axes[1].axhline((1 + 1 / P) / 2, color="grey", lw=0.5)
    axes[1].set(xlabel="training fraction alpha", ylabel="final test accuracy (seed mean)",
                title="after training")
    axes[2].set(xlabel="training fraction alpha", ylabel="grok step (test acc >= 0.9)",
                yscale="log", title="grokking time (all seeds grokked)")
    axes[1].legend(fontsize=6)
    axes[2].legend(fontsize=6)
    fig.tight_layout()
    return fig


def main(argv=None) -> int:
    args = parse(argv)
    out = Path(args.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    todo = [(n, a, wd, s) for n in args.widths for wd in args.weight_decays
            for a in args.alphas for s in args.seeds]
    bar = Progress(len(todo), "grokking-training runs")
    runs = []
    for i, (width, alpha, decay, seed) in enumerate(todo):
        key = {"P": args.P, "width": width, "alpha": alpha, "decay": decay, "seed": seed,
               "lr": args.learning_rate, "steps": args.steps, "record": args.record_every,
               "noise_ref": args.noise_ref}
        path = out / "runs" / f"N{width}_a{alpha:.4f}_wd{decay}_s{seed}.json"
        rec = None
        if path.exists() and not args.fresh:
            saved = json.loads(path.read_text())
            if saved.get("key") == jsonable(key):
                rec = saved["run"]
        if rec is None:
            rec = jsonable(run_one(args, width, alpha, decay, seed))
            write_text(path, json.dumps({"key": jsonable(key), "run": rec}) + "\n")
        runs.append(rec)
        bar.update(i + 1, f"N={width} alpha={alpha:g} wd={decay} seed={seed}: grok step "
                          f"{rec['grok_step']} final test acc {rec['final_test_accuracy']:.2f}")
    bar.close()
    level = accuracy_midpoint(args.P)
    table = []
    for width in args.widths:
        for decay in args.weight_decays:
            accs, ses = [], []
            row = {"width": width, "weight_decay": decay, "alphas": args.alphas,
                   "final_test_accuracy": [], "grok_step_mean": [], "grokked_seeds": []}
            for alpha in args.alphas:
                rs = [r for r in runs if r["width"] == width and r["alpha"] == alpha
                      and r["weight_decay"] == decay]
                a = np.array([r["final_test_accuracy"] for r in rs])
                accs.append(a.mean())
                ses.append(a.std(ddof=1) / np.sqrt(a.size) if a.size > 1 else 0.0)
                g = [r["grok_step"] for r in rs if r["grok_step"] is not None]
                row["final_test_accuracy"].append(float(a.mean()))
                row["grok_step_mean"].append(float(np.mean(g)) if g else None)
                row["grokked_seeds"].append(f"{len(g)}/{len(rs)}")
            row["alpha_t"], row["alpha_t_err"] = transition(args.alphas, accs, args.P, ses)
            table.append(row)
    config = {k: v for k, v in vars(args).items() if k not in ("json", "out", "fresh")}
    payload = {"widths": args.widths, "alphas": args.alphas, "weight_decays": args.weight_decays,
               "seeds": args.seeds, "P": args.P, "accuracy_level": level, "table": table,
               "runs": runs}
    fig = figure(jsonable(payload), args.P)
    record = write_experiment(out, NAME, payload, config=config, seed=args.seeds,
                              figures={NAME: fig}, wall_time=time.time() - t0)
    if args.json:
        print(json.dumps(record))
    else:
        print(f"wrote {out / (NAME + '.json')} and {out / (NAME + '.png')}", file=sys.stderr)
        for row in table:
            print(json.dumps({k: row[k] for k in ("width", "weight_decay", "alpha_t",
                                                  "alpha_t_err", "grok_step_mean")}),
                  file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
