r"""Kernel predictors of the infinite-width baselines, and the metrics every method is scored by.

NNGP (Bayesian posterior of the infinitely wide network in standard scaling, physics.md
section 5): with K the NNGP kernel and sigma^2 the likelihood variance,

    mean(x*) = K(x*, X) (K(X, X) + sigma^2 I)^{-1} y,
    var(x*)  = K(x*, x*) - K(x*, X) (K(X, X) + sigma^2 I)^{-1} K(X, x*)     (latent f, no noise).

NTK (infinite-time gradient flow of the infinitely wide network on 0.5 sum (f - y)^2, with the
layer-wise learning rates of the NTK parameterisation, Jacot et al. 2018; Lee et al. 2019): the
network output converges to

    f_inf(x*) = f_0(x*) + Theta(x*, X) (Theta(X, X) + ridge I)^{-1} (y - f_0(X)),

with f_0 the random initial function (a draw of the NNGP). Averaged over initialisations
(E f_0 = 0) this is kernel regression with Theta, `ntk_predictor`'s mean; its variance over
initialisations (latent, Lee et al. 2019 eq. 16) is returned with `return_var=True`:

    var = K(x*, x*) - 2 Theta(x*, X) M^{-1} K(X, x*)
          + Theta(x*, X) M^{-1} K(X, X) M^{-1} Theta(X, x*),
    M = Theta(X, X) + ridge I.

ridge = 0 is pure gradient flow (interpolation); ridge > 0 is the same flow with weight decay in
function space (early-stopping-like regularisation), and keeps a nearly singular Theta usable.

Metrics (the conventions of `Solution.loss`): loss = 0.5 sum_mu omega_mu |f(x_mu) - y_mu|^2 with
the split's averaging weights omega (1/n for a finite sample); accuracy = fraction (weighted) of
points whose arg-max output equals the arg-max target; kernel alignment (Cristianini et al. 2002)
A(K1, K2) = <K1, K2>_F / (|K1|_F |K2|_F), 1 for proportional kernels.

Example:
    >>> import meanfield as mf, numpy as np
    >>> task = mf.cubic_teacher(2, 32, eps=0.3, n_test=50, seed=0)
    >>> gp = mf.nngp_predictor(task, mf.Erf(), noise=0.01)
    >>> nt = mf.ntk_predictor(task, mf.Erf(), ridge=1e-6)
    >>> gp.test_mean.shape, gp.test_var.shape, bool(nt.train_loss < 1e-6)
    ((50, 1), (50,), True)
"""

from __future__ import annotations


import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_factor, cho_solve

from .._model.activations import Activation
from .._data.data import Data, Task
from .._misc import check_positive
from .._observables.kernels import gp_posterior, nngp_kernel, ntk_kernel

__all__ = [
    "KernelPrediction",
    "nngp_predictor",
    "ntk_predictor",
    "regression_loss",
    "classification_accuracy",
    "kernel_alignment",
]


def _prediction_for(name: str, f, data: Data):
    f = jnp.asarray(f, dtype=jnp.float64)
    if f.ndim == 1:
        f = f[:, None]
    if f.shape != data.y.shape:
        raise ValueError(f"{name} must have the shape of the targets {data.y.shape} "
                         f"(or ({data.n},) for one output), got shape {f.shape}")
    return f


def regression_loss(f, data: Data) -> float:
    """0.5 sum_mu omega_mu |f(x_mu) - y_mu|^2 (the convention of `Solution.loss`).

    Example:
        >>> from meanfield import Data
        >>> regression_loss([1.0, 0.0], Data([[0.0], [1.0]], [0.0, 0.0]))
        0.25
    """
    f = _prediction_for("f", f, data)
    return float(0.5 * jnp.sum(data.weights[:, None] * (f - data.y) ** 2))


def classification_accuracy(f, data: Data) -> float:
    """Weighted fraction of points with argmax_c f_c(x) = argmax_c y_c (C >= 2), or, for one
    output, sign f = sign y.

    Example:
        >>> from meanfield import Data
        >>> classification_accuracy([0.5, -2.0], Data([[0.0], [1.0]], [1.0, 1.0]))
        0.5
    """
    f = np.asarray(_prediction_for("f", f, data))
    y = np.asarray(data.y)
    if y.shape[1] == 1:
        hit = np.sign(f[:, 0]) == np.sign(y[:, 0])
    else:
        hit = f.argmax(1) == y.argmax(1)
    return float(np.sum(np.asarray(data.weights) * hit))


def kernel_alignment(k1, k2) -> float:
    """Centred-free kernel alignment <K1, K2>_F / (|K1|_F |K2|_F) in [-1, 1].

    Example:
        >>> round(kernel_alignment(np.eye(3), 2 * np.eye(3)), 12)
        1.0
    """
    k1 = np.asarray(k1, dtype=np.float64)
    k2 = np.asarray(k2, dtype=np.float64)
    if k1.shape != k2.shape or k1.ndim != 2:
        raise ValueError(f"kernels must be 2-D arrays of the same shape, got {k1.shape} and "
                         f"{k2.shape}")
    den = np.linalg.norm(k1) * np.linalg.norm(k2)
    if den == 0:
        raise ValueError("kernel alignment is undefined for an all-zero kernel")
    return float(np.sum(k1 * k2) / den)


class KernelPrediction(eqx.Module):
    """A kernel method's predictions on a task's train and test inputs.

    Attributes:
        method: "nngp" or "ntk".
        task: the task predicted.
        train_mean, test_mean: posterior (or initialisation-averaged) means, shape (n, C).
        test_var: latent variance on the test inputs, shape (n_test,).
        kernel: the kernel on the training inputs (n, n).
    """

    method: str = eqx.field(static=True)
    task: Task
    train_mean: jnp.ndarray
    test_mean: jnp.ndarray
    test_var: jnp.ndarray
    kernel: jnp.ndarray

    @property
    def train_loss(self) -> float:
        return regression_loss(self.train_mean, self.task.train)

    @property
    def test_loss(self) -> float:
        return regression_loss(self.test_mean, self.task.test)

    @property
    def test_accuracy(self) -> float:
        return classification_accuracy(self.test_mean, self.task.test)

    def summary(self) -> dict:
        out = {"method": self.method, "train_loss": self.train_loss, "test_loss": self.test_loss,
               "mean_test_variance": float(jnp.mean(self.test_var))}
        if self.task.classification:
            out["train_accuracy"] = classification_accuracy(self.train_mean, self.task.train)
            out["test_accuracy"] = self.test_accuracy
        return out


def _check_task(task, activation):
    if not isinstance(task, Task):
        raise ValueError(f"task must be a meanfield.Task, got {type(task).__name__}")
    if not isinstance(activation, Activation):
        raise ValueError(f"activation must be a meanfield Activation (e.g. mf.Erf()), got "
                         f"{activation!r}")


def _kernel_diagonal(kernel, activation, x, kw, block=512):
    """diag kernel(x, x), computed in row blocks (the full matrix is not needed)."""
    return jnp.concatenate([jnp.diagonal(kernel(activation, x[i:i + block], **kw))
                            for i in range(0, x.shape[0], block)])


def nngp_predictor(task: Task, activation: Activation, *, noise: float, sigma_w2: float = 1.0,
                   sigma_a2: float = 1.0) -> KernelPrediction:
    """GP posterior mean and latent variance with the NNGP kernel (module docstring)."""
    _check_task(task, activation)
    noise = check_positive("noise", noise)
    kw = {"sigma_w2": sigma_w2, "sigma_a2": sigma_a2}
    xtr, xte = task.train.x, task.test.x
    k = nngp_kernel(activation, xtr, **kw)
    kst = nngp_kernel(activation, xte, xtr, **kw)
    diag = _kernel_diagonal(nngp_kernel, activation, xte, kw)
    train_mean = gp_posterior(k, k, task.train.y, noise)
    test_mean, var = gp_posterior(k, kst, task.train.y, noise, kernel_test_diag=diag)
    return KernelPrediction("nngp", task, train_mean, test_mean, var, k)


def ntk_predictor(task: Task, activation: Activation, *, ridge: float = 0.0,
                  sigma_w2: float = 1.0, sigma_a2: float = 1.0,
                  return_var: bool = True) -> KernelPrediction:
    """Infinite-time gradient-flow predictor of the infinitely wide network (module docstring).

    Args:
        task: data.
        activation: phi.
        ridge: >= 0; 0 is plain gradient flow to interpolation. A Theta that is numerically
            singular with ridge = 0 raises ValueError (use a small ridge, e.g. 1e-8 * trace/n).
        sigma_w2, sigma_a2: the parameterisation's variance scales (as for `ntk_kernel`).
        return_var: compute the variance over initialisations (needs the NNGP kernel too).
    """
    _check_task(task, activation)
    ridge = check_positive("ridge", ridge, allow_zero=True)
    kw = {"sigma_w2": sigma_w2, "sigma_a2": sigma_a2}
    xtr, xte = task.train.x, task.test.x
    theta = ntk_kernel(activation, xtr, **kw)
    theta_st = ntk_kernel(activation, xte, xtr, **kw)
    n = theta.shape[0]
    m = theta + ridge * jnp.eye(n, dtype=jnp.float64)
    factor = cho_factor(m, lower=True)
    if not bool(jnp.all(jnp.isfinite(factor[0]))):
        raise ValueError(f"the NTK Gram matrix plus ridge={ridge!r} is not positive definite "
                         "(Cholesky failed); use a ridge > 0, e.g. 1e-8 times its mean diagonal")
    coef = cho_solve(factor, task.train.y)
    train_mean = theta @ coef
    test_mean = theta_st @ coef
    if return_var:
        k = nngp_kernel(activation, xtr, **kw)
        kst = nngp_kernel(activation, xte, xtr, **kw)
        kss = _kernel_diagonal(nngp_kernel, activation, xte, kw)
        b = cho_solve(factor, theta_st.T)  # M^{-1} Theta(X, X*)
        var = kss - 2.0 * jnp.sum(b * kst.T, axis=0) + jnp.sum(b * (k @ b), axis=0)
    else:
        var = jnp.full((xte.shape[0],), jnp.nan, dtype=jnp.float64)
    return KernelPrediction("ntk", task, train_mean, test_mean, var, theta)
