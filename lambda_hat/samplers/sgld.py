"""Stochastic gradient Langevin dynamics, optionally RMSProp- or Adam-preconditioned.

Each step: ``w += (eps/2) P g + sqrt(eps P) xi`` with ``g`` a minibatch estimate of the
log-density gradient. The preconditioner ``P = 1 / (sqrt(v) + sqrt(gamma) / (n beta) + a)``
follows the statistics ``v`` of the loss gradient alone; ``sqrt(gamma) / (n beta)`` is the loss
gradient the localization alone gives a coordinate at its spread, so a parameter the data never
moves (a pixel that is zero in every image) is not given a step a million times the others'.
With ``adam`` the drift is the gradient's running mean while the preconditioner adapts. Both
adapt during burn-in and are frozen for the kept draws (the drift is then the gradient itself),
so the kept chain is a plain preconditioned Langevin chain.

λ̂ reads the full-batch loss at each kept draw (``draw_loss: full``): the minibatch losses the
steps see anyway are unbiased, but their noise (about 3 λ̂ per draw on n = 10 000, b = 256, even
averaged over 10 thinning steps) would swamp λ̂'s spread and hide from R-hat and ESS how slowly
the chains themselves mix.

The chain has no Metropolis correction: its draws are too hot, by a bias each kept draw
estimates. On a Gaussian with curvatures ``a_i`` (of ``n beta L``), a step ``eps`` and gradient
noise of variance ``V_i``, the stationary variance is ``(1 + eps P_i V_i / 4) / (a_i (1 - eps P_i a_i / 4))``,
so to first order λ̂ is high by ``(eps / 8) (tr(P A) + tr(P V))``. At each kept draw one
Hutchinson probe ``u = sqrt(P) z`` estimates ``tr(P A)`` (``u . A u``, a Hessian-vector product on
a minibatch) and two independent minibatch gradients ``tr(P V)``. Each chain's draws are
corrected by that chain's mean estimate (``sampling.chain_bias``); the mean over the chains is the
run's ``llc_bias``, half of which ``llc_err`` carries (``sampling.error_bar``).

The automatic step is as large as measurement allowed: a smaller one leaves the chains short of
a singular valley's far reaches, where λ̂ differs from near w* (lower on the four-layer tuning
network, higher on the held-out 14-10-6 one), and no R-hat of chains that all start at w* sees it;
a larger one heats them beyond what the first-order correction removes. The kept draws' step is
set by the stiffer of two places, w* and where each chain ended its burn-in: a valley's walls
steepen away from w*, and a step fitted to w* alone made chains hotter the longer they ran, beyond
what the correction removes (4x the burn-in and twice the thinning took λ̂ on the held-out 3-7-7-3
from +2 % to +17 %). The burn-in (40 000 steps) and the thinning (40) are long for the same
valleys; see ``docs/accuracy.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat.samplers.curvature import max_curvature
from lambda_hat.types import Algorithm, Array, Problem, RunSettings, auto, field_


@dataclass(frozen=True)
class Settings(RunSettings):
    dtype: str = field_("float32", choices=("float32", "float64"), doc="precision of the draws")
    draws: int = field_(2000, minimum=1, doc="most kept draws per chain (after thinning; fewer once target_rel_mcse is met)")
    warmup: int = field_(40000, minimum=0, doc="burn-in steps, discarded")
    step_size: float = field_(0.0, minimum=0.0, batch=True,
                              doc="eps (0 = step_scale / largest curvature: at w* for the burn-in, the larger of that "
                                  "and the burn-in's end for the kept draws)")
    step_scale: float = field_(0.2, minimum=0.0, exclusive=True, batch=True,
                               doc="eps x largest curvature, when automatic")
    noise_ratio: float = field_(0.08, minimum=0.0, exclusive=True,
                                doc="cap on (minibatch gradient noise / injected noise), when automatic", batch=True)
    batch_size: int = field_(256, minimum=0, doc="minibatch size (0, or the default on data of n <= 256: full batch)")
    thin: int = field_(40, minimum=1, doc="steps per kept draw")
    draw_loss: str = field_("full", choices=("full", "minibatch"),
                            doc="λ̂'s loss at a kept draw: on all the data (one forward pass per draw) or "
                                "the mean of the thinning steps' minibatch losses (free, but noisy)")
    precond: str = field_("rmsprop", choices=("none", "rmsprop", "adam"), doc="preconditioner")
    precond_decay: float = field_(0.999, minimum=0.0, maximum=1.0, below=True, batch=True,
                                  doc="b2: decay of the squared-gradient average")
    momentum_decay: float = field_(0.9, minimum=0.0, maximum=1.0, below=True, batch=True,
                                   doc="b1: decay of the gradient average (adam)")
    precond_eps: float = field_(1e-8, minimum=0.0, exclusive=True,
                                doc="a in P = 1 / (sqrt(v) + sqrt(gamma) / (n beta) + a)", batch=True)


class State(NamedTuple):
    position: Array
    square_avg: Array
    grad_avg: Array
    count: Array


class Params(NamedTuple):
    step_size: Array
    preconditioner: Array
    adapt: Array


class Info(NamedTuple):
    """One kept draw. ``loss`` is ``None`` with ``draw_loss: full`` (the runner then evaluates the
    full-batch loss at the draw)."""

    loss: Array | None
    step_size: Array
    bias: Array               # this draw's estimate of the first-order bias of λ̂ (see the module)
    grad_evals: Array


class Warmup(NamedTuple):
    grad_evals: Array
    step_size: Array          # the step the kept draws use


#: minibatch gradients per kept draw for the bias estimate (a Hessian-vector product, about two, and one more)
BIAS_GRADS = 3


def summarize(settings: Settings, info: dict, warmup: dict, llc: np.ndarray, to_llc: Callable) -> dict:
    """Scalar diagnostics of a run's draws: the step size and the estimated bias of λ̂ with its
    standard error (over the draws' estimates, per chain means as independent)."""
    per_chain = np.mean(info["bias"], axis=1)
    spread = float(np.std(per_chain, ddof=1) / np.sqrt(len(per_chain))) if len(per_chain) > 1 else float("nan")
    return {"step_size": float(np.mean(info["step_size"])), "llc_bias": float(np.mean(per_chain)), "llc_bias_se": spread}


def build(settings: Settings, problem: Problem) -> Algorithm:
    """SGLD for one chain; the runner vmaps it."""
    preconditioned = settings.precond != "none"

    floor = jnp.sqrt(problem.gamma) / problem.n_beta + settings.precond_eps

    def preconditioner(state: State) -> Array:
        if not preconditioned:
            return jnp.ones_like(state.position)
        count = jnp.maximum(state.count, 1)
        square = state.square_avg / (1 - settings.precond_decay ** count)
        return (1.0 / (jnp.sqrt(square) + floor)).astype(state.position.dtype)

    def one_step(key, state: State, params: Params):
        batch_key, noise_key = jax.random.split(key)
        loss, _, grad, loss_grad = problem.grad_estimator(state.position, batch_key)
        keep = 1.0 - params.adapt
        decay = settings.precond_decay * params.adapt + keep
        square_avg = decay * state.square_avg + (1 - decay) * loss_grad ** 2
        momentum = settings.momentum_decay
        grad_avg = momentum * state.grad_avg + (1 - momentum) * grad
        count = state.count + params.adapt.astype(state.count.dtype)
        if settings.precond == "adam":     # the running mean while adapting, the gradient itself once frozen
            drift = params.adapt * grad_avg / (1 - momentum ** (state.count + 1)) + keep * grad
        else:
            drift = grad
        precond = jnp.where(params.adapt > 0, preconditioner(State(state.position, square_avg, grad_avg, count)),
                            params.preconditioner)
        noise = jax.random.normal(noise_key, state.position.shape, state.position.dtype)
        eps = params.step_size
        position = state.position + 0.5 * eps * precond * drift + jnp.sqrt(eps * precond) * noise
        return State(position, square_avg, grad_avg, state.count + 1), loss

    def run(key, state, params, steps):
        def body(carry, step_key):
            return one_step(step_key, carry, params)
        return jax.lax.scan(body, state, jax.random.split(key, steps))

    def step_size_for(state: State, noise_var: Array, there: bool = False):
        """``step_scale / lambda_max(P H)`` at w* (and, ``there``, at the chain's position if it is
        stiffer), capped so the minibatch noise, about ``eps P Var[g] / 4`` per coordinate relative
        to the injected noise, stays below ``noise_ratio``."""
        def automatic():
            precond = preconditioner(state)
            places = (problem.position, state.position) if there else (problem.position,)
            stiffest = jnp.max(jnp.stack([max_curvature(problem.logdensity, at, jnp.sqrt(precond)) for at in places]))
            curvature = settings.step_scale / stiffest
            noise = 4 * settings.noise_ratio / jnp.maximum(jnp.max(precond * noise_var), 1e-30)
            return jnp.minimum(curvature, noise)

        return jnp.asarray(auto(settings.step_size, automatic), state.position.dtype)

    def warmup(key, position):
        ones = jnp.ones_like(position)
        state = State(position, ones, jnp.zeros_like(position), jnp.zeros((), jnp.int32))
        # gradient statistics at the start: noise level, and the first preconditioner
        keys = jax.random.split(key, 33)
        key, estimates = keys[0], jax.vmap(lambda k: problem.grad_estimator(position, k))(keys[1:])
        noise_var = jnp.var(estimates.grad, axis=0)
        if preconditioned:
            state = state._replace(square_avg=jnp.mean(estimates.loss_grad ** 2, axis=0) * (1 - settings.precond_decay),
                                   count=jnp.ones((), jnp.int32))
        params = Params(step_size_for(state, noise_var), preconditioner(state), jnp.ones((), position.dtype))
        state, _ = run(key, state, params, settings.warmup)
        frozen = Params(step_size_for(state, noise_var, there=True), preconditioner(state), jnp.zeros((), position.dtype))
        return state, frozen, Warmup(jnp.int32(settings.warmup + 32), frozen.step_size)

    def bias(key, position, params: Params) -> Array:
        """One draw's estimate of ``(eps / 8) (tr(P A) + tr(P V))`` (see the module): a Hutchinson
        probe of the loss's curvature on one minibatch, the gradient noise from two."""
        probe_key, first, second = jax.random.split(key, 3)
        probe = jax.random.rademacher(probe_key, position.shape, position.dtype) * jnp.sqrt(params.preconditioner)
        gradient = lambda w, k: problem.grad_estimator(w, k).loss_grad  # noqa: E731
        one, curvature = jax.jvp(lambda w: gradient(w, first), (position,), (probe,))
        other = gradient(position, second)
        scale = problem.n_beta
        trace_a = scale * jnp.vdot(probe, curvature)
        trace_v = scale ** 2 * jnp.sum(params.preconditioner * (one - other) ** 2) / 2
        return params.step_size / 8 * (trace_a + trace_v)

    def step(key, state, params):
        run_key, bias_key = jax.random.split(key)
        state, losses = run(run_key, state, params, settings.thin)
        loss = jnp.mean(losses) if settings.draw_loss == "minibatch" else None
        return state, Info(loss, params.step_size, bias(bias_key, state.position, params),
                           jnp.int32(settings.thin + BIAS_GRADS))

    return Algorithm(warmup=warmup, step=step, position=lambda state: state.position)
