"""Lambda-Hat: local learning coefficient (LLC) estimation for sweeps of targets x samplers."""

__version__ = "0.1.0"
