"""The benchmark harness runs and reports finite ratios (no timing is asserted)."""

import importlib.util
import json
import math
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_particle_step_reports_finite_ratios():
    bench = _load()
    r = bench.particle_step(64, 16, 2, n_steps=2)
    for key in ("seconds_per_step", "fraction_of_elementwise_roofline", "fraction_of_matmul_peak",
                "peak_matmul_gflops_f64"):
        assert math.isfinite(r[key]) and r[key] > 0, (key, r[key])
    json.dumps(r)


def test_two_hot_step_reports_the_gather_speedup():
    bench = _load()
    r = bench.two_hot_step(5, 0.6, 32, n_steps=2)
    for key in ("seconds_per_step_dense", "seconds_per_step_gather", "speedup_gather_over_dense",
                "flop_ratio_dense_over_gather"):
        assert math.isfinite(r[key]) and r[key] > 0, (key, r[key])
    assert r["n_data"] == 15 and r["dim"] == 10


@pytest.mark.slow  # 14 s; keeps the default suite under 10 min
def test_brute_force_reports_errors_against_the_grid_and_equal_accuracy_ratios():
    bench = _load()
    r = bench.brute_force(quick=True, progress=False)
    assert r["reference"]["rms_change_from_coarser_grid"] < 1e-8
    for rec in r["mean_field"] + r["langevin"]:
        assert math.isfinite(rec["error"]) and rec["error"] > 0
        assert math.isfinite(rec["seconds"]) and rec["seconds"] > 0
    # iterate averaging is what makes the particle predictor accurate (FixedPoint.n_average)
    by_k = {rec["n_average"]: rec["error"] for rec in r["mean_field"]}
    assert by_k[8] < 0.5 * by_k[0], by_k
    for row in r["equal_accuracy"]:
        ratio = row["ratio_langevin_over_mean_field"]
        assert ratio is None or (math.isfinite(ratio) and ratio > 0)
    json.dumps(r)


@pytest.mark.slow  # 23 s; keeps the default suite under 10 min
def test_cost_scaling_reports_exponents():
    bench = _load()
    r = bench.cost_scaling(quick=True, progress=False)
    for method in ("mean_field_iteration", "langevin_step"):
        for axis in r[method].values():
            assert all(t > 0 for t in axis["seconds"]) and math.isfinite(axis["exponent"])


def test_background_reports_the_speedup_over_the_explicit_inverse():
    bench = _load()
    r = bench.background(5, 0.6, n_particles=64)
    for key in ("seconds_background", "seconds_admissibility", "seconds_explicit_inverse_path",
                "seconds_cholesky", "speedup_over_explicit_inverse", "background_over_cholesky"):
        assert math.isfinite(r[key]) and r[key] > 0, (key, r[key])
    assert r["n_data"] == 15
    json.dumps(r)
