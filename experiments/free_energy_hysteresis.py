"""Branch selection by the free energy along a modular-addition sweep in alpha (issue 15, item 3,
check (c)).

Runs `meanfield.grokking_sweep(..., free_energy=True)` (both continuation sweeps, F of every
usable point by the replica-exchange ladder with its equilibrium check) and writes a table,
`free_energy_hysteresis.json` (and `.md`): per alpha the two sweeps' test accuracies, F, error bars, the
verdict (`GrokkingSweep.free_energy_gap`) and whether each cloud is the law of its own
background. Where the sweeps differ (hysteresis) and both clouds pass the check, the F crossing
is reported against the two spinodals (the last alpha of the up sweep still on its branch and
the first of the down sweep); where a cloud fails it the crossing is not defined and the table
says so.

Usage:  python experiments/free_energy_hysteresis.py [--P 11] [--N 100] [--sigma2 0.015]
            [--alphas 0.8,0.9,1.0] [--particles 1024] [--levels 8] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import meanfield as mf


def table(res):
    rows = []
    for a, ru, rd, g in zip(res.alphas, res.branches["up"], res.branches["down"],
                            res.free_energy_gap):
        rows.append({"alpha": a,
                     "test_accuracy_up": ru.get("test_accuracy"),
                     "test_accuracy_down": rd.get("test_accuracy"),
                     "specialised_up": ru.get("specialised_fraction"),
                     "specialised_down": rd.get("specialised_fraction"),
                     "F_up": ru.get("free_energy"), "F_up_stderr": ru.get("free_energy_stderr"),
                     "F_down": rd.get("free_energy"),
                     "F_down_stderr": rd.get("free_energy_stderr"),
                     "log_z_up": ru.get("free_energy_log_z"),
                     "log_z_down": rd.get("free_energy_log_z"),
                     "equilibrated_up": ru.get("free_energy_equilibrated"),
                     "equilibrated_down": rd.get("free_energy_equilibrated"),
                     **{k: g[k] for k in ("delta_F", "stderr", "kernel_distance", "same_branch",
                                          "selected")}})
    return rows


def crossing(res, rows):
    """The F crossing against the spinodals where the sweeps differ and every cloud passes."""
    hyst = list(res.hysteresis_alphas)
    if not hyst:
        return {"status": "no hysteresis in this sweep (hysteresis_alphas is empty)"}
    inside = [r for r in rows if r["alpha"] in hyst]
    if any(r["selected"] == "not_equilibrated" or r["delta_F"] is None for r in inside):
        return {"status": "F undefined inside the hysteresis range (a cloud is not the law of "
                          "its own background)", "hysteresis_alphas": hyst}
    a = np.asarray([r["alpha"] for r in inside])
    d = np.asarray([r["delta_F"] for r in inside])
    e = np.asarray([r["stderr"] for r in inside])
    c = mf.crossing(a, d, e)
    return {"status": "ok", "hysteresis_alphas": hyst, "spinodal_low": float(a.min()),
            "spinodal_high": float(a.max()), "crossing": list(c)}


def markdown(result) -> str:
    """The table of a result (one row per alpha) and the crossing verdict, as markdown."""
    def f(v, fmt):
        return "" if v is None else format(v, fmt)

    lines = [f"Branch selection by F: P = {result['P']}, N = {result['N']:g}, sigma^2 = "
             f"{result['sigma2']:g}, {result['particles']} particles, "
             f"{result['wall_time_s']:.0f} s.", "",
             "| alpha | test acc up | test acc down | specialised up / down | F up | F down | "
             "delta F = F_up - F_down | cloud = law of its background (up / down) | "
             "kernel distance | verdict |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in result["rows"]:
        lines.append(
            f"| {r['alpha']:g} | {f(r['test_accuracy_up'], '.3f')} | "
            f"{f(r['test_accuracy_down'], '.3f')} | {f(r['specialised_up'], '.3f')} / "
            f"{f(r['specialised_down'], '.3f')} | {f(r['F_up'], '.4g')} ± "
            f"{f(r['F_up_stderr'], '.2g')} | {f(r['F_down'], '.4g')} ± "
            f"{f(r['F_down_stderr'], '.2g')} | {f(r['delta_F'], '.4g')} ± "
            f"{f(r['stderr'], '.2g')} | {r['equilibrated_up']} / {r['equilibrated_down']} | "
            f"{f(r['kernel_distance'], '.3f')} | {r['selected']} |")
    lines += ["", "Crossing: " + json.dumps(result["crossing"])]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--P", type=int, default=11)
    p.add_argument("--N", type=float, default=100.0)
    p.add_argument("--sigma2", type=float, default=0.015)
    p.add_argument("--alphas", default="0.8,0.9,1.0")
    p.add_argument("--particles", type=int, default=1024)
    p.add_argument("--levels", type=int, default=8)
    p.add_argument("--out", default="results/free_energy_hysteresis")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    solver = mf.default_grokking_solver(n_particles=args.particles, n_levels=args.levels)
    res = mf.grokking_sweep(args.P, [float(a) for a in args.alphas.split(",")], width=args.N,
                            noise=args.sigma2, solver=solver, baselines=False,
                            free_energy=True, progress=True)
    rows = table(res)
    result = {"P": args.P, "N": args.N, "sigma2": args.sigma2, "particles": args.particles,
              "rows": rows, "crossing": crossing(res, rows),
              "wall_time_s": time.perf_counter() - t0}
    (out / "free_energy_hysteresis.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "free_energy_hysteresis.md").write_text(markdown(result))
    for r in rows:
        print(json.dumps(r))
    print(json.dumps(result["crossing"]))


if __name__ == "__main__":
    main()
