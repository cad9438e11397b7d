r"""Training finite two-layer networks with optax: gradient descent, SGD, Adam and AdamW.

Two parameterisations of the same function class (C outputs, N hidden neurons):

* ``"meanfield"`` (physics.md section 3):

      f(x) = (1/N) sum_i a_i phi(w_i . x),     a_i ~ N(0, init_a2 I_C),  w_i ~ N(0, init_w2/d I_d),

  and the optimiser's learning rate is multiplied by N (so that each neuron moves at order one
  and the N -> infinity limit is the mean-field gradient flow; with `optimizer="gd"` this is
  exactly `meanfield.train_network`).
* ``"ntk"`` (Jacot et al. 2018; the standard scaling of the Bayesian convention):

      f(x) = sqrt(sigma_a2/N) sum_i ahat_i phi(sqrt(sigma_w2/d) zhat_i . x),   ahat, zhat ~ N(0, 1),

  trained in (ahat, zhat). As N -> infinity gradient flow is linear in function space with the
  kernel `ntk_kernel(...)`, and the trained network converges to
  f_0 + Theta(x, X) Theta^{-1} (y - f_0(X)) (see `meanfield.ntk_predictor`).

Loss: L = 0.5 sum_mu omega_mu |f(x_mu) - y_mu|^2 + (weight_decay/2) |theta|^2 with the training
split's averaging weights omega (1/n for a finite sample); SGD evaluates the data term on a random
mini-batch of `batch_size` points (weights renormalised) at every step. With `optimizer="adamw"`
the weight decay is *decoupled* instead (Loshchilov & Hutter 2019; `optax.adamw`): the loss is the
data term alone and every step is theta <- theta - lr (adam_direction + weight_decay theta).

Recorded at step 0, every `record_every` steps and at the end (`TrainedNetwork.steps`): the
train and test losses and, for classification tasks, the train and test accuracies (arg-max
output = arg-max target, weighted as `classification_accuracy`), so that a test accuracy that
jumps long after the training loss has settled (grokking) shows in the record.

Example:
    >>> import meanfield as mf
    >>> task = mf.cubic_teacher(1, 16, eps=0.0, n_test=10, seed=0)
    >>> run = mf.train(task, mf.Erf(), width=64, parameterisation="ntk", optimizer="adam",
    ...                learning_rate=0.01, n_steps=500, key=0)
    >>> bool(run.train_losses[-1] < 0.01)
    True
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._model.activations import Activation
from .._data.data import Task
from .._misc import MAX_COUNT, ComputationError, check_integer, check_positive

__all__ = ["TrainedNetwork", "train", "PARAMETERISATIONS", "OPTIMIZERS"]

PARAMETERISATIONS = ("meanfield", "ntk")
OPTIMIZERS = ("gd", "sgd", "adam", "adamw")


class TrainedNetwork(eqx.Module):
    """A trained network and its loss traces.

    Attributes:
        task, activation, parameterisation, sigma_w2, sigma_a2: what was trained.
        params: {"a": (N, C), "w": (N, d)} in the parameterisation's own coordinates
            (meanfield: raw a, w; ntk: whitened ahat, zhat).
        initial_params: the parameters at step 0.
        train_losses, test_losses: data-term losses on the full train / test split at step 0,
            after every `record_every` steps, and at the end.
        steps: the optimisation step of each record.
        train_accuracies, test_accuracies: classification accuracies at the same records
            (None for regression tasks).
    """

    task: Task
    activation: Activation
    parameterisation: str = eqx.field(static=True)
    sigma_w2: float
    sigma_a2: float
    params: dict
    initial_params: dict
    train_losses: np.ndarray
    test_losses: np.ndarray
    steps: np.ndarray | None = None
    train_accuracies: np.ndarray | None = None
    test_accuracies: np.ndarray | None = None

    @property
    def width(self) -> int:
        return int(self.params["a"].shape[0])

    def predict(self, x, params=None):
        """f(x) with the trained (or given) parameters, shape (n, C)."""
        params = self.params if params is None else params
        return _forward(self.parameterisation, self.activation, self.sigma_w2, self.sigma_a2,
                        params, jnp.asarray(x, dtype=jnp.float64))

    def initial_predict(self, x):
        return self.predict(x, self.initial_params)


def _forward(parameterisation, activation, sigma_w2, sigma_a2, params, x):
    a, w = params["a"], params["w"]
    n, d = a.shape[0], x.shape[1]
    if parameterisation == "meanfield":
        return activation(x @ w.T) @ a / n
    return activation(x @ (jnp.sqrt(sigma_w2 / d) * w).T) @ (jnp.sqrt(sigma_a2 / n) * a)


def train(task: Task, activation: Activation, *, width: int, parameterisation: str = "meanfield",
          optimizer: str = "gd", learning_rate: float = 0.1, n_steps: int = 1000,
          batch_size: int | None = None, weight_decay: float = 0.0, sigma_w2: float = 1.0,
          sigma_a2: float = 1.0, init_w2: float = 1.0, init_a2: float = 1.0,
          record_every: int = 10, key=0, init: dict | None = None) -> TrainedNetwork:
    """Train a width-N two-layer network on `task` with an optax optimiser (module docstring).

    Args:
        task, activation: data and phi.
        width: N.
        parameterisation: "meanfield" or "ntk".
        optimizer: "gd" (full-batch optax.sgd), "sgd" (mini-batches of `batch_size`), "adam",
            or "adamw" (Adam with decoupled weight decay, optax.adamw).
        learning_rate: the optimiser's step (times N in the mean-field parameterisation).
        n_steps: optimisation steps.
        batch_size: mini-batch size for "sgd" (required there, ignored otherwise).
        weight_decay: lambda >= 0 on all parameters (in the parameterisation's coordinates): an
            L2 term in the loss, or for "adamw" the decoupled decay (module docstring).
        sigma_w2, sigma_a2: variance scales of the ntk parameterisation.
        init_w2, init_a2: initial variances of the mean-field parameterisation.
        record_every: steps between recorded losses.
        key: integer seed or PRNG key.
        init: optional starting parameters {"a": (N, C), "w": (N, d)} in the
            parameterisation's coordinates, instead of the random initialisation.
    """
    if not isinstance(task, Task):
        raise ValueError(f"task must be a meanfield.Task, got {type(task).__name__}")
    if parameterisation not in PARAMETERISATIONS:
        raise ValueError(f"parameterisation must be one of {PARAMETERISATIONS}, got "
                         f"{parameterisation!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    width = check_integer("width", width, maximum=MAX_COUNT)
    n_steps = check_integer("n_steps", n_steps, maximum=MAX_COUNT)
    record_every = check_integer("record_every", record_every)
    learning_rate = check_positive("learning_rate", learning_rate)
    weight_decay = check_positive("weight_decay", weight_decay, allow_zero=True)
    for name, v in (("sigma_w2", sigma_w2), ("sigma_a2", sigma_a2), ("init_w2", init_w2),
                    ("init_a2", init_a2)):
        check_positive(name, v)
    n = task.train.n
    if optimizer == "sgd":
        if batch_size is None:
            raise ValueError("optimizer='sgd' needs batch_size (an integer in [1, n_train])")
        batch_size = check_integer("batch_size", batch_size)
        if batch_size > n:
            raise ValueError(f"batch_size must be <= n_train = {n}, got {batch_size}")
    else:
        batch_size = n
    key = jax.random.PRNGKey(key) if isinstance(key, (int, np.integer)) else key
    k_a, k_w, k_run = jax.random.split(key, 3)
    d, c = task.train.dim, task.train.n_outputs
    if parameterisation == "meanfield":
        params = {"a": math.sqrt(init_a2) * jax.random.normal(k_a, (width, c), dtype=jnp.float64),
                  "w": math.sqrt(init_w2 / d) * jax.random.normal(k_w, (width, d),
                                                                   dtype=jnp.float64)}
        lr = learning_rate * width
    else:
        params = {"a": jax.random.normal(k_a, (width, c), dtype=jnp.float64),
                  "w": jax.random.normal(k_w, (width, d), dtype=jnp.float64)}
        lr = learning_rate
    if init is not None:
        shapes = {"a": (width, c), "w": (width, d)}
        if not isinstance(init, dict) or set(init) != {"a", "w"} or any(
                np.shape(init[k]) != shapes[k] for k in shapes):
            raise ValueError(f"init must be a dict with 'a' of shape {shapes['a']} and 'w' of "
                             f"shape {shapes['w']}")
        params = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in init.items()}
    if optimizer == "adamw":
        opt = optax.adamw(lr, weight_decay=weight_decay)
        loss_decay = 0.0  # decoupled: not part of the loss
    else:
        opt = optax.adam(lr) if optimizer == "adam" else optax.sgd(lr)
        loss_decay = weight_decay
    n_blocks, rest = divmod(n_steps, record_every)
    with jax.numpy_dtype_promotion("standard"):  # optax mixes int32 step counts with floats
        final, tr, te, acc_tr, acc_te = _optimise(
            parameterisation, activation, task, params, opt, k_run, jnp.asarray(sigma_w2),
            jnp.asarray(sigma_a2), jnp.asarray(loss_decay), batch_size, n_blocks,
            record_every, rest)
    tr, te = np.asarray(tr), np.asarray(te)
    if not (np.all(np.isfinite(tr)) and np.all(np.isfinite(te))):
        raise ComputationError(f"training diverged (non-finite loss) with learning_rate="
                               f"{learning_rate!r}; lower it")
    steps = np.concatenate([np.arange(n_blocks + 1) * record_every, [n_steps]])
    if task.classification:
        acc_tr, acc_te = np.asarray(acc_tr), np.asarray(acc_te)
    else:
        acc_tr = acc_te = None
    return TrainedNetwork(task, activation, parameterisation, float(sigma_w2), float(sigma_a2),
                          final, params, tr, te, steps, acc_tr, acc_te)


@eqx.filter_jit
def _optimise(parameterisation, activation, task, params, opt, key, sigma_w2, sigma_a2,
              weight_decay, batch_size, n_blocks, record_every, rest):
    xtr, ytr, omega = task.train.x, task.train.y, task.train.weights
    n = xtr.shape[0]

    def data_loss(p, x, y, wts):
        f = _forward(parameterisation, activation, sigma_w2, sigma_a2, p, x)
        return 0.5 * jnp.sum(wts[:, None] * (f - y) ** 2)

    def objective(p, k):
        if batch_size < n:
            idx = jax.random.permutation(k, n)[:batch_size]
            wts = omega[idx] / jnp.sum(omega[idx])
            dl = data_loss(p, xtr[idx], ytr[idx], wts)
        else:
            dl = data_loss(p, xtr, ytr, omega)
        reg = 0.5 * weight_decay * sum(jnp.sum(v**2) for v in jax.tree_util.tree_leaves(p))
        return dl + reg

    grad = jax.grad(objective)

    def step(carry, k):
        p, s = carry
        updates, s = opt.update(grad(p, k), s, p)
        return (optax.apply_updates(p, updates), s), None

    def accuracy(p, data):
        f = _forward(parameterisation, activation, sigma_w2, sigma_a2, p, data.x)
        if data.y.shape[1] == 1:
            hit = jnp.sign(f[:, 0]) == jnp.sign(data.y[:, 0])
        else:
            hit = jnp.argmax(f, axis=1) == jnp.argmax(data.y, axis=1)
        return jnp.sum(data.weights * hit)

    def losses(p):
        te = task.test
        return (data_loss(p, xtr, ytr, omega), data_loss(p, te.x, te.y, te.weights),
                accuracy(p, task.train), accuracy(p, te))

    def block(carry, k):
        carry, _ = jax.lax.scan(step, carry, jax.random.split(k, record_every))
        return carry, losses(carry[0])

    carry = (params, opt.init(params))
    l0 = losses(params)
    carry, rec = jax.lax.scan(block, carry, jax.random.split(key, n_blocks))
    if rest:
        carry, _ = jax.lax.scan(step, carry, jax.random.split(jax.random.fold_in(key, 1), rest))
    lf = losses(carry[0])
    out = [jnp.concatenate([a[None], r, b[None]]) for a, r, b in zip(l0, rec, lf)]
    return (carry[0], *out)
