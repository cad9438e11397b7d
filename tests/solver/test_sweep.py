"""Continuation sweeps: warm-started branches, resumable, and the free-energy crossing."""

import numpy as np
import pytest

import meanfield as mf
from meanfield._solver import sweep as _sweep


def _make(noise):
    x = np.linspace(-2.0, 2.0, 8)[:, None]
    return mf.BayesianProblem(mf.finite_dataset(x, np.tanh(2.0 * x)), mf.Erf(), width=1.0,
                              noise=noise)


GRID = mf.FixedPoint(foreground=mf.Grid(n_points=201, extent=8.0), mixing=mf.Anderson(),
                     rtol=1e-9, max_iterations=300)
VALUES = [0.1, 0.04, 0.02]


def test_warm_started_sweep_matches_independent_solves():
    res = mf.sweep(_make, VALUES, GRID, progress=False,
                   observe=lambda s: {"kernel_trace": float(np.trace(np.asarray(s.field)))})
    assert all(p["status"] in mf.Status.USABLE for p in res.points), res.points
    for value, point in zip(VALUES, res.points):
        cold = mf.solve(_make(value), GRID, progress=False)
        np.testing.assert_allclose(point["kernel_trace"], float(np.trace(np.asarray(cold.field))),
                                   rtol=1e-6)
        np.testing.assert_allclose(point["test_loss"], cold.test_loss, rtol=1e-5, atol=1e-12)
    assert res.column("kernel_trace").shape == (3,)


def test_interrupted_sweep_resumes_without_losing_points(tmp_path, monkeypatch):
    full = mf.sweep(_make, VALUES, GRID, progress=False)
    calls = {"n": 0}
    real_solve = _sweep.solve

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_solve(*args, **kwargs)

    monkeypatch.setattr(_sweep, "solve", flaky)
    with pytest.raises(KeyboardInterrupt):
        mf.sweep(_make, VALUES, GRID, folder=tmp_path, progress=False)
    assert sorted(p.name for p in tmp_path.glob("point_*.json")) == ["point_0000.json"]
    monkeypatch.setattr(_sweep, "solve", real_solve)
    resumed = mf.sweep(_make, VALUES, GRID, folder=tmp_path, progress=False)
    for a, b in zip(full.points, resumed.points):
        np.testing.assert_allclose(a["test_loss"], b["test_loss"], rtol=1e-9)
    # a different sweep refuses the folder
    with pytest.raises(ValueError, match="different sweep"):
        mf.sweep(_make, [0.5, 0.2], GRID, folder=tmp_path, progress=False)


def test_crossing_linear_and_errors():
    x = np.linspace(0.0, 1.0, 11)
    d = 2.0 * (x - 0.37)
    xc, err = mf.crossing(x, d, np.full_like(x, 0.01))
    assert abs(xc - 0.37) < 1e-12
    assert 0 < err < 0.05
    # NaN entries (a missing branch) are skipped
    d2 = d.copy()
    d2[:2] = np.nan
    assert abs(mf.crossing(x, d2)[0] - 0.37) < 1e-12
    with pytest.raises(ValueError, match="does not change sign"):
        mf.crossing(x, np.abs(d) + 1)
    with pytest.raises(ValueError, match="one length"):
        mf.crossing(x, d[:-1])


def test_sweep_argument_errors():
    with pytest.raises(ValueError, match="at least one"):
        mf.sweep(_make, [], GRID)
    with pytest.raises(ValueError, match="finite"):
        mf.sweep(_make, [0.1, float("nan")], GRID)
