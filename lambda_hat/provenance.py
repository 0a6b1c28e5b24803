"""What code is running: the package's code version and the software around it.

The code version is ``<version>+<digest>``, where the digest is the first 12 hex digits of the md5
of every ``.py`` and ``.yaml`` file of the package, in path order, each as its path relative to
the package's parent folder, a newline, and its text, joined by newlines. The Nextflow pipeline
computes the same string from its checkout (``workflows/utils.nf``, ``codeVersion``) and hashes it
into every task, so a task can check that the package it runs (inside a container, say) is the
code the pipeline hashed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
from pathlib import Path

import lambda_hat
from lambda_hat.errors import LambdaHatError

PACKAGE = Path(lambda_hat.__file__).resolve().parent

#: the distributions whose versions a task records (``pipeline_info/software_versions.yml``)
SOFTWARE = ("jax", "jaxlib", "blackjax", "optax", "numpy", "arviz")


class CodeMismatch(LambdaHatError):
    """The package installed here is not the code the pipeline hashed."""


def code_digest(package: Path = PACKAGE) -> str:
    """The 12-digit digest of a package folder's ``.py`` and ``.yaml`` files (see the module doc)."""
    root = package.parent
    files = sorted((path for path in package.rglob("*") if path.suffix in (".py", ".yaml") and path.is_file()),
                   key=str)
    text = "\n".join(f"{path.relative_to(root).as_posix()}\n{path.read_bytes().decode('utf-8')}" for path in files)
    return hashlib.md5(text.encode("utf-8")).hexdigest()[:12]


def code_version(package: Path = PACKAGE) -> str:
    """``<version>+<digest>`` of the package that is running."""
    return f"{lambda_hat.__version__}+{code_digest(package)}"


def check(expected: str) -> str:
    """The running code version; raises :class:`CodeMismatch` when it is not ``expected``."""
    running = code_version()
    if running != expected:
        raise CodeMismatch(f"this environment runs lambda-hat {running} ({PACKAGE}) but the pipeline's code is "
                           f"{expected}: rebuild the image (containers/build.sh) or reinstall the package")
    return running


def versions() -> dict[str, str]:
    """Python, lambda-hat (with its code version) and the numeric stack, as installed here."""
    found = {"python": platform.python_version(), "lambda-hat": code_version()}
    for name in SOFTWARE:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found
