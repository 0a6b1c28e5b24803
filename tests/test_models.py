"""Networks as layers, as named arrays and as flat vectors: the three forms agree; the CNN and its
parameter count; key paths and weight restrictions."""

from __future__ import annotations

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

from lambda_hat import models
from lambda_hat.errors import InputError
from lambda_hat.spec import ModelSpec


def test_named_arrays_and_flat_vectors_round_trip():
    layers = models.init(jax.random.key(0), [3, 5, 2], bias=True)
    arrays = {**models.to_arrays(layers), **models.to_arrays(layers[:1], "teacher_layer"), "w_star": np.zeros(3)}
    assert sorted(models.to_arrays(layers)) == ["layer0_b", "layer0_w", "layer1_b", "layer1_w"]
    back = models.from_arrays(arrays)
    assert len(back) == 2 and all(np.array_equal(back[i][k], layers[i][k]) for i in range(2) for k in ("w", "b"))
    assert len(models.from_arrays(arrays, "teacher_layer")) == 1
    network = models.Network(None, lambda params, x: models.apply(params, x, "tanh"))
    w, unravel, apply_flat = models.flat(network, layers)
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


def test_the_shallow_cnn_has_its_layers_and_parameters():
    spec = ModelSpec(architecture="cnn", in_dim=64, out_dim=10, widths=[], channels=[8, 16], activation="relu")
    network = models.build(spec, jnp.float32)
    params = network.init(jax.random.key(0))
    assert [layer["w"].shape for layer in params["conv"]] == [(3, 3, 1, 8), (3, 3, 8, 16)]
    assert params["dense"][0]["w"].shape == (2 * 2 * 16, 10)          # 8x8 -> 4x4 -> 2x2, 16 channels
    assert sum(leaf.size for leaf in jax.tree.leaves(params)) == 1898
    x = jax.random.uniform(jax.random.key(1), (5, 64), jnp.float32)
    out = network.apply(params, x)
    assert out.shape == (5, 10) and np.all(np.isfinite(out))
    # a convolution sees the image: moving one pixel changes the outputs, per row
    moved = x.at[0, 9].add(1.0)
    changed = np.any(np.asarray(network.apply(params, moved)) != np.asarray(out), axis=1)
    assert changed.tolist() == [True, False, False, False, False]


def test_key_paths_and_weight_restriction():
    layers = models.init(jax.random.key(0), [3, 4, 2], bias=True)
    assert models.parameter_paths(layers) == [("0/b", (4,)), ("0/w", (3, 4)), ("1/b", (2,)), ("1/w", (4, 2))]
    w, unravel = jax.flatten_util.ravel_pytree(layers)
    chosen = models.select(layers, "1/w")
    np.testing.assert_array_equal(w[chosen], np.ravel(layers[1]["w"]))
    assert models.select(layers, "") is None
    assert len(models.select(layers, "1, 0/b")) == 2 + 8 + 4
    with pytest.raises(InputError, match="restrict: '2' names no parameter of this model .*0/b, 0/w, 1/b, 1/w"):
        models.select(layers, "2")
