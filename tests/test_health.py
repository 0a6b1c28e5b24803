"""The health verdict: golden inputs for each reason, and the thresholds' edges."""

from __future__ import annotations

import math

import pytest

from lambda_hat import health

GOOD = {"llc_std": 1.2, "r_hat": 1.002, "ess_bulk": 850.0, "chains": 4, "divergent_fraction": 0.0}


def test_a_run_with_good_diagnostics_is_ok():
    assert health.verdict(GOOD) == ("ok", None)
    assert health.verdict({**GOOD, "r_hat": health.R_HAT_MAX, "ess_bulk": health.ESS_MIN}) == ("ok", None)
    assert health.verdict({**GOOD, "acceptance_rate": 0.92, "target_acceptance": 0.8}) == ("ok", None)


@pytest.mark.parametrize("change, reason", [
    ({"r_hat": 1.08}, "R-hat 1.08 > 1.01"),
    ({"ess_bulk": 43.9}, "bulk ESS 44 < 100"),
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
