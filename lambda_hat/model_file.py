"""A user's own model, from a Python file: ``model: { file: models.py, name: FUNC, args: {...} }``.

``FUNC(in_dim, out_dim, **args)`` returns ``(init, apply)``: ``init(key)`` gives a parameter pytree
and ``apply(params, x)`` the outputs ``[n, out_dim]`` of inputs ``[n, in_dim]``. Any JAX library
fits (plain ``jax.numpy``, Flax, Equinox; ``docs/models.md`` shows each). The file must stand alone
(it may import installed packages, not files beside it): a target keeps a copy of it, which is what
its sampling tasks read. Every problem with the file (it does not import, has no such function,
gives the wrong shapes or NaN at its initial parameters) is one :class:`ModelError` naming the file.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import jax
import numpy as np

from lambda_hat.errors import LambdaHatError
from lambda_hat.ids import file_digest

#: where a target keeps the copy of its model file
COPY = "model.py"

_MODULES: dict[str, ModuleType] = {}      # by the file's sha256: one import per content and process
_COPIES: dict[str, Path] = {}             # sha256 -> a target's copy of the file (sampling reads it)


class ModelError(LambdaHatError):
    """A user's model file that cannot be used."""


def load(path: Path) -> ModuleType:
    """The module of a model file (imported once per content)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    key = file_digest(path)
    if key not in _MODULES:
        name = f"lambda_hat_user_model_{key[:16]}"
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        except Exception as err:  # noqa: BLE001 - anything the user's code raises on import
            sys.modules.pop(name, None)
            raise ModelError(f"{path}: cannot import it ({type(err).__name__}: {err})") from None
        _MODULES[key] = module
    return _MODULES[key]


def functions(path: Path, name: str, in_dim: int, out_dim: int, args: dict) -> tuple:
    """``(init, apply)``: what ``name(in_dim, out_dim, **args)`` of a model file returns."""
    module = load(path)
    function = getattr(module, name, None)
    if not callable(function):
        defined = sorted(n for n, v in vars(module).items() if callable(v) and getattr(v, "__module__", None) == module.__name__)
        raise ModelError(f"{path}: no function '{name}' (it defines: {', '.join(defined) or 'none'})")
    try:
        made = function(in_dim, out_dim, **args)
    except Exception as err:  # noqa: BLE001 - the user's function
        raise ModelError(f"{path}: {call(name, in_dim, out_dim, args)} failed ({type(err).__name__}: {err})") from None
    if not (isinstance(made, tuple) and len(made) == 2 and all(callable(f) for f in made)):
        raise ModelError(f"{path}: {call(name, in_dim, out_dim, args)} must return (init, apply), two functions; "
                         f"it returned {type(made).__name__}")
    return made


def call(name: str, in_dim: int, out_dim: int, args: dict) -> str:
    """How the model's function is called, for messages."""
    return f"{name}(in_dim={in_dim}, out_dim={out_dim}{''.join(f', {k}={v!r}' for k, v in args.items())})"


def check(init, apply, in_dim: int, out_dim: int, dtype, where: str) -> None:
    """Raise :class:`ModelError` unless ``apply(init(key), x)`` of two inputs is ``[2, out_dim]`` and finite."""
    x = jax.random.normal(jax.random.key(1), (2, in_dim), dtype)
    try:
        params = init(jax.random.key(0))
        outputs = np.asarray(apply(params, x))
    except Exception as err:  # noqa: BLE001 - the user's init or apply
        first = str(err).splitlines()[0] if str(err) else ""
        raise ModelError(f"{where}: init or apply failed on inputs [2, {in_dim}] ({type(err).__name__}: {first})") from None
    if not jax.tree.leaves(params):
        raise ModelError(f"{where}: init gives no parameters")
    if outputs.shape != (2, out_dim):
        raise ModelError(f"{where}: apply gives outputs of shape {list(outputs.shape)} for 2 inputs, "
                         f"expected [2, {out_dim}] (out_dim)")
    if not np.all(np.isfinite(outputs)):
        raise ModelError(f"{where}: apply gives NaN or inf at the initial parameters")


def remember(copy: Path) -> None:
    """Note where a target keeps its model file (:data:`COPY`), for :func:`copy_of`."""
    _COPIES[file_digest(copy)] = Path(copy)


def copy_of(sha256: str | None) -> Path | None:
    """The remembered copy of the model file with this content (``None``: none, or no file)."""
    return _COPIES.get(sha256) if sha256 else None
