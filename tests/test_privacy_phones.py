"""Issue 25, point 2: libphonenumber's matcher runs only where it can find a phone that the
digit runs do not already mask, and the masking comes out exactly as when it runs everywhere.

Checked on every class example and held-out wording of the privacy tests, the planted sentences
and distinct comments of the sample, the garden export's comments, and numbers written to catch
a prefilter out (extensions, brackets, short numbers, dates, full-width digits, "x" separators).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import phonenumbers
import pytest
from test_privacy_columns import CONTEXT, EXAMPLES, OLDER_WORDINGS
from test_privacy_columns import ORDINARY as ORDINARY_COLUMNS
from test_privacy_text import HELD_OUT, ORDINARY

from helpers import paths
from helpers.ingest import pii_text, readers
from helpers.ingest.pii_text import mask_contact_details, mask_text

TRICKY = [
    "call 020 7946 0958 ext. 12 please", "ring 0171 12 34 56 x 204", "tel (0)20 7946 0958",
    "(+44) 20 7946 0958", "+44 (0) 20 7946 0958.", "ring 642712 tonight", "ring 1642 or 3050441",
    "Tel. 089 / 12 34 56 78", "fax 089-1234567#", "030 / 6959 0036", "0800 123 456",
    "call 0６0-1２3４-5６78", "+33 6 12 34 56 78", "+49 170 1234567; +49 170 7654321",
    "on 2024-01-02 at 10:30 and 30/04/2014", "order 12345 / 67 arrived", "ref 12x34x56x78",
    "pages 123-145 and 200-210", "12.345.678 users", "1 2 3 4 5 6 7 8", "€1,250.00 per 100 seats",
    "06 12 34 56 78 ou 01.23.45.67.89", "+1 (415) 555-2671 ext 9", "+1-415-555-2671 #22",
    "anexo 123 al 912 345 678", "доб. 12 к 8 800 555 35 35", "Tel: 0049 (0) 89 1234 5678",
]


def _texts(sample_dir, truth) -> list[str]:
    texts = [t for items in EXAMPLES.values() for t, _ in items] + OLDER_WORDINGS
    texts += [t for t, _ in HELD_OUT] + ORDINARY + ORDINARY_COLUMNS + TRICKY
    texts += [p["sentence"] for p in truth["pii"]["planted"]]
    export = readers.read_survey(sample_dir / "survey_export.csv").data
    texts += list(pd.unique(export["Q7"].dropna().astype(str)))
    garden = readers.read_survey(paths.PROJECT_ROOT / "tests" / "data" / "real-exports" /
                                 "garden_retailer_nps_fr.csv").data["explication"].dropna().astype(str)
    return texts + list(pd.unique(garden))


@pytest.fixture(scope="module")
def texts(sample_dir, truth) -> list[str]:
    return [t for t in _texts(sample_dir, truth) if sum(ch.isdigit() for ch in t) >= 4]


def test_masking_is_the_same_as_with_the_matcher_everywhere(texts, monkeypatch) -> None:
    fast = [(mask_text(t, CONTEXT), mask_contact_details(t)) for t in texts]
    monkeypatch.setattr(pii_text, "_matcher_may_add", lambda text, spans: True)
    slow = [(mask_text(t, CONTEXT), mask_contact_details(t)) for t in texts]
    differ = [(t, f, s) for t, f, s in zip(texts, fast, slow, strict=True) if f != s]
    assert not differ, differ[:5]


def test_the_matcher_is_skipped_for_most_texts(texts) -> None:
    """The point of the test: most texts with digits never reach libphonenumber."""
    run = sum(pii_text._matcher_may_add(t, pii_text._digit_runs(t)) for t in texts)
    assert run < 0.5 * len(texts)


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_numbers_run_the_matcher_when_it_adds_something(text: str) -> None:
    spans = pii_text._digit_runs(text)
    found = [(m.start, m.end) for region in pii_text._PHONE_REGIONS
             for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)]
    covered = pii_text._merged(spans)
    adds = any(not any(a <= s and e <= b for a, b in covered) for s, e in found)
    assert not adds or pii_text._matcher_may_add(text, spans), (text, found, spans)


def test_no_valid_number_is_shorter_than_the_prefilter_assumes() -> None:
    """_MIN_PHONE_DIGITS is below every region's shortest national number (with its country
    code when written internationally) in libphonenumber's metadata."""
    meta = phonenumbers.PhoneMetadata

    def shortest(md) -> int:
        return min((n for n in md.general_desc.possible_length if n > 0), default=99)

    national = min(shortest(meta.metadata_for_region(r)) for r in pii_text._PHONE_REGIONS)
    international = min(len(str(md.country_code)) + shortest(md) for md in
                        [meta.metadata_for_region(r) for r in phonenumbers.SUPPORTED_REGIONS]
                        + [meta.metadata_for_nongeo_region(c)
                           for c in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS])
    assert pii_text._MIN_PHONE_DIGITS <= min(national, international)


def test_national_id_checks_accept_only_their_lengths() -> None:
    """_id_ok tries an ID check only on runs of the lengths its validator accepts: at any other
    length no run of digits is valid (random runs, and valid ones cut or extended)."""
    rng = np.random.default_rng(3)
    for check in pii_text._ID_CHECKS:
        for n in range(9, 16):
            if n in pii_text._ID_LENGTHS[check]:
                continue
            runs = ["".join(map(str, rng.integers(0, 10, n))) for _ in range(300)] + ["0" * n, "1" * n]
            assert not any(pii_text._quiet(check, r) for r in runs), (check.__module__, n)
    valid = {"nl": "111222333", "de": "36574261809", "pl": "44051401359", "dk": "2110625629",
             "gb": "9434765870", "se": "8803200016", "fr": "295109912611193", "be": "85073003328"}
    for check in pii_text._ID_CHECKS:
        country = check.__module__.split(".")[1] if check.__module__.startswith("stdnum") else check.__name__[1:3]
        number = valid[country]
        assert check(number) and len(number) in pii_text._ID_LENGTHS[check], check.__module__
        assert pii_text._id_ok(number), check.__module__


def test_birth_date_prechecks_give_the_checks_answers() -> None:
    """The Swedish and Danish ID checks read a birth date first: the same answer as python-stdnum
    on random runs, on runs holding a date (valid numbers among them) and on other scripts' digits."""
    from stdnum.dk import cpr
    from stdnum.se import personnummer

    rng = np.random.default_rng(25)
    runs = ["".join(map(str, rng.integers(0, 10, n))) for n in (10, 12) for _ in range(20_000)]
    for _ in range(20_000):
        d, m, y = (f"{rng.integers(0, 33):02d}", f"{rng.integers(0, 14):02d}", f"{rng.integers(0, 100):02d}")
        tail = "".join(map(str, rng.integers(0, 10, 4)))
        runs += [d + m + y + tail, y + m + d + tail, "19" + y + m + d + tail]
    runs += ["8803200016", "198803200016", "2110625629", "٢١١٠٦٢٥٦٢٩", "２１１０６２５６２９"]
    for mine, theirs in ((pii_text._se_pnr_ok, personnummer.is_valid), (pii_text._dk_cpr_ok, cpr.is_valid)):
        answers = [(pii_text._quiet(mine, r), pii_text._quiet(theirs, r)) for r in runs]
        assert [r for r, (a, b) in zip(runs, answers, strict=True) if a != b] == []
        assert sum(b for _, b in answers) > 100   # valid numbers among the runs
