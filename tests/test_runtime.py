"""The persistent compilation cache, shared by many processes: entries appear whole or not at all."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lambda_hat import runtime


def test_a_compiled_function_lands_in_the_cache_whole(tmp_path):
    script = (
        "from lambda_hat import runtime\n"
        "runtime.configure()\n"
        "import jax, jax.numpy as jnp\n"
        "from jax._src import compilation_cache\n"
        "jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)\n"
        "jax.jit(lambda x: jnp.sin(x) @ x.T)(jnp.ones((8, 8))).block_until_ready()\n"
        "print(type(compilation_cache._cache).__name__)\n"
    )
    env = {**os.environ, "LAMBDA_HAT_CACHE_DIR": str(tmp_path), "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "AtomicCache"
    entries = [p for p in tmp_path.iterdir() if p.name.endswith("-cache")]
    assert entries and not list(tmp_path.glob(".*.tmp"))


def test_a_write_killed_midway_leaves_no_entry(tmp_path, monkeypatch):
    assert runtime.atomic_cache_writes()
    from jax._src import compilation_cache

    cache, _ = compilation_cache.get_file_cache(str(tmp_path))

    def killed(source, destination):
        raise KeyboardInterrupt        # the task is stopped between writing and renaming

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        cache.put("entry", b"x" * 1000)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    cache.put("entry", b"y" * 10)
    cache.put("entry", b"z" * 10)                  # an entry is never replaced
    assert cache.get("entry") == b"y" * 10
