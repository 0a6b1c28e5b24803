"""The localized tempered posterior and the LLC estimator.

``log p(w) = -n beta L_n(w) - gamma/2 |w - w*|^2`` with ``beta = beta0 / log n``, where ``L_n`` is
the average negative log-likelihood per sample under the target's noise model (constants
dropped; categorical for classification: the softmax cross-entropy of the model's logits).
``llc = n beta (E_w[L_n(w)] - L_n(w*))``. A weight-restricted posterior samples a part of ``w``
only, the rest held at ``w*``.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from lambda_hat.spec import DataSpec
from lambda_hat.types import Array, Estimate, Problem


def nll(outputs: Array, y: Array, data: DataSpec) -> Array:
    """Negative log-likelihood per sample of observations ``y`` given the model's ``outputs``
    (summed over outputs, constants dropped; ``y`` integer labels for ``categorical``)."""
    if data.noise_model == "categorical":
        return -jnp.take_along_axis(jax.nn.log_softmax(outputs, axis=-1), y[:, None], axis=-1)[:, 0]
    scaled = (y - outputs) / data.noise_scale
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
        return jnp.mean(nll(apply_flat(w, xs), ys, data))

    return loss


def temperature(n: int, beta0: float) -> float:
    """beta = beta0 / log n."""
    return beta0 / math.log(n)


#: the data settings the likelihood reads (see :func:`nll`)
LIKELIHOOD = ("noise_model", "noise_scale", "noise_df")


def minibatch(batch_size: int, n: int) -> int:
    """The rows a ``batch_size`` setting draws per step on ``n`` rows: 0 means the full batch, and
    so does any size of at least n (training and every sampler read the setting this way)."""
    return batch_size if 0 < batch_size < n else 0


def nbeta(n: int, beta0: float) -> float:
    """n beta, the estimator's scale: ``llc = n beta (E[L_n] - L_n(w*))``."""
    return n * temperature(n, beta0)


class Posterior(NamedTuple):
    """What a sampler sees (``problem``) and the loss the estimator averages over its draws."""

    problem: Problem
    loss: Callable[[Array], Array]


def restricted(loss: Callable, w_star: Array, indices) -> tuple[Callable, Array]:
    """The loss of the parameters at ``indices`` alone, the others held at ``w_star``, and the
    restricted start ``w_star[indices]`` (devinterp's weight restriction)."""

    def loss_of_part(part, index=None):
        return loss(w_star.at[indices].set(part), index)

    return loss_of_part, w_star[indices]


def build(loss: Callable, w_star: Array, n: int, beta0: float, gamma: float, batch_size: int,
          indices=None) -> Posterior:
    """The posterior around ``w_star`` with its full-batch density and minibatch gradient estimator.

    ``batch_size``: see :func:`minibatch`. ``indices``: sample only these coordinates of ``w``
    (see :func:`restricted`); the posterior's positions and loss are then those of the part.
    """
    if indices is not None:
        loss, w_star = restricted(loss, w_star, indices)
    scale = nbeta(n, beta0)
    size = minibatch(batch_size, n)

    def localization(w):
        return 0.5 * gamma * jnp.sum((w - w_star) ** 2)

    def logdensity(w):
        return -scale * loss(w) - localization(w)

    def grad_estimator(w, key):
        index = jax.random.randint(key, (size,), 0, n) if size else None
        value, loss_grad = jax.value_and_grad(loss)(w, index)
        logdensity_value = -scale * value - localization(w)
        grad = -scale * loss_grad - gamma * (w - w_star)
        return Estimate(value, logdensity_value, grad, loss_grad)

    def loss_at(w, logdensity_value):
        return -(logdensity_value + localization(w)) / scale

    problem = Problem(logdensity=logdensity, grad_estimator=grad_estimator, position=w_star, loss_at=loss_at,
                      n_beta=scale, gamma=gamma)
    return Posterior(problem, loss)


def llc(losses: Array, loss0, n_beta: float) -> Array:
    """Per-draw LLC values ``n beta (L - L0)``, shaped like ``losses`` ([chain, draw])."""
    return n_beta * (losses - loss0)
