"""Tests of the task constructors in meanfield._data.tasks."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import meanfield
from meanfield import (
    Task,
    cubic_teacher,
    finite_dataset,
    gaussian_inputs,
    modular_addition,
    modular_addition_pairs,
    modular_addition_split,
    named_target,
)


def _mean(data, g):
    """sum_mu weights_mu g(x_mu) over a split."""
    return float(np.sum(np.asarray(data.weights) * g(np.asarray(data.x))))


# ----------------------------------------------------------------------------- finite_dataset


def test_finite_dataset_default_test_is_train():
    x = np.arange(6.0).reshape(3, 2)
    y = np.array([1.0, -1.0, 0.5])
    task = finite_dataset(x, y)
    assert isinstance(task, Task)
    assert task.test is task.train
    assert task.train.x.shape == (3, 2) and task.train.y.shape == (3, 1)
    np.testing.assert_allclose(task.train.weights, np.full(3, 1 / 3))
    assert task.name == "finite" and not task.classification


def test_finite_dataset_with_test_split():
    rng = np.random.default_rng(1)
    task = finite_dataset(rng.normal(size=(5, 3)), rng.normal(size=(5, 2)),
                          rng.normal(size=(7, 3)), rng.normal(size=(7, 2)), name="mine")
    assert task.test.n == 7 and task.test.n_outputs == 2 and task.name == "mine"


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.zeros((3, 2)), np.zeros(4)), "x_train and y_train"),
        ((np.zeros((3, 2)), np.zeros(3), np.zeros((2, 2)), None), "x_test was given but y_test"),
        ((np.zeros((3, 2)), np.zeros(3), None, np.zeros(2)), "y_test was given but x_test"),
        ((np.zeros((3, 2)), np.zeros(3), np.zeros((2, 5)), np.zeros(2)), "x_test must have the input dimension"),
        ((np.zeros((3, 2)), np.zeros(3), np.zeros((2, 2)), np.zeros((2, 3))), "y_test must have the number"),
        ((np.zeros((3, 2)), np.zeros(3), np.zeros((2, 2)), np.zeros(3)), "x_test and y_test"),
        ((np.zeros((3, 2, 1)), np.zeros(3)), "x_train must be a 2-D"),
        ((np.full((3, 2), np.nan), np.zeros(3)), "x_train contains 6 non-finite"),
        ((np.zeros((0, 2)), np.zeros(0)), "x_train must hold at least one row"),
        ((np.zeros((3, 2)), ["a", "b", "c"]), "y_train must be a numeric array"),
    ],
)
def test_finite_dataset_errors(args, match):
    with pytest.raises(ValueError, match=match):
        finite_dataset(*args)


def test_finite_dataset_bad_name():
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        finite_dataset(np.zeros((2, 1)), np.zeros(2), name="")


# ----------------------------------------------------------------------------- gaussian_inputs


@pytest.mark.parametrize("dim", [2, 3])
def test_quadrature_split_integrates_polynomials_exactly(dim):
    task = gaussian_inputs(dim, "x1")
    # default nodes: 24 for d=2, 12 for d=3
    assert task.train.n == {2: 24**2, 3: 12**3}[dim]
    tr = task.train
    assert _mean(tr, lambda x: np.ones(len(x))) == pytest.approx(1.0, abs=1e-13)
    assert _mean(tr, lambda x: x[:, 0] ** 2 * x[:, 1] ** 2) == pytest.approx(1.0, abs=1e-12)
    assert _mean(tr, lambda x: x[:, 0] ** 4) == pytest.approx(3.0, abs=1e-12)
    assert _mean(tr, lambda x: x[:, 1] ** 6) == pytest.approx(15.0, abs=1e-11)
    assert _mean(tr, lambda x: x[:, 0] ** 3 * x[:, 1]) == pytest.approx(0.0, abs=1e-12)
    assert _mean(tr, lambda x: x[:, -1] ** 2 * x[:, 0] ** 4) == pytest.approx(3.0, abs=1e-11)
    np.testing.assert_allclose(tr.y[:, 0], tr.x[:, 0])


def test_quadrature_split_d1_default_and_explicit_nodes():
    task = gaussian_inputs(1, "cubic")
    assert task.train.n == 32
    # the cubic target has unit variance and zero mean
    assert _mean(task.train, lambda x: np.ones(len(x))) == pytest.approx(1.0)
    y = np.asarray(task.train.y[:, 0])
    w = np.asarray(task.train.weights)
    assert float(w @ y) == pytest.approx(0.0, abs=1e-12)
    assert float(w @ y**2) == pytest.approx(1.0, abs=1e-12)
    assert gaussian_inputs(1, "x1", n_nodes=7).train.n == 7
    # n_nodes in dim 4 asks for a product rule there too
    assert gaussian_inputs(4, "x1", n_nodes=3).train.n == 81


def test_monte_carlo_split_d5_moments():
    n = 4000
    task = gaussian_inputs(5, "x1x2", n_samples=n, n_test=50, seed=3)
    x = np.asarray(task.train.x)
    assert x.shape == (n, 5) and task.test.x.shape == (50, 5)
    np.testing.assert_allclose(task.train.weights, np.full(n, 1 / n))
    # sampling error of a mean is 1/sqrt(n) ~ 0.016, of a covariance entry ~ sqrt(2/n) ~ 0.022
    assert np.max(np.abs(x.mean(axis=0))) < 5 / math.sqrt(n)
    cov = np.cov(x, rowvar=False)
    assert np.max(np.abs(cov - np.eye(5))) < 5 * math.sqrt(2 / n)
    np.testing.assert_allclose(task.train.y[:, 0], x[:, 0] * x[:, 1])


def test_monte_carlo_default_for_high_dim_and_seed():
    a = gaussian_inputs(5, "x1", seed=0)
    b = gaussian_inputs(5, "x1", seed=0)
    c = gaussian_inputs(5, "x1", seed=1)
    assert a.train.n == 4096
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_array_equal(a.test.x, b.test.x)
    assert not np.allclose(a.train.x[:10], c.train.x[:10])
    # training and test draws are different streams
    assert not np.allclose(a.train.x[:10], a.test.x[:10])


def test_gaussian_inputs_n_samples_forces_monte_carlo_in_low_dim():
    task = gaussian_inputs(2, "xor", n_samples=100)
    assert task.train.n == 100
    np.testing.assert_allclose(task.train.weights, np.full(100, 0.01))


def test_gaussian_inputs_multi_output_and_numpy_target():
    task = gaussian_inputs(2, lambda x: np.stack([np.sin(x[:, 0]), x[:, 1] ** 2], axis=1), n_test=10)
    assert task.train.n_outputs == 2 and task.test.y.shape == (10, 2)
    w = np.asarray(task.train.weights)
    assert float(w @ np.asarray(task.train.y[:, 1])) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(dim=0, target="x1"), "dim must be an integer >= 1, got 0"),
        (dict(dim=2.0, target="x1"), "dim must be an integer"),
        (dict(dim=True, target="x1"), "dim must be an integer"),
        (dict(dim=2, target=3.0), "target must be a callable"),
        (dict(dim=2, target=lambda x: x[:, :, None]), r"target must map an \(576, 2\) array to shape \(576,\) or \(576, C\)"),
        (dict(dim=2, target=lambda x: x[:3, 0]), "target must map"),
        (dict(dim=2, target=lambda x: np.zeros((len(x), 2, 2))), "target must map"),
        (dict(dim=2, target=lambda x: np.full(len(x), np.nan)), "non-finite"),
        (dict(dim=2, target="nope"), "unknown target name 'nope'"),
        (dict(dim=2, target="x1", n_nodes=0), "n_nodes must be an integer >= 1, got 0"),
        (dict(dim=2, target="x1", n_nodes=4, n_samples=10), "not both"),
        (dict(dim=6, target="x1", n_nodes=20), "quadrature points"),
        (dict(dim=2, target="x1", n_samples=-1), "n_samples must be an integer >= 1"),
        (dict(dim=2, target="x1", n_test=0), "n_test must be an integer >= 1"),
        (dict(dim=2, target="x1", seed=-1), "seed must be an integer >= 0"),
    ],
)
def test_gaussian_inputs_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gaussian_inputs(**kwargs)


def test_gaussian_inputs_target_raising_is_reported():
    def bad(x):
        raise KeyError("boom")

    with pytest.raises(ValueError, match="target raised KeyError"):
        gaussian_inputs(1, bad)


# ----------------------------------------------------------------------------- named targets


def test_named_targets_values():
    x = np.array([[1.0, 2.0], [-0.5, 3.0], [2.0, -1.0]])
    np.testing.assert_allclose(named_target("x1", 2)(x), x[:, 0])
    np.testing.assert_allclose(named_target("x1x2", 2)(x), x[:, 0] * x[:, 1])
    np.testing.assert_allclose(named_target("sign_product", 2)(x), [1.0, -1.0, -1.0])
    np.testing.assert_allclose(named_target("tanh_x1", 2)(x), np.tanh(x[:, 0]))
    np.testing.assert_allclose(named_target("xor", 2)(x), np.tanh(2 * x[:, 0]) * np.tanh(2 * x[:, 1]))
    np.testing.assert_allclose(named_target("cubic", 2)(x), (x[:, 0] ** 3 - 3 * x[:, 0]) / math.sqrt(6))
    np.testing.assert_allclose(named_target("zero", 2)(x), 0.0)
    assert "x1 * x2" in repr(named_target("x1x2", 2))


def test_named_target_works_under_jit_and_checks_shape():
    f = named_target("xor", 3)
    x = jnp.ones((4, 3))
    np.testing.assert_allclose(jax.jit(f)(x), np.tanh(2.0) ** 2 * np.ones(4))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        f(jnp.ones((4, 2)))


def test_named_target_errors():
    with pytest.raises(ValueError, match=r"unknown target name 'sin'; allowed names are \[.*'sign_product'"):
        named_target("sin", 2)
    with pytest.raises(ValueError, match="needs dim >= 2, got dim = 1"):
        named_target("x1x2", 1)
    with pytest.raises(ValueError, match="dim must be an integer >= 1"):
        named_target("x1", 0)


# ----------------------------------------------------------------------------- cubic teacher


def test_cubic_teacher_formula_and_second_moment():
    eps = 0.3
    n = 20000
    task = cubic_teacher(4, n, eps=eps, n_test=100, seed=2)
    x = np.asarray(task.train.x)
    y = np.asarray(task.train.y[:, 0])
    z = x[:, 0]  # default teacher e_1
    np.testing.assert_allclose(y, z + eps * (z**3 - 3 * z), rtol=1e-13)
    assert task.test.n == 100 and task.train.n == n
    # E[y^2] = 1 + 6 eps^2 = 1.54; Var[y^2] estimated from the sample itself
    second = y**2
    se = second.std() / math.sqrt(n)
    assert abs(second.mean() - (1 + 6 * eps**2)) < 5 * se
    assert abs(y.mean()) < 5 * y.std() / math.sqrt(n)


def test_cubic_teacher_random_and_explicit_teacher():
    a = cubic_teacher(3, 50, teacher="random", seed=5)
    b = cubic_teacher(3, 50, teacher="random", seed=5)
    np.testing.assert_array_equal(a.train.y, b.train.y)
    w = np.array([0.6, 0.0, 0.8])
    t = cubic_teacher(3, 50, eps=0.0, teacher=w)
    np.testing.assert_allclose(t.train.y[:, 0], np.asarray(t.train.x) @ w, rtol=1e-13)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((0, 10), {}, "dim must be an integer >= 1, got 0"),
        ((2, 0), {}, "n_train must be an integer >= 1, got 0"),
        ((2, 10), dict(eps=float("nan")), "eps must be a finite real"),
        ((2, 10), dict(eps="0.1"), "eps must be a finite real"),
        ((2, 10), dict(n_test=0), "n_test must be an integer >= 1"),
        ((2, 10), dict(seed=1.5), "seed must be an integer"),
        ((2, 10), dict(teacher=[1.0, 0.0, 0.0]), r"teacher must have shape \(2,\)"),
        ((2, 10), dict(teacher=[1.0, 1.0]), "teacher must be a unit vector, got norm"),
        ((2, 10), dict(teacher="e1"), "teacher must be None"),
    ],
)
def test_cubic_teacher_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cubic_teacher(*args, **kwargs)


# ----------------------------------------------------------------------------- modular addition


def _check_modular_addition(P, alpha, seed):
    task = modular_addition(P, alpha, seed=seed)
    pairs = modular_addition_pairs(P)
    train_idx, test_idx = modular_addition_split(P, alpha, seed)
    n_train = max(1, math.floor(alpha * P * P + 0.5))
    assert task.classification
    assert pairs.shape == (P * P, 2) and pairs.dtype.kind == "i"
    assert len(train_idx) == n_train == task.train.n
    assert task.train.x.shape == (n_train, 2 * P) and task.train.y.shape == (n_train, P)
    for data, idx in ((task.train, train_idx), (task.test, test_idx)):
        x, y = np.asarray(data.x), np.asarray(data.y)
        assert data.n == len(idx)
        np.testing.assert_allclose(x.sum(axis=1), 2.0)
        assert set(np.unique(x)) <= {0.0, 1.0}
        np.testing.assert_array_equal(np.argmax(x[:, :P], axis=1), pairs[idx, 0])
        np.testing.assert_array_equal(np.argmax(x[:, P:], axis=1), pairs[idx, 1])
        np.testing.assert_allclose(y.sum(axis=1), 0.0, atol=1e-12)
        np.testing.assert_array_equal(np.argmax(y, axis=1), pairs[idx].sum(axis=1) % P)
        np.testing.assert_allclose(y.max(axis=1), 1 - 1 / P)
        np.testing.assert_allclose(np.asarray(data.weights), 1 / data.n)
    if n_train < P * P:
        assert np.intersect1d(train_idx, test_idx).size == 0
        np.testing.assert_array_equal(np.sort(np.concatenate([train_idx, test_idx])), np.arange(P * P))
    else:
        np.testing.assert_array_equal(train_idx, np.arange(P * P))
        np.testing.assert_array_equal(test_idx, np.arange(P * P))
    return train_idx, test_idx


def test_modular_addition_pairs_order():
    pairs = modular_addition_pairs(3)
    np.testing.assert_array_equal(pairs, [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2], [2, 0], [2, 1], [2, 2]])


def test_modular_addition_basic():
    train_idx, test_idx = _check_modular_addition(7, 0.4, 0)
    assert len(train_idx) == round(0.4 * 49) == 20 and len(test_idx) == 29


def test_modular_addition_split_reproducible_and_seed_dependent():
    a = modular_addition_split(11, 0.5, 3)
    b = modular_addition_split(11, 0.5, 3)
    c = modular_addition_split(11, 0.5, 4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    # the task's rows follow the split
    task = modular_addition(11, 0.5, seed=3)
    x = np.asarray(task.train.x)
    np.testing.assert_array_equal(np.argmax(x[:, :11], axis=1) * 11 + np.argmax(x[:, 11:], axis=1), a[0])
    # nested in alpha for one seed
    small = modular_addition_split(11, 0.2, 3)[0]
    assert np.isin(small, a[0]).all()


def test_modular_addition_alpha_one_and_tiny_alpha():
    task = modular_addition(5, 1.0)
    assert task.train.n == 25 and task.test.n == 25
    np.testing.assert_array_equal(task.train.x, task.test.x)
    # alpha so small that round(alpha P^2) = 0: still one training pair
    tiny = modular_addition(5, 1e-6)
    assert tiny.train.n == 1 and tiny.test.n == 24
    # alpha < 1 rounding to P^2: nothing held out, test is the full set
    _check_modular_addition(2, 0.95, 0)


@settings(max_examples=40, deadline=None)
@given(
    P=st.integers(min_value=2, max_value=15),
    alpha=st.floats(min_value=0.0, max_value=1.0, exclude_min=True),
    seed=st.integers(min_value=0, max_value=2**31),
)
def test_modular_addition_property(P, alpha, seed):
    _check_modular_addition(P, alpha, seed)


@pytest.mark.parametrize(
    "P, alpha, kwargs, match",
    [
        (1, 0.5, {}, "P must be an integer >= 2.*got 1"),
        (0, 0.5, {}, "P must be an integer >= 2"),
        (5.0, 0.5, {}, "P must be an integer >= 2.*got 5.0"),
        (5, 0.0, {}, r"alpha must be in \(0, 1\].*got 0.0"),
        (5, 1.5, {}, r"alpha must be in \(0, 1\].*got 1.5"),
        (5, -0.1, {}, r"alpha must be in \(0, 1\]"),
        (5, float("nan"), {}, "alpha must be a finite real"),
        (5, "half", {}, "alpha must be a finite real"),
        (5, 0.5, dict(seed=-3), "seed must be an integer >= 0"),
    ],
)
def test_modular_addition_errors(P, alpha, kwargs, match):
    with pytest.raises(ValueError, match=match):
        modular_addition(P, alpha, **kwargs)
    with pytest.raises(ValueError, match=match):
        modular_addition_split(P, alpha, **kwargs)


def test_modular_addition_pairs_error():
    with pytest.raises(ValueError, match="P must be an integer >= 2"):
        modular_addition_pairs(1)


def test_public_names_reexported():
    for name in ("finite_dataset", "gaussian_inputs", "named_target", "cubic_teacher",
                 "modular_addition", "modular_addition_pairs", "modular_addition_split"):
        assert callable(getattr(meanfield, name))


def test_two_hot_inputs_project_by_gather_with_the_dense_numbers():
    mf = meanfield
    import jax
    import jax.numpy as jnp

    task0 = mf.modular_addition(11, 0.6, seed=1)
    dense = task0.train
    assert dense.sparse_index is None  # the default: dense matmul
    data = mf.Data(np.asarray(dense.x), np.asarray(dense.y), sparse=True)
    assert data.sparse_index is not None and data.sparse_index.shape == (data.n, 2)
    task = mf.Task(data, task0.test, classification=True)
    w = jax.random.normal(jax.random.PRNGKey(0), (5, 22), dtype=jnp.float64)
    assert np.array_equal(np.asarray(data.project(w)), np.asarray(dense.project(w)))
    # the particle action and its gradient agree with the dense path
    kw = dict(width=100.0, noise=0.02, action=mf.LinearisedAction(stabiliser=1.0))
    p_sparse = mf.BayesianProblem(task, mf.Quadratic(), **kw)
    p_dense = mf.BayesianProblem(task0, mf.Quadratic(), **kw)
    bg = p_sparse.background(p_sparse.measure(mf.Particles.uniform(w)))
    e_s = jax.vmap(jax.value_and_grad(lambda t: p_sparse.energy(t, bg)))(w)
    e_d = jax.vmap(jax.value_and_grad(lambda t: p_dense.energy(t, bg)))(w)
    np.testing.assert_allclose(e_s[0], e_d[0], rtol=1e-13)
    np.testing.assert_allclose(e_s[1], e_d[1], rtol=1e-10, atol=1e-12)
    # rows with many non-zeros keep the dense path even when asked
    x = np.random.default_rng(0).normal(size=(6, 16))
    assert mf.Data(x, np.ones(6), sparse=True).sparse_index is None
