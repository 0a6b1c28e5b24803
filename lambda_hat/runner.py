"""Run one sampler's chains: ``vmap`` over chains, ``jit(lax.scan)`` over steps, in chunks.

The data and the start point travel as arguments of the compiled functions (never as baked-in
constants), so one compiled function serves every target of the same shapes, and the persistent
compilation cache serves other processes. Progress is reported between chunks, outside JAX.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat.types import Algorithm, Array

#: ``factory(context) -> (algorithm, loss_fn, start)``; ``context`` is a pytree of arrays.
Factory = Callable[[Any], tuple[Algorithm, Callable[[Array], Array], Array]]

_COMPILED: dict[str, tuple[Callable, Callable]] = {}
_EXECUTABLES: dict[tuple, Any] = {}


class Chains(NamedTuple):
    """Outputs for all chains; arrays are ``[chain, draw]`` (``warmup_info`` is ``[chain, ...]``)."""

    loss: np.ndarray
    info: dict[str, np.ndarray]
    warmup_info: dict[str, np.ndarray]
    grad_evals: int


def compiled(factory: Factory, cache_key: str, chunk: int) -> tuple[Callable, Callable]:
    """The jitted ``(warmup, advance)`` pair for ``factory``, built once per ``cache_key``."""
    key = f"{cache_key}|chunk={chunk}"
    if key in _COMPILED:
        return _COMPILED[key]

    @jax.jit
    def warmup(context, keys):
        algorithm, _, start = factory(context)
        return jax.vmap(algorithm.warmup, in_axes=(0, None))(keys, start)

    @jax.jit
    def advance(context, states, params, keys, first):
        algorithm, loss_fn, _ = factory(context)

        def one_chain(state, chain_params, chain_key):
            def body(state, index):
                state, info = algorithm.step(jax.random.fold_in(chain_key, index), state, chain_params)
                info = dict(info)
                loss = info.pop("loss") if "loss" in info else loss_fn(algorithm.position(state))
                return state, (loss, info)

            return jax.lax.scan(body, state, first + jnp.arange(chunk))

        return jax.vmap(one_chain)(states, params, keys)

    _COMPILED[key] = (warmup, advance)
    return warmup, advance


def run_chains(factory: Factory, context: Any, key: jax.Array, num_chains: int, num_draws: int,
               *, cache_key: str, chunk: int = 0,
               progress: Callable[[int, int, str], None] | None = None) -> Chains:
    """Warm up (adapt or fit) and draw ``num_draws`` per chain for ``num_chains`` chains.

    Draw ``i`` of a chain uses ``fold_in(chain_key, i)``, so results do not depend on ``chunk``.
    ``progress(done, total, phase)`` is called as each phase starts (``compiling``, ``warm-up``,
    ``compiling draws``, with done = 0) and after every chunk of draws (``sampling``).
    """
    chunk = chunk or max(1, math.ceil(num_draws / 20))
    chunk = min(chunk, num_draws)
    with jax.enable_x64(uses_float64(context)):
        return _run(factory, context, key, num_chains, num_draws, cache_key, chunk, progress)


def uses_float64(context: Any) -> bool:
    """Whether the chains run in float64. A float32 run is traced with float64 off, so that no
    library default (blackjax's adaptation state, say) silently promotes the chains."""
    return any(jnp.issubdtype(leaf.dtype, jnp.floating) and leaf.dtype.itemsize == 8
               for leaf in jax.tree.leaves(context))


def executable(function: Callable, *args):
    """``function`` compiled ahead of time for these arguments' shapes, kept for the next call.

    Compiling apart from running lets progress tell the two phases apart.
    """
    leaves, tree = jax.tree.flatten(args)
    signature = (function, tree, tuple((np.shape(leaf), jnp.result_type(leaf)) for leaf in leaves))
    if signature not in _EXECUTABLES:
        _EXECUTABLES[signature] = function.lower(*args).compile()
    return _EXECUTABLES[signature]


def _run(factory, context, key, num_chains, num_draws, cache_key, chunk, progress) -> Chains:
    report = progress or (lambda done, total, phase: None)
    warmup, advance = compiled(factory, cache_key, chunk)
    warm_key, draw_key = jax.random.split(key)
    warm_keys = jax.random.split(warm_key, num_chains)
    report(0, num_draws, "compiling")
    warmup = executable(warmup, context, warm_keys)
    report(0, num_draws, "warm-up")
    states, params, warm_info = jax.block_until_ready(warmup(context, warm_keys))
    chain_keys = jax.random.split(draw_key, num_chains)
    report(0, num_draws, "compiling draws")
    advance = executable(advance, context, states, params, chain_keys, 0)
    losses, infos = [], []
    for first in range(0, num_draws, chunk):
        states, (loss, info) = advance(context, states, params, chain_keys, first)
        losses.append(np.asarray(loss))
        infos.append(jax.tree.map(np.asarray, info))
        report(min(first + chunk, num_draws), num_draws, "sampling")
    loss = np.concatenate(losses, axis=1)[:, :num_draws]
    info = {name: np.concatenate([i[name] for i in infos], axis=1)[:, :num_draws] for name in infos[0]}
    warm_info = jax.tree.map(np.asarray, dict(warm_info))
    grad_evals = int(np.sum(info.pop("grad_evals"))) + int(np.sum(warm_info.pop("grad_evals")))
    return Chains(loss, info, warm_info, grad_evals)
