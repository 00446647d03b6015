"""From an export's header rows to a :class:`~helpers.ingest.survey.Survey`: unique column
names, question text (SurveyMonkey's question | option columns, HTML removed) and Qualtrics
ImportIds with their time zone."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.ingest.survey import Survey

_SM_OPTION_ONLY = {"", "Response", "Open-Ended Response"}
_HTML_TAG = re.compile(r"<[^>]{0,200}>")


def _parse_import_id(cell: str) -> tuple[str | None, dict[str, Any], bool]:
    """ImportId of a Qualtrics third-row cell (JSON or single-quoted Python dict)."""
    text = cell.strip()
    if not text:
        return None, {}, False
    try:
        obj = json.loads(text)
        python_style = False
    except ValueError:
        try:
            obj = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None, {}, False
        python_style = True
    if not isinstance(obj, dict) or "ImportId" not in obj:
        return None, {}, False
    return str(obj["ImportId"]), obj, python_style


def _clean_question(text: str) -> str:
    """Question text without HTML tags and runs of whitespace (SurveyMonkey uses <br>)."""
    return " ".join(_HTML_TAG.sub(" ", text).split())


def _unique(names: Sequence[str], notes: list[str]) -> list[str]:
    """Make column names unique (blank -> column_N, repeats -> name.1, name.2)."""
    out: list[str] = []
    seen: dict[str, int] = {}
    blanks, repeats = 0, []
    for i, name in enumerate(names, start=1):
        if not name:
            name = f"column_{i}"
            blanks += 1
        base = name
        while name in seen:
            seen[base] += 1
            name = f"{base}.{seen[base]}"
        if name != base:
            repeats.append(base)
        seen.setdefault(name, 0)
        out.append(name)
    if blanks:
        notes.append(f"named {blanks} column(s) with a blank header 'column_N' (N = position)")
    if repeats:
        shown = ", ".join(repr(r) for r in dict.fromkeys(repeats))
        notes.append(f"renamed repeated column ids with a .1, .2 suffix: {shown}")
    return out


def assemble(kind: str, header: Sequence[Sequence[str]], frame: pd.DataFrame,
             notes: list[str], p: Path, encoding: str | None) -> Survey:
    """Name the columns and collect question text / ImportIds for a parsed export."""
    width = frame.shape[1]
    ids = [c.strip() for c in header[0]] if header else [f"column_{i + 1}" for i in range(width)]
    # a trailing delimiter gives a nameless, empty last column: drop it
    drop = [i for i in range(width) if not ids[i] and i == width - 1
            and all(not str(h[i]).strip() for h in header) and frame.iloc[:, i].isna().all()]
    if drop:
        frame = frame.drop(columns=frame.columns[drop])
        ids = [c for i, c in enumerate(ids) if i not in drop]
        header = [[c for i, c in enumerate(h) if i not in drop] for h in header]
        notes.append("dropped 1 empty unnamed last column (trailing delimiter)")

    questions_raw: list[str]
    import_ids: dict[str, str] = {}
    if kind == "surveymonkey":
        names, questions_raw = _surveymonkey_names(header[0], header[1], notes)
        names = _unique(names, notes)
    else:
        names = _unique(ids, notes)
        questions_raw = [h.strip() for h in header[1]] if kind.startswith("qualtrics") \
            else list(names)
    if kind == "qualtrics" and len(header) == 3:
        python_style, zones = False, set()
        for name, cell in zip(names, header[2], strict=True):
            qid, obj, py = _parse_import_id(cell)
            if qid is not None:
                import_ids[name] = qid
                python_style |= py
                if "timeZone" in obj:
                    zones.add(str(obj["timeZone"]))
        if python_style:
            notes.append("ImportId row is in single-quoted Python-dict style {'ImportId': ...}")
        if zones:
            notes.append(f"timestamps are in time zone {', '.join(sorted(zones))} "
                         "(from the ImportId row)")
    elif kind == "qualtrics":
        notes.append("no ImportId row (2 header rows: column ids, question text)")
    frame.columns = names
    questions = {n: (q or n) for n, q in zip(names, questions_raw, strict=True)}
    notes.insert(0, f"read {len(frame)} responses x {frame.shape[1]} columns as {kind}")
    return Survey(data=frame, questions=questions, import_ids=import_ids, format=kind,
                  encoding=encoding, path=p, notes=notes)


def _surveymonkey_names(row1: Sequence[str], row2: Sequence[str], notes: list[str]
                        ) -> tuple[list[str], list[str]]:
    """Column names "<question>" or "<question> | <option>" and each column's question text."""
    names: list[str] = []
    questions: list[str] = []
    current = ""
    html = False
    for i, (q_raw, opt_raw) in enumerate(zip(row1, row2, strict=True)):
        q = _clean_question(q_raw)
        html |= q != q_raw.strip()
        opt = _clean_question(opt_raw)
        continuation = not q
        if not continuation:
            current = q
        question = current or f"column_{i + 1}"
        if continuation or opt not in _SM_OPTION_ONLY:
            names.append(f"{question} | {opt or f'column_{i + 1}'}")
        else:
            names.append(question)
        questions.append(question)
    multi = sum(1 for n in names if " | " in n)
    if multi:
        notes.append(f"named {multi} answer-option column(s) '<question> | <option>' "
                     "(select-all / matrix / other answers)")
    if html:
        notes.append("removed HTML tags such as <br> from question text")
    return names, questions
