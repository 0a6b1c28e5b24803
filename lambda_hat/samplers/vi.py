"""Variational inference around the start point: fit ``q``, then draw from it.

The family is a setting: ``mfa``, a mixture of factor analyzers (:mod:`.mfa`), or ``flow``, a
masked autoregressive flow (:mod:`.flow`). Either is fitted by maximizing the ELBO
``E_q[log p] + H[q]`` (a reparameterized estimate, entropy included) with optax Adam, in units of
the stiffest direction's scale ``s0`` so that Adam's steps are scale-free. Draws are iid from the
fitted ``q``; each chain is an independent fit. Each draw carries its importance log-weight
``log p - log q`` (``info["log_weight"]``), from which the analysis checks q against the
posterior (PSIS k-hat).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lambda_hat import health
from lambda_hat.diagnostics import importance
from lambda_hat.samplers.curvature import max_curvature
from lambda_hat.samplers.flow import FlowFamily, default_width
from lambda_hat.samplers.mfa import MixtureFamily
from lambda_hat.types import Algorithm, Array, Problem, RunSettings, auto, field_


#: each family's own settings
OWN = {"mfa": ("M", "r"), "flow": ("flow_layers", "flow_width")}


@dataclass(frozen=True)
class Settings(RunSettings):
    diverged_hint: ClassVar[str] = "a fit of q diverged or its tails reach overflow; try a smaller lr"

    dtype: str = field_("float32", choices=("float32", "float64"), doc="precision of the draws")
    family: str = field_("mfa", choices=("mfa", "flow"),
                         doc="q: mixture of factor analyzers, or masked autoregressive flow (chosen by its own settings alone)")
    M: int = field_(8, minimum=1, doc="mixture components (mfa)")
    r: int = field_(2, minimum=0, doc="rank of each component's factor loading (mfa)")
    flow_layers: int = field_(4, minimum=1, doc="autoregressive layers (flow)")
    flow_width: int = field_(0, minimum=0, doc="hidden width of each layer's MLP (flow; 0 = d within [64, 512])")
    target_rel_mcse: float = field_(0.01, minimum=0.0, doc="stop drawing once MCSE(λ̂) / λ̂ is at most this "
                                    "(0 = always draw all draws); VI's iid draws are cheap next to its fit")
    steps: int = field_(1000, minimum=1, doc="optimization steps of the ELBO")
    lr: float = field_(0.0, minimum=0.0, doc="Adam learning rate (0 = 0.003 for flow, 0.01 for mfa)", batch=True)
    samples: int = field_(0, minimum=0, doc="reparameterized draws per step (0 = 8 for flow, 1 per component for mfa)")
    batch_size: int = field_(1000, minimum=0, doc="minibatch size of the ELBO's log-density (0, or at least n: full batch)")

    @staticmethod
    def implied(given: dict) -> dict:
        """Settings implied by those given: a family's own settings without a family choose it."""
        if "family" in given:
            return {}
        chosen = [family for family, names in OWN.items() if set(names) & set(given)]
        return {"family": chosen[0]} if chosen else {}

    def problems(self) -> list[str]:
        """A family's own settings do nothing for the other family: refused rather than ignored."""
        default = Settings()
        other = "mfa" if self.family == "flow" else "flow"
        changed = [name for name in OWN[other] if getattr(self, name) != getattr(default, name)]
        if changed:
            return [f"{' and '.join(changed)} shape the {other} family, not {self.family}: "
                    f"set family: {other} or drop them"]
        return []


class Info(NamedTuple):
    """One iid draw from the fitted ``q``: its loss and importance log-weight ``log p - log q``."""

    loss: Array
    log_weight: Array
    grad_evals: Array


class Warmup(NamedTuple):
    """The fit: its gradient evaluations and the ELBO estimate at each step."""

    grad_evals: Array
    elbo: Array


def summarize(settings: Settings, info: dict, warmup: dict, llc: np.ndarray) -> dict:
    """The fit's final ELBO (mean of its last tenth), and PSIS of the draws against the tempered
    posterior: ``pareto_k``, ``is_ess`` and, where k-hat says the weights can be trusted, the
    reweighted estimate ``llc_is``."""
    elbo = warmup["elbo"]
    found = importance(info["log_weight"], llc)
    trusted = math.isfinite(found["pareto_k"]) and found["pareto_k"] <= health.PARETO_K_MAX
    return {"elbo_final": float(np.mean(elbo[..., -max(1, elbo.shape[-1] // 10):])),
            "pareto_k": found["pareto_k"], "is_ess": found["is_ess"], "llc_is": found["is_mean"] if trusted else None}


class Family(Protocol):
    """A variational family. ``raw`` are its trainable parameters (a pytree); offsets are ``w - w0``."""

    evals_per_step: int

    def init(self, key, d: int, dtype) -> Any: ...

    def elbo(self, raw, s0, key, target: Callable[[Array, Any], Array]) -> Array:
        """An ELBO estimate whose gradient in ``raw`` is the reparameterized ELBO gradient;
        ``target(offset, key)`` is ``log p`` there (linearized, see :func:`linearized`)."""

    def draw(self, raw, s0, key) -> tuple[Array, Array]:
        """One draw: ``(offset, log q(offset))``."""


def family(settings: Settings, d: int) -> Family:
    if settings.family == "flow":
        return FlowFamily(d, settings.flow_layers, settings.flow_width or default_width(d), settings.samples or 8)
    return MixtureFamily(settings.M, settings.r, settings.samples or 1)


def linearized(problem: Problem, start: Array) -> Callable[[Array, Any], Array]:
    """``log p`` at ``start + offset`` from one (minibatch) gradient estimate: its value and first-order
    term, so the ELBO's gradient is the estimator's gradient (exact at full batch)."""

    def target(offset, key):
        fixed = jax.lax.stop_gradient(offset)
        estimate = jax.lax.stop_gradient(problem.grad_estimator(start + fixed, key))
        return estimate.logdensity + jnp.vdot(estimate.grad, offset - fixed)

    return target


def build(settings: Settings, problem: Problem) -> Algorithm:
    """VI for one chain (one independent fit); the runner vmaps it."""
    start = problem.position
    q = family(settings, start.size)
    target = linearized(problem, start)
    # a step whose ELBO gradient is not finite (a rare draw far in q's tail) is skipped, not taken
    lr = auto(settings.lr, lambda: 0.003 if settings.family == "flow" else 0.01)   # 0.01 made a flow's fit diverge
    optimizer = optax.apply_if_finite(optax.adam(optax.cosine_decay_schedule(lr, settings.steps, alpha=0.1)),
                                      max_consecutive_errors=settings.steps)

    def warmup(key, position):
        init_key, fit_key = jax.random.split(key)
        s0 = 1.0 / jnp.sqrt(max_curvature(problem.logdensity, start))   # the stiffest direction's scale
        raw = q.init(init_key, position.size, position.dtype)

        def fit(carry, step_key):
            raw, opt_state = carry
            elbo, grads = jax.value_and_grad(q.elbo)(raw, s0, step_key, target)
            updates, opt_state = optimizer.update(jax.tree.map(jnp.negative, grads), opt_state)
            return (optax.apply_updates(raw, updates), opt_state), elbo

        (raw, _), elbo = jax.lax.scan(fit, (raw, optimizer.init(raw)), jax.random.split(fit_key, settings.steps))
        return position, (raw, s0), Warmup(jnp.int32(settings.steps * q.evals_per_step), elbo)

    def step(key, state, fitted):
        offset, log_q = q.draw(*fitted, key)
        position = start + offset
        logdensity = problem.logdensity(position)
        return position, Info(problem.loss_at(position, logdensity), logdensity - log_q, jnp.int32(0))

    return Algorithm(warmup=warmup, step=step, position=lambda state: state)
