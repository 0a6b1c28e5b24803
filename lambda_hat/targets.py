"""Stage A: make the data and the teacher, train the student w*, write the target artifact."""

from __future__ import annotations

import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lambda_hat import __version__, models
from lambda_hat import data as datasets
from lambda_hat import store
from lambda_hat.errors import TrainingDiverged
from lambda_hat.spec import sections
from lambda_hat.posterior import make_loss, minibatch
from lambda_hat.provenance import code_version
from lambda_hat.truth import known_coefficient


def planned_data_file(spec: dict, data_file: Path | None = None) -> str:
    """The user's data file of an ``npz`` target, checked against the checksum the plan recorded.

    ``data_file`` replaces the planned path (a copy staged into a Nextflow task).
    """
    path = str(data_file or spec["data"]["path"])
    planned = spec["data"].get("sha256")
    if planned and Path(path).is_file() and datasets.file_digest(path) != planned:     # a missing file: load_npz says so
        raise datasets.DataError(f"{path}: the data file changed after it was planned (sha256 differs); "
                                 "plan the sweep again")
    return path


def make_dataset(spec: dict, dtype, data_file: Path | None = None):
    """``(X, Y, teacher)`` for a resolved target spec; ``teacher`` is a ``data.Network``, or
    ``None`` for a user's data file."""
    parts = sections(spec)
    model, data, teacher = parts["model"], parts["data"], parts["teacher"]
    data_key, teacher_key, noise_key = datasets.data_keys(spec["seed"])
    if data.source == "npz":
        x, y = datasets.load_npz(planned_data_file(spec, data_file), model)
        return jnp.asarray(x, dtype), jnp.asarray(y, dtype), None
    network = datasets.teacher_network(teacher_key, teacher, model, dtype)
    x = datasets.sample_inputs(data_key, data, model.in_dim, dtype)
    y = network(x)
    return x, y + datasets.sample_noise(noise_key, data, y.shape, dtype), network


def initial_student(spec: dict, teacher_params, dtype):
    """Start of training: the teacher itself for a ``dln`` teacher, else a random init."""
    parts = sections(spec)
    model = parts["model"]
    if parts["teacher"].kind == "dln" and teacher_params is not None:
        return [dict(layer, b=jnp.zeros(layer["w"].shape[1], dtype)) if model.bias else dict(layer)
                for layer in teacher_params]
    student_key = jax.random.fold_in(jax.random.key(spec["seed"]), 3)
    return models.init(student_key, model.layer_widths(), model.bias, model.init_scale, dtype)


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
          lock: bool = True) -> tuple[Path, bool]:
    """Build the target described by a plan file's content; returns ``(folder, built)``.

    An existing finished target is kept (``built`` False) unless ``force``. ``data_file`` is where
    to read a user's data file instead of the planned path; ``lock=False`` skips the folder lock.
    A build that fails writes ``error.json`` into the target folder, then re-raises.
    """
    target_id = plan["target_id"]
    folder = store.target_dir(store_root, target_id)
    with store.locked(folder, enabled=lock):
        if not force and store.finished(folder / "meta.json", folder / "params.npz", folder / "data.npz",
                                        required=("target_id", "n", "d", "spec")):
            return folder, False
        (folder / "meta.json").unlink(missing_ok=True)
        try:
            _build(folder, plan, data_file, log)
        except Exception as err:
            store.write_error(folder, {"target_id": target_id, "labels": plan.get("labels", {})}, err)
            raise
        (folder / "error.json").unlink(missing_ok=True)      # a failed build's record, now stale
        return folder, True


def _build(folder: Path, plan: dict, data_file: Path | None, log) -> None:
    """Make the data, train w*, write the artifacts (``meta.json`` last)."""
    target_id, spec = plan["target_id"], plan["spec"]
    started = time.perf_counter()
    dtype = jnp.float64 if spec["x64"] else jnp.float32
    parts = sections(spec)
    x, y, teacher = make_dataset(spec, dtype, data_file)
    n = int(x.shape[0])
    model = parts["model"]
    w0, unravel, apply_flat = models.flat(initial_student(spec, teacher.params if teacher else None, dtype), model.activation, model.skip)
    loss = make_loss(apply_flat, x, y, parts["data"])
    w_star, curve, steps = train(loss, w0, spec, n, log)
    grad_norm = float(jnp.linalg.norm(jax.grad(loss)(w_star)))
    store.write_npz(folder / "params.npz", {"w_star": np.asarray(w_star), **models.to_arrays(unravel(w_star))})
    teacher_arrays = ({"teacher_w_star": np.asarray(models.flat(teacher.params)[0]),
                       **models.to_arrays(teacher.params, "teacher_layer")} if teacher else {})
    store.write_npz(folder / "data.npz", {"X": np.asarray(x), "Y": np.asarray(y), **teacher_arrays})
    meta = {
        "target_id": target_id, "labels": plan.get("labels", {}), "spec": spec,
        "n": n, "d": int(w_star.size), "L0": curve[-1], "dtype": str(jnp.dtype(dtype)),
        "llc_true": known_coefficient(parts["model"], parts["teacher"]),
        "teacher_network": {"activation": teacher.activation, "skip": teacher.skip} if teacher else None,
        "training": {"steps": steps, "loss_initial": curve[0], "loss_final": curve[-1],
                     "grad_norm": grad_norm, "curve": curve},
        "walltime_sec": time.perf_counter() - started,
        "versions": {"lambda_hat": __version__, "jax": jax.__version__, "optax": optax.__version__,
                     "numpy": np.__version__},
        "code_version": code_version(),
    }
    store.write_json(folder / "meta.json", meta)
