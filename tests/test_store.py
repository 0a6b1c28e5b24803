"""The store: locks (exclusive, no litter, skipped where asked, one clear error where the filesystem has
no flock), finished markers, the layout, error records."""

from __future__ import annotations

import errno
import logging
import multiprocessing
import time
from pathlib import Path

import pytest

from lambda_hat import store


def test_no_lock_leaves_no_lock_file(tmp_path):
    with store.locked(tmp_path / "run_x", enabled=False):
        pass
    assert not list(tmp_path.glob("*.lock"))


def test_a_filesystem_without_flock_gives_one_line(tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(store.fcntl, "flock", refuse)
    with pytest.raises(store.StoreError, match="cannot lock .*run_x: Function not implemented .*--no-lock"):
        with store.locked(tmp_path / "run_x"):
            pass


def test_an_incomplete_marker_is_not_finished(tmp_path, capsys, caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger("lambda_hat"), "handlers", [])   # as a library user has it
    store.write_json(tmp_path / "analysis.json", {"run_id": "x"})
    assert not store.finished(tmp_path / "analysis.json", required=("run_id", "llc_mean"))
    # a building block logs the warning; it prints nothing itself (the CLI shows it)
    assert [r.levelname for r in caplog.records] == ["WARNING"] and "incomplete (no llc_mean)" in caplog.text
    assert capsys.readouterr().err == ""
    assert store.finished(tmp_path / "analysis.json", required=("run_id",))


def test_the_layout_is_defined_here(tmp_path):
    run = store.run_dir(store.target_dir(tmp_path, "tgt_a"), "123")
    run.mkdir(parents=True)
    (tmp_path / "targets" / "tgt_a" / "not_a_run").mkdir()
    assert store.run_folders(tmp_path) == [run] and store.run_id_of(run) == "123"
    assert store.gallery_dir(store.RESULTS) == Path("results/gallery")


def test_a_failed_stage_records_its_error(tmp_path):
    try:
        raise store.StoreError("disk full")
    except store.StoreError as err:
        store.write_error(tmp_path, {"target_id": "tgt_a"}, err)
    record = store.read_json(tmp_path / "error.json")
    assert record["target_id"] == "tgt_a" and record["error"] == "StoreError: disk full"
    assert "Traceback" in record["traceback"] and "disk full" in record["traceback"]


def _hold(folder: str, log: str, name: str) -> None:
    with store.locked(Path(folder)):
        with open(log, "a") as out:
            out.write(f"{name} in\n")
        time.sleep(0.3)
        with open(log, "a") as out:
            out.write(f"{name} out\n")


def test_holders_never_overlap_and_leave_no_lock_file(tmp_path):
    log = tmp_path / "log"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hold, args=(str(tmp_path / "run_x"), str(log), str(i))) for i in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    lines = log.read_text().split("\n")[:-1]
    assert len(lines) == 8
    for first, second in zip(lines[::2], lines[1::2]):      # every "in" is followed by its own "out"
        assert first.split()[0] == second.split()[0] and first.endswith("in") and second.endswith("out")
    assert not list(tmp_path.glob("*.lock"))
