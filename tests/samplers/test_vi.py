"""VI's two families: each is a normalized density that its own draws agree with, fits a Gaussian
posterior, and runs as the ``vi`` sampler in both precisions."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from lambda_hat.diagnostics import summary
from lambda_hat.samplers import vi
from lambda_hat.samplers.flow import FlowFamily
from lambda_hat.samplers.mfa import MixtureFamily
from lambda_hat.sampling import error_bar
from tests.samplers.gaussian import gaussian_problem

FAMILIES = {"mfa": MixtureFamily(components=3, rank=1, samples=2), "flow": FlowFamily(d=3, layers=2, width=16, samples=2)}


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_draws_carry_the_density_of_q(name):
    """``draw`` returns log q of its own point: for a fresh (random) q, the density integrates to 1
    (importance sampling from a wide Gaussian) and E_q[log q] matches the draws' mean."""
    q, s0 = FAMILIES[name], 0.5
    raw = q.init(jax.random.key(1), 3, jnp.float32)
    offsets, log_q = jax.vmap(lambda k: q.draw(raw, s0, k))(jax.random.split(jax.random.key(2), 4000))
    assert offsets.shape == (4000, 3) and np.all(np.isfinite(log_q))
    # the density of every draw, recomputed at the point: a density, not just a number per draw
    wide = stats.multivariate_normal(np.zeros(3), 4.0 * np.eye(3))
    points = wide.rvs(20000, random_state=0)
    density = np.exp(np.asarray(jax.vmap(lambda x: density_at(q, raw, s0, x))(jnp.asarray(points, jnp.float32))))
    assert np.mean(density / wide.pdf(points)) == pytest.approx(1.0, abs=0.05)
    np.testing.assert_allclose(jax.vmap(lambda x: density_at(q, raw, s0, x))(offsets[:50]), log_q[:50], rtol=1e-4, atol=1e-3)


def density_at(q, raw, s0, offset):
    if isinstance(q, FlowFamily):
        return q.distribution(raw).log_prob(offset / s0) - q.d * jnp.log(s0)
    from lambda_hat.samplers.mfa import log_q
    return log_q(raw.scaled(s0), offset)


@pytest.mark.parametrize("family", ["mfa", "flow"])
def test_each_family_fits_a_gaussian_posterior(family):
    """On an anisotropic Gaussian (scales 1 : 10) the fitted q has the posterior's variances and
    draws whose importance weights are nearly flat (q's own draws: no refinement)."""
    scales = np.array([0.1, 1.0, 0.3])
    settings = vi.Settings(family=family, steps=1500, lr=0.02, samples=4, M=1, r=1, flow_layers=2, flow_width=16,
                           refine_steps=0)
    algorithm = vi.build(settings, gaussian_problem(scales))
    state, fitted, info = jax.jit(algorithm.warmup)(jax.random.key(0), jnp.zeros(3, jnp.float32))
    draws, infos = jax.vmap(lambda k: algorithm.step(k, state, fitted))(jax.random.split(jax.random.key(1), 4000))
    np.testing.assert_allclose(np.std(np.asarray(draws), axis=0), scales, rtol=0.1)
    assert np.std(np.asarray(infos.log_weight)) < 0.3
    assert info.grad_evals == 1500 * 4


def test_refinement_carries_a_poor_q_to_the_posterior():
    """A q fitted for 5 steps only (far too wide or narrow) gives draws off the posterior; 100
    Metropolis-adjusted Langevin steps from each bring their spread to the posterior's, each draw
    remembering where it started (``loss_q``) and how far it had come halfway (``loss_half``). The
    scales span a factor 3: a Langevin step is set by the stiffest, so a direction 10x wider would
    need about 100 steps to settle. Settled, the refinement forgets its start: the twins of the
    warm-up's pairs, started twice as far from the start point, end at the same mean loss."""
    scales = np.array([0.1, 0.3, 0.2])
    problem = gaussian_problem(scales)

    def draws_of(refine_steps, twins=400):
        settings = vi.Settings(steps=5, M=1, r=0, refine_steps=refine_steps, twins=twins)
        algorithm = vi.build(settings, problem)
        state, fitted, warmup = jax.jit(algorithm.warmup)(jax.random.key(0), jnp.zeros(3, jnp.float32))
        draws = jax.jit(jax.vmap(lambda k: algorithm.step(k, state, fitted)))(jax.random.split(jax.random.key(1), 4000))
        return (*draws, warmup)

    plain, plain_info, plain_warmup = draws_of(0)
    refined, info, warmup = draws_of(100)
    assert np.max(np.abs(np.std(np.asarray(plain), axis=0) / scales - 1)) > 0.5
    np.testing.assert_allclose(np.std(np.asarray(refined), axis=0), scales, rtol=0.1)
    np.testing.assert_array_equal(plain_info.loss, plain_info.loss_q)
    # the loss is -log p here: its posterior mean is d/2 = 1.5
    assert np.mean(info.loss) == pytest.approx(1.5, rel=0.1) and np.mean(info.loss_half) == pytest.approx(1.5, rel=0.1)
    assert abs(np.mean(info.loss_q) - 1.5) > 0.5
    assert 0.3 < float(np.mean(info.accepted)) < 0.95 and int(info.grad_evals[0]) == 101
    assert np.mean(warmup.pair_loss) == pytest.approx(1.5, rel=0.1)
    assert np.mean(warmup.twin_loss) == pytest.approx(1.5, rel=0.1)
    assert plain_warmup.twin_loss.shape == (0,) and int(warmup.grad_evals) == 5 + 2 * 400 * 101
    # the twins are the warm-up's: the draws are those of a run without them
    alone, _, alone_warmup = draws_of(100, twins=0)
    assert alone_warmup.twin_loss.shape == (0,) and int(alone_warmup.grad_evals) == 5
    np.testing.assert_array_equal(np.asarray(alone), np.asarray(refined))


def test_an_unknown_family_is_refused():
    from lambda_hat.config.validate import build

    settings, problems = build(vi.Settings, {"family": "gaussian"}, "samplers[0]")
    assert settings is None and len(problems) == 1 and "samplers[0].family" in problems[0]


@pytest.mark.parametrize("refine_steps", [3, 10])
def test_twins_say_how_far_an_unsettled_refinement_is_from_the_posterior(refine_steps):
    """Too few Langevin steps from a poor q (5 fitting steps, too narrow) leave the draws' mean loss
    off the posterior's (d/2 = 1.5), by far more than its Monte Carlo error; the twins, started
    twice as far out, end elsewhere (a gap well beyond its own noise), and the error bar covers
    the draws' miss."""
    scales = np.array([0.1, 0.3, 0.2])
    settings = vi.Settings(steps=5, M=1, r=0, refine_steps=refine_steps, twins=400)
    algorithm = vi.build(settings, gaussian_problem(scales))
    state, fitted, warmup = jax.jit(algorithm.warmup)(jax.random.key(0), jnp.zeros(3, jnp.float32))
    _, info = jax.jit(jax.vmap(lambda k: algorithm.step(k, state, fitted)))(jax.random.split(jax.random.key(1), 4000))
    info = {name: np.asarray(value, float)[None] for name, value in info._asdict().items()}
    warmup = {name: np.asarray(value, float)[None] for name, value in warmup._asdict().items()}
    loss = info["loss"]
    extra = vi.summarize(settings, info, warmup, loss, lambda values: values)
    stats = summary(loss, settings.iid)
    assert abs(stats["mean"] - 1.5) > 4 * stats["sem"]
    assert abs(extra["refine_gap"]) > 2 * extra["refine_gap_se"]
    assert abs(stats["mean"] - 1.5) <= 2 * error_bar(stats, extra)
