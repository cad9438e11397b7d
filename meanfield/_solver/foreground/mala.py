r"""THE Metropolis-adjusted Langevin (MALA) kernel of the package, and its one step-size rule.

Every Langevin sampler in meanfield moves with `mala_step`: the foreground particles
(`Langevin`, `Tempering`), the finite-width posterior (`sample_posterior`) and the LLC estimator
(`estimate_llc`). One step of a position x (any pytree) under the potential U, with a step size
h_l per leaf l and an optional constant preconditioner P = R R^T, is

    x'_l = x_l - (h_l/2) P grad_l U(x) + sqrt(h_l) R xi_l,          xi_l ~ N(0, I),

accepted with probability

    alpha = min(1, exp(-U(x') + U(x)) q(x | x') / q(x' | x)),
    log q(x' | x) = -sum_l |xi_l|^2 / 2  (+ const),

(Roberts & Tweedie 1996). A constant P keeps the chain exact; `metropolis=False` accepts every
move (the unadjusted Langevin algorithm, ULA, biased by O(h)), and alpha is still computed as a
diagnostic of that bias. A proposal whose value or gradient is not finite has alpha = 0 (with
Metropolis it is rejected; ULA takes it, so that the caller sees the blow-up).

Batches. The leading axes of U(x) are batch axes: a potential that returns one value per
particle (shape (M,)) moves M independent chains in one call, each accepted on its own, with the
sums in log q taken over the remaining (event) axes of every leaf. A scalar U is one chain.

Random numbers: `key` is split into n_leaves + 1 keys; leaf l's noise is drawn from key l and
the uniform of the Metropolis test from the last one. (For one leaf: `k_noise, k_accept =
jax.random.split(key)`.) Frozen leaves (step size None) draw nothing and do not move.

Example (one chain on U = |x|^2/2, a standard normal):

    >>> import jax, jax.numpy as jnp
    >>> vg = jax.value_and_grad(lambda x: 0.5 * jnp.sum(x**2))
    >>> state = mala_init(vg, jnp.zeros(3))
    >>> state, info = mala_step(vg, state, jax.random.PRNGKey(0), 0.5)
    >>> state.position.shape, bool(0.0 <= info.acceptance_probability <= 1.0)
    ((3,), True)
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["MALAState", "MALAInfo", "mala_init", "mala_step", "mala_chain", "adapt_step_size",
           "scale_potential", "scale_state", "unscale_state"]


class MALAState(NamedTuple):
    """A chain (or a batch of chains): position x, U(x), grad U(x) and an optional auxiliary
    output of the potential (e.g. the loss inside an LLC potential)."""

    position: Any
    value: jax.Array
    grad: Any
    aux: Any = None


class MALAInfo(NamedTuple):
    """Per step: the Metropolis-Hastings acceptance probability alpha (batch shape) and whether
    the move was taken."""

    acceptance_probability: jax.Array
    accepted: jax.Array


def _evaluate(value_and_grad: Callable, position, has_aux: bool) -> MALAState:
    out, grad = value_and_grad(position)
    value, aux = out if has_aux else (out, None)
    return MALAState(position, value, grad, aux)


def mala_init(value_and_grad: Callable, position, *, has_aux: bool = False) -> MALAState:
    """The state at `position`.

    `value_and_grad(x)` returns (U(x), grad U(x)) (as `jax.value_and_grad` does), or
    ((U(x), aux), grad U(x)) with `has_aux=True`.
    """
    return _evaluate(value_and_grad, position, has_aux)


def scale_potential(value_and_grad: Callable, beta) -> Callable:
    """The potential beta U from U's `value_and_grad`, to be run with `has_aux=True`:
    x -> ((beta U(x), (U(x), grad U(x))), beta grad U(x)).

    Its states carry the unscaled U and grad U as their aux, so that a chain can be stopped and
    restarted at another beta (tempering) without evaluating U again: `scale_state` makes such a
    state from a state of U, `unscale_state` gives the state of U back.

    >>> import jax, jax.numpy as jnp
    >>> vg = jax.value_and_grad(lambda x: 0.5 * jnp.sum(x**2))
    >>> state = scale_state(mala_init(vg, jnp.ones(2)), 0.5)
    >>> state, _ = mala_step(scale_potential(vg, 0.5), state, jax.random.PRNGKey(0), 0.5,
    ...                      has_aux=True)
    >>> bool(jnp.allclose(unscale_state(state).value, 0.5 * jnp.sum(state.position**2)))
    True
    """
    def scaled(position):
        value, grad = value_and_grad(position)
        return ((beta * value, (value, grad)),
                jax.tree_util.tree_map(lambda g: beta * g, grad))

    return scaled


def scale_state(state: MALAState, beta) -> MALAState:
    """The state of `scale_potential(., beta)` at a state of U (whose aux is dropped)."""
    return MALAState(state.position, beta * state.value,
                     jax.tree_util.tree_map(lambda g: beta * g, state.grad),
                     (state.value, state.grad))


def unscale_state(state: MALAState) -> MALAState:
    """The state of U back from a state of `scale_potential(., beta)`."""
    value, grad = state.aux
    return MALAState(state.position, value, grad)


def _leaf_step_sizes(step_size, treedef, n_leaves):
    """One step size per leaf: a pytree of the position's structure (None: frozen leaf) or a
    single value for every leaf."""
    if isinstance(step_size, (dict, list, tuple)):
        return treedef.flatten_up_to(step_size)
    return [step_size] * n_leaves


def mala_step(value_and_grad: Callable, state: MALAState, key, step_size, *,
              preconditioner=None, metropolis: bool = True, has_aux: bool = False):
    """One MALA (or ULA) step; returns (new state, `MALAInfo`). See the module docstring.

    Args:
        value_and_grad: x -> (U(x), grad U(x)) (or ((U, aux), grad) with `has_aux`).
        state: the current `MALAState`.
        key: a PRNG key.
        step_size: h, one value for every leaf or a pytree of the position's structure with one
            per leaf (None freezes that leaf). A value may be an array broadcasting against the
            leaf (e.g. one step per chain).
        preconditioner: None (P = I) or (R, R^{-1}) with P = R R^T, acting on the last axis of
            every moving leaf.
        metropolis: apply the Metropolis-Hastings test (MALA); False gives ULA.
        has_aux: the potential returns an auxiliary output, carried along with the position.
    """
    leaves, treedef = jax.tree_util.tree_flatten(state.position)
    steps = _leaf_step_sizes(step_size, treedef, len(leaves))
    grads = treedef.flatten_up_to(state.grad)
    keys = jax.random.split(key, len(leaves) + 1)
    r, r_inv = (None, None) if preconditioner is None else preconditioner
    batch = jnp.ndim(state.value)

    def event_sum(a):
        return jnp.sum(a, axis=tuple(range(batch, a.ndim)))

    def precondition(g):  # P g = R R^T g on the last axis
        return g if r is None else (g @ r) @ r.T

    moving = [i for i, h in enumerate(steps) if h is not None]
    proposal, noise = list(leaves), {}
    for i in moving:
        h = steps[i]
        xi = jax.random.normal(keys[i], leaves[i].shape, dtype=leaves[i].dtype)
        kick = xi if r is None else xi @ r.T
        proposal[i] = leaves[i] - 0.5 * h * precondition(grads[i]) + jnp.sqrt(h) * kick
        noise[i] = xi
    new = _evaluate(value_and_grad, treedef.unflatten(proposal), has_aux)
    new_grads = treedef.flatten_up_to(new.grad)

    # log alpha = -(U(x') - U(x)) + log q(x | x') - log q(x' | x)
    log_ratio = -(new.value - state.value)
    finite = jnp.isfinite(new.value)
    for i in moving:
        h = steps[i]
        finite = finite & jnp.all(jnp.isfinite(new_grads[i]),
                                  axis=tuple(range(batch, new_grads[i].ndim)))
        back = leaves[i] - proposal[i] + 0.5 * h * precondition(new_grads[i])
        if r is None:
            log_back = -0.5 * event_sum(back**2) / h
        else:
            log_back = -0.5 * event_sum(((back @ r_inv.T) / jnp.sqrt(h)) ** 2)
        log_ratio = log_ratio + log_back
    for i in moving:
        log_ratio = log_ratio + 0.5 * event_sum(noise[i] ** 2)
    log_ratio = jnp.where(finite & jnp.isfinite(log_ratio), log_ratio, -jnp.inf)
    probability = jnp.exp(jnp.minimum(log_ratio, 0.0))
    if metropolis:
        log_u = jnp.log(jax.random.uniform(keys[-1], jnp.shape(state.value),
                                           dtype=jnp.result_type(state.value)))
        take = log_u < log_ratio
    else:
        take = jnp.ones(jnp.shape(state.value), dtype=bool)

    def pick(a, b):
        t = jnp.reshape(take, take.shape + (1,) * (jnp.ndim(a) - take.ndim))
        return jnp.where(t, a, b)

    out = MALAState(*(jax.tree_util.tree_map(pick, a, b) for a, b in zip(new, state)))
    return out, MALAInfo(probability, take)


def mala_chain(value_and_grad: Callable, state: MALAState, key, step_size, n_steps: int, *,
               preconditioner=None, metropolis: bool = True, has_aux: bool = False):
    """`n_steps` MALA steps in a `lax.scan` (keys `jax.random.split(key, n_steps)`).

    Returns (final state, mean acceptance probability, mean fraction of moves taken), both
    averaged over the steps and the batch.

    >>> import jax, jax.numpy as jnp
    >>> vg = jax.vmap(jax.value_and_grad(lambda x: 0.5 * jnp.sum(x**2)))   # 100 chains
    >>> state = mala_init(vg, jnp.zeros((100, 2)))
    >>> state, prob, taken = mala_chain(vg, state, jax.random.PRNGKey(1), 1.0, 20)
    >>> bool(0.5 < float(prob) < 1.0), state.position.shape
    (True, (100, 2))
    """
    dtype = jnp.result_type(state.value)

    def body(carry, k):
        s, prob, taken = carry
        s, info = mala_step(value_and_grad, s, k, step_size, preconditioner=preconditioner,
                            metropolis=metropolis, has_aux=has_aux)
        return (s, prob + jnp.mean(info.acceptance_probability),
                taken + jnp.mean(info.accepted.astype(dtype))), None

    zero = jnp.zeros((), dtype)
    (state, prob, taken), _ = jax.lax.scan(body, (state, zero, zero),
                                           jax.random.split(key, n_steps))
    return state, prob / n_steps, taken / n_steps


def adapt_step_size(step_size, acceptance, target):
    r"""The one step-size rule, applied between calls (windows) of a sampler:

        h' = h exp(clip(2 (a - a*), -1, 1)),

    a the acceptance measured over the last window and a* = `target` (Roberts & Rosenthal 1998:
    about 0.574 is optimal for MALA). Works elementwise (one h per tempering level).

    Why clip at (-1, 1): the rule changes log h by at most 1 per window in either direction, a
    factor e. Symmetric bounds keep the controller from overshooting, and at the targets used
    here (0.6-0.9) the lower bound binds only when the acceptance collapses below a* - 0.5,
    where shrinking by e per window still recovers a step size in a few windows. The finite-width
    sampler used to clip at -1.5; at its default target 0.6, 2 (a - a*) >= -1.2, so the two rules
    differ only for window acceptances below 0.1 (h shrinks by e^-1 instead of e^-1.2 there).

    >>> float(adapt_step_size(0.1, 0.6, 0.6)), round(float(adapt_step_size(1.0, 0.0, 0.9)), 4)
    (0.1, 0.3679)
    """
    return step_size * np.exp(np.clip(2.0 * (np.asarray(acceptance) - target), -1.0, 1.0))
