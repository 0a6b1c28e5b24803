"""Stage A: preset shapes and parameter counts, the DLN teacher's rank, and bit-identical builds."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml

from lambda_hat import models
from lambda_hat.config import load
from lambda_hat.config.plan import target_document
from lambda_hat.config.presets import BUILTIN
from lambda_hat.spec import ModelSpec
from lambda_hat.data import dln_layers
from lambda_hat.store import read_target as load_target
from lambda_hat.targets import build

# the seed's scaling study names these sizes (d=10, 50, 500, 5000)
PARAMETERS = {"tiny": 9, "small": 49, "base": 482, "wide": 834, "large": 4802, "dln": 75}


@pytest.mark.parametrize("preset", sorted(PARAMETERS))
def test_preset_shapes_and_counts(preset):
    spec = ModelSpec(**yaml.safe_load((BUILTIN / "model" / f"{preset}.yaml").read_text()))
    params = models.init(jax.random.key(0), spec.layer_widths(), spec.bias)
    assert sum(p.size for p in jax.tree.leaves(params)) == models.count(spec.layer_widths(), spec.bias) == PARAMETERS[preset]
    out = models.apply(params, jnp.ones((7, spec.in_dim)), spec.activation, spec.skip)
    assert out.shape == (7, spec.out_dim)


def test_skip_connections_change_the_function():
    params = models.init(jax.random.key(1), [3, 4, 4, 4, 2], bias=True)
    x = jax.random.normal(jax.random.key(2), (5, 3))
    assert not np.allclose(models.apply(params, x, "tanh", skip=True), models.apply(params, x, "tanh"))


@pytest.mark.parametrize("widths, rank", [([5, 5, 5, 5], 1), ([4, 6, 3, 5], 2), ([3, 3, 3], 0), ([6, 4, 6], -1)])
def test_dln_teacher_has_the_requested_rank(widths, rank):
    layers = dln_layers(jax.random.key(3), widths, rank, 1.0, jnp.float64)
    product = layers[0]["w"]
    for layer in layers[1:]:
        product = product @ layer["w"]
    expected = min(widths) if rank < 0 else rank
    assert np.linalg.matrix_rank(np.asarray(product), tol=1e-8) == expected


def test_build_is_deterministic_and_idempotent(write_yaml, tmp_path):
    config = write_yaml("targets:\n  - { model: small, data: small, seed: 7, overrides: { training: { steps: 400 } } }\n"
                        "  - { model: dln, data: small, teacher: { preset: dln, rank: 2 }, seed: 7 }\n"
                        "samplers: [{ name: hmc }]\n")
    for target in load(config).targets:
        first, built = build(target_document(target), tmp_path / "a")
        second, _ = build(target_document(target), tmp_path / "b")
        assert built
        for name in ("params.npz", "data.npz"):
            assert (first / name).read_bytes() == (second / name).read_bytes()
        meta, params, data = load_target(first)
        assert meta["d"] == params["w_star"].size and meta["n"] == data["X"].shape[0]
        assert meta["training"]["loss_final"] <= meta["training"]["loss_initial"]
        before = (first / "meta.json").stat().st_mtime_ns
        assert build(target_document(target), tmp_path / "a") == (first, False)
        assert (first / "meta.json").stat().st_mtime_ns == before
        assert build(target_document(target), tmp_path / "a", force=True)[1]


def test_dln_student_starts_at_the_teacher(write_yaml, tmp_path):
    config = write_yaml("targets: [{ model: dln, data: base, teacher: { preset: dln, rank: 1 }, seed: 1 }]\n"
                        "samplers: [{ name: hmc }]\n")
    folder, _ = build(target_document(load(config).targets[0]), tmp_path)
    meta, params, data = load_target(folder)
    assert meta["llc_true"] == 10.0
    # w* is the empirical minimum next to the teacher: small gradient, close to the teacher
    assert meta["training"]["grad_norm"] < 1e-6
    distance = np.linalg.norm(params["w_star"] - data["teacher_w_star"]) / np.linalg.norm(data["teacher_w_star"])
    assert distance < 0.2


def test_user_npz_data(write_yaml, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4))
    np.savez(tmp_path / "mine.npz", X=x, Y=x[:, :1] - x[:, 1:2])
    config = write_yaml("targets: [{ model: small, data: { preset: small, source: npz, path: mine.npz }, seed: 1 }]\n"
                        "samplers: [{ name: hmc }]\n")
    target = load(config).targets[0]
    assert target.spec["data"]["n"] == 64 and len(target.spec["data"]["sha256"]) == 64
    folder, _ = build(target_document(target), tmp_path / "store")
    _, _, data = load_target(folder)
    np.testing.assert_allclose(data["X"], x)


def test_build_reads_a_staged_copy_and_refuses_a_changed_data_file(write_yaml, tmp_path):
    from lambda_hat.errors import DataError

    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 4))
    np.savez(tmp_path / "mine.npz", X=x, Y=x[:, :1])
    config = write_yaml("targets: [{ model: small, data: { preset: small, source: npz, path: mine.npz }, seed: 1 }]\n"
                        "samplers: [{ name: hmc }]\n")
    document = target_document(load(config).targets[0])
    staged = tmp_path / "task" / "mine.npz"
    staged.parent.mkdir()
    staged.write_bytes((tmp_path / "mine.npz").read_bytes())
    (tmp_path / "mine.npz").unlink()                       # only the staged copy is left, as in a task
    folder, built = build(document, tmp_path / "store", data_file=staged, lock=False)
    assert built and not list((tmp_path / "store" / "targets").glob("*.lock"))
    np.savez(staged, X=x, Y=-x[:, :1])                     # edited after it was planned
    with pytest.raises(DataError, match="changed after it was planned"):
        build(document, tmp_path / "store2", data_file=staged)
