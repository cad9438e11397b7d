"""`meanfield grokking ...`: the modular-addition (grokking) commands.

`meanfield grokking theory` scans the reduced full-data theory (`ModularTheory`) over the noise
sigma^2 and prints/writes its phase boundaries. `meanfield grokking sweep` runs the general
particle solver over the training fraction alpha (`grokking_sweep`) and prints/writes the
predicted alpha_c.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import time

import numpy as np

from .._io.figures import plot_theory_scan
from .._io.results import write_experiment
from .._misc import Progress
from .common import (
    EXIT_OK, EXIT_USAGE, FORMATTER, finite_or_none, float_type, int_type, modular_estimate,
    preflight, scale_type, seed_type, theory_estimate,
)

#: the largest modulus the reduced theories accept: tested up to P = 100001 (the whitened
#: reduction's droplet grid reaches S = 1e13 ~ P^(3/2) far beyond)
MAX_THEORY_P = 100_001
#: the arithmetic errors of a reduced theory pushed to extreme parameters
_ARITHMETIC = (OverflowError, ZeroDivisionError, FloatingPointError)


def add_parser(sub) -> None:
    """Register `grokking` (with its subcommands theory and sweep) on the subparsers `sub`."""
    g = sub.add_parser(
        "grokking", formatter_class=FORMATTER, help="modular addition: reduced theories and sweeps",
        description="Grokking on modular addition (Rubin, Seroussi & Ringel, ICLR 2024).")
    gsub = g.add_subparsers(dest="grokking_command", metavar="SUBCOMMAND",
                            parser_class=type(g))
    g.set_defaults(func=functools.partial(run, parser=g))
    _add_theory_parser(gsub)
    _add_sweep_parser(gsub)


def run(args, parser=None) -> int:
    """Run `meanfield grokking SUBCOMMAND`; without one, print the group's help (`parser`)."""
    if args.grokking_command == "theory":
        return _run_theory(args)
    if args.grokking_command == "sweep":
        return _run_sweep(args)
    if parser is not None:
        parser.print_help(sys.stderr)
    return EXIT_USAGE


def _add_theory_parser(gsub) -> None:
    p = gsub.add_parser(
        "theory", formatter_class=FORMATTER,
        help="scan the full-data reduced theory over sigma^2; print its phase boundaries",
        description="Solve the full-data (alpha = 1) mean-field theory of modular addition with "
                    "phi(z) = z^2 in its Fourier reduction (meanfield.ModularTheory) at each "
                    "noise sigma^2 of a geometric grid, and locate the phase boundaries: "
                    "sigma2_onset (the specialised/droplet neurons carry half of the kernel on "
                    "the target), sigma2_droplets (droplet fraction reaches --f-low) and "
                    "sigma2_specialised (it reaches 1 - f_low). With --json prints one JSON "
                    "object; with --out writes theory.json, config.json, arrays.npz and a figure.")
    p.add_argument("--P", type=int_type(3, MAX_THEORY_P), default=11,
                   help=f"the modulus (odd, 3 <= P <= {MAX_THEORY_P})")
    p.add_argument("--N", type=scale_type(), default=100.0, help="network width N")
    p.add_argument("--sigma-a2", type=scale_type(), default=1.0,
                   help="read-out prior variance sigma_a^2 (a ~ N(0, sigma_a^2/N))")
    p.add_argument("--sigma-w2", type=scale_type(), default=1.0,
                   help="input prior variance sigma_w^2 (w ~ N(0, sigma_w^2/(2P) I))")
    p.add_argument("--stabiliser", type=scale_type(), default=1.0,
                   help="sextic coefficient gamma of Gamma = gamma (|z|^2/d)^3 (whitened z)")
    p.add_argument("--stabiliser-scaling", choices=("whitened", "fixed_u", "paper"),
                   default="whitened",
                   help="'whitened': Gamma exactly as LinearisedAction(stabiliser=gamma); "
                        "'fixed_u': Gamma / P^3, the reading in which u = 2 sigma_a^2 P^2/"
                        "(N sigma^4) alone sets the transition at large P; 'paper': the "
                        "paper's own leading-order reduction (meanfield.FourierModeTheory: "
                        "per-Fourier-mode stabiliser P (gamma/6)(|w_k|^6 + |v_k|^6), input "
                        "prior covariance 1, --sigma-w2 ignored; e.g. its Fig. 3: --P 401 "
                        "--N 1000 --sigma-a2 2e-6 --stabiliser 1e-4)")
    p.add_argument("--sigma2-min", type=scale_type(), default=None,
                   help="smallest sigma^2 (default: the leading-order onset / 30)")
    p.add_argument("--sigma2-max", type=scale_type(), default=None,
                   help="largest sigma^2 (default: 3 x the leading-order onset)")
    p.add_argument("--sigma2-count", type=int_type(2), default=25,
                   help="number of sigma^2 values (geometric grid)")
    p.add_argument("--f-low", type=float_type(0.0, 0.5, open_min=True, open_max=True),
                   default=0.01,
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


def _run_theory(args) -> int:
    from .._apps.grokking.theory import ModularTheory

    if args.stabiliser_scaling == "paper":
        return _run_paper_theory(args)
    if args.P % 2 == 0:
        print(f"meanfield grokking theory: error: --P must be odd (the reduction pairs the "
              f"P - 1 non-zero frequencies), got {args.P}; e.g. --P {args.P + 1}",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        theory = ModularTheory(P=args.P, width=args.N, sigma_a2=args.sigma_a2,
                               stabiliser=args.stabiliser, sigma_w2=args.sigma_w2,
                               scaling=args.stabiliser_scaling, f_low=args.f_low)
        default_max, default_min = default_sigma2_range(theory)
    except ValueError as err:
        print(f"meanfield grokking theory: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except _ARITHMETIC as err:
        return _overflow(args, err)
    s_max = args.sigma2_max if args.sigma2_max is not None else default_max
    s_min = args.sigma2_min if args.sigma2_min is not None else default_min
    if not (0 < s_min < s_max < math.inf) or args.sigma2_count < 2:
        print(f"meanfield grokking theory: error: need 0 < --sigma2-min < --sigma2-max and "
              f"--sigma2-count >= 2, got {s_min!r}, {s_max!r}, {args.sigma2_count!r}",
              file=sys.stderr)
        return EXIT_USAGE
    preflight("this theory scan", out=args.out, **theory_estimate(
        args.sigma2_count, "plain" if args.no_branches else "branches"))
    sigma2s = np.geomspace(s_max, s_min, args.sigma2_count)
    config = {k: v for k, v in vars(args).items() if k not in ("func",)}
    try:
        result = theory_experiment(theory, sigma2s, out=args.out, branches=not args.no_branches,
                                   progress=not args.quiet, config=config)
    except _ARITHMETIC as err:
        return _overflow(args, err)
    per = result["per_sigma2"]
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
    return EXIT_OK


def _overflow(args, err) -> int:
    """The usage error of a theory whose float64 arithmetic overflows at these parameters."""
    print(f"meanfield grokking theory: error: the reduced theory's float64 arithmetic fails at "
          f"--P {args.P} --N {args.N:g} --sigma-a2 {args.sigma_a2:g} --sigma-w2 "
          f"{args.sigma_w2:g} --stabiliser {args.stabiliser:g} ({type(err).__name__}: {err}); "
          "bring the parameters closer to 1 (e.g. the defaults) or the sigma^2 range closer to "
          "the default one", file=sys.stderr)
    return EXIT_USAGE


def default_sigma2_range(theory) -> tuple[float, float]:
    """(largest, smallest) sigma^2 of the default scan: 3x and 1/30 of the leading-order onset
    (1/tau_c where the leading order has none)."""
    asym = theory.asymptotic()
    ref = asym["sigma2_onset"] or 1.0 / asym["tau_c"]
    return 3.0 * ref, ref / 30.0


def theory_experiment(theory, sigma2s, *, out=None, branches: bool = True, progress: bool = True,
                      config: dict | None = None) -> dict:
    """Scan the `ModularTheory` `theory` over `sigma2s` (descending); with `out`, write the
    results folder (theory.json, config.json, arrays.npz, theory.png). Returns the JSON-ready
    record: the phase boundaries in sigma^2, the order parameters per sigma^2 and, with `out`,
    the files written."""
    t0 = time.perf_counter()
    prog = Progress(len(sigma2s), "grokking theory", enabled=progress)
    scan = theory.scan(sigma2s, progress=prog, branches=branches)
    prog.close("done")
    wall = time.perf_counter() - t0

    cols = ("sigma2", "discrepancy", "tau", "kernel_eigenvalue", "m", "g", "droplet_fraction",
            "droplet_radius", "droplet_kernel_share", "free_energy", "free_energy_gp", "free_energy_feature",
            "neuron_free_energy_gp", "neuron_free_energy_droplet", "u")
    per = {c: [finite_or_none(v) for v in scan.column(c)] for c in cols}
    result = {
        "P": theory.P, "N": theory.width, "sigma_a2": theory.sigma_a2,
        "sigma_w2": theory.sigma_w2, "stabiliser": theory.stabiliser,
        "stabiliser_scaling": theory.scaling,
        "sigma2_onset": finite_or_none(scan.sigma2_onset),
        "sigma2_specialised": finite_or_none(scan.sigma2_specialised),
        "sigma2_droplets": finite_or_none(scan.sigma2_droplets),
        "sigma2_coexistence": finite_or_none(scan.sigma2_coexistence),
        "sigma2_gp_spinodal": finite_or_none(scan.sigma2_gp_spinodal),
        "asymptotic": {k: finite_or_none(v) for k, v in scan.asymptotic.items()},
        "u_onset": finite_or_none(theory.u(scan.sigma2_onset)) if scan.sigma2_onset else None,
        "sigma2": per["sigma2"],
        "discrepancy_amplitude": per["discrepancy"],
        "droplet_fraction": per["droplet_fraction"],
        "per_sigma2": per,
        "wall_time_s": wall,
    }
    if out:
        fig = plot_theory_scan(scan, title=f"modular addition P={theory.P}, "
                               f"N={theory.width:g}, gamma={theory.stabiliser:g} "
                               f"({theory.scaling})")
        rec = write_experiment(out, "theory", result, config=config, seed=None,
                               figures={"theory": fig},
                               arrays={c: scan.column(c) for c in cols}, wall_time=wall)
        result["files"] = [f"{out}/{f}" for f in rec["files"]]
        import matplotlib.pyplot as plt

        plt.close(fig)
    return result


def _run_paper_theory(args) -> int:
    from .._apps.grokking.fourier_modes import FourierModeTheory

    preflight("this theory scan", out=args.out, **theory_estimate(args.sigma2_count, "paper"))
    try:
        theory = FourierModeTheory(P=args.P, width=args.N, sigma_a2=args.sigma_a2,
                                   stabiliser=args.stabiliser)
        # leading-order onset (a = -1, u = u_degenerate) sets the default range
        ref = math.sqrt(2 * args.sigma_a2 * args.P**2 / (args.N * theory.u_degenerate))
        s_max = args.sigma2_max if args.sigma2_max is not None else 1.5 * ref
        s_min = args.sigma2_min if args.sigma2_min is not None else 0.5 * ref
        if not (0 < s_min < s_max < math.inf) or args.sigma2_count < 2:
            raise ValueError(f"need 0 < --sigma2-min < --sigma2-max and --sigma2-count >= 2, "
                             f"got {s_min!r}, {s_max!r}, {args.sigma2_count!r}")
        t0 = time.perf_counter()
        scan = theory.scan(np.linspace(s_max, s_min, args.sigma2_count), p_low=args.f_low)
    except ValueError as err:
        print(f"meanfield grokking theory: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except _ARITHMETIC as err:
        return _overflow(args, err)
    wall = time.perf_counter() - t0
    per = {k: [finite_or_none(v) for v in scan[k]] for k in
           ("sigma2", "a", "u", "droplet_weight", "delta_action")}
    result = {
        "P": args.P, "N": args.N, "sigma_a2": args.sigma_a2, "stabiliser": args.stabiliser,
        "stabiliser_scaling": "paper",
        "sigma2_onset": finite_or_none(scan["sigma2_gmfl1"]),
        "sigma2_specialised": finite_or_none(scan["sigma2_gmfl2"]),
        "sigma2_onset_p10": finite_or_none(scan["sigma2_gmfl1_p10"]),
        "sigma2_specialised_p10": finite_or_none(scan["sigma2_gmfl2_p10"]),
        "u_onset": finite_or_none(scan["u_gmfl1"]), "u_specialised": finite_or_none(scan["u_gmfl2"]),
        "u_degenerate": theory.u_degenerate,
        "sigma2": per["sigma2"],
        "discrepancy_amplitude": [None if a is None else -a for a in per["a"]],
        "droplet_fraction": per["droplet_weight"],
        "per_sigma2": per,
        "wall_time_s": wall,
    }
    if args.out:
        import matplotlib.pyplot as plt

        from .._io.results import write_experiment

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(scan["sigma2"], -scan["a"], "-", label="discrepancy |a|")
        ax.plot(scan["sigma2"], scan["droplet_weight"], "--", label="droplet weight p")
        for key, ls in (("sigma2_gmfl1", ":"), ("sigma2_gmfl2", "-.")):
            if scan[key] is not None:
                ax.axvline(scan[key], color="k", ls=ls, lw=0.8, label=key.replace("sigma2_", ""))
        ax.set(xlabel="sigma^2", title=f"paper reduction P={args.P}, N={args.N:g}")
        ax.legend(fontsize=8)
        config = {k: v for k, v in vars(args).items() if k not in ("func",)}
        rec = write_experiment(args.out, "theory", result, config=config, seed=None,
                               figures={"theory": fig},
                               arrays={k: np.asarray(scan[k], dtype=float) for k in per},
                               wall_time=wall)
        plt.close(fig)
        result["files"] = [f"{args.out}/{f}" for f in rec["files"]]
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        print(f"sigma2_onset (GMFL-I):       {result['sigma2_onset']}")
        print(f"sigma2_specialised (GMFL-II): {result['sigma2_specialised']}")
        for s2, t, f in zip(per["sigma2"], result["discrepancy_amplitude"], per["droplet_weight"]):
            print(f"  sigma2={s2:.4g}  discrepancy={t:.4f}  droplet_weight={f:.4f}")
    return EXIT_OK


def _alpha_list(text):
    try:
        values = [float(a) for a in text.split(",") if a.strip()]
    except ValueError:
        values = None
    if not values or not all(0.0 < a <= 1.0 for a in values):  # refuses nan and inf too
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers in (0, 1], e.g. 0.2,0.4,0.6; got {text!r}")
    return values


def _add_sweep_parser(gsub) -> None:
    p = gsub.add_parser(
        "sweep", formatter_class=FORMATTER,
        help="general particle solver over the training fraction alpha; predict alpha_c",
        description="Solve the Bayesian mean field of modular addition (phi(z) = z^2) with "
                    "particles at each training fraction alpha, sweeping up from the prior and "
                    "back down from the largest alpha (meanfield.grokking_sweep, tempered "
                    "foreground), and report the test accuracy, the specialised (Fourier "
                    "droplet) fraction and the predicted alpha_c where the test accuracy "
                    "crosses halfway between chance and 1. With --json prints one JSON object "
                    "(alpha_c, alpha_c_err, alphas, test_accuracy, ...); with --out writes "
                    "sweep.json, config.json, arrays.npz, sweep.png and the per-point records "
                    "(an interrupted run with the same --out resumes).")
    p.add_argument("--P", type=int_type(3), default=11, help="the modulus (odd, >= 3)")
    p.add_argument("--N", type=scale_type(), default=100.0, help="network width N")
    p.add_argument("--sigma2", type=scale_type(), default=0.015,
                   help="likelihood variance sigma^2")
    p.add_argument("--sigma-a2", type=scale_type(), default=1.0,
                   help="read-out prior variance sigma_a^2 (a ~ N(0, sigma_a^2/N))")
    p.add_argument("--sigma-w2", type=scale_type(), default=1.0,
                   help="input prior variance sigma_w^2 (w ~ N(0, sigma_w^2/(2P) I))")
    p.add_argument("--action", choices=("linearised", "cavity"), default="linearised",
                   help="single-neuron action: linearised with the sextic stabiliser, or the "
                        "cavity (rank-one) action, bounded without one")
    p.add_argument("--stabiliser", type=float_type(0.0, 1e30), default=1.0,
                   help="sextic coefficient gamma of Gamma = gamma (|z|^2/d)^3 (linearised "
                        "action; with --action cavity it is added too unless 0)")
    p.add_argument("--alphas", type=_alpha_list,
                   default=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
                   help="comma-separated training fractions in (0, 1]")
    p.add_argument("--particles", type=int_type(1), default=1024,
                   help="foreground particles M")
    p.add_argument("--levels", type=int_type(2), default=8, help="tempering levels")
    p.add_argument("--beta-min", type=float_type(0.0, 1.0, open_min=True, open_max=True),
                   default=0.05,
                   help="lowest tempering beta")
    p.add_argument("--iterations", type=int_type(1), default=40,
                   help="fixed-point iterations per alpha")
    p.add_argument("--damping", type=float_type(0.0, 1.0, open_min=True), default=0.2,
                   help="damped mixing beta")
    p.add_argument("--free-energy", action="store_true",
                   help="also compute the mean-field free energy of both branches at every alpha "
                        "(bridge sampling along a replica-exchange ladder, error bars with the "
                        "schedule bias; F_up - F_down in the JSON)")
    p.add_argument("--average", type=int_type(0), default=8,
                   help="iterates averaged at the end of each solve (FixedPoint.n_average; 0: "
                        "the last iterate against the mixed background)")
    p.add_argument("--seed", type=seed_type, default=0, help="solver seed")
    p.add_argument("--data-seed", type=seed_type, default=0, help="train/test split seed")
    p.add_argument("--threshold", type=float_type(0.0), default=8.0,
                   help="Fourier power marking a specialised neuron (meanfield.specialised_mask)")
    p.add_argument("--no-baselines", action="store_true", help="skip the NNGP/NTK accuracies")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="results folder (resumable): sweep.json, config.json, arrays.npz, "
                        "sweep.png, points/")
    p.add_argument("--json", action="store_true",
                   help="print exactly one JSON object on stdout (progress goes to stderr)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _run_sweep(args) -> int:
    from .._model.bayesian import CavityAction, LinearisedAction
    from .._apps.grokking.sweep import default_grokking_solver, grokking_sweep, plot_grokking_sweep

    try:
        action = (CavityAction(stabiliser=args.stabiliser) if args.action == "cavity"
                  else LinearisedAction(stabiliser=args.stabiliser))
        solver = default_grokking_solver(n_particles=args.particles, n_levels=args.levels,
                                         beta_min=args.beta_min, max_iterations=args.iterations,
                                         damping=args.damping, n_average=args.average)
        if args.P % 2 == 0:
            raise ValueError(f"--P must be an odd integer >= 3, got {args.P}")
        fg = solver.foreground
        preflight("this sweep", out=args.out, **modular_estimate(
            args.P, max(args.alphas), particles=solver.n_particles, replicas=fg.n_levels,
            steps=fg.n_steps, points=2 * len(args.alphas),
            iterations=solver.burn_in + min(solver.patience, solver.max_iterations)
            + solver.n_average))
        t0 = time.perf_counter()
        res = grokking_sweep(args.P, args.alphas, width=args.N, noise=args.sigma2,
                             sigma_a2=args.sigma_a2, sigma_w2=args.sigma_w2, action=action,
                             solver=solver, seed=args.seed, data_seed=args.data_seed,
                             folder=None if args.out is None else f"{args.out}/points",
                             threshold=args.threshold, baselines=not args.no_baselines,
                             free_energy=args.free_energy, progress=not args.quiet)
    except ValueError as err:
        print(f"meanfield grokking sweep: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    wall = time.perf_counter() - t0
    result = {**res.to_json(), "wall_time_s": wall}
    if args.out:
        import matplotlib.pyplot as plt

        from .._io.results import write_experiment

        fig = plot_grokking_sweep(res)
        config = {k: v for k, v in vars(args).items() if k not in ("func",)}
        arrays = {f"{b}_{k}": res.column(b, k) for b in ("up", "down")
                  for k in ("test_accuracy", "train_accuracy", "tau", "specialised_fraction",
                            "specialised_kernel_share")}
        arrays["alphas"] = np.asarray(res.alphas)
        rec = write_experiment(args.out, "sweep", result, config=config, seed=args.seed,
                               figures={"sweep": fig}, arrays=arrays, wall_time=wall)
        plt.close(fig)
        result["files"] = [f"{args.out}/{f}" for f in rec["files"]]
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        ac = result["alpha_c"]
        print(f"alpha_c: {ac:.4f} +- {result['alpha_c_err']:.4f}" if ac is not None else
              f"alpha_c: no crossing of the test accuracy midpoint below alpha = 1 (alpha_c > "
              f"{result['alpha_c_lower_bound']})")
        for a, up, dn in zip(res.alphas, result["test_accuracy"], result["test_accuracy_down"]):
            print(f"  alpha={a:.3g}  test accuracy up={up:.3f} down={dn:.3f}")
        if args.out:
            print("files: " + ", ".join(result["files"]))
    return EXIT_OK
