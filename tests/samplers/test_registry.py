"""Every registered sampler keeps the contract the runner and the analysis rely on."""

from __future__ import annotations

import dataclasses

import pytest

from lambda_hat.samplers import SAMPLERS
from lambda_hat.types import RunSettings


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_each_sampler_module_has_the_contract(name):
    module = SAMPLERS[name]
    assert issubclass(module.Settings, RunSettings) and dataclasses.is_dataclass(module.Settings)
    assert {"loss", "grad_evals"} <= set(module.Info._fields) and "grad_evals" in module.Warmup._fields
    assert callable(module.build) and callable(module.summarize)
    defaults = module.Settings()
    assert all(f.metadata.get("doc") for f in dataclasses.fields(defaults)), "every setting documents itself"
