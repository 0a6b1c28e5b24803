"""The largest curvature of a log-density, for step sizes that scale with the problem."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def max_curvature(logdensity, position, scale=None, iterations: int = 20):
    """Largest eigenvalue of ``-S H S`` at ``position`` (``H`` the Hessian, ``S = diag(scale)``).

    Power iteration on Hessian-vector products: ``iterations + 1`` HVPs, no Hessian is formed.
    """
    grad = jax.grad(logdensity)
    scale = jnp.ones_like(position) if scale is None else scale.astype(position.dtype)

    def product(vector):
        return -scale * jax.jvp(grad, (position,), (scale * vector,))[1]

    def power(_, vector):
        result = product(vector)
        return result / (jnp.linalg.norm(result) + 1e-30)

    vector = jax.random.normal(jax.random.key(0), position.shape, position.dtype)
    vector = jax.lax.fori_loop(0, iterations, power, vector / jnp.linalg.norm(vector))
    return jnp.maximum(jnp.vdot(vector, product(vector)), 1e-12)
