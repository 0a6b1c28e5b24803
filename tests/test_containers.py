"""The container recipes install what pyproject.toml declares, at versions it admits."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins() -> dict[str, str]:
    lines = (ROOT / "containers" / "requirements.txt").read_text().splitlines()
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def test_every_dependency_is_pinned_within_its_range():
    pinned = pins()
    for spec in PROJECT["dependencies"]:
        requirement = Requirement(spec)
        assert requirement.name in pinned, f"{requirement.name} not pinned in containers/requirements.txt"
        assert requirement.specifier.contains(pinned[requirement.name]), (requirement, pinned[requirement.name])
    assert set(pinned) == {Requirement(spec).name for spec in PROJECT["dependencies"]}


def test_images_install_the_pins_the_package_and_the_cuda_extra():
    cuda = Requirement(PROJECT["optional-dependencies"]["cuda12"][0])
    for name in ("Dockerfile", "Dockerfile.cpu"):
        text = (ROOT / "containers" / name).read_text()
        assert "pip install -r /tmp/requirements.txt" in text
        # the package from this checkout's source, not a wheel that may be stale, without other deps
        assert "COPY lambda_hat /tmp/src/lambda_hat" in text and "pip install --no-deps /tmp/src" in text
        assert "USER lambda" in text and "procps" in text
    gpu = (ROOT / "containers" / "Dockerfile").read_text()
    assert Requirement(re.search(r'"(jax\[cuda12\][^"]*)"', gpu).group(1)) == cuda


def test_container_tag_follows_the_package_version():
    version = PROJECT["version"]
    config = (ROOT / "nextflow.config").read_text()
    assert f"container_tag        = '{version}'" in config
    assert f"version         = '{version}'" in config
    assert f"From: lambda-hat:{version}" in (ROOT / "containers" / "lambda-hat.def").read_text()
    from lambda_hat import __version__
    assert __version__ == version


def test_every_image_a_profile_names_has_a_recipe():
    """Each .sif a profile points at is the output of one of the Apptainer recipes."""
    version = PROJECT["version"]
    configs = "".join(p.read_text() for p in [ROOT / "nextflow.config", *ROOT.glob("conf/*.config")])
    named = {name.replace("${params.container_tag}", version)
             for name in re.findall(r"lambda-hat_\$\{params\.container_tag\}[\w-]*\.sif", configs)}
    built = {}
    for recipe in ROOT.glob("containers/*.def"):
        text = recipe.read_text()
        output = re.search(r"apptainer build containers/(\S+\.sif) containers/" + recipe.name, text).group(1)
        built[output] = re.search(r"^From: (\S+)", text, re.M).group(1)
    assert named == {f"lambda-hat_{version}.sif", f"lambda-hat_{version}-cpu.sif"}
    assert named <= set(built)
    assert built[f"lambda-hat_{version}-cpu.sif"] == f"lambda-hat:{version}-cpu"


def docker_ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``path`` out of the build context under ``.dockerignore`` ``patterns``:
    the last pattern that matches the path or one of its parent folders decides (``!`` keeps)."""
    def regex(pattern: str) -> re.Pattern:
        parts = re.split(r"(\*\*/?|\*|\?)", pattern.strip("/"))
        body = "".join({"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(p, re.escape(p)) for p in parts)
        return re.compile(body + "$")

    prefixes = ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 2)]
    ignored = False
    for pattern in patterns:
        keep = pattern.startswith("!")
        if any(regex(pattern.lstrip("!")).match(prefix) for prefix in prefixes):
            ignored = not keep
    return ignored


def test_build_context_holds_what_the_dockerfiles_copy_and_nothing_else():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    copied = set()
    for name in ("Dockerfile", "Dockerfile.cpu"):
        for line in (ROOT / "containers" / name).read_text().splitlines():
            if line.startswith("COPY "):
                copied.update(line.split()[1:-1])
    assert copied == {"containers/requirements.txt", "pyproject.toml", "README.md", "lambda_hat"}
    for path in ("containers/requirements.txt", "pyproject.toml", "README.md", "lambda_hat/cli.py",
                 "lambda_hat/config/presets/model/dln.yaml"):
        assert not docker_ignored(path, patterns), path
    for path in (".venv/lib/python3.11/site-packages/jax/__init__.py", ".cache/jax/entry", "work/ab/cdef/.command.run",
                 "results/llc_runs.parquet", "runs/targets/tgt_x/params.npz", ".git/objects/ab/cd", "dist/x.whl",
                 "lambda_hat/__pycache__/cli.cpython-311.pyc", "tests/test_store.py"):
        assert docker_ignored(path, patterns), path


def test_base_image_is_an_argument_defaulting_to_the_python_the_pins_were_tested_on():
    tested = re.search(r"tested together \(CPU, Python (3\.\d+)\)", (ROOT / "containers" / "requirements.txt").read_text())
    default = f"python:{tested.group(1)}-slim"
    for name in ("Dockerfile", "Dockerfile.cpu"):
        text = (ROOT / "containers" / name).read_text()
        assert re.search(rf"^ARG BASE_IMAGE={re.escape(default)}$", text, re.M), name
        assert re.search(r"^FROM \$\{BASE_IMAGE\}$", text, re.M), name
    assert f'official="{default}"' in (ROOT / "containers" / "build.sh").read_text()
