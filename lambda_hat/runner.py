"""Run one sampler's chains: ``vmap`` over chains, ``jit(lax.scan)`` over steps, in chunks.

The data and the start point travel as arguments of the compiled functions (never as baked-in
constants), so one compiled function serves every target of the same shapes, and the persistent
compilation cache serves other processes. So do the sampler's numeric settings (``hyper``, one
value per chain): runs that differ only in them (and in their seeds) are one batch, drawn by one
call of one compiled program (see :data:`LAYOUT`). Progress is reported between chunks, outside JAX.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat.types import CHAINS, Algorithm, Array

#: ``factory(context, hyper) -> (algorithm, loss_fn, start)``: ``context`` is a pytree of arrays
#: shared by every chain, ``hyper`` a dict of one chain's numeric settings (scalars, traced).
Factory = Callable[[Any, dict], tuple[Algorithm, Callable[[Array], Array], Array]]

#: compiled functions kept per process (least recently used dropped first)
CACHE_SIZE = 32
_COMPILED: OrderedDict[str, tuple[Callable, Callable]] = OrderedDict()
_EXECUTABLES: OrderedDict[tuple, Any] = OrderedDict()
#: compiles a run's draws while its warm-up compiles and runs
_COMPILER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambda-hat-compile")
_CACHES = threading.Lock()


def _remember(cache: OrderedDict, key, make: Callable):
    """``cache[key]``, made by ``make()`` on a miss; the cache keeps its ``CACHE_SIZE`` latest.
    Safe from two threads (see :func:`_compiled_aside`); ``make`` runs outside the lock."""
    with _CACHES:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = make()
    with _CACHES:
        cache[key] = value
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
    return value


class Chains(NamedTuple):
    """Outputs for all chains of one run; arrays are ``[chain, draw]`` (``warmup_info`` is ``[chain, ...]``).

    ``stopped``: the reason the run's ``stop`` rule gave to end its draws early, or ``None`` when
    it drew them all.
    """

    loss: np.ndarray
    info: dict[str, np.ndarray]
    warmup_info: dict[str, np.ndarray]
    grad_evals: int
    stopped: str | None = None


#: ``stop(run, loss, info) -> reason | None``: asked after each chunk about each run still drawing,
#: with that run's ``loss`` and per-draw ``info`` fields so far (``[chain, draw]``); a reason ends
#: the run's draws there
StopRule = Callable[[int, np.ndarray, dict], "str | None"]


#: chunks of draws per run by default: progress is reported, and stop rules are asked, after each
CHUNKS = 40

#: how the runs of a batch share a program: ``map``, one after another inside it, so that each
#: run computes exactly what it computes alone; or ``vmap``, all chains of all runs side by side
#: (faster where one run's chains leave the device idle, e.g. a GPU; a run's numbers then depend
#: on its batch in the last bits, which chaotic samplers such as HMC amplify)
LAYOUT = os.environ.get("LAMBDA_HAT_BATCH_LAYOUT", "map")
if LAYOUT not in ("map", "vmap"):
    raise ValueError(f"LAMBDA_HAT_BATCH_LAYOUT must be map or vmap, got {LAYOUT!r}")


def compiled(factory: Factory, cache_key: str, chunk: int, num_chains: int) -> tuple[Callable, Callable]:
    """The jitted ``(warmup, advance)`` pair for ``factory``, built once per ``cache_key``.

    Their arguments hold the chains of every run of a batch, run after run (``[run * chain, ...]``).
    """

    def make():
        @jax.jit
        def warmup(context, hyper, keys):
            def one_chain(chain_hyper, key):
                algorithm, _, start = factory(context, chain_hyper)
                return algorithm.warmup(key, start)

            return over_runs(one_chain, num_chains, hyper, keys)

        @jax.jit
        def advance(context, hyper, states, params, keys, first, active):
            def one_chain(chain_hyper, state, chain_params, chain_key):
                algorithm, loss_fn, _ = factory(context, chain_hyper)

                def body(state, index):
                    state, info = algorithm.step(jax.random.fold_in(chain_key, index), state, chain_params)
                    info = info._asdict()
                    loss = info.pop("loss")
                    if loss is None:        # the sampler does not have it: the full-batch loss at the draw
                        loss = loss_fn(algorithm.position(state))
                    return state, (loss, info)

                return jax.lax.scan(body, state, first + jnp.arange(chunk))

            return over_runs(one_chain, num_chains, hyper, states, params, keys, active=active)

        return warmup, advance

    return _remember(_COMPILED, f"{cache_key}|chunk={chunk}|chains={num_chains}|{LAYOUT}", make)


def over_runs(one_chain: Callable, num_chains: int, *args, active=None):
    """``one_chain`` over every chain of a batch (arguments ``[run * chain, ...]``): ``vmap`` over
    a run's chains (on the axis :data:`~lambda_hat.types.CHAINS`), and over the runs as
    :data:`LAYOUT` says.

    ``active`` (one flag per run), for a chunk of draws: with the ``map`` layout a run whose flag
    is off is not computed; it keeps its state (``args[1]``) and gives zeros for its draws, which
    the host drops (its stop rule ended it). The ``vmap`` layout computes every run.
    """
    runs = jax.tree.leaves(args)[0].shape[0] // num_chains
    chains = jax.vmap(one_chain, axis_name=CHAINS)           # a run's chains, on the axis samplers may reduce over
    if runs == 1:
        return chains(*args)
    by_run = jax.tree.map(lambda a: a.reshape(runs, num_chains, *a.shape[1:]), args)
    flat = lambda tree: jax.tree.map(lambda a: a.reshape(runs * num_chains, *a.shape[2:]), tree)  # noqa: E731
    if LAYOUT == "vmap":
        return flat(jax.vmap(chains)(*by_run))

    def draw(run):
        return chains(*run)

    def idle(run):
        _, drawn = jax.eval_shape(draw, run)
        return run[1], jax.tree.map(lambda leaf: jnp.zeros(leaf.shape, leaf.dtype), drawn)

    if active is None:
        out = jax.lax.map(draw, by_run)
    else:
        out = jax.lax.map(lambda item: jax.lax.cond(item[1], draw, idle, item[0]), (by_run, active))
    return flat(out)


def run_chains(factory: Factory, context: Any, keys: Sequence[jax.Array], hyper: dict[str, Sequence[float]],
               num_chains: int, num_draws: int, *, cache_key: str, chunk: int = 0,
               progress: Callable[[int, int, str], None] | None = None, stop: StopRule | None = None) -> list[Chains]:
    """Warm up (adapt or fit) and draw ``num_draws`` per chain for ``num_chains`` chains of each run.

    A batch of runs: run ``r`` has the random key ``keys[r]`` and the settings ``hyper[name][r]``
    (arrays of the run's float dtype); one program draws them all, and each run gets its own
    :class:`Chains`, those it gets alone (see :data:`LAYOUT`). Draw ``i`` of a chain uses
    ``fold_in(chain_key, i)``, so results do not depend on ``chunk``. ``progress(done, total, phase)``
    is called as each phase starts (``compiling``, ``warm-up``, ``compiling draws``, ``sampling``,
    with done = 0) and after every chunk of draws.

    ``stop`` (see :data:`StopRule`) may end a run's draws after any chunk; a stopped run is not
    drawn again (``map`` layout, see :func:`over_runs`), and drawing ends when every run of the
    batch has stopped. A run's draws are cut where its own rule stopped it, so its numbers do not
    depend on the batch either (they do depend on ``chunk``).
    """
    chunk = chunk or max(1, math.ceil(num_draws / CHUNKS))
    chunk = min(chunk, num_draws)
    with jax.enable_x64(uses_float64(context)):
        return _run(factory, context, list(keys), hyper, num_chains, num_draws, cache_key, chunk, progress, stop)


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
    return _remember(_EXECUTABLES, signature, lambda: function.lower(*args).compile())


def chain_inputs(keys: list, hyper: dict, num_chains: int) -> tuple[Array, Array, dict]:
    """Per-chain warm-up keys, draw keys and settings of a batch, runs one after another.

    Each run's keys are split exactly as when it runs alone: its results do not depend on the batch.
    """
    warm, draw = zip(*(jax.random.split(key) for key in keys))
    warm_keys = jnp.concatenate([jax.random.split(k, num_chains) for k in warm])
    draw_keys = jnp.concatenate([jax.random.split(k, num_chains) for k in draw])
    per_chain = {name: jnp.repeat(jnp.asarray(values), num_chains) for name, values in hyper.items()}
    return warm_keys, draw_keys, per_chain


def _compiled_aside(function: Callable, *args) -> Future:
    """:func:`executable` of ``function`` for ``args`` (arrays or their shapes), compiled in a thread
    of its own while this one goes on (XLA's compiler lets go of the GIL)."""
    x64 = jax.config.jax_enable_x64                # this thread's setting (the run's), which threads do not share

    def compile_it():
        with jax.enable_x64(x64):
            return executable(function, *args)

    return _COMPILER.submit(compile_it)


def _run(factory, context, keys, hyper, num_chains, num_draws, cache_key, chunk, progress, stop) -> list[Chains]:
    report = progress or (lambda done, total, phase: None)
    warmup, advance = compiled(factory, cache_key, chunk, num_chains)
    warm_keys, chain_keys, hyper = chain_inputs(keys, hyper, num_chains)
    report(0, num_draws, "compiling")
    active = np.ones(len(keys), bool)                # runs still drawing: a stopped run is skipped
    # the draws' program needs only the shapes of the warm-up's states: it compiles meanwhile
    states, params, _ = jax.eval_shape(warmup, context, hyper, warm_keys)
    advance = _compiled_aside(advance, context, hyper, states, params, chain_keys, 0, active)
    warmup = executable(warmup, context, hyper, warm_keys)
    report(0, num_draws, "warm-up")
    states, params, warm_info = jax.block_until_ready(warmup(context, hyper, warm_keys))
    report(0, num_draws, "compiling draws")
    advance = advance.result()
    report(0, num_draws, "sampling")
    losses, infos = [], []
    runs = [slice(r * num_chains, (r + 1) * num_chains) for r in range(len(keys))]
    ends: dict[int, tuple[int, str]] = {}          # run -> (draws, reason), once its rule stopped it
    for first in range(0, num_draws, chunk):
        states, (loss, info) = advance(context, hyper, states, params, chain_keys, first, active)
        losses.append(np.asarray(loss))
        infos.append(jax.tree.map(np.asarray, info))
        done = min(first + chunk, num_draws)
        report(done, num_draws, "sampling")
        if stop is not None:
            so_far = np.concatenate(losses, axis=1)
            info_so_far = {name: np.concatenate([i[name] for i in infos], axis=1) for name in infos[0]}
            for r, chains in enumerate(runs):
                reason = None if r in ends else stop(r, so_far[chains], {k: v[chains] for k, v in info_so_far.items()})
                if reason:
                    ends[r] = (done, reason)
                    active[r] = False
            if len(ends) == len(runs):
                break
    loss = np.concatenate(losses, axis=1)[:, :num_draws]
    info = {name: np.concatenate([i[name] for i in infos], axis=1)[:, :num_draws] for name in infos[0]}
    warm_info = jax.tree.map(np.asarray, warm_info._asdict())
    return [split(loss, info, warm_info, chains, *ends.get(r, (num_draws, None))) for r, chains in enumerate(runs)]


def split(loss, info: dict, warm_info: dict, chains: slice, draws: int, stopped: str | None) -> Chains:
    """One run's chains out of a batch's arrays, its first ``draws`` draws."""
    info = {name: value[chains, :draws] for name, value in info.items()}
    warm_info = {name: value[chains] for name, value in warm_info.items()}
    grad_evals = int(np.sum(info.pop("grad_evals"))) + int(np.sum(warm_info.pop("grad_evals")))
    return Chains(loss[chains, :draws], info, warm_info, grad_evals, stopped)
