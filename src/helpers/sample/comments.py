"""Free-text comments of the sample programme.

Each comment praises the respondent's best item or complains about the worst (the items that
matter most are named most); a few carry the respondent's contact details, and a known share
carries labelled personal data in several countries' formats: the test set of the masking.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from helpers.sample.planted_model import (
    B2B_EFFECTS,
    B2C_EFFECTS,
    NEGATIVE,
    POSITIVE,
)


def draw_comments(rng: np.random.Generator, resp: pd.DataFrame) -> tuple[np.ndarray, dict[str, Any]]:
    """Comments consistent with the score: praise of the best item, complaint about the worst;
    a known share carries planted personal data (labelled, see :func:`plant_pii`)."""
    n = len(resp)
    is_b2b = (resp["market"] == "B2B").to_numpy()
    b2b_items, b2c_items = list(B2B_EFFECTS), list(B2C_EFFECTS)
    b2b_vals = resp[b2b_items].to_numpy(float)
    b2c_vals = resp[b2c_items].to_numpy(float)
    # Weighted by importance: people talk about what matters to them.
    w_b2b = np.array([B2B_EFFECTS[k] for k in b2b_items]) + 0.2
    w_b2c = np.array([B2C_EFFECTS[k] for k in b2c_items]) + 0.2
    jitter = rng.random((n, max(len(b2b_items), len(b2c_items))))
    best_b2b = np.nanargmax(np.nan_to_num(b2b_vals * w_b2b + jitter[:, :len(b2b_items)] * 0.3, nan=-9), axis=1)
    worst_b2b = np.nanargmax(np.nan_to_num((6 - b2b_vals) * w_b2b + jitter[:, :len(b2b_items)] * 0.3, nan=-9), axis=1)
    best_b2c = np.nanargmax(np.nan_to_num(b2c_vals * w_b2c + jitter[:, :len(b2c_items)] * 0.3, nan=-9), axis=1)
    worst_b2c = np.nanargmax(np.nan_to_num((6 - b2c_vals) * w_b2c + jitter[:, :len(b2c_items)] * 0.3, nan=-9), axis=1)
    best = np.where(is_b2b, np.array(b2b_items)[best_b2b], np.array(b2c_items)[best_b2c])
    worst = np.where(is_b2b, np.array(b2b_items)[worst_b2b], np.array(b2c_items)[worst_b2c])
    variant = rng.integers(0, 2, n)
    # Every possible comment is built once in a small table and rows pick a code (no per-row
    # string building): praise, complaint, "praise But complaint", pressured, blank.
    flat_pos, pos = _lookup_codes(POSITIVE, best, variant)
    flat_neg, neg = _lookup_codes(NEGATIVE, worst, variant)
    n_pos, n_neg = len(flat_pos), len(flat_neg)
    table = np.array([*flat_pos, *flat_neg, *[f"{a} But {b.lower()}" for a in flat_pos for b in flat_neg],
                      *[f"My rep asked me for a 10. {b}" for b in flat_neg], ""], dtype=object)
    ltr = resp["ltr"].to_numpy(float)
    pressured = resp.get("pressured", pd.Series(False, index=resp.index)).fillna(False).to_numpy(bool)
    code = np.where(ltr >= 9, pos, np.where(ltr <= 6, n_pos + neg, n_pos + n_neg + pos * n_neg + neg))
    code = np.where(pressured, n_pos + n_neg + n_pos * n_neg + neg, code)
    blank = (rng.random(n) < 0.3) & ~pressured
    text = table[np.where(blank, len(table) - 1, code)]
    # A few people write their contact details into the comment (must be masked by cleaning).
    pii = (~blank) & (rng.random(n) < 0.02)
    use_email = rng.random(n) < 0.5
    idx = np.flatnonzero(pii)
    email = resp["email"].iloc[idx].astype(str).to_numpy(object)
    phone = resp["phone"].iloc[idx].astype(str).to_numpy(object)
    contact = np.where(use_email[idx], " Contact me at " + email + ".", " Call me on " + phone + ".")
    text[idx] = text[idx] + contact
    # The masking test set: labelled personal data in a known share of the other comments, drawn
    # from a jumped copy of the generator so that every other value of the sample stays the same.
    jumped = rng.bit_generator.jumped()  # type: ignore[attr-defined]  # stubs: PCG64's (default_rng)
    text, planted = plant_pii(np.random.Generator(jumped), text, ~blank & ~pii)
    return text, planted


def _lookup_codes(table: dict[str, list[str]], keys: np.ndarray,
                  variant: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The table's phrases flattened, and each row's position in that list (item key, variant)."""
    names = list(table)
    flat = [table[k][v] for k in names for v in range(2)]
    return flat, pd.Index(names).get_indexer(keys) * 2 + variant


PII_SHARE = 0.06  # share of (non-blank, contact-free) comments that get planted personal data
PII_KINDS = ("name", "address", "postcode", "iban", "card", "id_number", "phone", "email")
# Invented or rarer names on purpose: the masker's bundled name list is not this one.
_GIVEN = ["John", "Priya", "Anna", "Mohammed", "Sofia", "Lukas", "Camille", "Daan", "Lucia",
          "Giulia", "Jakub", "Astrid", "Siobhan", "Oluwaseun", "Mei", "Hiroshi", "Fatima", "Mateo",
          "Ingrid", "Kwame", "Aoife", "Thijs", "Zofia", "Björn", "Élodie", "Nikolai", "Rahul",
          "Chiara", "Emre", "Leilani", "Tomasz", "Greta", "Xiomara", "Dmitri", "Saoirse", "Yusuf",
          "Ewa", "Matthias", "Will", "Grace"]
_SURNAMES = ["Smith", "Patel", "Müller", "Dubois", "de Vries", "García", "Rossi", "Kowalski",
             "Johansson", "O'Brien", "Okafor", "Nakamura", "Haddad", "Jensen", "van der Berg",
             "Novak", "Fernández", "Schmidt", "Bianchi", "Murphy", "Andersson", "Nguyen",
             "Adeyemi", "Lindqvist", "Quendel", "Vasterby", "Oyelaran", "Brennan", "Castellanos"]
_NAME_SENTENCES = ["Ask for {first} {last}.", "{first} from support sorted it.",
                   "Our account manager is {first} {last}.", "Please pass this on to Mr {last}.",
                   "I spoke with {first} twice.", "{first} {last} in onboarding took the call.",
                   "Copy {first} {last} on the reply.", "Please pass this on to Ms {last}."]


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, n))


def _pick(rng: np.random.Generator, options: list[Any]) -> Any:
    return options[int(rng.integers(0, len(options)))]


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _iban(rng: np.random.Generator) -> str:
    country, bban = _pick(rng, [("DE", lambda: _digits(rng, 18)),
                                ("GB", lambda: _pick(rng, ["NWBK", "BARC", "LOYD"]) + _digits(rng, 14)),
                                ("NL", lambda: _pick(rng, ["ABNA", "RABO", "INGB"]) + _digits(rng, 10)),
                                ("AT", lambda: _digits(rng, 16)),
                                ("IE", lambda: _pick(rng, ["AIBK", "BOFI"]) + _digits(rng, 14))])
    body = bban()
    numeric = "".join(str(int(c, 36)) for c in body + country + "00")
    code = f"{country}{98 - int(numeric) % 97:02d}{body}"
    return " ".join(code[i:i + 4] for i in range(0, len(code), 4)) if rng.random() < 0.6 else code


def _card(rng: np.random.Generator) -> str:
    body = _pick(rng, ["4", "51", "55", "37"])
    length = 15 if body == "37" else 16
    body += _digits(rng, length - 1 - len(body))
    number = body + _luhn_digit(body)
    sep = _pick(rng, [" ", "-", ""])
    return sep.join(number[i:i + 4] for i in range(0, len(number), 4))


def _id_number(rng: np.random.Generator) -> str:
    kind = _pick(rng, ["ssn", "nino", "bsn", "dni"])
    if kind == "ssn":
        return f"{int(rng.integers(100, 665)):03d}-{int(rng.integers(10, 99))}-{int(rng.integers(1000, 9999))}"
    if kind == "nino":
        d = _digits(rng, 6)
        pre = _pick(rng, ["AB", "CE", "JT", "PR", "SW", "WY"])
        return f"{pre} {d[:2]} {d[2:4]} {d[4:]} {_pick(rng, list('ABCD'))}"
    if kind == "bsn":
        while True:
            d = _digits(rng, 8)
            check = sum(int(c) * w for c, w in zip(d, range(9, 1, -1), strict=True)) % 11
            if check < 10 and d[0] != "0":
                return d + str(check)
    n = int(rng.integers(10_000_000, 99_999_999))
    return f"{n}{'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23]}"


def _phone(rng: np.random.Generator) -> str:
    d = _digits(rng, 10)
    return _pick(rng, [
        f"+44 7700 9{d[:5]}", f"07700 9{d[:5]}", f"020 7946 {d[:4]}", f"({d[0] or 4}15) 555-{d[1:5]}",
        f"+1 415-555-{d[:4]}", f"415.555.{d[:4]}", f"+49 30 {d[:8]}", f"030 {d[:8]}",
        f"0171 {d[:7]}", f"+33 6 {d[:2]} {d[2:4]} {d[4:6]} {d[6:8]}", f"06 {d[:2]} {d[2:4]} {d[4:6]} {d[6:8]}",
        f"+31 6 {d[:8]}", f"06-{d[:8]}", f"+34 612 {d[:3]} {d[3:6]}", f"+39 347 {d[:3]} {d[3:7]}"])


def _uk_postcode(rng: np.random.Generator) -> str:
    return (_pick(rng, ["NW1", "SW1A", "EC2M", "M1", "B33", "LS6", "BS8", "EH1"]) + " "
            + str(int(rng.integers(1, 10))) + "".join(_pick(rng, list("ABDEFGHJLNPQRSTUWXYZ")) for _ in range(2)))


def _postcode(rng: np.random.Generator) -> str:
    return _pick(rng, [_uk_postcode(rng), f"{int(rng.integers(1000, 9999))} {_pick(rng, ['AB', 'CJ', 'KL', 'XT'])}",
                       f"{_pick(rng, ['K1A', 'M5V', 'H2X'])} {int(rng.integers(1, 9))}{_pick(rng, list('ABCEGH'))}{int(rng.integers(1, 9))}",
                       f"{_pick(rng, ['NY', 'CA', 'IL', 'TX'])} {int(rng.integers(10000, 99999))}"])


def _address(rng: np.random.Generator) -> tuple[str, list[str]]:
    n = str(int(rng.integers(1, 250)))
    kind = _pick(rng, ["uk", "us", "de", "fr", "nl", "es", "it"])
    if kind == "uk":
        street, code = f"{n} {_pick(rng, ['Baker', 'Station', 'Church', 'Mill', 'Kings'])} {_pick(rng, ['Street', 'Road', 'Lane', 'Avenue'])}", _uk_postcode(rng)
        return f"{street}, {_pick(rng, ['London', 'Leeds', 'Bristol'])} {code}", [street, code]
    if kind == "us":
        street, code = f"{n} {_pick(rng, ['Elm', 'Oak', 'Maple Grove'])} {_pick(rng, ['Avenue', 'Street', 'Drive'])}", f"IL {int(rng.integers(60000, 62999))}"
        return f"{street}, Springfield, {code}", [street, code]
    if kind == "de":
        street, code = f"{_pick(rng, ['Haupt', 'Bahnhof', 'Garten', 'Schiller'])}straße {n}", str(int(rng.integers(10000, 99999)))
        return f"{street}, {code} {_pick(rng, ['Berlin', 'München', 'Köln'])}", [street, code]
    if kind == "fr":
        street, code = f"{n} rue {_pick(rng, ['de la Paix', 'Victor Hugo', 'du Moulin'])}", str(int(rng.integers(10000, 95999)))
        return f"{street}, {code} {_pick(rng, ['Paris', 'Lyon', 'Lille'])}", [street, code]
    if kind == "nl":
        street, code = f"{_pick(rng, ['Keizers', 'Prinsen', 'Heren'])}gracht {n}", f"{int(rng.integers(1000, 9999))} {_pick(rng, ['CJ', 'AB', 'KL'])}"
        return f"{street}, {code} Amsterdam", [street, code]
    if kind == "es":
        street, code = f"Calle {_pick(rng, ['Mayor', 'Serrano', 'Alcalá'])} {n}", f"28{int(rng.integers(100, 999))}"
        return f"{street}, {code} Madrid", [street, code]
    street, code = f"Via {_pick(rng, ['Roma', 'Garibaldi', 'Mazzini'])} {n}", f"{int(rng.integers(10100, 20199))}"
    return f"{street}, {code} Milano", [street, code]


def _email(rng: np.random.Generator) -> str:
    first = _pick(rng, ["anna", "j.smith", "priya_p", "lukas.m", "mei+cx", "o.okafor"])
    domain = _pick(rng, ["example.co.uk", "mail.example.de", "example.fr", "example.nl", "example.com"])
    return f"{first}@{domain}" if rng.random() < 0.85 else f"{first} (at) {domain.replace('.', ' (dot) ')}"


def _pii_sentence(rng: np.random.Generator, kind: str) -> tuple[str, list[str]]:
    """One sentence carrying one kind of personal data, and the parts that must not survive."""
    if kind == "name":
        first, last = _pick(rng, _GIVEN), _pick(rng, _SURNAMES)
        template = _pick(rng, _NAME_SENTENCES)
        parts = [p for p in (first if "{first}" in template else "", last if "{last}" in template else "") if p]
        return template.format(first=first, last=last), parts
    if kind == "address":
        value, parts = _address(rng)
        return _pick(rng, [f"Send the paperwork to {value}.", f"My address is {value}."]), parts
    if kind == "postcode":
        value = _postcode(rng)
        return _pick(rng, [f"We are based in {value}.", f"Deliver to postcode {value}."]), [value]
    value = {"iban": _iban, "card": _card, "id_number": _id_number, "phone": _phone,
             "email": _email}[kind](rng)
    sentence = {"iban": "Refund to IBAN {v} please.", "card": "Charged twice on card {v}.",
                "id_number": "Reference number {v}.", "phone": "Call me on {v}.",
                "email": "Write to {v} instead."}[kind]
    return sentence.format(v=value), [value]


def plant_pii(rng: np.random.Generator, text: np.ndarray, free: np.ndarray
              ) -> tuple[np.ndarray, dict[str, Any]]:
    """Append one labelled piece of personal data to :data:`PII_SHARE` of the `free` comments.

    Kinds rotate through :data:`PII_KINDS` in several countries' formats. The returned truth lists
    each planted sentence with the parts that must not survive masking (name words, street and
    number, postcode, the number itself), so recall is measured, not assumed.
    """
    rows = np.flatnonzero(free)
    chosen = np.sort(rng.choice(rows, int(round(PII_SHARE * len(rows))), replace=False)) \
        if len(rows) else rows
    planted = []
    for j, row in enumerate(chosen):
        kind = PII_KINDS[j % len(PII_KINDS)]
        sentence, parts = _pii_sentence(rng, kind)
        text[row] = f"{text[row]} {sentence}"
        planted.append({"kind": kind, "sentence": sentence, "parts": parts})
    return text, {"share": PII_SHARE, "eligible_comments": int(len(rows)),
                  "planted_comments": int(len(chosen)), "planted": planted}
