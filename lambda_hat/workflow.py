"""The local executor of a plan: build targets, run samplers, collect; resumable and failure-isolated.

Every job is one call of the same library functions the CLI and Nextflow use. Finished artifacts
are skipped (content-addressed), a failed job writes ``error.json`` and a log and never stops the
others, and Ctrl-C or SIGTERM stops between atomic writes, so the next run resumes.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lambda_hat import DEFAULT_BATCH, progress, store
from lambda_hat.config import load
from lambda_hat.config.plan import batched_runs, describe, target_document, write
from lambda_hat.config.plan import jobs as jobs_of   # `jobs` is run_local's worker count

LOG_DIR = store.LOG_DIR


@dataclass
class Outcome:
    kind: str            # "build" | "sample"
    label: str
    status: str          # "ok" | "suspect" | "failed" | "blocked"
    message: str = ""
    seconds: float = 0.0
    target_id: str = ""
    sampler_id: str = ""
    reused: bool = False  # its artifact was finished by an earlier run: nothing was redone


@dataclass
class Summary:
    outcomes: list = field(default_factory=list)
    results: Path | None = None
    rows: int = 0
    retry: Path | None = None
    gallery: Path | None = None

    @property
    def failed(self) -> list:
        return [o for o in self.outcomes if o.status in ("failed", "blocked")]

    def counts(self) -> dict:
        """Jobs by status (a reused job counts under its own status), and how many were reused."""
        found = {k: sum(o.status == k for o in self.outcomes) for k in ("ok", "suspect", "failed", "blocked")}
        return {**found, "reused": sum(o.reused for o in self.outcomes)}

    def table(self) -> str:
        """The end-of-sweep summary for stdout: every job's status, also of those an earlier run did."""
        lines = [f"{'job':<8} {'what':<44} {'status':<8} {'seconds':>8}  reason"]
        for o in self.outcomes:
            when = "earlier" if o.reused else f"{o.seconds:.1f}"
            lines.append(f"{o.kind:<8} {o.label:<44} {o.status:<8} {when:>8}  {o.message}")
        counts = self.counts()
        lines.append(", ".join(f"{counts[k]} {k}" for k in ("ok", "suspect", "failed", "blocked")) +
                     f" ({counts['reused']} reused from earlier runs)" +
                     (f"; {self.rows} rows -> {self.results}" if self.results else ""))
        if self.gallery:
            lines.append(f"gallery: {self.gallery / 'index.html'}")
        if self.retry:
            lines.append(f"failed jobs: rerun the same command to retry them, or run only them with --config {self.retry}")
        return "\n".join(lines)


def _log_failure(name: str, text: str | None) -> None:
    """Write the job's traceback to ``logs/<name>.log``; ``None`` removes an earlier failure's log."""
    try:
        if text is None:
            (LOG_DIR / f"{name}.log").unlink(missing_ok=True)
            return
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        (LOG_DIR / f"{name}.log").write_text(text)
    except OSError:
        pass


def build_job(document: dict, store_root: str, force: bool) -> Outcome:
    """One target build, with its failure caught, logged and written as ``error.json``."""
    from lambda_hat import runtime, targets

    timer = progress.Timer()
    label = f"{document['target_id']} ({'/'.join(document['labels'].values())})"
    try:
        runtime.configure()
        _, built = targets.build(document, Path(store_root), force=force)
        _log_failure(f"build_{document['target_id']}", None)
        return Outcome("build", label, "ok", seconds=timer(), target_id=document["target_id"], reused=not built)
    except Exception as err:  # noqa: BLE001 - isolate any failure to its own job (the build wrote error.json)
        message = f"{type(err).__name__}: {err}"
        _log_failure(f"build_{document['target_id']}", traceback.format_exc())
        return Outcome("build", label, "failed", message.splitlines()[0], timer(), document["target_id"])


def sample_task(target_folder: str, documents: list[dict], force: bool, batch: int = 0,
                follow=None) -> list[Outcome]:
    """Sampling jobs of one target in one process, drawn in compiled batches of at most ``batch``
    runs (0: unbounded), with failures caught and logged (sampling writes ``error.json``).

    One :class:`Outcome` per job, each with its share of its batch's time; a failed run fails
    alone. ``follow(label)`` gives the progress callback of a batch (in-process runs only).
    """
    from lambda_hat import runtime, sampling

    target_id = Path(target_folder).name
    timer = progress.Timer()
    try:
        runtime.configure()
        label = (lambda plans: follow(f"{target_id} × {progress.batch_label(plans)}")) if follow else None
        results = sampling.sample_all(Path(target_folder), documents, force=force, batch=batch, progress=label)
    except Exception as err:  # noqa: BLE001 - the target itself could not be read: every job fails
        message = f"{type(err).__name__}: {err}".splitlines()[0]
        for document in documents:
            _log_failure(f"sample_{target_id}_{document['sampler_id']}", traceback.format_exc())
        return [Outcome("sample", f"{target_id} × {d['name']}", "failed", message, timer() / len(documents),
                        target_id, d["sampler_id"]) for d in documents]
    seconds = timer() / max(1, sum(r.ran for r in results))
    return [outcome(target_id, result, seconds if result.ran else 0.0) for result in results]


def outcome(target_id: str, result, seconds: float) -> Outcome:
    """The :class:`Outcome` of one run of :func:`sampling.sample_all`, its failure logged."""
    document = result.plan
    label, log = f"{target_id} × {document['name']}", f"sample_{target_id}_{document['sampler_id']}"
    if result.error is not None:
        error = result.error
        _log_failure(log, "".join(traceback.format_exception(error)))
        return Outcome("sample", label, "failed", f"{type(error).__name__}: {error}".splitlines()[0], seconds,
                       target_id, document["sampler_id"])
    _log_failure(log, None)
    warnings = store.read_json(result.folder / "analysis.json").get("warnings")
    return Outcome("sample", label, "suspect" if warnings else "ok", f"suspect: {warnings}" if warnings else "",
                   seconds, target_id, document["sampler_id"], reused=not result.ran)


def _terminate(signum, frame):
    raise KeyboardInterrupt


def retry_path(origin: Path) -> Path:
    """Where the failed jobs of the sweep file ``origin`` are written: ``<stem>.retry.yaml`` beside it."""
    return Path(origin).parent / f"{Path(origin).stem}.retry.yaml"


def write_retry(experiments, failed: list, config: Path) -> Path | None:
    """``<stem>.retry.yaml`` beside the sweep file, holding only the targets and samplers of failed jobs.

    It names the sweep it retries (``retry_of``), so that running it refreshes that sweep's whole
    table. The failed jobs of a retry file are those of its original. With no failed job, a retry
    file this sweep wrote earlier is removed (not the one being run).
    """
    origin = Path(config).parent / experiments.retry_of if experiments.retry_of else Path(config)
    path = retry_path(origin)
    header = f"# failed jobs of {origin}\n"
    if not failed:
        if path.resolve() != Path(config).resolve() and path.is_file() and path.read_text().startswith(header):
            path.unlink()
        return None
    target_ids = {o.target_id for o in failed}
    sampler_ids = {o.sampler_id for o in failed if o.sampler_id}
    targets = [t.entry for t in experiments.targets if t.target_id in target_ids]
    samplers = [s.entry for s in experiments.samplers if s.sampler_id in sampler_ids]
    if not samplers:   # only builds failed: retry them with every sampler
        samplers = [s.entry for s in experiments.samplers]
    raw = yaml.safe_load(Path(config).read_text())
    document = {k: raw[k] for k in ("store_root", "results", "jax_enable_x64", "presets_dir") if k in raw}
    document.update(retry_of=origin.name, targets=targets, samplers=samplers)
    store.write_bytes(path, (header + yaml.safe_dump(document, sort_keys=False)).encode())
    return path


def run_local(config: Path, jobs: int = 1, force: bool = False, promote: bool = False,
              plan_dir: Path = store.PLAN_DIR, batch: int = DEFAULT_BATCH) -> Summary:
    """Plan, build, sample and collect the sweep in ``config`` on this machine.

    A target's runs that differ only in numeric settings are drawn in batches of at most
    ``batch`` runs by one compiled program (1: every run alone).
    """
    experiments = load(config)                       # config errors stop here, before any work
    # a retry file's run refreshes the whole table of the sweep it retries
    table_of = load(Path(config).parent / experiments.retry_of) if experiments.retry_of else experiments
    counts = write(experiments, plan_dir, batch)
    progress.log(describe(counts))
    store_root = experiments.store_root
    progress.log(f"store {store_root.resolve()}, results {table_of.results.resolve()}, logs {LOG_DIR.resolve()} "
                 "(outputs are relative to this folder; data files and presets to the sweep file's)")
    store.clear_stale_locks(store_root)
    summary = Summary()
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        with progress.SweepProgress(counts["n_targets"], counts["sampling_jobs"], jobs) as bars:
            if jobs > 1:
                _run_pool(experiments, store_root, jobs, force, batch, summary, bars)
            else:
                _run_serial(experiments, store_root, force, batch, summary, bars)
    except KeyboardInterrupt:
        progress.log("interrupted: finished artifacts are kept; rerun the same command to resume")
        raise SystemExit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    from lambda_hat.collect import collect

    table = collect(store_root, table_of.results, plan={"jobs": jobs_of(table_of)})
    summary.results, summary.rows = table_of.results, len(table)
    summary.retry = write_retry(experiments, summary.failed, config)
    if promote:
        from lambda_hat.report.gallery import promote as write_gallery

        summary.gallery = store.gallery_dir(table_of.results)
        write_gallery(store_root, table_of.results, summary.gallery)
    return summary


def blocked(target, sampler) -> Outcome:
    return Outcome("sample", f"{target.target_id} × {sampler.name}", "blocked", "its target failed to build",
                   0.0, target.target_id, sampler.sampler_id)


def _record(summary: Summary, bars: progress.SweepProgress, outcome: Outcome) -> Outcome:
    summary.outcomes.append(outcome)
    bars.finished(outcome.kind, outcome.label, outcome.status, outcome.seconds, outcome.message, outcome.reused)
    return outcome


def _run_serial(experiments, store_root: Path, force: bool, batch: int, summary: Summary,
                bars: progress.SweepProgress) -> None:
    for target in experiments.targets:
        bars.job(f"build {target.target_id}")
        outcome = _record(summary, bars, build_job(target_document(target), str(store_root), force))
        if outcome.status == "failed":
            for sampler in experiments.samplers:
                _record(summary, bars, blocked(target, sampler))
            continue
        folder = str(store.target_dir(store_root, target.target_id))
        for group in batched_runs(experiments, batch):
            for done in sample_task(folder, group, force, batch, follow=bars.job):
                _record(summary, bars, done)


def _worker_init() -> None:
    """In each worker: Ctrl-C is the parent's to handle (it stops the workers itself), and the
    worker dies with its parent, even one killed with SIGKILL (Linux ``PR_SET_PDEATHSIG``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass                                            # not Linux: workers may outlive a killed parent
    if os.getppid() == 1:                               # the parent died before prctl took effect
        os._exit(1)


def _stop_workers(pool: ProcessPoolExecutor, store_root: Path) -> None:
    """Stop running jobs now. Their writes are atomic: nothing half-written is read; the locks and
    temporary files of the writes they were killed in are removed once they are gone."""
    processes = list(getattr(pool, "_processes", {}).values())
    for process in processes:
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)
    for process in processes:
        process.join(timeout=10)
    store.clear_stale_locks(store_root)


def _run_pool(experiments, store_root: Path, jobs: int, force: bool, batch: int, summary: Summary,
              bars: progress.SweepProgress) -> None:
    context = multiprocessing.get_context("spawn")     # JAX is not fork-safe
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_worker_init)
    try:
        pending = {pool.submit(build_job, target_document(t), str(store_root), force): t
                   for t in experiments.targets}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                owner = pending.pop(future)
                result = future.result()
                if isinstance(result, list):             # a sampling task: its runs' outcomes
                    for one in result:
                        _record(summary, bars, one)
                    continue
                outcome = _record(summary, bars, result)
                folder = str(store.target_dir(store_root, owner.target_id))
                if outcome.status == "failed":
                    for sampler in experiments.samplers:
                        _record(summary, bars, blocked(owner, sampler))
                    continue
                for group in batched_runs(experiments, batch):
                    pending[pool.submit(sample_task, folder, group, force, batch)] = owner
    except BaseException:
        _stop_workers(pool, store_root)
        raise
    pool.shutdown(wait=True)
