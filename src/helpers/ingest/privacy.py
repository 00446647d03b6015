"""Personal data: salted hash keys for identifiers and masking of contact details in free text.

Nothing personal reaches data/processed or a report: identifiers (emails, IPs) become salted
BLAKE2 keys (salt from $CX_SALT or the git-ignored .cx_salt), and emails, phone numbers and URLs
inside comments are masked before anything is written or quoted.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers import paths

SALT_ENV = "CX_SALT"
SALT_FILE = ".cx_salt"


# --------------------------------------------------------------------------------------------
# Personal data
# --------------------------------------------------------------------------------------------
def load_salt() -> str:
    """The salt for hash keys: $CX_SALT, else the git-ignored file .cx_salt (created on first use)."""
    env = os.environ.get(SALT_ENV)
    if env:
        return env
    p = paths.PROJECT_ROOT / SALT_FILE
    if not p.exists():
        p.write_text(secrets.token_hex(32), encoding="utf-8")
        p.chmod(0o600)
    return p.read_text(encoding="utf-8").strip()


def hash_keys(values: pd.Series, salt: str) -> pd.Series:
    """Salted BLAKE2 keys (16 hex chars) of normalised values; blanks stay missing.

    Each distinct value is hashed once (from a copy of the keyed hash state, which skips the key
    block) and the keys are spread back to the rows with an Arrow take.
    """
    norm = values.astype("string").str.strip().str.lower()
    norm = norm.where(norm != "")
    codes, uniq = pd.factorize(norm)
    keyed = hashlib.blake2b(key=salt.encode()[:64], digest_size=8)

    def key_of(u: str) -> str:
        h = keyed.copy()
        h.update(u.encode())
        return h.hexdigest()

    keys = pa.array([*map(key_of, uniq.tolist()), None], pa.string())
    taken = keys.take(pa.array(np.where(codes < 0, len(uniq), codes)))
    return pd.Series(taken, index=values.index, dtype="string")


def mask_comments(comments: pd.Series) -> pd.Series:
    """Mask emails and phone numbers in free text (only rows that could hold one are scanned)."""
    s = comments.astype("string")
    suspect = s.str.contains("@", regex=False, na=False) | s.str.count(r"\d").fillna(0).ge(8)
    out = s.copy()
    if suspect.any():
        out[suspect] = mask_pii(s[suspect]).astype("string")
    return out


# --- personal data ------------------------------------------------------------------------------
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w])(?:\+?\d[\d\s().-]{6,}\d)(?![\w])")
_URL = re.compile(r"https?://\S+")


def mask_pii(comments: Iterable[object] | pd.Series) -> pd.Series:
    """Replace emails, phone numbers and URLs with ``[email]``, ``[phone]``, ``[url]``.

    A phone is 8+ characters of digits, spaces, dots, dashes or brackets with at least 8 digits
    (so "9/10" and years survive). Missing comments stay missing.
    """
    s = comments if isinstance(comments, pd.Series) else pd.Series(list(comments), dtype=object)

    def _phone(m: re.Match[str]) -> str:
        return "[phone]" if sum(ch.isdigit() for ch in m.group()) >= 8 else m.group()

    def _one(c: object) -> object:
        if c is None or c is pd.NA or (isinstance(c, float) and np.isnan(c)):
            return c
        t = _URL.sub("[url]", str(c))
        t = _EMAIL.sub("[email]", t)
        return _PHONE.sub(_phone, t)

    return pd.Series([_one(c) for c in s.astype(object)], index=s.index, name=s.name, dtype=object)
