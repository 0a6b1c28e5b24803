"""Running the real Nextflow from pytest: the executable, one run, its trace, a one-node SLURM.

Nextflow is ``nextflow`` on PATH, else ``scripts/nextflow`` (Nextflow 25.04.4 from Maven Central,
fetched with Maven on first use). Without either the pipeline tests are skipped, unless
``LAMBDA_HAT_REQUIRE_NEXTFLOW`` is set (CI), where that is an error.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "jax"


def nextflow_command() -> list[str] | None:
    if shutil.which("nextflow"):
        return ["nextflow"]
    if shutil.which("java") and (shutil.which("mvn") or (ROOT / ".cache" / "nextflow").is_dir()):
        return ["bash", str(ROOT / "scripts" / "nextflow")]
    return None


@dataclass
class Run:
    """One finished ``nextflow run``: exit status, output, and the files it published."""

    returncode: int
    output: str
    launch: Path
    outdir: Path

    def trace(self) -> list[dict]:
        """The rows of ``pipeline_info/trace.txt`` (name, status, native_id, hash, ...)."""
        with open(self.outdir / "pipeline_info" / "trace.txt", newline="") as handle:
            return list(csv.DictReader(handle, delimiter="\t"))

    def statuses(self, process: str) -> list[str]:
        """The trace status (COMPLETED, CACHED, FAILED) of every task of one process, sorted."""
        return sorted(row["status"] for row in self.trace() if row["name"].startswith(f"LLC:{process} "))


@pytest.fixture(scope="session")
def nextflow_bin():
    command = nextflow_command()
    if command is None:
        if os.environ.get("LAMBDA_HAT_REQUIRE_NEXTFLOW"):
            raise RuntimeError("Nextflow is required here: put `nextflow` on PATH or install java and mvn "
                               "for scripts/nextflow")
        pytest.skip("no nextflow, and no java + mvn for scripts/nextflow")
    version = subprocess.run([*command, "-version"], capture_output=True, text=True, timeout=600)
    assert version.returncode == 0, version.stderr
    return command


@pytest.fixture
def nextflow(nextflow_bin, tmp_path):
    """``nextflow(*args, launch=tmp_path) -> Run``: ``nextflow run main.nf ARGS`` in a launch folder.

    Every run shares the test session's JAX compilation cache and publishes to ``<launch>/results``.
    """

    def run(*args: str, launch: Path = tmp_path, timeout: float = 900) -> Run:
        launch.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "NXF_ANSI_LOG": "false", "JAX_PLATFORMS": "cpu"}
        command = [*nextflow_bin, "run", str(ROOT / "main.nf"), *args,
                   "--compilation_cache", str(CACHE), "--outdir", "results"]
        result = subprocess.run(command, cwd=launch, env=env, capture_output=True, text=True, timeout=timeout)
        return Run(result.returncode, result.stdout + result.stderr, launch, launch / "results")

    return run


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now (so that a cluster left over by an earlier run is no obstacle)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(scope="session")
def slurm():
    """A one-node SLURM (tests/nextflow/slurm_local.sh) with partitions ``debug`` and ``a100`` and a
    fake ``gpu:a100`` GRES; yields the environment for its clients. Needs root and slurm-wlm."""
    reason = None
    if os.geteuid() != 0:
        reason = "the local SLURM needs root"
    elif not (shutil.which("slurmctld") and shutil.which("munged")):
        reason = "slurm-wlm and munge are not installed"
    if reason:
        if os.environ.get("LAMBDA_HAT_REQUIRE_SLURM"):
            raise RuntimeError(f"SLURM is required here: {reason}")
        pytest.skip(reason)
    # not under pytest's temporary folder: that is private to root, and munged runs as `munge`
    base = Path(tempfile.mkdtemp(prefix="lambda-hat-slurm-"))
    script = ROOT / "tests" / "nextflow" / "slurm_local.sh"
    env = {**os.environ, "SLURM_LOCAL_PORTS": " ".join(str(port) for port in free_ports(2))}
    started = subprocess.run(["bash", str(script), "up", str(base)], capture_output=True, text=True, timeout=120,
                             env=env)
    assert started.returncode == 0, started.stdout + started.stderr
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(base / "slurm.conf")
    try:
        yield os.environ["SLURM_CONF"]
    finally:
        subprocess.run(["bash", str(script), "down", str(base)], capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
