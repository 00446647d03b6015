"""Issue 25, point 2: the per-step gates of the text masker never skip a step that would change a
text, and the parallel masking path gives what masking one by one gives.

Each gate (:data:`helpers.ingest.pii_text.GATES`) is checked against the pattern of its step on
every comment of the sample, every planted sentence and the hand-written classes of the privacy
tests, plus texts written to trip RE2's and Python's differences (digits of other scripts,
non-breaking spaces, placeholders already in the text).
"""

from __future__ import annotations

import re
import string

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import test_privacy_columns as columns_cases
import test_privacy_text as text_cases

from helpers.ingest import pii_extra, privacy, readers
from helpers.ingest import pii_text as P
from helpers.ingest.pii_extra import MaskContext

#: Texts that trip the differences between Python's `re` and RE2 (Unicode digits and spaces,
#: placeholders typed by the respondent, letters whose case folds oddly).
ODD = ["call ٠٧٧٠٠ ٩٠٠١٢٣ please", "tel ０２０ ７９４６ ０９５８", "42\u00a0Baker Street, London",
       "12\u2009rue de la Paix", "Hauptstraße\u00a012", "code ²³⁴ ⁵⁶⁷ ⁸⁹¹", "Mr\u00a0Smith called",
       "Mme\u202fdubois", "[name] 42 Baker Street", "12 [email] Street", "NW1[phone]6XE",
       "AB[card]12 34 56 C", "Kelvin \u212a 12345 Köln", "P.O.\u00a0Box 12", "ſtreet 12 ſtrasse 4",
       "SW1A 1AA", "GIR 0AA", "K1A 0B1", "1234 AB", "TX 78701", "75001 Paris", "Calle Mayor 5",
       "via Roma 10", "Herrn müller", "Спасибо Ивану", "感谢客服李明", "123-45-6789",
       "X1234567L", "RSSMRA85T10A562S", "GB82 WEST 1234 5698 7654 32", "de89370400440532013000"]

#: gate -> the patterns of the step it guards (a text any of them matches must pass the gate).
STEP_PATTERNS: dict[str, list[re.Pattern[str]]] = {
    "iban": [P._IBAN], "iban_lower": [P._IBAN_LOWER], "nine_digits": [P._LONG_NUMBER, P._ID_DIGITS],
    "intl_phone": [P._INTL_PHONE], "nino": [P._NINO], "ssn": [P._SSN], "es_id": [P._ES_ID],
    "it_cf": [P._IT_CF], "title": [P._TITLE], "title_lower": [pii_extra._TITLE_LOWER],
    "cyrillic": [re.compile("[А-ЯЁ]")], "han": [re.compile(f"[{pii_extra._HAN_SURNAMES}]")],
    "birth": [pii_extra._BIRTH], "customer": [pii_extra._CUSTOMER_CUE], "lower_cue": [pii_extra._LOWER_CUE],
    **{f"postcode{k}": [rx] for k, rx in enumerate(P._POSTCODES)},
    **{f"address{k}": [rx] for k, rx in enumerate(P._ADDRESSES)},
}


@pytest.fixture(scope="module")
def corpus(sample_dir, truth) -> list[str]:
    texts = list(pd.unique(readers.read_survey(sample_dir / "survey_export.csv").data["Q7"].dropna().astype(str)))
    texts += [p["sentence"] for p in truth["pii"]["planted"]]
    texts += [t for t, _ in text_cases.HELD_OUT] + text_cases.ORDINARY + columns_cases.OLDER_WORDINGS
    texts += [t for items in columns_cases.EXAMPLES.values() for t, _ in items] + columns_cases.ORDINARY
    return texts + ODD


@pytest.fixture(scope="module")
def masked(corpus: list[str]) -> list[str]:
    return [P.mask_text(t) for t in corpus]


def _gate_hits(texts: list[str], gate: str) -> list[bool]:
    return pc.match_substring_regex(pa.array(texts, pa.string()), P.GATES[gate]).to_pylist()


@pytest.mark.parametrize("gate", list(STEP_PATTERNS))
def test_every_text_a_step_changes_passes_its_gate(corpus: list[str], masked: list[str], gate: str) -> None:
    """Texts the step's pattern matches, before and after masking (a step runs on a text that
    earlier steps changed): all pass the gate of the original text; each step has cases."""
    passed = _gate_hits(corpus, gate)
    for rx in STEP_PATTERNS[gate]:
        matched = [i for i, t in enumerate(corpus) if rx.search(t)]
        assert matched, f"no test text for {gate}: {rx.pattern[:60]}"
        assert [corpus[i] for i in matched if not passed[i]] == []
    assert [t for t, m, ok in zip(corpus, masked, passed, strict=True) if not ok and
            any(rx.search(m) for rx in STEP_PATTERNS[gate])] == []


def test_the_digit_gate_holds_every_digit() -> None:
    digits = [chr(c) for c in range(0x110000) if chr(c).isdigit()]
    assert all(_gate_hits(digits, "digit"))


def test_no_gate_matches_a_placeholder() -> None:
    """A gate that could match inside "[id number]" or across a bracket could pass a text only
    after a step put a placeholder in it: none can."""
    texts = [*P.PLACEHOLDERS, " ".join(P.PLACEHOLDERS), "[", "]", "a [name] b", "] [", "[ ]"]
    gates = [g for g in P.GATES if g not in KEY_GATES.values()]
    assert {g: t for g in gates for t, hit in zip(texts, _gate_hits(texts, g), strict=True) if hit} == {}


def test_no_key_gated_step_matches_a_placeholder() -> None:
    """A key gate matches inside "[date of birth]" or "[name]"; the patterns it guards never match
    a bracket nor only inside a placeholder, so a match they find after earlier steps lies in the
    text as it came in, which holds its key."""
    tails = [" 12/03/1980", ": 1234567", " anna dupont", " is anna", " CUST-123456", " no 12345678", ""]
    heads = ["thanks to ", "born ", "customer number ", "my ", "merci à ", "dob: ", ""]
    texts = [h + p + t for p in P.PLACEHOLDERS for h in heads for t in tails]
    found = [(t, m.group()) for rx in (pii_extra._BIRTH, pii_extra._CUSTOMER_CUE, pii_extra._LOWER_CUE)
             for t in texts for m in rx.finditer(t)]
    assert found and [(t, m) for t, m in found if "[" in m or "]" in m
                      or any(m in p for p in P.PLACEHOLDERS)] == []


def test_gated_masking_equals_masking_every_step(corpus: list[str]) -> None:
    ctx = MaskContext.build(keep=["Sleekly"], companies=["Acme Widgets Ltd"])
    may = P.may_match(corpus)
    assert [P.mask_text(t, ctx, m) for t, m in zip(corpus, may, strict=True)] == \
        [P.mask_text(t, ctx) for t in corpus]
    assert P.ALL_STEPS & sum(1 << k for k in range(len(P.GATES))) == sum(1 << k for k in range(len(P.GATES)))


def test_parallel_masking_equals_serial(corpus: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    texts = corpus[:1500]
    monkeypatch.setattr(privacy, "PARALLEL_MASKING", 100)
    assert privacy.mask_texts(texts, workers=2) == [P.mask_text(t) for t in texts]


def test_parallel_masking_ships_its_context_once(corpus: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A programme's context (company names, vocabulary) is pickled once for all the chunks sent
    to the workers, not once per chunk, and masks there as it does one by one."""
    ctx = MaskContext.build(keep=["Sleekly"], companies=["Acme Widgets Ltd", "Northwind Traders"])
    texts = [*corpus[:40], *(f"case {i}: Acme Widgets called, ask Northwind Traders GmbH" for i in range(1000))]
    pickled: list[int] = []

    def spy(self: pii_extra.CompanyNames) -> dict[str, object]:
        pickled.append(1)
        return dict(self.__dict__)

    monkeypatch.setattr(pii_extra.CompanyNames, "__getstate__", spy, raising=False)
    monkeypatch.setattr(privacy, "PARALLEL_MASKING", 100)
    assert privacy.mask_texts(texts, workers=2, context=ctx) == [P.mask_text(t, ctx) for t in texts]
    assert len(pickled) == 1   # 3 chunks of 500 texts or fewer


def test_masking_workers_forked_early_mask_as_one_by_one(corpus: list[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A large clean forks its masking workers before the export is read (they would keep a copy
    of every page the cleaning changes after): they are used, give the same texts, and stop."""
    import os

    if "fork" not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip("no fork on this platform")
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    texts = corpus[:300]  # below PARALLEL_MASKING: only a warm pool masks them in the workers
    with privacy.masking_workers():
        pool = privacy._WARM[0]
        assert pool is not None
        seen: list[object] = []
        monkeypatch.setattr(pool, "map", lambda *a, **k: seen.append(a) or map(*a[:3]))
        assert privacy.mask_texts(texts) == [P.mask_text(t) for t in texts] and seen
        monkeypatch.undo()
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
        assert privacy.mask_texts(texts) == [P.mask_text(t) for t in texts]  # in the workers
    assert privacy._WARM[0] is None and pool._shutdown_thread


def test_hash_keys_in_a_warm_worker_as_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Identifiers are hashed in a warm helper worker while the cleaning goes on: the worker is
    used and gives the keys hashing in the process gives (blanks, case and spaces included);
    end_helpers stops the helpers (hashing is then done in the process)."""
    import os

    if "fork" not in __import__("multiprocessing").get_all_start_methods():
        pytest.skip("no fork on this platform")
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(privacy, "PARALLEL_HASHING", 10)
    values = pd.Series([f" User{i % 7}@Example.com" for i in range(40)] + [None, ""], dtype="string")
    with privacy.masking_workers():
        pool = privacy._HELPERS[0]
        assert pool is not None and privacy._WARM[0] is not None
        submitted: list[object] = []
        submit = pool.submit
        monkeypatch.setattr(pool, "submit", lambda *a, **k: submitted.append(a[0]) or submit(*a, **k))
        keys = privacy.start_hash_keys(values, "salt-1")()
        assert submitted == [privacy.hash_keys]
        privacy.end_helpers()
        assert privacy._HELPERS[0] is None and pool._shutdown_thread and privacy._WARM[0] is not None
        pd.testing.assert_series_equal(privacy.start_hash_keys(values, "salt-1")(), keys)
        assert submitted == [privacy.hash_keys]
    pd.testing.assert_series_equal(keys, privacy.hash_keys(values, "salt-1"))
    assert keys.iloc[0] == keys.iloc[7] and keys.iloc[-2:].isna().all()
    small = privacy.start_hash_keys(values.head(3), "salt-1")()   # no warm pool: in process
    pd.testing.assert_series_equal(small, privacy.hash_keys(values.head(3), "salt-1"))


#: The key gates: keys -> (gate, what the step runs on only when one of them is found).
KEY_GATES = {pii_extra._BIRTH_KEYS: "birth", pii_extra._CUSTOMER_KEYS: "customer",
             pii_extra._LOWER_CUE_KEYS: "lower_cue"}


@pytest.fixture(scope="module")
def all_chars() -> str:
    return "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000)


def test_a_key_gate_reads_every_character_as_python_does(all_chars: str) -> None:
    """Each character of a key, in RE2, matches every character Python's `re` matches ignoring
    case or whose lower case starts with it (_has_any reads the text in lower case); no other
    character's lower case holds a key's character after its first ("İ" -> "i̇")."""
    key_chars = {c for keys in KEY_GATES for key in keys for c in key}
    key_chars |= set(string.ascii_lowercase + string.digits + "_")   # company names' words
    lowered = {c: c.lower() for c in all_chars if c.lower() != c}
    assert {c: low for c, low in lowered.items() if set(low[1:]) & key_chars} == {}
    for k in sorted(key_chars):
        same = set(re.findall(f"(?i){re.escape(k)}", all_chars)) | {c for c, low in lowered.items() if low[0] == k}
        hits = pc.match_substring_regex(pa.array(sorted(same)), f"(?i:{pii_extra._key_char(k)})").to_pylist()
        assert all(hits) and k in same, k


@pytest.mark.parametrize("keys", list(KEY_GATES))
def test_a_key_gate_passes_every_text_holding_a_key(keys: tuple[str, ...]) -> None:
    """Every key, in any case, with Turkish i's and long s, alone or inside words and sentences,
    passes its gate; a text without the keys does not."""
    import random

    rnd = random.Random(25)
    odd = {"i": "İı", "s": "ſ", "k": "\u212a", "ß": "ẞ"}
    texts = []
    for key in keys:
        for _ in range(30):
            word = "".join(rnd.choice([c, c.upper()[:1], *odd.get(c, "")]) for c in key)
            texts.append(rnd.choice(["", "Xy ", "1 ", "ab"]) + word + rnd.choice(["", "s 12", " 4", "é"]))
    either = re.compile("(?i)" + "|".join(map(re.escape, keys)))
    holding = [t for t in texts if pii_extra._has_any(t, keys) or either.search(t)]
    assert len(holding) > 0.9 * len(texts)    # what the step looks for, as Python finds it
    hits = pc.match_substring_regex(pa.array(holding), P.GATES[KEY_GATES[keys]]).to_pylist()
    assert [t for t, hit in zip(holding, hits, strict=True) if not hit] == []
    assert not pc.match_substring_regex(pa.array(["Great support, 5 stars"]), P.GATES[KEY_GATES[keys]])[0].as_py()


def test_the_cue_precheck_never_skips_a_cue(corpus: list[str]) -> None:
    """_may_end_in_cue is true wherever the cue pattern matches before a capitalised word: every
    cue with any separators, in the corpus and in built texts."""
    assert all(cue[-1].isalpha() for cue in P._CUES)
    texts = [f"{pre}{cue.upper() if k % 2 else cue}{sep}Anna" for k, cue in enumerate(P._CUES)
             for pre in ("", "x ", "(", "Ok, ") for sep in (" ", ", ", ":\n", " :\t", "\u00a0", ",", "\n")]
    checked = 0
    for text in texts + corpus:
        for w in P._WORD.finditer(text):
            if P._CUE.search(text[max(0, w.start() - 30):w.start()]):
                checked += 1
                assert P._may_end_in_cue(text, w.start()), text
    assert checked > len(texts) // 2


def test_company_gate_passes_every_text_naming_a_company(corpus: list[str]) -> None:
    """Gated by :meth:`CompanyNames.gate`, masking finds the same company names: written in any
    case, with a long s or a Kelvin sign, cut from an e-mail or web address by earlier steps."""
    ctx = MaskContext.build(companies=["Customer 12 Ltd", "Acme Widgets Ltd", "Kiss GmbH", "Northwind Traders"])
    names = ["Customer 12", "acme widgets", "KISS", "Kiſs GmbH", "\u212aiss", "NORTHWIND TRADERS ltd"]
    texts = [f"{pre}{name}{post}" for name in names
             for pre in ("", "Thanks to ", "mail x(at)y.comé_", "see www.x.com/", "@", "a.b@c.dé_")
             for post in ("", " was great", ".", "2 helped")] + corpus
    may = P.may_match(texts, ctx)
    assert [P.mask_text(t, ctx, m) for t, m in zip(texts, may, strict=True)] == [P.mask_text(t, ctx) for t in texts]
    assert sum(not m & P.COMPANY_BIT for m in may) > len(corpus) // 2   # most texts skip the step
    assert any("[company]" in P.mask_text(t, ctx) for t in texts[:24])
    for odd in (["Email Partners Ltd"], ["Müller GmbH"]):   # a placeholder's word, not ASCII: no gate
        other = MaskContext.build(companies=odd)
        assert other.companies is not None and other.companies.gate() is None
        assert all(m & P.COMPANY_BIT for m in P.may_match(["x", "y"], other))
    assert all(m & P.COMPANY_BIT for m in P.may_match(["x", "y"]))   # no context: not known
