"""Networks as pure functions over pytrees: the one interface every model has, a :class:`Network`
``(init, apply)``, where ``init(key)`` gives a parameter pytree and ``apply(params, x)`` the outputs
``[n, out_dim]`` of inputs ``[n, in_dim]`` (images flattened, row by row, channels last).

Built from a :class:`~lambda_hat.spec.ModelSpec`: an MLP (a deep linear network with
``activation: identity, bias: false``), a small convolutional network (``architecture: cnn``), or
a user's own model file (``file``, see :mod:`lambda_hat.model_file`).

MLP parameters are a list of ``{"w": [fan_in, fan_out], "b": [fan_out]}`` dicts (``b`` absent
without biases); ``w`` maps a row vector, so ``x @ w``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from lambda_hat import model_file
from lambda_hat.errors import InputError
from lambda_hat.spec import ModelSpec
from lambda_hat.types import Array, PRNGKey, PyTree

ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh, "gelu": jax.nn.gelu, "identity": lambda x: x}


class Network(NamedTuple):
    """A model: ``init(key) -> params`` and ``apply(params, x) -> outputs``."""

    init: Callable[[PRNGKey], PyTree]
    apply: Callable[[PyTree, Array], Array]


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
    """Forward pass of an MLP: ``activation`` on hidden layers, identity on the output.

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


def mlp(spec: ModelSpec, dtype) -> Network:
    """The MLP (or deep linear network) of a model spec."""
    widths = spec.layer_widths()
    return Network(lambda key: init(key, widths, spec.bias, spec.init_scale, dtype),
                   lambda params, x: apply(params, x, spec.activation, spec.skip))


def image_shape(spec: ModelSpec) -> tuple[int, int, int]:
    """``(height, width, channels)`` of a CNN's inputs: ``image``, else square with one channel."""
    if spec.image:
        return tuple(spec.image)
    side = math.isqrt(spec.in_dim)
    return side, side, 1


def cnn(spec: ModelSpec, dtype) -> Network:
    """A small convolutional network: for each of ``channels``, a ``kernel`` x ``kernel`` convolution
    (same padding, with bias), ``activation`` and 2 x 2 average pooling (where the map is still at
    least 2 x 2); then the flattened map through dense layers of ``widths`` to ``out_dim``.

    ``cnn_shallow`` (8 x 8 digits): conv 3x3 1->8, pool to 4x4; conv 3x3 8->16, pool to 2x2; dense
    64 -> 10: 1 898 parameters.
    """
    height, width, channels = image_shape(spec)
    act = ACTIVATIONS[spec.activation]
    sizes = [(height, width)]
    for _ in spec.channels:
        h, w = sizes[-1]
        sizes.append((h // 2, w // 2) if min(h, w) >= 2 else (h, w))
    flat_dim = sizes[-1][0] * sizes[-1][1] * (spec.channels[-1] if spec.channels else channels)
    dense = [flat_dim, *spec.hidden(), spec.out_dim]

    def init_cnn(key):
        keys = jax.random.split(key, len(spec.channels) + 1)
        conv, fan_in = [], channels
        for layer_key, fan_out in zip(keys, spec.channels):
            scale = spec.init_scale / math.sqrt(spec.kernel * spec.kernel * fan_in)
            conv.append({"w": scale * jax.random.normal(layer_key, (spec.kernel, spec.kernel, fan_in, fan_out), dtype),
                         "b": jnp.zeros((fan_out,), dtype)})
            fan_in = fan_out
        return {"conv": conv, "dense": init(keys[-1], dense, True, spec.init_scale, dtype)}

    def apply_cnn(params, x):
        z = x.reshape(x.shape[0], height, width, channels)
        for layer, (h, w) in zip(params["conv"], sizes[1:]):
            z = jax.lax.conv_general_dilated(z, layer["w"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
            z = act(z + layer["b"])
            if (h, w) != z.shape[1:3]:          # 2 x 2 average pooling (an odd last row or column is dropped)
                z = z[:, :2 * h, :2 * w].reshape(z.shape[0], h, 2, w, 2, z.shape[-1]).mean(axis=(2, 4))
        return apply(params["dense"], z.reshape(z.shape[0], -1), spec.activation)

    return Network(init_cnn, apply_cnn)


def build(spec: ModelSpec, dtype, file: Path | None = None) -> Network:
    """The network of a model spec; ``file``: where to read a model file from, where not its spec's
    own path (a copy staged into a task, or kept with the target). A model file's network has its
    parameters in ``dtype`` and is checked on two inputs (see :func:`model_file.check`)."""
    if not spec.file:
        return cnn(spec, dtype) if spec.architecture == "cnn" else mlp(spec, dtype)
    path = Path(file or spec.file)
    init, apply = model_file.functions(path, spec.name, spec.in_dim, spec.out_dim, spec.args)
    network = Network(lambda key: cast(init(key), dtype), apply)
    model_file.check(*network, spec.in_dim, spec.out_dim, dtype,
                     f"{path}: {model_file.call(spec.name, spec.in_dim, spec.out_dim, spec.args)}")
    return network


def cast(params: PyTree, dtype) -> PyTree:
    """Every floating leaf of ``params`` in ``dtype`` (a user's init may give float32 leaves)."""
    return jax.tree.map(lambda leaf: leaf.astype(dtype) if jnp.issubdtype(jnp.result_type(leaf), jnp.floating) else leaf,
                        params)


def flat(network: Network, params: PyTree) -> tuple[Array, Callable, Callable]:
    """A network at ``params`` as one flat parameter vector: ``(w, unravel, apply_flat)``, where
    ``apply_flat(w, x)`` is ``network.apply(unravel(w), x)``; the form training, sampling and the
    posterior work in."""
    w, unravel = ravel_pytree(params)

    def apply_flat(w, x):
        return network.apply(unravel(w), x)

    return w, unravel, apply_flat


def count(widths: list[int], bias: bool) -> int:
    """Number of parameters of an MLP with these widths."""
    return sum(a * b + (b if bias else 0) for a, b in zip(widths[:-1], widths[1:]))


def path_name(path: tuple) -> str:
    """A pytree key path as text, ``/``-joined: ``0/w``, ``conv/1/b``, ``params/Dense_0/kernel``."""
    parts = []
    for key in path:
        for attribute in ("key", "idx", "name"):
            if hasattr(key, attribute):
                parts.append(str(getattr(key, attribute)))
                break
        else:
            parts.append(str(key))
    return "/".join(parts)


def parameter_paths(params: PyTree) -> list[tuple[str, tuple[int, ...]]]:
    """``(path, shape)`` of every leaf, in the order of the flat vector (``ravel_pytree``)."""
    return [(path_name(path), tuple(np.shape(leaf))) for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]]


def select(params: PyTree, restrict: str) -> np.ndarray | None:
    """The coordinates of the flat vector that ``restrict`` names: comma-separated key-path
    prefixes (``1/w``: that array; ``1``: all of layer 1; ``params/Dense_0``), or ``None`` for an
    empty ``restrict`` (every coordinate). A prefix that names no parameter is an error."""
    prefixes = [part.strip().strip("/") for part in restrict.split(",") if part.strip()]
    if not prefixes:
        return None
    chosen, matched, offset = [], set(), 0
    paths = parameter_paths(params)
    for name, shape in paths:
        size = int(np.prod(shape, dtype=int))
        hits = {prefix for prefix in prefixes if name == prefix or name.startswith(prefix + "/")}
        if hits:
            chosen.append(np.arange(offset, offset + size))
            matched |= hits
        offset += size
    missing = [prefix for prefix in prefixes if prefix not in matched]
    if missing:
        raise InputError(f"restrict: '{missing[0]}' names no parameter of this model (its parameters: "
                         f"{', '.join(name for name, _ in paths[:12])}{', ...' if len(paths) > 12 else ''})")
    return np.concatenate(chosen)


def to_arrays(params: PyTree, prefix: str = "layer") -> dict[str, np.ndarray]:
    """Named arrays ``<prefix><i>_<w|b>`` of an MLP's layers, for an ``.npz`` artifact."""
    return {f"{prefix}{i}_{name}": np.asarray(value) for i, layer in enumerate(params) for name, value in layer.items()}


def from_arrays(arrays: dict, prefix: str = "layer") -> list[dict]:
    """The layers that :func:`to_arrays` saved (other arrays in ``arrays`` are ignored)."""
    layers: dict[int, dict] = {}
    for key, value in arrays.items():
        head, _, name = key.rpartition("_")
        if head.startswith(prefix) and head[len(prefix):].isdigit():
            layers.setdefault(int(head[len(prefix):]), {})[name] = value
    return [layers[i] for i in sorted(layers)]
