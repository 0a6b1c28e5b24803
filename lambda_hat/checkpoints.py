"""Checkpoints: a network's parameters saved during training, each a w* whose LLC is estimated
(``checkpoints: [a.npz, b.npz]`` in a target entry: one target per file, none trained).

A checkpoint is an ``.npz`` holding either

- ``params``: the flat vector ``jax.flatten_util.ravel_pytree(init(key))[0]`` of the model's
  parameter pytree (any key gives the same layout), or
- one array per leaf of that pytree, named by its key path joined with ``/`` (``0/w``, ``0/b`` for
  a built-in MLP; ``params/Dense_0/kernel`` for a Flax module): what :func:`save` writes.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from lambda_hat.errors import DataError
from lambda_hat.models import parameter_paths
from lambda_hat.types import PyTree


def save(path: Path, params: PyTree) -> None:
    """Write ``params`` (a parameter pytree) as a checkpoint, one array per key path."""
    names = [name for name, _ in parameter_paths(params)]
    np.savez(path, **{name: np.asarray(leaf) for name, leaf in zip(names, jax.tree.leaves(params))})


def load(path: Path, template: PyTree) -> np.ndarray:
    """The flat parameter vector a checkpoint holds, in the layout of ``template`` (the model's
    ``init(key)``); raises :class:`~lambda_hat.errors.DataError` naming the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint not found")
    size = int(ravel_pytree(template)[0].size)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except Exception as err:  # zip or pickle errors of a malformed file
        raise DataError(f"{path}: not a readable .npz file ({type(err).__name__})") from None
    if "params" in arrays:
        flat = np.asarray(arrays["params"])
        if flat.ndim != 1 or flat.size != size:
            raise DataError(f"{path}: params holds {flat.size} values (shape {list(flat.shape)}), but the model has "
                            f"{size} parameters (a flat vector: ravel_pytree(init(key)))")
    else:
        paths = parameter_paths(template)
        missing = [name for name, _ in paths if name not in arrays]
        if missing:
            raise DataError(f"{path}: no 'params' vector, and no array for the model's parameter {missing[0]} "
                            f"(its parameters: {', '.join(name for name, _ in paths[:8])}{', ...' if len(paths) > 8 else ''})")
        wrong = [(name, shape) for name, shape in paths if np.shape(arrays[name]) != shape]
        if wrong:
            name, shape = wrong[0]
            raise DataError(f"{path}: {name} has shape {list(np.shape(arrays[name]))}, the model's has {list(shape)}")
        flat = np.concatenate([np.ravel(arrays[name]) for name, _ in paths]) if paths else np.zeros(0)
    flat = flat.astype(float)
    if not np.all(np.isfinite(flat)):
        raise DataError(f"{path}: the parameters hold NaN or inf")
    return flat
