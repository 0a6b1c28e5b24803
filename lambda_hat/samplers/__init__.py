"""The sampler registry: one name, one module with ``Settings`` and ``build(settings, problem)``."""

from __future__ import annotations

from types import ModuleType

from lambda_hat.samplers import hmc, mclmc, nuts, sgld, vi

SAMPLERS: dict[str, ModuleType] = {"hmc": hmc, "nuts": nuts, "mclmc": mclmc, "sgld": sgld, "vi": vi}
