r"""Clover-leaf neuron clouds: foreground neurons reproduce their background.

The experiment of Vaintrob & Greenspan, "Mean field sequence: an introduction" (LessWrong, 2026;
physics.md sections 3, 4 and 6), made quantitative. A wide two-layer network in mean-field
parameterisation,

    f(x) = (1/N) sum_i a_i phi(w_i . x),     x ~ N(0, I_2),

is trained on infinite data (the expectation E_x is a Gauss-Hermite product rule), and each neuron
is drawn as its 2-D input weight w_i. Training is noisy gradient descent (Langevin) on
0.5 E_x (f - y)^2 + (lambda / 2N) sum_i |theta_i|^2, i.e. in the time rescaled by N every particle
theta = (w, a) moves in the common potential

    Psi(theta; rho) = E_x[(f_rho(x) - y(x)) a phi(w . x)] + (lambda/2) |theta|^2,
    theta <- theta - lr grad Psi + sqrt(2 lr T) xi,

whose stationary law is the self-consistent Gibbs cloud rho ∝ exp(-Psi(theta; rho)/T). Integrating
out a gives the cloud of input weights

    rho(w) ∝ exp(-lambda |w|^2 / (2T) + g(w)^2 / (2 lambda T)),   g(w) = E_x[(f - y) phi(w . x)],

a Gaussian (the GP-like cloud) reshaped by how strongly a neuron at w correlates with the residual.

**The setting.** The post's formulas did not survive in our copy, and a search of the stored pages
found the post's outline and prose (background/foreground, self-consistency, "Experimental setting
and pretty picture") but not its parameters; the setting below is ours, chosen to give the
four-lobed clover on infinite data and documented so that it can be checked:

* target: the continuous XOR y = tanh(2 x1) tanh(2 x2) (`named_target("xor")`), sign of x1 x2;
* activation: the clipped ReLU phi(z) = clip(z, 0, 1), bounded, piecewise linear, sigmoid-like.
  It is *not* odd: an odd activation without biases (HardTanh) spans only odd functions and cannot
  fit an even target such as the XOR at all (see `OTHER_PAIRS`: its cloud stays at the prior);
* inputs x ~ N(0, I_2) by a 16 x 16 Gauss-Hermite rule (256 weighted points: infinite data);
* weight decay lambda = 0.01 and temperature T = 0.01, so the prior part of the cloud is
  N(0, T/lambda = 1) in every coordinate, and the initialisation is that prior
  (w ~ N(0, I_2), a ~ N(0, 1));
* learning rate 0.5 (in mean-field time), 2000 steps (10 relaxation times 1/lambda; the loss is
  flat after about 500).

Neurons with a > 0 gather on the diagonal w ∝ ±(1, 1), those with a < 0 on the anti-diagonal
w ∝ ±(1, -1): a pair (w, a), (-w, a) contributes the even bump a min(|w.x|, 1), and
x1 x2 = ((x1 + x2)^2 - (x1 - x2)^2)/4. Four lobes: the clover.

**Why T > 0.** At T = 0 a foreground neuron trained by plain gradient descent against a frozen
background flows to a critical point of Psi(.; rho): the clouds collapse to points (with weight
decay the minimiser of the convex loss-plus-decay functional is atomic), or, without weight
decay, the final residual is ~0 and a foreground neuron does not move from its initialisation.
Measured in this setting at T = 0 (plain gradient descent, everything else equal, 6000 steps):
two independently trained networks have clouds 0.38 apart (sliced W2 on theta, against 0.07 at
T = 0.01), the cloud depends on the initialisation, and the recombined gradient-descent
foreground has loss 0.070 against the joint network's 0.056 (+26%). A foreground cloud that
reproduces a background *cloud* needs the noise; with it the entropic
functional is strictly convex and its fixed point is unique (Mei, Montanari & Nguyen 2018;
Chizat 2022; Nitanda, Wu & Suzuki 2022), which is also why the fixed-point iteration from scratch
must find the same cloud. The foreground step is the joint network's own Langevin step with the
background frozen (ULA with h = 2 lr T, the identical update), so discretisation bias is shared.

**The experiment** (`run_clover`):

1. Joint training of a width-N network (`train_network`); its final neurons are the background
   cloud and its residual f - y the frozen background field.
2. M i.i.d. foreground neurons from the same initialisation, each trained only against that
   frozen residual for the same number of steps; recombined, they form the network
   f_fg = (1/M) sum_j a_j phi(w_j . x), whose loss is compared with the joint network's.
3. Controls with a GP-like background: (a) the random-feature network (first layer frozen at the
   initialisation, readout fitted by ridge regression with the same weight decay, the lazy/NNGP
   regime), (b) the untrained network. Foreground neurons trained against those residuals.
4. The fixed-point iteration from scratch (`solve` on the `TrainingProblem`, damped mixing of the
   prediction field, ULA foreground): no jointly trained network at all. Two facts set its
   parameters. (i) Stability: moving the particles for a time t = steps * lr against a frozen
   field F and mixing F <- F + beta (G(F) - F) is, for a mode of the tangent kernel with
   eigenvalue k, the linear map [[1, -t k], [beta, 1 - beta - beta t k]], stable only for
   beta t k < 4 - 2 beta: long foreground runs need small beta (100 steps with beta = 0.5
   diverges; 25 steps with beta = 0.1 is stable). (ii) Noise: G(F) from M i.i.d. particles has a
   relative Monte-Carlo error of ~0.2-0.6 (the joint network's feedback suppresses it; i.i.d.
   particles do not), so "residual within 3 standard errors" is reached long before the slow
   lobe dynamics (rate lambda) settle. The stop therefore asks for 40 consecutive passes, i.e.
   1000 steps (5 relaxation times 1/lambda) during which the field stayed within its noise.
5. Distances: sliced Wasserstein-2 between clouds of theta = (w1, w2, a). The noise floor comes
   from a second, independent joint training (another seed), two samples of the same cloud: its
   distance to the first is one draw (`noise_floor_pair`), and the mean over random equal splits
   of the two pooled clouds (`permutation_null`) is the stable `noise_floor` (with its spread).
   The occupation of the four lobes fluctuates binomially and a has two modes near +-4, so one
   draw scatters by tens of percent. The foreground's permutation p-value is reported too.

Example (tiny, seconds; `meanfield clover` runs the real thing):
    >>> import meanfield as mf
    >>> s = mf.CloverSetting(width=64, n_foreground=64, n_steps=40, n_nodes=6,
    ...                      solve_iterations=2, other_pairs=())
    >>> r = mf.run_clover(s, progress=False)
    >>> sorted(k for k in r.summary if k.endswith("_distance"))[:3]
    ['control_distance', 'fixed_point_distance', 'foreground_distance']
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field as dc_field

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._model.activations import ACTIVATION_REGISTRY, activation_from_name
from .._observables.distances import maximum_mean_discrepancy, sliced_wasserstein, sphere_directions
from .._model.dynamics import ResidualBackground, TrainingProblem, train_network
from .._solver.foreground import Langevin
from .._solver.mixing import Damped
from .._model.particles import Particles
from .._misc import (
    MAX_COUNT, ComputationError, Progress, as_key, check_integer, check_positive, check_seed,
)
from .._solver.solve import FixedPoint, solve
from .._data.tasks import NAMED_TARGETS, gaussian_inputs

__all__ = ["CloverSetting", "CloverResult", "run_clover", "plot_clover", "plot_other_pairs",
           "random_feature_background", "train_foreground", "OTHER_PAIRS"]

#: Other (activation, target) pairs drawn next to the clover: the odd HardTanh cannot fit the
#: even XOR (its cloud stays at the prior), HardTanh on an odd target makes two lobes, and the
#: clipped ReLU on the polynomial x1 x2 makes a clover again.
OTHER_PAIRS = (("hardtanh", "xor"), ("hardtanh", "tanh_x1"), ("clipped_relu", "x1x2"))

#: every registered activation ("clipped_relu" and the `ACTIVATION_NAMES`)
ACTIVATIONS = tuple(ACTIVATION_REGISTRY)


def make_activation(name: str):
    """An activation by name, any of `ACTIVATIONS` (`activation_from_name`, the one registry).

    Example:
        >>> make_activation("clipped_relu")
        ClippedReLU()
    """
    return activation_from_name(name)


class CloverSetting(eqx.Module):
    """Configuration of the clover experiment (defaults: the documented clover setting).

    Attributes:
        target: a `named_target` name (2-D inputs).
        activation: "clipped_relu" or an `ACTIVATION_NAMES` entry.
        width: N, neurons of the jointly trained network.
        n_foreground: M, i.i.d. foreground neurons.
        weight_decay: lambda.
        temperature: T (> 0; see the module docstring for why).
        learning_rate: lr of the Langevin step in mean-field time.
        n_steps: steps of the joint training and of every foreground training.
        n_nodes: Gauss-Hermite nodes per axis (infinite data: n_nodes^2 weighted points).
        init_w2, init_a2: initial w ~ N(0, init_w2/2 I_2), a ~ N(0, init_a2); None takes the
            prior of the Gibbs law, init_w2 = 2 T/lambda and init_a2 = T/lambda.
        solve_iterations: most fixed-point iterations of the from-scratch solve.
        solve_steps: Langevin steps per fixed-point iteration.
        mixing: damping beta of the fixed-point iteration.
        solve_rtol: relative tolerance of the solve (on top of its Monte-Carlo floor).
        solve_noise_factor, solve_patience: the solve's `FixedPoint.noise_factor` and `patience`.
            From scratch the field starts near zero, where its relative Monte-Carlo error is of
            order one; a few consecutive passes guard against stopping there.
        n_directions: slicing directions of the sliced Wasserstein distance.
        other_pairs: (activation, target) pairs trained jointly for the comparison figure.
        seed: integer seed (the noise-floor network uses seed + 1).
    """

    target: str = "xor"
    activation: str = "clipped_relu"
    width: int = 2048
    n_foreground: int = 2048
    weight_decay: float = 0.01
    temperature: float = 0.01
    learning_rate: float = 0.5
    n_steps: int = 2000
    n_nodes: int = 16
    init_w2: float | None = None
    init_a2: float | None = None
    solve_iterations: int = 300
    solve_steps: int = 25
    mixing: float = 0.1
    solve_rtol: float = 1e-2
    solve_noise_factor: float = 3.0
    solve_patience: int = 40
    n_directions: int = 512
    n_splits: int = 32
    other_pairs: tuple = OTHER_PAIRS
    seed: int = 0

    def __check_init__(self):
        if self.target not in NAMED_TARGETS:
            raise ValueError(f"target must be one of {sorted(NAMED_TARGETS)}, got {self.target!r}")
        make_activation(self.activation)
        for name in ("width", "n_foreground"):
            check_integer(name, getattr(self, name), minimum=2, maximum=MAX_COUNT)
        for name in ("n_steps", "solve_steps", "n_directions", "n_splits", "solve_patience"):
            check_integer(name, getattr(self, name), minimum=1, maximum=MAX_COUNT)
        check_integer("solve_iterations", self.solve_iterations, minimum=1)  # a ceiling
        # one node is the single point x = 0, where every target and neuron vanishes
        check_integer("n_nodes", self.n_nodes, minimum=2,
                      hint=" (Gauss-Hermite nodes per axis; n_nodes^2 <= 200000)")
        if self.n_nodes**2 > 200_000:
            raise ValueError(f"n_nodes must be an integer in [2, 447] (n_nodes^2 <= 200000 "
                             f"quadrature points), got {self.n_nodes!r}")
        check_seed("seed", self.seed)
        for name in ("weight_decay", "temperature", "learning_rate", "mixing", "solve_rtol",
                     "solve_noise_factor"):
            check_positive(name, getattr(self, name))
        for name in ("init_w2", "init_a2"):
            if getattr(self, name) is not None:
                check_positive(name, getattr(self, name))
        if self.mixing > 1:
            raise ValueError(f"mixing must lie in (0, 1], got {self.mixing!r}")
        for pair in self.other_pairs:
            if len(pair) != 2:
                raise ValueError(f"other_pairs must hold (activation, target) pairs, got {pair!r}")
            make_activation(pair[0])
            if pair[1] not in NAMED_TARGETS:
                raise ValueError(f"other_pairs: unknown target {pair[1]!r}; allowed {sorted(NAMED_TARGETS)}")

    def problem(self, activation: str | None = None, target: str | None = None) -> TrainingProblem:
        """The `TrainingProblem` of this setting (optionally another activation/target)."""
        task = gaussian_inputs(2, target or self.target, n_nodes=self.n_nodes, seed=self.seed,
                               name=target or self.target)
        prior = self.temperature / self.weight_decay
        return TrainingProblem(
            task, make_activation(activation or self.activation),
            weight_decay=float(self.weight_decay), temperature=float(self.temperature),
            init_w2=float(self.init_w2 if self.init_w2 is not None else 2 * prior),
            init_a2=float(self.init_a2 if self.init_a2 is not None else prior),
        )

    def foreground(self, n_steps: int | None = None) -> Langevin:
        """The joint network's own step with the background frozen: ULA with h = 2 lr T."""
        return Langevin(step_size=2 * self.learning_rate * self.temperature,
                        n_steps=n_steps or self.n_steps, metropolis=False, adapt=False)

    def as_dict(self) -> dict:
        return {k: (list(map(list, v)) if k == "other_pairs" else v)
                for k, v in ((f, getattr(self, f)) for f in self.__dataclass_fields__)}


_measure = eqx.filter_jit(lambda problem, particles: problem.measure(particles))


def random_feature_background(problem: TrainingProblem, particles: Particles) -> ResidualBackground:
    """GP-like background: first layer frozen, readout a fitted by ridge regression.

    With Phi_{mu i} = phi(w_i . x_mu) and quadrature weights D, minimising
    0.5 E_x (Phi a / N - y)^2 + (lambda / 2N) |a|^2 over a gives
    (Phi^T D Phi / N + lambda I) a = Phi^T D y: kernel ridge regression with the empirical NNGP
    kernel of the frozen features (the lazy regime). Returns its residual background.
    """
    data = problem.data
    w, _ = problem.split(particles.theta)
    phi = problem.activation(data.x @ w.T)  # (n, N)
    n_neurons = phi.shape[1]
    lam = problem.weight_decay if problem.weight_decay > 0 else 1e-8
    gram = (phi.T * data.weights[None, :]) @ phi / n_neurons + lam * jnp.eye(n_neurons)
    rhs = (phi.T * data.weights[None, :]) @ data.y
    a = jnp.linalg.solve(gram, rhs)
    return problem.background(phi @ a / n_neurons)


def train_foreground(setting: CloverSetting, problem: TrainingProblem,
                     background: ResidualBackground, key, n_particles: int) -> Particles:
    """`n_particles` i.i.d. neurons from the initialisation, trained against a frozen background."""
    k_init, k_run = jax.random.split(as_key(key)[0])
    fg = setting.foreground()
    particles, state = fg.init(problem, k_init, n_particles)
    particles, _, _ = fg.run(problem, particles, background, k_run, state)
    if not bool(jnp.all(jnp.isfinite(particles.theta))):
        raise ComputationError("foreground particles became non-finite: lower learning_rate")
    return particles


def permutation_null(x, y, *, n_splits: int = 32, directions=None, seed: int = 0) -> np.ndarray:
    """Sliced W2 between random equal halves of the pooled clouds x and y (a permutation null).

    If x and y are samples of one law, SW(x, y) is one draw of this distribution; its mean is
    the noise floor of a distance between two samples of len(x) and len(y) neurons.
    """
    pooled = np.concatenate([np.asarray(x), np.asarray(y)])
    rng = np.random.default_rng(seed)
    n = len(x)
    out = []
    for _ in range(n_splits):
        idx = rng.permutation(len(pooled))
        out.append(sliced_wasserstein(pooled[idx[:n]], pooled[idx[n:]], directions=directions))
    return np.asarray(out)


def _relative(problem, theta, reference) -> float:
    f = np.asarray(_measure(problem, Particles.uniform(jnp.asarray(theta))))
    f0 = np.asarray(_measure(problem, Particles.uniform(jnp.asarray(reference))))
    w = np.asarray(problem.data.weights)[:, None]
    return float(np.sqrt(np.sum(w * (f - f0) ** 2) / np.sum(w * f0**2)))


def _loss(problem, particles) -> float:
    return problem.loss(particles)


@dataclass
class CloverResult:
    """Outcome of `run_clover`: the clouds (theta arrays, (M, 3)), losses and a JSON summary."""

    setting: CloverSetting
    background: np.ndarray
    background_2: np.ndarray
    foreground: np.ndarray
    control: np.ndarray
    untrained_control: np.ndarray
    fixed_point: np.ndarray | None
    joint_losses: np.ndarray
    summary: dict
    other_pairs: dict = dc_field(default_factory=dict)

    def arrays(self) -> dict:
        out = {"background": self.background, "background_2": self.background_2,
               "foreground": self.foreground, "control": self.control,
               "untrained_control": self.untrained_control, "joint_losses": self.joint_losses}
        if self.fixed_point is not None:
            out["fixed_point"] = self.fixed_point
        for (act, tgt), theta in self.other_pairs.items():
            out[f"pair_{act}_{tgt}"] = theta
        return out


def run_clover(setting: CloverSetting | None = None, *, progress: bool = True,
               solve_from_scratch: bool = True) -> CloverResult:
    """Run the clover experiment (see the module docstring); returns a `CloverResult`.

    Summary keys: joint_loss (final snapshot), joint_loss_mean/std (over the second half of the
    training trace: the size of the Langevin fluctuations), recombined_loss (the foreground
    network), control_loss (random-feature control), untrained_control_loss; the distances
    foreground_distance, control_distance, untrained_control_distance, fixed_point_distance and
    noise_floor_pair (the second independent joint network), all sliced W2 to the background
    cloud on theta = (w1, w2, a); noise_floor (mean of `permutation_null` of the two joint
    networks, with _std and _q95) and foreground_p_value; the same distances on w alone (suffix
    _w), MMD^2 versions (prefix mmd_), ratios to the floor (suffix _over_floor), relative
    prediction differences, the fixed-point status and loss, and runtimes in seconds.
    """
    s = CloverSetting() if setting is None else setting
    problem = s.problem()
    key = jax.random.PRNGKey(s.seed)
    k_fg, k_ctrl, k_unt = jax.random.split(jax.random.fold_in(key, 7), 3)
    n_stages = 5 + (1 if solve_from_scratch else 0) + len(s.other_pairs)
    bar = Progress(n_stages, "clover", enabled=progress, interval=0.0)
    times = {}
    stage = 0

    def tick(name, t0, msg=""):
        nonlocal stage
        times[name] = time.perf_counter() - t0
        stage += 1
        bar.update(stage, f"{name} {times[name]:.1f}s {msg}", force=True)

    t0 = time.perf_counter()
    joint = train_network(problem, s.width, n_steps=s.n_steps, learning_rate=s.learning_rate,
                          key=s.seed, record_every=max(1, s.n_steps // 100))
    bg_particles = joint.particles
    if not bool(jnp.all(jnp.isfinite(bg_particles.theta))):
        raise ComputationError("the joint network became non-finite: lower learning_rate")
    joint_loss = _loss(problem, bg_particles)
    tick("joint", t0, f"loss {joint_loss:.4g}")

    t0 = time.perf_counter()
    joint_2 = train_network(problem, s.width, n_steps=s.n_steps, learning_rate=s.learning_rate,
                            key=s.seed + 1, record_every=max(1, s.n_steps // 100))
    tick("joint_seed2", t0)

    t0 = time.perf_counter()
    background = problem.background(_measure(problem, bg_particles))
    fg = train_foreground(s, problem, background, k_fg, s.n_foreground)
    recombined = _loss(problem, fg)
    tick("foreground", t0, f"recombined loss {recombined:.4g}")

    t0 = time.perf_counter()
    init = problem.init_particles(jax.random.split(jax.random.PRNGKey(s.seed))[0], s.width)
    ctrl_bg = random_feature_background(problem, init)
    ctrl = train_foreground(s, problem, ctrl_bg, k_ctrl, s.n_foreground)
    tick("control", t0)

    t0 = time.perf_counter()
    unt_bg = problem.background(_measure(problem, init))
    unt = train_foreground(s, problem, unt_bg, k_unt, s.n_foreground)
    tick("untrained_control", t0)

    fp = None
    fp_summary = {}
    if solve_from_scratch:
        t0 = time.perf_counter()
        solver = FixedPoint(n_particles=s.n_foreground, foreground=s.foreground(s.solve_steps),
                            mixing=Damped(s.mixing), max_iterations=s.solve_iterations,
                            rtol=s.solve_rtol, noise_factor=s.solve_noise_factor,
                            patience=s.solve_patience, burn_in=0)
        sol = solve(problem, solver, key=s.seed + 2, throw=False, progress=progress)
        fp = np.asarray(sol.particles.theta)
        fp_ok = bool(np.all(np.isfinite(fp)))
        fp_summary = {
            "fixed_point_status": sol.status, "fixed_point_message": sol.message,
            "fixed_point_iterations": int(sol.iterations),
            "fixed_point_residual": float(sol.self_consistency_error),
            "fixed_point_noise": float(sol.noise_floor),
            "fixed_point_loss": _loss(problem, sol.particles) if fp_ok else None,
        }
        tick("fixed_point", t0, sol.status)
        if not fp_ok:
            fp = None

    bg = np.asarray(bg_particles.theta)
    bg2 = np.asarray(joint_2.particles.theta)
    clouds = {"foreground": np.asarray(fg.theta), "control": np.asarray(ctrl.theta),
              "untrained_control": np.asarray(unt.theta), "fixed_point": fp,
              "noise_floor_pair": bg2}
    dirs3 = sphere_directions(3, s.n_directions, seed=s.seed)
    dirs2 = sphere_directions(2, s.n_directions)
    spread = np.sqrt(np.sum(bg.var(axis=0)))
    summary = {}
    for name, theta in clouds.items():
        stem = name if name == "noise_floor_pair" else f"{name}_distance"
        if theta is None:
            summary[stem] = summary[stem + "_w"] = summary["mmd_" + name] = None
            continue
        summary[stem] = sliced_wasserstein(theta, bg, directions=dirs3)
        summary[stem + "_w"] = sliced_wasserstein(theta[:, :2], bg[:, :2], directions=dirs2)
        summary["mmd_" + name] = maximum_mean_discrepancy(theta, bg, bandwidth=float(spread))
    half = bg.shape[0] // 2
    summary["half_split_distance"] = sliced_wasserstein(bg[:half], bg[half:2 * half], directions=dirs3)
    null = permutation_null(bg, bg2, n_splits=s.n_splits, directions=dirs3, seed=s.seed)
    summary["noise_floor"] = float(null.mean())
    summary["noise_floor_std"] = float(null.std())
    summary["noise_floor_q95"] = float(np.quantile(null, 0.95))
    fg_null = permutation_null(bg, clouds["foreground"], n_splits=s.n_splits, directions=dirs3,
                               seed=s.seed + 1)
    summary["foreground_p_value"] = float((1 + np.sum(fg_null >= summary["foreground_distance"]))
                                          / (1 + len(fg_null)))
    losses = np.asarray(joint.losses)
    tail = losses[len(losses) // 2:]
    y = np.asarray(problem.data.y)

    def objective(theta, loss):  # loss + (lambda/2) E|theta|^2 (the entropy term left out)
        return float(loss + 0.5 * s.weight_decay * np.mean(np.sum(theta**2, axis=1)))

    summary.update({
        "joint_objective": objective(bg, joint_loss),
        "recombined_objective": objective(clouds["foreground"], recombined),
        "control_objective": objective(clouds["control"], _loss(problem, ctrl)),
        "joint_loss": joint_loss,
        "joint_loss_mean": float(tail.mean()), "joint_loss_std": float(tail.std()),
        "joint_loss_seed2": _loss(problem, joint_2.particles),
        "recombined_loss": recombined,
        "control_loss": _loss(problem, ctrl),
        "untrained_control_loss": _loss(problem, unt),
        "target_loss": float(0.5 * np.sum(np.asarray(problem.data.weights) * y[:, 0] ** 2)),
        "control_background_loss": float(0.5 * np.sum(np.asarray(problem.data.weights)[:, None]
                                                      * np.asarray(ctrl_bg.residual) ** 2)),
        "recombined_relative_error": abs(recombined - joint_loss) / joint_loss,
        # |f_a - f_b| / |f_joint| in L2(data): the i.i.d. foreground's prediction carries the
        # O(1/sqrt(M)) Monte-Carlo error that the joint network's feedback suppresses
        "prediction_difference_foreground": _relative(problem, fg.theta, bg),
        "prediction_difference_seed2": _relative(problem, bg2, bg),
        "cloud_spread": float(spread),
        **fp_summary,
    })
    floor = summary["noise_floor"]
    for name in ("foreground", "control", "untrained_control", "fixed_point"):
        d = summary[f"{name}_distance"]
        summary[f"{name}_over_floor"] = None if d is None else d / floor

    pairs = {}
    pair_losses = {}
    for act, tgt in s.other_pairs:
        t0 = time.perf_counter()
        pb = s.problem(act, tgt)
        run = train_network(pb, s.width, n_steps=s.n_steps, learning_rate=s.learning_rate,
                            key=s.seed, record_every=max(1, s.n_steps // 10))
        pairs[(act, tgt)] = np.asarray(run.particles.theta)
        yy = np.asarray(pb.data.y)[:, 0]
        pair_losses[f"{act}/{tgt}"] = {
            "loss": _loss(pb, run.particles),
            "target_loss": float(0.5 * np.sum(np.asarray(pb.data.weights) * yy**2)),
        }
        tick(f"pair {act}/{tgt}", t0)
    summary["other_pairs"] = pair_losses
    summary["seconds"] = times
    summary["setting"] = s.as_dict()
    bar.close(f"foreground {summary['foreground_distance']:.4g}, floor {floor:.4g}, "
              f"control {summary['control_distance']:.4g}")
    return CloverResult(s, bg, bg2, clouds["foreground"], clouds["control"],
                        clouds["untrained_control"], fp, losses, summary, pairs)


# ------------------------------------------------------------------------------------------
# figures

BLUE, ORANGE = "tab:blue", "tab:orange"


def _scatter(ax, back, front, title, front_label):
    ax.scatter(back[:, 0], back[:, 1], s=3, c=BLUE, alpha=0.5, lw=0, label="background (joint net)")
    ax.scatter(front[:, 0], front[:, 1], s=3, c=ORANGE, alpha=0.5, lw=0, label=front_label)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=4)


def plot_clover(result: CloverResult):
    """Background (blue) with the foreground, the GP-like control and the from-scratch fixed point
    (orange) in input-weight space; below, the marginals of a and |w| (where the control is off)
    and the distances against the noise floor."""
    from matplotlib.figure import Figure

    s, r = result.setting, result.summary
    panels = [(result.foreground, f"foreground vs background\nSW {r['foreground_distance']:.3g} "
               f"(floor {r['noise_floor']:.3g}), loss {r['recombined_loss']:.4g} vs "
               f"{r['joint_loss']:.4g}", "foreground (frozen background)"),
              (result.control, f"control: GP-like (random-feature) background\nSW "
               f"{r['control_distance']:.3g}, loss {r['control_loss']:.4g}",
               "foreground (GP-like background)")]
    if result.fixed_point is not None:
        panels.append((result.fixed_point, f"fixed point from scratch ({r['fixed_point_status']})"
                       f"\nSW {r['fixed_point_distance']:.3g}, loss {r['fixed_point_loss']:.4g}",
                       "fixed-point cloud"))
    fig = Figure(figsize=(15, 9.5), layout="constrained")
    axes = fig.subplots(2, 3)
    lim = np.quantile(np.abs(result.background[:, :2]), 0.995) * 1.6
    for ax, (front, title, label) in zip(axes[0], panels):
        _scatter(ax, result.background, front, title, label)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
    clouds = [("background (joint net)", result.background, BLUE, "stepfilled"),
              ("foreground", result.foreground, ORANGE, "step"),
              ("GP-like control", result.control, "tab:red", "step"),
              ("untrained control", result.untrained_control, "tab:purple", "step")]
    for ax, (what, fn) in zip(axes[1][:2], (("a", lambda t: t[:, 2]),
                                            ("|w|", lambda t: np.linalg.norm(t[:, :2], axis=1)))):
        values = [fn(t) for _, t, _, _ in clouds]
        bins = np.linspace(np.quantile(np.concatenate(values), 0.001),
                           np.quantile(np.concatenate(values), 0.999), 60)
        for (name, _, color, kind), v in zip(clouds, values):
            ax.hist(v, bins=bins, density=True, histtype=kind, color=color, lw=1.5,
                    alpha=0.45 if kind == "stepfilled" else 1.0, label=name)
        ax.set_xlabel(what)
        ax.set_ylabel("density")
        ax.set_title(f"marginal of {what}", fontsize=10)
        ax.legend(fontsize=7)
    ax = axes[1][2]
    names = ["noise floor", "foreground", "fixed point", "GP-like ctrl", "untrained ctrl"]
    vals = [r["noise_floor"], r["foreground_distance"], r["fixed_point_distance"],
            r["control_distance"], r["untrained_control_distance"]]
    colors = ["0.5", ORANGE, ORANGE, "tab:red", "tab:purple"]
    keep = [(n, v, c) for n, v, c in zip(names, vals, colors) if v is not None]
    ax.bar([k[0] for k in keep], [k[1] for k in keep], color=[k[2] for k in keep])
    ax.errorbar([0], [r["noise_floor"]], yerr=[[0], [r["noise_floor_std"]]], color="k", capsize=4)
    ax.set_yscale("log")
    ax.set_ylabel("sliced $W_2$ to the background cloud, $\\theta=(w,a)$")
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    ax.set_title(f"{s.activation}, target {s.target}, N = {s.width}, M = {s.n_foreground}",
                 fontsize=10)
    return fig


def plot_other_pairs(result: CloverResult):
    """Jointly trained clouds of other (activation, target) pairs, coloured by the sign of a."""
    from matplotlib.figure import Figure

    pairs = [((result.setting.activation, result.setting.target), result.background)]
    pairs += list(result.other_pairs.items())
    fig = Figure(figsize=(4.2 * len(pairs), 4.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(pairs)))
    losses = result.summary.get("other_pairs", {})
    for ax, ((act, tgt), theta) in zip(axes, pairs):
        a = theta[:, 2]
        ax.scatter(theta[:, 0], theta[:, 1], s=3, c=np.where(a > 0, "tab:red", BLUE), alpha=0.5,
                   lw=0)
        info = losses.get(f"{act}/{tgt}")
        extra = (f"\nloss {info['loss']:.3g} (target {info['target_loss']:.3g})" if info else
                 f"\nloss {result.summary['joint_loss']:.3g} "
                 f"(target {result.summary['target_loss']:.3g})")
        ax.set_title(f"{act}, y = {tgt}{extra}", fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlabel("$w_1$")
        ax.set_ylabel("$w_2$")
    fig.suptitle("neuron clouds of jointly trained networks (red: a > 0, blue: a < 0)",
                 fontsize=10)
    return fig
