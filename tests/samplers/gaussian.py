"""A Gaussian posterior as a sampler sees it, and one chain of a sampler on it: for the unit tests
of each sampler file (the conformance suite runs them on real targets)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat.types import CHAINS, Estimate, Problem


def gaussian_problem(scales, dtype=jnp.float32, noise: float = 0.0) -> Problem:
    """A Gaussian log-density with per-coordinate ``scales`` (loss = -log p, so n beta = 1), its
    "minibatch" gradients exact, or with independent noise of standard deviation ``noise`` per
    coordinate."""
    scales = jnp.asarray(scales, dtype)

    def logdensity(w):
        return -0.5 * jnp.sum((w / scales) ** 2)

    def grad_estimator(w, key):
        value, grad = jax.value_and_grad(logdensity)(w)
        grad = grad + noise * jax.random.normal(key, w.shape, w.dtype)
        return Estimate(-value, value, grad, -grad)

    return Problem(logdensity, grad_estimator, jnp.zeros_like(scales), loss_at=lambda w, value: -value)


def quartic_problem(d: int, dtype=jnp.float32) -> Problem:
    """``-log p = sum(w^2 / 2 + w^4 / 10)`` in ``d`` coordinates, w* = 0: stiffer away from w*
    (curvature ``1 + 1.2 w^2``), as a singular valley's walls are; exact "minibatch" gradients."""

    def logdensity(w):
        return -jnp.sum(0.5 * w ** 2 + 0.1 * w ** 4)

    def grad_estimator(w, key):
        value, grad = jax.value_and_grad(logdensity)(w)
        return Estimate(-value, value, grad, -grad)

    return Problem(logdensity, grad_estimator, jnp.zeros(d, dtype), loss_at=lambda w, value: -value)


def one_chain(algorithm, start, draws: int, seed: int = 0):
    """``(positions [draw, d], info, warmup)`` of one chain: the sampler's ``Info`` and ``Warmup``
    as dicts of arrays with a leading chain axis, as ``summarize`` reads them (``loss`` and
    ``grad_evals`` kept)."""
    positions, info, warmup = chains_of(algorithm, start, draws, seed)
    return positions[0], info, warmup


def chains_of(algorithm, start, draws: int, seed: int = 0, chains: int = 1):
    """:func:`one_chain` for ``chains`` chains of one run, vmapped as the runner does (positions
    ``[chain, draw, d]``)."""

    def chain(key):
        warm_key, draw_key = jax.random.split(key)
        state, params, warmup = algorithm.warmup(warm_key, start)

        def body(state, step_key):
            state, info = algorithm.step(step_key, state, params)
            return state, (algorithm.position(state), info)

        _, (positions, info) = jax.lax.scan(body, state, jax.random.split(draw_key, draws))
        return positions, info, warmup

    run = jax.jit(jax.vmap(chain, axis_name=CHAINS))     # on the runner's axis of a run's chains
    with jax.enable_x64(start.dtype == jnp.float64):      # as the runner traces a float32 run
        positions, info, warmup = run(jax.random.split(jax.random.key(seed), chains) if chains > 1
                                      else jax.random.key(seed)[None])
    as_dict = lambda record: {k: np.asarray(v) for k, v in record._asdict().items() if v is not None}  # noqa: E731
    return np.asarray(positions), as_dict(info), as_dict(warmup)
