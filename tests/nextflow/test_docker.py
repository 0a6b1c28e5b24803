"""`-profile test,local,docker`, run for real: the CPU image built by containers/build.sh, every
task inside it, started by a user whose uid (1234) is neither root nor the image's own user; the
same numbers as `-profile test,local`; -resume; an image holding other code than the pipeline's
refused in one line; `--gpu` picking the CUDA image.

Needs a Docker engine (started here where root can; see conftest.py); skipped without one unless
``LAMBDA_HAT_REQUIRE_DOCKER`` is set (CI).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lambda_hat import __version__
from lambda_hat.provenance import code_version

ROOT = Path(__file__).resolve().parents[2]
IMAGE = f"lambda-hat:{__version__}-cpu"
VOLATILE = ["walltime_sec", "created_at"]

pytestmark = [pytest.mark.nextflow, pytest.mark.docker]


def command_runs(run) -> dict[str, str]:
    """Each task's name and the text of its ``.command.run`` (how Nextflow launched it)."""
    return {row["name"]: next((run.launch / "work").glob(f"{row['hash']}*/.command.run")).read_text()
            for row in run.trace()}


def test_the_build_context_is_only_what_the_images_need(cpu_image):
    sent = re.search(r"Sending build context to Docker daemon\s+([\d.]+)([kMG]?B)", cpu_image)
    assert sent, cpu_image[-2000:]
    size = float(sent.group(1)) * {"B": 1e-6, "kB": 1e-3, "MB": 1, "GB": 1e3}[sent.group(2)]
    assert size < 10, f"build context of {size:.1f} MB"         # a venv or a work folder would be GBs


def test_docker_profile_as_another_user_gives_the_local_numbers(cpu_image, nextflow_as, test_profile_run):
    docker = nextflow_as("-profile", "test,local,docker")
    assert docker.returncode == 0, docker.output
    tasks = command_runs(docker)
    assert {name.split(" ")[0] for name in tasks} == {"LLC:PLAN", "LLC:BUILD_TARGET", "LLC:RUN_SAMPLER", "LLC:COLLECT"}
    for name, script in tasks.items():
        assert "docker run" in script and f" {IMAGE} " in script and "-u $(id -u):$(id -g)" in script, name
    for row in docker.trace():
        assert row["status"] == "COMPLETED", row
    # what ran inside the image: the pipeline's own code, recorded per process
    versions = yaml.safe_load((docker.outdir / "pipeline_info" / "software_versions.yml").read_text())
    assert set(versions) == {"LLC:PLAN", "LLC:BUILD_TARGET", "LLC:RUN_SAMPLER", "LLC:COLLECT"}
    assert {v["lambda-hat"] for v in versions.values()} == {code_version()}
    assert all(v["python"].startswith("3.11.") for v in versions.values())

    local = test_profile_run                      # the same sweep, its tasks in this venv
    assert local.returncode == 0, local.output
    assert all("docker run" not in script for script in command_runs(local).values())
    inside, outside = (pd.read_parquet(run.outdir / "llc_runs.parquet").drop(columns=VOLATILE) for run in (docker, local))
    assert len(inside) == 4 and (inside["status"] != "failed").all()
    pd.testing.assert_frame_equal(inside, outside)

    # -resume: the targets and runs come from the store, as they are (nothing is built or drawn again)
    again = nextflow_as("-profile", "test,local,docker", "-resume", launch=docker.launch)
    assert again.returncode == 0, again.output
    assert again.statuses("BUILD_TARGET") == [] and again.statuses("RUN_SAMPLER") == []
    resumed = pd.read_parquet(again.outdir / "llc_runs.parquet")
    pd.testing.assert_frame_equal(resumed.drop(columns=VOLATILE), inside)


def test_an_image_with_other_code_is_refused_in_one_line(cpu_image, nextflow_as, tmp_path):
    """A checkout whose lambda_hat/ differs from the image's: the first task stops at once and says
    to rebuild the image, rather than run the image's code under the checkout's hash."""
    pipeline = Path(__import__("tempfile").mkdtemp(prefix="lambda-hat-pipeline-"))
    try:
        for item in ("main.nf", "nextflow.config", "nextflow_schema.json", "workflows", "modules", "conf", "bin",
                     "lambda_hat", "tests/fixtures/nextflow"):
            source, target = ROOT / item, pipeline / item
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__")) if source.is_dir()
             else shutil.copy(source, target))
        with open(pipeline / "lambda_hat" / "ids.py", "a") as module:
            module.write("\n# an edit the image does not have\n")
        for path in [pipeline, *pipeline.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o755 if path.is_dir() else path.stat().st_mode | 0o644)
        run = nextflow_as("-profile", "test,local,docker", main=pipeline / "main.nf")
        assert run.returncode != 0
        assert run.statuses("PLAN") == ["FAILED"] and run.statuses("BUILD_TARGET") == []
        line = next(line for line in run.output.splitlines() if "rebuild the image" in line)
        assert re.search(rf"this environment runs lambda-hat {re.escape(code_version())} .* but the pipeline's code is "
                         rf"{re.escape(__version__)}\+[0-9a-f]{{12}}: rebuild the image", line), line
    finally:
        shutil.rmtree(pipeline, ignore_errors=True)


def test_gpu_with_docker_asks_for_the_cuda_image(docker_engine, nextflow_as):
    """`-profile local,docker --gpu` runs the CUDA image (with --gpus all on GPU tasks), never the CPU
    image whose JAX has no GPU (where the CUDA image is not built, the run stops at its first task)."""
    run = nextflow_as("-profile", "test,local,docker", "--gpu")
    [plan] = [script for name, script in command_runs(run).items() if name.startswith("LLC:PLAN")]
    assert f" lambda-hat:{__version__} " in plan and f"lambda-hat:{__version__}-cpu" not in plan
