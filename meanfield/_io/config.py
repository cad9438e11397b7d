r"""TOML configuration files: config -> (problem, solver, seed, options), with validation.

A config is a TOML document with up to five parts; every key is optional and has a default
(listed below). Unknown keys are errors (with a did-you-mean suggestion), and so are values of
the wrong type: a string where a number is expected, a bool where an integer is expected
(TOML's ``true`` is not ``1``), a non-finite float, or a value out of range.

Top level::

    seed = 0                  # int in [0, 2^62]: seeds the solver's particles (the task has its own)

``[task]`` -- the data; ``kind`` picks the constructor and which other keys are allowed::

    kind = "cubic_teacher"    # "cubic_teacher" | "gaussian" | "modular_addition" | "finite"

    # kind = "cubic_teacher"  (meanfield.cubic_teacher; teacher direction e_1)
    dim = 2                   # int >= 1
    n_train = 64              # int >= 1
    eps = 0.3                 # float: strength of the He_3 component
    n_test = 500              # int >= 1
    seed = 0                  # int >= 0: seeds the data draws

    # kind = "gaussian"  (meanfield.gaussian_inputs with target = named_target(target, dim))
    dim = 2                   # int >= 1
    target = "x1"             # a name accepted by meanfield.named_target
    n_nodes = <library default>    # int >= 1: Gauss-Hermite nodes per axis (infinite data)
    n_samples = <library default>  # int >= 1: Monte-Carlo training samples instead
    n_test = 1000             # int >= 1
    seed = 0                  # int >= 0

    # kind = "modular_addition"  (meanfield.modular_addition)
    P = 11                    # int in [2, 100]: the modulus
    alpha = 0.5               # float in (0, 1]: training fraction of the P^2 pairs
    seed = 0                  # int >= 0: seeds the train/test split

    # kind = "finite"  (meanfield.finite_dataset)
    path = <required>         # .npz with x_train, y_train and optional x_test, y_test;
                              # a relative path is relative to the config file's folder

``[model]`` -- what is solved; ``kind`` = "bayesian" (meanfield.BayesianProblem) or "training"
(meanfield.TrainingProblem)::

    kind = "bayesian"
    # kind = "bayesian"
    activation = "erf"        # one of meanfield.ACTIVATION_NAMES
    width = 4.0               # float > 0: N
    noise = 0.01              # float > 0: sigma^2
    sigma_w2 = 1.0            # float > 0
    sigma_a2 = 1.0            # float > 0
    action = "linearised"     # "linearised" | "cavity"
    stabiliser = 0.0          # float >= 0: sextic stabiliser gamma
    trace_term = false        # bool; linearised action only

    # kind = "training"
    activation = "erf"
    weight_decay = 0.0        # float >= 0: lambda
    temperature = 0.0         # float >= 0: T
    init_w2 = 1.0             # float > 0
    init_a2 = 1.0             # float > 0

``[solver]`` -- meanfield.FixedPoint and its foreground and mixing::

    n_particles = 2048        # int >= 1 (ignored by the grid)
    foreground = "langevin"   # "langevin" | "grid" | "gradient_descent"
    # foreground = "langevin"
    step_size = 0.1           # float > 0
    n_steps = 50              # int >= 1  (gradient_descent: default 100)
    metropolis = true         # bool
    adapt = true              # bool
    # foreground = "grid"
    n_points = 201            # int in [3, 10001]
    extent = 6.0              # float > 0
    # foreground = "gradient_descent"
    learning_rate = 0.05      # float > 0
    n_steps = 100             # int >= 1
    mixing = "damped"         # "damped" | "anderson"
    beta = 0.5                # float in (0, 1]
    memory = 5                # int >= 1; anderson only
    max_iterations = 200      # int >= 1
    rtol = 1e-3               # float >= 1e-14 (below that float64 cannot tell)
    noise_factor = 3.0        # float >= 0
    patience = 2              # int >= 1
    n_groups = 8              # int >= 1
    burn_in = 2               # int >= 0
    n_average = 8             # int >= 0: iterations averaged after convergence (FixedPoint)

``[output]``::

    free_energy = true        # bool; default true for bayesian models, false (and only false)
                              # for training models
    checkpoint_every = 10     # int >= 1: iterations between checkpoint writes
    free_energy_method = "ladder" # "ladder" | "thermodynamic_integration": how log z is
                                  # estimated (meanfield.free_energy's method); a solve on the
                                  # grid foreground always gets the exact 'grid' value instead
    # free_energy_method = "ladder"  (bridge sampling along a replica-exchange ladder,
    # meanfield.Ladder; its other settings are Ladder()'s)
    free_energy_particles = 512   # int in [16, 10^7]: replica columns (Ladder's n_particles)
    free_energy_sweeps = 200      # int in [2, 10^6]: recorded exchange sweeps (n_sweeps). On
                                  # the default problem: F = 322.54 +- 0.50 (6 levels, smallest
                                  # swap rate 0.43, equilibrium gap 3.4 +- 2.8), in 41 s of wall
                                  # time for the solve and F together (the solve: 5 s) on 2 CPU
                                  # cores shared with other jobs
    # free_energy_method = "thermodynamic_integration"  (the older estimator, hysteretic
    # between basins)
    free_energy_n_strengths = 12  # int in [2, 64]: Gauss-Legendre nodes of the thermodynamic
                                  # integration (meanfield.free_energy's n_strengths)
    free_energy_n_steps = 200     # int >= 1: MALA steps per block at each node (n_steps); the
                                  # defaults are meanfield.free_energy's. On the default problem
                                  # the TI estimate still drifts with the schedule beyond its
                                  # error bar (0.74): 322.7 (8 x 50), 320.1 (12 x 200), 317.7
                                  # (16 x 400)

The keys of the other ``free_energy_method`` are allowed but unused (they are kept in the
normalised config, so that results folders written before the ladder was the default reopen).

Keys that belong to another ``kind`` (e.g. ``memory`` with ``mixing = "damped"``) are errors.
Every error is a `ConfigError` (a `ValueError`) whose message names the key path
(``model.noise``), the bad value, and what is allowed. The library's own constructor errors are
re-raised as `ConfigError` naming the section.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import tomli_w

from .._misc import MAX_SEED
from .._data.tasks import (
    NAMED_TARGETS, cubic_teacher, finite_dataset, gaussian_inputs, modular_addition, named_target,
)
from .._model.activations import ACTIVATION_NAMES, activation_from_name
from .._model.bayesian import BayesianProblem, CavityAction, LinearisedAction
from .._model.dynamics import TrainingProblem
from .._solver.foreground import GradientDescent, Grid, Langevin
from .._solver.mixing import Anderson, Damped
from .._solver.solve import FixedPoint

__all__ = ["ConfigError", "Config", "DEFAULT_CONFIG", "load_config", "parse_config",
           "config_to_toml"]


class ConfigError(ValueError):
    """A configuration is invalid; the message names the key path, the value and what is allowed."""


DEFAULT_CONFIG = """\
# meanfield's built-in default problem: the Bayesian mean field of a two-layer erf network
# learning a cubic teacher y = He_1(w*.x) + eps He_3(w*.x) in d = 2 (Rubin, Seroussi & Ringel 2024).
seed = 0

[task]
kind = "cubic_teacher"
dim = 2
n_train = 64
eps = 0.3
n_test = 500
seed = 0

[model]
kind = "bayesian"
activation = "erf"
width = 32.0
noise = 0.01
sigma_w2 = 1.0
sigma_a2 = 1.0
action = "linearised"

[solver]
n_particles = 2048
foreground = "langevin"
n_steps = 50
mixing = "damped"
beta = 0.2
max_iterations = 200

[output]
free_energy = true
checkpoint_every = 10
"""


class Config(NamedTuple):
    """The parsed config: unpacks as ``problem, solver, seed, options``.

    `options` holds the ``[output]`` fields (``free_energy``, ``checkpoint_every``,
    ``free_energy_method`` and the settings of both methods) and ``config``: the normalised
    config dict with every default filled in (finite-data paths made absolute), ready for
    `config_to_toml`.
    """

    problem: Any
    solver: Any
    seed: int
    options: dict


# --------------------------------------------------------------------------------------------
# field specifications

_MISSING = object()


class _Field:
    def __init__(self, kind, default=_MISSING, *, lo=None, hi=None, lo_open=False,
                 choices=None, optional=False):
        self.kind, self.default = kind, default
        self.lo, self.hi, self.lo_open = lo, hi, lo_open
        self.choices, self.optional = choices, optional

    def allowed(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        noun = {"int": "an integer", "float": "a finite number", "bool": "true or false",
                "str": "a string"}[self.kind]
        if self.lo is not None and self.hi is not None:
            left = "(" if self.lo_open else "["
            hi = "2^62" if self.hi == MAX_SEED else self.hi
            return f"{noun} in {left}{self.lo}, {hi}]"
        if self.lo is not None:
            return f"{noun} {'>' if self.lo_open else '>='} {self.lo}"
        return noun

    def check(self, path: str, value):
        bad = False
        if self.kind == "int":
            bad = isinstance(value, bool) or not isinstance(value, (int, np.integer))
        elif self.kind == "float":
            bad = (isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating))
                   or not math.isfinite(float(value)))
        elif self.kind == "bool":
            bad = not isinstance(value, (bool, np.bool_))
        elif self.kind == "str":
            bad = not isinstance(value, str)
        if bad:
            raise ConfigError(f"{path}: expected {self.allowed()}, got {value!r} "
                              f"(a {_toml_type(value)})")
        if self.kind == "int":
            value = int(value)
        elif self.kind == "float":
            value = float(value)
        elif self.kind == "bool":
            value = bool(value)
        if self.choices is not None and value not in self.choices:
            hint = _suggest(str(value), [str(c) for c in self.choices])
            raise ConfigError(f"{path}: {value!r} is not allowed; expected {self.allowed()}{hint}")
        if self.lo is not None:
            if value < self.lo or (self.lo_open and value == self.lo):
                raise ConfigError(f"{path}: {value!r} is out of range; expected {self.allowed()}")
        if self.hi is not None and value > self.hi:
            raise ConfigError(f"{path}: {value!r} is out of range; expected {self.allowed()}")
        return value


def _toml_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _int(default=_MISSING, lo=None, hi=None, **kw):
    return _Field("int", default, lo=lo, hi=hi, **kw)


def _float(default=_MISSING, lo=None, hi=None, lo_open=False, **kw):
    return _Field("float", default, lo=lo, hi=hi, lo_open=lo_open, **kw)


def _pos(default):
    return _float(default, lo=0, lo_open=True)


_TASKS = {
    "cubic_teacher": {
        "dim": _int(2, 1, 10_000), "n_train": _int(64, 1, 1_000_000), "eps": _float(0.3),
        "n_test": _int(500, 1, 1_000_000), "seed": _int(0, 0),
    },
    "gaussian": {
        "dim": _int(2, 1, 10_000), "target": _Field("str", "x1"),
        "n_nodes": _int(None, 1, 10_000, optional=True),
        "n_samples": _int(None, 1, 1_000_000, optional=True),
        "n_test": _int(1000, 1, 1_000_000), "seed": _int(0, 0),
    },
    "modular_addition": {"P": _int(11, 2, 100), "alpha": _float(0.5, 0, 1, lo_open=True),
                         "seed": _int(0, 0)},
    "finite": {"path": _Field("str")},
}

_ACTIVATION = _Field("str", "erf", choices=tuple(ACTIVATION_NAMES))

_MODELS = {
    "bayesian": {
        "activation": _ACTIVATION, "width": _pos(4.0), "noise": _pos(0.01),
        "sigma_w2": _pos(1.0), "sigma_a2": _pos(1.0),
        "action": _Field("str", "linearised", choices=("linearised", "cavity")),
        "stabiliser": _float(0.0, lo=0), "trace_term": _Field("bool", False),
    },
    "training": {
        "activation": _ACTIVATION, "weight_decay": _float(0.0, lo=0),
        "temperature": _float(0.0, lo=0), "init_w2": _pos(1.0), "init_a2": _pos(1.0),
    },
}

_FOREGROUNDS = {
    "langevin": {"step_size": _pos(0.1), "n_steps": _int(50, 1, 1_000_000),
                 "metropolis": _Field("bool", True), "adapt": _Field("bool", True)},
    "grid": {"n_points": _int(201, 3, 10_001), "extent": _pos(6.0)},
    "gradient_descent": {"learning_rate": _pos(0.05), "n_steps": _int(100, 1, 1_000_000)},
}

_MIXINGS = {
    "damped": {"beta": _float(0.5, 0, 1, lo_open=True)},
    "anderson": {"beta": _float(0.5, 0, 1, lo_open=True), "memory": _int(5, 1, 1000)},
}

_SOLVER_COMMON = {
    "n_particles": _int(2048, 1, 10_000_000), "max_iterations": _int(200, 1),
    "rtol": _float(1e-3, lo=1e-14), "noise_factor": _float(3.0, lo=0), "patience": _int(2, 1),
    "n_groups": _int(8, 1), "burn_in": _int(2, 0), "n_average": _int(8, 0, 100_000),
}

_SECTIONS = ("task", "model", "solver", "output")
_TOP = {"seed": _int(0, 0, MAX_SEED)}


# --------------------------------------------------------------------------------------------
# parsing helpers


def _table(cfg: dict, name: str) -> dict:
    value = cfg.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: expected a table [{name}], got {value!r} "
                          f"(a {_toml_type(value)})")
    for key in value:
        if not isinstance(key, str):
            raise ConfigError(f"{name}: keys must be strings, got {key!r}")
    return value


def _unknown(path_prefix: str, key: str, allowed, elsewhere: dict | None = None):
    where = f"{path_prefix}.{key}" if path_prefix else key
    if elsewhere and key in elsewhere:
        owner = elsewhere[key]
        raise ConfigError(f"{where}: this key is only used with {owner}; remove it or change "
                          "the kind")
    hint = _suggest(key, allowed)
    raise ConfigError(f"{where}: unknown key{hint}; allowed keys are {', '.join(sorted(allowed))}")


def _fill(prefix: str, table: dict, fields: dict, skip=(), elsewhere=None) -> dict:
    """Check the keys of `table` against `fields`, returning values with defaults filled in."""
    allowed = set(fields) | set(skip)
    for key in table:
        if key not in allowed:
            _unknown(prefix, key, allowed, elsewhere)
    out = {}
    for key, field in fields.items():
        if key in table:
            out[key] = field.check(f"{prefix}.{key}", table[key])
        elif field.default is _MISSING:
            raise ConfigError(f"{prefix}.{key}: required key is missing; expected "
                              f"{field.allowed()}")
        else:
            out[key] = field.default
    return out


def _choose(prefix: str, table: dict, key: str, options: dict, default: str) -> str:
    field = _Field("str", default, choices=tuple(options))
    return field.check(f"{prefix}.{key}", table.get(key, default))


def _others(options: dict, chosen: str, label: str) -> dict:
    """Keys of the other kinds, to explain why they are not allowed with `chosen`."""
    out = {}
    for name, fields in options.items():
        if name == chosen:
            continue
        for key in fields:
            out.setdefault(key, f"{label} = {name!r}")
    return out


def _library(section: str, fn, *args, **kwargs):
    """Call a library constructor, re-raising its ValueError as a ConfigError on `section`."""
    try:
        return fn(*args, **kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError) as err:
        raise ConfigError(f"[{section}]: {err}") from err


# --------------------------------------------------------------------------------------------
# sections


def _build_task(table: dict, base_dir: Path):
    kind = _choose("task", table, "kind", _TASKS, "cubic_teacher")
    vals = _fill("task", table, _TASKS[kind], skip=("kind",),
                 elsewhere=_others(_TASKS, kind, "task.kind"))
    norm = {"kind": kind, **{k: v for k, v in vals.items() if v is not None}}
    if kind == "cubic_teacher":
        if vals["dim"] * (vals["n_train"] + vals["n_test"]) > 50_000_000:
            raise ConfigError("task: dim * (n_train + n_test) is too large (> 5e7 numbers)")
        task = _library("task", cubic_teacher, vals["dim"], vals["n_train"], eps=vals["eps"],
                        n_test=vals["n_test"], seed=vals["seed"])
    elif kind == "gaussian":
        if vals["dim"] * ((vals["n_samples"] or 0) + vals["n_test"]) > 50_000_000:
            raise ConfigError("task: dim * (n_samples + n_test) is too large (> 5e7 numbers)")
        try:
            target = named_target(vals["target"], vals["dim"])
        except ValueError as err:
            hint = _suggest(vals["target"], sorted(NAMED_TARGETS))
            raise ConfigError(f"task.target: {err}{hint}") from err
        kwargs = {k: vals[k] for k in ("n_nodes", "n_samples") if vals[k] is not None}
        task = _library("task", gaussian_inputs, vals["dim"], target, n_test=vals["n_test"],
                        seed=vals["seed"], **kwargs)
    elif kind == "modular_addition":
        task = _library("task", modular_addition, vals["P"], vals["alpha"], seed=vals["seed"])
    else:  # finite
        path = Path(os.path.expanduser(vals["path"]))
        if not path.is_absolute():
            path = Path(base_dir) / path
        path = path.resolve()
        norm["path"] = str(path)
        if not path.is_file():
            raise ConfigError(f"task.path: file {str(path)!r} not found (a relative path is "
                              "relative to the config file's folder); expected an .npz with "
                              "x_train, y_train and optional x_test, y_test")
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: np.asarray(f[k]) for k in f.files}
        except Exception as err:
            raise ConfigError(f"task.path: cannot read {str(path)!r} as an .npz archive "
                              f"({err})") from err
        missing = [k for k in ("x_train", "y_train") if k not in arrays]
        if missing:
            raise ConfigError(f"task.path: {str(path)!r} lacks the array(s) {missing}; it holds "
                              f"{sorted(arrays)}; expected x_train, y_train and optional "
                              "x_test, y_test")
        extra = sorted(set(arrays) - {"x_train", "y_train", "x_test", "y_test"})
        if extra:
            raise ConfigError(f"task.path: {str(path)!r} holds unexpected array(s) {extra}; "
                              "allowed are x_train, y_train, x_test, y_test")
        task = _library("task", finite_dataset, arrays["x_train"], arrays["y_train"],
                        arrays.get("x_test"), arrays.get("y_test"), name=path.stem)
    return task, norm


def _build_model(table: dict, task):
    kind = _choose("model", table, "kind", _MODELS, "bayesian")
    vals = _fill("model", table, _MODELS[kind], skip=("kind",),
                 elsewhere=_others(_MODELS, kind, "model.kind"))
    activation = activation_from_name(vals["activation"])
    if kind == "bayesian":
        if vals["action"] == "cavity":
            if "trace_term" in table:
                raise ConfigError("model.trace_term: only used with action = 'linearised' (the "
                                  "cavity action always keeps the log-det term); remove it")
            action = _library("model", CavityAction, stabiliser=vals["stabiliser"])
            vals.pop("trace_term")
        else:
            action = _library("model", LinearisedAction, stabiliser=vals["stabiliser"],
                              trace_term=vals["trace_term"])
        problem = _library("model", BayesianProblem, task, activation, width=vals["width"],
                           noise=vals["noise"], sigma_w2=vals["sigma_w2"],
                           sigma_a2=vals["sigma_a2"], action=action)
    else:
        problem = _library("model", TrainingProblem, task, activation,
                           weight_decay=vals["weight_decay"], temperature=vals["temperature"],
                           init_w2=vals["init_w2"], init_a2=vals["init_a2"])
    return problem, {"kind": kind, **vals}


def _build_solver(table: dict):
    fg_kind = _choose("solver", table, "foreground", _FOREGROUNDS, "langevin")
    mix_kind = _choose("solver", table, "mixing", _MIXINGS, "damped")
    fields = {**_SOLVER_COMMON, **_FOREGROUNDS[fg_kind], **_MIXINGS[mix_kind]}
    elsewhere = {**_others(_FOREGROUNDS, fg_kind, "solver.foreground"),
                 **_others(_MIXINGS, mix_kind, "solver.mixing")}
    vals = _fill("solver", table, fields, skip=("foreground", "mixing"), elsewhere=elsewhere)
    fg_vals = {k: vals[k] for k in _FOREGROUNDS[fg_kind]}
    mix_vals = {k: vals[k] for k in _MIXINGS[mix_kind]}
    fg_cls = {"langevin": Langevin, "grid": Grid,
              "gradient_descent": GradientDescent}[fg_kind]
    mix_cls = {"damped": Damped, "anderson": Anderson}[mix_kind]
    foreground = _library("solver", fg_cls, **fg_vals)
    mixing = _library("solver", mix_cls, **mix_vals)
    common = {k: vals[k] for k in _SOLVER_COMMON}
    solver = _library("solver", FixedPoint, foreground=foreground, mixing=mixing, **common)
    norm = {"n_particles": vals["n_particles"], "foreground": fg_kind, **fg_vals,
            "mixing": mix_kind, **mix_vals,
            **{k: v for k, v in common.items() if k != "n_particles"}}
    return solver, norm


FREE_ENERGY_METHODS = ("ladder", "thermodynamic_integration")


def _build_output(table: dict, model_kind: str):
    fields = {"free_energy": _Field("bool", model_kind == "bayesian"),
              "checkpoint_every": _int(10, 1),
              "free_energy_method": _Field("str", "ladder", choices=FREE_ENERGY_METHODS),
              "free_energy_particles": _int(512, 16, 10_000_000),
              "free_energy_sweeps": _int(200, 2, 1_000_000),
              "free_energy_n_strengths": _int(12, 2, 64),
              "free_energy_n_steps": _int(200, 1, 1_000_000)}
    vals = _fill("output", table, fields)
    if vals["free_energy"] and model_kind != "bayesian":
        raise ConfigError("output.free_energy: true is only allowed for model.kind = 'bayesian' "
                          "(the free energy of a training problem is not defined); set it to "
                          "false")
    return vals


# --------------------------------------------------------------------------------------------
# public API


def parse_config(cfg: dict, base_dir=".") -> Config:
    """Validate a config dict (as read from TOML) and build its problem and solver.

    Args:
        cfg: the config (see the module docstring for the schema).
        base_dir: the folder relative finite-data paths are resolved against.

    Returns:
        `Config(problem, solver, seed, options)`.

    Raises:
        ConfigError: naming the key path, the bad value and what is allowed.
    """
    if not isinstance(cfg, dict):
        raise ConfigError(f"the config must be a table (dict), got a {_toml_type(cfg)}")
    for key in cfg:
        if not isinstance(key, str):
            raise ConfigError(f"config keys must be strings, got {key!r}")
        if key not in _TOP and key not in _SECTIONS:
            _unknown("", key, set(_TOP) | set(_SECTIONS))
    seed = _TOP["seed"].check("seed", cfg.get("seed", 0))
    task, task_norm = _build_task(_table(cfg, "task"), Path(base_dir))
    problem, model_norm = _build_model(_table(cfg, "model"), task)
    solver, solver_norm = _build_solver(_table(cfg, "solver"))
    if solver_norm["foreground"] == "grid" and problem.n_params > 2:
        raise ConfigError(f"solver.foreground: 'grid' integrates neurons with at most 2 "
                          f"parameters, this problem has {problem.n_params}; use 'langevin'")
    output = _build_output(_table(cfg, "output"), model_norm["kind"])
    normalised = {"seed": seed, "task": task_norm, "model": model_norm, "solver": solver_norm,
                  "output": dict(output)}
    options = {**output, "config": normalised}
    return Config(problem, solver, seed, options)


def load_config(path) -> Config:
    """Read and validate a TOML config file (relative finite-data paths resolve from its folder)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {err}") from err
    return parse_config(loads(text, source=str(path)), base_dir=path.resolve().parent)


def loads(text: str, source: str = "<config>") -> dict:
    """Parse TOML text into a dict, raising ConfigError on a syntax error."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source}: invalid TOML: {err}") from err


def config_to_toml(cfg: dict) -> str:
    """A config dict as TOML text (None values are left out: TOML has no null)."""

    def clean(d):
        return {k: clean(v) if isinstance(v, dict) else v for k, v in d.items() if v is not None}

    top = {k: v for k, v in cfg.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in cfg.items() if isinstance(v, dict)}
    return tomli_w.dumps(clean({**top, **tables}))
