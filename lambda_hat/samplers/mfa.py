"""VI family ``mfa``: a mixture of factor analyzers around the start point.

``q(w) = sum_m pi_m N(w0 + mu_m, diag(s_m^2) + A_m A_m^T)`` with ``M`` components of rank ``r``.
Its ELBO estimate is stratified over the components (every component draws ``samples`` points
each step), so the mixture weights get exact gradients.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from lambda_hat.types import Array


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


class MixtureFamily(NamedTuple):
    """The mixture family with ``components`` components of rank ``rank``; see ``vi.Family``."""

    components: int
    rank: int
    samples: int

    @property
    def evals_per_step(self) -> int:
        return self.components * self.samples

    def init(self, key, d: int, dtype) -> Mixture:
        mean_key, factor_key = jax.random.split(key)
        return Mixture(logits=jnp.zeros(self.components, dtype),
                       mean=0.1 * jax.random.normal(mean_key, (self.components, d), dtype),
                       log_scale=jnp.zeros((self.components, d), dtype),
                       factors=0.1 * jax.random.normal(factor_key, (self.components, d, self.rank), dtype))

    def elbo(self, raw: Mixture, s0, key, target) -> Array:
        mixture = raw.scaled(s0)
        keys = jax.random.split(key, (self.components, self.samples, 2))
        weights = jax.nn.softmax(mixture.logits)

        def per_component(m, comp_keys):
            def one(pair):
                offset = draw_component(mixture, m, pair[0])
                return target(offset, pair[1]) - log_q(mixture, offset)
            return jnp.mean(jax.vmap(one)(comp_keys))

        per = jax.vmap(per_component, in_axes=(0, 0))(jnp.arange(self.components), keys)
        return jnp.sum(weights * per)

    def draw(self, raw: Mixture, s0, key) -> tuple[Array, Array]:
        mixture = raw.scaled(s0)
        pick_key, draw_key = jax.random.split(key)
        offset = draw_component(mixture, jax.random.categorical(pick_key, mixture.logits), draw_key)
        return offset, log_q(mixture, offset)
