"""Studies: each survey export is a study with an id, so programmes sharing one reports folder stay
apart (docs/scheduling.md, "Several programmes").

The id comes from the survey schema's ``study:`` key, else from the export's file name, slugged to
a safe name (``Garden Survey 2024 (FR).csv`` -> ``garden-survey-2024-fr``). The run manifest
records it; the run index groups runs and trends by it; besides ``reports/latest`` (the newest
successful run of any study) every study has its own link ``reports/latest-<study>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from helpers import config
from helpers.errors import ConfigError
from helpers.paths import STUDY_DEFAULT, slug

LATEST = "latest"    # reports/latest: the newest successful run of any study


def declared(schema_path: str | Path) -> str | None:
    """The schema's ``study:`` value (None when the file has none or cannot be read)."""
    try:
        doc = config.read_yaml(schema_path)
    except (ConfigError, OSError):
        return None
    value = doc.get("study") if isinstance(doc, Mapping) else None
    return str(value) if isinstance(value, str | int) and str(value).strip() else None


def study_id(inputs: Mapping[str, Path]) -> str:
    """The study of a run from its input files (parameter name -> path): the schema's
    ``study:`` (``schema_path``), else the export's file name (``raw_path``, else the first
    input), slugged."""
    schema = inputs.get("schema_path")
    named = declared(schema) if schema is not None else None
    if named:
        return slug(named)
    export = inputs.get("raw_path") or next(iter(inputs.values()), None)
    return slug(Path(export).stem) if export is not None else STUDY_DEFAULT


def latest_link(study: str) -> str:
    """The name of a study's latest link in the reports folder: ``latest-<study>``."""
    return f"{LATEST}-{slug(study)}"
