"""Hamiltonian Monte Carlo with window adaptation of step size and diagonal mass matrix (blackjax)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import blackjax
import jax.numpy as jnp
from blackjax.mcmc.integrators import velocity_verlet

from lambda_hat.samplers.adaptation import Info, Warmup, adapted, summarize
from lambda_hat.types import Algorithm, DispersedSettings, Problem, field_

__all__ = ["Settings", "Info", "Warmup", "build", "summarize"]


@dataclass(frozen=True)
class Settings(DispersedSettings):
    draws: int = field_(2000, minimum=1, doc="most kept draws per chain (fewer once target_rel_mcse is met)")
    warmup: int = field_(300, minimum=0, doc="window adaptation steps of step size and mass matrix, discarded (0: none, the initial step and a unit mass)")
    num_integration_steps: int = field_(8, minimum=1, doc="leapfrog steps per proposal")
    target_acceptance: float = field_(0.8, minimum=0.0, exclusive=True, maximum=1.0, below=True,
                                      doc="adaptation target, in (0, 1)", batch=True)
    step_size: float = field_(0.0, minimum=0.0, doc="initial step size (0 = from curvature)", batch=True)
    diagonal_mass: bool = field_(True, doc="diagonal (true) or dense (false) mass matrix")
    step_jitter: float = field_(0.2, minimum=0.0, maximum=1.0, below=True,
                                doc="step size drawn within (1 - jitter, 1] x adapted", batch=True)


#: leapfrog steps traced as one (unrolled) step of the trajectory's loop: an XLA loop on CPU pays
#: for every iteration, a quarter to a third of HMC's sampling time on the DLNs of d 48-480 at
#: n = 10 000 (docs/accuracy.md, § Speed); more steps per iteration grow the compiled program
UNROLL = 4


def grouped(size: int):
    """Velocity Verlet, ``size`` leapfrog steps at a time: the same trajectory, fewer loop iterations."""
    if size == 1:
        return velocity_verlet

    def integrator(logdensity_fn, kinetic_energy_fn):
        leapfrog = velocity_verlet(logdensity_fn, kinetic_energy_fn)

        def steps(state, step_size):
            for _ in range(size):
                state = leapfrog(state, step_size)
            return state

        return steps

    return integrator


def build(settings: Settings, problem: Problem) -> Algorithm:
    """HMC for one chain; the runner vmaps it."""
    steps = settings.num_integration_steps
    size = math.gcd(steps, UNROLL)
    return adapted(blackjax.hmc, problem, settings,
                   lambda info: jnp.full(jnp.shape(info.acceptance_rate), steps, dtype=jnp.int32),
                   jitter=settings.step_jitter, num_integration_steps=steps // size, integrator=grouped(size))
