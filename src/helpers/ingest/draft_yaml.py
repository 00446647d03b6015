"""The YAML text of a drafted schema (`cx schema infer`): flow scalars and mappings, and the
answer-label and quality sections a draft starts from."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helpers.ingest.profiling import LABEL_SETS, NOT_APPLICABLE
from helpers.paths import slug


def fmt(value: Any) -> str:
    """One YAML flow scalar / list."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    text = str(value)
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) and text.lower() not in {
        "yes", "no", "true", "false", "null", "on", "off", "y", "n", "none"}
    return text if plain else json.dumps(text, ensure_ascii=False)



_YAML_BREAKS = str.maketrans({"\x85": "\\x85", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def quoted_name(name: str) -> str:
    """A file name as one double-quoted YAML-safe line: every line break escaped (a name with
    a newline never writes a key into a draft, even in a comment)."""
    return json.dumps(str(name), ensure_ascii=False).translate(_YAML_BREAKS)


def entry(mapping: Mapping[str, Any]) -> str:
    """One YAML flow mapping (keys quoted where YAML needs it: "Teils, teils", "D'accord")."""
    return "{" + ", ".join(f"{_key(k)}: {fmt(v)}" for k, v in mapping.items() if v is not None) + "}"


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ ]*[A-Za-z0-9_]", key) else fmt(key)



def answers_and_quality(tpl: Mapping[str, Any]) -> list[str]:
    answers = tpl.get("answers") or {"not_applicable": NOT_APPLICABLE, "label_sets": LABEL_SETS}
    quality = tpl.get("quality") or {
        "test_status": ["Survey Preview", "Survey Test", "Spam"],
        "test_channels": ["preview", "test"], "speeder_fraction": 0.33,
        "straightliner_min_items": 5, "duplicate_key": ["contact_key", "wave"]}
    lines = ["# Answer labels. Not-applicable answers become missing, never zero.", "answers:",
             f"  not_applicable: {fmt(list(answers.get('not_applicable', [])))}",
             "  label_sets:"]
    sets = {**LABEL_SETS, **(answers.get("label_sets") or {})}  # every set a draft may name
    lines += [f"    {name}: {entry(m)}" for name, m in sets.items()]
    lines += ["", "# Quality rules (flags, never deletes).", "quality:"]
    lines += [f"  {k}: {fmt(v)}" for k, v in quality.items()]
    return lines


def study_lines(export: Path) -> list[str]:
    """The draft's ``study:`` entry: the export's file name as a study id, explained."""
    return ["# The programme this export belongs to: its runs are trended together and",
            "# reports/latest-<study> is its newest run.", f"study: {slug(export.stem)}"]
