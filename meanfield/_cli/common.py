"""What every command of the ``meanfield`` command line shares: exit codes, the argument
parser class (usage errors exit with code 2 and one line, no traceback) and small formatters.

Exit codes: 0 success (a solve converged), 1 the computation failed (its results folder is still
written, with the failed status), 2 bad config or usage, 130 interrupted (state checkpointed where
the command supports it; rerun the same command to resume).
"""

from __future__ import annotations

import argparse
import math
import sys

from .._misc import MAX_SEED, check_budget, format_seconds

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
CHECKPOINT = "checkpoint.npz"
FORMATTER = argparse.ArgumentDefaultsHelpFormatter


class UsageError(Exception):
    """A usage error with its one-line message (the CLI prints it and exits with code 2)."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # exit code 2 with a one-line message, no traceback
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: error: {message}")


# --------------------------------------------------------------------------------------------
# argument types: a bad value is a usage error naming the option (argparse adds "argument
# --flag:"), the value and what is allowed


def seed_type(text: str) -> int:
    """An argparse type: an integer seed in [0, 2^62]."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed in [0, 2^62], got {text!r}") \
            from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected an integer seed in [0, 2^62], got {text!r}")
    return value


def int_type(minimum: int = 1, maximum: int | None = None):
    """An argparse type: an integer in [minimum, maximum]."""
    allowed = f"an integer >= {minimum}" if maximum is None else \
        f"an integer in [{minimum}, {maximum}]"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def float_type(minimum: float | None = None, maximum: float | None = None, *,
               open_min: bool = False, open_max: bool = False):
    """An argparse type: a finite number in the given (closed or open) range."""
    lo = "(" if open_min else "["
    hi = ")" if open_max else "]"
    if minimum is not None and maximum is not None:
        allowed = f"a finite number in {lo}{minimum:g}, {maximum:g}{hi}"
    elif minimum is not None:
        allowed = f"a finite number {'>' if open_min else '>='} {minimum:g}"
    elif maximum is not None:
        allowed = f"a finite number {'<' if open_max else '<='} {maximum:g}"
    else:
        allowed = "a finite number"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}") from None
        bad = not math.isfinite(value)
        if minimum is not None:
            bad |= value < minimum or (open_min and value == minimum)
        if maximum is not None:
            bad |= value > maximum or (open_max and value == maximum)
        if bad:
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


#: the range of positive physical scales (widths, variances, noises, stabilisers) the commands
#: accept: wide enough for any meaningful value, narrow enough that their powers and products
#: stay inside float64 (1e-300 ... 1e300)
SCALE_MIN, SCALE_MAX = 1e-30, 1e30


def scale_type():
    """An argparse type: a positive physical scale in [1e-30, 1e30]."""
    return float_type(SCALE_MIN, SCALE_MAX)


# --------------------------------------------------------------------------------------------
# before any compute: the output folder and the resource budget


def preflight(what: str, *, out=None, option: str = "--out", nbytes: float = 0.0,
              operations: float = 0.0, fits: str = "", note: str = ""):
    """Everything a command checks before it computes: that the results folder `out` (when
    given) can be created and written (`meanfield._io.results.check_output_folder`), and that
    the run fits the memory and time budget (`meanfield._misc.check_budget`, which raises a
    `ResourceError` with the estimate and what would fit). A run estimated to take over a minute
    is announced on stderr, with `note` (even with --quiet: it is not progress). Returns the
    output folder as a Path, or None."""
    from .._io.results import check_output_folder

    seconds = check_budget(what, nbytes=nbytes, operations=operations, fits=fits)
    folder = check_output_folder(out, option) if out is not None else None
    if seconds > 60:
        print(f"meanfield: {what} will take at least {format_seconds(seconds)} (a rough lower "
              f"bound{'; ' + note if note else ''})", file=sys.stderr, flush=True)
    return folder


def raw_config(config, seed=None):
    """(raw config dict, base folder of its relative paths) from a CONFIG.toml path, validated
    against the file, or from the built-in DEFAULT_CONFIG when `config` is None (base: the
    working folder); a `seed` that is not None overrides the config's."""
    from pathlib import Path

    from .._io.config import DEFAULT_CONFIG, load_config, loads

    if config is None:
        raw, base = loads(DEFAULT_CONFIG, source="DEFAULT_CONFIG"), Path.cwd()
    else:
        path = Path(config)
        load_config(path)  # validates (and reports errors against the file)
        raw, base = loads(path.read_text(encoding="utf-8"), source=str(path)), \
            path.resolve().parent
    if seed is not None:
        raw["seed"] = seed
    return raw, base


def finite_or_none(x):
    """`x` as a float, or None when it is None or not finite (JSON has no NaN)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def format_number(v, spec=".3e"):
    """`v` formatted with `spec` if it is a float, 'n/a' if None, else str(v)."""
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


# --------------------------------------------------------------------------------------------
# resource estimates
#
# Rough memory and time estimates of each command's run, checked by `preflight` (through
# `meanfield._misc.check_budget`) before anything is allocated. Each `*_estimate` returns the
# keywords of `preflight`: ``nbytes`` (the largest float64 arrays held at once), ``operations``
# (in the unit of `meanfield._misc.operations_per_second`: one particle against one data point,
# per coordinate, gradient included), ``fits`` (the sizes that would fit, found by bisection on
# the same cost model, for the refusal message) and ``note``. They are deliberately optimistic,
# so that only runs that cannot fit are refused; a run estimated at over a minute is announced.
# They are analytic in the sizes, so that a huge size is refused before the task, the particles
# or the Fourier tables it would need are built.

_F64 = 8
#: float64 arrays of shape (particles, data points) alive at once in a foreground step (features,
#: their derivative, the proposal's, the gradient's pieces); XLA fuses most of them away
_LIVE = 3
#: per (particle, data point) overhead of the activation and its derivative, in operations
_ACT = 8


def _budget() -> tuple[float, float]:
    """(memory budget in bytes, operations the time budget allows)."""
    from .._misc import memory_limit, operations_per_second, time_limit

    return memory_limit(), operations_per_second() * time_limit()


def _estimate(cost, sizes: dict, minimum: dict | None = None, note: str = "") -> dict:
    """`preflight` keywords from `cost(**sizes) -> (bytes, operations)`; when the run does not
    fit, ``fits`` lists, for each size (an option name, as the user spells it) that alone could
    make it fit, the largest value that does, the others as given."""
    nbytes, ops = cost(**sizes)
    mem, budget = _budget()
    hints = []
    if nbytes > mem or ops > budget:
        def ok(trial):
            b, o = cost(**trial)
            return b <= mem and o <= budget

        for name, value in sizes.items():
            lo = (minimum or {}).get(name, 1)
            if value <= lo or not ok({**sizes, name: lo}):
                continue
            a, b = lo, int(value)
            while a < b:  # the largest value that fits (the cost grows with every size)
                mid = (a + b + 1) // 2
                a, b = (mid, b) if ok({**sizes, name: mid}) else (a, mid - 1)
            hints.append(f"{name} <= {a:,}")
    fits = f"it would fit with {' or '.join(hints[:3])} (the rest as given)" if hints else ""
    return {"nbytes": nbytes, "operations": ops, "fits": fits, "note": note}


def fixed_point_cost(*, particles: float, n: float, d: float, c: float, steps: float,
                     iterations: float, kernel: bool = True) -> tuple[float, float]:
    """(bytes, operations) of a fixed-point solve: `iterations` foreground calls of `steps`
    steps on `particles` particles, `n` data points of dimension `d` with `c` outputs, and (with
    `kernel`, Bayesian) the n x n kernel, its measure and its Cholesky factor each iteration."""
    per_pair = d + c + _ACT
    ops = iterations * (steps * particles * n * per_pair
                        + (particles * n * n + n**3 / 3.0 if kernel else particles * n * c))
    nbytes = _F64 * (_LIVE * particles * n + 4 * particles * (d + c)
                     + (6 * n * n if kernel else 0) + 4 * n * (d + c))
    return nbytes, ops


#: levels assumed of a free-energy ladder (`meanfield.Ladder`), whose length is only known once
#: its pilot pass has placed them. Taken on the high side: the built-in default problem needs 6
#: at the default overlap 0.5 (a single-neuron law in 2 coordinates); more coordinates and
#: rougher laws need more, up to the ladder's max_levels. With the optimistic operation rate of
#: `meanfield._misc.operations_per_second` the time estimate stays a lower bound all the same:
#: on the default problem 23 s for the ladder's Ladder() settings, against about 36 s measured
#: on 2 shared CPU cores (compilation included)
LADDER_LEVELS = 32


def ladder_cost(ladder, *, n: float, d: float, c: float, n_particles: int | None = None,
                n_sweeps: int | None = None, levels: float = LADDER_LEVELS) -> tuple[float, float]:
    """(bytes, operations) of `log_partition_ladder` with the settings `ladder` on `n` data
    points of dimension `d` with `c` outputs, assuming `levels` levels: the pilot pass (two
    windows of `pilot_steps` MALA steps per level) and the burn-in and recorded exchange sweeps,
    each rounded up to whole chunks as the ladder runs them, of `steps_per_sweep` MALA steps at
    every level, on `n_particles` columns; each step costs what a foreground step of one particle
    does. The bytes are the record of the sweeps (six numbers per sample, kept twice while the
    bridge estimates regroup it) and the live arrays of one step at every level. `n_particles`
    and `n_sweeps`, when given, replace the ladder's."""
    m = ladder.n_particles if n_particles is None else n_particles
    recorded = ladder.n_sweeps if n_sweeps is None else n_sweeps
    chunk = ladder.chunk
    sweeps = (-(-ladder.burn_in // chunk) + -(-recorded // chunk)) * chunk
    steps = levels * (2 * ladder.pilot_steps + sweeps * ladder.steps_per_sweep)
    ops = steps * m * n * (d + c + _ACT)
    nbytes = _F64 * (2 * 6 * recorded * levels * m + _LIVE * levels * m * n)
    return nbytes, ops


def solve_estimate(problem, solver, *, free_energy_nodes: int = 0,
                   free_energy_steps: int = 0, free_energy_ladder=None) -> dict:
    """`preflight` keywords of `solve(problem, solver)` (and its free energy, when asked: by
    thermodynamic integration with `free_energy_nodes` x `free_energy_steps` MALA steps on the
    solver's particles, or by the ladder `free_energy_ladder`, a `meanfield.Ladder`, costed by
    `ladder_cost`).

    The time counted is the least a solve can take (burn-in, `patience` passing iterations, the
    averaged ones): `max_iterations` is only a ceiling, rarely reached, so it is not refused."""
    from .._misc import format_seconds, operations_per_second

    data = problem.data
    n, d, c = data.n, data.dim, data.n_outputs
    fg = solver.foreground
    kernel = hasattr(problem, "noise")
    grid = hasattr(fg, "n_points")  # the exact grid: n_points^n_params nodes, one "step"
    levels = getattr(fg, "n_levels", 1)
    sizes = {"solver.n_points": fg.n_points} if grid else {
        "solver.n_particles": solver.n_particles, "solver.n_steps": getattr(fg, "n_steps", 1)}
    sizes.update({"solver.burn_in": solver.burn_in, "solver.n_average": solver.n_average})
    if free_energy_ladder is not None:
        sizes.update({"output.free_energy_particles": free_energy_ladder.n_particles,
                      "output.free_energy_sweeps": free_energy_ladder.n_sweeps})
    patience = min(solver.patience, solver.max_iterations)

    def cost(**z):
        particles = (float(z["solver.n_points"]) ** problem.n_params if grid
                     else z["solver.n_particles"] * levels)
        steps = 1.0 if grid else z["solver.n_steps"]
        iterations = z["solver.burn_in"] + patience + z["solver.n_average"]
        nbytes, ops = fixed_point_cost(particles=particles, n=n, d=d, c=c, steps=steps,
                                       iterations=iterations, kernel=kernel)
        # the averaged solution pools n_average clouds
        nbytes += _F64 * particles * max(z["solver.n_average"], 1) * (problem.n_params + 1)
        if free_energy_nodes:
            ops += free_energy_nodes * free_energy_steps * particles * n * (d + c + _ACT)
        if free_energy_ladder is not None:
            # it runs after the solve: the larger of the two peaks (optimistic, as the rest)
            b, o = ladder_cost(free_energy_ladder, n=n, d=d, c=c,
                               n_particles=z["output.free_energy_particles"],
                               n_sweeps=z["output.free_energy_sweeps"])
            nbytes, ops = max(nbytes, b), ops + o
        return nbytes, ops

    _, per_iteration = fixed_point_cost(
        particles=(float(fg.n_points) ** problem.n_params if grid
                   else solver.n_particles * levels), n=n, d=d, c=c,
        steps=1.0 if grid else sizes["solver.n_steps"], iterations=1, kernel=kernel)
    note = (f"about {format_seconds(per_iteration / operations_per_second())} per fixed-point "
            "iteration, progress after each")
    return _estimate(cost, sizes, {"solver.burn_in": 0, "solver.n_average": 0,
                                   "solver.n_points": 3, "output.free_energy_particles": 16,
                                   "output.free_energy_sweeps": 2}, note)


def modular_estimate(P: int, alpha: float, *, particles: int, steps: float, iterations: int,
                     points: int = 1, replicas: int = 1) -> dict:
    """`preflight` keywords of `points` Bayesian solves of modular addition at modulus P and
    training fraction alpha (n = alpha P^2 two-hot inputs in R^{2P}, P outputs) with the
    `grokking sweep` options, before the task's P^2 x 2P table exists; `replicas` copies of
    every particle (tempering levels)."""
    def cost(**z):
        p = z["--P"]
        nbytes, ops = fixed_point_cost(
            particles=z["--particles"] * z["--levels"], n=max(1.0, alpha * p * p), d=2 * p,
            c=p, steps=steps, iterations=iterations)
        return nbytes + _F64 * p * p * 3 * p, ops * points  # + the full data set being built

    return _estimate(cost, {"--particles": particles, "--levels": replicas, "--P": P},
                     {"--P": 3, "--levels": 2})


def langevin_ensemble_cost(*, width: int, n: int, n_test: int, d: int, c: int, chains: int,
                           steps: float, samples: int) -> tuple[float, float]:
    """(bytes, operations) of `sample_posterior`: `chains` chains of a width-`width` network,
    `steps` Langevin steps each (read-out integrated out: an n x n or N x N solve per step), and
    the `samples` recorded draws of every chain's test predictions and kernels."""
    small = min(n, width)
    per_step = width * n * (d + c + _ACT) + n * small * small + small**3 / 3.0
    ops = chains * steps * per_step
    nbytes = _F64 * (chains * (_LIVE * width * n + width * (d + c) + small * small)
                     + chains * samples * (n_test * c + 4)
                     + 2 * (n * n + n_test * n))
    return nbytes, ops


def compare_estimate(problem, solver, sampler, widths) -> dict:
    """`preflight` keywords of `compare`: the mean-field solve(s), the NNGP/NTK predictors and a
    Langevin ensemble at every width."""
    base = solve_estimate(problem, solver)
    data, test = problem.task.train, problem.task.test
    others = sorted(widths)[:-1]

    def cost(**z):
        nbytes, ops = base["nbytes"], base["operations"]  # one solve at least
        steps = z["--warmup"] + z["--samples"] * z["--thin"]
        for width in others + [z["--widths (the largest)"]]:
            b, o = langevin_ensemble_cost(width=width, n=data.n, n_test=test.n, d=data.dim,
                                          c=data.n_outputs, chains=z["--chains"], steps=steps,
                                          samples=z["--samples"])
            nbytes, ops = max(nbytes, b), ops + o
        return nbytes, ops

    sizes = {"--widths (the largest)": max(widths), "--chains": sampler.n_chains,
             "--samples": sampler.n_samples, "--thin": sampler.thin, "--warmup": sampler.n_warmup}
    return _estimate(cost, sizes, {"--warmup": 0, "--widths (the largest)": max(others + [1])})


def training_cost(*, width: float, points: float, d: int, steps: float,
                  record: float = 0.0) -> tuple[float, float]:
    """(bytes, operations) of training a width-`width` mean-field network for `steps` steps on
    `points` weighted data points (`record` snapshots of the particles kept)."""
    ops = steps * width * points * (d + 1 + _ACT)
    nbytes = _F64 * (_LIVE * width * points + record * width * (d + 1) + 4 * points * (d + 1))
    return nbytes, ops


def clover_estimate(setting, *, solve_from_scratch: bool) -> dict:
    """`preflight` keywords of `run_clover(setting)`: two joint trainings, the foreground, the
    controls, the from-scratch solve and the other pairs, on n_nodes^2 quadrature points."""
    n_train = 2 + 3 + len(setting.other_pairs)  # joint x2, foreground, two controls, pairs

    def cost(**z):
        points = float(z["--nodes"]) ** 2
        width, steps = z["--width"], z["--steps"]
        nbytes, ops = training_cost(width=width, points=points, d=2, steps=steps,
                                    record=min(steps, 100))
        ops *= n_train
        if solve_from_scratch:
            b, o = fixed_point_cost(particles=width, n=points, d=2, c=1,
                                    steps=setting.solve_steps,
                                    iterations=min(setting.solve_patience,
                                                   z["--solve-iterations"]), kernel=False)
            nbytes, ops = max(nbytes, b), ops + o
        return nbytes, ops

    sizes = {"--width": max(setting.width, setting.n_foreground), "--steps": setting.n_steps,
             "--nodes": setting.n_nodes, "--solve-iterations": setting.solve_iterations}
    return _estimate(cost, sizes, {"--width": 2, "--nodes": 2})


def llc_estimate(opts: dict) -> dict:
    """`preflight` keywords of `run_llc_experiment`: `n_betas` x `chains` MALA chains of
    `steps` steps on the width-h net with a `nodes`-point Gram matrix, plus the joint MALA
    cross-check."""
    mala = opts["mala_max"] > 0

    def cost(**z):
        h, nodes, chains = z["--width"], z["--nodes"], z["--chains"]
        per_step = h * nodes * (2 + _ACT) + h * h * h / 3.0 + h * h * nodes
        ops = z["--n-betas"] * chains * z["--steps"] * per_step
        if mala:
            ops += z["--n-betas"] * chains * z["--mala-steps"] * h * min(nodes, 256) * (2 + _ACT)
        traces = _F64 * z["--n-betas"] * chains * (z["--steps"] + z["--mala-steps"])
        return traces + _F64 * (chains * (_LIVE * h * nodes + 2 * h * h) + nodes * nodes), ops

    sizes = {"--n-betas": opts["n_betas"], "--steps": opts["steps"], "--width": opts["width"],
             "--chains": opts["chains"], "--nodes": opts["nodes"],
             "--mala-steps": opts["mala_steps"]}
    return _estimate(cost, sizes, {"--steps": max(3, opts["burnin"] + 2), "--chains": 2,
                                   "--nodes": 16, "--mala-steps": 8})


#: seconds one sigma^2 point of the reduced theories takes, measured on one busy CPU core (about
#: 0.05 s for ModularTheory without branches, 0.1-0.3 s with; the paper reduction is cheaper),
#: taken optimistically
THEORY_SECONDS_PER_POINT = {"branches": 0.05, "plain": 0.01, "paper": 0.005}


def theory_estimate(count: int, kind: str) -> dict:
    """`preflight` keywords of a reduced-theory scan over `count` values of sigma^2 (`kind`:
    'branches', 'plain' or 'paper')."""
    from .._misc import operations_per_second

    def cost(**z):
        per = THEORY_SECONDS_PER_POINT[kind] * operations_per_second()
        return _F64 * 32 * z["--sigma2-count"], z["--sigma2-count"] * per

    return _estimate(cost, {"--sigma2-count": count}, {"--sigma2-count": 2})
