"""Networks as layers, as named arrays and as flat vectors: the three forms agree."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat import models


def test_named_arrays_and_flat_vectors_round_trip():
    layers = models.init(jax.random.key(0), [3, 5, 2], bias=True)
    arrays = {**models.to_arrays(layers), **models.to_arrays(layers[:1], "teacher_layer"), "w_star": np.zeros(3)}
    assert sorted(models.to_arrays(layers)) == ["layer0_b", "layer0_w", "layer1_b", "layer1_w"]
    back = models.from_arrays(arrays)
    assert len(back) == 2 and all(np.array_equal(back[i][k], layers[i][k]) for i in range(2) for k in ("w", "b"))
    assert len(models.from_arrays(arrays, "teacher_layer")) == 1
    w, unravel, apply_flat = models.flat(layers, "tanh")
    assert w.size == models.count([3, 5, 2], bias=True) == 3 * 5 + 5 + 5 * 2 + 2
    x = jax.random.normal(jax.random.key(1), (7, 3))
    np.testing.assert_array_equal(apply_flat(w, x), models.apply(layers, x, "tanh"))
    np.testing.assert_array_equal(unravel(w)[1]["w"], layers[1]["w"])


def test_a_linear_network_is_its_product():
    layers = models.init(jax.random.key(2), [4, 3, 2], bias=False)
    x = jax.random.normal(jax.random.key(3), (5, 4))
    product = layers[0]["w"] @ layers[1]["w"]
    np.testing.assert_allclose(models.apply(layers, x, "identity"), x @ product, rtol=1e-5)
    assert "b" not in layers[0] and jnp.shape(product) == (4, 2)
