"""Content-addressed identifiers from canonical JSON."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def canonical(obj) -> str:
    """Canonical JSON: sorted keys, no whitespace (key order and comments never change an ID)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def digest(text: str, length: int = 12) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def file_digest(path) -> str:
    """sha256 of a file's bytes (a user's data file, model file or checkpoint is part of its target's identity)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def target_id(spec: dict) -> str:
    """``tgt_`` + sha256 of the resolved target spec."""
    return "tgt_" + digest(canonical(spec))


def sampler_id(spec: dict) -> str:
    """``smp_`` + sha256 of the resolved sampler spec."""
    return "smp_" + digest(canonical(spec))


def run_id(target: str, sampler_spec: dict) -> str:
    """sha256 of the target ID and the resolved sampler spec."""
    return digest(target + canonical(sampler_spec))
