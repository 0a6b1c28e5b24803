"""JAX process settings: float64 availability and the persistent compilation cache."""

from __future__ import annotations

import os
from pathlib import Path

import jax

_DONE = False


def cache_dir() -> Path:
    """``$LAMBDA_HAT_CACHE_DIR``, else ``$XDG_CACHE_HOME/lambda_hat/jax`` (``~/.cache`` by default)."""
    if os.environ.get("LAMBDA_HAT_CACHE_DIR"):
        return Path(os.environ["LAMBDA_HAT_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lambda_hat" / "jax"


def configure() -> None:
    """Enable float64 (every array is given an explicit dtype) and the persistent compilation cache.

    ``LAMBDA_HAT_CACHE_DIR=off`` disables the cache.
    """
    global _DONE
    if _DONE:
        return
    jax.config.update("jax_enable_x64", True)
    directory = cache_dir()
    if str(directory) != "off":
        try:
            directory.mkdir(parents=True, exist_ok=True)
            jax.config.update("jax_compilation_cache_dir", str(directory))
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        except OSError:
            pass  # an unwritable cache folder only costs compile time
    _DONE = True
