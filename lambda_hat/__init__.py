"""Lambda-Hat: local learning coefficient (LLC) estimation for sweeps of targets x samplers."""

__version__ = "0.1.0"

#: runs per compiled batch in a sweep: a target's runs that differ only in numeric settings are
#: drawn together by one program (measured in benchmarks/sweep_overhead.py)
DEFAULT_BATCH = 16
