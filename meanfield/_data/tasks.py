"""Tasks: the learning problems of the sources, as `Task(train, test)` pairs of `Data`.

Constructors (every one validates its arguments and raises `ValueError` naming the argument, the
bad value and what would work):

- `finite_dataset`: wraps arrays you already have.
- `gaussian_inputs`: x ~ N(0, I_dim) with a target function; infinite data (a Gauss-Hermite
  product rule) for dim <= 3, Monte-Carlo samples otherwise. `named_target` gives the target
  functions by name, for config files.
- `cubic_teacher`: the teacher y = He_1(w*.x) + eps He_3(w*.x) of Rubin, Seroussi & Ringel
  (ICLR 2024, section 3.1).
- `modular_addition`: two-hot inputs, centred one-hot targets of (n + m) mod P, a fraction alpha
  of the P^2 pairs for training; `modular_addition_pairs` and `modular_addition_split` give the
  pair of every row, for Fourier analysis.

Randomness uses numpy's `default_rng` on a `SeedSequence(seed)`: the same seed gives the same
arrays on every platform, independently of JAX's PRNG. The training and test draws of one seed use
independent child streams.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax.numpy as jnp
import numpy as np

from .data import Data, Task
from .._misc import check_integer, check_real
from .quadrature import product_rule

__all__ = [
    "finite_dataset",
    "gaussian_inputs",
    "named_target",
    "NAMED_TARGETS",
    "cubic_teacher",
    "modular_addition",
    "modular_addition_pairs",
    "modular_addition_split",
]

# Default Gauss-Hermite nodes per axis of the infinite-data training split (n_nodes**dim points).
_DEFAULT_NODES = {1: 32, 2: 24, 3: 12}
# Default number of Monte-Carlo training samples when quadrature is not used.
_DEFAULT_SAMPLES = 4096
# Largest product rule `gaussian_inputs` builds (n_nodes**dim points).
_MAX_QUADRATURE_POINTS = 200_000
# Steepness of the smooth XOR target tanh(k x1) tanh(k x2).
XOR_STEEPNESS = 2.0


# --------------------------------------------------------------------------------------------
# argument checks


def _check_seed(seed) -> int:
    return check_integer("seed", seed, minimum=0, hint=" (a non-negative integer seeds numpy's default_rng)")


def _check_name(name) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    return name


def _rngs(seed: int, n: int) -> list[np.random.Generator]:
    """`n` independent generators from one seed (child streams of a SeedSequence)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def _array_2d(name: str, value, *, what: str) -> np.ndarray:
    """A float64 array of shape (n, k) (a 1-D array becomes one column), with a named error."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric array of {what}, got {type(value).__name__}: {err}") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of {what} (or 1-D), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one row, got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError(f"{name} must hold at least one column ({what}), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{name} contains {bad} non-finite value(s); clean or drop those rows")
    return arr


# --------------------------------------------------------------------------------------------
# finite data


def finite_dataset(x_train, y_train, x_test=None, y_test=None, *, name: str = "finite") -> Task:
    """A task from arrays: inputs (n, d) and targets (n,) or (n, C), equal weights 1/n.

    When neither `x_test` nor `y_test` is given, **the test split is the training split** (the same
    `Data` object), so "test" metrics then measure the training fit. Give both or neither.

    Example:
        >>> task = finite_dataset([[0.0], [1.0]], [1.0, -1.0])
        >>> task.train.n, task.test is task.train or task.test.n
        (2, True)
    """
    name = _check_name(name)
    xtr = _array_2d("x_train", x_train, what="inputs (n, d)")
    ytr = _array_2d("y_train", y_train, what="targets (n, C)")
    if xtr.shape[0] != ytr.shape[0]:
        raise ValueError(
            f"x_train and y_train must have the same number of rows, got {xtr.shape[0]} and {ytr.shape[0]}"
        )
    train = Data(xtr, ytr)
    if x_test is None and y_test is None:
        return Task(train=train, test=train, name=name)
    if x_test is None or y_test is None:
        given, missing = ("x_test", "y_test") if y_test is None else ("y_test", "x_test")
        raise ValueError(
            f"{given} was given but {missing} is None; give both test arrays, or neither to test on "
            "the training split"
        )
    xte = _array_2d("x_test", x_test, what="inputs (n, d)")
    yte = _array_2d("y_test", y_test, what="targets (n, C)")
    if xte.shape[0] != yte.shape[0]:
        raise ValueError(
            f"x_test and y_test must have the same number of rows, got {xte.shape[0]} and {yte.shape[0]}"
        )
    if xte.shape[1] != xtr.shape[1]:
        raise ValueError(
            f"x_test must have the input dimension of x_train ({xtr.shape[1]}), got shape {xte.shape}"
        )
    if yte.shape[1] != ytr.shape[1]:
        raise ValueError(
            f"y_test must have the number of outputs of y_train ({ytr.shape[1]}), got shape {yte.shape}"
        )
    return Task(train=train, test=Data(xte, yte), name=name)


# --------------------------------------------------------------------------------------------
# Gaussian inputs and named targets


class _NamedTarget:
    """A target function of Gaussian inputs, built by `named_target` (jit-compatible, jnp)."""

    def __init__(self, name: str, dim: int, fn: Callable, formula: str):
        self.name = name
        self.dim = dim
        self.formula = formula
        self._fn = fn

    def __call__(self, x):
        x = jnp.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(
                f"target {self.name!r} was built for inputs of shape (n, {self.dim}), got shape {x.shape}"
            )
        return self._fn(x)

    def __repr__(self) -> str:
        return f"named_target({self.name!r}, dim={self.dim})  # y = {self.formula}"


def _sign_product(x):
    return jnp.sign(x[:, 0] * x[:, 1])


def _x1(x):
    return x[:, 0]


def _x1x2(x):
    return x[:, 0] * x[:, 1]


def _tanh_x1(x):
    return jnp.tanh(x[:, 0])


def _xor(x):
    return jnp.tanh(XOR_STEEPNESS * x[:, 0]) * jnp.tanh(XOR_STEEPNESS * x[:, 1])


def _cubic(x):
    z = x[:, 0]
    return (z**3 - 3.0 * z) / math.sqrt(6.0)


def _zero(x):
    return jnp.zeros(x.shape[:1], dtype=x.dtype)


# name -> (function, minimal dim, formula)
NAMED_TARGETS: dict[str, tuple[Callable, int, str]] = {
    "x1": (_x1, 1, "x1 (linear)"),
    "tanh_x1": (_tanh_x1, 1, "tanh(x1)"),
    "cubic": (_cubic, 1, "He_3(x1)/sqrt(6) = (x1^3 - 3 x1)/sqrt(6), unit variance"),
    "zero": (_zero, 1, "0 (the 'learning zero' task)"),
    "x1x2": (_x1x2, 2, "x1 * x2"),
    "sign_product": (_sign_product, 2, "sign(x1 * x2)"),
    "xor": (_xor, 2, f"tanh({XOR_STEEPNESS:g} x1) * tanh({XOR_STEEPNESS:g} x2) (smooth XOR)"),
}


def named_target(name: str, dim: int) -> Callable:
    """A target function of x ~ N(0, I_dim) by name, for config files.

    Names (the callable maps an (n, dim) array to (n,)):

    - "x1": x1 (linear).
    - "tanh_x1": tanh(x1).
    - "cubic": He_3(x1)/sqrt(6) = (x1^3 - 3 x1)/sqrt(6), mean 0 and variance 1.
    - "zero": 0, the "learning zero" task.
    - "x1x2": x1 * x2 (needs dim >= 2).
    - "sign_product": sign(x1 * x2) (dim >= 2). An even function of x: an odd activation without
      bias (tanh, erf) cannot fit it, every neuron's output being odd.
    - "xor": tanh(k x1) tanh(k x2) with k = XOR_STEEPNESS = 2 (dim >= 2): a smooth, continuous
      XOR whose sign is that of x1 x2 and which tends to sign(x1 x2) as k -> infinity; smooth so
      that quadrature integrates it accurately. Also even.

    The callables use jax.numpy (they work on numpy and jax arrays and under jit) and check the
    input shape.
    """
    if not isinstance(name, str) or name not in NAMED_TARGETS:
        raise ValueError(f"unknown target name {name!r}; allowed names are {sorted(NAMED_TARGETS)}")
    fn, min_dim, formula = NAMED_TARGETS[name]
    dim = check_integer("dim", dim, minimum=1)
    if dim < min_dim:
        raise ValueError(f"target {name!r} needs dim >= {min_dim}, got dim = {dim}")
    return _NamedTarget(name, dim, fn, formula)


def _evaluate_target(target: Callable, x: np.ndarray) -> np.ndarray:
    try:
        y = target(x)
    except Exception as err:  # report which argument failed, keep the cause
        raise ValueError(f"target raised {type(err).__name__} on inputs of shape {x.shape}: {err}") from err
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"target must return a numeric array, got {type(y).__name__}: {err}") from None
    shape = y.shape
    n = x.shape[0]
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n:
        raise ValueError(
            f"target must map an ({n}, {x.shape[1]}) array to shape ({n},) or ({n}, C), "
            f"got shape {shape}"
        )
    if not np.all(np.isfinite(y)):
        raise ValueError(f"target returned {int((~np.isfinite(y)).sum())} non-finite value(s)")
    return y


def gaussian_inputs(
    dim: int,
    target,
    *,
    n_nodes: int | None = None,
    n_samples: int | None = None,
    n_test: int = 1000,
    seed: int = 0,
    name: str = "gaussian",
) -> Task:
    """Inputs x ~ N(0, I_dim) with targets y = target(x).

    Args:
        dim: input dimension, >= 1.
        target: a callable mapping an (n, dim) float64 numpy array to (n,) or (n, C), or a name
            accepted by `named_target` (then `named_target(target, dim)` is used).
        n_nodes: Gauss-Hermite nodes per axis of the infinite-data training split. Default 32,
            24 and 12 for dim 1, 2 and 3. Giving it for dim > 3 asks for a product rule there too
            (at most 200000 points).
        n_samples: number of Monte-Carlo training samples. Giving it forces a Monte-Carlo split
            for any dim; default 4096 when dim > 3.
        n_test: number of Monte-Carlo test samples (>= 1).
        seed: non-negative integer; seeds the Monte-Carlo training and test draws (independent
            streams).
        name: the task's name.

    Training split:

    - quadrature (infinite data) when `n_samples` is None and dim <= 3 or `n_nodes` is given: the
      product rule `product_rule(dim, n_nodes)`, weights = the quadrature weights, so that
      `sum_mu weights_mu g(x_mu)` is E[g(x)] (exact for polynomials of degree <= 2 n_nodes - 1 in
      each coordinate);
    - Monte-Carlo otherwise: `n_samples` draws with equal weights.

    Test split: `n_test` fresh Monte-Carlo draws, equal weights.
    """
    dim = check_integer("dim", dim, minimum=1)
    if isinstance(target, str):
        target = named_target(target, dim)
    if not callable(target):
        raise ValueError(
            f"target must be a callable mapping an (n, {dim}) array to (n,) or (n, C), or one of "
            f"the names {sorted(NAMED_TARGETS)}; got {target!r}"
        )
    if n_nodes is not None and n_samples is not None:
        raise ValueError(
            f"give n_nodes (quadrature) or n_samples (Monte-Carlo), not both; got n_nodes={n_nodes!r}, "
            f"n_samples={n_samples!r}"
        )
    if n_nodes is not None:
        n_nodes = check_integer("n_nodes", n_nodes, minimum=1)
        if n_nodes**dim > _MAX_QUADRATURE_POINTS:
            raise ValueError(
                f"n_nodes={n_nodes} in dim={dim} makes {n_nodes}**{dim} = {n_nodes**dim} quadrature "
                f"points, more than {_MAX_QUADRATURE_POINTS}; use fewer nodes or n_samples (Monte-Carlo)"
            )
    if n_samples is not None:
        n_samples = check_integer("n_samples", n_samples, minimum=1)
    n_test = check_integer("n_test", n_test, minimum=1)
    seed = _check_seed(seed)
    name = _check_name(name)

    rng_train, rng_test = _rngs(seed, 2)
    use_quadrature = n_samples is None and (dim <= 3 or n_nodes is not None)
    if use_quadrature:
        x_train, w_train = product_rule(dim, n_nodes if n_nodes is not None else _DEFAULT_NODES[dim])
    else:
        n = n_samples if n_samples is not None else _DEFAULT_SAMPLES
        x_train, w_train = rng_train.standard_normal((n, dim)), None
    x_test = rng_test.standard_normal((n_test, dim))
    y_train = _evaluate_target(target, x_train)
    y_test = _evaluate_target(target, x_test)
    if y_train.shape[1] != y_test.shape[1]:
        raise ValueError(
            f"target returned {y_train.shape[1]} outputs on the training inputs but {y_test.shape[1]} "
            "on the test inputs; it must return the same number of outputs C for any n"
        )
    return Task(train=Data(x_train, y_train, w_train), test=Data(x_test, y_test), name=name)


# --------------------------------------------------------------------------------------------
# cubic teacher


def _he3(z):
    return z**3 - 3.0 * z


def cubic_teacher(
    dim: int,
    n_train: int,
    *,
    eps: float = 0.1,
    n_test: int = 1000,
    seed: int = 0,
    teacher=None,
) -> Task:
    """The cubic teacher of Rubin, Seroussi & Ringel (ICLR 2024), section 3.1.

    x ~ N(0, I_dim) and

        y = He_1(w*.x) + eps He_3(w*.x),   He_1(z) = z, He_3(z) = z^3 - 3 z

    (probabilists' Hermite polynomials, orthogonal under N(0, 1) with E[He_k^2] = k!, so
    E[y] = 0 and E[y^2] = 1 + 6 eps^2).

    Args:
        dim: input dimension, >= 1.
        n_train: number of training samples (Monte-Carlo, equal weights), >= 1.
        eps: strength of the cubic component (finite real).
        n_test: number of test samples, >= 1.
        seed: non-negative integer; seeds training inputs, test inputs and (with
            teacher="random") the teacher direction, from independent streams.
        teacher: the unit vector w*. Default (None) is e_1 = (1, 0, ..., 0): the task is
            rotation-invariant, and e_1 makes the overlap of a neuron with the teacher its first
            weight. "random" draws a uniformly random unit vector from `seed`. An array of shape
            (dim,) must have unit norm (within 1e-8); it is not normalised silently.
    """
    dim = check_integer("dim", dim, minimum=1)
    n_train = check_integer("n_train", n_train, minimum=1)
    eps = check_real("eps", eps, hint=" (the cubic strength, e.g. 0.1)")
    n_test = check_integer("n_test", n_test, minimum=1)
    seed = _check_seed(seed)
    rng_train, rng_test, rng_teacher = _rngs(seed, 3)

    if teacher is None:
        w_star = np.zeros(dim)
        w_star[0] = 1.0
    elif isinstance(teacher, str):
        if teacher != "random":
            raise ValueError(f"teacher must be None (e_1), 'random' or a unit vector of shape ({dim},), got {teacher!r}")
        w_star = rng_teacher.standard_normal(dim)
        w_star /= np.linalg.norm(w_star)
    else:
        try:
            w_star = np.asarray(teacher, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"teacher must be None (e_1), 'random' or a unit vector of shape ({dim},), got {teacher!r}"
            ) from None
        if w_star.shape != (dim,):
            raise ValueError(f"teacher must have shape ({dim},) (one weight per input), got shape {w_star.shape}")
        norm = float(np.linalg.norm(w_star))
        if not math.isfinite(norm) or abs(norm - 1.0) > 1e-8:
            raise ValueError(
                f"teacher must be a unit vector, got norm {norm!r}; pass teacher / np.linalg.norm(teacher)"
            )

    def split(rng, n):
        x = rng.standard_normal((n, dim))
        z = x @ w_star
        return Data(x, z + eps * _he3(z))

    return Task(train=split(rng_train, n_train), test=split(rng_test, n_test), name=f"cubic_teacher(eps={eps:g})")


# --------------------------------------------------------------------------------------------
# modular addition


def _check_P(P) -> int:
    return check_integer("P", P, minimum=2, hint=" (the modulus; the task has P^2 pairs)")


def _check_alpha(alpha) -> float:
    alpha = check_real("alpha", alpha, hint=" in (0, 1] (the training fraction of the P^2 pairs)")
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1] (the training fraction of the P^2 pairs), got {alpha!r}")
    return alpha


def modular_addition_pairs(P: int) -> np.ndarray:
    """All P^2 pairs (n, m) as an integer array of shape (P^2, 2), row k = (k // P, k % P).

    This is the row order of the full data set of `modular_addition`; its training and test
    splits hold the rows `modular_addition_split(P, alpha, seed)`, in that order.
    """
    P = _check_P(P)
    n, m = np.divmod(np.arange(P * P), P)
    return np.stack([n, m], axis=1)


def _n_train(P: int, alpha: float) -> int:
    # round(alpha P^2), half up, at least 1 (the small tolerance absorbs float error in alpha*P^2).
    return max(1, min(P * P, int(math.floor(alpha * P * P + 0.5 + 1e-9))))


def modular_addition_split(P: int, alpha: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train_idx, test_idx) into `modular_addition_pairs(P)`, both sorted.

    The training set is the first n_train = max(1, round(alpha P^2)) entries (rounded half up) of
    a random permutation of the P^2 pairs drawn by numpy's default_rng(SeedSequence(seed)); the
    test set is the held-out rest. When nothing is held out (alpha == 1, or alpha P^2 rounds to
    P^2) the test set is **all** P^2 pairs. Deterministic: the same (P, alpha, seed) gives the
    same split, and training sets for a larger alpha contain those of a smaller one (same seed).
    """
    P = _check_P(P)
    alpha = _check_alpha(alpha)
    seed = _check_seed(seed)
    (rng,) = _rngs(seed, 1)
    perm = rng.permutation(P * P)
    n_train = _n_train(P, alpha)
    train_idx = np.sort(perm[:n_train])
    test_idx = np.sort(perm[n_train:]) if n_train < P * P else np.arange(P * P)
    return train_idx, test_idx


def modular_addition(P: int, alpha: float, *, seed: int = 0) -> Task:
    """Modular addition (Gromov 2023; Rubin, Seroussi & Ringel, ICLR 2024).

    Every pair (n, m), 0 <= n, m < P, has input x = one-hot(n) ++ one-hot(m) in R^{2P} (two-hot,
    entries sum to 2) and target y = one-hot((n + m) mod P) - 1/P in R^P (centred: entries sum
    to 0, arg-max the class). The training split is a random fraction alpha of the pairs (see
    `modular_addition_split` for the rule, the rounding and the seed), the test split the held-out
    pairs; when alpha == 1 (nothing held out) the test split is the full set. Both have equal
    weights; `classification=True`. Row j of the training split is the pair
    `modular_addition_pairs(P)[train_idx[j]]`.
    """
    P = _check_P(P)
    alpha = _check_alpha(alpha)
    seed = _check_seed(seed)
    pairs = modular_addition_pairs(P)
    eye = np.eye(P)
    x = np.concatenate([eye[pairs[:, 0]], eye[pairs[:, 1]]], axis=1)
    y = eye[(pairs[:, 0] + pairs[:, 1]) % P] - 1.0 / P
    train_idx, test_idx = modular_addition_split(P, alpha, seed)
    return Task(
        train=Data(x[train_idx], y[train_idx]),
        test=Data(x[test_idx], y[test_idx]),
        name=f"modular_addition(P={P}, alpha={alpha:g}, seed={seed})",
        classification=True,
    )
