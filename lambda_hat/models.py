"""MLPs and deep linear networks as pure ``init`` / ``apply`` functions over pytrees.

Parameters are a list of ``{"w": [fan_in, fan_out], "b": [fan_out]}`` dicts (``b`` absent
without biases); ``w`` maps a row vector, so ``x @ w``.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from lambda_hat.types import Array, PRNGKey, PyTree

ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "gelu": jax.nn.gelu, "identity": lambda x: x}


def init(key: PRNGKey, widths: list[int], bias: bool, scale: float = 1.0, dtype=jnp.float32) -> list[dict]:
    """LeCun-normal weights (times ``scale``) and zero biases for layers ``widths[i] -> widths[i+1]``."""
    keys = jax.random.split(key, len(widths) - 1)
    layers = []
    for layer_key, fan_in, fan_out in zip(keys, widths[:-1], widths[1:]):
        layer = {"w": scale * jax.random.normal(layer_key, (fan_in, fan_out), dtype) / jnp.sqrt(fan_in)}
        if bias:
            layer["b"] = jnp.zeros((fan_out,), dtype)
        layers.append(layer)
    return layers


def apply(params: PyTree, x: Array, activation: str = "tanh", skip: bool = False) -> Array:
    """Forward pass: ``activation`` on hidden layers, identity on the output.

    With ``skip``, a hidden layer whose input and output widths match adds its input (residual).
    """
    act = ACTIVATIONS[activation]
    for index, layer in enumerate(params):
        z = x @ layer["w"] + layer.get("b", 0.0)
        if index < len(params) - 1:
            z = act(z)
            if skip and z.shape[-1] == x.shape[-1] and index > 0:
                z = z + x
        x = z
    return x


def flat(params: PyTree, activation: str = "tanh", skip: bool = False) -> tuple[Array, Callable, Callable]:
    """A network as one flat parameter vector: ``(w, unravel, apply_flat)``, where
    ``apply_flat(w, x)`` is :func:`apply` of ``unravel(w)``; the form training, sampling and the
    posterior work in."""
    w, unravel = ravel_pytree(params)

    def apply_flat(w, x):
        return apply(unravel(w), x, activation, skip)

    return w, unravel, apply_flat


def count(widths: list[int], bias: bool) -> int:
    """Number of parameters of a network with these widths."""
    return sum(a * b + (b if bias else 0) for a, b in zip(widths[:-1], widths[1:]))


def to_arrays(params: PyTree, prefix: str = "layer") -> dict[str, np.ndarray]:
    """Named arrays ``<prefix><i>_<w|b>`` of a network's layers, for an ``.npz`` artifact."""
    return {f"{prefix}{i}_{name}": np.asarray(value) for i, layer in enumerate(params) for name, value in layer.items()}


def from_arrays(arrays: dict, prefix: str = "layer") -> list[dict]:
    """The layers that :func:`to_arrays` saved (other arrays in ``arrays`` are ignored)."""
    layers: dict[int, dict] = {}
    for key, value in arrays.items():
        head, _, name = key.rpartition("_")
        if head.startswith(prefix) and head[len(prefix):].isdigit():
            layers.setdefault(int(head[len(prefix):]), {})[name] = value
    return [layers[i] for i in sorted(layers)]
