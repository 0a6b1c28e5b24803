"""Stage A: make (or read) the data and the teacher, train the student w* (or read it from a
checkpoint), write the target artifact."""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from lambda_hat import __version__, checkpoints, model_file, models
from lambda_hat import data as datasets
from lambda_hat import store
from lambda_hat.errors import DataError, TrainingDiverged
from lambda_hat.ids import file_digest
from lambda_hat.spec import PACKAGED, sections
from lambda_hat.posterior import make_loss, minibatch
from lambda_hat.provenance import code_version
from lambda_hat.truth import known_coefficient


def planned_file(spec: dict, section: str, staged: Path | None = None, what: str = "data file") -> str:
    """The user file a spec section names (``data``'s path, ``model``'s file, ``checkpoint``'s path),
    checked against the checksum the plan recorded. ``staged`` replaces the planned path (a copy
    staged into a Nextflow task)."""
    entry = spec[section]
    path = str(staged or entry.get("path") or entry.get("file"))
    planned = entry.get("sha256")
    if planned and Path(path).is_file() and file_digest(path) != planned:     # a missing file: its reader says so
        raise DataError(f"{path}: the {what} changed after it was planned (sha256 differs); plan the sweep again")
    return path


def make_dataset(spec: dict, dtype, data_file: Path | None = None, network: models.Network | None = None):
    """``(X, Y, teacher)`` for a resolved target spec; ``teacher`` is a ``data.Teacher``, or ``None``
    where the data are a user's file or a packaged data set. ``Y`` holds integer labels ``[n]`` for
    classification. ``network``: the student's (a teacher of its own architecture is one of it)."""
    parts = sections(spec)
    model, data, teacher = parts["model"], parts["data"], parts["teacher"]
    data_key, teacher_key, noise_key = datasets.data_keys(spec["seed"])
    if data.source == "npz":
        path = planned_file(spec, "data", data_file)
        x, y = datasets.load_npz(path, model)
    elif data.source in PACKAGED:
        x, y = datasets.packaged(data.source)
        datasets.check_shapes(x, y, model, f"data set {data.source}")
    else:
        made_by = datasets.teacher_network(teacher_key, teacher, model, dtype, network)
        x = datasets.sample_inputs(data_key, data, model.in_dim, dtype)
        return x, datasets.labels(noise_key, made_by(x), data), made_by
    return jnp.asarray(x, dtype), jnp.asarray(y) if datasets.is_labels(y) else jnp.asarray(y, dtype), None


def initial_student(spec: dict, network: models.Network, teacher, dtype):
    """Start of training: the teacher itself for a ``dln`` teacher, else a random init."""
    parts = sections(spec)
    model = parts["model"]
    if parts["teacher"].kind == "dln" and teacher is not None and model.is_mlp:
        return [dict(layer, b=jnp.zeros(layer["w"].shape[1], dtype)) if model.bias else dict(layer)
                for layer in teacher.params]
    student_key = jax.random.fold_in(jax.random.key(spec["seed"]), 3)
    return models.cast(network.init(student_key), dtype)


def train(loss, w0, spec: dict, n: int, log=None):
    """Minimize ``loss`` from ``w0`` with optax; returns ``(w*, curve, steps run)``.

    Runs ``patience`` steps per compiled chunk; stops early when the full loss improves by less
    than ``early_stop`` over a chunk.
    """
    training = sections(spec)["training"]
    schedule = (optax.cosine_decay_schedule(training.lr, training.steps, alpha=0.01)
                if training.lr_decay else training.lr)
    optimizer = optax.adam(schedule) if training.optimizer == "adam" else optax.sgd(schedule)
    batch = minibatch(training.batch_size, n)
    chunk = min(training.patience, training.steps)

    @jax.jit
    def run(w, opt_state, key):
        def body(carry, step_key):
            w, opt_state = carry
            index = jax.random.randint(step_key, (batch,), 0, n) if batch else None
            grad = jax.grad(loss)(w, index)
            updates, opt_state = optimizer.update(grad, opt_state, w)
            return (optax.apply_updates(w, updates), opt_state), None

        (w, opt_state), _ = jax.lax.scan(body, (w, opt_state), jax.random.split(key, chunk))
        return w, opt_state, loss(w)

    w, opt_state = w0, optimizer.init(w0)
    key = jax.random.fold_in(jax.random.key(spec["seed"]), 4)
    curve = [float(loss(w))]
    steps = 0
    while steps < training.steps:
        w, opt_state, value = run(w, opt_state, jax.random.fold_in(key, steps))
        steps += chunk
        curve.append(float(value))
        if log:
            log(steps, training.steps, curve[-1])
        if not math.isfinite(curve[-1]):
            raise TrainingDiverged(f"training diverged at step {steps} (loss {curve[-1]}); lower training.lr")
        if training.early_stop and curve[-2] - curve[-1] < training.early_stop * abs(curve[-2]):
            break
    return w, curve, steps


def build(plan: dict, store_root: Path, force: bool = False, log=None, data_file: Path | None = None,
          lock: bool = True, model_file_path: Path | None = None, checkpoint: Path | None = None) -> tuple[Path, bool]:
    """Build the target described by a plan file's content; returns ``(folder, built)``.

    An existing finished target is kept (``built`` False) unless ``force``. ``data_file``,
    ``model_file_path`` and ``checkpoint`` are where to read the user's files instead of their
    planned paths; ``lock=False`` skips the folder lock. A build that fails writes ``error.json``
    into the target folder, then re-raises.
    """
    target_id = plan["target_id"]
    folder = store.target_dir(store_root, target_id)
    with store.locked(folder, enabled=lock):
        if not force and store.finished(folder / "meta.json", folder / "params.npz", folder / "data.npz",
                                        required=("target_id", "n", "d", "spec")):
            return folder, False
        (folder / "meta.json").unlink(missing_ok=True)
        try:
            _build(folder, plan, data_file, model_file_path, checkpoint, log)
        except Exception as err:
            store.write_error(folder, {"target_id": target_id, "labels": plan.get("labels", {})}, err)
            raise
        (folder / "error.json").unlink(missing_ok=True)      # a failed build's record, now stale
        return folder, True


def design_rank(x, model) -> int | None:
    """The rank of the inputs ``[X, 1]`` (``X`` without biases) of a model without hidden layers,
    which fixes its learning coefficient; ``None`` for other models."""
    if not model.is_mlp or model.hidden():
        return None
    x = np.asarray(x, float)
    return int(np.linalg.matrix_rank(np.hstack([x, np.ones((len(x), 1))]) if model.bias else x))


def _build(folder: Path, plan: dict, data_file: Path | None, model_path: Path | None, checkpoint: Path | None,
           log) -> None:
    """Make the data, train (or read) w*, write the artifacts (``meta.json`` last)."""
    target_id, spec = plan["target_id"], plan["spec"]
    started = time.perf_counter()
    dtype = jnp.float64 if spec["x64"] else jnp.float32
    parts = sections(spec)
    model = parts["model"]
    source = planned_file(spec, "model", model_path, "model file") if model.file else None
    network = models.build(model, dtype, source)
    x, y, teacher = make_dataset(spec, dtype, data_file, network)
    n = int(x.shape[0])
    w0, unravel, apply_flat = models.flat(network, initial_student(spec, network, teacher, dtype))
    loss = make_loss(apply_flat, x, y, parts["data"])
    if "checkpoint" in spec:                 # w* is given: not trained
        path = planned_file(spec, "checkpoint", checkpoint, "checkpoint")
        w_star = jnp.asarray(checkpoints.load(path, unravel(w0)), dtype)
        curve, steps = [float(loss(w_star))], 0
    else:
        w_star, curve, steps = train(loss, w0, spec, n, log)
    grad_norm = float(jnp.linalg.norm(jax.grad(loss)(w_star)))
    store.write_npz(folder / "params.npz", {"w_star": np.asarray(w_star),
                                            **(models.to_arrays(unravel(w_star)) if model.is_mlp else {})})
    teacher_arrays = ({"teacher_w_star": np.asarray(ravel_pytree(teacher.params)[0]),
                       **models.to_arrays(teacher.params, "teacher_layer")} if teacher and teacher.activation else {})
    store.write_npz(folder / "data.npz", {"X": np.asarray(x), "Y": np.asarray(y), **teacher_arrays})
    if source:                               # sampling tasks read the model from the target itself
        shutil.copyfile(source, folder / model_file.COPY)
    meta = {
        "target_id": target_id, "labels": plan.get("labels", {}), "spec": spec,
        "n": n, "d": int(w_star.size), "L0": curve[-1], "dtype": str(jnp.dtype(dtype)),
        "llc_true": None if "checkpoint" in spec else known_coefficient(model, parts["teacher"], parts["data"],
                                                                       design_rank(x, model)),
        "teacher_network": {"activation": teacher.activation, "skip": teacher.skip} if teacher and teacher.activation else None,
        "training": {"steps": steps, "loss_initial": curve[0], "loss_final": curve[-1],
                     "grad_norm": grad_norm, "curve": curve, "checkpoint": spec.get("checkpoint", {}).get("path")},
        "walltime_sec": time.perf_counter() - started,
        "versions": {"lambda_hat": __version__, "jax": jax.__version__, "optax": optax.__version__,
                     "numpy": np.__version__},
        "code_version": code_version(),
    }
    store.write_json(folder / "meta.json", meta)
