"""No-U-Turn sampler with window adaptation (blackjax)."""

from __future__ import annotations

from dataclasses import dataclass

import blackjax

from lambda_hat.samplers.adaptation import Info, Warmup, adapted, summarize
from lambda_hat.types import Algorithm, DispersedSettings, Problem, field_

__all__ = ["Settings", "Info", "Warmup", "build", "summarize"]


@dataclass(frozen=True)
class Settings(DispersedSettings):
    warmup: int = field_(500, minimum=0, doc="window adaptation steps of step size and mass matrix, discarded (0: none, the initial step and a unit mass)")
    # 0.9, not 0.8: at 0.8 the default sweep's deep linear network diverged in 1-2 % of transitions
    # (the valley's curved floor), at 0.9 in none, with no more draws needed
    target_acceptance: float = field_(0.9, minimum=0.0, exclusive=True, maximum=1.0, below=True,
                                      doc="adaptation target, in (0, 1)", batch=True)
    max_tree_depth: int = field_(6, minimum=1, maximum=12, doc="at most 2**depth leapfrog steps per draw")
    step_size: float = field_(0.0, minimum=0.0, doc="initial step size (0 = from curvature)", batch=True)
    diagonal_mass: bool = field_(True, doc="diagonal (true) or dense (false) mass matrix")


def build(settings: Settings, problem: Problem) -> Algorithm:
    """NUTS for one chain; the runner vmaps it."""
    return adapted(blackjax.nuts, problem, settings, lambda info: info.num_integration_steps,
                   max_num_doublings=settings.max_tree_depth)
