"""Coerce plain mappings (from YAML) into typed dataclasses, collecting one message per problem."""

from __future__ import annotations

import dataclasses
import difflib
import math
import reprlib
from typing import Any

from lambda_hat.types import HOST_FIELDS


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother = 2, 4, 4, 40, 40


def shown(value: Any) -> str:
    """A short ``repr`` of a value for a message: nested or long values are cut (a YAML alias bomb
    expands to billions of items; its message stays one short line)."""
    return _SHORT.repr(value)


def suggest(key: str, valid: list[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest valid key, or ``""``."""
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def unknown_keys(mapping: dict, valid: list[str], path: str) -> list[str]:
    """Problems for keys of ``mapping`` not in ``valid``."""
    where = f"{path}." if path else ""
    return [f"{where}{key}: unknown key{suggest(str(key), valid)}"
            for key in mapping if key not in valid]


def _number(value: Any) -> float | None:
    """A finite float from an int, a float or a numeric string (YAML reads ``1e-6`` as a string)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def coerce(kind: str, value: Any) -> tuple[Any, str | None]:
    """Coerce ``value`` to the field type named ``kind``; return ``(value, problem)``."""
    if kind == "bool":
        return (value, None) if isinstance(value, bool) else (None, f"expected true or false, got {shown(value)}")
    if kind == "str":
        return (value, None) if isinstance(value, str) else (None, f"expected a string, got {shown(value)}")
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value, None                      # exact, however large (a float would round it)
        number = _number(value)
        if number is None or not number.is_integer():
            return None, f"expected an integer, got {shown(value)}"
        return int(number), None
    if kind == "float":
        number = _number(value)
        return (number, None) if number is not None else (None, f"expected a number, got {shown(value)}")
    if kind == "dict":
        if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
            return None, f"expected a mapping of names to values, got {shown(value)}"
        return value, None
    if kind == "list":
        if not isinstance(value, list):
            return None, f"expected a list of positive integers, got {shown(value)}"
        items = [coerce("int", item)[0] for item in value]
        if any(item is None or item < 1 for item in items):
            return None, f"expected a list of positive integers, got {shown(value)}"
        return items, None
    raise TypeError(f"unsupported field type {kind}")


def check_field(field: dataclasses.Field, value: Any) -> tuple[Any, str | None]:
    """Coerce and range-check one field value (``None`` where the field's type allows it)."""
    kind = str(field.type)
    if kind.endswith(" | None"):
        if value is None:
            return None, None
        kind = kind.removesuffix(" | None")
    value, problem = coerce(kind, value)
    if problem:
        return None, problem
    meta = field.metadata
    if meta.get("choices") and value not in meta["choices"]:
        options = ", ".join(meta["choices"])
        return None, f"{shown(value)} is not one of {options}{suggest(str(value), list(meta['choices']))}"
    minimum = meta.get("minimum")
    if minimum is not None and (value < minimum or (meta.get("exclusive") and value == minimum)):
        bound = f"> {number_text(minimum)}" if meta.get("exclusive") else f">= {number_text(minimum)}"
        return None, f"must be {bound}, got {shown(value)}"
    maximum = meta.get("maximum")
    if maximum is not None and (value > maximum or (meta.get("below") and value == maximum)):
        bound = f"< {number_text(maximum)}" if meta.get("below") else f"<= {number_text(maximum)}"
        return None, f"must be {bound}, got {shown(value)}"
    return value, None


def number_text(bound: float) -> str:
    """A bound as a user wrote it: integers in full (a seed's 4294967295), others short (1e-06)."""
    return str(int(bound)) if float(bound).is_integer() and abs(bound) < 1e15 else f"{bound:g}"


def field_names(cls: type) -> list[str]:
    return [field.name for field in dataclasses.fields(cls)]


def build(cls: type, mapping: dict, path: str, where: dict | None = None) -> tuple[Any, list[str]]:
    """Build dataclass ``cls`` from ``mapping`` (missing keys take the defaults).

    ``where`` maps a key to the path its value came from (default ``path``), for messages; a class
    with an ``implied(mapping)`` method adds the settings those given imply, and one with a
    ``problems()`` method checks rules across its fields there. Returns ``(instance or None,
    problems)``.
    """
    fields = {field.name: field for field in dataclasses.fields(cls)}
    where = where or {}
    if hasattr(cls, "implied"):          # settings that those given imply (recorded in the spec)
        mapping = {**cls.implied(mapping), **mapping}
    problems = [f"{where.get(key, path)}.{key}: unknown key{suggest(str(key), list(fields))}"
                for key in mapping if key not in fields]
    values = {}
    for key, value in mapping.items():
        if key not in fields:
            continue
        values[key], problem = check_field(fields[key], value)
        if problem:
            problems.append(f"{where.get(key, path)}.{key}: {problem}")
    if problems:
        return None, problems
    instance = cls(**values)
    together = instance.problems() if hasattr(instance, "problems") else []   # rules across fields
    return (None, [f"{path}: {problem}" for problem in together]) if together else (instance, [])


def describe(cls: type) -> list[tuple[str, str, Any, str]]:
    """``(key, type, default, doc)`` for each field of ``cls``, for ``lambda-hat presets``; the doc of
    a setting that runs may differ in and still share one batch ends with ``[batch]``."""
    rows = []
    for field in dataclasses.fields(cls):
        default = field.default_factory() if field.default is dataclasses.MISSING else field.default
        shared = field.metadata.get("batch") or field.name in HOST_FIELDS
        doc = field.metadata.get("doc", "") + (" [batch]" if shared else "")
        rows.append((field.name, str(field.type), default, doc))
    return rows
