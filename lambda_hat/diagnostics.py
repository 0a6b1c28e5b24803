"""MCMC diagnostics on arrays shaped ``[chain, draw]`` (compute only; nothing is printed)."""

from __future__ import annotations

import math
import warnings

import numpy as np


def _arviz():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz

    return arviz


def _safe(value) -> float:
    value = float(value)
    return value if math.isfinite(value) else float("nan")


def ess(samples: np.ndarray, method: str = "bulk") -> float:
    """Effective sample size of ``samples`` ``[chain, draw]`` (arviz ``bulk`` or ``tail``); NaN if undefined."""
    samples = np.asarray(samples, dtype=float)
    if samples.shape[1] < 4 or np.ptp(samples) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _safe(_arviz().ess(samples, method=method))


def r_hat(samples: np.ndarray) -> float:
    """Rank-normalized split R-hat of ``samples`` ``[chain, draw]``; NaN if undefined."""
    samples = np.asarray(samples, dtype=float)
    if samples.shape[1] < 4 or np.ptp(samples) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _safe(_arviz().rhat(samples))


def summary(samples: np.ndarray) -> dict[str, float]:
    """Mean, spread, ESS-based standard error, ESS (bulk, tail) and R-hat of ``[chain, draw]`` values."""
    samples = np.asarray(samples, dtype=float)
    bulk = ess(samples, "bulk")
    std = float(np.std(samples, ddof=1)) if samples.size > 1 else float("nan")
    sem = std / math.sqrt(bulk) if bulk and math.isfinite(bulk) else float("nan")
    return {"mean": float(np.mean(samples)), "std": std, "sem": sem,
            "ess_bulk": bulk, "ess_tail": ess(samples, "tail"), "r_hat": r_hat(samples)}
