"""Bad input: one clear line per problem, exit code 1, nothing written."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from lambda_hat.cli import app

runner = CliRunner()
GOOD_SAMPLERS = "samplers: [{ name: hmc }]\n"


def plan(config, tmp_path):
    out = tmp_path / "plan"
    result = runner.invoke(app, ["plan", "--config", str(config), "--out", str(out)])
    return result, out


@pytest.mark.parametrize("targets, message", [
    ("[{ model: smal, data: small }]", "targets[0].model: unknown model preset 'smal'; did you mean 'small'?"),
    ("[{ model: base, data: base, overrides: { model: { activaton: gelu } } }]",
     "targets[0].overrides.model.activaton: unknown key; did you mean 'activation'?"),
    ("[{ model: base, data: base, overrides: { model: { depth: many } } }]",
     "targets[0].overrides.model.depth: expected an integer, got 'many'"),
    ("[{ model: base, data: base, overrides: { data: { n: 0 } } }]", "targets[0].overrides.data.n: must be >= 1, got 0"),
    ("[{ model: base, data: base, overrides: { model: { widths: [4, -2] } } }]",
     "targets[0].overrides.model.widths: expected a list of positive integers"),
    ("[{ model: base, data: base, overrides: { data: { noise_scale: -1 } } }]",
     "targets[0].overrides.data.noise_scale: must be > 0"),
    ("[{ model: dln, data: small, teacher: { preset: dln, rank: 6 } }]",
     "targets[0].teacher.rank: 6 is larger than the narrowest width 5"),
    ("[{ model: small, data: small, colour: red }]", "targets[0].colour: unknown key"),
    ("[{ model: small, data: small, overrides: { modle: { depth: 2 } } }]",
     "targets[0].overrides.modle: unknown key; did you mean 'model'?"),
    ("[{ model: small, data: small, seed: -3 }]", "targets[0].seed: expected an integer from 0 to 4294967295"),
    # JAX keys hold 32 bits of a seed: a larger one would wrap around (or overflow at build)
    ("[{ model: small, data: small, seed: 1180591620717411303424 }]",
     "targets[0].seed: expected an integer from 0 to 4294967295, got 1180591620717411303424"),
    ("[{ model: '../../evil/sneaky', data: small }]",
     "targets[0].model: '../../evil/sneaky' is not a preset name (letters, digits, '_', '-' and '.'; no folders)"),
    ("[{ model: small, data: small, overrides: { model: { activation: swish } } }]",
     "targets[0].overrides.model.activation: 'swish' is not one of relu, tanh, gelu, identity"),
    ("[]", "targets: expected a non-empty list"),
])
def test_bad_targets(targets, message, write_yaml, tmp_path):
    result, out = plan(write_yaml(f"targets: {targets}\n{GOOD_SAMPLERS}"), tmp_path)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("samplers, message", [
    ("[{ name: hcm }]", "samplers[0].name: unknown sampler preset 'hcm'; did you mean 'hmc'?"),
    ("[{ name: sgld, overrides: { step_sise: 1e-5 } }]", "samplers[0].overrides.step_sise: unknown key; did you mean 'step_size'?"),
    ("[{ name: sgld, overrides: { precond: rms } }]", "'rms' is not one of none, rmsprop, adam"),
    ("[{ name: hmc, overrides: { chains: 0 } }]", "samplers[0].overrides.chains: must be >= 1, got 0"),
    ("[{ name: vi, overrides: { M: 2.5 } }]", "samplers[0].overrides.M: expected an integer, got 2.5"),
    ("[{ name: vi, overrides: { family: flow, r: 4 } }]",
     "samplers[0].overrides: r shape the mfa family, not flow: set family: mfa or drop them"),
    ("[{ name: vi_mfa, overrides: { flow_layers: 8 } }]",
     "samplers[0].overrides: flow_layers shape the flow family, not mfa: set family: flow or drop them"),
    ("[{ name: hmc, overrides: { target_acceptance: 1.5 } }]",
     "samplers[0].overrides.target_acceptance: must be < 1, got 1.5"),
    ("[{ name: nuts, overrides: { target_acceptance: 0 } }]", "samplers[0].overrides.target_acceptance: must be > 0"),
    ("[{ name: nuts, overrides: { max_tree_depth: 100 } }]", "samplers[0].overrides.max_tree_depth: must be <= 12"),
    ("[{ name: mclmc, overrides: { step_size: 0.1 } }]",
     "samplers[0].overrides: L and step_size: set both (no tuning) or neither (both tuned); the tuner would ignore step_size"),
    ("[{ name: hmc }, { name: sgld, overrides: { batch_size: 5000 } }]",
     "samplers[1].overrides.batch_size: 5000 is larger than n = 100 of targets[0] (use 0 for full batch)"),
    ("[{ name: hmc, overrides: { seed: 9223372036854775807 } }]",
     "samplers[0].overrides.seed: must be <= 4294967295, got 9223372036854775807"),
    ("[{ name: '../../evil/sneaky' }]", "samplers[0].name: '../../evil/sneaky' is not a preset name"),
    ("[]", "samplers: expected a non-empty list"),
])
def test_bad_samplers(samplers, message, write_yaml, tmp_path):
    result, out = plan(write_yaml(f"targets: [{{ model: small, data: small }}]\nsamplers: {samplers}\n"), tmp_path)
    assert result.exit_code == 1
    assert message in result.stderr
    assert not out.exists()


def test_every_problem_is_reported_once(write_yaml, tmp_path):
    result, _ = plan(write_yaml("targets:\n  - { model: smal, data: small }\n  - { model: small, data: tiny, seed: x }\n"
                                "samplers: [{ name: hmc, overrides: { draws: -1 } }]\n"), tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 3


def test_a_preset_name_never_reaches_outside_the_presets_folders(write_yaml, tmp_path):
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "sneaky.yaml").write_text("algorithm: hmc\ndraws: 5\n")
    config = write_yaml("targets: [{ model: small, data: small }]\nsamplers: [{ name: ../evil/sneaky }]\n",
                        "config/experiments.yaml")
    result, out = plan(config, tmp_path)
    assert result.exit_code == 1 and "is not a preset name" in result.stderr and not out.exists()


@pytest.mark.parametrize("depth", [5, 8])
def test_an_alias_bomb_is_refused_at_once_in_one_short_line(depth, write_yaml, tmp_path):
    """Nested aliases expand to 9**depth values: refused before anything reads them, in one line."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, depth)]
    text = "\n".join(lines) + f"\ntargets: [{{ model: small, data: small, seed: *a{depth - 1} }}]\n" + GOOD_SAMPLERS
    result, out = plan(write_yaml(text), tmp_path)
    assert result.exit_code == 1 and not out.exists()
    assert "expands to more than 100,000 values" in result.stderr and len(result.stderr) < 300


def test_a_long_bad_value_is_shown_short(write_yaml, tmp_path):
    values = ", ".join(["[1, 2, 3, 4, 5, 6, 7, 8]"] * 200)
    result, _ = plan(write_yaml(f"targets: [{{ model: small, data: small, seed: [{values}] }}]\n" + GOOD_SAMPLERS), tmp_path)
    [line] = [line for line in result.stderr.splitlines() if "seed" in line]
    assert len(line) < 200 and "..." in line


def test_yaml_syntax_error_names_the_line(write_yaml, tmp_path):
    result, out = plan(write_yaml("targets:\n  - { model: small, data: small\nsamplers: [{ name: hmc }]\n"), tmp_path)
    assert result.exit_code == 1
    assert "YAML syntax error at line" in result.stderr
    assert not out.exists()


def test_missing_config_file(tmp_path):
    result, out = plan(tmp_path / "nope.yaml", tmp_path)
    assert result.exit_code == 1 and "nope.yaml: file not found" in result.stderr


@pytest.mark.parametrize("content, message", [
    (None, "data file not found"),
    (b"not a zip", "not a readable .npz file"),
    ({"X": np.zeros((10, 4))}, "missing array 'Y'"),
    ({"X": np.zeros((10, 3)), "Y": np.zeros((10, 1))}, "X has 3 columns and Y 1, but the model has in_dim 4"),
    ({"X": np.zeros((10, 4)), "Y": np.zeros((9, 1))}, "expected X [n, 4] and Y [n, 1]"),
])
def test_bad_npz(content, message, write_yaml, tmp_path):
    data = tmp_path / "mine.npz"
    if isinstance(content, bytes):
        data.write_bytes(content)
    elif content is not None:
        np.savez(data, **content)
    config = write_yaml("targets: [{ model: small, data: { preset: small, source: npz, path: mine.npz } }]\n" + GOOD_SAMPLERS)
    result, out = plan(config, tmp_path)
    assert result.exit_code == 1
    assert message in result.stderr
    assert not out.exists()


def test_missing_spec_files(tmp_path):
    result = runner.invoke(app, ["build", "--spec", str(tmp_path / "tgt_x.json"), "--store", str(tmp_path)])
    assert result.exit_code == 1 and "target spec file not found" in result.stderr
    result = runner.invoke(app, ["sample", "--target", str(tmp_path), "--spec", str(tmp_path / "smp_x.json")])
    assert result.exit_code == 1 and "sampler spec file not found" in result.stderr


def test_truth_command():
    result = runner.invoke(app, ["truth", "--widths", "20,30,40,30,20", "--rank", "5"])
    assert result.exit_code == 0 and "lambda = 196" in result.stdout and "multiplicity = 3" in result.stdout
    result = runner.invoke(app, ["truth", "--widths", "5,5", "--rank", "9"])
    assert result.exit_code == 1 and "rank must be between 0 and the narrowest width 5" in result.stderr


def test_presets_command_lists_keys():
    result = runner.invoke(app, ["presets", "model"])
    assert result.exit_code == 0
    assert "model presets: base, dln, large, small, tiny, wide" in result.stdout
    assert "activation" in result.stdout
    assert runner.invoke(app, ["presets", "colour"]).exit_code == 1
    # every section a target entry takes has its keys listed, the training section too (docs/sweeps.md)
    training = runner.invoke(app, ["presets", "training"])
    assert training.exit_code == 0 and "keys of training:" in training.stdout and "early_stop" in training.stdout


def test_a_missing_gpu_is_one_line_before_anything_runs(tmp_path):
    """JAX_PLATFORMS=cuda on a machine without a GPU: one line naming the cause, not JAX's bare AssertionError."""
    import os
    import subprocess

    result = subprocess.run(["lambda-hat", "truth", "--widths", "2,2", "--rank", "1"], capture_output=True, text=True,
                            env={**os.environ, "JAX_PLATFORMS": "cuda"}, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: JAX_PLATFORMS=cuda but JAX finds no such device")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_an_unwritable_output_folder_is_one_line(tmp_path):
    from lambda_hat import collect

    (tmp_path / "file").write_text("not a folder")
    result = runner.invoke(app, ["plan", "--config", "config/experiments.yaml", "--out", str(tmp_path / "file" / "plan")])
    assert result.exit_code == 1 and result.stderr.startswith("error: ")
    row = collect.failed_job({"target_id": "tgt_a", "run_id": "1", "sampler": "hmc"}, "boom")
    collect.frame([row]).to_parquet(tmp_path / "results.parquet")
    result = runner.invoke(app, ["promote", "--store", str(tmp_path), "--results", str(tmp_path / "results.parquet"),
                                 "--out", str(tmp_path / "file" / "gallery")])
    assert result.exit_code == 1 and result.stderr.startswith("error: ")
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
