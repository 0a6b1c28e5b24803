"""Input distributions, noise models, teacher networks and the user's own ``.npz`` data."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat import models
from lambda_hat.errors import DataError
from lambda_hat.spec import DataSpec, ModelSpec, TeacherSpec
from lambda_hat.types import Array, PRNGKey


def data_keys(seed: int):
    """``(data, teacher, noise)`` keys of a target seed."""
    return jax.random.split(jax.random.key(seed), 3)


def sample_inputs(key: PRNGKey, spec: DataSpec, in_dim: int, dtype) -> Array:
    """``[n, in_dim]`` inputs from ``spec.x_dist``, scaled by ``spec.x_scale``."""
    shape = (spec.n, in_dim)
    if spec.x_dist == "gauss_iso":
        x = jax.random.normal(key, shape, dtype)
    elif spec.x_dist == "gauss_aniso":
        x = jax.random.normal(key, shape, dtype) * jnp.geomspace(1.0, 0.1, in_dim).astype(dtype)
    elif spec.x_dist == "mixture":
        centre_key, pick_key, noise_key = jax.random.split(key, 3)
        centres = 2.0 * jax.random.normal(centre_key, (spec.mixture_components, in_dim), dtype)
        picks = jax.random.randint(pick_key, (spec.n,), 0, spec.mixture_components)
        x = centres[picks] + 0.5 * jax.random.normal(noise_key, shape, dtype)
    elif spec.x_dist == "heavy_tail":
        x = jax.random.t(key, spec.x_df, shape, dtype)
    else:  # uniform with unit variance
        x = jax.random.uniform(key, shape, dtype, -jnp.sqrt(3.0), jnp.sqrt(3.0))
    return spec.x_scale * x


def sample_noise(key: PRNGKey, spec: DataSpec, shape, dtype) -> Array:
    """Observation noise of scale ``spec.noise_scale`` from ``spec.noise_model``."""
    if spec.noise_model == "gauss":
        noise = jax.random.normal(key, shape, dtype)
    elif spec.noise_model == "student_t":
        noise = jax.random.t(key, spec.noise_df, shape, dtype)
    else:
        noise = jax.random.laplace(key, shape, dtype)
    return spec.noise_scale * noise


def dln_layers(key: PRNGKey, widths: list[int], rank: int, scale: float, dtype) -> list[dict]:
    """Deep linear layers whose end-to-end product has rank ``rank`` (-1: generic, the minimum width).

    The first layer is a product of ``[H0, r]`` and ``[r, H1]`` Gaussian factors; the others are
    Gaussian, so the product's rank is ``r`` with probability one.
    """
    layers = models.init(key, widths, bias=False, scale=scale, dtype=dtype)
    if 0 <= rank < min(widths):
        left_key, right_key = jax.random.split(jax.random.fold_in(key, 1))
        left = jax.random.normal(left_key, (widths[0], rank), dtype)
        right = jax.random.normal(right_key, (rank, widths[1]), dtype)
        layers[0] = {"w": scale * (left @ right) / jnp.sqrt(widths[0] * max(rank, 1))}
    return layers


class Network(NamedTuple):
    """A network's layers and how to apply them (:func:`models.apply`)."""

    params: list
    activation: str
    skip: bool

    def __call__(self, x: Array) -> Array:
        return models.apply(self.params, x, self.activation, self.skip)


def teacher_network(key: PRNGKey, teacher: TeacherSpec, model: ModelSpec, dtype) -> Network:
    """The teacher that makes the labels."""
    if teacher.kind == "dln":
        return Network(dln_layers(key, model.layer_widths(), teacher.rank, teacher.weight_scale, dtype), "identity", False)
    if teacher.kind == "mlp":
        widths = [model.in_dim, *teacher.widths, model.out_dim]
        return Network(models.init(key, widths, teacher.bias, teacher.weight_scale, dtype), teacher.activation, False)
    params = models.init(key, model.layer_widths(), model.bias, teacher.weight_scale, dtype)
    # random biases, so the labels are not an odd function of x
    params = [dict(layer, b=0.1 * jax.random.normal(jax.random.fold_in(key, i + 7), layer["b"].shape, dtype))
              if "b" in layer else layer for i, layer in enumerate(params)]
    return Network(params, model.activation, model.skip)


def file_digest(path: str) -> str:
    """sha256 of a file's bytes (data files are part of a target's identity)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_npz(path: str, model: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    """``(X, Y)`` from a user's ``.npz``, checked against the model's input and output widths."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{path}: data file not found")
    try:
        with np.load(file, allow_pickle=False) as archive:
            missing = [name for name in ("X", "Y") if name not in archive.files]
            if missing:
                raise DataError(f"{path}: missing array '{missing[0]}' (expected X and Y)")
            x, y = np.asarray(archive["X"], float), np.asarray(archive["Y"], float)
    except DataError:
        raise
    except Exception as err:  # zip or pickle errors of a malformed file
        raise DataError(f"{path}: not a readable .npz file ({type(err).__name__})") from None
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise DataError(f"{path}: expected X [n, {model.in_dim}] and Y [n, {model.out_dim}], "
                        f"got {list(x.shape)} and {list(y.shape)}")
    if x.shape[1] != model.in_dim or y.shape[1] != model.out_dim:
        raise DataError(f"{path}: X has {x.shape[1]} columns and Y {y.shape[1]}, "
                        f"but the model has in_dim {model.in_dim} and out_dim {model.out_dim}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise DataError(f"{path}: X or Y holds NaN or inf")
    return x, y
