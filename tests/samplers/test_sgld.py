"""SGLD: with a small step it draws a Gaussian posterior with its own spreads; with a large one or
noisy gradients it is too hot by as much as theory says, and its own bias estimate says so; the
loss at its draws is left to the runner unless asked for the minibatch mean; its kept step fits the
stiffest place its burn-in reached; with Adam the kept chain is a Langevin chain."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from lambda_hat.diagnostics import summary
from lambda_hat.samplers import sgld
from lambda_hat.sampling import chain_bias, error_bar
from tests.samplers.gaussian import gaussian_problem, one_chain, quartic_problem

SCALES = np.array([0.1, 1.0, 0.3])


def test_draws_have_the_posteriors_spread_and_a_summary():
    settings = sgld.Settings(warmup=2000, draws=3000, thin=10, step_scale=0.05)
    positions, info, warmup = one_chain(sgld.build(settings, gaussian_problem(SCALES)), jnp.zeros(3, jnp.float32), 3000)
    # the preconditioner evens out the scales, so the widest coordinate mixes as fast as the narrowest
    np.testing.assert_allclose(np.std(positions, axis=0), SCALES, rtol=0.2)
    assert "loss" not in info                   # draw_loss: full, the runner evaluates it
    assert np.all(info["grad_evals"] == 10 + sgld.BIAS_GRADS) and int(warmup["grad_evals"].sum()) == 2000 + 32
    summary = sgld.summarize(settings, info, warmup, np.zeros((1, 3000)), None)
    assert summary["step_size"] == pytest.approx(float(warmup["step_size"][0])) and summary["step_size"] > 0


def test_minibatch_draw_loss_is_the_mean_of_the_thinning_steps():
    settings = sgld.Settings(warmup=10, draws=5, thin=4, draw_loss="minibatch", precond="none")
    _, info, _ = one_chain(sgld.build(settings, gaussian_problem(SCALES)), jnp.zeros(3, jnp.float32), 5)
    assert info["loss"].shape == (1, 5) and np.all(info["loss"] > 0)


@pytest.mark.parametrize("noise", [0.0, 1.0])
def test_an_unadjusted_chains_heat_is_known_and_its_error_bar_covers_it(noise):
    """On a standard Gaussian in d = 20 (curvature a = 1, λ = d/2 = 10) with step eps and gradient
    noise of variance V, the chain's stationary variance is (1 + eps V / 4) / (1 - eps / 4): λ̂ is
    high by 11 % (V = 0) or 22 % (V = 1) at eps = 0.4. The first-order estimate (eps / 8)(d a + d V)
    removes all but about 1 % of it, and the error bar covers what is left."""
    d, eps = 20, 0.4
    settings = sgld.Settings(warmup=200, draws=6000, thin=1, step_size=eps, precond="none")
    positions, info, warmup = one_chain(sgld.build(settings, gaussian_problem(np.ones(d), noise=noise)),
                                        jnp.zeros(d, jnp.float32), 6000, seed=1)
    llc = 0.5 * np.sum(positions ** 2, axis=1)[None]
    stats = summary(llc)
    hot = d / 2 * (1 + eps * noise ** 2 / 4) / (1 - eps / 4)
    assert stats["mean"] == pytest.approx(hot, abs=4 * stats["sem"])        # the closed form, not λ
    extra = sgld.summarize(settings, info, warmup, llc, None)
    assert extra["llc_bias"] == pytest.approx(eps / 8 * d * (1 + noise ** 2), rel=0.1)
    fixed = summary(llc - chain_bias(info))
    mean, err = fixed["mean"], error_bar(fixed, extra)
    assert abs(stats["mean"] - d / 2) > 2 * stats["sem"]          # the MCSE alone does not cover the bias
    assert abs(mean - d / 2) < 2 * err and abs(mean - d / 2) < 0.04 * d / 2


def test_the_kept_step_fits_the_stiffest_place_the_burn_in_reached():
    """-log p = sum(w^2 / 2 + w^4 / 10): curvature 1 at w* = 0, 1 + 1.2 w^2 where the chain goes
    (about 5 at the widest of 16 coordinates' draws). The automatic step of the kept draws is
    step_scale over the larger of the curvatures at w* and at the chain's position after burn-in,
    so it is smaller than the step that w* alone allows."""
    settings = sgld.Settings(warmup=500, draws=10, thin=1, step_scale=0.2, precond="none")
    algorithm = sgld.build(settings, quartic_problem(16))
    steps = [one_chain(algorithm, jnp.zeros(16, jnp.float32), 10, seed=seed)[2]["step_size"][0] for seed in range(4)]
    at_w_star = settings.step_scale / 1.0
    assert all(step < at_w_star / 2 for step in steps) and all(step > at_w_star / 20 for step in steps)


def test_adam_keeps_its_running_mean_only_while_adapting():
    """With precond: adam the kept draws follow the gradient itself, as the Langevin chain does: on
    the same keys, frozen Adam-SGLD and RMSProp-SGLD with the same frozen preconditioner and step
    draw the same chain."""
    common = dict(warmup=0, draws=50, thin=3, step_size=0.01, precond_decay=0.999)
    start = jnp.full(3, 0.5, jnp.float32)
    adam, _, _ = one_chain(sgld.build(sgld.Settings(precond="adam", **common), gaussian_problem(SCALES)), start, 50)
    rms, _, _ = one_chain(sgld.build(sgld.Settings(precond="rmsprop", **common), gaussian_problem(SCALES)), start, 50)
    np.testing.assert_allclose(adam, rms, rtol=1e-5)
