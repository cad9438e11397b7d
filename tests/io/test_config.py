"""Config parsing and validation (meanfield._io.config)."""

import numpy as np
import pytest
import tomllib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import meanfield as mf
from meanfield._data.tasks import NAMED_TARGETS
from meanfield._io.config import (
    DEFAULT_CONFIG,
    ConfigError,
    config_to_toml,
    load_config,
    parse_config,
)


def parse(cfg, base_dir="."):
    return parse_config(cfg, base_dir)


def test_default_config_builds_the_documented_problem():
    problem, solver, seed, options = parse(tomllib.loads(DEFAULT_CONFIG))
    assert isinstance(problem, mf.BayesianProblem)
    assert isinstance(problem.activation, mf.Erf)
    assert problem.noise == 0.01 and problem.sigma_w2 == 1.0 and problem.sigma_a2 == 1.0
    assert isinstance(problem.action, mf.LinearisedAction)
    assert problem.task.train.n == 64 and problem.task.test.n == 500 and problem.data.dim == 2
    assert isinstance(solver.foreground, mf.Langevin) and isinstance(solver.mixing, mf.Damped)
    assert solver.n_particles == 2048 and seed == 0
    assert options["free_energy"] is True


def test_free_energy_defaults_to_the_ladder():
    options = parse({}).options
    assert options["free_energy_method"] == "ladder"
    assert options["free_energy_particles"] == 512 and options["free_energy_sweeps"] == 200
    assert options["config"]["output"]["free_energy_method"] == "ladder"
    ti = parse({"output": {"free_energy_method": "thermodynamic_integration",
                           "free_energy_n_strengths": 8}}).options
    assert ti["free_energy_method"] == "thermodynamic_integration"
    assert ti["free_energy_n_strengths"] == 8 and ti["free_energy_n_steps"] == 200
    # a config written before the method existed (with the TI keys) still parses
    old = parse({"output": {"free_energy_n_strengths": 12, "free_energy_n_steps": 200}})
    assert old.options["free_energy_method"] == "ladder"


def test_empty_config_uses_defaults():
    problem, solver, seed, options = parse({})
    assert isinstance(problem, mf.BayesianProblem) and seed == 0
    assert options["checkpoint_every"] == 10


def test_round_trip_through_toml(tmp_path):
    cfg = {"seed": 3, "task": {"kind": "gaussian", "dim": 2, "target": "xor", "n_nodes": 8},
           "model": {"kind": "training", "activation": "tanh", "weight_decay": 0.01},
           "solver": {"n_particles": 64, "foreground": "gradient_descent",
                      "learning_rate": 0.1, "mixing": "anderson", "memory": 3},
           "output": {"checkpoint_every": 5}}
    first = parse(cfg)
    path = tmp_path / "c.toml"
    path.write_text(config_to_toml(first.options["config"]))
    second = load_config(path)
    assert second.options["config"] == first.options["config"]
    assert second.seed == 3 and second.options["free_energy"] is False
    assert isinstance(second.solver.mixing, mf.Anderson) and second.solver.mixing.memory == 3
    assert isinstance(second.problem, mf.TrainingProblem)


@pytest.mark.parametrize("cfg, fragments", [
    ({"model": {"nosie": 0.1}}, ["model.nosie", "unknown key", "did you mean 'noise'"]),
    ({"solvr": {}}, ["solvr", "did you mean 'solver'"]),
    ({"model": {"noise": "0.1"}}, ["model.noise", "'0.1'", "string", "finite number"]),
    ({"task": {"n_train": True}}, ["task.n_train", "True", "boolean", "integer"]),
    ({"task": {"n_train": 6.5}}, ["task.n_train", "6.5", "integer"]),
    ({"model": {"noise": -1.0}}, ["model.noise", "-1.0", "out of range", "> 0"]),
    ({"model": {"noise": float("nan")}}, ["model.noise", "nan"]),
    ({"solver": {"beta": 1.5}}, ["solver.beta", "1.5", "(0, 1]"]),
    ({"model": {"activation": "erff"}}, ["model.activation", "erff", "one of", "did you mean 'erf'"]),
    ({"model": {"action": "cavaty"}}, ["model.action", "'linearised', 'cavity'"]),
    ({"solver": {"foreground": "sgd"}}, ["solver.foreground", "'langevin'"]),
    ({"task": {"kind": "mnist"}}, ["task.kind", "'cubic_teacher'"]),
    ({"solver": {"memory": 3}}, ["solver.memory", "mixing = 'anderson'"]),
    ({"solver": {"learning_rate": 0.1}}, ["solver.learning_rate", "gradient_descent"]),
    ({"model": {"kind": "training"}, "output": {"free_energy": True}}, ["output.free_energy"]),
    ({"output": {"free_energy_method": "nonsense"}},
     ["output.free_energy_method", "'nonsense'", "'ladder', 'thermodynamic_integration'"]),
    ({"output": {"free_energy_method": "laddr"}}, ["did you mean 'ladder'"]),
    ({"output": {"free_energy_particles": 8}}, ["output.free_energy_particles", "[16, "]),
    ({"output": {"free_energy_sweeps": 1}}, ["output.free_energy_sweeps", "[2, "]),
    ({"output": {"free_energy_sweeps": 2.5}}, ["output.free_energy_sweeps", "integer"]),
    ({"model": {"action": "cavity", "trace_term": True}}, ["model.trace_term"]),
    ({"task": "cubic"}, ["task", "table"]),
    ({"seed": -1}, ["seed", "[0, 2^62]"]),
    ({"seed": 2**62 + 1}, ["seed", "[0, 2^62]"]),
    ({"solver": {"rtol": 1e-320}}, ["solver.rtol", ">= 1e-14"]),
    ({"task": {"kind": "gaussian", "target": "xr"}}, ["task.target", "xr"]),
    ({"task": {"kind": "finite"}}, ["task.path", "required"]),
    ({"model": {"activation": "quadratic"}}, ["[model]", "stabiliser"]),  # library error
    ({"solver": {"foreground": "grid"}, "task": {"dim": 3}}, ["solver.foreground", "grid"]),
])
def test_documented_errors(cfg, fragments):
    with pytest.raises(ConfigError) as info:
        parse(cfg)
    msg = str(info.value)
    for frag in fragments:
        assert frag in msg, (frag, msg)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("typo, meant", [("xr", "xor"), ("x1x3", "x1x2"), ("tanh_x2", "tanh_x1")])
def test_misspelt_target_gets_a_did_you_mean(typo, meant):
    assert meant in NAMED_TARGETS
    with pytest.raises(ConfigError, match=f"did you mean '{meant}'"):
        parse({"task": {"kind": "gaussian", "dim": 2, "target": typo}})


def test_unrelated_target_gets_no_guess():
    with pytest.raises(ConfigError) as info:
        parse({"task": {"kind": "gaussian", "dim": 2, "target": "mnist"}})
    assert "did you mean" not in str(info.value) and "allowed names" in str(info.value)


def test_finite_data_relative_path(tmp_path):
    x = np.linspace(-1, 1, 10)[:, None]
    np.savez(tmp_path / "data.npz", x_train=x, y_train=np.sin(x))
    cfg = {"task": {"kind": "finite", "path": "data.npz"},
           "solver": {"foreground": "grid", "n_points": 31}}
    (tmp_path / "c.toml").write_text(config_to_toml(cfg))
    conf = load_config(tmp_path / "c.toml")
    assert conf.problem.task.train.n == 10
    assert conf.options["config"]["task"]["path"] == str((tmp_path / "data.npz").resolve())


def test_finite_data_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"task\.path.*not found"):
        parse({"task": {"kind": "finite", "path": "nope.npz"}}, tmp_path)


def test_finite_data_missing_array(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=np.zeros((3, 1)))
    with pytest.raises(ConfigError, match=r"task\.path.*y_train"):
        parse({"task": {"kind": "finite", "path": "d.npz"}}, tmp_path)


def test_missing_and_invalid_toml_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[model\nnoise = ")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(tmp_path / "bad.toml")


_KEYS = ["seed", "task", "model", "solver", "output", "kind", "dim", "n_train", "eps", "noise",
         "width", "activation", "action", "foreground", "mixing", "beta", "memory", "n_steps",
         "path", "target", "P", "alpha", "n_particles", "free_energy", "junk", "n_nodes"]
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 70), st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(["erf", "cavity", "grid", "anderson", "gaussian", "finite", "training",
                     "modular_addition", "xor", "relu", "quadratic", "gradient_descent"]),
)
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4)), max_leaves=10)
_tables = st.dictionaries(st.sampled_from(_KEYS), _values, max_size=5)
_configs = st.dictionaries(st.sampled_from(_KEYS), st.one_of(_tables, _values), max_size=5)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_configs)
def test_junk_raises_config_error_or_succeeds(tmp_path_factory, cfg):
    base = tmp_path_factory.getbasetemp()
    try:
        conf = parse_config(cfg, base)
    except ConfigError:
        return
    assert conf.problem is not None and conf.solver is not None
