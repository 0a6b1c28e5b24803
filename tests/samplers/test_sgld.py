"""SGLD: with a small step it draws a Gaussian posterior with its own spreads; the loss at its
draws is left to the runner unless asked for the minibatch mean."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from lambda_hat.samplers import sgld
from tests.samplers.gaussian import gaussian_problem, one_chain

SCALES = np.array([0.1, 1.0, 0.3])


def test_draws_have_the_posteriors_spread_and_a_summary():
    settings = sgld.Settings(warmup=2000, draws=3000, thin=10, step_scale=0.05)
    positions, info, warmup = one_chain(sgld.build(settings, gaussian_problem(SCALES)), jnp.zeros(3, jnp.float32), 3000)
    # the preconditioner evens out the scales, so the widest coordinate mixes as fast as the narrowest
    np.testing.assert_allclose(np.std(positions, axis=0), SCALES, rtol=0.2)
    assert "loss" not in info                   # draw_loss: full, the runner evaluates it
    assert np.all(info["grad_evals"] == 10) and int(warmup["grad_evals"].sum()) == 2000 + 32
    summary = sgld.summarize(settings, info, warmup, np.zeros((1, 3000)), None)
    assert summary["step_size"] == pytest.approx(float(warmup["step_size"][0])) and summary["step_size"] > 0


def test_minibatch_draw_loss_is_the_mean_of_the_thinning_steps():
    settings = sgld.Settings(warmup=10, draws=5, thin=4, draw_loss="minibatch", precond="none")
    _, info, _ = one_chain(sgld.build(settings, gaussian_problem(SCALES)), jnp.zeros(3, jnp.float32), 5)
    assert info["loss"].shape == (1, 5) and np.all(info["loss"] > 0)
