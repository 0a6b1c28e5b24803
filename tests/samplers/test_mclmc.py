"""MCLMC: it draws a Gaussian posterior with its own spreads; L and step size are tuned together
or both given, never one alone; a run's chains draw with the smallest step any of them tuned."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from lambda_hat.config.validate import build
from lambda_hat.samplers import mclmc
from tests.samplers.gaussian import chains_of, gaussian_problem, one_chain

SCALES = np.array([0.1, 1.0, 0.3])


def test_draws_have_the_posteriors_spread_and_a_summary():
    settings = mclmc.Settings(warmup=500, draws=4000, dtype="float32")
    positions, info, warmup = one_chain(mclmc.build(settings, gaussian_problem(SCALES)), jnp.zeros(3, jnp.float32), 4000)
    np.testing.assert_allclose(np.std(positions, axis=0), SCALES, rtol=0.2)
    assert set(info) == set(mclmc.Info._fields) and np.all(info["grad_evals"] == mclmc.GRADS_PER_STEP)
    summary = mclmc.summarize(settings, info, warmup, info["loss"], None)
    assert summary["step_size"] > 0 and 0 <= summary["energy_change_var"] < 0.1


def test_given_L_and_step_size_skip_tuning():
    settings = mclmc.Settings(warmup=500, draws=10, L=1.0, step_size=0.05, dtype="float32")
    _, info, warmup = one_chain(mclmc.build(settings, gaussian_problem(SCALES)), jnp.zeros(3, jnp.float32), 10)
    assert int(warmup["grad_evals"].sum()) == 0
    np.testing.assert_allclose(info["step_size"], 0.05)
    np.testing.assert_allclose(info["L"], 1.0)


def test_one_of_L_and_step_size_alone_is_refused():
    for given in ({"L": 1.0}, {"step_size": 0.1}):
        settings, problems = build(mclmc.Settings, given, "samplers[0]")
        assert settings is None and len(problems) == 1 and "set both" in problems[0]


def test_chains_draw_with_the_smallest_step_their_run_tuned():
    """Each chain tunes its own step; with ``shared_step`` (the default) every chain draws with the
    smallest of them and keeps its own L, the same tuning otherwise (the same keys)."""
    def tuned(shared):
        settings = mclmc.Settings(warmup=200, draws=5, dtype="float32", shared_step=shared)
        _, info, _ = chains_of(mclmc.build(settings, gaussian_problem(SCALES)), jnp.zeros(3, jnp.float32), 5, chains=4)
        return info["step_size"][:, 0], info["L"][:, 0]

    own_steps, own_L = tuned(False)
    shared_steps, shared_L = tuned(True)
    assert np.ptp(own_steps) > 0.05 * np.min(own_steps)          # the chains tuned steps of their own
    np.testing.assert_allclose(shared_steps, np.min(own_steps))
    np.testing.assert_allclose(shared_L, own_L)
