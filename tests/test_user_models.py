"""A user's own models, data and checkpoints: model files in any JAX library, classification data,
checkpoints (the LLC over training), weight-restricted LLC; estimates against known λ."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from lambda_hat import checkpoints, models
from lambda_hat.cli import app
from lambda_hat.spec import ModelSpec
from lambda_hat.truth import dln_coefficient

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "models"
runner = CliRunner()


@pytest.mark.parametrize("name", ["jax_mlp", "flax_linen_mlp", "flax_nnx_mlp", "equinox_mlp"])
def test_each_library_fits_the_model_file_contract(name, tmp_path):
    """The documented model files (plain JAX, Flax linen and NNX, Equinox) build, differentiate as
    one flat vector in float64, and round-trip through a checkpoint by key path; docs/models.md
    shows each file as it is."""
    source = EXAMPLES / f"{name}.py"
    spec = ModelSpec(file=str(source), name="mlp", in_dim=64, out_dim=10, args={"width": 32})
    network = models.build(spec, jnp.float64)
    params = network.init(jax.random.key(3))
    w, unravel, apply_flat = models.flat(network, params)
    assert w.size == 64 * 32 + 32 + 32 * 10 + 10 and w.dtype == jnp.float64
    x = jax.random.normal(jax.random.key(4), (3, 64), jnp.float64)
    assert apply_flat(w, x).shape == (3, 10) and jax.grad(lambda w: jnp.sum(apply_flat(w, x)))(w).shape == w.shape
    checkpoints.save(tmp_path / "ckpt.npz", params)
    np.testing.assert_array_equal(checkpoints.load(tmp_path / "ckpt.npz", params), np.asarray(w))
    np.savez(tmp_path / "flat.npz", params=np.asarray(w))
    np.testing.assert_array_equal(checkpoints.load(tmp_path / "flat.npz", params), np.asarray(w))
    assert source.read_text().strip() in (ROOT / "docs" / "models.md").read_text()


def sweep(tmp_path: Path, monkeypatch, config: dict, *extra: str):
    """Run the local runner on ``config`` in ``tmp_path``; returns the result and the table."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["workflow", "llc", "--local", "--config", str(path), *extra])
    table = pd.read_parquet(tmp_path / "results" / "llc_runs.parquet") if result.exit_code in (0, 1) else None
    return result, table


DLN_FILE = '''
import jax, jax.numpy as jnp
def dln(in_dim, out_dim, widths=(4,)):
    sizes = [in_dim, *widths, out_dim]
    def init(key):
        keys = jax.random.split(key, len(sizes) - 1)
        return [jax.random.normal(k, (a, b)) / jnp.sqrt(a) for k, a, b in zip(keys, sizes[:-1], sizes[1:])]
    def apply(params, x):
        for w in params:
            x = x @ w
        return x
    return init, apply
'''


def dln_data(path: Path, n: int, rank: int, seed: int = 0) -> None:
    """Data of a deep linear teacher 6 -> 6 of product rank ``rank``, Gaussian noise 0.5."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    product = rng.normal(size=(6, rank)) @ rng.normal(size=(rank, 6)) / np.sqrt(6)
    np.savez(path, X=x, Y=x @ product + 0.5 * rng.normal(size=(n, 6)))


@pytest.mark.slow
def test_known_lambda_of_a_users_classifier_and_of_a_users_model_file(tmp_path, monkeypatch):
    """(a) Multinomial logistic regression on a user's file of integer labels (p = 5, K = 4,
    n = 10 000): λ = (K - 1)(p + 1)/2 = 9, and llc_true says so. (b) A deep linear network written in
    a user's model file, on the user's data of a rank-2 teacher: Aoyagi's λ. HMC at defaults,
    within 5 % of each."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10000, 5))
    logits = x @ rng.normal(size=(5, 4)) + 0.5 * rng.normal(size=4)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    labels = (probabilities.cumsum(axis=1) > rng.uniform(size=(10000, 1))).argmax(axis=1)
    np.savez(tmp_path / "classes.npz", X=x, Y=labels)
    dln_data(tmp_path / "dln.npz", 10000, rank=2)
    (tmp_path / "models.py").write_text(DLN_FILE)
    config = {"targets": [
        {"model": "logistic", "data": {"preset": "large", "source": "npz", "path": "classes.npz"}, "seed": 1},
        {"model": {"file": "models.py", "name": "dln", "args": {"widths": [4]}},
         "data": {"preset": "large", "source": "npz", "path": "dln.npz"}, "seed": 2}],
        "samplers": [{"name": "hmc"}]}
    result, table = sweep(tmp_path, monkeypatch, config)
    assert result.exit_code == 0, result.output
    logistic, dln = (table[table["model"] == name].iloc[0] for name in ("logistic", "models.py:dln"))
    assert logistic["llc_true"] == 9.0 and logistic["data"] == "classes.npz" and logistic["d"] == 4 * 6
    assert abs(logistic["llc_mean"] / 9.0 - 1) < 0.05, logistic["llc_mean"]
    truth = float(dln_coefficient([6, 4, 6], 2)[0])                            # 13.5
    assert pd.isna(dln["llc_true"])                         # a user's data: the teacher's rank is the user's to know
    assert abs(dln["llc_mean"] / truth - 1) < 0.05, dln["llc_mean"]
    assert (table["status"] == "ok").all(), table[["model", "warnings"]]


def test_checkpoints_give_one_row_each_and_the_llc_over_training(tmp_path, monkeypatch):
    """(c) The model file with three checkpoints: three targets (w* read, not trained), a
    checkpoint column, a λ̂-against-checkpoint plot in the gallery; a checkpoint far from a minimum
    is suspect and says why."""
    (tmp_path / "models.py").write_text(DLN_FILE)
    dln_data(tmp_path / "dln.npz", 2000, rank=2)
    x, y = np.load(tmp_path / "dln.npz")["X"], np.load(tmp_path / "dln.npz")["Y"]
    from lambda_hat import model_file

    init, apply = model_file.functions(tmp_path / "models.py", "dln", 6, 6, {"widths": [4]})
    params = [jnp.asarray(w, jnp.float64) for w in init(jax.random.key(0))]
    loss = jax.jit(lambda p: jnp.mean(jnp.sum((y - apply(p, x)) ** 2, axis=1)))
    (tmp_path / "ckpt").mkdir()
    for step in range(2001):
        if step in (0, 300, 2000):
            checkpoints.save(tmp_path / "ckpt" / f"step_{step}.npz", params)
        grads = jax.grad(loss)(params)
        params = [w - 0.05 * g for w, g in zip(params, grads)]
    names = [f"ckpt/step_{step}.npz" for step in (0, 300, 2000)]
    config = {"targets": [{"model": {"file": "models.py", "name": "dln", "args": {"widths": [4]}},
                           "data": {"preset": "small", "source": "npz", "path": "dln.npz"}, "seed": 2,
                           "checkpoints": names}],
              "samplers": [{"name": "hmc", "overrides": {"draws": 300, "warmup": 200, "chains": 2}}]}
    result, table = sweep(tmp_path, monkeypatch, config, "--promote")
    assert result.exit_code == 0, result.output
    assert sorted(table["checkpoint"]) == sorted(names) and table["target_id"].nunique() == 3
    by_name = table.set_index("checkpoint")
    assert "w* is not a minimum" in by_name.loc["ckpt/step_0.npz", "warnings"]             # a random init
    assert by_name.loc["ckpt/step_2000.npz", "llc_min"] > -1 and by_name.loc["ckpt/step_2000.npz", "llc_mean"] > 0
    metas = [yaml.safe_load(p.read_text()) for p in (tmp_path / "runs").glob("targets/*/meta.json")]
    assert all(meta["training"]["steps"] == 0 and meta["training"]["checkpoint"] for meta in metas)
    assert (tmp_path / "results" / "gallery" / "llc_over_checkpoints.png").is_file()
    assert "llc_over_checkpoints.png" in (tmp_path / "results" / "gallery" / "index.html").read_text()


@pytest.mark.slow
def test_weight_restricted_llc_of_a_regular_sub_model(tmp_path, monkeypatch):
    """The last layer of a tanh MLP with the others held at w* is linear regression on fixed
    features: a regular model of (width + 1) x out_dim parameters, λ = d_sampled / 2."""
    config = {"targets": [{"model": {"preset": "small", "widths": [6], "in_dim": 3, "out_dim": 1},
                           "data": {"preset": "large"}, "teacher": "small", "seed": 4}],
              "samplers": [{"name": "hmc", "overrides": {"restrict": "1"}}, {"name": "hmc", "overrides": {"restrict": "9"}}]}
    result, table = sweep(tmp_path, monkeypatch, config)
    assert result.exit_code == 1                                   # the second names no parameter
    restricted, failed = table[table["status"] != "failed"].iloc[0], table[table["status"] == "failed"].iloc[0]
    assert restricted["d_sampled"] == 7 and restricted["d"] == 3 * 6 + 6 + 6 + 1
    assert abs(restricted["llc_mean"] / 3.5 - 1) < 0.05, restricted["llc_mean"]
    assert "restrict: '9' names no parameter of this model" in failed["error"]
