"""Inputs, noise and teachers: drawn from the target seed alone, with the shapes and ranks asked for."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lambda_hat import data, models
from lambda_hat.spec import DataSpec, ModelSpec, TeacherSpec


def test_the_seed_alone_fixes_the_data():
    spec = DataSpec(n=50, x_dist="mixture")
    first = [data.sample_inputs(data.data_keys(7)[0], spec, 3, jnp.float32) for _ in range(2)]
    other = data.sample_inputs(data.data_keys(8)[0], spec, 3, jnp.float32)
    assert first[0].shape == (50, 3)
    np.testing.assert_array_equal(first[0], first[1])
    assert not np.allclose(first[0], other)


@pytest.mark.parametrize("noise", ["gauss", "student_t", "laplace"])
def test_noise_has_its_scale(noise):
    spec = DataSpec(noise_model=noise, noise_scale=0.5, noise_df=30.0)
    draws = np.asarray(data.sample_noise(jax.random.key(0), spec, (20000, 1), jnp.float32))
    spread = {"gauss": 0.5, "student_t": 0.5 * np.sqrt(30 / 28), "laplace": 0.5 * np.sqrt(2)}[noise]
    assert np.std(draws) == pytest.approx(spread, rel=0.05)


@pytest.mark.parametrize("kind", ["model", "mlp", "dln"])
def test_each_teacher_kind_says_how_to_apply_it(kind):
    model = ModelSpec(in_dim=3, out_dim=2, widths=[4], activation="relu")
    teacher = TeacherSpec(kind=kind, widths=[5], activation="tanh", rank=1)
    network = data.teacher_network(jax.random.key(0), teacher, model, jnp.float32)
    params, activation, skip = network
    assert activation == {"model": "relu", "mlp": "tanh", "dln": "identity"}[kind] and skip is False
    y = network(jnp.ones((6, 3)))
    assert y.shape == (6, 2)
    np.testing.assert_array_equal(y, models.apply(params, jnp.ones((6, 3)), activation, skip))
    if kind == "dln":
        product = params[0]["w"] @ params[1]["w"]
        assert np.linalg.matrix_rank(np.asarray(product), tol=1e-5) == 1
