"""The localized tempered posterior and the LLC estimator.

``log p(w) = -n beta L_n(w) - gamma/2 |w - w*|^2`` with ``beta = beta0 / log n``, where ``L_n`` is
the average negative log-likelihood per sample under the target's noise model (constants
dropped). ``llc = n beta (E_w[L_n(w)] - L_n(w*))``.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from lambda_hat.spec import DataSpec
from lambda_hat.types import Array, Estimate, Problem


def nll(residual: Array, data: DataSpec) -> Array:
    """Negative log-likelihood per sample (summed over outputs, constants dropped)."""
    scaled = residual / data.noise_scale
    if data.noise_model == "gauss":
        per_output = 0.5 * scaled ** 2
    elif data.noise_model == "student_t":
        per_output = 0.5 * (data.noise_df + 1) * jnp.log1p(scaled ** 2 / data.noise_df)
    else:  # laplace
        per_output = jnp.abs(scaled)
    return jnp.sum(per_output, axis=-1)


def make_loss(apply_flat: Callable, x: Array, y: Array, data: DataSpec) -> Callable:
    """``loss(w, index=None)``: mean NLL over all samples, or over the rows ``index``."""

    def loss(w, index=None):
        xs, ys = (x, y) if index is None else (x[index], y[index])
        return jnp.mean(nll(ys - apply_flat(w, xs), data))

    return loss


def temperature(n: int, beta0: float) -> float:
    """beta = beta0 / log n."""
    return beta0 / math.log(n)


class Posterior(NamedTuple):
    problem: Problem
    loss: Callable[[Array], Array]
    n: int
    beta: float
    gamma: float
    loss0: Array

    @property
    def nbeta(self) -> float:
        return self.n * self.beta


def build(loss: Callable, w_star: Array, n: int, beta0: float, gamma: float, batch_size: int) -> Posterior:
    """The posterior around ``w_star`` with its full-batch density and minibatch gradient estimator.

    ``batch_size`` of 0 (or at least n) gives full-batch estimates.
    """
    beta = temperature(n, beta0)
    nbeta = n * beta
    full = batch_size <= 0 or batch_size >= n

    def localization(w):
        return 0.5 * gamma * jnp.sum((w - w_star) ** 2)

    def logdensity(w):
        return -nbeta * loss(w) - localization(w)

    def grad_estimator(w, key):
        index = None if full else jax.random.randint(key, (batch_size,), 0, n)
        value, loss_grad = jax.value_and_grad(loss)(w, index)
        logdensity_value = -nbeta * value - localization(w)
        grad = -nbeta * loss_grad - gamma * (w - w_star)
        return Estimate(value, logdensity_value, grad, loss_grad)

    def loss_at(w, logdensity_value):
        return -(logdensity_value + localization(w)) / nbeta

    problem = Problem(logdensity=logdensity, grad_estimator=grad_estimator, position=w_star, loss_at=loss_at)
    return Posterior(problem, loss, n, beta, gamma, loss(w_star))


def llc(losses: Array, loss0, nbeta: float) -> Array:
    """Per-draw LLC values ``n beta (L - L0)``, shaped like ``losses`` ([chain, draw])."""
    return nbeta * (losses - loss0)
