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
