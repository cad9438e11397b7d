"""`meanfield grokking ...`: the modular-addition (grokking) commands.

`meanfield grokking theory` scans the reduced full-data theory (`ModularTheory`) over the noise
sigma^2 and prints/writes its phase boundaries. The `grokking` parser holds its own
sub-subcommands so that further ones (a general-solver `sweep`) can register next to `theory`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np


def add_command(sub) -> None:
    """Register `grokking` (with its sub-subcommands) on the top-level subparsers `sub`."""
    fmt = argparse.ArgumentDefaultsHelpFormatter
    g = sub.add_parser(
        "grokking", formatter_class=fmt, help="modular addition: reduced theories and sweeps",
        description="Grokking on modular addition (Rubin, Seroussi & Ringel, ICLR 2024).")
    gsub = g.add_subparsers(dest="grokking_command", metavar="SUBCOMMAND",
                            parser_class=type(g))
    g.set_defaults(func=lambda args: _missing(g))
    add_theory_command(gsub)


def _missing(parser) -> int:
    parser.print_help(sys.stderr)
    return 2


def add_theory_command(gsub) -> None:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = gsub.add_parser(
        "theory", formatter_class=fmt,
        help="scan the full-data reduced theory over sigma^2; print its phase boundaries",
        description="Solve the full-data (alpha = 1) mean-field theory of modular addition with "
                    "phi(z) = z^2 in its Fourier reduction (meanfield.ModularTheory) at each "
                    "noise sigma^2 of a geometric grid, and locate the phase boundaries: "
                    "sigma2_onset (the specialised/droplet neurons carry half of the kernel on "
                    "the target), sigma2_droplets (droplet fraction reaches --f-low) and "
                    "sigma2_specialised (it reaches 1 - f_low). With --json prints one JSON "
                    "object; with --out writes theory.json, config.json, arrays.npz and a figure.")
    p.add_argument("--P", type=int, default=11, help="the modulus (odd, >= 3)")
    p.add_argument("--N", type=float, default=100.0, help="network width N")
    p.add_argument("--sigma-a2", type=float, default=1.0,
                   help="read-out prior variance sigma_a^2 (a ~ N(0, sigma_a^2/N))")
    p.add_argument("--sigma-w2", type=float, default=1.0,
                   help="input prior variance sigma_w^2 (w ~ N(0, sigma_w^2/(2P) I))")
    p.add_argument("--stabiliser", type=float, default=1.0,
                   help="sextic coefficient gamma of Gamma = gamma (|z|^2/d)^3 (whitened z)")
    p.add_argument("--stabiliser-scaling", choices=("whitened", "fixed_u"), default="whitened",
                   help="'whitened': Gamma exactly as LinearisedAction(stabiliser=gamma); "
                        "'fixed_u': Gamma / P^3, the reading in which u = 2 sigma_a^2 P^2/"
                        "(N sigma^4) alone sets the transition at large P")
    p.add_argument("--sigma2-min", type=float, default=None,
                   help="smallest sigma^2 (default: the leading-order onset / 30)")
    p.add_argument("--sigma2-max", type=float, default=None,
                   help="largest sigma^2 (default: 3 x the leading-order onset)")
    p.add_argument("--sigma2-count", type=int, default=25,
                   help="number of sigma^2 values (geometric grid)")
    p.add_argument("--f-low", type=float, default=0.01,
                   help="droplet fraction marking the boundaries (onset at f_low, fully "
                        "specialised at 1 - f_low)")
    p.add_argument("--no-branches", action="store_true",
                   help="skip the GP-only / feature-only branch solves (faster; their free "
                        "energies are then null)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="results folder: theory.json, config.json, arrays.npz, theory.png")
    p.add_argument("--json", action="store_true",
                   help="print exactly one JSON object on stdout (progress goes to stderr)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run_theory)


def _finite(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def run_theory(args) -> int:
    from ._grokking_theory import ModularTheory
    from ._progress import Progress

    try:
        theory = ModularTheory(P=args.P, width=args.N, sigma_a2=args.sigma_a2,
                               stabiliser=args.stabiliser, sigma_w2=args.sigma_w2,
                               scaling=args.stabiliser_scaling, f_low=args.f_low)
    except ValueError as err:
        print(f"meanfield grokking theory: error: {err}", file=sys.stderr)
        return 2
    asym = theory.asymptotic()
    ref = asym["sigma2_onset"] or 1.0 / asym["tau_c"]
    s_max = args.sigma2_max if args.sigma2_max is not None else 3.0 * ref
    s_min = args.sigma2_min if args.sigma2_min is not None else ref / 30.0
    if not (0 < s_min < s_max < math.inf) or args.sigma2_count < 2:
        print(f"meanfield grokking theory: error: need 0 < --sigma2-min < --sigma2-max and "
              f"--sigma2-count >= 2, got {s_min!r}, {s_max!r}, {args.sigma2_count!r}",
              file=sys.stderr)
        return 2
    sigma2s = np.geomspace(s_max, s_min, args.sigma2_count)
    t0 = time.perf_counter()
    prog = Progress(args.sigma2_count, "grokking theory", enabled=not args.quiet)
    scan = theory.scan(sigma2s, progress=prog, branches=not args.no_branches)
    prog.close("done")
    wall = time.perf_counter() - t0

    cols = ("sigma2", "discrepancy", "tau", "kernel_eigenvalue", "m", "g", "droplet_fraction",
            "droplet_radius", "droplet_kernel_share", "free_energy", "free_energy_gp", "free_energy_feature",
            "neuron_free_energy_gp", "neuron_free_energy_droplet", "u")
    per = {c: [_finite(v) for v in scan.column(c)] for c in cols}
    result = {
        "P": args.P, "N": args.N, "sigma_a2": args.sigma_a2, "sigma_w2": args.sigma_w2,
        "stabiliser": args.stabiliser, "stabiliser_scaling": args.stabiliser_scaling,
        "sigma2_onset": _finite(scan.sigma2_onset),
        "sigma2_specialised": _finite(scan.sigma2_specialised),
        "sigma2_droplets": _finite(scan.sigma2_droplets),
        "sigma2_coexistence": _finite(scan.sigma2_coexistence),
        "sigma2_gp_spinodal": _finite(scan.sigma2_gp_spinodal),
        "asymptotic": {k: _finite(v) for k, v in scan.asymptotic.items()},
        "u_onset": _finite(theory.u(scan.sigma2_onset)) if scan.sigma2_onset else None,
        "sigma2": per["sigma2"],
        "discrepancy_amplitude": per["discrepancy"],
        "droplet_fraction": per["droplet_fraction"],
        "per_sigma2": per,
        "wall_time_s": wall,
    }
    if args.out:
        from ._results import write_experiment

        fig = plot_theory_scan(scan, title=f"modular addition P={args.P}, N={args.N:g}, "
                               f"gamma={args.stabiliser:g} ({args.stabiliser_scaling})")
        config = {k: v for k, v in vars(args).items() if k not in ("func",)}
        rec = write_experiment(args.out, "theory", result, config=config, seed=None,
                               figures={"theory": fig},
                               arrays={c: scan.column(c) for c in cols}, wall_time=wall)
        result["files"] = [f"{args.out}/{f}" for f in rec["files"]]
        import matplotlib.pyplot as plt

        plt.close(fig)
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        print(f"sigma2_onset:        {result['sigma2_onset']}")
        print(f"sigma2_droplets:     {result['sigma2_droplets']}")
        print(f"sigma2_specialised:  {result['sigma2_specialised']}")
        print(f"sigma2_coexistence:  {result['sigma2_coexistence']}")
        print(f"leading order:       {result['asymptotic']}")
        for s2, t, f in zip(per["sigma2"], per["discrepancy"], per["droplet_fraction"]):
            print(f"  sigma2={s2:.4g}  discrepancy={t:.4f}  droplet_fraction={f:.4f}")
        if args.out:
            print("files: " + ", ".join(result["files"]))
    return 0


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
