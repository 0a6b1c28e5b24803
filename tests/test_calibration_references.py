"""benchmarks/calibration.py judges rows against a saved HMC reference only where it is the same target."""

import importlib
import json
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def calibration(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("calibration")


def test_a_reference_made_at_another_w_star_is_refused(calibration):
    reference = {"llc_mean": 4.46, "llc_sem": 0.04, "loss0": 1.4661288045704008}
    calibration.same_target("dln 3-7-7-3 r1", reference, {"loss0": 1.4661288045704008 * (1 + 1e-9)})  # rounding
    calibration.same_target("dln 3-7-7-3 r1", {"llc_mean": 4.46, "llc_sem": 0.04}, {"loss0": 2.0})  # saved without it
    with pytest.raises(SystemExit, match=r"dln 3-7-7-3 r1 ran at L\(w\*\) = 1.46612880457.*1.4662: another w\*"):
        calibration.same_target("dln 3-7-7-3 r1", reference, {"loss0": 1.4662})


def test_the_saved_references_are_the_held_out_set_near_its_learning_coefficients(calibration):
    saved = json.loads((BENCHMARKS / "references.json").read_text())
    assert list(saved) == [label for label, _, _ in calibration.HELD_OUT]
    for label, reference in saved.items():
        assert set(reference) == set(calibration.KEPT), label
        assert 0 < reference["llc_sem"] <= 0.01 * reference["llc_mean"], label    # its own MCSE target or better
        # the exact posterior at n = 10 000 sits within a few per cent of the asymptotic λ
        assert abs(reference["llc_mean"] / reference["llc_true"] - 1) < 0.05, label
