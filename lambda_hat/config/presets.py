"""Preset YAML files: the package's own and a user's folder (``<config dir>/presets/<kind>/``)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from lambda_hat.config.validate import suggest
from lambda_hat.errors import ConfigError

KINDS = ("model", "data", "teacher", "training", "sampler")
BUILTIN = Path(__file__).parent / "presets"
#: a preset name: a file name in a presets folder, never a path (``../x`` would leave the folder)
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
#: the most values a YAML file may expand to (aliases repeat what they name: a few lines of
#: nested aliases expand to billions of values)
MAX_VALUES = 100_000


def read_yaml(path: Path, what: str | None = None):
    """Parse a YAML file; syntax errors become a one-line :class:`ConfigError` with the line number."""
    what = what or str(path)
    if not path.is_file():
        raise ConfigError([f"{what}: file not found"])
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"{what}: YAML syntax error{where}: {err.problem}"]) from None
    except yaml.YAMLError as err:
        raise ConfigError([f"{what}: YAML error: {err}"]) from None
    if expanded_size(document) > MAX_VALUES:
        raise ConfigError([f"{what}: expands to more than {MAX_VALUES:,} values (YAML aliases that repeat "
                           "each other?); write the sweep out plainly"])
    return document


def expanded_size(document) -> int:
    """How many values ``document`` holds with every alias written out, counted without writing
    them out (each shared list or mapping is counted once, times the places that name it)."""
    sizes: dict[int, int] = {}

    def size(node) -> int:
        if not isinstance(node, (list, dict)):
            return 1
        if id(node) not in sizes:
            children = node.values() if isinstance(node, dict) else node
            sizes[id(node)] = 1 + sum(size(child) for child in children)
        return sizes[id(node)]

    return size(document)


def folders(user_dir: Path | None) -> list[Path]:
    """Preset roots, the user's first (a user's preset shadows a built-in of the same name)."""
    return ([user_dir] if user_dir and user_dir.is_dir() else []) + [BUILTIN]


def names(kind: str, user_dir: Path | None = None) -> list[str]:
    """All preset names of ``kind``."""
    found = {p.stem for root in folders(user_dir) for p in (root / kind).glob("*.yaml")}
    return sorted(found)


def load(kind: str, name: str, path: str, user_dir: Path | None = None) -> dict:
    """The mapping of preset ``name`` of ``kind``; unknown names raise with a suggestion, and a name
    that is not a plain file name (``../x``) is refused."""
    if not NAME.fullmatch(name):
        raise ConfigError([f"{path}: '{name[:60]}' is not a preset name (letters, digits, '_', '-' and '.'; "
                           "no folders)"])
    for root in folders(user_dir):
        file = root / kind / f"{name}.yaml"
        if file.is_file():
            content = read_yaml(file) or {}
            if not isinstance(content, dict):
                raise ConfigError([f"{file}: a preset must be a mapping of keys"])
            return content
    known = names(kind, user_dir)
    raise ConfigError([f"{path}: unknown {kind} preset '{name}'{suggest(name, known)} "
                       f"(known: {', '.join(known)})"])
