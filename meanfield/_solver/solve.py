r"""`solve`: the foreground/background fixed-point iteration (physics.md section 4).

    background_0 = G(particles drawn from the prior / initialisation)
    repeat:
        foreground:  move the persistent particles against the frozen background B
        recompute:   G(B), the background measured on the moved particles, and its Monte-Carlo
                     standard error s from batch means over `n_groups` groups of particles
        residual:    r = |G(B) - B| / |B|
        certificate: c +- e, whether the moved cloud is the law B selects
                     (`meanfield._solver.certificate`: equipartition for the samplers,
                     stationarity for gradient descent)
        mix:         B <- mixing(B, G(B))
    stop when, for `patience` consecutive iterations, r <= rtol + noise_factor * s/|B| and
    c <= certificate_tol + noise_factor * e (with e <= 0.1).

The residual alone cannot tell a fixed point from particles that stopped moving (then G(B) = B
exactly); the certificate can. The stopping rule accepts a background whose remaining change is
below the tolerance or is indistinguishable from the Monte-Carlo noise of M particles, and the
status says which: 'converged' when r <= rtol itself and the floor (times noise_factor) is below
rtol; 'noise_limited' when the floor is above rtol (then `Solution.particles_for_rtol` estimates
the M that would reach rtol); 'unresolved' when the floor is above half the field; with a floor
below rtol the iteration goes on until r reaches rtol. A residual that passes while the
certificate does not ends 'not_equilibrated' (also when the certificate of the last averaged
iterate fails). Out of iterations, the status is 'stagnated' when the residual stopped
decreasing (median of the last window >= 0.9 x the window before) while staying above what the
floor explains, and 'max_iterations' otherwise. A solve that ends in anything but converged or
noise_limited, produces non-finite numbers or diverges raises `SolveError` explaining what
happened and what to try (`throw=False` returns the failed `Solution` instead). With
`checkpoint=PATH` the state is written atomically every `checkpoint_every` iterations and on
Ctrl-C, and a later call with the same arguments resumes from it, giving the same answer as an
uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .foreground import AbstractForeground, Langevin
from .mixing import AbstractMixing, Damped
from .._model.particles import Particles
from .._model.problem import AbstractProblem
from .._misc import Progress, as_key, check_integer, check_positive
from .solution import Solution, SolveError, Status, particles_for_rtol
from .checkpoint import load_checkpoint, save_checkpoint


class FixedPoint(eqx.Module):
    """Configuration of the fixed-point iterator.

    Attributes:
        n_particles: M, the number of foreground particles (ignored by `Grid`).
        foreground: an `AbstractForeground`: `Langevin(...)`, `Tempering(...)`,
            `GradientDescent(...)` or `Grid(...)`.
        mixing: an `AbstractMixing`: `Damped(beta)` or `Anderson(memory, beta)`.
        max_iterations: give up (status 'max_iterations') after this many iterations.
        rtol: relative tolerance on |G(B) - B| / |B|.
        noise_factor: how many Monte-Carlo standard errors count as "within noise".
        patience: consecutive iterations that must pass the test.
        n_groups: groups of particles for the batch-means error bar.
        burn_in: foreground calls against the initial background before iterating.
        divergence_factor: |B| growing beyond this multiple of its initial norm is divergence.
        certificate_tol: tolerance of the certificate c (`meanfield._solver.certificate`:
            equipartition |E[theta grad U^T] - I|_F / sqrt(p) for the samplers, about the
            relative error of the cloud's second moments; relative displacement per call for
            `GradientDescent`). An iteration passes when c <= certificate_tol + noise_factor x
            (its standard error); `converged` and `noise_limited` both need it.
        shard: spread the particles over all `jax.devices()` along M (`Particles.shard`), so
            the foreground runs on every device at once; M must be a multiple of the device
            count.
        n_average: after convergence, run this many more iterations and return their average
            (iterate averaging): the solution's cloud is the K = n_average foreground clouds
            pooled (K M particles, weight 1/(K M) each) and its field G is measured on that
            pool, so that the returned background is exactly the one of the returned cloud,

                G_avg = (1/K) sum_k G(rho_k),

            with Monte-Carlo variance down by up to K (less where successive iterates are
            correlated). It is the cheap way to a precise predictor: the foreground already runs
            at the fixed point, so each extra iteration costs one foreground call and no
            re-convergence (measured in `benchmarks/run.py`, `brute_force`). Ignored by the
            deterministic `Grid`; also run after `max_iterations` (the pairing below matters
            there too), skipped after divergence or non-finite values. `noise_floor` keeps
            the single-iterate value (a conservative bound for the average).

            Default 8, not 0: with 0 the returned field is the *mixed* background while the
            cloud is the *last* iterate, and the predictor Q(x*, X) tbar pairs the two; tbar ~
            y / sigma^2 amplifies their mismatch (measured against the grid on a d = 2 erf
            problem at sigma^2 = 0.01, M = 1024: rms predictor error 0.18-0.26 with 0, 0.010-
            0.022 with 1, 0.003 with 4, 0.002 with 16).
    """

    n_particles: int = 2048
    foreground: AbstractForeground = Langevin()
    mixing: AbstractMixing = Damped()
    max_iterations: int = 200
    rtol: float = 1e-3
    noise_factor: float = 3.0
    patience: int = 2
    n_groups: int = 8
    burn_in: int = 2
    divergence_factor: float = 1e6
    shard: bool = eqx.field(static=True, default=False)
    n_average: int = 8
    certificate_tol: float = 0.01

    def __check_init__(self):
        for name in ("n_particles", "max_iterations", "patience", "n_groups"):
            check_integer(name, getattr(self, name))
        check_integer("burn_in", self.burn_in, minimum=0)
        if isinstance(self.n_average, bool) or not isinstance(self.n_average, int) \
                or self.n_average < 0:
            raise ValueError(f"n_average must be a non-negative integer (0: no iterate "
                             f"averaging), got {self.n_average!r}")
        for name in ("rtol", "divergence_factor", "certificate_tol"):
            check_positive(name, getattr(self, name))
        check_positive("noise_factor", self.noise_factor, allow_zero=True)
        if not isinstance(self.foreground, AbstractForeground):
            raise ValueError(f"foreground must be an AbstractForeground (Langevin(), Tempering(), "
                             f"GradientDescent() or Grid()), got {self.foreground!r}")
        if not isinstance(self.mixing, AbstractMixing):
            raise ValueError(f"mixing must be an AbstractMixing (Damped() or Anderson()), got "
                             f"{self.mixing!r}")


def fingerprint(*objects) -> str:
    """A hash of the arrays and static structure of pytrees (to match checkpoints to runs)."""
    h = hashlib.sha256()
    for obj in objects:
        leaves, treedef = jax.tree_util.tree_flatten(obj)
        h.update(str(treedef).encode())
        for leaf in leaves:
            arr = np.asarray(leaf)
            h.update(str(arr.dtype).encode() + str(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()[:16]


_measure_jit = eqx.filter_jit(lambda problem, particles: problem.measure(particles))


def measure(problem, particles: Particles, n_groups: int, stochastic: bool):
    """G evaluated on the particles, with its Monte-Carlo standard error (Frobenius norm)."""
    m = particles.n_particles
    if not stochastic or n_groups < 2 or m < 2 * n_groups:
        return np.asarray(_measure_jit(problem, particles)), 0.0
    groups = [np.asarray(_measure_jit(problem, g)) for g in particles.groups(n_groups)]
    stack = np.stack(groups)
    if m % n_groups == 0:
        field = stack.mean(axis=0)
    else:
        field = np.asarray(_measure_jit(problem, particles))
    with np.errstate(invalid="ignore", over="ignore"):
        noise = float(np.sqrt(np.sum(stack.var(axis=0, ddof=1)) / n_groups))
    return field, noise


def warm_start(init: Particles, m: int) -> Particles:
    """`init` as M particles: itself, or the last iterate of a pooled (averaged) cloud.

    A solution averaged over K iterates (`FixedPoint.n_average`) holds K M particles, the K
    clouds one after the other; the last M are the final foreground cloud, a valid start.

    Example:
        >>> import jax.numpy as jnp
        >>> pooled = Particles.uniform(jnp.arange(12.0).reshape(6, 2))     # K = 3 clouds of 2
        >>> warm_start(pooled, 2).theta.tolist()
        [[8.0, 9.0], [10.0, 11.0]]
    """
    k = init.n_particles
    if k == m:
        return init
    if k > m and k % m == 0:
        w = init.weights[-m:]
        return Particles(init.theta[-m:], w / jnp.sum(w))
    raise ValueError(f"init holds {k} particles but the solver has n_particles={m}; pass a cloud "
                     f"of {m} particles (or a pooled cloud of a multiple of {m})")


def _average_iterates(problem, solver, particles, field, fg_state, mix_state, loop_key, start,
                      history, progress):
    """The iterate-averaging phase of `solve` (see `FixedPoint.n_average`)."""
    fg, mixing, k_avg = solver.foreground, solver.mixing, solver.n_average
    bar = Progress(k_avg, "average", enabled=progress)
    clouds, fields = [], []
    residual = float("nan")
    for k in range(k_avg):
        t0 = time.perf_counter()
        bg = problem.background(jnp.asarray(field))
        particles, fg_state, _ = fg.run(problem, particles, bg,
                                        jax.random.fold_in(loop_key, start + k), fg_state)
        new, _ = measure(problem, particles, solver.n_groups, False)
        if not (bool(jnp.all(jnp.isfinite(particles.theta))) and np.all(np.isfinite(new))):
            raise FloatingPointError(
                f"the averaging phase became non-finite at its iteration {k} although the solve "
                "had converged: the fixed point is not stable under the foreground; use "
                "n_average=0 or a smaller step size")
        residual = float(np.linalg.norm(new - field)) / max(float(np.linalg.norm(field)), 1e-300)
        field, mix_state = mixing.update(field, new, mix_state)
        clouds.append(particles)
        fields.append(new)
        history["seconds"].append(time.perf_counter() - t0)
        bar.update(k + 1, f"residual {residual:.2e}")
    bar.close(f"averaged {k_avg} iterates")
    certificate = fg.certificate(problem, particles, bg, n_groups=solver.n_groups)
    theta = jnp.concatenate([c.theta for c in clouds])
    weights = jnp.concatenate([c.weights for c in clouds]) / k_avg
    pooled = Particles(theta, weights)
    if solver.shard:
        pooled = pooled.shard()
    return pooled, np.mean(np.stack(fields), axis=0), residual, certificate


UNRESOLVED_FLOOR = 0.5
"""A relative Monte-Carlo floor above this means M particles do not resolve the field at all."""


def _verdict(solver, strict: int, loose: int, noise_rel: float, history) -> str | None:
    """The status at which to stop, or None to go on. 'unresolved' when the residual alone
    passed for `patience` iterations under a floor above UNRESOLVED_FLOOR. Both streaks count
    iterations whose certificate passed too; `strict` those with residual <= rtol, `loose` those
    within rtol + noise_factor x floor. After `patience` loose ones: 'converged' when the strict
    ones reach `patience` and noise_factor x floor <= rtol, 'noise_limited' when noise_factor x
    floor > rtol; otherwise (a floor below rtol) the iteration goes on until the residual
    reaches rtol."""
    if noise_rel > UNRESOLVED_FLOOR and _residual_passed(history, solver.patience):
        return Status.UNRESOLVED
    if loose < solver.patience:
        return None
    limited = solver.noise_factor * noise_rel > solver.rtol
    if strict >= solver.patience and not limited:
        return Status.CONVERGED
    return Status.NOISE_LIMITED if limited else None


CERTIFICATE_MAX_ERROR = 0.25
"""A certificate whose standard error per parameter (its error / sqrt(p)) exceeds this cannot
certify: the normalised entries of the equipartition matrix have variance of order 1/M at
equilibrium, so this takes M below ~50, or a cloud far from the law."""


def _certificate_passes(solver, value: float, noise: float, n_params: int) -> bool:
    return bool(np.isfinite(value) and noise <= CERTIFICATE_MAX_ERROR * np.sqrt(n_params)
                and value <= solver.certificate_tol + solver.noise_factor * noise)


def _residual_passed(history, patience: int) -> bool:
    """The residual alone passed its tolerance for the last `patience` iterations."""
    r, tol = history["residual"][-patience:], history["tolerance"][-patience:]
    return len(r) >= patience and all(a <= b for a, b in zip(r, tol))


def _not_equilibrated_message(solver, n_done, residual, cert, cert_noise, n_params) -> str:
    if cert_noise > CERTIFICATE_MAX_ERROR * np.sqrt(n_params):
        why = (f"but the certificate {cert:.2e} has a standard error {cert_noise:.1e} above "
               f"{CERTIFICATE_MAX_ERROR:g} x sqrt({n_params} parameters), so it cannot certify the "
               "cloud: the particles are far "
               "from the law their own background selects (stuck or still relaxing), or there "
               "are too few of them to tell")
    else:
        why = (f"but the certificate {cert:.2e} +- {cert_noise:.1e} exceeds its tolerance "
               f"{solver.certificate_tol:g} + {solver.noise_factor:g} x its error: the particles "
               "are not the law their own background selects (they do not move, or are still "
               "relaxing)")
    return (f"not equilibrated: after {n_done} iterations the residual {residual:.2e} passes, "
            + why + ". Try more foreground steps per iteration (n_steps), a step size that "
            "moves them (see the acceptance in the history), more particles, more burn-in or "
            "more iterations")


def _window(n_done: int) -> int:
    return min(20, n_done // 2)


def _stagnated(history) -> bool:
    """The residual stopped decreasing over the last two windows while staying above its
    tolerance (so the floor does not explain it)."""
    r, tol = np.asarray(history["residual"]), np.asarray(history["tolerance"])
    w = _window(len(r))
    if w < 4:
        return False
    before, last = np.median(r[-2 * w:-w]), np.median(r[-w:])
    return bool(last >= 0.9 * before and last > np.median(tol[-w:]))


def solve(problem, solver: FixedPoint | None = None, *, key=0, throw: bool = True,
          progress: bool = True, checkpoint=None, checkpoint_every: int = 10,
          init: Particles | None = None) -> Solution:
    """Solve the mean-field self-consistency of `problem` with the fixed-point iterator.

    Args:
        problem: a `BayesianProblem` or `TrainingProblem`.
        solver: a `FixedPoint` configuration (defaults to `FixedPoint()`).
        key: an integer seed or a `jax.random.PRNGKey`.
        throw: raise `SolveError` on failure (default); False returns the failed `Solution`.
        progress: show progress on stderr.
        checkpoint: a file path; the state is saved there and a matching run resumes from it.
        checkpoint_every: iterations between checkpoint writes.
        init: particles to start from (warm start), instead of drawing them. A pooled cloud of
            an averaged solution (a multiple of `n_particles`) starts from its last iterate.

    Returns:
        A `Solution` with particles, background, history and status.

    Example:
        >>> import meanfield as mf, numpy as np
        >>> task = mf.finite_dataset(np.linspace(-1, 1, 6)[:, None], np.linspace(-1, 1, 6))
        >>> sol = mf.solve(mf.BayesianProblem(task, mf.Erf(), width=100.0, noise=0.1),
        ...                mf.FixedPoint(n_particles=256), key=1, progress=False)
        >>> sol.usable, sol.status in ("converged", "noise_limited")
        (True, True)
    """
    solver = FixedPoint() if solver is None else solver
    if not isinstance(problem, AbstractProblem):
        raise ValueError(f"problem must be an AbstractProblem (BayesianProblem or "
                         f"TrainingProblem), got {type(problem).__name__}")
    base_key, seed = as_key(key)
    init_key, loop_key = jax.random.split(base_key)
    fg = solver.foreground
    mixing = solver.mixing
    stochastic = fg.stochastic
    ckpt_path = None if checkpoint is None else Path(checkpoint)
    tag = fingerprint(problem, solver, base_key, init)

    keys = ("residual", "noise", "tolerance", "certificate", "certificate_noise", "acceptance",
            "step_size", "field_norm", "seconds", "fallback")
    history = {k: [] for k in keys}
    resumed = None
    if ckpt_path is not None:
        _, template = fg.init(problem, init_key, solver.n_particles)
        n_leaves = len(jax.tree_util.tree_leaves(template))
        resumed = load_checkpoint(
            ckpt_path, tag,
            required=("theta", "weights", "field", "iteration", "streak", "history", "norm0")
            + tuple(f"fg_state_{i}" for i in range(n_leaves)),
            finite=("theta", "weights", "field", "norm0"))
    if resumed is not None:
        particles = Particles(jnp.asarray(resumed["theta"]), jnp.asarray(resumed["weights"]))
        if solver.shard:
            particles = particles.shard()
        field = resumed["field"]
        # the foreground's state (step sizes, tempering replicas) has the structure of a fresh
        # `init` (`template`); its leaves were saved in order
        treedef = jax.tree_util.tree_structure(template)
        fg_state = jax.tree_util.tree_unflatten(
            treedef, [jnp.asarray(resumed[f"fg_state_{i}"]) for i in range(treedef.num_leaves)])
        mix_state = mixing.state_from_arrays(resumed, field)
        start = int(resumed["iteration"])
        streak = int(resumed["streak"])
        strict = int(resumed["strict_streak"]) if "strict_streak" in resumed else 0
        history = {k: list(v) for k, v in json.loads(str(resumed["history"])).items()}
        if {k for k in keys if k not in history}:
            raise ValueError(f"checkpoint {ckpt_path} was written by an older version (its "
                             "history lacks the certificate); delete it to start afresh")
        norm0 = float(resumed["norm0"])
    else:
        particles, fg_state = fg.init(problem, init_key, solver.n_particles)
        if init is not None:
            particles = warm_start(init, particles.n_particles)
        if solver.shard:
            particles = particles.shard()
        field, _ = measure(problem, particles, solver.n_groups, False)
        particles, fg_state, field = fg.start(
            problem, particles, fg_state, field, init_key, burn_in=solver.burn_in,
            measure=lambda p: measure(problem, p, solver.n_groups, False)[0])
        mix_state = mixing.init(field)
        start, streak, strict = 0, 0, 0

        norm0 = float(np.linalg.norm(field)) or 1.0

    def snapshot(iteration):
        payload = {
            "fingerprint": np.asarray(tag), "theta": np.asarray(particles.theta),
            "weights": np.asarray(particles.weights), "field": np.asarray(field),
            "iteration": np.asarray(iteration), "streak": np.asarray(streak),
            "strict_streak": np.asarray(strict),
            "history": np.asarray(json.dumps(history)), "norm0": np.asarray(norm0),
        }
        for i, leaf in enumerate(jax.tree_util.tree_leaves(fg_state)):
            payload[f"fg_state_{i}"] = np.asarray(leaf)
        payload.update(mixing.state_arrays(mix_state))
        save_checkpoint(ckpt_path, payload)

    bar = Progress(solver.max_iterations, f"solve[{type(problem).__name__}]", enabled=progress)
    status, message = Status.MAX_ITERATIONS, ""
    residual = float("nan") if not history["residual"] else history["residual"][-1]
    noise_rel = float("nan") if not history["noise"] else history["noise"][-1]
    iteration = start
    try:
        for iteration in range(start, solver.max_iterations):
            verdict = _verdict(solver, strict, streak, noise_rel, history)
            if verdict is not None:
                status = verdict
                break
            t0 = time.perf_counter()
            # everything below works on new_* names, committed together at the end, so that an
            # interrupt never leaves a half-updated state to checkpoint
            bg = problem.background(jnp.asarray(field))
            new_particles, new_fg_state, info = fg.run(
                problem, particles, bg, jax.random.fold_in(loop_key, iteration), fg_state)
            if not bool(jnp.all(jnp.isfinite(new_particles.theta))):
                particles = new_particles
                status = Status.NONFINITE
                message = (f"particles became non-finite at iteration {iteration}: the action is "
                           "probably unbounded (add a stabiliser, use CavityAction, or lower the "
                           "coupling) or the step size is too large")
                break
            new, noise = measure(problem, new_particles, solver.n_groups, stochastic)
            if not np.all(np.isfinite(new)):
                particles = new_particles
                status = Status.NONFINITE
                message = f"the background became non-finite at iteration {iteration}"
                break
            norm = max(float(np.linalg.norm(field)), 1e-300)
            residual = float(np.linalg.norm(new - field)) / norm
            noise_rel = noise / norm
            tol = solver.rtol + solver.noise_factor * noise_rel
            cert, cert_noise = fg.certificate(problem, new_particles, bg,
                                              n_groups=solver.n_groups if stochastic else 1)
            if not np.isfinite(cert):
                particles = new_particles
                status = Status.NONFINITE
                message = (f"the gradient of the single-neuron energy is not finite at the "
                           f"particles (iteration {iteration}, certificate {cert}): the action "
                           "overflows for these parameters (check width, noise and the prior "
                           "variances for extreme values)")
                break
            cert_ok = _certificate_passes(solver, cert, cert_noise, problem.n_params)
            mixed, new_mix_state = mixing.update(field, new, mix_state)
            fallback = False
            if not problem.field_is_admissible(jnp.asarray(mixed)):
                mixed = mixing.damped(field, new)
                new_mix_state = mixing.init(field)
                fallback = True
            # commit the iteration
            particles, fg_state, field, mix_state = new_particles, new_fg_state, mixed, new_mix_state
            streak = streak + 1 if residual <= tol and cert_ok else 0
            strict = strict + 1 if residual <= solver.rtol and cert_ok else 0
            history["residual"].append(residual)
            history["noise"].append(noise_rel)
            history["tolerance"].append(tol)
            history["certificate"].append(cert)
            history["certificate_noise"].append(cert_noise)
            history["acceptance"].append(float(info.get("acceptance", float("nan"))))
            history["step_size"].append(float(info.get("step_size", float("nan"))))
            history["field_norm"].append(float(np.linalg.norm(field)))
            history["seconds"].append(time.perf_counter() - t0)
            history["fallback"].append(fallback)
            if float(np.linalg.norm(field)) > solver.divergence_factor * norm0:
                status = Status.DIVERGED
                message = (f"the background norm grew by more than {solver.divergence_factor:g}x "
                           f"by iteration {iteration}: the coupling is probably beyond the "
                           "stable range; lower it, add a stabiliser or use CavityAction")
                iteration += 1
                break
            bar.update(iteration + 1, f"residual {residual:.2e} (tol {tol:.2e})"
                       + (f" acc {info['acceptance']:.2f}" if "acceptance" in info else ""))
            if ckpt_path is not None and (iteration + 1) % checkpoint_every == 0:
                snapshot(iteration + 1)
        else:
            iteration = solver.max_iterations
            verdict = _verdict(solver, strict, streak, noise_rel, history)
            if verdict is not None:
                status = verdict
            elif _residual_passed(history, solver.patience):
                status = Status.NOT_EQUILIBRATED
            elif _stagnated(history):
                status = Status.STAGNATED
    except KeyboardInterrupt:
        if ckpt_path is not None:
            snapshot(len(history["residual"]))
        bar.close("interrupted; state saved" if ckpt_path is not None else "interrupted")
        raise
    n_done = len(history["residual"])
    cert = history["certificate"][-1] if n_done else float("nan")
    cert_noise = history["certificate_noise"][-1] if n_done else float("nan")
    if status == Status.CONVERGED:
        message = (f"converged in {n_done} iterations: residual {residual:.2e}, "
                   f"Monte-Carlo floor {noise_rel:.2e}, certificate {cert:.2e}")
    elif status == Status.NOISE_LIMITED:
        message = (f"noise-limited after {n_done} iterations: residual {residual:.2e} is within "
                   f"{solver.noise_factor:g} x the Monte-Carlo floor {noise_rel:.2e} of "
                   f"{solver.n_particles} particles but above rtol {solver.rtol:.1e}; about "
                   f"{particles_for_rtol(solver, noise_rel)} particles would bring the floor "
                   f"below rtol; certificate {cert:.2e} +- {cert_noise:.1e}")
    elif status == Status.UNRESOLVED:
        message = (f"unresolved: the Monte-Carlo floor {noise_rel:.2e} of {solver.n_particles} "
                   f"particles is above {UNRESOLVED_FLOOR:g} of the field itself, so the "
                   f"residual {residual:.2e} says nothing; about "
                   f"{particles_for_rtol(solver, noise_rel)} particles would bring the floor "
                   f"below rtol {solver.rtol:.1e}, and "
                   f"{int(np.ceil(solver.n_particles * (10 * noise_rel) ** 2))} to 10%")
    elif status == Status.NOT_EQUILIBRATED:
        message = _not_equilibrated_message(solver, n_done, residual, cert, cert_noise,
                                            problem.n_params)
    elif status == Status.STAGNATED:
        w = _window(n_done)
        message = (f"stagnated: after {n_done} iterations the residual no longer decreases "
                   f"(median {np.median(history['residual'][-2 * w:-w]):.2e} then "
                   f"{np.median(history['residual'][-w:]):.2e} over windows of {w}) and stays "
                   f"above its tolerance {np.median(history['tolerance'][-w:]):.2e}, which the "
                   "Monte-Carlo floor does not explain: the iteration oscillates or is stuck. Try "
                   "stronger damping (a smaller Damped beta), Anderson mixing, or more foreground "
                   "steps per iteration")
    elif status == Status.MAX_ITERATIONS:
        message = (f"not converged after {n_done} iterations: residual {residual:.2e} > tolerance "
                   f"{history['tolerance'][-1] if n_done else float('nan'):.2e}. Try more "
                   "iterations, stronger damping (smaller beta), Anderson mixing, more particles "
                   "or more foreground steps per iteration")
    finished = status not in (Status.DIVERGED, Status.NONFINITE)
    if ckpt_path is not None and finished:
        snapshot(n_done)
    bar.close(message)
    if finished and solver.n_average > 0 and stochastic:
        particles, field, residual, (cert, cert_noise) = _average_iterates(
            problem, solver, particles, field, fg_state, mix_state, loop_key, n_done, history,
            progress)
        message += (f"; averaged over {solver.n_average} further iterations "
                    f"({particles.n_particles} pooled particles)")
        if status in Status.USABLE and not _certificate_passes(solver, cert, cert_noise, problem.n_params):
            status = Status.NOT_EQUILIBRATED
            message = (_not_equilibrated_message(solver, n_done, residual, cert, cert_noise,
                                                 problem.n_params)
                       + " (measured on the last averaged iterate)")
    field_j = jnp.asarray(field)
    try:
        background = problem.background(field_j)
    except Exception:  # a non-finite field cannot be factorised; keep the raw field
        background = None
    solution = Solution(
        problem=problem, particles=particles, field=field_j, background=background,
        status=status, message=message, iterations=n_done,
        self_consistency_error=residual, noise_floor=noise_rel,
        history={k: np.asarray(v) for k, v in history.items()}, seed=seed, solver=solver,
        certificate=float(cert), certificate_noise=float(cert_noise),
    )
    if status not in Status.USABLE and throw:
        raise SolveError(f"solve failed ({status}): {message}", solution)
    return solution
