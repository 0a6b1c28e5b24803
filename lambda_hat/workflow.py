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

from lambda_hat import progress, store
from lambda_hat.config import load
from lambda_hat.config.plan import describe, sampler_document, target_document, write
from lambda_hat.config.plan import jobs as jobs_of   # `jobs` is run_local's worker count

LOG_DIR = Path("logs")


@dataclass
class Outcome:
    kind: str            # "build" | "sample"
    label: str
    status: str          # "ok" | "suspect" | "skipped" | "failed" | "blocked"
    message: str = ""
    seconds: float = 0.0
    target_id: str = ""
    sampler_id: str = ""


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
        keys = ("ok", "suspect", "skipped", "failed", "blocked")
        return {k: sum(o.status == k for o in self.outcomes) for k in keys}

    def table(self) -> str:
        """The end-of-sweep summary for stdout."""
        lines = [f"{'job':<8} {'what':<44} {'status':<8} {'seconds':>8}  reason"]
        for o in self.outcomes:
            lines.append(f"{o.kind:<8} {o.label:<44} {o.status:<8} {o.seconds:>8.1f}  {o.message}")
        counts = self.counts()
        lines.append(", ".join(f"{v} {k}" for k, v in counts.items()) +
                     (f"; {self.rows} rows -> {self.results}" if self.results else ""))
        if self.gallery:
            lines.append(f"gallery: {self.gallery / 'index.html'}")
        if self.retry:
            lines.append(f"failed jobs only: {self.retry}  (rerun with --config {self.retry})")
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
        return Outcome("build", label, "ok" if built else "skipped", seconds=timer(),
                       target_id=document["target_id"])
    except Exception as err:  # noqa: BLE001 - isolate any failure to its own job
        message = f"{type(err).__name__}: {err}"
        folder = store.target_dir(Path(store_root), document["target_id"])
        try:
            store.write_json(folder / "error.json", {"target_id": document["target_id"], "error": message,
                                                      "traceback": traceback.format_exc()})
        except store.StoreError:
            pass
        _log_failure(f"build_{document['target_id']}", traceback.format_exc())
        return Outcome("build", label, "failed", message.splitlines()[0], timer(), document["target_id"])


def sample_job(target_folder: str, document: dict, force: bool, update=None) -> Outcome:
    """One sampling job, with its failure caught and logged (``error.json`` is written by sampling).

    ``update(done, total, phase)`` follows its phases and draws (in-process runs only).
    """
    from lambda_hat import runtime, sampling

    timer = progress.Timer()
    target_id = Path(target_folder).name
    label = f"{target_id} × {document['name']}"
    try:
        runtime.configure()
        folder, ran = sampling.sample(Path(target_folder), document, force=force, progress=update)
        _log_failure(f"sample_{target_id}_{document['sampler_id']}", None)
        analysis = store.read_json(folder / "analysis.json")
        warnings = f"suspect: {analysis['warnings']}" if analysis.get("warnings") else ""
        status = ("suspect" if warnings else "ok") if ran else "skipped"
        return Outcome("sample", label, status, warnings, timer(), target_id, document["sampler_id"])
    except Exception as err:  # noqa: BLE001
        _log_failure(f"sample_{target_id}_{document['sampler_id']}", traceback.format_exc())
        return Outcome("sample", label, "failed", f"{type(err).__name__}: {err}".splitlines()[0], timer(),
                       target_id, document["sampler_id"])


def _terminate(signum, frame):
    raise KeyboardInterrupt


def write_retry(experiments, failed: list, config: Path) -> Path | None:
    """``retry.yaml`` beside the config, holding only the targets and samplers of failed jobs.

    With no failed job, a ``retry.yaml`` an earlier run of this config wrote is removed.
    """
    path = Path(config).parent / "retry.yaml"
    if not failed:
        if path.resolve() != Path(config).resolve() and path.is_file() and \
                path.read_text().startswith(f"# failed jobs of {config}\n"):
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
    document.update(targets=targets, samplers=samplers)
    store.write_bytes(path, ("# failed jobs of " + str(config) + "\n" +
                             yaml.safe_dump(document, sort_keys=False)).encode())
    return path


def run_local(config: Path, jobs: int = 1, force: bool = False, promote: bool = False,
              plan_dir: Path = Path("plan")) -> Summary:
    """Plan, build, sample and collect the sweep in ``config`` on this machine."""
    experiments = load(config)                       # config errors stop here, before any work
    counts = write(experiments, plan_dir)
    progress.log(describe(counts))
    store_root = experiments.store_root
    summary = Summary()
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        with progress.SweepProgress(counts["n_targets"], counts["sampling_jobs"], jobs) as bars:
            if jobs > 1:
                _run_pool(experiments, store_root, jobs, force, summary, bars)
            else:
                _run_serial(experiments, store_root, force, summary, bars)
    except KeyboardInterrupt:
        progress.log("interrupted: finished artifacts are kept; rerun the same command to resume")
        raise SystemExit(130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    from lambda_hat.collect import collect

    table = collect(store_root, experiments.results, plan={"jobs": jobs_of(experiments)})
    summary.results, summary.rows = experiments.results, len(table)
    summary.retry = write_retry(experiments, summary.failed, config)
    if promote:
        from lambda_hat.report.gallery import promote as write_gallery

        summary.gallery = Path(experiments.results).parent / "gallery"
        write_gallery(store_root, experiments.results, summary.gallery)
    return summary


def blocked(target, sampler) -> Outcome:
    return Outcome("sample", f"{target.target_id} × {sampler.name}", "blocked", "its target failed to build",
                   0.0, target.target_id, sampler.sampler_id)


def _record(summary: Summary, bars: progress.SweepProgress, outcome: Outcome) -> Outcome:
    summary.outcomes.append(outcome)
    bars.finished(outcome.kind, outcome.label, outcome.status, outcome.seconds, outcome.message)
    return outcome


def _run_serial(experiments, store_root: Path, force: bool, summary: Summary, bars: progress.SweepProgress) -> None:
    for target in experiments.targets:
        bars.job(f"build {target.target_id}")
        outcome = _record(summary, bars, build_job(target_document(target), str(store_root), force))
        folder = store.target_dir(store_root, target.target_id)
        for sampler in experiments.samplers:
            if outcome.status == "failed":
                _record(summary, bars, blocked(target, sampler))
                continue
            update = bars.job(f"{target.target_id} × {sampler.name}")
            _record(summary, bars, sample_job(str(folder), sampler_document(sampler), force, update))


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


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Stop running jobs now (their writes are atomic: nothing half-written is left)."""
    for process in list(getattr(pool, "_processes", {}).values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def _run_pool(experiments, store_root: Path, jobs: int, force: bool, summary: Summary,
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
                outcome = _record(summary, bars, future.result())
                if outcome.kind != "build":
                    continue
                folder = str(store.target_dir(store_root, owner.target_id))
                for sampler in experiments.samplers:
                    if outcome.status == "failed":
                        _record(summary, bars, blocked(owner, sampler))
                    else:
                        pending[pool.submit(sample_job, folder, sampler_document(sampler), force)] = owner
    except BaseException:
        _stop_workers(pool)
        raise
    pool.shutdown(wait=True)
