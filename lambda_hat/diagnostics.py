"""MCMC and importance-sampling diagnostics on arrays shaped ``[chain, draw]`` (compute only; nothing is
printed)."""

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


def ess(samples: np.ndarray, method: str = "bulk", iid: bool = False) -> float:
    """Effective sample size of ``samples`` ``[chain, draw]`` (arviz ``bulk`` or ``tail``); NaN if
    undefined. With ``iid`` (draws known to be independent) it is their number, not an estimate."""
    samples = np.asarray(samples, dtype=float)
    if samples.shape[1] < 4 or np.ptp(samples) == 0:
        return float("nan")
    if iid:
        return float(samples.size)
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


def standard_error(samples: np.ndarray, iid: bool = False) -> float:
    """The Monte Carlo standard error of the mean of ``samples`` ``[chain, draw]`` (arviz's
    ``mcse(method="mean")``: the spread over the root of the ESS of the mean itself, not the
    rank-normalized bulk ESS, which overstates it for skewed traces); NaN if undefined. With
    ``iid`` (draws known to be independent) the spread of all draws over the root of their number:
    an ESS estimated from iid draws only adds its own noise (about ±18 % on 2 chains of 100)."""
    samples = np.asarray(samples, dtype=float)
    if samples.shape[1] < 4 or np.ptp(samples) == 0:
        return float("nan")
    if iid:
        return float(np.std(samples, ddof=1) / math.sqrt(samples.size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _safe(_arviz().mcse(samples, method="mean"))


def summary(samples: np.ndarray, iid: bool = False) -> dict[str, float]:
    """Mean, spread, standard error of the mean, ESS (bulk, tail) and R-hat of ``[chain, draw]``
    values (``iid``: draws known to be independent, see :func:`standard_error`)."""
    samples = np.asarray(samples, dtype=float)
    std = float(np.std(samples, ddof=1)) if samples.size > 1 else float("nan")
    return {"mean": float(np.mean(samples)), "std": std, "sem": standard_error(samples, iid),
            "ess_bulk": ess(samples, "bulk", iid), "ess_tail": ess(samples, "tail", iid), "r_hat": r_hat(samples)}


def importance(log_weights: np.ndarray, values: np.ndarray) -> dict[str, float]:
    """Pareto-smoothed importance sampling (Vehtari et al. 2024) of iid draws from a proposal ``q``.

    ``log_weights`` are ``log p - log q`` of the draws up to a constant (any shape; every draw
    pooled), ``values`` the quantity at the same draws. Returns the Pareto shape ``pareto_k`` of
    the weights' tail (above 0.7 the reweighted mean cannot be trusted), the effective sample size
    of the smoothed weights ``is_ess`` and the reweighted mean of ``values`` ``is_mean``.
    """
    log_weights = np.asarray(log_weights, dtype=float).ravel()
    values = np.asarray(values, dtype=float).ravel()
    if log_weights.size < 5 or not np.all(np.isfinite(log_weights)):
        return {"pareto_k": float("nan"), "is_ess": float("nan"), "is_mean": float("nan")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        smoothed, k = _arviz().psislw(log_weights - np.max(log_weights))
    weights = np.exp(smoothed - np.max(smoothed))
    weights /= np.sum(weights)
    return {"pareto_k": _safe(k), "is_ess": _safe(1.0 / np.sum(weights ** 2)),
            "is_mean": _safe(np.sum(weights * values))}
