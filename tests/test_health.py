"""The health verdict: golden inputs for each reason, and the thresholds' edges."""

from __future__ import annotations

import math

import pytest

from lambda_hat import health
from lambda_hat.sampling import error_bar

GOOD = {"llc_std": 1.2, "r_hat": 1.002, "ess_bulk": 850.0, "chains": 4, "divergent_fraction": 0.0}


def test_a_run_with_good_diagnostics_is_ok():
    assert health.verdict(GOOD) == ("ok", None)
    assert health.verdict({**GOOD, "r_hat": health.R_HAT_MAX, "ess_bulk": 400.0}) == ("ok", None)    # 100 per chain
    assert health.verdict({**GOOD, "acceptance_rate": 0.92, "target_acceptance": 0.8}) == ("ok", None)


@pytest.mark.parametrize("change, reason", [
    ({"r_hat": 1.08}, "R-hat 1.08 > 1.01"),
    ({"ess_bulk": 43.9}, "bulk ESS 44 < 400 (100 per chain)"),
    ({"ess_bulk": 399.0}, "bulk ESS 399 < 400"),                  # enough for one chain, not for four
    ({"ess_bulk": 150.0, "chains": 2}, "bulk ESS 150 < 200"),
    ({"llc_std": 0.0, "r_hat": math.nan, "ess_bulk": math.nan}, "the chains did not move"),
    ({"r_hat": math.nan}, "no R-hat (the chains did not vary)"),
    ({"divergent_fraction": 0.026}, "2.6% of transitions diverged (> 1%)"),
    ({"acceptance_rate": 0.99, "target_acceptance": 0.6}, "acceptance 0.99 is far from its target 0.60"),
])
def test_each_reason_makes_a_run_suspect(change, reason):
    status, warnings = health.verdict({**GOOD, **change})
    assert status == "suspect" and reason in warnings


def test_reasons_add_up_and_one_chain_has_no_r_hat_to_miss():
    found = health.reasons({**GOOD, "r_hat": 1.5, "ess_bulk": 10.0, "divergent_fraction": 0.5})
    assert len(found) == 3
    assert health.verdict({**GOOD, "chains": 1, "r_hat": math.nan}) == ("ok", None)


def test_vi_is_suspect_until_its_fit_is_checked():
    vi = {**GOOD, "algorithm": "vi"}
    status, warnings = health.verdict(vi)
    assert status == "suspect" and "no Pareto k-hat" in warnings
    assert health.verdict({**vi, "pareto_k": 0.4}) == ("ok", None)
    assert "Pareto k-hat 0.93 > 0.7" in health.verdict({**vi, "pareto_k": 0.93})[1]


def test_refined_vi_is_judged_by_its_drift_not_by_q():
    """Refined draws do not come from q, so q's k-hat does not judge them; a refinement whose λ̂
    still moved more than 5 % (and beyond its noise) over its second half is suspect."""
    refined = {**GOOD, "algorithm": "vi", "pareto_k": 3.9, "refine_drift": 0.01, "refine_drift_se": 0.01}
    assert health.verdict(refined) == ("ok", None)
    status, warnings = health.verdict({**refined, "refine_drift": -0.12})
    assert status == "suspect" and "-12.0% over the second half of the refinement" in warnings
    assert health.verdict({**refined, "refine_drift": 0.08, "refine_drift_se": 0.05}) == ("ok", None)
    assert health.verdict({**refined, "refine_drift": 0.08, "refine_drift_se": 0.03})[0] == "suspect"
    # chains that barely moved cannot drift: their draws are q's, and that is said
    status, warnings = health.verdict({**refined, "acceptance_rate": 0.05})
    assert status == "suspect" and "accepted 5% of its steps" in warnings
    assert health.verdict({**refined, "acceptance_rate": 0.6}) == ("ok", None)


def test_refined_vi_whose_twins_end_elsewhere_is_suspect():
    """Twin chains started further from w* that end more than 20 % (and beyond their noise) from the
    draws: where the refinement ends depends on where it starts. Half the gap is in the error bar."""
    refined = {**GOOD, "algorithm": "vi", "refine_drift": 0.01, "refine_drift_se": 0.01,
               "refine_gap": 0.15, "refine_gap_se": 0.01}
    assert health.verdict(refined) == ("ok", None)
    status, warnings = health.verdict({**refined, "refine_gap": 0.25})
    assert status == "suspect" and "ended +25.0% away" in warnings
    assert health.verdict({**refined, "refine_gap": -0.25, "refine_gap_se": 0.15}) == ("ok", None)
    stats = {"mean": 40.0, "sem": 0.3}
    assert error_bar(stats, refined) == pytest.approx(math.hypot(0.3, 0.4, 3.0, 0.2))


@pytest.mark.parametrize("change, reason", [
    # an untrained w* (HMC λ̂ = -27 760 was ok): draws below L(w*)
    ({"llc_mean": -27760.0, "llc_min": -31000.0}, "w* is not a minimum"),
    ({"llc_mean": -0.4, "llc_min": -0.9}, "λ̂ = -0.4 ≤ 0"),
    # a chain that left w*'s neighbourhood: above a regular model's d/2, beyond its error bar
    ({"llc_mean": 6752.0, "llc_err": 250.0, "d": 2410}, "above d/2 = 1205"),
    ({"llc_mean": 30.0, "llc_sem": 0.5, "d": 500, "d_sampled": 40}, "above d/2 = 20"),
    # SGLD at a step too large for its own correction (sgld_adam was +26.5 % and ok)
    ({"llc_mean": 10.0, "llc_bias": 2.6}, "bias estimate 2.6 is 26% of λ̂"),
    # stopped at the draw cap short of the precision asked for (draw_loss: minibatch, +12 %)
    ({"llc_mean": 10.0, "stop_reason": "max_draws", "llc_rel_mcse": 0.026, "target_rel_mcse": 0.02, "draws": 2000},
     "relative MCSE 0.026 missed its target 0.02 within 2000 draws"),
    # MCLMC with desired_energy_var 0.5 (-10 % to -13 %, energy_change_var 35 on d = 128)
    ({"llc_mean": 10.0, "energy_change_var": 35.0, "d": 128}, "energy error Var[ΔE]/d = 0.273 > 0.05"),
    # the estimator's temperature far from 1 / log n (beta0 0.01: +21 %; beta0 100: +14 %)
    ({"llc_mean": 10.0, "beta": 0.01 / math.log(10_000), "n": 10_000}, "beta0 = 0.01 is outside [0.1, 10]"),
    ({"llc_mean": 10.0, "beta": 100 / math.log(10_000), "n": 10_000}, "beta0 = 100 is outside"),
    # a localization that dominates the loss (gamma 1e6: -99 %)
    ({"llc_mean": 10.0, "beta": 1 / math.log(10_000), "n": 10_000, "gamma": 1e6}, "gamma = 1e+06 ≥ nβ = 1.09e+03"),
])
def test_settings_and_estimates_known_to_be_off_are_suspect(change, reason):
    status, warnings = health.verdict({**GOOD, **change})
    assert status == "suspect" and reason in warnings, warnings


def test_their_edges_are_ok():
    at_one = {"beta": 1 / math.log(10_000), "n": 10_000, "gamma": 1.0}
    assert health.verdict({**GOOD, **at_one, "llc_mean": 10.0, "llc_min": -0.5}) == ("ok", None)    # a draw a hair below
    assert health.verdict({**GOOD, "llc_mean": 10.4, "llc_sem": 0.2, "d": 20}) == ("ok", None)      # a regular model's scatter
    assert health.verdict({**GOOD, "llc_mean": 10.0, "llc_bias": 1.9}) == ("ok", None)
    assert health.verdict({**GOOD, "llc_mean": 10.0, "stop_reason": "precision", "llc_rel_mcse": 0.019,
                           "target_rel_mcse": 0.02}) == ("ok", None)
    assert health.verdict({**GOOD, "llc_mean": 10.0, "energy_change_var": 2.8, "d": 128}) == ("ok", None)   # 0.022 per parameter, within 2.2 %
