"""Progress on stderr: a rich bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator


def interactive() -> bool:
    return sys.stderr.isatty()


def log(message: str) -> None:
    """One plain line on stderr."""
    print(message, file=sys.stderr, flush=True)


@contextmanager
def bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback: a rich bar on a terminal, silent otherwise."""
    if not interactive():
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), transient=True,
                  console=_console()) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _console():
    from rich.console import Console

    return Console(stderr=True)


class Timer:
    """Wall-clock seconds since creation."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start


class SweepProgress:
    """Progress of a whole sweep on stderr.

    On a terminal: one overall bar (jobs done, with ok / skipped / failed counts, elapsed, ETA)
    and a bar for the current job's draws. Otherwise: one plain log line per finished job.
    """

    def __init__(self, total: int):
        self.total, self.done = total, 0
        self.counts = {"ok": 0, "suspect": 0, "skipped": 0, "failed": 0}
        self.progress = None

    def __enter__(self) -> "SweepProgress":
        if interactive():
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                                     TimeRemainingColumn(), console=_console())
            self.progress.start()
            self.overall = self.progress.add_task(self._describe(), total=self.total)
            self.current = self.progress.add_task("", total=None, visible=False)
        return self

    def __exit__(self, *exc) -> bool:
        if self.progress:
            self.progress.stop()
        return False

    def _describe(self) -> str:
        return "sweep ({ok} ok, {suspect} suspect, {skipped} skipped, {failed} failed)".format(**self.counts)

    def job(self, label: str) -> Callable[[int, int], None] | None:
        """The draws callback of the job starting now (``None`` without a terminal)."""
        if not self.progress:
            return None
        self.progress.update(self.current, description=f"  {label}", completed=0, total=None, visible=True)
        return lambda done, total: self.progress.update(self.current, completed=done, total=total)

    def finished(self, kind: str, label: str, status: str, seconds: float, message: str = "") -> None:
        self.done += 1
        self.counts["failed" if status in ("failed", "blocked") else status] += 1
        reason = f": {message}" if message else ""
        line = f"[{self.done}/{self.total}] {kind} {label}: {status} ({seconds:.1f}s){reason}"
        if self.progress:
            self.progress.update(self.overall, completed=self.done, description=self._describe())
            self.progress.update(self.current, visible=False)
            if status in ("failed", "blocked", "suspect"):
                self.progress.console.print(line)
        else:
            log(line)
