"""Issue 22 point 3: masking precision and recall on labelled real comments.

tests/data/garden_pii_labels.json: the French garden export's comments that either masker
altered, with the personal parts labelled by hand (see its "about"). Each placeholder is
matched back to the original text; it is right when it covers a labelled personal part.
Figures are printed for the report (pytest -s).
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from helpers import paths
from helpers.ingest.pii_text import PLACEHOLDER
from helpers.ingest.privacy import mask_comments
from helpers.ingest.readers import read_survey

DATA = paths.PROJECT_ROOT / "tests" / "data"


def masked_parts(text: str, masked: str) -> list[tuple[int, int]]:
    """Spans of `text` that became placeholders in `masked`."""
    pattern = "".join("(.+?)" if PLACEHOLDER.fullmatch(part) else re.escape(part)
                      for part in re.split(f"({PLACEHOLDER.pattern})", masked) if part)
    m = re.fullmatch(pattern, text, re.S)
    assert m is not None, (text, masked)
    return [m.span(g) for g in range(1, (m.lastindex or 0) + 1)]


@pytest.fixture(scope="module")
def garden() -> dict:
    labels = json.loads((DATA / "garden_pii_labels.json").read_text(encoding="utf-8"))
    export = read_survey(DATA / "real-exports" / "garden_retailer_nps_fr.csv").data["explication"]
    comments = export.astype("string").where(export != "NA")
    masked = mask_comments(comments)   # the whole export: its vocabulary is the programme's
    by_text = dict(zip(comments.dropna(), masked[comments.notna()], strict=True))
    right = wrong = found = 0
    parts = 0
    wrong_examples = []
    for c in labels["comments"]:
        text, out = c["text"], by_text[c["text"]]
        personal = [(m.start(), m.end()) for p in c["personal"] for m in re.finditer(re.escape(p), text)]
        for start, end in masked_parts(text, out):
            if any(start < pe and ps < end for ps, pe in personal):
                right += 1
            else:
                wrong += 1
                wrong_examples.append(text[start:end])
        parts += len(c["personal"])
        found += sum(p not in out for p in c["personal"])
    altered = int((masked.fillna("") != comments.fillna("")).sum())
    return {"right": right, "wrong": wrong, "found": found, "parts": parts, "altered": altered,
            "comments": int(comments.notna().sum()), "wrong_examples": wrong_examples}


def test_garden_export_masking_precision_and_recall(garden: dict, capsys) -> None:
    g = garden
    precision = g["right"] / (g["right"] + g["wrong"])
    recall = g["found"] / g["parts"]
    with capsys.disabled():
        print(f"\ngarden export (fr, CC0): {g['altered']} of {g['comments']} comments altered; "
              f"placeholders right {g['right']}/{g['right'] + g['wrong']} = {precision:.1%} "
              f"(before issue 22: 45/80 = 56.2%, recall 53/61); pooled recall {g['found']}/{g['parts']} = "
              f"{recall:.1%}; wrong: {g['wrong_examples']}")
    assert precision >= 0.66
    assert recall >= 0.85


def test_masked_parts_matches_placeholders_back() -> None:
    assert masked_parts("call Anna Schmidt on 0612345678", "call [name] on [phone]") == [(5, 17), (21, 31)]
    assert pd.isna(mask_comments(pd.Series(["x", None], dtype="string"))[1])
