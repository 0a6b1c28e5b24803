"""JAX process settings: float64 availability and the persistent compilation cache."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import jax

from lambda_hat.errors import DeviceError

log = logging.getLogger(__name__)

_DONE = False
ACCELERATORS = ("cuda", "gpu", "rocm", "tpu")


def cache_dir() -> Path:
    """``$LAMBDA_HAT_CACHE_DIR``, else ``$XDG_CACHE_HOME/lambda_hat/jax`` (``~/.cache`` by default)."""
    if os.environ.get("LAMBDA_HAT_CACHE_DIR"):
        return Path(os.environ["LAMBDA_HAT_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lambda_hat" / "jax"


def configure() -> None:
    """Enable float64 (every array is given an explicit dtype), full-precision float32 matrix
    products, and the persistent compilation cache.

    GPUs such as the A100 multiply float32 matrices in TF32 (10-bit mantissa) by default, which
    would make a float32 run's λ̂ depend on the device; "highest" asks for true float32.
    ``LAMBDA_HAT_CACHE_DIR=off`` disables the cache; a cache folder that cannot be used costs only
    compile time and says so on stderr.
    """
    global _DONE
    if _DONE:
        return
    check_platforms()
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_default_matmul_precision", "highest")
    directory = cache_dir()
    if str(directory) != "off":
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if not os.access(directory, os.W_OK):
                raise PermissionError(13, "not writable")
            atomic_cache_writes()
            jax.config.update("jax_compilation_cache_dir", str(directory))
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        except OSError as err:
            log.warning("JAX compilation cache off: cannot use %s (%s)", directory, err.strerror or err)
    _DONE = True


def atomic_cache_writes() -> bool:
    """Make the persistent compilation cache safe to share between processes.

    JAX writes an entry in place: a task killed mid-write leaves a truncated entry, which every
    later process reads, warns about and compiles again (an entry is never replaced), and two
    tasks writing one entry at once can interleave. Here each entry goes to a temporary file of
    its own first and is renamed into place (atomic on POSIX), so a reader finds the whole entry
    or none. Uses JAX's internal cache class; returns False (JAX's own writes) where it changed.
    """
    try:
        from jax._src import compilation_cache, lru_cache
    except ImportError:
        return False
    if getattr(compilation_cache.get_file_cache, "atomic", False):
        return True
    if not (hasattr(lru_cache, "LRUCache") and hasattr(lru_cache, "_CACHE_SUFFIX")):
        return False

    class AtomicCache(lru_cache.LRUCache):
        def put(self, key: str, value: bytes) -> None:
            if self.eviction_enabled or not key:      # JAX's locked, size-bounded mode as it is
                return super().put(key, value)
            path = Path(str(self.path)) / f"{key}{lru_cache._CACHE_SUFFIX}"
            if path.exists():
                return
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                temporary.write_bytes(value)
                os.replace(temporary, path)
            finally:
                temporary.unlink(missing_ok=True)

    def get_file_cache(path: str):
        cache = AtomicCache(path, max_size=jax.config.jax_compilation_cache_max_size)
        if jax.config.jax_compilation_cache_check_contents:
            return compilation_cache.VerificationCache(cache), path
        return cache, path

    get_file_cache.atomic = True
    compilation_cache.get_file_cache = get_file_cache
    return True


def check_platforms() -> None:
    """Fail with one clear line when ``JAX_PLATFORMS`` names only accelerators and none is found.

    (JAX itself raises a bare ``AssertionError`` there.) A GPU task whose GPU did not reach it, a
    missing ``--nv``, ``--gpus`` or ``--gres``, then stops at once instead of running on the CPU.
    """
    requested = [p.strip() for p in os.environ.get("JAX_PLATFORMS", "").split(",") if p.strip()]
    if not requested or not all(p in ACCELERATORS for p in requested):
        return
    try:
        devices = jax.devices()
    except Exception as err:  # noqa: BLE001 - JAX's own error here is uninformative
        raise DeviceError(f"JAX_PLATFORMS={','.join(requested)} but JAX finds no such device ({type(err).__name__}); "
                          "check that the task got a GPU (--gres, --nv or --gpus all) and that jax[cuda12] is "
                          "installed") from None
    if not devices:
        raise DeviceError(f"JAX_PLATFORMS={','.join(requested)} but JAX lists no device")
