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
    ("[{ name: nuts, overrides: { gamma: 0 } }]",
     "samplers[0].overrides: init_spread is a share of the localization's scale 1 / sqrt(gamma), which gamma = 0 does not have"),
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


@pytest.mark.parametrize("content, model, message", [
    (None, "small", "data file not found"),
    (b"not a zip", "small", "not a readable .npz file"),
    ({"X": np.zeros((10, 4))}, "small", "missing array 'Y'"),
    # widths the target gives must agree with the data (others are taken from it)
    ({"X": np.zeros((10, 3)), "Y": np.zeros((10, 1))}, "{ preset: small, in_dim: 4 }",
     "X has 3 columns, but the model has in_dim 4"),
    ({"X": np.zeros((10, 4)), "Y": np.zeros((9, 1))}, "small",
     "expected X [n, p] and Y [n, k] (or integer labels [n]), got [10, 4] and [9, 1]"),
    ({"X": np.zeros((10, 4)), "Y": np.arange(10) % 5}, "{ preset: small, out_dim: 3 }",
     "the labels run to 4, outside out_dim 3 (classes 0 .. 2)"),
    ({"X": np.zeros((10, 4)), "Y": np.arange(10) % 5}, "small",
     "Y holds integer labels (classification), but noise_model is laplace"),
])
def test_bad_npz(content, model, message, write_yaml, tmp_path):
    data = tmp_path / "mine.npz"
    if isinstance(content, bytes):
        data.write_bytes(content)
    elif content is not None:
        np.savez(data, **content)
    noise = ", noise_model: laplace" if "laplace" in message else ""
    config = write_yaml(f"targets: [{{ model: {model}, data: {{ preset: small, source: npz, path: mine.npz{noise} }} }}]\n"
                        + GOOD_SAMPLERS)
    result, out = plan(config, tmp_path)
    assert result.exit_code == 1
    assert message in result.stderr
    assert not out.exists()


MODEL_FILE = """
import jax, jax.numpy as jnp
def linear(in_dim, out_dim, scale=1.0):
    def init(key):
        return {"w": scale * jax.random.normal(key, (in_dim, out_dim))}
    def apply(params, x):
        return x @ params["w"]
    return init, apply
def wrong_shape(in_dim, out_dim):
    init, apply = linear(in_dim, out_dim + 1)
    return init, apply
def not_finite(in_dim, out_dim):
    init, _ = linear(in_dim, out_dim)
    return init, lambda params, x: jnp.log(-jnp.ones((x.shape[0], out_dim)))
def not_a_pair(in_dim, out_dim):
    return 3
"""


@pytest.mark.parametrize("source, model, message", [
    (MODEL_FILE, "{ file: models.py, name: lin }", "models.py: no function 'lin' (it defines: linear, not_a_pair, "
     "not_finite, wrong_shape)"),
    ("import nothing_here\n", "{ file: models.py, name: f }",
     "models.py: cannot import it (ModuleNotFoundError: No module named 'nothing_here')"),
    ("def f(in_dim, out_dim):\n    return (\n", "{ file: models.py, name: f }", "models.py: cannot import it (SyntaxError"),
    (MODEL_FILE, "{ file: models.py, name: wrong_shape }",
     "wrong_shape(in_dim=4, out_dim=1): apply gives outputs of shape [2, 2] for 2 inputs, expected [2, 1] (out_dim)"),
    (MODEL_FILE, "{ file: models.py, name: not_finite }", "not_finite(in_dim=4, out_dim=1): apply gives NaN or inf"),
    (MODEL_FILE, "{ file: models.py, name: not_a_pair }", "not_a_pair(in_dim=4, out_dim=1) must return (init, apply)"),
    (MODEL_FILE, "{ file: models.py, name: linear, args: { scael: 2 } }",
     "linear(in_dim=4, out_dim=1, scael=2) failed (TypeError:"),
    (MODEL_FILE, "{ file: models.py, name: linear, activation: relu }",
     "targets[0].model.activation: has no effect on a model file's network"),
    (None, "{ file: models.py, name: linear }", "models.py: model file not found"),
])
def test_bad_model_file(source, model, message, write_yaml, tmp_path):
    """Every problem with a user's model file is one line naming the file, before anything runs."""
    config = write_yaml(f"targets: [{{ model: {model}, data: small, seed: 1 }}]\n" + GOOD_SAMPLERS, "config/sweep.yaml")
    if source is not None:
        (config.parent / "models.py").write_text(source)
    result, out = plan(config, tmp_path)
    assert result.exit_code == 1, result.output
    [line] = result.stderr.strip().splitlines()
    assert message in line and line.startswith("error: targets[0].model")
    assert not out.exists()


def test_bad_checkpoints(write_yaml, tmp_path):
    config = write_yaml("targets: [{ model: tiny, data: tiny, checkpoints: [a.npz, b.npz, c.npz, d.npz] }]\n"
                        + GOOD_SAMPLERS, "config/sweep.yaml")
    np.savez(config.parent / "a.npz", params=np.zeros(8))                # tiny: 2 -> 2 -> 1 has 9 parameters
    np.savez(config.parent / "b.npz", **{"0/w": np.zeros((2, 2)), "0/b": np.zeros(2), "1/w": np.zeros((2, 1))})
    np.savez(config.parent / "c.npz", **{"0/w": np.zeros((2, 3)), "0/b": np.zeros(2), "1/w": np.zeros((2, 1)),
                                         "1/b": np.zeros(1)})
    result, out = plan(config, tmp_path)
    assert result.exit_code == 1 and not out.exists()
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4
    assert "targets[0].checkpoints[0]: " in lines[0] and "params holds 8 values (shape [8]), but the model has 9 parameters" in lines[0]
    assert "checkpoints[1]: " in lines[1] and "no 'params' vector, and no array for the model's parameter 1/b" in lines[1]
    assert "checkpoints[2]: " in lines[2] and "0/w has shape [2, 3], the model's has [2, 2]" in lines[2]
    assert "checkpoints[3]: " in lines[3] and "d.npz: checkpoint not found" in lines[3]


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
    assert "model presets: base, cnn_shallow, dln, large, logistic, mlp_deep_relu, small, tiny, wide" in result.stdout
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
