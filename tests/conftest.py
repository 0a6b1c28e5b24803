"""Shared fixtures: CPU-only JAX, a private compilation cache, small sweep files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("LAMBDA_HAT_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".cache" / "jax"))

from lambda_hat import runtime  # noqa: E402

runtime.configure()

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def write_yaml(tmp_path):
    """``write_yaml(text, name="experiments.yaml") -> path`` in a temporary folder."""

    def write(text: str, name: str = "experiments.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return write


#: a tiny sweep for end-to-end tests: short chains on two small targets (one with a known lambda)
FAST = {"draws": 30, "warmup": 30, "chains": 2}
TINY_TARGETS = [
    {"model": "tiny", "data": "tiny", "seed": 1},
    {"model": "dln", "data": "tiny", "teacher": {"preset": "dln", "rank": 1}, "seed": 2,
     "overrides": {"model": {"in_dim": 2, "widths": [2], "out_dim": 2}}},
]
TINY_VI = {"name": "vi", "overrides": {"draws": 30, "chains": 2, "steps": 40, "M": 2, "r": 1}}
DIVERGING = {"name": "sgld", "overrides": {**FAST, "thin": 1, "precond": "none", "step_size": 1e6}}
