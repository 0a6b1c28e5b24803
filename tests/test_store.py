"""Locks: skipped where asked, and one clear error where the filesystem has no flock."""

from __future__ import annotations

import errno

import pytest
from filelock import FileLock

from lambda_hat import store


def test_no_lock_leaves_no_lock_file(tmp_path):
    with store.locked(tmp_path / "run_x", enabled=False):
        pass
    assert not list(tmp_path.glob("*.lock"))


def test_a_filesystem_without_flock_gives_one_line(tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(FileLock, "acquire", refuse)
    with pytest.raises(store.StoreError, match="cannot lock .*run_x: Function not implemented .*--no-lock"):
        with store.locked(tmp_path / "run_x"):
            pass


def test_an_incomplete_marker_is_not_finished(tmp_path, capsys):
    store.write_json(tmp_path / "analysis.json", {"run_id": "x"})
    assert not store.finished(tmp_path / "analysis.json", required=("run_id", "llc_mean"))
    assert "incomplete (no llc_mean)" in capsys.readouterr().err
    assert store.finished(tmp_path / "analysis.json", required=("run_id",))
