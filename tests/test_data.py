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
    params, _, activation, skip = network
    assert activation == {"model": "relu", "mlp": "tanh", "dln": "identity"}[kind] and skip is False
    y = network(jnp.ones((6, 3)))
    assert y.shape == (6, 2)
    np.testing.assert_array_equal(y, models.apply(params, jnp.ones((6, 3)), activation, skip))
    if kind == "dln":
        product = params[0]["w"] @ params[1]["w"]
        assert np.linalg.matrix_rank(np.asarray(product), tol=1e-5) == 1


def test_classification_labels_come_from_the_teachers_softmax():
    """With noise_model categorical, labels are drawn from the softmax of the teacher's outputs: a
    class of logit 2 log 3 above the others is drawn 9 times as often as each of them."""
    logits = jnp.tile(jnp.array([[2 * np.log(3.0), 0.0, 0.0]]), (30000, 1))
    labels = np.asarray(data.labels(jax.random.key(0), logits, DataSpec(noise_model="categorical")))
    assert labels.dtype == np.int32 and labels.shape == (30000,)
    np.testing.assert_allclose(np.bincount(labels) / 30000, [9 / 11, 1 / 11, 1 / 11], atol=0.01)


@pytest.mark.parametrize("name, shape, classes", [("digits", (1797, 64), 10), ("iris", (150, 4), 3),
                                                  ("wine", (178, 13), 3), ("breast_cancer", (569, 30), 2)])
def test_packaged_data_sets_are_read_from_the_package(name, shape, classes):
    x, y = data.packaged(name)
    assert x.shape == shape and data.is_labels(y) and set(np.unique(y)) == set(range(classes))
    if name == "digits":
        assert x.min() == 0 and x.max() == 1                       # pixels 0..16 scaled to [0, 1]
    else:
        np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-9)


def test_a_data_file_is_regression_or_classification_by_its_y(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 3))
    np.savez(tmp_path / "cls.npz", X=x, Y=np.arange(20) % 4)
    np.savez(tmp_path / "reg.npz", X=x, Y=np.arange(20.0))
    np.savez(tmp_path / "neg.npz", X=x, Y=np.arange(20) - 1)
    _, labels = data.read_npz(tmp_path / "cls.npz")
    _, values = data.read_npz(tmp_path / "reg.npz")
    assert data.is_labels(labels) and values.shape == (20, 1) and not data.is_labels(values)
    with pytest.raises(data.DataError, match="the labels Y must be 0 or more, found -1"):
        data.read_npz(tmp_path / "neg.npz")
    with pytest.raises(data.DataError, match="the labels run to 3, outside out_dim 3 \\(classes 0 .. 2\\)"):
        data.check_shapes(x, labels, ModelSpec(in_dim=3, out_dim=3), "cls.npz")
