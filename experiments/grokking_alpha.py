"""Predicted against measured alpha_c for grokking on modular addition (issue 8, "Done when").

Reads the results folders of

* `meanfield grokking sweep --out DIR` (the mean-field prediction: one folder per setting), and
* `python experiments/grokking_langevin.py --out DIR` (finite-width Langevin ensembles, with the
  NNGP/NTK baselines), optionally `python experiments/grokking_training.py --out DIR` (AdamW),

and writes one table (markdown, and JSON) of alpha_c with error bars, and one figure of test
accuracy against alpha with every curve on the same axes. It runs no solver: every alpha_c of the
table is recomputed here from the recorded accuracy curves by the library's one rule
(`meanfield._apps.grokking.transition`: first rising crossing of (1/P + 1)/2), the same for the
mean field, the Langevin ensembles and the baselines; where that differs from the value stored in
a record, both are printed on stderr.

Usage:
    python experiments/grokking_alpha.py --mf DIR [DIR ...] --langevin DIR [DIR ...]
        [--training DIR] --out OUT

To regenerate the inputs (2-core CPU, about 10-30 min each):
    meanfield grokking sweep --P 11 --N 100 --sigma2 0.015 --alphas 0.7,0.75,0.8,0.85,0.9,0.95,1 --out R/mf_N100
    meanfield grokking sweep --P 11 --N 400 --sigma2 0.0075 --alphas 0.7,0.75,0.8,0.85,0.9,0.95,1 --out R/mf_N400
    python experiments/grokking_langevin.py --out R/langevin
    python experiments/grokking_training.py --out R/training
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from meanfield._apps.grokking.transition import (
    RHAT_TARGET, accuracy_transition, chains_mixed, mixed_transition, sweep_transition,
)


def _load(folder, name):
    """The record `name`.json in a results folder, or the JSON file `folder` itself (e.g. a
    recorded copy under docs/recorded/grokking/)."""
    path = Path(folder)
    if not (path.suffix == ".json" and path.is_file()):
        path = path / f"{name}.json"
    if not path.is_file():
        raise SystemExit(f"error: {path} not found (run the command that writes it first)")
    return json.loads(path.read_text())


def _fmt(v, e):
    return "none in range" if v is None else f"{v:.3f} ± {e:.3f}"


def _compare_stored(folder, what, stored, recomputed):
    same = (stored is None and recomputed is None) or (
        stored is not None and recomputed is not None and abs(stored - recomputed) < 5e-4)
    if not same:
        print(f"{folder}: {what}: alpha_c recorded {stored}, by the one rule {recomputed}",
              file=sys.stderr)


def _steps(point, d):
    """MALA steps per chain behind a Langevin point (records before --extend: the config's)."""
    c = d["config"]
    return point.get("total_steps", c["warmup"] + c["samples"] * c["thin"])


def _langevin_transition(d, width, start, rhat_target=RHAT_TARGET):
    """alpha_t of one Langevin (or baseline) curve of a grokking_langevin record, recomputed from
    the points whose chains have mixed (`chains_mixed`: every split R-hat < rhat_target; the
    others count as missing); also from all points, and the alphas left out."""
    if start in ("prior", "fourier"):
        pts = [q for q in d["points"] if q["width"] == width and q["start"] == start]
        c, c_all, left = mixed_transition(pts, d["P"], rhat_target=rhat_target)
        return {"alpha_t": c.value, "alpha_t_err": c.error,
                "alpha_t_all_points": c_all.value, "alpha_t_all_points_err": c_all.error,
                "unmixed_alphas": left, "n_points": len(pts),
                "rhat_max": max(max(q["rhat"].values()) for q in pts) if pts else None,
                "steps_max": max(_steps(q, d) for q in pts) if pts else None}
    else:
        bs = sorted((b for b in d["baselines"] if b["width"] == width and b[start]),
                    key=lambda b: b["alpha"])
        c = accuracy_transition([b["alpha"] for b in bs],
                                [b[start]["test_accuracy"] for b in bs], d["P"])
    return {"alpha_t": c.value, "alpha_t_err": c.error}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mf", nargs="+", default=[], help="grokking sweep results folders")
    p.add_argument("--langevin", nargs="*", default=[], help="grokking_langevin folders")
    p.add_argument("--training", nargs="*", default=[], help="grokking_training folders")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--rhat-target", type=float, default=RHAT_TARGET,
                   help="a Langevin point enters a transition only if every split R-hat is "
                        "below this")
    args = p.parse_args(argv)
    if not 1.0 < args.rhat_target < 2.0:
        p.error(f"--rhat-target must lie in (1, 2), e.g. 1.05, got {args.rhat_target}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from meanfield._io.results import write_experiment

    rows, point_rows = [], []
    ringed = False  # one legend entry for the "not mixed" rings
    fig, ax = plt.subplots(figsize=(8, 5))
    P = None
    for i, folder in enumerate(args.mf):
        d = _load(folder, "sweep")
        P = d["P"]
        a = np.asarray(d["alphas"])
        held = a < 1
        lab = f"mean field N={d['N']:g} sigma2={d['sigma2']:g} ({d['action']})"
        ax.plot(a[held], np.asarray(d["test_accuracy"])[held], "o-", color=f"C{i}", lw=2,
                label=lab + " up")
        ax.plot(a[held], np.asarray(d["test_accuracy_down"])[held], "s--", color=f"C{i}",
                lw=2, alpha=0.6, label=lab + " down")
        ac, err, _ = sweep_transition(a, d["test_accuracy"], d["test_accuracy_down"], d["P"])
        _compare_stored(folder, "mean field", d["alpha_c"], ac)
        lb = float(a[held].max()) if held.any() else None
        rows.append({"source": "mean field (particles)", "P": d["P"], "N": d["N"],
                     "sigma2": d["sigma2"], "action": d["action"], "start": "up/down",
                     "alpha_c": ac, "alpha_c_err": err,
                     "note": "" if ac is not None else f"alpha_c > {lb}"})
    styles = {"prior": "-", "fourier": ":"}
    colour = iter(f"C{k}" for k in range(3, 100))  # one colour per (folder, width)
    for folder in args.langevin:
        d = _load(folder, "grokking_langevin")
        P = d["P"]
        noise = d["config"].get("noise_by_width", {})
        for j, width in enumerate(d["widths"]):
            c = next(colour)
            for start in ("prior", "fourier"):
                pts = sorted((q for q in d["points"] if q["width"] == width
                              and q["start"] == start), key=lambda q: q["alpha"])
                if not pts:
                    continue
                ax.errorbar([q["alpha"] for q in pts],
                            [q["test_accuracy_chains_mean"] for q in pts],
                            yerr=[q["test_accuracy_chains_stderr"] or 0 for q in pts],
                            ls=styles[start], color=c, marker=".", capsize=2,
                            label=f"Langevin N={width} ({start} start)")
                bad = [q for q in pts if not chains_mixed(q["rhat"], args.rhat_target)]
                ax.plot([q["alpha"] for q in bad], [q["test_accuracy_chains_mean"] for q in bad],
                        "o", ms=8, mfc="none", color="r", ls="none",
                        label=None if ringed else f"chains not mixed (R-hat >= "
                                                  f"{args.rhat_target:g}): left out of alpha_c")
                ringed = ringed or bool(bad)
                for q in pts:
                    point_rows.append({
                        "P": d["P"], "N": width, "start": start, "alpha": q["alpha"],
                        "test_accuracy": q["test_accuracy_chains_mean"],
                        "test_accuracy_stderr": q["test_accuracy_chains_stderr"],
                        "rhat_potential": q["rhat"]["potential"],
                        "rhat_train_loss": q["rhat"]["train_loss"],
                        "ess_potential": q["ess"]["potential"],
                        "ess_train_loss": q["ess"]["train_loss"],
                        "chains": d["config"]["chains"],
                        "steps": _steps(q, d),
                        "mixed": chains_mixed(q["rhat"], args.rhat_target)})
            for t in d["transitions"]:
                if t["width"] == width:
                    new = _langevin_transition(d, width, t["start"], args.rhat_target)
                    _compare_stored(folder, f"N={width} {t['start']}", t["alpha_t"],
                                    new["alpha_t"])
                    t = {**t, **new}
                    note = "" if t["alpha_t"] is not None else "no crossing below alpha = 1"
                    if t.get("n_points") and not t.get("unmixed_alphas"):
                        note = (f"all {t['n_points']} points mixed (R-hat max "
                                f"{t['rhat_max']:.3f}; {d['config']['chains']} chains x up to "
                                f"{t['steps_max']} steps)" + (f"; {note}" if note else ""))
                    if t.get("unmixed_alphas"):
                        left = ", ".join(f"{a:g}" for a in t["unmixed_alphas"])
                        note = (f"not converged: {len(t['unmixed_alphas'])} of {t['n_points']} "
                                f"points have R-hat >= {args.rhat_target:g} (alpha {left}; max "
                                f"{t['rhat_max']:.2f}), left out")
                        if t["alpha_t"] is None:
                            note += "; too few mixed points to bracket a crossing"
                        if t["alpha_t_all_points"] is not None:
                            note += (f"; all points, unconverged: "
                                     f"{_fmt(t['alpha_t_all_points'], t['alpha_t_all_points_err'])}")
                    rows.append({"source": {"prior": "Langevin", "fourier": "Langevin",
                                            "nngp": "NNGP", "ntk": "NTK"}[t["start"]],
                                 "P": d["P"], "N": width,
                                 "sigma2": noise.get(str(width)), "action": "exact posterior"
                                 if t["start"] in ("prior", "fourier") else t["start"],
                                 "start": t["start"], "alpha_c": t["alpha_t"],
                                 "alpha_c_err": t["alpha_t_err"],
                                 "alpha_c_all_points": t.get("alpha_t_all_points"),
                                 "unmixed_alphas": t.get("unmixed_alphas", []),
                                 "note": note})
        base = sorted((b for b in d["baselines"] if b["width"] == d["widths"][0]),
                      key=lambda b: b["alpha"])
        ax.plot([b["alpha"] for b in base], [b["nngp"]["test_accuracy"] for b in base], "k^:",
                label="NNGP")
        ax.plot([b["alpha"] for b in base if b["ntk"]],
                [b["ntk"]["test_accuracy"] for b in base if b["ntk"]], "kv-.", alpha=0.5,
                label="NTK")
    for folder in args.training:
        d = _load(folder, "grokking_training")
        for t in d["table"]:
            rows.append({"source": "AdamW training", "P": d["P"], "N": t["width"],
                         "sigma2": None, "action": f"weight decay {t['weight_decay']:g}",
                         "start": "", "alpha_c": t["alpha_t"], "alpha_c_err": t["alpha_t_err"],
                         "note": "final test accuracy"})
            ax.plot(t["alphas"], t["final_test_accuracy"], "x-", color="0.6", lw=0.8,
                    label=f"AdamW N={t['width']} (final)")
    if P is not None:
        ax.axhline(0.5 * (1 + 1 / P), color="0.5", lw=0.6)
        ax.axhline(1 / P, color="0.5", lw=0.6, ls=":")
    ax.set(xlabel="training fraction alpha", ylabel="test accuracy", ylim=(-0.03, 1.03),
           title=f"modular addition P={P}: predicted and measured grokking in alpha")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    lines = ["| source | P | N | sigma^2 | action / start | alpha_c | note |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        s2 = "" if r["sigma2"] is None else f"{r['sigma2']:.4g}"
        shown = _fmt(r["alpha_c"], r["alpha_c_err"] or 0.0)
        if r["alpha_c"] is None and r.get("unmixed_alphas"):
            shown = "not measured"  # the chains have not mixed where it would be read off
        lines.append(f"| {r['source']} | {r['P']} | {r['N']} | {s2} | {r['action']} "
                     f"{r['start']} | {shown} | "
                     f"{r['note']} |")
    table = "\n".join(lines)
    plines = [f"Every finite-width Langevin point: split R-hat and ESS (over all chains) of the "
              f"potential and the train loss; 'mixed' = every R-hat < {args.rhat_target:g} "
              f"(only mixed points enter an alpha_c).", "",
              "| P | N | start | alpha | test accuracy | R-hat potential | R-hat train loss | "
              "ESS potential | ESS train loss | chains x steps | mixed |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in point_rows:
        se = r["test_accuracy_stderr"] or 0.0
        plines.append(f"| {r['P']} | {r['N']} | {r['start']} | {r['alpha']:g} | "
                      f"{r['test_accuracy']:.3f} ± {se:.3f} | {r['rhat_potential']:.3f} | "
                      f"{r['rhat_train_loss']:.3f} | {r['ess_potential']:.0f} | "
                      f"{r['ess_train_loss']:.0f} | {r['chains']} x {r['steps']} | "
                      f"{'yes' if r['mixed'] else '**no**'} |")
    points_table = "\n".join(plines)
    out = Path(args.out)
    rec = write_experiment(out, "grokking_alpha", {"rows": rows, "table": table,
                                                   "points": point_rows,
                                                   "points_table": points_table},
                           config=vars(args), figures={"grokking_alpha": fig})
    (out / "table.md").write_text(table + "\n")
    (out / "points.md").write_text(points_table + "\n")
    print(table)
    print("files: " + ", ".join(str(out / f) for f in rec["files"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
