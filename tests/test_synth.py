"""The sample generator: deterministic, realistic, and its planted truth is really in the data."""

import numpy as np
import pandas as pd
import pytest

from helpers.ingest import readers
from helpers.sample import planted_model, program, writers


def test_same_seed_same_sample_and_different_seed_differs():
    a = program.generate(rows=600, seed=3, market_data=False)
    b = program.generate(rows=600, seed=3, market_data=False)
    c = program.generate(rows=600, seed=4, market_data=False)
    pd.testing.assert_frame_equal(a.export, b.export)
    pd.testing.assert_frame_equal(a.accounts, b.accounts)
    assert a.truth == b.truth
    assert not a.export["Q1"].equals(c.export["Q1"])


def test_rows_and_truth(sample_dir, truth):
    s = readers.read_survey(sample_dir / "survey_export.csv")
    assert s.format == "qualtrics"
    assert len(s.data) == truth["rows"] == 3000
    assert s.import_ids["Q1"] == "QID1"
    assert set(truth["top3"]["B2B"]) <= set(planted_model.B2B_EFFECTS)
    assert truth["top3"]["B2B"] != truth["top3"]["B2C"]
    assert 2 <= len(truth["gaming_reps"]) <= 3
    assert truth["quarter_end_penalty"]["impl_items_points"] < 0
    for k in ("duplicates", "test_responses", "speeders", "straightliners", "out_of_range", "blank_ltr",
              "label_valued"):
        assert truth["defects"][k] > 0


def test_b2b_structure(sample_dir, truth):
    acc = pd.read_csv(sample_dir / "accounts.csv")
    inv = pd.read_csv(sample_dir / "invitations.csv")
    withheld = truth["programme"]["withheld"]["accounts"]
    assert withheld and not set(withheld) & set(inv["account_id"])  # never surveyed (issue 24)
    acc = acc[~acc["account_id"].isin(withheld)]
    assert 100 <= len(acc) <= 600
    assert acc["n_contacts"].between(1, 8).all()
    assert set(inv["role"]) == {"decision_maker", "influencer", "user"}
    rr = inv["responded"].mean()
    assert 0.2 < rr < 0.8
    # Every account has exactly one decision maker among its invited contacts.
    dm = inv[inv["role"] == "decision_maker"].groupby("account_id")["contact_email"].nunique()
    assert (dm == 1).all() and len(dm) == len(acc)


def test_quarter_end_rush_planted(cleaned):
    b2b = cleaned.responses.query("market == 'B2B' and include")
    impl = b2b[list(planted_model.IMPL_ITEMS)].mean(axis=1)
    diff = impl[b2b["quarter_end_deal"].astype(bool)].mean() - impl[~b2b["quarter_end_deal"].astype(bool)].mean()
    assert diff < -0.3


def test_gaming_reps_give_more_tens(cleaned, truth):
    b2b = cleaned.responses.query("market == 'B2B' and include")
    tens = (b2b["ltr"] == 10).groupby(b2b["rep_id"]).mean()
    gamers = tens[truth["gaming_reps"]]
    others = tens.drop(truth["gaming_reps"])
    assert gamers.min() > others.median()


def test_no_gaming_option():
    s = program.generate(rows=600, seed=5, gaming=False, market_data=False)
    assert s.truth["gaming_reps"] == [] and s.truth["pressured_responses"] == 0


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "sav"])
def test_other_formats_read_back(tmp_path, fmt):
    s = program.generate(rows=300, seed=2, market_data=False)
    written = writers.write(s, tmp_path, fmt=fmt)
    back = readers.read_survey(written["survey_export"], format="csv" if fmt == "csv" else "auto")
    assert len(back.data) == 300
    ltr = pd.to_numeric(back.data["Q1"], errors="coerce")
    assert np.nanmax(ltr) >= 10
