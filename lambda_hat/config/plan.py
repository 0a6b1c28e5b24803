"""``lambda-hat plan``: write one JSON file per distinct target and per distinct sampler."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from lambda_hat import DEFAULT_BATCH, store
from lambda_hat import ids
from lambda_hat.config.experiments import Experiments
from lambda_hat.samplers import batches


def target_document(target) -> dict:
    return {"target_id": target.target_id, "labels": target.labels, "spec": target.spec}


def sampler_document(sampler) -> dict:
    return {"sampler_id": sampler.sampler_id, "name": sampler.name, "spec": sampler.spec}


def jobs(experiments: Experiments) -> list[dict]:
    """One entry per sampling job (target × sampler): what a results row needs even when it failed."""
    return [{"target_id": t.target_id, "sampler_id": s.sampler_id, "run_id": ids.run_id(t.target_id, s.spec),
             "sampler": s.name, "algorithm": s.spec["algorithm"], **t.labels, "seed": t.spec["seed"]}
            for t in experiments.targets for s in experiments.samplers]


def batched_runs(experiments: Experiments, size: int) -> list[list[dict]]:
    """The sampler documents in batches of one compiled program, at most ``size`` each (see
    ``samplers.batches``): the local runner's unit of work, and the building block of tasks."""
    documents = [sampler_document(s) for s in experiments.samplers]
    return [[documents[i] for i in group] for group in batches(documents, size)]


def tasks(experiments: Experiments, runs_per_task: int) -> list[list[dict]]:
    """Whole batches packed, in order, into tasks of at most ``runs_per_task`` runs (a task runs on
    every target, in one process). A batch is never split, so every front end draws the same
    batches and so gets the same numbers."""
    packed: list[list[dict]] = []
    for batch in batched_runs(experiments, runs_per_task):
        if packed and len(packed[-1]) + len(batch) <= runs_per_task:
            packed[-1] += batch
        else:
            packed.append(list(batch))
    return packed


def task_name(documents: list[dict]) -> str:
    return "tsk_" + ids.digest(ids.canonical([d["sampler_id"] for d in documents]))


def write(experiments: Experiments, out: Path, runs_per_task: int = DEFAULT_BATCH) -> dict:
    """Write ``out/targets/tgt_*.json``, ``out/samplers/smp_*.json``, ``out/plan.json``, and
    ``out/tasks/tsk_*/<index>_smp_*.json``: the sampler specs of each task (see :func:`tasks`).

    Files of an earlier plan that this config no longer names are removed, so the folder always
    describes exactly this config (Nextflow globs it).
    """
    out = Path(out)
    wanted = {}
    for target in experiments.targets:
        wanted[out / "targets" / f"{target.target_id}.json"] = target_document(target)
    for sampler in experiments.samplers:
        wanted[out / "samplers" / f"{sampler.sampler_id}.json"] = sampler_document(sampler)
    for task in tasks(experiments, runs_per_task):
        for index, document in enumerate(task):     # the index keeps the task's order in a folder
            wanted[out / "tasks" / task_name(task) / f"{index:03d}_{document['sampler_id']}.json"] = document
    for pattern in ("targets/*.json", "samplers/*.json", "tasks/*/*.json"):
        for stale in out.glob(pattern):
            if stale not in wanted:
                stale.unlink()
    for folder in out.glob("tasks/*/"):
        if not any(folder.iterdir()):
            folder.rmdir()
    for path, document in wanted.items():
        store.write_json(path, document)
    summary = counts(experiments)
    store.write_json(out / "plan.json", {
        "config": str(experiments.path), "store_root": str(experiments.store_root),
        "results": str(experiments.results), "paths_given": list(experiments.paths_given), **summary,
        "targets": [t.target_id for t in experiments.targets],
        "samplers": [s.sampler_id for s in experiments.samplers], "jobs": jobs(experiments)})
    return summary


#: the user files a target may read, by kind: where its spec names the file
USER_FILES = {"data": ("data", "path"), "model": ("model", "file"), "checkpoint": ("checkpoint", "path")}


def user_files(target) -> dict[str, str]:
    """The user files a target reads (``data``, ``model``, ``checkpoint``): ``{kind: path}``."""
    found = {}
    for kind, (section, key) in USER_FILES.items():
        entry = target.spec.get(section) or {}
        if entry.get("sha256") and entry.get(key):
            found[kind] = entry[key]
    return found


def data_inputs(experiments: Experiments, path: Path) -> None:
    """``target_id,kind,path`` lines (with a header) for the user files the targets read (a data
    file, a model file, a checkpoint), for a workflow engine to stage into each build."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["target_id", "kind", "path"])
    writer.writerows([t.target_id, kind, file] for t in experiments.targets for kind, file in user_files(t).items())
    store.write_bytes(Path(path), text.getvalue().encode())


def counts(experiments: Experiments) -> dict:
    n, m = len(experiments.targets), len(experiments.samplers)
    return {"n_targets": n, "n_samplers": m, "sampling_jobs": n * m, "total_jobs": n * m + n}


def describe(summary: dict) -> str:
    """``"N targets × M samplers = NM sampling jobs + N target builds = T total jobs"``."""
    n, m = summary["n_targets"], summary["n_samplers"]
    return (f"{n} targets × {m} samplers = {summary['sampling_jobs']} sampling jobs "
            f"+ {n} target builds = {summary['total_jobs']} total jobs")
