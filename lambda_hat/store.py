"""Artifact paths, atomic writes and per-artifact locks: the only module that knows the layout.

A sweep's files, relative to where it runs (the defaults of the CLI, the local runner and the
YAML's ``store_root`` and ``results``)::

    config/experiments.yaml            the sweep file (CONFIG)
    plan/                              lambda-hat plan's output (PLAN_DIR)
    runs/targets/<target_id>/          one target (STORE_ROOT): meta.json, params.npz, data.npz
    runs/targets/<target_id>/run_<id>/ one run: sampler.json, analysis.json, trace.npz, or error.json
    results/llc_runs.parquet           the table (RESULTS); results/gallery/ beside it (gallery_dir)

A file is written under a temporary name in the same folder, flushed, then renamed, so a reader
never sees half a file. ``meta.json`` (targets) and ``analysis.json`` (runs) are written last:
their presence marks a finished artifact.
"""

from __future__ import annotations

import fcntl
import io
import json
import logging
import math
import os
import tempfile
import time
import traceback
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from lambda_hat.errors import StoreError

log = logging.getLogger(__name__)

CONFIG = Path("config/experiments.yaml")
PLAN_DIR = Path("plan")
STORE_ROOT = Path("runs")
RESULTS = Path("results/llc_runs.parquet")
LOG_DIR = Path("logs")              # the local runner's tracebacks of failed jobs

#: what a run's ``analysis.json`` must hold to count as a finished run (an estimate)
ANALYSIS_KEYS = ("target_id", "run_id", "llc_mean", "llc_err", "llc_sem")


def target_dir(store: Path, target_id: str) -> Path:
    return Path(store) / "targets" / target_id


def run_dir(parent: Path, run_id: str) -> Path:
    """A run's folder: inside its target's folder, or in a Nextflow task's own folder."""
    return Path(parent) / f"run_{run_id}"


def run_id_of(folder: Path) -> str:
    return Path(folder).name.removeprefix("run_")


def run_folders(store_root: Path) -> list[Path]:
    """Every run folder under ``<store>/targets/*/``."""
    return sorted(Path(store_root).glob("targets/tgt_*/run_*/"))


def gallery_dir(results: Path) -> Path:
    """The gallery of a results table: ``gallery/`` beside it."""
    return Path(results).parent / "gallery"


def _jsonable(value):
    """Plain JSON values; NaN and inf become null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def file_mode() -> int:
    """The mode a new file gets under the current umask (a temporary file starts at 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename), with the
    mode the umask gives new files, so that others can read what the umask lets them."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fchmod(out.fileno(), file_mode())
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as err:
        raise StoreError(f"cannot write {path}: {err.strerror or err}") from None


def write_json(path: Path, obj) -> None:
    write_bytes(path, (json.dumps(_jsonable(obj), indent=2, sort_keys=True) + "\n").encode())


def read_json(path: Path) -> dict:
    """Read a JSON artifact; a corrupt one raises :class:`StoreError` naming the file."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise StoreError(f"{path}: not found") from None
    except (OSError, ValueError) as err:
        raise StoreError(f"{path}: unreadable ({err})") from None


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An ``.npz`` with fixed zip timestamps, so equal arrays give equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    write_bytes(path, buffer.getvalue())


def read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise StoreError(f"{path}: not found") from None
    except Exception as err:
        raise StoreError(f"{path}: unreadable ({type(err).__name__})") from None


def read_target(folder: Path) -> tuple[dict, dict, dict]:
    """``(meta, params, data)`` of a finished target folder: ``meta.json``, ``params.npz``, ``data.npz``."""
    folder = Path(folder)
    return read_json(folder / "meta.json"), read_npz(folder / "params.npz"), read_npz(folder / "data.npz")


def write_error(folder: Path, record: dict, error: BaseException) -> None:
    """A failed stage's ``error.json`` in its artifact folder: ``record`` (what was attempted), the
    error as one line (``error``), its ``traceback`` and when it happened (``created_at``: two
    failures of one job are two records, which the pipeline's -resume tells apart)."""
    write_json(Path(folder) / "error.json", {**record, "error": f"{type(error).__name__}: {error}",
                                             "traceback": "".join(traceback.format_exception(error)),
                                             "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


def finished(marker: Path, *others: Path, required: tuple[str, ...] = ()) -> bool:
    """Whether an artifact is finished and readable: its marker JSON (with the ``required`` keys)
    and the other files load.

    A marker that exists but does not load, or lacks a required key, is reported on stderr and
    the artifact counts as unfinished, so it is rebuilt rather than silently reused.
    """
    if not Path(marker).is_file():
        return False
    try:
        document = read_json(marker)
        missing = [key for key in required if key not in document]
        if missing:
            raise StoreError(f"{marker}: incomplete (no {', '.join(missing)})")
        for other in others:
            read_npz(other)
        return True
    except StoreError as err:
        log.warning("%s; redoing it", err)
        return False


@contextmanager
def locked(directory: Path, enabled: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on an artifact folder (``<folder>.lock`` beside it, removed after).

    The holder removes the lock file before it lets go, and a waiter that then gets the lock
    checks that its file is still the one at that path (else it locks the new one), so no empty
    lock files are left behind and no two processes ever hold the same lock.
    ``enabled=False`` skips the lock: for a folder only this process writes (a Nextflow task's
    own folder), and for filesystems that have no ``flock`` (Lustre mounted ``noflock``).
    """
    directory = Path(directory)
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"cannot create {directory.parent}: {err.strerror or err}") from None
    if not enabled:
        yield
        return
    path = Path(f"{directory}.lock")
    handle = _acquire(path)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        fcntl.flock(handle, fcntl.LOCK_UN)
        os.close(handle)


def clear_stale_locks(root: Path) -> int:
    """Remove the lock files under ``root`` that no process holds (left by a process killed mid-job,
    which cannot remove its own), and the temporary files its unfinished writes left in the folder
    it held; returns how many locks. A held lock and its folder are left alone, and a process about
    to lock a removed file locks a new one (see :func:`locked`)."""
    removed = 0
    for path in Path(root).rglob("*.lock") if Path(root).is_dir() else []:
        try:
            handle = os.open(path, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(handle)                      # held by a live process
            continue
        try:
            if os.fstat(handle).st_ino == os.stat(path).st_ino:
                for temp in Path(str(path).removesuffix(".lock")).glob(".*.tmp"):    # see write_bytes
                    temp.unlink(missing_ok=True)
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            os.close(handle)
    return removed


def _acquire(path: Path) -> int:
    """An open descriptor of ``path`` holding its exclusive ``flock`` (blocks until free)."""
    while True:
        try:
            handle = os.open(path, os.O_RDWR | os.O_CREAT, file_mode())
        except OSError as err:
            raise StoreError(f"cannot create {path}: {err.strerror or err}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as err:
            os.close(handle)
            raise StoreError(f"cannot lock {path.with_suffix('')}: {err.strerror or err} (a filesystem without "
                             "flock? where only one process writes, pass --no-lock)") from None
        try:
            if os.fstat(handle).st_ino == os.stat(path).st_ino:
                return handle
        except FileNotFoundError:
            pass
        os.close(handle)            # the previous holder removed this file: lock the current one
