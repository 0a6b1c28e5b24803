"""Variational inference around the start point: fit ``q``, then draw from it.

The family is a setting: ``mfa``, a mixture of factor analyzers (:mod:`.mfa`), or ``flow``, a
masked autoregressive flow (:mod:`.flow`). Either is fitted by maximizing the ELBO
``E_q[log p] + H[q]`` (a reparameterized estimate, entropy included) with optax Adam, in units of
the stiffest direction's scale ``s0`` so that Adam's steps are scale-free. Draws are iid from the
fitted ``q``; each chain is an independent fit. Each draw carries its importance log-weight
``log p - log q`` (``info["log_weight"]``), from which the analysis checks q against the
posterior (PSIS k-hat).

On a singular model no such ``q`` holds the posterior's curved valleys, and ``E_q[L]`` overstates
λ several-fold (``docs/accuracy.md``). So each draw is then carried toward the posterior by
``refine_steps`` Metropolis-adjusted Langevin steps (blackjax MALA, step ``refine_step * s0^2``):
``q`` puts the draw near the valley and the short chain lets it settle there, every draw an
independent chain, so draws stay iid (their ESS is their number, ``Settings.iid``). λ̂ comes from
the refined draws; ``q``'s own estimate and k-hat are kept (``llc_q``, ``pareto_k``), and
``refine_drift``, how far λ̂ still moved over the refinement's second half, says whether the
chains had settled.

A chain that has settled may still not have reached the valleys' far parts, which a local walk
from near w* does not: the drift cannot see that. So after its fit each chain also refines
``twins`` pairs: a draw of q and its twin, started ``twin_spread`` times as far from w*, with the
same noise, so that the two differ only in where they started. Had the refinement forgotten its
start, the twins would end where the draws end; ``refine_gap``, how far apart they end, is part of
the run's error bar (``sampling.error_bar``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, NamedTuple, Protocol

import blackjax
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
    iid: ClassVar[bool] = True      # each draw is its own refining chain from an independent draw of q

    dtype: str = field_("float32", choices=("float32", "float64"), doc="precision of the draws")
    chains: int = field_(2, minimum=1, doc="independent fits of q, each refining its own draws (vmapped); "
                         "two reach the ESS of 100 per chain at about 70 % of four's cost")
    family: str = field_("mfa", choices=("mfa", "flow"),
                         doc="q: mixture of factor analyzers, or masked autoregressive flow (chosen by its own settings alone)")
    M: int = field_(8, minimum=1, doc="mixture components (mfa)")
    r: int = field_(2, minimum=0, doc="rank of each component's factor loading (mfa)")
    flow_layers: int = field_(4, minimum=1, doc="autoregressive layers (flow)")
    flow_width: int = field_(0, minimum=0, doc="hidden width of each layer's MLP (flow; 0 = d within [64, 512])")
    refine_steps: int = field_(100, minimum=0, doc="Metropolis-adjusted Langevin steps carrying each draw from q "
                               "toward the posterior (0 = q's own draws, biased on singular models)")
    refine_step: float = field_(1.0, minimum=0.0, exclusive=True, doc="the Langevin step size in units of the "
                                "stiffest direction's variance (1 accepts about 60 % of steps)")
    twins: int = field_(16, minimum=0, doc="pairs per chain refined after the fit: a draw of q and its twin, "
                        "started twin_spread times as far from w*; how far apart they end goes into llc_err "
                        "(0 = none)")
    twin_spread: float = field_(2.0, minimum=0.0, exclusive=True,
                                doc="each twin starts this many times as far from w* as its draw (not 1)")
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
        if self.twin_spread == 1:
            return ["twin_spread 1 starts each twin where its draw starts, so their gap measures nothing: "
                    "another factor (e.g. 2), or twins: 0"]
        return []


class Info(NamedTuple):
    """One iid draw: its loss, and that of the draw from ``q`` it started at (``loss_q``), with that
    start's importance log-weight ``log p - log q``; the loss halfway through its refinement
    (``loss_half``) and the fraction of refinement steps accepted. Without refinement the three
    losses are one."""

    loss: Array
    loss_q: Array
    log_weight: Array
    loss_half: Array
    accepted: Array
    grad_evals: Array


class Warmup(NamedTuple):
    """The fit: its gradient evaluations and the ELBO estimate at each step; then the twin pairs:
    where each pair's draw (``pair_loss``) and its twin (``twin_loss``) ended their refinement."""

    grad_evals: Array
    elbo: Array
    pair_loss: Array
    twin_loss: Array


def summarize(settings: Settings, info: dict, warmup: dict, llc: np.ndarray, to_llc: Callable) -> dict:
    """The fit's final ELBO (mean of its last tenth); PSIS of q's draws against the tempered
    posterior: ``pareto_k``, ``is_ess`` and, where k-hat says the weights can be trusted, the
    reweighted estimate ``llc_is``; q's own estimate ``llc_q``. With refinement: ``refine_drift``,
    how far λ̂ moved over the second half of the refinement (relative, with its standard error
    ``refine_drift_se``), and the refinement's acceptance rate; with twins, ``refine_gap``, how far
    the twins' λ̂ ended from their draws' (relative, with its standard error ``refine_gap_se``)."""
    elbo = warmup["elbo"]
    llc_q = to_llc(info["loss_q"])
    found = importance(info["log_weight"], llc_q)
    trusted = math.isfinite(found["pareto_k"]) and found["pareto_k"] <= health.PARETO_K_MAX
    fields = {"elbo_final": float(np.mean(elbo[..., -max(1, elbo.shape[-1] // 10):])), "llc_q": float(np.mean(llc_q)),
              "pareto_k": found["pareto_k"], "is_ess": found["is_ess"], "llc_is": found["is_mean"] if trusted else None}
    if settings.refine_steps:
        scale = abs(float(np.mean(llc))) or float("nan")
        drift, drift_se = relative_change(llc - to_llc(info["loss_half"]), scale)
        fields |= {"refine_drift": drift, "refine_drift_se": drift_se,
                   "acceptance_rate": float(np.mean(info["accepted"]))}
        if np.size(warmup["twin_loss"]):
            gap, gap_se = relative_change(to_llc(warmup["twin_loss"]) - to_llc(warmup["pair_loss"]), scale, TWIN_TRIM)
            fields |= {"refine_gap": gap, "refine_gap_se": gap_se}
    return fields


#: share of the twin pairs' gaps trimmed at either end: now and then a twin started far out stays
#: there (one of 700 on a held-out DLN ended at λ̂ = 1 405, the others near 4.5), and the mean gap
#: would be that one twin's
TWIN_TRIM = 0.1


def relative_change(per_draw: np.ndarray, scale: float, trim: float = 0.0) -> tuple[float, float]:
    """The (``trim``-trimmed) mean of a per-draw change and its standard error (from the winsorized
    spread), over ``scale``; the draws are independent chains, so their spread gives the error."""
    values = np.sort(np.ravel(per_draw))
    cut = int(trim * values.size)
    kept = values[cut:values.size - cut]
    spread = np.std(np.clip(values, kept[0], kept[-1])) / (1 - 2 * cut / values.size)
    return float(np.mean(kept)) / scale, float(spread / math.sqrt(values.size)) / scale


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


def refiner(settings: Settings, problem: Problem) -> Callable:
    """``refine(key, position, s0) -> (position, logdensity, loss halfway, acceptance)``: the
    refinement's MALA chain from one draw, in two halves so the halfway loss comes for free."""
    kernel = blackjax.mala.build_kernel()
    first = settings.refine_steps // 2

    def run(state, key, steps, step_size):
        def one(state, step_key):
            state, info = kernel(step_key, state, problem.logdensity, step_size)
            return state, info.is_accepted
        return jax.lax.scan(one, state, jax.random.split(key, steps))

    def refine(key, position, s0):
        # blackjax draws its noise in JAX's default float: the chain runs in it, the draw keeps its dtype
        work = jnp.result_type(float)
        step_size = (settings.refine_step * s0 ** 2).astype(work)
        first_key, second_key = jax.random.split(key)
        state = blackjax.mala.init(position.astype(work), problem.logdensity)
        state, accepted_first = run(state, first_key, first, step_size)
        half = problem.loss_at(state.position, state.logdensity).astype(position.dtype)
        state, accepted_second = run(state, second_key, settings.refine_steps - first, step_size)
        accepted = jnp.mean(jnp.concatenate([accepted_first, accepted_second]).astype(position.dtype))
        return state.position.astype(position.dtype), state.logdensity.astype(position.dtype), half, accepted

    return refine


def build(settings: Settings, problem: Problem) -> Algorithm:
    """VI for one chain (one independent fit); the runner vmaps it."""
    start = problem.position
    q = family(settings, start.size)
    target = linearized(problem, start)
    refine = refiner(settings, problem)
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
        pair_loss, twin_loss = twins_of(jax.random.fold_in(key, 1), (raw, s0))
        evals = settings.steps * q.evals_per_step + 2 * pair_loss.size * (settings.refine_steps + 1)
        return position, (raw, s0), Warmup(jnp.int32(evals), elbo, pair_loss, twin_loss)

    def twins_of(key, fitted):
        """Where each of ``twins`` draws of q and its twin end their refinement (same noise)."""
        if not (settings.refine_steps and settings.twins):
            return jnp.zeros(0, start.dtype), jnp.zeros(0, start.dtype)

        def pair(pair_key):
            draw_key, refine_key = jax.random.split(pair_key)
            offset = q.draw(*fitted, draw_key)[0].astype(start.dtype)
            starts = jnp.stack([start + offset, start + settings.twin_spread * offset])
            ends, logdensity, _, _ = jax.vmap(refine, in_axes=(None, 0, None))(refine_key, starts, fitted[1])
            return jax.vmap(problem.loss_at)(ends, logdensity)

        losses = jax.vmap(pair)(jax.random.split(key, settings.twins))
        return losses[:, 0], losses[:, 1]

    def step(key, state, fitted):
        draw_key, refine_key = jax.random.split(key) if settings.refine_steps else (key, None)
        offset, log_q = q.draw(*fitted, draw_key)
        position = start + offset.astype(start.dtype)
        logdensity = problem.logdensity(position)
        loss_q = problem.loss_at(position, logdensity)
        if not settings.refine_steps:
            return position, Info(loss_q, loss_q, logdensity - log_q, loss_q, jnp.ones((), position.dtype), jnp.int32(0))
        refined, refined_logdensity, half, accepted = refine(refine_key, position, fitted[1])
        return refined, Info(problem.loss_at(refined, refined_logdensity), loss_q, logdensity - log_q, half, accepted,
                             jnp.int32(settings.refine_steps + 1))

    return Algorithm(warmup=warmup, step=step, position=lambda state: state)
