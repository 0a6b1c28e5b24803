"""Importance-sampling diagnostics (PSIS) on draws whose weights are known in closed form; the
standard error of independent draws."""

from __future__ import annotations

import numpy as np
import pytest

from lambda_hat import health
from lambda_hat.diagnostics import ess, importance, standard_error


def gaussian_weights(target_scale: float, size: int = 4000, seed: int = 0):
    """Draws of q = N(0, 1) with their log-weights towards p = N(0, target_scale^2), and x^2."""
    x = np.random.default_rng(seed).normal(size=size)
    return -0.5 * x ** 2 / target_scale ** 2 + 0.5 * x ** 2, x ** 2


def test_a_proposal_wider_than_the_target_is_trusted_and_reweights_to_the_target():
    log_weights, values = gaussian_weights(0.8)
    found = importance(log_weights, values)
    assert found["pareto_k"] < health.PARETO_K_MAX
    assert 0.5 * values.size < found["is_ess"] < values.size
    assert found["is_mean"] == pytest.approx(0.8 ** 2, rel=0.05)      # E_p[x^2] = 0.64, not E_q's 1


def test_a_proposal_much_narrower_than_the_target_is_flagged():
    found = importance(*gaussian_weights(5.0))
    assert found["pareto_k"] > health.PARETO_K_MAX
    assert found["is_ess"] < 200


def test_the_weights_constant_does_not_matter():
    log_weights, values = gaussian_weights(1.3)
    assert importance(log_weights, values) == pytest.approx(importance(log_weights - 1e4, values))


@pytest.mark.parametrize("log_weights", [np.array([0.0, 1.0]), np.array([0.0, 1.0, np.nan, 2.0, 3.0, 4.0])])
def test_too_few_or_non_finite_weights_give_no_verdict(log_weights):
    found = importance(log_weights, np.ones_like(log_weights))
    assert all(np.isnan(value) for value in found.values())


def test_independent_draws_get_their_number_as_ess_and_a_steadier_standard_error_that_covers():
    """Over 1 000 runs of 2 chains x 100 independent standard normal draws: the ESS is 200, the
    mean lies within 2 standard errors of 0 in 95 % of runs (binomial spread 0.7 %), and the
    standard error varies less from run to run than one whose ESS is estimated from the draws."""
    runs = np.random.default_rng(0).normal(size=(1000, 2, 100))
    assert {ess(x, iid=True) for x in runs[:5]} == {200.0}
    known = np.array([standard_error(x, iid=True) for x in runs])
    estimated = np.array([standard_error(x) for x in runs])
    covered = np.mean(np.abs(runs.mean(axis=(1, 2))) <= 2 * known)
    assert 0.93 <= covered <= 0.97
    assert np.std(known) / np.mean(known) < 0.5 * np.std(estimated) / np.mean(estimated)
