"""The sampler registry: one name, one module; and which sampler specs run together as one
compiled batch.

A sampler module holds ``Settings`` (a ``types.RunSettings``), ``build(settings, problem) ->
types.Algorithm``, the NamedTuples ``Info`` (per kept draw, with ``loss`` and ``grad_evals``) and
``Warmup`` (with ``grad_evals``), and ``summarize(settings, info, warmup, llc, to_llc) -> dict`` of the
run's scalar diagnostics (see ``types.Algorithm``)."""

from __future__ import annotations

import json
from types import ModuleType

from lambda_hat.samplers import hmc, mclmc, nuts, sgld, vi
from lambda_hat.types import HOST_FIELDS, batched_fields

SAMPLERS: dict[str, ModuleType] = {"hmc": hmc, "nuts": nuts, "mclmc": mclmc, "sgld": sgld, "vi": vi}


def batched(spec: dict) -> tuple[str, ...]:
    """The settings this sampler takes as traced numbers (see ``types.field_(batch=True)``)."""
    return batched_fields(SAMPLERS[spec["algorithm"]].Settings)


def program(spec: dict) -> dict:
    """What fixes the compiled program of a run: the sampler spec without its host-only settings
    (seed, precision target) and batched numbers.

    Runs with equal programs on one target are drawn as one batch.
    """
    free = {*HOST_FIELDS, *batched(spec)}
    return {"algorithm": spec["algorithm"], "settings": {k: v for k, v in spec["settings"].items() if k not in free}}


def batches(plans: list[dict], size: int = 0) -> list[list[int]]:
    """Indices of sampler ``plans`` (documents with a ``spec``) grouped into batches of one compiled
    program, in plan order, each at most ``size`` long (0: unbounded)."""
    groups: dict[str, list[int]] = {}
    for index, plan in enumerate(plans):
        groups.setdefault(json.dumps(program(plan["spec"]), sort_keys=True), []).append(index)
    size = size or len(plans) or 1
    return [group[i:i + size] for group in groups.values() for i in range(0, len(group), size)]
