"""Progress on stderr: a rich bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator


def interactive() -> bool:
    return sys.stderr.isatty()


def batch_label(plans: list[dict]) -> str:
    """A batch's label: its first run's name, and ``+k`` for the k runs drawn with it."""
    return plans[0].get("name", "sample") + (f" +{len(plans) - 1}" if len(plans) > 1 else "")


def log(message: str) -> None:
    """One plain line on stderr."""
    print(message, file=sys.stderr, flush=True)


class _Warnings(logging.Handler):
    """The package's logged warnings as ``warning: ...`` lines on the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        log(f"{record.levelname.lower()}: {record.getMessage()}")


def show_warnings() -> None:
    """Show what the building blocks log (warnings and worse) on stderr; once per process."""
    logger = logging.getLogger("lambda_hat")
    if not any(isinstance(h, _Warnings) for h in logger.handlers):
        logger.addHandler(_Warnings(logging.WARNING))


class JobRate:
    """Seconds left in a job's sampling phase, from the rate of its draws so far."""

    def __init__(self) -> None:
        self.first: tuple[float, int] | None = None

    def __call__(self, done: int, total: int, phase: str) -> str:
        if phase != "sampling":
            self.first = None
            return ""
        now = time.perf_counter()
        if self.first is None or done <= self.first[1]:
            self.first = (now, done)
            return ""
        rate = (now - self.first[0]) / (done - self.first[1])
        return f"{clock(rate * (total - done))} left"


def clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def eta(remaining: dict[str, int], seconds: dict[str, list[float]], workers: int = 1) -> float | None:
    """Seconds left in a sweep: each kind's remaining jobs (``build``, ``sample``) times the mean
    time that kind's finished jobs took, shared among the workers. ``None`` until every kind that
    is left has a finished job to measure."""
    if any(remaining[kind] and not seconds.get(kind) for kind in remaining):
        return None
    work = sum(count * sum(seconds[kind]) / len(seconds[kind]) for kind, count in remaining.items() if count)
    return work / max(1, workers)


def _columns():
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn

    return (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[count]}"),
            TimeElapsedColumn(), TextColumn("{task.fields[eta]}"))


def count(done: int, total: int, phase: str) -> str:
    """``done/total`` while drawing; nothing while compiling or warming up (no draws yet)."""
    return f"{done}/{total}" if phase == "sampling" else ""


@contextmanager
def bars() -> Iterator[Callable[[str], Callable[[int, int, str], None]]]:
    """``start(label)``, which gives the ``progress(done, total, phase)`` callback of the job
    ``label`` starting now: one rich bar on a terminal (the phase, then the draws with the time
    left), silent otherwise."""
    if not interactive():
        yield lambda label: (lambda done, total, phase: None)
        return
    from rich.progress import Progress

    with Progress(*_columns(), transient=True, console=_console()) as progress:
        task = progress.add_task("", total=None, eta="", count="")

        def start(label: str) -> Callable[[int, int, str], None]:
            progress.reset(task, description=label, eta="", count="")
            return follow(progress, task, label)

        yield start


def follow(progress, task, label: str) -> Callable[[int, int, str], None]:
    """The ``(done, total, phase)`` callback that shows one job's phase and draws in a rich task."""
    rate = JobRate()

    def update(done: int, total: int, phase: str) -> None:
        progress.update(task, description=f"{label}: {phase}", completed=done, total=total,
                        count=count(done, total, phase), eta=rate(done, total, phase))

    return update


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

    On a terminal: one overall bar (jobs done, with ok / suspect / failed counts and how many were
    reused from earlier runs,
    elapsed, and the time left from the measured times of finished builds and runs) and a bar for
    the current job (its phase: compiling, warm-up, then its draws). Otherwise: one plain log line
    per finished job.
    """

    def __init__(self, builds: int, samples: int, workers: int = 1):
        self.total, self.done, self.workers = builds + samples, 0, workers
        self.remaining = {"build": builds, "sample": samples}
        self.seconds: dict[str, list[float]] = {"build": [], "sample": []}
        self.counts = {"ok": 0, "suspect": 0, "failed": 0, "reused": 0}
        self.progress = None

    def __enter__(self) -> "SweepProgress":
        if interactive():
            from rich.progress import Progress

            self.progress = Progress(*_columns(), console=_console())
            self.progress.start()
            self.overall = self.progress.add_task(self._describe(), total=self.total, eta="", count=f"0/{self.total}")
            self.current = self.progress.add_task("", total=None, visible=False, eta="", count="")
        return self

    def __exit__(self, *exc) -> bool:
        if self.progress:
            self.progress.stop()
        return False

    def _describe(self) -> str:
        return "sweep ({ok} ok, {suspect} suspect, {failed} failed; {reused} reused)".format(**self.counts)

    def _eta(self) -> str:
        left = eta(self.remaining, self.seconds, self.workers)
        return "" if left is None else f"~{clock(left)} left"

    def job(self, label: str) -> Callable[[int, int, str], None] | None:
        """The progress callback of the job starting now (``None`` without a terminal)."""
        if not self.progress:
            return None
        self.progress.reset(self.current, description=f"  {label}", visible=True, eta="", count="")   # its clock too
        return follow(self.progress, self.current, f"  {label}")

    def finished(self, kind: str, label: str, status: str, seconds: float, message: str = "",
                 reused: bool = False) -> None:
        """A job is done: ``status`` ok, suspect, failed or blocked; ``reused`` where its artifact came
        from an earlier run (its time then says nothing of what is left)."""
        self.done += 1
        self.counts["failed" if status in ("failed", "blocked") else status] += 1
        self.counts["reused"] += reused
        self.remaining[kind] -= 1
        if status != "blocked" and not reused:
            self.seconds[kind].append(seconds)
        reason = f": {message}" if message else ""
        when = "earlier run" if reused else f"{seconds:.1f}s"
        line = f"[{self.done}/{self.total}] {kind} {label}: {status} ({when}){reason}"
        if self.progress:
            self.progress.update(self.overall, completed=self.done, description=self._describe(), eta=self._eta(),
                                 count=f"{self.done}/{self.total}")
            self.progress.update(self.current, visible=False)
            if status in ("failed", "blocked", "suspect"):
                self.progress.console.print(line)
        else:
            left = self._eta()
            log(line + (f"; {left}" if left and self.done < self.total else ""))
