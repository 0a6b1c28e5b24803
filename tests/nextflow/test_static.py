"""The Nextflow layer, checked offline with the real Nextflow language front end (nf-lang).

These checks parse and analyse every .nf and .config file as `nextflow lint` does, with the
strict syntax of current Nextflow releases (the runs in test_pipeline.py use Nextflow 25.04's
default parser), check the DSL2 wiring, and prove each check can fail by seeding one bug per copy
of the pipeline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
JAR = ROOT / ".cache" / "nflang" / "language-server-all.jar"
PIPELINE = ["main.nf", "nextflow.config", "workflows", "modules", "conf", "bin", "tests/fixtures/nextflow",
            "tests/nextflow.config", "tests/nextflow/slurm_local.config"]

if not (JAR.is_file() and shutil.which("java")):
    if os.environ.get("LAMBDA_HAT_REQUIRE_NFLANG"):
        raise RuntimeError(f"nf-lang jar or java missing ({JAR}); run tests/nextflow/get_nflang.sh")
    pytest.skip("nf-lang jar or java missing: run tests/nextflow/get_nflang.sh", allow_module_level=True)


def groovy(script: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(["java", "-cp", str(JAR), "groovy.ui.GroovyMain", str(HERE / script), *args],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def test_lint_is_clean():
    result = groovy("nf_lint.groovy", ".")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nf-lint: 0 error(s), 0 warning(s)" in result.stdout
    files = int(result.stdout.split(" in ")[-1].split()[0])
    expected = [p for item in PIPELINE for p in ([ROOT / item] if (ROOT / item).is_file() else (ROOT / item).rglob("*"))
                if p.suffix in (".nf", ".config")]
    assert files == len(expected) >= 12


def test_wiring_is_clean():
    result = groovy("nf_wiring.groovy", "main.nf")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nf-wiring: 0 problem(s)" in result.stdout


def test_nf_test_specs_parse():
    specs = [str(p.relative_to(ROOT)) for p in ROOT.glob("**/*.nf.test")] + ["nf-test.config"]
    assert len(specs) >= 5
    result = groovy("parse_only.groovy", *specs)
    assert result.returncode == 0, result.stdout


SEEDED = [
    ("workflows/llc.nf", "BUILD_TARGET ( ch_targets.build", "BUILD_TARGETS ( ch_targets.build", "lint", "BUILD_TARGETS"),
    ("workflows/llc.nf", ".combine( ch_tasks )", ".combin( ch_tasks )", "wiring", "unknown channel operator `.combin`"),
    ("workflows/llc.nf", "PLAN.out.tasks.flatten()", "PLAN.out.task.flatten()", "wiring", "has no emit `task`"),
    ("workflows/llc.nf", "RUN_SAMPLER ( ch_jobs.filter", "RUN_SAMPLER ( ch_jobs, ch_jobs.filter", "wiring", "takes 1 input(s), called with 2"),
    ("workflows/llc.nf", "PLAN.out.targets.flatten()", "channel.fromLis(PLAN.out.targets).flatten()", "wiring",
     "unknown channel factory"),
    ("conf/modules.config", "withName: 'PLAN'", "withName: 'PLANN'", "wiring", "matches no process"),
    ("modules/local/run_sampler/main.nf", "label 'process_gpu'", "labels 'process_gpu'", "lint", "error"),
    ("modules/local/run_sampler/main.nf", "--spec ${spec}", "--spec ${spex}", "lint", "`spex` is not defined"),
    ("nextflow.config", "queue_size           = 50", "queue_size           = ", "lint", "error"),
]


@pytest.mark.parametrize("path, old, new, check, message", SEEDED, ids=[s[4][:30] for s in SEEDED])
def test_seeded_bug_is_caught(tmp_path, path, old, new, check, message):
    for item in PIPELINE:
        source = ROOT / item
        (tmp_path / item).parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / item)
    target = tmp_path / path
    text = target.read_text()
    assert old in text, f"seed anchor missing from {path}: {old}"
    target.write_text(text.replace(old, new, 1))
    result = groovy("nf_lint.groovy", ".", cwd=tmp_path) if check == "lint" else groovy("nf_wiring.groovy", "main.nf", cwd=tmp_path)
    assert result.returncode == 1, result.stdout
    assert message in result.stdout


def test_schema_documents_every_param():
    import json
    import re

    block = re.search(r"^params \{(.*?)^\}", (ROOT / "nextflow.config").read_text(), re.S | re.M).group(1)
    names = set(re.findall(r"^\s*(\w+)\s*=", block, re.M))
    schema = json.loads((ROOT / "nextflow_schema.json").read_text())
    documented = {name for group in schema["$defs"].values() for name in group["properties"]}
    assert names == documented
