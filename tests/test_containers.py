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
    version = PROJECT["version"]
    for name in ("Dockerfile", "Dockerfile.cpu"):
        text = (ROOT / "containers" / name).read_text()
        assert "pip install -r /tmp/requirements.txt" in text
        assert f"lambda_hat-{version}-py3-none-any.whl" in text
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
