"""Variational inference with a mixture of factor analyzers around the start point.

``q(w) = sum_m pi_m N(w0 + mu_m, diag(s_m^2) + A_m A_m^T)`` with ``M`` components of rank ``r``,
fitted by maximizing the ELBO ``E_q[log p] + H[q]`` (a stratified, reparameterized estimate
over the components, entropy included) with optax Adam. Draws are iid from the fitted ``q``;
each chain is an independent fit. Each draw carries its importance log-weight ``log p - log q``
(``info["log_weight"]``), from which the analysis checks q against the posterior (PSIS k-hat).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from lambda_hat.samplers.curvature import max_curvature
from lambda_hat.types import Algorithm, Array, Problem, RunSettings, field_


@dataclass(frozen=True)
class Settings(RunSettings):
    dtype: str = field_("float32", choices=("float32", "float64"), doc="precision of the draws")
    warmup: int = field_(0, minimum=0, doc="unused by vi (its fit runs `steps`)")
    M: int = field_(8, minimum=1, doc="mixture components")
    r: int = field_(2, minimum=0, doc="rank of each component's factor loading")
    steps: int = field_(2000, minimum=1, doc="optimization steps of the ELBO")
    lr: float = field_(0.01, minimum=0.0, exclusive=True, doc="Adam learning rate", batch=True)
    samples: int = field_(1, minimum=1, doc="reparameterized draws per component per step")
    batch_size: int = field_(0, minimum=0, doc="minibatch size of the ELBO's log-density (0 = full batch)")


class Mixture(NamedTuple):
    """Parameters in units of a reference scale ``s0`` (so Adam's steps are scale-free)."""

    logits: Array       # [M]
    mean: Array         # [M, d] offsets from the start point, / s0
    log_scale: Array    # [M, d] log(scale / s0)
    factors: Array      # [M, d, r] / s0

    def scaled(self, s0) -> "Mixture":
        """The same mixture in the units of the parameters."""
        return Mixture(self.logits, s0 * self.mean, self.log_scale + jnp.log(s0), s0 * self.factors)


def log_component(w: Array, mean: Array, log_scale: Array, factors: Array) -> Array:
    """log N(w; mean, diag(exp(2 log_scale)) + F F^T), by Woodbury in O(d r^2)."""
    d, r = factors.shape
    inv_diag = jnp.exp(-2 * log_scale)
    centred = w - mean
    scaled = factors * inv_diag[:, None]
    capacitance = jnp.eye(r, dtype=w.dtype) + factors.T @ scaled
    chol = jnp.linalg.cholesky(capacitance)
    projected = jax.scipy.linalg.solve_triangular(chol, scaled.T @ centred, lower=True)
    quad = jnp.sum(centred ** 2 * inv_diag) - jnp.sum(projected ** 2)
    logdet = 2 * jnp.sum(log_scale) + 2 * jnp.sum(jnp.log(jnp.diag(chol)))
    return -0.5 * (quad + logdet + d * jnp.log(2 * jnp.pi))


def log_q(mixture: Mixture, w: Array) -> Array:
    """log q(w) of the whole mixture (w relative to the start point)."""
    logs = jax.vmap(log_component, in_axes=(None, 0, 0, 0))(w, mixture.mean, mixture.log_scale, mixture.factors)
    return jax.nn.logsumexp(logs + jax.nn.log_softmax(mixture.logits))


def draw_component(mixture: Mixture, m, key) -> Array:
    """A reparameterized draw (offset from the start point) from component ``m``."""
    d, r = mixture.factors.shape[1:]
    diag_key, factor_key = jax.random.split(key)
    dtype = mixture.mean.dtype
    return (mixture.mean[m] + jnp.exp(mixture.log_scale[m]) * jax.random.normal(diag_key, (d,), dtype)
            + mixture.factors[m] @ jax.random.normal(factor_key, (r,), dtype))


def build(settings: Settings, problem: Problem) -> Algorithm:
    """Mixture-of-factor-analyzers VI for one chain (one independent fit); the runner vmaps it."""
    start = problem.position
    optimizer = optax.adam(optax.cosine_decay_schedule(settings.lr, settings.steps, alpha=0.1))

    def surrogate(raw: Mixture, s0, key):
        """ELBO estimate whose gradient is the reparameterized ELBO gradient."""
        mixture = raw.scaled(s0)
        keys = jax.random.split(key, (settings.M, settings.samples, 2))
        weights = jax.nn.softmax(mixture.logits)

        def per_component(m, comp_keys):
            def one(pair):
                offset = draw_component(mixture, m, pair[0])
                fixed = jax.lax.stop_gradient(offset)
                estimate = jax.lax.stop_gradient(problem.grad_estimator(start + fixed, pair[1]))
                linear = estimate.logdensity + jnp.vdot(estimate.grad, offset - fixed)
                return linear - log_q(mixture, offset)
            return jnp.mean(jax.vmap(one)(comp_keys))

        per = jax.vmap(per_component, in_axes=(0, 0))(jnp.arange(settings.M), keys)
        return jnp.sum(weights * per)

    def warmup(key, position):
        init_key, fit_key = jax.random.split(key)
        d = position.size
        s0 = 1.0 / jnp.sqrt(max_curvature(problem.logdensity, start))   # the stiffest direction's scale
        mean_key, factor_key = jax.random.split(init_key)
        mixture = Mixture(
            logits=jnp.zeros(settings.M, position.dtype),
            mean=0.1 * jax.random.normal(mean_key, (settings.M, d), position.dtype),
            log_scale=jnp.zeros((settings.M, d), position.dtype),
            factors=0.1 * jax.random.normal(factor_key, (settings.M, d, settings.r), position.dtype))

        def fit(carry, step_key):
            mixture, opt_state = carry
            elbo, grads = jax.value_and_grad(surrogate)(mixture, s0, step_key)
            updates, opt_state = optimizer.update(jax.tree.map(jnp.negative, grads), opt_state)
            return (optax.apply_updates(mixture, updates), opt_state), elbo

        (mixture, _), elbo = jax.lax.scan(fit, (mixture, optimizer.init(mixture)),
                                          jax.random.split(fit_key, settings.steps))
        evals = settings.steps * settings.M * settings.samples
        return position, mixture.scaled(s0), {"grad_evals": evals, "elbo": elbo}

    def step(key, state, mixture: Mixture):
        pick_key, draw_key = jax.random.split(key)
        offset = draw_component(mixture, jax.random.categorical(pick_key, mixture.logits), draw_key)
        position = start + offset
        log_weight = problem.logdensity(position) - log_q(mixture, offset)
        return position, {"log_weight": log_weight, "grad_evals": jnp.int32(0)}

    return Algorithm(warmup=warmup, step=step, position=lambda state: state)
