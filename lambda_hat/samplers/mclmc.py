"""Microcanonical Langevin Monte Carlo with automatic tuning of L and step size (blackjax).

Each chain tunes its own L, step size and preconditioner; the steps of one run's chains differ by
up to 2x. MCLMC has no Metropolis correction, and a chain whose step is large for the parts of the
posterior it reaches later (the tuning sees the start) is biased low: on held-out deep linear
networks, chains whose energy error ran over ten times the tuner's target were 6 % low on average,
the chains at their run's smallest step unbiased (``docs/accuracy.md``). So by default every chain
draws with the smallest step of its run (``shared_step``), keeping its own L and preconditioner;
that removed the bias a shorter L (``l_factor`` 0.1, blackjax's is 0.4) had laid bare, and the
shorter L makes up for the smaller steps. The draws are float32 by default: on the held-out
networks as well covered as float64, at about two thirds of its seconds per gradient on a CPU
(``docs/accuracy.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
from blackjax.mcmc import mclmc

from lambda_hat.types import CHAINS, Algorithm, Array, Problem, RunSettings, field_

#: gradient evaluations per integrator step of blackjax's default MCLMC integrator, the isokinetic
#: McLachlan scheme (two position updates per step, the last gradient kept for the next step)
GRADS_PER_STEP = 2


@dataclass(frozen=True)
class Settings(RunSettings):
    dtype: str = field_("float32", choices=("float32", "float64"),
                        doc="precision of the draws (float32: about 1.5x faster per gradient on CPU than "
                        "float64, as accurate on the held-out networks)")
    draws: int = field_(8000, minimum=1, doc="most kept draws per chain (one integrator step, two gradients, each)")
    warmup: int = field_(2000, minimum=0, doc="tuning steps of L, step size and mass matrix")
    L: float = field_(0.0, minimum=0.0, doc="momentum decoherence length (0 = tuned, with step_size)")
    step_size: float = field_(0.0, minimum=0.0, doc="integrator step size (0 = tuned, with L)")
    desired_energy_var: float = field_(5e-4, minimum=0.0, exclusive=True, doc="tuning target", batch=True)
    l_factor: float = field_(0.1, minimum=0.0, exclusive=True, batch=True,
                             doc="tuned L = l_factor x step size x the autocorrelation time of the tuning "
                             "draws' coordinates (blackjax's 0.4 mixes the loss about half as fast)")
    diagonal_preconditioning: bool = field_(True, doc="tune a diagonal mass matrix")
    shared_step: bool = field_(True, doc="every chain draws with the smallest step size its run's chains tuned "
                               "(a chain whose own tuned step is larger ends biased low)")

    def problems(self) -> list[str]:
        """The tuner finds L and the step size together: one of them alone would be ignored."""
        if bool(self.L) != bool(self.step_size):
            return ["L and step_size: set both (no tuning) or neither (both tuned); the tuner would "
                    f"ignore {'L' if self.L else 'step_size'} given alone"]
        return []


class Info(NamedTuple):
    """One kept draw (one integrator step)."""

    loss: Array
    energy_change: Array
    step_size: Array
    L: Array
    grad_evals: Array


class Warmup(NamedTuple):
    grad_evals: Array


def summarize(settings: Settings, info: dict, warmup: dict, llc: np.ndarray, to_llc: Callable) -> dict:
    """Scalar diagnostics of a run's draws: the tuned step size and the energy error's variance."""
    return {"step_size": float(np.mean(info["step_size"])), "energy_change_var": float(np.var(info["energy_change"]))}


def build(settings: Settings, problem: Problem) -> Algorithm:
    """MCLMC for one chain; the runner vmaps it."""
    kernel = mclmc.build_kernel(desired_energy_var=settings.desired_energy_var)

    def warmup(key, position):
        init_key, tune_key = jax.random.split(key)
        state = mclmc.init(position, problem.logdensity, init_key)
        if settings.L and settings.step_size:
            params = blackjax.adaptation.mclmc_adaptation.MCLMCAdaptationState(
                settings.L, settings.step_size, jnp.ones_like(position))
            return state, params, Warmup(jnp.int32(0))
        # the tuner spends about 30% of num_steps: size it so that tuning costs ``warmup`` steps
        num_steps = max(10, math.ceil(settings.warmup / 0.3))
        state, params, evals = blackjax.mclmc_find_L_and_step_size(
            mclmc_kernel=kernel, num_steps=num_steps, state=state, rng_key=tune_key,
            logdensity_fn=problem.logdensity,
            desired_energy_var=settings.desired_energy_var,
            diagonal_preconditioning=settings.diagonal_preconditioning, l_factor=settings.l_factor)
        if settings.shared_step:
            params = params._replace(step_size=jax.lax.pmin(params.step_size, CHAINS))
        return state, params, Warmup(GRADS_PER_STEP * evals)

    def step(key, state, params):
        state, info = kernel(key, state, problem.logdensity, params.inverse_mass_matrix,
                             params.L, params.step_size)
        return state, Info(problem.loss_at(state.position, state.logdensity), info.energy_change,
                           params.step_size, params.L, jnp.int32(GRADS_PER_STEP))

    return Algorithm(warmup=warmup, step=step, position=lambda state: state.position)

