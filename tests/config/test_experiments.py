"""Sweep files: the user's own examples plan with the counts they state; IDs are content addresses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lambda_hat.config import load
from lambda_hat.config.plan import counts, describe, write
from tests.conftest import FIXTURES

SEED = FIXTURES / "seed"
EXAMPLE = yaml.safe_load((SEED / "example.yaml").read_text())

# (block, distinct targets, distinct samplers). Blocks that show only targets or only samplers
# are completed with the main example's other half. The ablation block's `bias: true` and
# `activation: tanh` are the base preset's own values, so those two entries are one target.
EXPECTED = {
    "example": (3, 4), "architecture": (4, 4), "data": (4, 4), "sampler_hyper": (3, 9),
    "seeds": (5, 4), "combined": (12, 3), "start_small": (1, 1), "baseline": (3, 4),
    "ablation": (3, 4), "scaling": (4, 4),
}


def complete(block: dict) -> dict:
    return {"targets": block.get("targets") or EXAMPLE["targets"],
            "samplers": block.get("samplers") or EXAMPLE["samplers"]}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_seed_block_plans(name, write_yaml):
    block = yaml.safe_load((SEED / f"{name}.yaml").read_text())
    experiments = load(write_yaml(yaml.safe_dump(complete(block))))
    n, m = EXPECTED[name]
    assert (len(experiments.targets), len(experiments.samplers)) == (n, m)
    assert counts(experiments)["total_jobs"] == n * m + n


def test_stated_counts_of_the_seed(tmp_path):
    example = counts(load(SEED / "example.yaml"))
    assert describe(example) == "3 targets × 4 samplers = 12 sampling jobs + 3 target builds = 15 total jobs"
    combined = load(SEED / "combined.yaml")
    assert (counts(combined)["sampling_jobs"], counts(combined)["total_jobs"]) == (36, 48)


def test_seed_document_blocks_match_fixtures():
    """The fixtures are the user's blocks verbatim (checked where shared/ sits beside the checkout)."""
    doc = Path(__file__).resolve().parents[3] / "shared" / "seed" / "parameter-sweeps.md"
    if not doc.is_file():
        pytest.skip("shared/seed not beside this checkout")
    blocks = re.findall(r"```yaml\n(.*?)```", doc.read_text(), re.S)
    fixtures = [p.read_text().split("\n", 1)[1] for p in sorted(SEED.glob("*.yaml"))]
    assert sorted(blocks) == sorted(fixtures)


def test_plan_writes_one_file_per_distinct_spec(tmp_path):
    experiments = load(SEED / "example.yaml")
    summary = write(experiments, tmp_path / "plan")
    assert len(list((tmp_path / "plan" / "targets").glob("tgt_*.json"))) == summary["n_targets"] == 3
    assert len(list((tmp_path / "plan" / "samplers").glob("smp_*.json"))) == 4
    # a smaller config in the same folder leaves no stale spec files behind
    smaller = load(SEED / "start_small.yaml")
    write(smaller, tmp_path / "plan")
    assert [p.stem for p in (tmp_path / "plan" / "targets").glob("*.json")] == [smaller.targets[0].target_id]


def test_ids_ignore_key_order_and_comments(write_yaml):
    first = load(write_yaml("targets:\n  - { model: small, data: small, seed: 42 }\n"
                            "samplers:\n  - { name: sgld, overrides: { step_size: 1e-6, draws: 10 } }\n", "a.yaml"))
    second = load(write_yaml("# a comment\nsamplers:\n  - { overrides: { draws: 10, step_size: 0.000001 }, name: sgld }\n"
                             "targets:\n  - { seed: 42, data: small, model: small }  # same target\n", "b.yaml"))
    assert first.targets[0].target_id == second.targets[0].target_id
    assert first.samplers[0].sampler_id == second.samplers[0].sampler_id


@pytest.mark.parametrize("change", [
    "{ model: small, data: small, seed: 43 }",
    "{ model: small, data: small, seed: 42, overrides: { model: { activation: relu } } }",
    "{ model: small, data: small, seed: 42, overrides: { data: { noise_scale: 0.25 } } }",
    "{ model: small, data: small, seed: 42, overrides: { training: { steps: 10 } } }",
    "{ model: small, data: base, seed: 42 }",
])
def test_any_semantic_change_changes_the_id(change, write_yaml):
    base = load(write_yaml("targets: [{ model: small, data: small, seed: 42 }]\nsamplers: [{ name: hmc }]\n", "a.yaml"))
    other = load(write_yaml(f"targets: [{change}]\nsamplers: [{{ name: hmc }}]\n", "b.yaml"))
    assert base.targets[0].target_id != other.targets[0].target_id


def test_override_that_equals_the_default_collapses(write_yaml):
    experiments = load(write_yaml("targets:\n  - { model: base, data: base, seed: 1 }\n"
                                  "  - { model: base, data: base, seed: 1, overrides: { model: { bias: true } } }\n"
                                  "samplers: [{ name: hmc }, { name: hmc, overrides: { num_integration_steps: 8 } }]\n"))
    assert (len(experiments.targets), len(experiments.samplers)) == (1, 1)


def test_inline_teacher_mapping_and_user_presets(write_yaml, tmp_path):
    write_yaml("in_dim: 3\nwidths: [7, 7, 7]\nout_dim: 1\nactivation: relu\n", "presets/model/mlp_deep_relu.yaml")
    write_yaml("algorithm: sgld\nprecond: rmsprop\nstep_size: 1e-5\n", "presets/sampler/my_sgld.yaml")
    experiments = load(write_yaml(
        "targets:\n  - { model: mlp_deep_relu, data: small, seed: 1 }\n"
        "  - { model: dln, data: small, teacher: { preset: dln, rank: 2 }, seed: 1 }\n"
        "samplers: [{ name: my_sgld, overrides: { draws: 5 } }]\n"))
    assert experiments.targets[0].spec["model"]["widths"] == [7, 7, 7]
    assert experiments.targets[1].spec["teacher"] == {**experiments.targets[1].spec["teacher"], "kind": "dln", "rank": 2}
    sampler = experiments.samplers[0].spec
    assert sampler["algorithm"] == "sgld"
    assert sampler["settings"]["precond"] == "rmsprop" and sampler["settings"]["step_size"] == 1e-5
    assert sampler["settings"]["draws"] == 5


def test_default_config_plans():
    experiments = load(Path(__file__).resolve().parents[2] / "config" / "experiments.yaml")
    assert len(experiments.targets) >= 2 and len(experiments.samplers) >= 5
    assert {s.spec["algorithm"] for s in experiments.samplers} == {"hmc", "nuts", "mclmc", "sgld", "vi"}


def test_vi_family_follows_the_settings_given(write_yaml):
    """The mixture is VI's default; a family's own settings given alone choose it (the seed's
    ``{M: 8, r: 2}`` stays the mixture), and the resolved spec says which."""
    experiments = load(write_yaml(
        "targets: [{ model: small, data: small }]\nsamplers:\n  - { name: vi }\n"
        "  - { name: vi, overrides: { M: 4, r: 1 } }\n  - { name: vi, overrides: { flow_layers: 2 } }\n"
        "  - { name: vi_flow }\n  - { name: vi_mfa }\n"))
    # vi_mfa is the default spec again: five entries, four specs
    assert [s.spec["settings"]["family"] for s in experiments.samplers] == ["mfa", "mfa", "flow", "flow"]


def hidden_layers(text: str, write_yaml) -> list[list[int]]:
    config = write_yaml("targets:\n" + text + "samplers: [{ name: hmc }]\n")
    from lambda_hat.spec import ModelSpec

    return [ModelSpec(**t.spec["model"]).hidden() for t in load(config).targets]


def test_depth_and_width_overrides_take_effect(write_yaml):
    layers = hidden_layers(
        "  - { model: base, data: base, overrides: { model: { depth: 8 } } }\n"        # the preset's width, 8 layers
        "  - { model: base, data: base, overrides: { model: { width: 4 } } }\n"        # the preset's 2 layers, width 4
        "  - { model: { preset: small, depth: 3, width: 5 }, data: small }\n"
        "  - { model: { preset: small, widths: [] }, data: small }\n", write_yaml)     # no hidden layer
    assert layers == [[16] * 8, [4, 4], [5, 5, 5], []]


@pytest.mark.parametrize("text, message", [
    ("  - { model: small, data: small, overrides: { model: { depth: 2, widths: [3] } } }\n",
     "targets[0].overrides.model: give widths (every hidden layer) or depth and width, not both"),
    ("  - { model: large, data: small, overrides: { model: { depth: 2 } } }\n",
     "targets[0].overrides.model.depth: the preset's hidden widths [48, 48, 32] differ; give width too"),
])
def test_ambiguous_layer_overrides_are_refused(text, message, write_yaml):
    from lambda_hat.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)):
        hidden_layers(text, write_yaml)
