"""Shared type aliases, the settings every sampler shares and the sampler contract (:class:`Algorithm`),
with the dispersed starts of the samplers that take them (:func:`dispersed`).

Samplers import nothing of ours but this module and the ground floor's pure computations
(``diagnostics``, ``health``: VI's summary runs PSIS against the k-hat threshold).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Literal, NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array
PRNGKey = jax.Array
PyTree = Any

#: ``logdensity(position) -> scalar`` of the full-batch localized tempered posterior.
LogDensityFn = Callable[[Array], Array]

Dtype = Literal["float32", "float64"]

#: the largest seed: JAX keys hold 32 bits of it (larger ones wrap around, or overflow)
MAX_SEED = 2 ** 32 - 1


def field_(default: Any, *, minimum: float | None = None, exclusive: bool = False,
           maximum: float | None = None, below: bool = False, choices: tuple | None = None, doc: str = "",
           batch: bool = False) -> Any:
    """A dataclass field carrying validation metadata: ``minimum`` (``exclusive``: strictly above it),
    ``maximum`` (``below``: strictly below it), ``choices`` and ``doc``.

    ``batch``: a number the compiled sampler takes as a traced value (one per chain), so runs that
    differ only in such settings share one compiled program and run as one batch. The sampler's
    code must treat the field as an array (no Python ``if`` on it).
    """
    metadata = {"minimum": minimum, "exclusive": exclusive, "maximum": maximum, "below": below,
                "choices": choices, "doc": doc, "batch": batch}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class RunSettings:
    """Settings shared by every sampler: chains, draws, precision and the estimator's own."""

    #: what a run whose draws are NaN or inf is told to try (a class constant, not a setting)
    diverged_hint: ClassVar[str] = "the chains diverged; try a smaller step_size"
    #: whether the sampler's draws are independent (VI's): their ESS is then their number, not an
    #: estimate from their autocorrelation (``diagnostics.standard_error``)
    iid: ClassVar[bool] = False

    chains: int = field_(4, minimum=1, doc="independent chains (vmapped)")
    seed: int = field_(0, minimum=0, maximum=MAX_SEED, doc="sampling seed (independent of the target seed)")
    dtype: str = field_("float64", choices=("float32", "float64"), doc="precision of the draws")
    draws: int = field_(1000, minimum=1, doc="most kept draws per chain (fewer once target_rel_mcse is met)")
    target_rel_mcse: float = field_(0.02, minimum=0.0, doc="stop drawing once MCSE(λ̂) / λ̂ is at most this, with R-hat "
                                    "and ESS good enough (0 = always draw all draws)")
    beta0: float = field_(1.0, minimum=0.0, exclusive=True, doc="beta = beta0 / log n", batch=True)
    gamma: float = field_(1.0, minimum=0.0, doc="localization strength", batch=True)
    restrict: str = field_("", doc="sample only these parameters, by key path (comma-separated prefixes, e.g. "
                               "'1/w' or 'params/Dense_1'); the others stay at w* (\"\" = all)")


@dataclass(frozen=True)
class DispersedSettings(RunSettings):
    """Settings of the samplers whose chains start apart, around w* (HMC, NUTS): R-hat then compares
    chains that came from different places, not four copies of one start."""

    init_spread: float = field_(0.1, minimum=0.0, doc="each chain starts at w* + init_spread z / sqrt(gamma), z "
                                "standard normal: a draw from the localization N(w*, 1/gamma), narrowed (0 = all at w*)")

    def problems(self) -> list[str]:
        if self.init_spread and not self.gamma:
            return ["init_spread is a share of the localization's scale 1 / sqrt(gamma), which gamma = 0 does not "
                    "have: set gamma > 0, or init_spread: 0 (every chain at w*)"]
        return []


def dispersed(algorithm: "Algorithm", problem: "Problem", spread: float) -> "Algorithm":
    """``algorithm`` whose warm-up starts each chain at ``w* + spread z / sqrt(gamma)`` (see
    :class:`DispersedSettings`); unchanged at ``spread`` 0, random keys included."""
    if not spread:
        return algorithm

    def warmup(key, position):
        start_key, key = jax.random.split(key)
        noise = jax.random.normal(start_key, position.shape, position.dtype)
        return algorithm.warmup(key, position + (spread / jnp.sqrt(problem.gamma)).astype(position.dtype) * noise)

    return algorithm._replace(warmup=warmup)


#: settings that only the host reads (the seed chooses keys, the target decides when to stop), so
#: runs that differ in them share one compiled program
HOST_FIELDS = ("seed", "target_rel_mcse")


def batched_fields(settings_type) -> tuple[str, ...]:
    """The settings of a sampler that runs may differ in and still share one compiled batch
    (the seed too: it only chooses the random keys)."""
    return tuple(f.name for f in dataclasses.fields(settings_type) if f.metadata.get("batch"))


def auto(value, fallback: Callable[[], Array]):
    """``value``, or ``fallback()`` where it is 0 ("automatic"); ``value`` may be traced."""
    if isinstance(value, (int, float)):
        return value or fallback()
    return jnp.where(value > 0, value, fallback())


class Estimate(NamedTuple):
    """Unbiased minibatch estimates at one position.

    ``loss_grad`` is the gradient of the loss alone (no localization term), for preconditioners.
    """

    loss: Array
    logdensity: Array
    grad: Array
    loss_grad: Array


class Problem(NamedTuple):
    """What a sampler may know about its target: densities, gradients and a start point.

    Attributes
    ----------
    logdensity : full-batch log-density of the (localized tempered) posterior.
    grad_estimator : ``(position, key) -> Estimate`` on a minibatch drawn with ``key``.
    position : the start point (a flat vector), also the centre of localization.
    loss_at : ``(position, logdensity) -> loss``: the full-batch loss at a point whose log-density
        is known, without another pass over the data (a sampler's state often holds it).
    n_beta, gamma : the loss's weight ``n beta`` in ``-log p`` and the localization strength
        (``log p = -n beta L - gamma/2 |w - w*|^2``), for samplers that estimate their own bias.
    """

    logdensity: LogDensityFn
    grad_estimator: Callable[[Array, PRNGKey], "Estimate"]
    position: Array
    loss_at: Callable[[Array, Array], Array]
    n_beta: float = 1.0
    gamma: float = 0.0


#: the name of the axis over one run's chains, which the runner vmaps: a sampler's warm-up may
#: reduce over it (``jax.lax.pmin(x, CHAINS)``) to share what its chains tuned
CHAINS = "chains"


class Algorithm(NamedTuple):
    """A sampler, for one chain (the runner vmaps it).

    A sampler module holds ``Settings`` (a :class:`RunSettings`), ``build(settings, problem) ->
    Algorithm``, its ``Info`` and ``Warmup`` NamedTuples and ``summarize(settings, info, warmup, llc, to_llc)
    -> dict`` of scalar diagnostics, which reads the run's ``Info`` and ``Warmup`` fields (as arrays
    ``[chain, draw]`` and ``[chain, ...]``, ``loss`` and ``grad_evals`` taken out), its per-draw λ̂, and ``to_llc``, which turns an
    array of losses into λ̂ values as the estimator does.

    ``warmup(key, position) -> (state, params, Warmup)`` adapts or fits; ``Warmup`` holds arrays
    over warm-up steps and a ``grad_evals`` count. It runs vmapped over the run's chains on the
    axis :data:`CHAINS`. ``step(key, state, params) -> (state, Info)``
    makes one kept draw; ``Info`` has ``grad_evals``, and ``loss``: the draw's full-batch loss, or
    ``None`` where the sampler does not have it at no cost (the runner then evaluates it).
    ``position(state)`` is the draw.
    """

    warmup: Callable[[PRNGKey, Array], tuple[Any, Any, NamedTuple]]
    step: Callable[[PRNGKey, Any, Any], tuple[Any, NamedTuple]]
    position: Callable[[Any], Array]
