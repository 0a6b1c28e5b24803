"""Window adaptation (HMC and NUTS): both samplers draw a Gaussian posterior with its own spreads
and summarize their draws in typed fields."""

from __future__ import annotations

import math

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lambda_hat.samplers import hmc, nuts
from tests.samplers.gaussian import gaussian_problem, one_chain

SCALES = np.array([0.1, 1.0, 0.3])


@pytest.mark.parametrize("module", [hmc, nuts], ids=["hmc", "nuts"])
def test_draws_have_the_posteriors_spread_and_a_summary(module):
    settings = module.Settings(warmup=300, draws=1500, dtype="float32")
    algorithm = module.build(settings, gaussian_problem(SCALES))
    positions, info, warmup = one_chain(algorithm, jnp.zeros(3, jnp.float32), 1500)
    np.testing.assert_allclose(np.std(positions, axis=0), SCALES, rtol=0.15)
    assert set(info) == set(module.Info._fields) and set(warmup) == set(module.Warmup._fields)
    assert np.all(info["grad_evals"] >= 1) and int(np.sum(warmup["grad_evals"])) >= 300
    np.testing.assert_allclose(info["loss"][0], 0.5 * np.sum((positions / SCALES) ** 2, axis=1), rtol=1e-4)
    summary = module.summarize(settings, info, warmup, info["loss"], None)
    assert summary["target_acceptance"] == settings.target_acceptance and 0.6 < summary["acceptance_rate"] < 0.97
    assert summary["divergences"] == 0 and summary["divergent_fraction"] == 0.0
    assert 0 < summary["step_size"] < 1.0        # below the widest scale, tuned to the narrowest


@pytest.mark.parametrize("module", [hmc, nuts], ids=["hmc", "nuts"])
def test_no_warmup_draws_with_the_initial_step_and_a_unit_mass(module):
    """warmup: 0 skips the adaptation (blackjax's window adaptation fails on zero steps): the chain
    draws with the step it starts from, here one given, and the posterior is still drawn right."""
    settings = module.Settings(warmup=0, draws=1500, step_size=0.05, dtype="float32")
    algorithm = module.build(settings, gaussian_problem(SCALES))
    positions, info, warmup = one_chain(algorithm, jnp.zeros(3, jnp.float32), 1500)
    assert int(np.sum(warmup["grad_evals"])) == 0 and warmup["acceptance_rate"].size == 0
    np.testing.assert_allclose(info["step_size"][0].mean(), 0.05, rtol=0.25)        # jitter (hmc) averages out
    assert info["step_size"].max() <= 0.05 * (1 + 1e-6)     # and never goes above the step given (or adapted)
    np.testing.assert_allclose(np.std(positions, axis=0), SCALES, rtol=0.25)


@pytest.mark.parametrize("steps", [16, 6, 5])
def test_grouped_leapfrog_steps_make_the_same_trajectory(steps):
    """HMC traces its leapfrog steps a few at a time (``hmc.grouped``, fewer loop iterations):
    the transition is the one of ``steps`` single leapfrog steps, and counts ``steps`` gradients."""
    problem = gaussian_problem(SCALES, jnp.float64)
    size = math.gcd(steps, hmc.UNROLL)
    position = jnp.asarray([0.3, -1.0, 0.2], jnp.float64)
    plain = blackjax.hmc(problem.logdensity, 0.05, jnp.ones(3), steps)
    grouped = blackjax.hmc(problem.logdensity, 0.05, jnp.ones(3), steps // size, integrator=hmc.grouped(size))
    key = jax.random.key(3)
    expected, _ = plain.step(key, plain.init(position))
    found, _ = grouped.step(key, grouped.init(position))
    np.testing.assert_allclose(found.position, expected.position, rtol=1e-10)
    assert not np.allclose(found.position, position)             # the proposal moved, and was accepted
    algorithm = hmc.build(hmc.Settings(warmup=20, num_integration_steps=steps, init_spread=0.0), problem)
    _, info, _ = one_chain(algorithm, position, 5)
    assert np.all(info["grad_evals"] == steps)
