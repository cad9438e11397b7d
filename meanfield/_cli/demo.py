"""`meanfield demo`: a small version of every headline result, and a report.

Each step writes its own sub-folder and a `section.json` (written last, atomically); a step whose
`section.json` exists is not run again, so an interrupted demo rerun with the same `--out` resumes
where it stopped. The report (`report.md`, `report.html`) is rewritten at the end from all
sections.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from .._apps.clover import CloverSetting
from .._apps.grokking.theory import ModularTheory
from .._baselines.posterior import PosteriorLangevin
from .._baselines.predictors import regression_loss
from .._io.config import DEFAULT_CONFIG, config_to_toml, loads, parse_config
from .._io.figures import gp_prediction
from .._io.report import write_report
from .._io.results import ResultsError, jsonable, write_results, write_text
from .._solver.free_energy import free_energy
from .._solver.solve import solve
from .clover import clover_experiment
from .common import EXIT_OK, FORMATTER, preflight, seed_type
from .compare import compare_experiment
from .grokking import default_sigma2_range, theory_experiment


def _step_solve(folder: Path, small: bool, seed: int) -> dict:
    """The neuron distribution of the built-in default problem (`meanfield solve`)."""
    raw = loads(DEFAULT_CONFIG, source="DEFAULT_CONFIG")
    raw["seed"] = seed
    if small:
        raw["solver"]["n_particles"] = 256
        raw["task"]["n_train"] = 16
        raw["task"]["n_test"] = 50
        raw["output"]["free_energy"] = False
    problem, solver, seed, options = parse_config(raw, base_dir=folder)
    t0 = time.perf_counter()
    solution = solve(problem, solver, key=seed, throw=False, progress=True)
    fe = free_energy(solution, key=seed) if options["free_energy"] and solution.usable else None
    summary = write_results(folder, solution, options["config"], free_energy=fe, seed=seed,
                            wall_time=time.perf_counter() - t0)
    g = gp_prediction(problem, problem.task.test.x)
    nngp_loss = None if g is None else regression_loss(g, problem.task.test)
    return {
        "title": "Neuron distribution of a Bayesian erf network (cubic teacher)",
        "text": ("The built-in default problem of `meanfield solve`: the fixed-point iteration "
                 "between foreground particles and the data kernel/discrepancy background. Orange: "
                 "the self-consistent neuron cloud; blue: the prior (the GP limit). The test "
                 "predictions compare the mean-field predictor with the NNGP (GP-limit) predictor."),
        "numbers": {"status": summary["status"], "iterations": summary["iterations"],
                    "self-consistency error": summary["self_consistency_error"],
                    "Monte-Carlo noise floor": summary["noise_floor"],
                    "mean-field test loss": summary["test_loss"],
                    "NNGP test loss": nngp_loss,
                    "free energy": summary.get("free_energy"),
                    "wall time (s)": summary["wall_time_s"]},
        "figures": ["neurons.png", "predictions.png", "convergence.png"],
    }


def _step_clover(folder: Path, small: bool, seed: int) -> dict:
    """Clover-leaf clouds: foreground neurons against the frozen background of a trained net."""
    width, steps, nodes, iterations = (128, 100, 6, 20) if small else (2048, 2000, 16, 300)
    setting = CloverSetting(width=width, n_foreground=width, n_steps=steps, n_nodes=nodes,
                            solve_iterations=iterations, other_pairs=(), seed=seed)
    r = clover_experiment(setting, out=folder)
    return {
        "title": "Clover-leaf neuron clouds (training-dynamics mean field)",
        "text": ("A wide mean-field network (clipped ReLU, continuous XOR, 2-D Gaussian inputs on "
                 "a Gauss-Hermite rule, Langevin training) is the blue background; i.i.d. "
                 "foreground neurons trained against its frozen residual are orange. The GP-like "
                 "control trains them against a random-feature background instead, and the fixed "
                 "point is also solved from scratch. Distances are sliced Wasserstein-2 on (w, a); "
                 "the noise floor is that of two independent trained networks. Width 2048, as "
                 "`meanfield clover` (the other activation/target pairs are left out here)."),
        "numbers": {k: r.get(k) for k in (
            "foreground_distance", "noise_floor", "control_distance", "fixed_point_distance",
            "joint_loss", "recombined_loss", "control_loss", "wall_time_s")},
        "figures": ["clover.png"],
    }


def _step_grokking_theory(folder: Path, small: bool, seed: int) -> dict:
    """The full-data reduced theory of grokking on modular addition, scanned in sigma^2."""
    P, count = (7, 6) if small else (11, 14)
    theory = ModularTheory(P=P, width=100.0)
    s_max, s_min = default_sigma2_range(theory)          # the command's default range
    sigma2s = np.geomspace(s_max, s_min, count)
    config = {"P": P, "N": theory.width, "sigma2_min": s_min, "sigma2_max": s_max,
              "sigma2_count": count, "no_branches": small}
    r = theory_experiment(theory, sigma2s, out=folder, branches=not small, progress=False,
                          config=config)
    return {
        "title": "Grokking on modular addition: the full-data phase boundary",
        "text": ("The reduced (Fourier-basis) mean-field theory of a quadratic network on modular "
                 "addition with all P^2 pairs, scanned in the noise sigma^2: below the onset a "
                 "finite fraction of neurons specialise into single-frequency 'droplets' that "
                 "carry the kernel on the target (the Fourier-feature phase), above it the "
                 "network stays GP-like. Boundaries in sigma^2 for the default N, sigma_a2 and "
                 "stabiliser; see `meanfield grokking theory --help`."),
        "numbers": {k: r.get(k) for k in ("P", "N", "sigma2_onset", "sigma2_droplets",
                                           "sigma2_specialised", "u_onset", "wall_time_s")},
        "figures": ["theory.png"],
    }


def _step_compare(folder: Path, small: bool, seed: int) -> dict:
    """Mean field against NNGP, NTK and finite-width Langevin ensembles (`meanfield compare`)."""
    cfg = {
        "seed": seed,
        "task": {"kind": "cubic_teacher", "dim": 2, "n_train": 16 if small else 64, "eps": 0.3,
                 "n_test": 50 if small else 400, "seed": 0},
        "model": {"kind": "bayesian", "activation": "erf", "width": 32.0, "noise": 0.05,
                  "sigma_w2": 1.0, "sigma_a2": 0.1, "action": "linearised"},
        "solver": {"n_particles": 512 if small else 16384, "foreground": "langevin",
                   "n_steps": 50, "mixing": "damped", "beta": 0.2, "max_iterations": 200,
                   "rtol": 1e-3},
        "output": {"free_energy": False},
    }
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / "compare_config.toml", config_to_toml(cfg))
    problem, solver, seed, options = parse_config(cfg, base_dir=folder)
    widths, chains, warmup, samples, thin = ((4, 8), 2, 50, 10, 2) if small else \
        ((8, 16, 32, 64), 8, 3000, 100, 20)
    sampler = PosteriorLangevin(n_chains=chains, n_warmup=warmup, n_samples=samples, thin=thin)
    r = compare_experiment(problem, solver, sampler, folder, widths=list(widths), seed=seed,
                           config=options["config"], progress=False)
    losses = r.get("test_loss", {})
    numbers = {f"test loss: {k}": v for k, v in losses.items()}
    for g in r.get("gaps", []):
        numbers[f"|f_N - f_MF| at N={g['width']}"] = g.get("gap")
    if r.get("nngp_gap_to_mean_field") is not None:
        numbers["|f_NNGP - f_MF|"] = r["nngp_gap_to_mean_field"]
    return {
        "title": "Mean field against NNGP, NTK and finite-width networks",
        "text": ("Cubic teacher (d = 2), erf network in the mean-field regime (sigma_a2 = 0.1, "
                 "noise 0.05 at N0 = 32, scaled as N0/N so that the mean-field problem is the same "
                 "at every width). Finite networks are sampled from their exact posterior by "
                 "ensembles of Langevin chains (read-out integrated out); their predictor "
                 "approaches the mean field as N grows, while the NNGP predictor stays off. "
                 "`meanfield compare` with experiments/compare_cubic.toml runs the full size."),
        "numbers": numbers,
        "figures": ["compare.png"],
    }


STEPS = {
    "solve": _step_solve,
    "compare": _step_compare,
    "clover": _step_clover,
    "grokking_theory": _step_grokking_theory,
}


def _finished_section(path: Path, small: bool, seed: int) -> dict | None:
    """The record of a step finished earlier (its section.json), or None when the step is to be
    run: there is none, or it was run with another --seed or --small. A section.json that is not
    such a record (edited or damaged by hand) is a `ResultsError` naming it."""
    if not path.exists():
        return None
    try:
        section = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        section, why = None, str(err)
    else:
        why = "not a demo section record"
    ok = (isinstance(section, dict) and isinstance(section.get("title"), str)
          and isinstance(section.get("text", ""), str)
          and isinstance(section.get("numbers", {}), dict)
          and isinstance(section.get("figures", []), list)
          and all(isinstance(f, str) for f in section.get("figures", [])))
    if not ok:
        raise ResultsError(f"{str(path)!r} is corrupt ({why}); delete the folder "
                           f"{str(path.parent)!r} to run that step again")
    if section.get("seed", seed) != seed or section.get("small", small) != bool(small):
        return None  # run with other settings: run again
    return section


def run_demo(out, *, small: bool = False, seed: int = 0, steps=None, progress: bool = True) -> dict:
    """Run the demo steps into `out` (resuming finished ones) and write the report.

    Returns a JSON-ready dict: the report paths and every section's numbers.
    """
    out = Path(out)
    names = list(STEPS) if steps is None else list(steps)
    unknown = [n for n in names if n not in STEPS]
    if unknown:
        raise ValueError(f"unknown demo step(s) {unknown}; the steps are {list(STEPS)}")
    out = preflight("the demo", out=out)
    sections = []
    for k, name in enumerate(names):
        sub = out / name
        done = sub / "section.json"
        section = _finished_section(done, small, seed)
        if section is not None:
            if progress:
                print(f"demo: [{k + 1}/{len(names)}] {name}: done earlier, kept", file=sys.stderr)
        else:
            if progress:
                print(f"demo: [{k + 1}/{len(names)}] {name} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            section = STEPS[name](sub, small, seed)
            section = jsonable({**section, "seconds": time.perf_counter() - t0, "seed": seed,
                                "small": bool(small)})
            write_text(done, json.dumps(section, indent=2, allow_nan=False) + "\n")
            if progress:
                print(f"demo: [{k + 1}/{len(names)}] {name} finished in {section['seconds']:.1f} s",
                      file=sys.stderr, flush=True)
        section = {**section, "figures": [f"{name}/{f}" for f in section.get("figures", [])]}
        sections.append(section)
    files = write_report(out, "meanfield demo", sections, intro=(
        "A small version of each headline result of meanfield, run by `meanfield demo`. Each "
        "section's folder holds its arrays, config, seed and versions."))
    return {"report": [str(out / f) for f in files],
            "sections": {n: s.get("numbers", {}) for n, s in zip(names, sections)},
            "seconds": {n: s.get("seconds") for n, s in zip(names, sections)}}


def add_parser(sub) -> None:
    """Register `meanfield demo` on the CLI's subparsers object."""
    p = sub.add_parser(
        "demo", formatter_class=FORMATTER,
        help="run a small version of every headline result and write a report",
        description="Run a small version of each headline result (neuron distribution, ...) "
                    "into DIR, one sub-folder per step, and write DIR/report.md and "
                    "DIR/report.html. An interrupted demo rerun with the same --out keeps the "
                    "finished steps.")
    p.add_argument("--out", default="results/demo", metavar="DIR", help="results folder")
    p.add_argument("--small", action="store_true",
                   help="tiny sizes (seconds; for a smoke test, not for looking at)")
    p.add_argument("--seed", type=seed_type, default=0, help="seed of every step")
    p.add_argument("--steps", nargs="+", default=None, metavar="STEP", choices=list(STEPS),
                   help=f"run only these steps (default: all of {', '.join(STEPS)})")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (report paths and every section's numbers)")
    p.set_defaults(func=run)


def run(args) -> int:
    res = run_demo(args.out, small=args.small, seed=args.seed, steps=args.steps)
    if args.json:
        print(json.dumps(res, allow_nan=False))
    else:
        for name, numbers in res["sections"].items():
            print(f"== {name}")
            for k, v in numbers.items():
                print(f"  {k}: {v}")
        print("report: " + ", ".join(res["report"]))
    return EXIT_OK
