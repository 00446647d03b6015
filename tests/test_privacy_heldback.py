"""Issue 26 point 6: masking recall on the new classes, measured on a held-back set.

tests/data/pii_heldback.json was written before the masking code for these classes and is read
only here: the masking was never tuned on it. Recall per class and the share of ordinary comments
altered are printed for the report (pytest -s); the thresholds were fixed with the set.
"""

from __future__ import annotations

import json

import pytest

from helpers import paths
from helpers.ingest.pii_text import MaskContext, mask_text

HELD_BACK = json.loads((paths.PROJECT_ROOT / "tests" / "data" / "pii_heldback.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def context() -> MaskContext:
    return MaskContext.build(companies=HELD_BACK["accounts"])


def test_recall_per_class_on_the_held_back_set(context: MaskContext,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    hits = total = 0
    lines, missed = [], []
    for kind, items in HELD_BACK["classes"].items():
        found = 0
        for text, parts in items:
            masked = mask_text(text, context)
            if all(p not in masked for p in parts):
                found += 1
            else:
                missed.append((text, masked))
        hits, total = hits + found, total + len(items)
        lines.append(f"{kind} {found}/{len(items)}")
    with capsys.disabled():
        print(f"\nheld-back recall {hits}/{total} = {hits / total:.1%}: " + "; ".join(lines)
              + f"\nmissed: {missed}")
    assert hits / total >= 0.85, missed


def test_ordinary_comments_of_the_held_back_set(context: MaskContext,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    ordinary = HELD_BACK["ordinary"]
    altered = [(t, mask_text(t, context)) for t in ordinary if mask_text(t, context) != t]
    with capsys.disabled():
        print(f"\nheld-back ordinary comments altered: {len(altered)}/{len(ordinary)}: {altered}")
    assert len(altered) <= 3, altered
