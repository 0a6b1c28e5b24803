"""One behaviour suite for every registered sampler (as optax tests every optimizer).

Each sampler, at its default settings, must: run all chains in one vmap with outputs shaped
``[chain, draw]``; give the same numbers for the same key and different ones for another; and
estimate the learning coefficient of a regular model (d/2) and of a deep linear network
(Aoyagi) within the tolerances below (n = 2 000, so finite-n bias is part of the error).
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from lambda_hat import health
from lambda_hat.config import load
from lambda_hat.config.plan import sampler_document, target_document
from lambda_hat.sampling import estimate
from lambda_hat.samplers import SAMPLERS
from lambda_hat.store import read_target as load_target
from lambda_hat.targets import build

# relative tolerance on |lambda_hat - lambda| / lambda, per sampler and target
TOLERANCE = {
    "regular": {"hmc": 0.06, "nuts": 0.06, "mclmc": 0.06, "sgld": 0.10, "vi": 0.06},
    "dln": {"hmc": 0.10, "nuts": 0.10, "mclmc": 0.10, "sgld": 0.12, "vi": 0.15},
}
TARGETS = {
    "regular": {"model": "small", "data": {"preset": "small", "n": 2000}, "seed": 3,
                "overrides": {"model": {"in_dim": 4, "widths": [], "out_dim": 1}}},
    "dln": {"model": "dln", "data": {"preset": "small", "n": 2000}, "teacher": {"preset": "dln", "rank": 1},
            "seed": 3, "overrides": {"model": {"in_dim": 3, "widths": [3], "out_dim": 3}}},
}


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    root = tmp_path_factory.mktemp("conformance")
    path = root / "experiments.yaml"
    path.write_text(yaml.safe_dump({"targets": list(TARGETS.values()),
                                    "samplers": [{"name": name} for name in SAMPLERS]}))
    experiments = load(path)
    loaded = {}
    for name, plan in zip(TARGETS, experiments.targets):
        folder, _ = build(target_document(plan), root / "store")
        loaded[name] = load_target(folder)
    return loaded, {plan.spec["algorithm"]: plan for plan in experiments.samplers}


def run(targets, target: str, sampler: str, **settings):
    loaded, plans = targets
    spec = sampler_document(plans[sampler])["spec"]
    spec = {**spec, "settings": {**spec["settings"], **settings}}
    return estimate(*loaded[target], spec)


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_shapes_and_determinism(targets, sampler):
    small = {"chains": 3, "draws": 40} | ({"steps": 50} if sampler == "vi" else {"warmup": 30})
    fields, trace = run(targets, "dln", sampler, **small)
    again, trace_again = run(targets, "dln", sampler, **small)
    other, trace_other = run(targets, "dln", sampler, **small, seed=1)
    assert trace["loss"].shape == trace["llc"].shape == (3, 40)
    assert np.all(np.isfinite(trace["llc"]))
    np.testing.assert_array_equal(trace["loss"], trace_again["loss"])
    assert fields["llc_mean"] == again["llc_mean"]
    assert not np.array_equal(trace["loss"], trace_other["loss"])
    assert fields["chains"] == 3 and fields["draws"] == 40 and fields["grad_evals"] > 0


CASES = [pytest.param(target, sampler, id=f"{sampler}-{target}") for target in sorted(TARGETS) for sampler in sorted(SAMPLERS)]


@pytest.mark.parametrize("target, sampler", CASES)
def test_known_learning_coefficient_at_defaults(targets, target, sampler):
    fields, _ = run(targets, target, sampler)
    truth = fields["llc_true"]
    assert truth == {"regular": 2.5, "dln": 4.0}[target]
    error = abs(fields["llc_mean"] - truth) / truth
    print(f"{sampler} on {target}: {fields['llc_mean']:.3f} vs {truth} ({error:.1%})")
    assert error <= TOLERANCE[target][sampler], f"{sampler}: {fields['llc_mean']:.3f} vs {truth}"


def test_q_alone_overestimates_singular_targets_and_says_so(targets):
    """VI's families cannot follow a DLN's curved valleys: q's own draws (no refinement) overstate
    λ, and its Pareto k-hat (q against the tempered posterior) flags it, so the run is never plain
    ok. Refinement (the default) carries the same q's draws to the known value."""
    plain, trace = run(targets, "dln", "vi", refine_steps=0)
    assert plain["llc_mean"] > 1.5 * plain["llc_true"] and plain["llc_mean"] == pytest.approx(plain["llc_q"], rel=1e-6)
    assert plain["pareto_k"] > health.PARETO_K_MAX and plain["llc_is"] is None
    assert "Pareto k-hat" in health.verdict({**plain, "algorithm": "vi"})[1]
    assert trace["info_log_weight"].shape == trace["llc"].shape
    refined, _ = run(targets, "dln", "vi")
    assert refined["llc_q"] > 1.5 * refined["llc_true"] and refined["pareto_k"] > health.PARETO_K_MAX
    assert abs(refined["llc_mean"] - refined["llc_true"]) / refined["llc_true"] <= TOLERANCE["dln"]["vi"]
    assert abs(refined["refine_drift"]) <= health.REFINE_DRIFT_MAX
    assert health.verdict({**refined, "algorithm": "vi"}) == ("ok", None)


@pytest.mark.parametrize("family", ["mfa", "flow"])
def test_vi_on_a_regular_model_passes_its_own_check(targets, family):
    """On a regular model q fits, in either family: k-hat is small, the estimate and the reweighted
    one are as accurate as the tolerance asks."""
    fields, _ = run(targets, "regular", "vi", family=family)
    assert abs(fields["llc_mean"] - fields["llc_true"]) / fields["llc_true"] <= TOLERANCE["regular"]["vi"]
    assert fields["pareto_k"] < health.PARETO_K_MAX and fields["is_ess"] > 0.5 * fields["chains"] * fields["draws"]
    assert abs(fields["llc_is"] - fields["llc_true"]) / fields["llc_true"] <= TOLERANCE["regular"]["vi"]
    assert health.verdict({**fields, "algorithm": "vi"}) == ("ok", None)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_both_precisions(targets, sampler, dtype):
    """Every sampler runs in float32 and float64, and its draws stay in that precision."""
    small = {"chains": 2, "draws": 10, "dtype": dtype} | ({"steps": 10} if sampler == "vi" else {"warmup": 10})
    fields, trace = run(targets, "dln", sampler, **small)
    assert trace["loss"].dtype == np.dtype(dtype)
    assert np.all(np.isfinite(trace["llc"]))


def test_sgld_reads_the_full_batch_loss_at_its_draws(targets):
    """The same SGLD chain either way (same key): the full-batch loss at its draws has none of the
    minibatch noise (a smaller spread per draw), and both estimate the same mean."""
    full, _ = run(targets, "dln", "sgld", target_rel_mcse=0)
    noisy, _ = run(targets, "dln", "sgld", target_rel_mcse=0, draw_loss="minibatch")
    print(f"per-draw spread of lambda-hat: full-batch {full['llc_std']:.3f}, minibatch {noisy['llc_std']:.3f}")
    assert full["llc_std"] < 0.8 * noisy["llc_std"]
    assert abs(full["llc_mean"] - noisy["llc_mean"]) < 3 * max(full["llc_sem"], noisy["llc_sem"])
    assert full["grad_evals"] == noisy["grad_evals"]
