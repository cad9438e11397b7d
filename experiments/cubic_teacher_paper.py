"""The cubic teacher at the paper's parameters: where does `CubicTeacherTheory` put the transition?

Rubin, Seroussi & Ringel (ICLR 2024, section 3.1 and App. C) train erf students on
y = He_1(w*.x) + eps He_3(w*.x) with N = 700, n = 3000, d = 150, sigma_w^2 = 0.5,
sigma_a^2 = 8/N, eps = -0.3 and report a transition at sigma^2 ~= 0.18, i.e. at the effective
interaction u = n^2 sigma_a^2 / (sigma^4 d N) ~= 30.2 ("u_c(eps = -0.3) ~= 30.2"; saddles at
rho = w.w* ~= +-1). Their sigma_a^2 is ours (`sigma_a2`; a ~ N(0, sigma_a^2/N) in both).

This script solves our continuum theory at exactly those parameters, for the paper's truncation
(n_hermite = 2) and for converged continuum readings (n_hermite = 4, 6):

* a scan in sigma^2 (from high noise down, each solve continued from the previous solution; every
  self-consistent solution found is kept, to look for coexistence / a first-order switch);
* two boundaries by bisection (`CubicTeacherTheory.sigma2_transition`):
  "peaks" -- side peaks of p(rho) appear (GFL -> GMFL-I, the spinodal of the side saddles), and
  "share" -- the side peaks carry half of the learned signal t.M.t (the side saddles matter);
* the same boundaries along the paper's joint limit with alpha = beta (N -> beta N,
  d -> sqrt(beta) d, sigma_a^2 -> sigma_a^2/sqrt(beta), n -> beta n, sigma^2 fixed: u fixed),
  since the paper's u_c is a beta -> infinity statement.

Writes cubic_teacher_paper.json / .png (discrepancy components, side-peak share and mass,
side-peak position against sigma^2, the paper's sigma^2 = 0.18 marked) and config.json into --out;
--json prints the record as one JSON object on stdout. Progress goes to stderr.

Usage:  python experiments/cubic_teacher_paper.py [--out DIR] [--json] [--small]
"""

import argparse
import dataclasses
import itertools
import json
import math
import sys
import time

import numpy as np

import meanfield as mf
from meanfield._misc import Progress
from meanfield._io.results import jsonable, write_experiment

TICK = itertools.count(1)
PAPER = {"sigma2_c": 0.18, "u_c": 30.2, "side_rho": 1.0,
         "source": "Rubin, Seroussi & Ringel, ICLR 2024, sec. 3.1 (Claims I, IV), sec. 3.1.1, App. C"}


def theory(args, n_hermite, beta=1.0, sigma2=0.2):
    """The paper's experiment scaled along the alpha = beta limit (beta = 1: as published)."""
    return mf.CubicTeacherTheory(
        d=int(round(args.d * math.sqrt(beta))), width=args.width * beta, eps=args.eps,
        sigma2=sigma2, sigma_a2=args.sigma_a2_tilde / args.width / math.sqrt(beta),
        sigma_w2=args.sigma_w2, n_rho=args.n_rho, n_hermite=n_hermite)


def point_record(th, n, pt):
    return {"sigma2": th.sigma2, "u": th.control_parameter(n), "phase": pt.phase,
            "discrepancy_he1": pt.discrepancy[0], "discrepancy_he3": pt.discrepancy[1],
            "side_share": pt.side_share, "side_mass": pt.side_mass,
            "side_rho": None if math.isnan(pt.side_rho) else pt.side_rho,
            "side_log_ratio": None if math.isnan(pt.side_log_ratio) else pt.side_log_ratio,
            "free_energy": pt.free_energy, "overlap_var": pt.overlap_var}


def scan(args, n_hermite, prog):
    """sigma^2 from high to low, continued; then low to high (hysteresis check)."""
    grid = np.linspace(args.sigma2_max, args.sigma2_min, args.num)
    n = args.n
    rows, prev = {}, None
    for sweep, order in (("down", grid), ("up", grid[::-1])):
        for s2 in order:
            th = theory(args, n_hermite, sigma2=float(s2))
            starts = [np.asarray(prev[1]) * prev[0] / s2] if prev is not None else None
            sols = sorted(th.solve(n, starts), key=lambda p: p.free_energy)
            prev = (s2, sols[0].t)
            key = round(float(s2), 10)
            entry = rows.setdefault(key, {"solutions": []})
            for p in sols:
                if not any(abs(p.free_energy - q["free_energy"]) < 1e-6 * abs(p.free_energy)
                           for q in entry["solutions"]):
                    entry["solutions"].append(point_record(th, n, p))
            prog.update(next(TICK), f"n_hermite={n_hermite} {sweep} sigma2={s2:.4f} "
                                          f"{sols[0].phase} share={sols[0].side_share:.3f}")
    out = []
    for key in sorted(rows, reverse=True):
        sols = sorted(rows[key]["solutions"], key=lambda r: r["free_energy"])
        out.append({**sols[0], "n_solutions": len(sols), "others": sols[1:]})
    return out


def transitions(args, n_hermite, beta, prog):
    th = theory(args, n_hermite, beta)
    n = args.n * beta
    res = {"beta": beta, "d": th.d, "width": th.width, "n": n, "sigma_a2": th.sigma_a2}
    for crit in ("peaks", "share"):
        t0 = time.perf_counter()
        s2 = th.sigma2_transition(n, args.sigma2_min, args.sigma2_max, criterion=crit,
                                  xtol=args.xtol)
        below = dataclasses.replace(th, sigma2=s2 - args.xtol).best(n)
        u = dataclasses.replace(th, sigma2=s2).control_parameter(n)
        res[crit] = {"sigma2_c": s2, "u_c": u,
                     "gap_sigma2_pct": 100 * (s2 - PAPER["sigma2_c"]) / PAPER["sigma2_c"],
                     "gap_u_pct": 100 * (u - PAPER["u_c"]) / PAPER["u_c"],
                     "just_below": point_record(dataclasses.replace(th, sigma2=s2 - args.xtol),
                                                n, below),
                     "seconds": time.perf_counter() - t0}
        prog.update(next(TICK), f"n_hermite={n_hermite} beta={beta} {crit}: "
                                      f"sigma2_c={s2:.4f} u_c={u:.2f}")
    return res


def figure(record):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 3, figsize=(15, 4.4))
    colors = {2: "C0", 4: "C1", 6: "C2"}
    for reading in record["readings"]:
        nh = reading["n_hermite"]
        c = colors.get(nh, "k")
        s2 = np.array([r["sigma2"] for r in reading["scan"]])
        lab = f"n_hermite={nh}" + (" (paper)" if nh == 2 else "")
        axs[0].plot(s2, [r["discrepancy_he1"] for r in reading["scan"]], "-", color=c, label=f"He1, {lab}")
        axs[0].plot(s2, [r["discrepancy_he3"] for r in reading["scan"]], "--", color=c, label=f"He3, {lab}")
        axs[1].plot(s2, [r["side_share"] for r in reading["scan"]], "-", color=c, label=f"side share, {lab}")
        axs[1].plot(s2, [r["side_mass"] for r in reading["scan"]], ":", color=c, label=f"side mass, {lab}")
        rho = [r["side_rho"] if r["side_rho"] is not None else np.nan for r in reading["scan"]]
        axs[2].plot(s2, rho, "-", color=c, label=lab)
        b1 = [t for t in reading["transitions"] if t["beta"] == 1.0][0]
        for ax in axs:
            ax.axvline(b1["peaks"]["sigma2_c"], color=c, ls="-.", lw=0.8)
            ax.axvline(b1["share"]["sigma2_c"], color=c, ls=(0, (1, 3)), lw=1.2)
    for ax in axs:
        ax.axvline(PAPER["sigma2_c"], color="r", lw=2, alpha=0.5, label="paper sigma^2 = 0.18")
        ax.set_xlabel(f"sigma^2   (u = {record['u_at_paper_sigma2'] * PAPER['sigma2_c']**2:.4f} / sigma^4)")
        ax.invert_xaxis()
    axs[0].set_ylabel("sigma^2 t_k / y_k (unlearned fraction)")
    axs[0].set_title("discrepancy components (lowest-F solution)")
    axs[1].set_ylabel("share / mass")
    axs[1].set_title("side peaks of p(rho): signal share, mass\n(dash-dot: peaks appear; dotted: share = 1/2)")
    axs[2].set_ylabel("|rho| of the side peak")
    axs[2].axhline(PAPER["side_rho"], color="r", lw=1, alpha=0.5, label="paper: rho ~ 1")
    axs[2].set_title("side-peak position (GMFL-I)")
    for ax in axs:
        ax.legend(fontsize=7)
    fig.suptitle(f"cubic teacher, paper's parameters (d=150, N=700, n=3000, eps=-0.3, "
                 f"sigma_w^2=0.5, sigma_a^2=8/N)")
    fig.tight_layout()
    return fig


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--out", default=None, help="results folder (JSON, PNG, config); none: no files")
    ap.add_argument("--json", action="store_true", help="print the record as one JSON object on stdout")
    ap.add_argument("--small", action="store_true", help="tiny run (seconds): coarse scan, n_hermite=2, beta=1")
    ap.add_argument("--d", type=int, default=150, help="input dimension (paper: 150)")
    ap.add_argument("--width", type=float, default=700.0, help="hidden width N (paper: 700)")
    ap.add_argument("--n", type=float, default=3000.0, help="training points (paper: 3000)")
    ap.add_argument("--eps", type=float, default=-0.3, help="He_3 strength (paper: -0.3)")
    ap.add_argument("--sigma-w2", dest="sigma_w2", type=float, default=0.5, help="input-weight prior variance x d")
    ap.add_argument("--sigma-a2-tilde", dest="sigma_a2_tilde", type=float, default=8.0,
                    help="sigma_a^2 = this / N (paper: 8/N)")
    ap.add_argument("--sigma2-min", dest="sigma2_min", type=float, default=0.10, help="scan / bracket low end")
    ap.add_argument("--sigma2-max", dest="sigma2_max", type=float, default=0.30, help="scan / bracket high end")
    ap.add_argument("--num", type=int, default=25, help="scan points in sigma^2")
    ap.add_argument("--n-hermite", dest="n_hermite", type=int, nargs="+", default=[2, 4, 6],
                    help="readings: odd Hermite orders kept (2 = the paper's truncation)")
    ap.add_argument("--betas", type=float, nargs="+", default=[1.0, 4.0, 16.0],
                    help="joint-limit factors (alpha = beta) at which to locate the boundaries")
    ap.add_argument("--n-rho", dest="n_rho", type=int, default=2001, help="grid points in rho")
    ap.add_argument("--xtol", type=float, default=5e-4, help="bisection tolerance in sigma^2")
    args = ap.parse_args(argv)
    if args.small:
        args.num, args.n_hermite, args.betas, args.xtol = 5, [2], [1.0], 5e-3
    t0 = time.perf_counter()
    total = len(args.n_hermite) * (2 * args.num + 2 * len(args.betas))
    prog = Progress(total, "cubic teacher (paper parameters)")
    readings = []
    for nh in args.n_hermite:
        rows = scan(args, nh, prog)
        trans = [transitions(args, nh, b, prog) for b in args.betas]
        readings.append({"n_hermite": nh, "scan": rows, "transitions": trans,
                         "coexistence": [r["sigma2"] for r in rows if r["n_solutions"] > 1]})
    prog.close("done")
    base = theory(args, 2, sigma2=PAPER["sigma2_c"])
    record = {"paper": PAPER, "u_at_paper_sigma2": base.control_parameter(args.n),
              "readings": readings}
    wall = time.perf_counter() - t0
    record["wall_time_s"] = wall
    config = {k: v for k, v in vars(args).items() if k not in ("out", "json")}
    if args.out:
        fig = figure(record)
        write_experiment(args.out, "cubic_teacher_paper", record, config=config,
                         figures={"cubic_teacher_paper": fig}, wall_time=wall)
    if args.json:
        print(json.dumps(jsonable({**record, "config": config}), allow_nan=False))
    for r in readings:
        for t in r["transitions"]:
            print(f"n_hermite={r['n_hermite']} beta={t['beta']:g}: "
                  f"peaks sigma2_c={t['peaks']['sigma2_c']:.4f} (u={t['peaks']['u_c']:.2f}), "
                  f"share sigma2_c={t['share']['sigma2_c']:.4f} (u={t['share']['u_c']:.2f}, "
                  f"side rho={t['share']['just_below']['side_rho']})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
