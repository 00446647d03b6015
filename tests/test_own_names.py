"""The schema drives everything: the sample renamed through a schema (every item and field given
another name and order, groups renamed, one item asked on 0-10) gives the same numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import config
from helpers.analysis import headline, importance, integrity, priority, segments, selection
from helpers.analysis.modelling import Bootstrap
from helpers.ingest import clean
from helpers.sample import profiles


def _study(folder: Path, segments_path: Path) -> selection.Study:
    side = {k: str(folder / f"{k}.csv") for k in ("accounts", "invitations", "cx_index", "prices")}
    export = next(folder.glob("survey_export.*"))
    res = clean.prepare(export, folder / "survey.yaml", inputs=side)
    return selection.study(res.responses, res.schema, config.load_segments(segments_path),
                           tables=res.side_tables)


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[selection.Study, selection.Study]:
    root = tmp_path_factory.mktemp("own-names")
    profiles.write("full", root / "full", rows=2500, seed=11)
    written = profiles.write("custom", root / "custom", rows=2500, seed=11)
    full = _study(root / "full", Path("config/segments.yaml").resolve())
    return full, _study(root / "custom", written["segments"])


def _by_label(imp: pd.DataFrame, study: selection.Study) -> pd.DataFrame:
    return imp.rename(index=study.schema.driver_labels()).sort_index()


def test_same_responses_included_and_same_headline(pair) -> None:
    full, custom = pair
    assert len(custom.included) == len(full.included) and custom.wave == full.wave
    assert custom.weighting.startswith("raked to bought_via") and full.weighting.startswith("raked to channel")
    cols = ["market", "metric", "estimate", "ci_low", "ci_high", "n"]
    a = headline.market_headline(full)[cols]
    b = headline.market_headline(custom)[cols]
    pd.testing.assert_frame_equal(a, b)


def test_same_driver_shares_and_priority_matrix(pair) -> None:
    full, custom = pair
    for market in ("B2B", "B2C"):
        out = []
        for s in (full, custom):
            m = s.market(market)
            items = s.schema.driver_items(market)
            imp = importance.shapley_importance(m.rows, "ltr", items,
                                                bootstrap=Bootstrap(20, seed=1), **m.columns)
            scales = {i: s.schema.scale(i) for i in items}
            pm = priority.priority_matrix(imp, m.rows, scales=scales, **m.columns)
            out.append((_by_label(imp, s), _by_label(pm, s)))
        (imp_a, pm_a), (imp_b, pm_b) = out
        assert list(imp_a.index) == list(imp_b.index)  # the same items, by their labels
        np.testing.assert_allclose(imp_b["share"], imp_a["share"], atol=1e-10)
        np.testing.assert_allclose(imp_b["share_ci_low"], imp_a["share_ci_low"], atol=1e-10)
        np.testing.assert_allclose(pm_b["performance"], pm_a["performance"], atol=1e-9)
        assert (pm_b["quadrant"] == pm_a["quadrant"]).all()


def test_same_segment_tables_and_changes(pair) -> None:
    full, custom = pair
    cols = ["market", "segment", "nps", "ci_low", "ci_high", "n"]
    a = segments.market_segments(full).sort_values(["market", "segment", "n"])[cols]
    b = segments.market_segments(custom).sort_values(["market", "segment", "n"])[cols]
    np.testing.assert_allclose(a[["nps", "ci_low", "ci_high", "n"]], b[["nps", "ci_low", "ci_high", "n"]])
    ca = segments.market_changes(full).sort_values(["market", "segment", "wave_to", "change"])
    cb = segments.market_changes(custom).sort_values(["market", "segment", "wave_to", "change"])
    np.testing.assert_allclose(ca["change"], cb["change"])
    assert ca["significant"].sum() == cb["significant"].sum()


def test_same_reps_flagged(pair) -> None:
    full, custom = pair
    flagged = []
    for s in (full, custom):
        ev = integrity.evidence(s.market("B2B", included=False).rows, s.schema.driver_items("B2B"))
        audit = integrity.integrity_index(ev)
        flagged.append(sorted(audit.loc[audit["flagged"], "rep_id"]))
    assert flagged[0] == flagged[1] and flagged[0]
