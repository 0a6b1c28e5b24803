"""Input distributions, noise models, teacher networks, the user's own ``.npz`` data and the data
sets packages ship.

Regression data has ``Y`` ``[n, out_dim]`` (floats); classification data has ``Y`` ``[n]``, integer
labels in ``0 .. out_dim - 1`` (the likelihood is then categorical over the model's ``out_dim``
outputs, its logits).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from lambda_hat import models
from lambda_hat.errors import DataError
from lambda_hat.spec import DataSpec, ModelSpec, TeacherSpec
from lambda_hat.types import Array, PRNGKey, PyTree


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


class Teacher(NamedTuple):
    """The network that makes the labels: its parameters and how to apply them. An MLP teacher also
    has its ``activation`` and ``skip`` (saved with the target, for plots); others have ``None``."""

    params: PyTree
    apply: Callable
    activation: str | None = None
    skip: bool = False

    def __call__(self, x: Array) -> Array:
        return self.apply(self.params, x)


def mlp_teacher(params: list, activation: str, skip: bool = False) -> Teacher:
    return Teacher(params, lambda p, x: models.apply(p, x, activation, skip), activation, skip)


def teacher_network(key: PRNGKey, teacher: TeacherSpec, model: ModelSpec, dtype,
                    network: models.Network | None = None) -> Teacher:
    """The teacher that makes the labels: a deep linear network, an MLP, or a random network of the
    student's own architecture (``model``; ``network``, the student's, where it is not an MLP)."""
    if teacher.kind == "dln":
        return mlp_teacher(dln_layers(key, model.layer_widths(), teacher.rank, teacher.weight_scale, dtype), "identity")
    if teacher.kind == "mlp":
        widths = [model.in_dim, *teacher.widths, model.out_dim]
        return mlp_teacher(models.init(key, widths, teacher.bias, teacher.weight_scale, dtype), teacher.activation)
    if not model.is_mlp:
        network = network or models.build(model, dtype)
        params = jax.tree.map(lambda leaf: teacher.weight_scale * leaf, models.cast(network.init(key), dtype))
        return Teacher(params, network.apply)
    params = models.init(key, model.layer_widths(), model.bias, teacher.weight_scale, dtype)
    # random biases, so the labels are not an odd function of x
    params = [dict(layer, b=0.1 * jax.random.normal(jax.random.fold_in(key, i + 7), layer["b"].shape, dtype))
              if "b" in layer else layer for i, layer in enumerate(params)]
    return mlp_teacher(params, model.activation, model.skip)


def labels(key: PRNGKey, outputs: Array, data: DataSpec) -> Array:
    """Observations of a teacher's ``outputs``: plus noise (regression), or classes drawn from the
    softmax of its outputs (``categorical``: integer labels ``[n]``)."""
    if data.noise_model == "categorical":
        return jax.random.categorical(key, outputs, axis=-1).astype(jnp.int32)
    return outputs + sample_noise(key, data, outputs.shape, outputs.dtype)


def is_labels(y: np.ndarray) -> bool:
    """Whether ``Y`` is classification data: a 1-D vector of integers."""
    return np.ndim(y) == 1 and np.issubdtype(np.asarray(y).dtype, np.integer)


def packaged(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X, labels)`` of a data set scikit-learn ships (nothing is downloaded): ``digits`` (8 x 8
    images of 10 digits, 1 797 rows; pixels scaled to [0, 1]), ``iris`` (150 x 4, 3 classes), ``wine``
    (178 x 13, 3 classes), ``breast_cancer`` (569 x 30, 2 classes); features standardized."""
    from sklearn import datasets as shipped

    bunch = getattr(shipped, f"load_{name}")()
    x = np.asarray(bunch.data, float)
    x = x / 16.0 if name == "digits" else (x - x.mean(axis=0)) / x.std(axis=0)
    return x, np.asarray(bunch.target, np.int32)


def read_npz(path: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X, Y)`` of a user's ``.npz``: ``X`` ``[n, p]`` and either ``Y`` ``[n, k]`` (floats; ``[n]``
    is one output) or integer labels ``[n]``; raises :class:`DataError` naming the file."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{path}: data file not found")
    try:
        with np.load(file, allow_pickle=False) as archive:
            missing = [name for name in ("X", "Y") if name not in archive.files]
            if missing:
                raise DataError(f"{path}: missing array '{missing[0]}' (expected X and Y)")
            x, y = np.asarray(archive["X"], float), np.asarray(archive["Y"])
    except DataError:
        raise
    except Exception as err:  # zip or pickle errors of a malformed file
        raise DataError(f"{path}: not a readable .npz file ({type(err).__name__})") from None
    if not is_labels(y):
        y = np.asarray(y, float)
        if y.ndim == 1:
            y = y[:, None]
    if x.ndim != 2 or y.ndim not in (1, 2) or x.shape[0] != y.shape[0]:
        raise DataError(f"{path}: expected X [n, p] and Y [n, k] (or integer labels [n]), "
                        f"got {list(x.shape)} and {list(y.shape)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise DataError(f"{path}: X or Y holds NaN or inf")
    if is_labels(y) and y.min() < 0:
        raise DataError(f"{path}: the labels Y must be 0 or more, found {int(y.min())}")
    return x, y


def check_shapes(x: np.ndarray, y: np.ndarray, model: ModelSpec, where: str) -> None:
    """Raise :class:`DataError` unless ``X`` and ``Y`` fit the model's ``in_dim`` and ``out_dim``."""
    if x.shape[1] != model.in_dim:
        raise DataError(f"{where}: X has {x.shape[1]} columns, but the model has in_dim {model.in_dim}")
    if is_labels(y):
        if y.max() >= model.out_dim:
            raise DataError(f"{where}: the labels run to {int(y.max())}, outside out_dim {model.out_dim} "
                            f"(classes 0 .. {model.out_dim - 1})")
    elif y.shape[1] != model.out_dim:
        raise DataError(f"{where}: Y has {y.shape[1]} columns, but the model has out_dim {model.out_dim}")


def load_npz(path: str, model: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    """``(X, Y)`` from a user's ``.npz``, checked against the model's input and output widths."""
    x, y = read_npz(path)
    check_shapes(x, y, model, path)
    return x, y
