"""The one MALA kernel (`meanfield._solver.foreground.mala`) against closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from meanfield._solver.foreground.mala import adapt_step_size, mala_chain, mala_init, mala_step

A = np.array([[4.0, 1.5], [1.5, 1.0]])          # U = x^T A x / 2: N(0, A^-1), condition ~ 10
COV = np.linalg.inv(A)


def _chains(step, n_steps, *, preconditioner=None, metropolis=True, n_chains=4000, seed=0):
    vg = jax.vmap(jax.value_and_grad(lambda x: 0.5 * x @ jnp.asarray(A) @ x))
    state = mala_init(vg, jnp.zeros((n_chains, 2)))
    state, prob, taken = mala_chain(vg, state, jax.random.PRNGKey(seed), step, n_steps,
                                    preconditioner=preconditioner, metropolis=metropolis)
    return np.asarray(state.position), float(prob), float(taken)


def _cov_tolerance(n):
    # standard error of a sample covariance entry of a Gaussian: sqrt((S_ij^2 + S_ii S_jj) / n)
    return 5 * np.sqrt((COV**2 + np.outer(np.diag(COV), np.diag(COV))) / n)


@pytest.mark.parametrize("preconditioned", [False, True], ids=["plain", "preconditioned"])
def test_stationary_law_is_the_target(preconditioned):
    if preconditioned:                          # P = A^-1 = R R^T whitens the target
        r = np.linalg.cholesky(COV)
        pre, step = (jnp.asarray(r), jnp.asarray(np.linalg.inv(r))), 1.0
    else:
        pre, step = None, 0.2
    x, prob, taken = _chains(step, 300, preconditioner=pre)
    assert 0.3 < prob < 1.0 and abs(prob - taken) < 0.05
    np.testing.assert_array_less(np.abs(x.mean(axis=0)), 5 * np.sqrt(np.diag(COV) / len(x)))
    np.testing.assert_array_less(np.abs(np.cov(x.T) - COV), _cov_tolerance(len(x)))


def test_unadjusted_chain_has_its_known_bias():
    """ULA on N(0, 1) with step h has stationary variance 1 / (1 - h/4); MALA removes it."""
    vg = jax.vmap(jax.value_and_grad(lambda x: 0.5 * jnp.sum(x**2)))
    h, n = 1.0, 20000
    out = {}
    for metropolis in (False, True):
        state = mala_init(vg, jnp.zeros((n, 1)))
        state, _, taken = mala_chain(vg, state, jax.random.PRNGKey(3), h, 200,
                                     metropolis=metropolis)
        out[metropolis] = float(np.var(np.asarray(state.position)))
        if not metropolis:
            assert float(taken) == 1.0
    se = np.sqrt(2.0 / n) * 4 / 3                 # standard error of a sample variance
    assert abs(out[False] - 1.0 / (1.0 - h / 4)) < 5 * se, out
    assert abs(out[True] - 1.0) < 5 * se, out


def test_pytree_leaves_move_with_their_own_steps_and_frozen_leaves_stay():
    def u(p):
        return 0.5 * jnp.sum(p["a"] ** 2) + 0.5 * jnp.sum(p["b"] ** 2)

    vg = jax.value_and_grad(u)
    start = {"a": jnp.ones(3), "b": jnp.full(2, 2.0)}
    state = mala_init(vg, start)
    for i in range(20):
        state, info = mala_step(vg, state, jax.random.PRNGKey(i), {"a": 0.5, "b": None})
        assert 0.0 <= float(info.acceptance_probability) <= 1.0
    np.testing.assert_array_equal(state.position["b"], start["b"])
    assert not np.allclose(state.position["a"], start["a"])
    value, grad = vg(state.position)             # the carried value and gradient are current
    assert float(value) == pytest.approx(float(state.value))
    np.testing.assert_allclose(grad["a"], state.grad["a"])


def test_non_finite_proposals_are_rejected():
    vg = jax.value_and_grad(lambda x: jnp.where(x[0] > 0.5, jnp.inf, 0.5 * jnp.sum(x**2)))
    state = mala_init(vg, jnp.zeros(1))
    for i in range(50):
        state, info = mala_step(vg, state, jax.random.PRNGKey(i), 1.0)
        assert np.isfinite(float(state.value))
        if not bool(info.accepted):
            continue
        assert float(state.position[0]) <= 0.5


def test_step_size_rule():
    assert adapt_step_size(0.1, 0.6, 0.6) == pytest.approx(0.1)
    assert adapt_step_size(0.1, 0.9, 0.6) > 0.1 > adapt_step_size(0.1, 0.3, 0.6)
    # at most a factor e per window either way
    assert adapt_step_size(1.0, 1.0, 0.0) == pytest.approx(np.e)
    assert adapt_step_size(1.0, 0.0, 1.0) == pytest.approx(1 / np.e)
    np.testing.assert_allclose(adapt_step_size(np.ones(3), [0.6, 0.9, 0.1], 0.6),
                               np.exp(np.clip(2 * (np.array([0.6, 0.9, 0.1]) - 0.6), -1, 1)))
