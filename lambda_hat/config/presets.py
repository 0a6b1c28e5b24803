"""Preset YAML files: the package's own and a user's folder (``<config dir>/presets/<kind>/``)."""

from __future__ import annotations

from pathlib import Path

import yaml

from lambda_hat.config.validate import suggest
from lambda_hat.errors import ConfigError

KINDS = ("model", "data", "teacher", "sampler")
BUILTIN = Path(__file__).parent / "presets"


def read_yaml(path: Path, what: str | None = None):
    """Parse a YAML file; syntax errors become a one-line :class:`ConfigError` with the line number."""
    what = what or str(path)
    if not path.is_file():
        raise ConfigError([f"{what}: file not found"])
    try:
        return yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"{what}: YAML syntax error{where}: {err.problem}"]) from None
    except yaml.YAMLError as err:
        raise ConfigError([f"{what}: YAML error: {err}"]) from None


def folders(user_dir: Path | None) -> list[Path]:
    """Preset roots, the user's first (a user's preset shadows a built-in of the same name)."""
    return ([user_dir] if user_dir and user_dir.is_dir() else []) + [BUILTIN]


def names(kind: str, user_dir: Path | None = None) -> list[str]:
    """All preset names of ``kind``."""
    found = {p.stem for root in folders(user_dir) for p in (root / kind).glob("*.yaml")}
    return sorted(found)


def load(kind: str, name: str, path: str, user_dir: Path | None = None) -> dict:
    """The mapping of preset ``name`` of ``kind``; unknown names raise with a suggestion."""
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
