"""Sweep configuration: schema, presets, overrides, validation and content-addressed IDs."""

from lambda_hat.config.experiments import Experiments, SamplerPlan, TargetPlan, load
from lambda_hat.errors import ConfigError

__all__ = ["ConfigError", "Experiments", "SamplerPlan", "TargetPlan", "load"]
