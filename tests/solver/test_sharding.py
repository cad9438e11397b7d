"""Particles sharded over several (forced host) devices give the single-device answer.

XLA's host device count is fixed when JAX starts, so the check runs in a fresh interpreter.
"""

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import os, json
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    import jax, jax.numpy as jnp, numpy as np
    import meanfield as mf
    assert len(jax.devices()) == 4
    out = {}
    # exact (grid) solve: identical up to rounding
    x = np.linspace(-2, 2, 10)[:, None]
    problem = mf.BayesianProblem(mf.finite_dataset(x, np.tanh(2 * x)), mf.Erf(), width=1.0,
                                 noise=0.01)
    grid = mf.Grid(n_points=480, extent=12.0)
    base = dict(foreground=grid, mixing=mf.Anderson(), rtol=1e-9, max_iterations=300)
    one = mf.solve(problem, mf.FixedPoint(**base), progress=False)
    four = mf.solve(problem, mf.FixedPoint(**base, shard=True), progress=False)
    out["grid_rel"] = float(jnp.linalg.norm(one.field - four.field) / jnp.linalg.norm(one.field))
    out["grid_devices"] = len(four.particles.theta.sharding.device_set)
    # particle (MALA) solve: the same answer within Monte-Carlo error
    task = mf.cubic_teacher(2, 24, eps=0.3, seed=0)
    problem = mf.BayesianProblem(task, mf.Erf(), width=32.0, noise=0.01)
    solver = dict(n_particles=4096, max_iterations=100, mixing=mf.Damped(0.2))
    a = mf.solve(problem, mf.FixedPoint(**solver), key=2, progress=False)
    b = mf.solve(problem, mf.FixedPoint(**solver, shard=True), key=2, progress=False)
    out["mc_rel"] = float(jnp.linalg.norm(a.field - b.field) / jnp.linalg.norm(a.field))
    out["mc_floor"] = float(np.hypot(a.noise_floor, b.noise_floor))
    out["mc_devices"] = len(b.particles.theta.sharding.device_set)
    try:
        mf.FixedPoint(n_particles=1022, shard=True)
        mf.solve(problem, mf.FixedPoint(n_particles=1022, shard=True), progress=False)
    except ValueError as err:
        out["error"] = str(err)
    print(json.dumps(out))
""")


def test_sharded_solve_matches_single_device():
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["grid_devices"] == 4 and out["mc_devices"] == 4
    assert out["grid_rel"] < 1e-10, out
    # two independent-looking chains: their difference is ~sqrt(2) noise floors
    assert out["mc_rel"] < 3 * out["mc_floor"], out
    assert "multiple of the number of devices" in out["error"]
