"""The one place YAML configuration is read and validated; helpers take values, not config paths.

One loader per config file. Each raises :class:`helpers.errors.ConfigError` with a one-line message
naming the file and key when the content is not what is expected.
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from helpers import paths
from helpers.errors import ConfigError


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping (path relative to the project root) or raise ConfigError."""
    p = paths.resolve(path)
    if not p.is_file():
        raise ConfigError("file not found", file=p, expected="a YAML file")
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', exc)}", file=p,
                          row=(mark.line + 1) if mark else None) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"top level is a {type(doc).__name__}", file=p, expected="a mapping")
    return doc


def require(doc: dict[str, Any], key: str, typ: type | tuple[type, ...], file: object) -> Any:
    """Return doc[key] after checking it exists and has the expected type."""
    if key not in doc:
        raise ConfigError(f"missing key {key!r}", file=file)
    value = doc[key]
    if not isinstance(value, typ):
        names = typ.__name__ if isinstance(typ, type) else " or ".join(t.__name__ for t in typ)
        raise ConfigError(f"key {key!r} is {type(value).__name__}", file=file, expected=names)
    return value
