"""The localized tempered posterior: its density, and the loss read back from it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lambda_hat import posterior
from lambda_hat.spec import DataSpec


def linear(dtype=jnp.float64):
    """``(loss, w_true)``: a 3 -> 2 linear model on 200 noisy rows, as a flat weight vector."""
    x = jax.random.normal(jax.random.key(0), (200, 3), dtype)
    w_true = jax.random.normal(jax.random.key(1), (6,), dtype)

    def apply_flat(w, xs):
        return xs @ w.reshape(3, 2)

    y = apply_flat(w_true, x) + 0.5 * jax.random.normal(jax.random.key(2), (200, 2), dtype)
    return posterior.make_loss(apply_flat, x, y, DataSpec(noise_scale=0.5)), w_true


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_the_loss_read_from_the_log_density_is_the_loss(dtype):
    """``loss_at`` undoes the tempering and the localization: samplers whose state holds the
    log-density (HMC, MCLMC, VI's draws) record the loss without another pass over the data."""
    with jax.enable_x64(dtype == jnp.float64):
        loss, w_true = linear(dtype)
        post = posterior.build(loss, w_true, 200, beta0=1.0, gamma=3.0, batch_size=0)
        for seed in range(3):
            w = (w_true + 0.3 * jax.random.normal(jax.random.key(seed), w_true.shape)).astype(dtype)
            read = post.problem.loss_at(w, post.problem.logdensity(w))
            exact = float(loss(w))
            assert read.dtype == dtype
            assert float(read) == pytest.approx(exact, rel=1e-12 if dtype == jnp.float64 else 1e-5)
            assert float(read) != pytest.approx(float(loss(w_true)), rel=1e-3)   # it moved with w


def test_the_full_batch_estimate_is_the_gradient_of_the_log_density():
    with jax.enable_x64(True):
        loss, w_true = linear()
        post = posterior.build(loss, w_true, 200, beta0=1.0, gamma=3.0, batch_size=0)
        w = w_true + 0.1
        estimate = post.problem.grad_estimator(w, jax.random.key(0))
        np.testing.assert_allclose(estimate.grad, jax.grad(post.problem.logdensity)(w), rtol=1e-10)
        assert float(estimate.logdensity) == pytest.approx(float(post.problem.logdensity(w)), rel=1e-12)


def test_a_batch_size_of_zero_or_at_least_n_is_the_full_batch():
    assert [posterior.minibatch(size, 200) for size in (0, 50, 199, 200, 5000)] == [0, 50, 199, 0, 0]
    with jax.enable_x64(True):
        loss, w_true = linear()
        w = w_true + 0.1
        full = posterior.build(loss, w_true, 200, 1.0, 1.0, batch_size=0).problem.grad_estimator(w, jax.random.key(0))
        large = posterior.build(loss, w_true, 200, 1.0, 1.0, batch_size=200).problem.grad_estimator(w, jax.random.key(0))
        small = posterior.build(loss, w_true, 200, 1.0, 1.0, batch_size=20).problem.grad_estimator(w, jax.random.key(0))
    np.testing.assert_array_equal(full.grad, large.grad)
    assert not np.allclose(full.grad, small.grad)
    assert posterior.nbeta(200, 1.0) == pytest.approx(200 / np.log(200))


def test_the_categorical_likelihood_is_the_softmax_cross_entropy():
    """Classification: the loss of integer labels is the mean of -log softmax(logits)[label]."""
    with jax.enable_x64(True):
        logits = jnp.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5]])
        labels = jnp.array([0, 2])
        nll = posterior.nll(logits, labels, DataSpec(noise_model="categorical"))
        expected = [-(2.0 - np.log(np.exp(2.0) + 1 + np.exp(-1.0))), np.log(3.0)]
        np.testing.assert_allclose(nll, expected, rtol=1e-12)
        loss = posterior.make_loss(lambda w, xs: xs * w, logits, labels, DataSpec(noise_model="categorical"))
        assert float(loss(jnp.ones(()))) == pytest.approx(np.mean(expected), rel=1e-12)


def test_a_restricted_posterior_moves_only_its_part():
    """Weight restriction: the sampled part starts at w*'s part, its loss is the full loss with the
    rest held at w*, and the gradient is the full gradient's part."""
    with jax.enable_x64(True):
        loss, w_true = linear()
        indices = np.array([1, 4])
        post = posterior.build(loss, w_true, 200, 1.0, 1.0, batch_size=0, indices=indices)
        np.testing.assert_array_equal(post.problem.position, w_true[indices])
        part = w_true[indices] + 0.2
        full = w_true.at[indices].set(part)
        assert float(post.loss(part)) == pytest.approx(float(loss(full)), rel=1e-12)
        full_gradient = jax.grad(loss)(full)[indices]
        estimate = post.problem.grad_estimator(part, jax.random.key(0))
        np.testing.assert_allclose(estimate.loss_grad, full_gradient, rtol=1e-10)
