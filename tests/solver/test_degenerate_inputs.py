"""Degenerate inputs that used to end 'converged' with a wrong answer (issue 15, item 5): each
now ends in a status that is not usable, or in a usable answer that equals the exact grid's
within the particles' own seed-to-seed spread."""

import numpy as np
import pytest

import meanfield as mf


def _problem(**model):
    # the built-in default problem (cubic teacher, d = 2, erf, width 32, noise 0.01), smaller
    task = mf.cubic_teacher(2, 16, eps=0.3, n_test=50, seed=0)
    kw = {"width": 32.0, "noise": 0.01, **model}
    return mf.BayesianProblem(task, mf.Erf(), **kw)


def _solver(n_particles=1024, foreground=None, mixing=None, **kw):
    return mf.FixedPoint(n_particles=n_particles, foreground=foreground or mf.Langevin(),
                         mixing=mixing or mf.Damped(0.2), **kw)


@pytest.mark.parametrize("label, model, solver", [
    ("noise 1e-12", {"noise": 1e-12}, {}),
    ("noise 1e-300", {"noise": 1e-300}, {}),
    ("width 1e-300", {"width": 1e-300}, {}),
    ("step size 1e-300", {}, {"foreground": mf.Langevin(step_size=1e-300, adapt=False)}),
    ("16 particles", {}, {"n_particles": 16}),
])
def test_degenerate_inputs_are_not_reported_usable(label, model, solver):
    sol = mf.solve(_problem(**model), _solver(max_iterations=40, **solver), key=0,
                   progress=False, throw=False)
    assert sol.status in ("not_equilibrated", "unresolved", "nonfinite"), (label, sol.message)
    assert not sol.usable


@pytest.mark.parametrize("label, model, mixing", [
    ("defaults", {}, mf.Damped(0.2)),
    ("sigma_a2 1e12", {"sigma_a2": 1e12}, mf.Damped(0.2)),
    ("width 1e300", {"width": 1e300}, mf.Damped(0.2)),
    ("undamped", {}, mf.Damped(1.0)),
])
def test_usable_answers_on_extreme_inputs_equal_the_grid(label, model, mixing):
    problem = _problem(**model)
    x = problem.task.test.x
    grid = mf.solve(problem, mf.FixedPoint(foreground=mf.Grid(), max_iterations=400),
                    progress=False)
    exact = np.asarray(grid.predict(x))
    scale = max(float(np.sqrt(np.mean(exact**2))), 1e-300)
    sols = [mf.solve(problem, _solver(mixing=mixing), key=k, progress=False) for k in (0, 7)]
    assert all(s.usable for s in sols), [s.message for s in sols]
    preds = [np.asarray(s.predict(x)) for s in sols]
    spread = float(np.sqrt(np.mean((preds[0] - preds[1]) ** 2))) / scale
    for p in preds:
        assert float(np.sqrt(np.mean((p - exact) ** 2))) / scale < 2.0 * spread + 1e-12, label
