"""Stage B in batches: runs that differ only in numeric settings share one compiled program.

A batched run must give the numbers it gets alone, fail alone, and be skipped once finished.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from lambda_hat import runner, store
from lambda_hat.config import load
from lambda_hat.config.plan import sampler_document, target_document
from lambda_hat.samplers import batches, program
from lambda_hat.sampling import estimate, estimate_batch, sample_all
from lambda_hat.store import read_target as load_target
from lambda_hat.targets import build

from tests.conftest import DIVERGING, FAST, TINY_TARGETS


def plans(tmp_path, samplers: list[dict], x64: bool = True) -> tuple:
    """``(target folder, sampler documents)`` for the tiny DLN target and these sampler entries."""
    path = tmp_path / "experiments.yaml"
    path.write_text(yaml.safe_dump({"targets": [TINY_TARGETS[1]], "samplers": samplers, "jax_enable_x64": x64}))
    experiments = load(path)
    folder, _ = build(target_document(experiments.targets[0]), tmp_path / "store")
    return folder, [sampler_document(s) for s in experiments.samplers]


def test_batches_group_runs_of_one_program(tmp_path):
    entries = [{"name": "sgld", "overrides": {**FAST, "seed": s}} for s in range(5)]
    entries += [{"name": "sgld", "overrides": {**FAST, "step_size": 1e-4}},     # a number: same program
                {"name": "sgld", "overrides": {**FAST, "precond": "none"}},     # control flow: its own
                {"name": "sgld", "overrides": {**FAST, "draws": 31}},           # a shape: its own
                {"name": "hmc", "overrides": FAST}]
    _, documents = plans(tmp_path, entries)
    assert batches(documents) == [[0, 1, 2, 3, 4, 5], [6], [7], [8]]
    assert batches(documents, 4) == [[0, 1, 2, 3], [4, 5], [6], [7], [8]]
    assert program(documents[0]["spec"]) == program(documents[5]["spec"])
    assert "seed" not in program(documents[0]["spec"])["settings"]


GRIDS = {
    "hmc": [{"seed": 0}, {"seed": 1}, {"step_size": 0.01}, {"target_acceptance": 0.9, "gamma": 2.0}],
    "nuts": [{"seed": 0}, {"beta0": 0.5}],
    "mclmc": [{"seed": 0}, {"seed": 2}, {"desired_energy_var": 1e-3}, {"l_factor": 0.2}],
    "sgld": [{"seed": 0}, {"seed": 1}, {"step_scale": 0.02}, {"beta0": 0.5}],
    "vi": [{"seed": 0}, {"lr": 0.02}],
    "vi_mfa": [{"seed": 0}, {"seed": 1}, {"lr": 0.02}],
    "mclmc_float64": [{"seed": 0}, {"seed": 2}, {"l_factor": 0.2}],
}
#: the preset of a grid that is not named after one
PRESET = {"mclmc_float64": "mclmc"}
NO_WARMUP = {k: v for k, v in FAST.items() if k != "warmup"}        # vi's fit runs `steps`
SMALL = {"hmc": FAST, "nuts": FAST, "mclmc": FAST, "sgld": {**FAST, "thin": 1},
         "vi": {**NO_WARMUP, "steps": 40, "flow_layers": 1, "flow_width": 8}, "vi_mfa": {**NO_WARMUP, "steps": 40, "M": 2, "r": 1},
         "mclmc_float64": {**FAST, "dtype": "float64"}}


def batch_and_alone(tmp_path, algorithm: str) -> list[tuple]:
    """``(batched (fields, trace), alone (fields, trace))`` for each spec of the sampler's grid."""
    folder, documents = plans(tmp_path, [{"name": PRESET.get(algorithm, algorithm), "overrides": {**SMALL[algorithm], **g}}
                                         for g in GRIDS[algorithm]])
    loaded = load_target(folder)
    together = estimate_batch(*loaded, [d["spec"] for d in documents])
    return [(batched, estimate(*loaded, d["spec"])) for d, batched in zip(documents, together)]


@pytest.mark.parametrize("algorithm", sorted(GRIDS))
def test_a_batched_run_gives_the_numbers_it_gets_alone(tmp_path, algorithm):
    pairs = batch_and_alone(tmp_path, algorithm)
    for (fields, trace), (alone_fields, alone_trace) in pairs:
        if algorithm == "mclmc_float64":   # blackjax's tuner rounds differently in the last bits inside lax.map
            np.testing.assert_allclose(trace["llc"], alone_trace["llc"], rtol=1e-12)
        elif algorithm in ("mclmc", "sgld"):
            # the same chain, to float32 rounding: inside lax.map blackjax's MCLMC tuner rounds differently in
            # the last bits, which the chain carries on; SGLD's full-batch loss may sum in another order
            scale = np.abs(alone_trace["llc"]).max()    # an absolute error in the loss: tiny draws' relative one is large
            np.testing.assert_allclose(trace["llc"], alone_trace["llc"], rtol=1e-5, atol=1e-5 * scale)
            assert fields["llc_mean"] == pytest.approx(alone_fields["llc_mean"], rel=1e-6)
        else:
            np.testing.assert_array_equal(trace["llc"], alone_trace["llc"])
            assert fields["llc_mean"] == alone_fields["llc_mean"]
        assert fields["batch_runs"] == len(pairs) and alone_fields["batch_runs"] == 1
    means = [fields["llc_mean"] for (fields, _), _ in pairs]
    assert len(set(means)) == len(means)          # each run's own settings reached it


def test_the_vmap_layout_agrees_to_rounding(tmp_path, monkeypatch):
    """All chains side by side: float32 sums in another order in a wider vmap, so a run agrees with
    itself alone only to rounding (SGLD has no accept step to amplify it)."""
    monkeypatch.setattr(runner, "LAYOUT", "vmap")
    for (fields, trace), (alone_fields, alone_trace) in batch_and_alone(tmp_path, "sgld"):
        np.testing.assert_allclose(trace["llc"], alone_trace["llc"], rtol=1e-4, atol=1e-4)
        assert fields["llc_mean"] == pytest.approx(alone_fields["llc_mean"], rel=1e-5)


def test_a_diverging_run_fails_alone_and_finished_runs_are_skipped(tmp_path):
    good = {"name": "sgld", "overrides": {**DIVERGING["overrides"], "step_size": 1e-4}}
    folder, documents = plans(tmp_path, [good, DIVERGING])
    assert len(batches(documents)) == 1               # one program: they run as one batch
    first = sample_all(folder, documents)
    assert [r.ran for r in first] == [True, True]
    assert first[0].error is None and (first[0].folder / "analysis.json").is_file()
    assert "NaN" in str(first[1].error)
    assert "NaN" in store.read_json(first[1].folder / "error.json")["error"]
    assert not (first[1].folder / "analysis.json").exists()
    before = (first[0].folder / "analysis.json").stat().st_mtime_ns
    again = sample_all(folder, documents)
    assert [r.ran for r in again] == [False, True]    # the finished run is kept, the failed one retried
    assert (first[0].folder / "analysis.json").stat().st_mtime_ns == before


def test_presets_mark_the_settings_a_batch_may_vary():
    from typer.testing import CliRunner

    from lambda_hat.cli import app

    result = CliRunner().invoke(app, ["presets", "sampler"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.startswith("    ")}
    assert lines["step_scale"].endswith("[batch]") and lines["gamma"].endswith("[batch]")
    assert not lines["precond"].endswith("[batch]") and not lines["draws"].endswith("[batch]")


def test_sample_command_runs_several_specs_and_reports_each(tmp_path):
    from typer.testing import CliRunner

    from lambda_hat.cli import app

    good = {"name": "sgld", "overrides": {**DIVERGING["overrides"], "step_size": 1e-4}}
    folder, documents = plans(tmp_path, [good, DIVERGING])
    specs = []
    for document in documents:
        specs += ["--spec", str(tmp_path / f"{document['sampler_id']}.json")]
        store.write_json(tmp_path / f"{document['sampler_id']}.json", document)
    runner = CliRunner()
    failed = runner.invoke(app, ["sample", "--target", str(folder), *specs])
    assert failed.exit_code == 1
    assert "1 of 2 runs failed" in failed.output and "NaN" in failed.output
    kept = runner.invoke(app, ["sample", "--target", str(folder), *specs, "--keep-going"])
    assert kept.exit_code == 0, kept.output
    assert "exists:" in kept.output                      # the finished run is not drawn again
    assert len(list(folder.glob("run_*/analysis.json"))) == 1 and len(list(folder.glob("run_*/error.json"))) == 1


def test_a_run_stops_once_precise_enough_and_says_why(tmp_path):
    """One batch, three precision targets: met early, never met, none (a fixed budget)."""
    base = {**FAST, "chains": 2, "draws": 800}
    folder, documents = plans(tmp_path, [{"name": "hmc", "overrides": {**base, "target_rel_mcse": t}}
                                         for t in (0.2, 1e-9, 0)])
    assert len(batches(documents)) == 1                        # the target never reaches the compiled program
    (loose, loose_trace), (strict, _), (fixed, fixed_trace) = estimate_batch(*load_target(folder),
                                                                            [d["spec"] for d in documents])
    assert loose["stop_reason"] == "precision" and loose["draws"] < 800 and loose["draws_max"] == 800
    assert loose["llc_rel_mcse"] <= 0.2 and loose["r_hat"] <= 1.01 and loose["ess_bulk"] >= 200    # 100 per chain
    np.testing.assert_array_equal(loose_trace["llc"], fixed_trace["llc"][:, :loose["draws"]])
    assert loose["grad_evals"] < fixed["grad_evals"]
    assert (strict["stop_reason"], strict["draws"]) == ("max_draws", 800)
    assert (fixed["stop_reason"], fixed["draws"]) == ("fixed", 800)
    assert fixed["llc_rel_mcse"] == pytest.approx(fixed["llc_sem"] / abs(fixed["llc_mean"]))
