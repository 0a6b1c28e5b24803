"""MCLMC: it draws a Gaussian posterior with its own spreads; L and step size are tuned together
or both given, never one alone."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from lambda_hat.config.validate import build
from lambda_hat.samplers import mclmc
from tests.samplers.gaussian import gaussian_problem, one_chain

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
