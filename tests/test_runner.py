"""The runner alone, on a toy sampler: chunks, batches of runs and stop rules."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lambda_hat.runner import run_chains
from lambda_hat.types import CHAINS, Algorithm


class Info(NamedTuple):
    loss: jax.Array | None
    grad_evals: jax.Array


class Warmup(NamedTuple):
    grad_evals: jax.Array


def toy_factory(context, hyper):
    """An AR(1) chain around ``context["centre"]`` with spread ``hyper["scale"]``; loss = position."""

    def warmup(key, position):
        return position, {"rho": jnp.asarray(0.5, position.dtype)}, Warmup(jnp.int32(3))

    def step(key, state, params):
        noise = jax.random.normal(key, state.shape, state.dtype) * hyper["scale"]
        state = context["centre"] + params["rho"] * (state - context["centre"]) + noise
        return state, Info(None, jnp.int32(1))        # no loss: the runner evaluates it

    algorithm = Algorithm(warmup=warmup, step=step, position=lambda state: state)
    return algorithm, lambda w: jnp.sum(w), context["centre"]


CONTEXT = {"centre": jnp.zeros(1)}


def draw(num_draws=40, chunk=10, scales=(1.0, 2.0), stop=None):
    keys = [jax.random.key(seed) for seed in range(len(scales))]
    return run_chains(toy_factory, CONTEXT, keys, {"scale": np.asarray(scales)}, 2, num_draws,
                      cache_key="toy", chunk=chunk, stop=stop)


def test_chunks_do_not_change_the_draws():
    whole, pieces = draw(chunk=40), draw(chunk=7)
    for a, b in zip(whole, pieces):
        np.testing.assert_array_equal(a.loss, b.loss)
        assert a.loss.shape == (2, 40) and a.stopped is None
        assert a.grad_evals == 2 * 3 + 2 * 40             # warm-up and one per draw, both chains


def test_a_stop_rule_cuts_each_run_where_it_says():
    asked = []

    def stop(run, loss, info):
        assert all(value.shape == loss.shape for value in info.values())   # each draw's info, as far as drawn
        asked.append((run, loss.shape))
        return "enough" if run == 0 and loss.shape[1] >= 20 else None

    first, second = draw(stop=stop)
    full = draw()
    assert first.stopped == "enough" and first.loss.shape == (2, 20) and first.grad_evals == 2 * 3 + 2 * 20
    np.testing.assert_array_equal(first.loss, full[0].loss[:, :20])   # the same draws, cut short
    assert second.stopped is None and second.loss.shape == (2, 40)
    np.testing.assert_array_equal(second.loss, full[1].loss)
    assert (0, (2, 30)) not in asked                      # a stopped run is not asked again
    assert (1, (2, 40)) in asked                          # the last chunk is checked too


def test_drawing_ends_once_every_run_has_stopped():
    asked = []

    def stop(run, loss, info):
        asked.append(loss.shape[1])
        return "enough"

    runs = draw(stop=stop)
    assert [c.loss.shape[1] for c in runs] == [10, 10] and asked == [10, 10]


def test_a_stopped_run_is_not_drawn_again():
    """With the map layout a run whose flag is off keeps its state and gives zeros: its chains are
    not advanced (the host has already cut its draws), so a batch costs what its live runs cost."""
    from lambda_hat import runner

    if runner.LAYOUT != "map":
        pytest.skip("the vmap layout computes every run")
    states = jnp.arange(4.0)                                   # 2 runs x 2 chains

    def one_chain(hyper, state):
        return state + 1.0, (state * 10.0, {"seen": state})

    new, (drawn, info) = jax.jit(lambda s, a: runner.over_runs(one_chain, 2, jnp.zeros(4), s, active=a))(
        states, jnp.asarray([False, True]))
    np.testing.assert_array_equal(new, [0.0, 1.0, 3.0, 4.0])            # run 0 kept, run 1 advanced
    np.testing.assert_array_equal(drawn, [0.0, 0.0, 20.0, 30.0])
    np.testing.assert_array_equal(info["seen"], [0.0, 0.0, 2.0, 3.0])


class Pooled(NamedTuple):
    grad_evals: jax.Array
    own: jax.Array
    pooled: jax.Array


def pooling_factory(context, hyper):
    """The toy chain whose warm-up tunes a value of its own and shares the smallest of its run's
    chains (``pmin`` over :data:`CHAINS`)."""
    algorithm, loss, start = toy_factory(context, hyper)

    def warmup(key, position):
        own = jax.random.uniform(key, dtype=position.dtype) + hyper["scale"]
        return position, {"rho": jnp.asarray(0.5, position.dtype)}, Pooled(jnp.int32(3), own, jax.lax.pmin(own, CHAINS))

    return algorithm._replace(warmup=warmup), loss, start


@pytest.mark.parametrize("layout", ["map", "vmap"])
def test_a_warm_up_shares_within_its_own_run_only(monkeypatch, layout):
    """A warm-up reduces over its run's chains, never over the batch's: each run of the batch
    (its own offset, the smallest not first) pools its own chains' values."""
    from lambda_hat import runner

    monkeypatch.setattr(runner, "LAYOUT", layout)
    keys = [jax.random.key(seed) for seed in range(3)]
    runs = run_chains(pooling_factory, CONTEXT, keys, {"scale": np.asarray([2.0, 0.0, 1.0])}, 3, 5,
                      cache_key="pooling", chunk=5)
    for offset, run in zip([2.0, 0.0, 1.0], runs):
        own = run.warmup_info["own"]
        assert own.shape == (3,) and np.all((own >= offset) & (own < offset + 1)) and np.ptp(own) > 0
        np.testing.assert_array_equal(run.warmup_info["pooled"], np.full(3, own.min()))


class Noted(NamedTuple):
    loss: jax.Array | None
    grad_evals: jax.Array
    noted: jax.Array


def noting_factory(context, hyper):
    """The toy chain, noting a constant of JAX's default float at each draw."""
    algorithm, loss_fn, start = toy_factory(context, hyper)

    def step(key, state, params):
        state, info = algorithm.step(key, state, params)
        return state, Noted(*info, jnp.asarray(1.0))

    return algorithm._replace(step=step), loss_fn, start


def test_the_draws_program_is_traced_in_the_run_s_own_float():
    """The draws compile in another thread, where JAX's float64 setting is the process's (on here,
    see conftest), not the float32 run's: the program must still be the float32 run's own."""
    assert jax.config.jax_enable_x64
    (run,) = run_chains(noting_factory, {"centre": jnp.zeros(1, jnp.float32)}, [jax.random.key(0)],
                        {"scale": np.asarray([1.0], np.float32)}, 2, 4, cache_key="noting")
    assert run.info["noted"].dtype == np.float32 and run.loss.dtype == np.float32
