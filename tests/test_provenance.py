"""The running code's version (package version + digest of its source) and the software around it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lambda_hat import __version__, provenance


def copy_package(tmp_path: Path) -> Path:
    target = tmp_path / "lambda_hat"
    shutil.copytree(provenance.PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_the_digest_follows_the_source_and_nothing_else(tmp_path):
    package = copy_package(tmp_path)
    digest = provenance.code_digest(package)
    assert digest == provenance.code_digest(provenance.PACKAGE) and len(digest) == 12
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"\0compiled")
    (package / "notes.txt").write_text("not code")
    assert provenance.code_digest(package) == digest            # bytecode and other files do not count
    with open(package / "config" / "presets" / "model" / "tiny.yaml", "a") as preset:
        preset.write("# a comment is a change\n")
    assert provenance.code_digest(package) != digest


def test_check_names_both_versions_and_what_to_do():
    assert provenance.check(provenance.code_version()) == provenance.code_version()
    with pytest.raises(provenance.CodeMismatch, match=rf"runs lambda-hat {__version__}\+[0-9a-f]{{12}} .* but the "
                                                      r"pipeline's code is 0\.0\.0\+000000000000: rebuild the image"):
        provenance.check("0.0.0+000000000000")


def test_versions_name_python_the_package_and_the_numeric_stack():
    found = provenance.versions()
    assert found["lambda-hat"] == provenance.code_version()
    assert {"python", "jax", "jaxlib", "blackjax"} <= set(found)
    assert found["jax"][0].isdigit()
