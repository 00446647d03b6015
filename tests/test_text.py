"""Tests for helpers.text: tone on hand-labelled comments, PII masking, themes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from helpers.analysis import text
from helpers.ingest import privacy

# Hand-labelled: +1 clearly positive, -1 clearly negative (labelled by reading, before scoring).
LABELLED = [
    ("Great team, onboarding was smooth and on time.", 1),
    ("Excellent support, very responsive and knowledgeable.", 1),
    ("Easy to work with, would recommend.", 1),
    ("No problems at all, everything went live on time.", 1),
    ("Not bad, the rep was helpful.", 1),
    ("10/10 love the product", 1),
    ("Terrible implementation, months late and over budget.", -1),
    ("The rep was pushy and the pricing is overpriced.", -1),
    ("Not helpful at all, nobody helped us.", -1),
    ("10 but the onboarding was a nightmare and support is slow.", -1),
    ("9 - however the go-live was delayed twice and nobody told us.", -1),
    ("The product is great but the implementation was a mess.", -1),
    ("Never again. Disappointed with the whole process.", -1),
    ("Hidden fees and confusing contract, not happy.", -1),
    ("It was not easy to reach anyone.", -1),
    ("10. But the onboarding was slow and support never solved our issue.", -1),
    ("My rep asked me for a 10. Go-live slipped by months.", -1),
]


@pytest.mark.parametrize(("comment", "label"), LABELLED)
def test_tone_sign_matches_hand_label(comment: str, label: int) -> None:
    score = text.tone([comment]).iloc[0]
    assert -1 <= score <= 1
    assert np.sign(score) == label, (comment, score)


def test_tone_accuracy_on_labelled_set() -> None:
    scores = text.tone([c for c, _ in LABELLED])
    labels = np.array([lab for _, lab in LABELLED])
    assert (np.sign(scores.to_numpy()) == labels).mean() == 1.0


def test_tone_negation_flips_and_shrinks() -> None:
    pos, neg = text.tone(["the team was helpful", "the team was not helpful"])
    assert pos > 0 > neg
    assert abs(neg) < abs(pos)


def test_tone_contrast_weights_second_clause() -> None:
    before, after = text.tone(["slow start but great result", "great start but slow result"])
    assert before > 0 > after


def test_tone_missing_blank_neutral_and_index_kept() -> None:
    s = pd.Series([None, "", "   ", "the meeting was on tuesday", float("nan")],
                  index=list("abcde"))
    out = text.tone(s)
    assert list(out.index) == list("abcde")
    assert out.name == "tone"
    assert math.isnan(out["a"]) and math.isnan(out["b"]) and math.isnan(out["c"])
    assert math.isnan(out["e"])
    assert out["d"] == 0.0


def test_tone_intensity_is_bounded_and_monotone() -> None:
    mild, strong = text.tone(["good", "very good, excellent, amazing, outstanding, perfect"])
    assert 0 < mild < strong < 1


def test_mask_pii_emails_phones_urls() -> None:
    s = pd.Series(["mail me at jane.doe+cx@example.co.uk please",
                   "call +1 (555) 123-4567 today",
                   "score 9/10 in 2025, see https://x.example/a?b=1",
                   None])
    out = privacy.mask_pii(s)
    assert out.iloc[0] == "mail me at [email] please"
    assert out.iloc[1] == "call [phone] today"
    assert out.iloc[2] == "score 9/10 in 2025, see [url]"
    assert pd.isna(out.iloc[3])


# --------------------------------------------------------------------- themes (planted topics)
def _planted_comments(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Two planted topics: promoters talk about support 80 % of the time, detractors 20 %."""
    rng = np.random.default_rng(seed)
    support = ["support team helpful friendly", "helpful support agent solved ticket",
               "friendly support team quick ticket"]
    delivery = ["delivery late parcel damaged", "parcel arrived late delivery slow",
                "late delivery damaged box courier"]
    group = np.where(np.arange(n) < n // 2, "promoter", "detractor")
    p_support = np.where(group == "promoter", 0.8, 0.2)
    topic = np.where(rng.random(n) < p_support, "support", "delivery")
    texts = [rng.choice(support if t == "support" else delivery) for t in topic]
    texts[0] = texts[0] + " mail jane@example.com"
    texts[1] = ""
    return pd.DataFrame({"comment": texts, "group": group, "topic": topic})


def test_themes_recover_planted_topics_and_contrast() -> None:
    df = _planted_comments()
    th = text.themes(df["comment"], n_themes=2, min_df=2)
    assert pd.isna(th.assignment.iloc[1])  # blank comment: no theme
    found = th.assignment.dropna()
    agree = pd.crosstab(found, df.loc[found.index, "topic"])
    assert (agree.max(axis=1).sum() / agree.to_numpy().sum()) == 1.0
    con = text.theme_contrast(th.assignment, df["group"]).set_index("theme")
    support_theme = agree["support"].idxmax()
    row = con.loc[support_theme]
    truth_share = 100 * (df.loc[found.index].query("group == 'promoter'")["topic"]
                         == "support").mean()
    assert row.share_promoter == pytest.approx(truth_share)
    assert row.ci_low <= 60 <= row.ci_high  # planted difference 80 % - 20 %
    assert row.promoter_ci_low < row.share_promoter < row.promoter_ci_high
    quotes = text.example_quotes(th, df["comment"], df["group"], k=2)
    assert len(quotes) == 2 * 2 * 2
    every = text.example_quotes(th, df["comment"], df["group"], k=1000)
    assert len(every) == len(found)
    assert not every["quote"].str.contains("@").any()
    assert every["quote"].str.contains(r"\[email\]").sum() == 1
