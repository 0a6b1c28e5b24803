"""Window adaptation of step size and mass matrix, shared by the HMC-family samplers (HMC, NUTS)."""

from __future__ import annotations

from typing import Callable, NamedTuple

import blackjax
import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat.samplers.curvature import max_curvature
from lambda_hat.types import Algorithm, Array, Problem, auto


class Info(NamedTuple):
    """One kept draw of an HMC-family chain."""

    loss: Array
    acceptance_rate: Array
    is_divergent: Array
    step_size: Array          # this transition's, after jitter
    grad_evals: Array


class Warmup(NamedTuple):
    """The window adaptation, per step."""

    grad_evals: Array
    acceptance_rate: Array


def summarize(settings, info: dict, warmup: dict, llc: np.ndarray, to_llc: Callable) -> dict:
    """Scalar diagnostics of a run's draws: acceptance (and its target), divergences, step size."""
    return {"acceptance_rate": float(np.mean(info["acceptance_rate"])), "target_acceptance": settings.target_acceptance,
            "divergences": int(np.sum(info["is_divergent"])), "divergent_fraction": float(np.mean(info["is_divergent"])),
            "step_size": float(np.mean(info["step_size"]))}


def adapted(kernel_factory, problem: Problem, settings, grad_evals_per_step, jitter: float = 0.0,
            **extra) -> Algorithm:
    """An :class:`Algorithm` from a blackjax kernel family with window adaptation.

    ``jitter`` draws each transition's step size uniformly within ``(1 - jitter, 1]`` times the
    adapted one, which breaks the resonances of fixed-length trajectories. Never above it: the
    adaptation found the largest step that keeps its target acceptance, and steps 20 % beyond it
    diverged in 4 % of transitions on the default sweep's deep linear network (0.2 % without).
    """

    def warmup(key, position):
        step_size = auto(settings.step_size, lambda: 0.5 / jnp.sqrt(max_curvature(problem.logdensity, position)))
        # explicit dtypes: with float64 enabled, blackjax's default mass matrix would upcast float32 chains
        mass = jnp.ones_like(position) if settings.diagonal_mass else jnp.eye(position.size, dtype=position.dtype)
        if not settings.warmup:          # no adaptation: the initial step size and a unit mass matrix
            params = {"step_size": jnp.asarray(step_size, position.dtype), "inverse_mass_matrix": mass}
            return (kernel_factory.init(position, problem.logdensity), params,
                    Warmup(jnp.int32(0), jnp.zeros((0,), position.dtype)))
        adaptation = blackjax.window_adaptation(
            kernel_factory, problem.logdensity, is_mass_matrix_diagonal=settings.diagonal_mass,
            initial_inverse_mass_matrix=mass, initial_step_size=jnp.asarray(step_size, position.dtype),
            target_acceptance_rate=settings.target_acceptance, **extra)
        (state, params), info = adaptation.run(key, position, num_steps=settings.warmup)
        evals = grad_evals_per_step(info.info).sum() if settings.warmup else 0
        return state, params, Warmup(evals, info.info.acceptance_rate)

    def step(key, state, params):
        jitter_key, key = jax.random.split(key)
        scale = 1.0 - jitter * jax.random.uniform(jitter_key, ())
        params = {**params, "step_size": params["step_size"] * scale.astype(params["step_size"].dtype)}
        kernel = kernel_factory(problem.logdensity, **{**params, **extra})  # static extras win
        state, info = kernel.step(key, state)
        return state, Info(problem.loss_at(state.position, state.logdensity), info.acceptance_rate,
                           info.is_divergent, params["step_size"], grad_evals_per_step(info))

    return Algorithm(warmup=warmup, step=step, position=lambda state: state.position)
