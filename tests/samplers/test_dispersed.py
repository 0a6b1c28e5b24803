"""Dispersed starts (HMC, NUTS): each chain starts at its own draw of the localization
N(w*, 1/gamma), narrowed by ``init_spread``; at 0 every chain starts at w*, with the keys it had."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lambda_hat.config.validate import build
from lambda_hat.samplers import hmc, mclmc, nuts, sgld, vi
from lambda_hat.types import Algorithm, dispersed
from tests.samplers.gaussian import gaussian_problem


def recorder() -> Algorithm:
    """An algorithm whose warm-up returns where it started and the key it was given."""
    return Algorithm(warmup=lambda key, position: (position, key, None), step=None, position=lambda state: state)


def test_chains_start_at_draws_of_the_narrowed_localization():
    problem = gaussian_problem(np.ones(20_000))._replace(gamma=4.0)
    w_star = jnp.full(20_000, 0.5, jnp.float32)
    warmup = dispersed(recorder(), problem, 0.3).warmup
    start, key, _ = warmup(jax.random.key(1), w_star)
    offset = np.asarray(start - w_star)
    assert start.dtype == w_star.dtype
    np.testing.assert_allclose(np.std(offset), 0.3 / np.sqrt(4.0), rtol=0.03)
    assert abs(np.mean(offset)) < 0.01
    other, _, _ = warmup(jax.random.key(2), w_star)
    assert not np.allclose(other, start)                       # each chain (key) its own start
    assert not np.array_equal(jax.random.key_data(key), jax.random.key_data(jax.random.key(1)))  # the start's noise is not reused


def test_no_spread_leaves_the_algorithm_and_its_keys_alone():
    algorithm = recorder()
    assert dispersed(algorithm, gaussian_problem(np.ones(3))._replace(gamma=1.0), 0.0) is algorithm


@pytest.mark.parametrize("module", [hmc, nuts], ids=["hmc", "nuts"])
def test_a_spread_without_localization_is_refused(module):
    settings, problems = build(module.Settings, {"gamma": 0.0}, "samplers[0]")
    assert settings is None and len(problems) == 1 and "init_spread" in problems[0] and "gamma" in problems[0]
    settings, problems = build(module.Settings, {"gamma": 0.0, "init_spread": 0.0}, "samplers[0]")
    assert problems == [] and settings.init_spread == 0.0


def test_only_the_hamiltonian_samplers_disperse():
    """MCLMC's tuner and SGLD's step adapt where the chains start, and both came out worse from
    dispersed starts (docs/accuracy.md); VI's draws start from q."""
    assert hmc.Settings().init_spread > 0 and nuts.Settings().init_spread > 0
    assert not any(hasattr(module.Settings(), "init_spread") for module in (mclmc, sgld, vi))
