"""Profile an export's column for `cx schema infer`: fill, numbers, the rating scale and answer
labels it fits, dates, text length, distinct values (helpers.ingest.infer places the columns)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.ingest.readers import Survey

__all__ = ["LABEL_SETS", "NOT_APPLICABLE", "Profile", "profile"]

_NUMBER = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*(?:$|[-–:=)]|\s)")


# An answer label that starts with its number: "10 - Extremely likely", "5) Very good" (not a date).
_LABELLED_NUMBER = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*[-–:=)]\s*\D")


_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2} \w{3,9} \d{4}")


_NA_CODES = {-99.0, -98.0, -97.0, 98.0, 99.0}


_SCALES = [(1, 3), (1, 4), (1, 5), (0, 5), (1, 7), (0, 7), (0, 10)]  # 10-point: read as 0-10
#: A 10-point rating is read as 1-10 only when its answers label 1 as the lowest point.
_SCALE_FROM_ONE = re.compile(r"(?:^|\s)1\s*[-–:=)]\s*\D")


_ENGLISH_LABELS: dict[str, dict[str, int]] = {
    "agree7": {"Strongly disagree": 1, "Disagree": 2, "Somewhat disagree": 3,
               "Neither agree nor disagree": 4, "Somewhat agree": 5, "Agree": 6,
               "Strongly agree": 7},
    "agree5": {"Strongly disagree": 1, "Disagree": 2, "Neither agree nor disagree": 3,
               "Neutral": 3, "Agree": 4, "Strongly agree": 5},
    "satisfied5": {"Very dissatisfied": 1, "Extremely dissatisfied": 1, "Dissatisfied": 2,
                   "Somewhat dissatisfied": 2, "Neutral": 3, "Neither satisfied nor dissatisfied": 3,
                   "Satisfied": 4, "Somewhat satisfied": 4, "Very satisfied": 5,
                   "Extremely satisfied": 5},
    "satisfied7": {"Extremely dissatisfied": 1, "Very dissatisfied": 1, "Moderately dissatisfied": 2,
                   "Dissatisfied": 2, "Slightly dissatisfied": 3, "Somewhat dissatisfied": 3,
                   "Neither satisfied nor dissatisfied": 4, "Neutral": 4, "Slightly satisfied": 5,
                   "Somewhat satisfied": 5, "Moderately satisfied": 6, "Satisfied": 6,
                   "Extremely satisfied": 7, "Very satisfied": 7},
    "rating5": {"Very poor": 1, "Poor": 2, "Fair": 3, "Good": 4, "Very good": 5,
                "Excellent": 5},
}
#: The 5-point sets' wordings in German, French, Spanish, Italian, Dutch and Portuguese.
_TRANSLATED_LABELS: dict[str, dict[str, int]] = {
    "agree5": {
        "Stimme überhaupt nicht zu": 1, "Stimme gar nicht zu": 1, "Stimme nicht zu": 2,
        "Stimme eher nicht zu": 2, "Weder noch": 3, "Teils/teils": 3, "Teils, teils": 3,
        "Stimme eher zu": 4, "Stimme zu": 4, "Stimme voll zu": 5, "Stimme voll und ganz zu": 5,
        "Pas du tout d'accord": 1, "Tout à fait en désaccord": 1, "Pas d'accord": 2,
        "Plutôt pas d'accord": 2, "Ni d'accord ni pas d'accord": 3, "Plutôt d'accord": 4,
        "D'accord": 4, "Tout à fait d'accord": 5,
        "Totalmente en desacuerdo": 1, "Muy en desacuerdo": 1, "En desacuerdo": 2,
        "Ni de acuerdo ni en desacuerdo": 3, "De acuerdo": 4, "Totalmente de acuerdo": 5,
        "Muy de acuerdo": 5,
        "Per niente d'accordo": 1, "Fortemente in disaccordo": 1, "In disaccordo": 2,
        "Poco d'accordo": 2, "Né d'accordo né in disaccordo": 3, "Abbastanza d'accordo": 4,
        "D'accordo": 4, "Molto d'accordo": 5, "Completamente d'accordo": 5,
        "Helemaal mee oneens": 1, "Zeer mee oneens": 1, "Mee oneens": 2, "Oneens": 2,
        "Neutraal": 3, "Niet mee eens, niet mee oneens": 3, "Mee eens": 4, "Eens": 4,
        "Helemaal mee eens": 5, "Zeer mee eens": 5,
        "Discordo totalmente": 1, "Discordo": 2, "Não concordo nem discordo": 3,
        "Nem concordo nem discordo": 3, "Concordo": 4, "Concordo totalmente": 5},
    "satisfied5": {
        "Sehr unzufrieden": 1, "Unzufrieden": 2, "Eher unzufrieden": 2,
        "Weder zufrieden noch unzufrieden": 3, "Eher zufrieden": 4, "Zufrieden": 4, "Sehr zufrieden": 5,
        "Très insatisfait": 1, "Pas du tout satisfait": 1, "Insatisfait": 2, "Plutôt insatisfait": 2,
        "Peu satisfait": 2, "Ni satisfait ni insatisfait": 3, "Plutôt satisfait": 4, "Satisfait": 4,
        "Très satisfait": 5,
        "Muy insatisfecho": 1, "Insatisfecho": 2, "Ni satisfecho ni insatisfecho": 3,
        "Satisfecho": 4, "Muy satisfecho": 5,
        "Molto insoddisfatto": 1, "Per niente soddisfatto": 1, "Insoddisfatto": 2,
        "Poco soddisfatto": 2, "Né soddisfatto né insoddisfatto": 3, "Abbastanza soddisfatto": 4,
        "Soddisfatto": 4, "Molto soddisfatto": 5,
        "Zeer ontevreden": 1, "Ontevreden": 2, "Neutraal": 3, "Niet tevreden, niet ontevreden": 3,
        "Tevreden": 4, "Zeer tevreden": 5,
        "Muito insatisfeito": 1, "Insatisfeito": 2, "Nem satisfeito nem insatisfeito": 3,
        "Satisfeito": 4, "Muito satisfeito": 5},
    "rating5": {
        "Sehr schlecht": 1, "Schlecht": 2, "Mittelmäßig": 3, "Gut": 4, "Sehr gut": 5,
        "Ausgezeichnet": 5,
        "Très mauvais": 1, "Mauvais": 2, "Moyen": 3, "Passable": 3, "Bon": 4, "Très bon": 5,
        "Muy malo": 1, "Malo": 2, "Regular": 3, "Bueno": 4, "Muy bueno": 5, "Excelente": 5,
        "Pessimo": 1, "Scarso": 2, "Sufficiente": 3, "Buono": 4, "Ottimo": 5, "Eccellente": 5,
        "Zeer slecht": 1, "Slecht": 2, "Matig": 3, "Redelijk": 3, "Goed": 4, "Zeer goed": 5,
        "Uitstekend": 5,
        "Péssimo": 1, "Ruim": 2, "Razoável": 3, "Bom": 4, "Muito bom": 5},
}
#: Answer labels -> their point on the scale, by set (English, then the other languages).
LABEL_SETS: dict[str, dict[str, int]] = {name: {**labels, **_TRANSLATED_LABELS.get(name, {})}
                                         for name, labels in _ENGLISH_LABELS.items()}


NOT_APPLICABLE = ["N/A", "NA", "n/a", "Not applicable", "Don't know", "Dont know",
                  "Prefer not to say", "-99", "-98", "-97"]


@dataclass(frozen=True)
class Profile:
    """What a column holds, measured once."""

    column: str
    question: str
    import_id: str | None
    filled: float            # share of rows with a value
    distinct: int
    numeric: float           # share of values that read as numbers (or known answer labels)
    integer: bool
    low: float | None
    high: float | None
    scale: tuple[int, int] | None
    labels: str | None
    dates: float             # share of values that read as dates
    text_length: float       # mean length of the values
    unique: float            # distinct / filled rows
    row_number: bool         # 1..n in order: a file's row counter, not data


def _label_fit(words: set[str], labels: Mapping[str, int]) -> tuple[int, bool, int]:
    """How well answer `words` fit a label set: labels matched, then whether the matched labels
    keep distinct values (5-point 'Satisfied' and 'Somewhat satisfied' together mean a 7-point
    scale), then the shorter scale."""
    lower = {w.lower(): v for w, v in labels.items()}
    hit = [lower[w] for w in words if w in lower]
    return len(hit), len(set(hit)) == len(hit), -(max(labels.values()) - min(labels.values()))


def _scale(values: pd.Series) -> tuple[tuple[int, int] | None, str | None]:
    """A rating scale (low, high) and label set guessed from an answer column: the smallest usual
    scale (1-5, 1-7, 0-10, ...) holding the central 98% of the numeric answers, so a few
    out-of-range entries do not widen it; not-applicable codes are left out."""
    counts = values.dropna().astype(str).str.strip().value_counts().head(500)
    counts = counts[counts.index != ""]
    if counts.empty:
        return None, None
    lead = pd.Series(counts.index).str.extract(_NUMBER.pattern, expand=False)
    nums = pd.to_numeric(lead.str.replace(",", ".", regex=False), errors="coerce")
    weights = pd.Series(counts.to_numpy(), dtype=float)
    words = {str(w).lower() for w in counts.index[nums.isna().to_numpy()]}
    words -= {v.lower() for v in NOT_APPLICABLE}
    labels_hit: str | None = None
    if words:
        best = max(LABEL_SETS, key=lambda k: _label_fit(words, LABEL_SETS[k]))
        if len(words & {w.lower() for w in LABEL_SETS[best]}) >= 0.5 * len(words):
            labels_hit = best
        elif weights[nums.isna().to_numpy()].sum() > 0.2 * weights.sum():
            return None, None  # mostly free text or categories, not a rating
    keep = nums.notna() & ~nums.isin(_NA_CODES)
    nums, weights = nums[keep].to_numpy(), weights[keep].to_numpy()
    if labels_hit is not None:
        lo, hi = min(LABEL_SETS[labels_hit].values()), max(LABEL_SETS[labels_hit].values())
    elif len(nums):
        order = nums.argsort()
        cum = weights[order].cumsum() / weights.sum()
        lo, hi = nums[order][cum.searchsorted(0.01)], nums[order][min(cum.searchsorted(0.99),
                                                                      len(nums) - 1)]
        if not (float(lo).is_integer() and float(hi).is_integer()) or hi - lo < 2:
            return None, None
    else:
        return None, None
    if 1 <= lo and 7 < hi <= 10 and labels_hit is None and _SCALE_FROM_ONE.search(
            " ".join(map(str, counts.index))):
        return (1, 10), None  # "1 - Not at all likely": a 1-10 rating, not the 0-10 question
    for a, b in _SCALES:
        if a <= lo and hi <= b:
            return (a, b), labels_hit
    return None, labels_hit


def profile(survey: Survey, col: str) -> Profile:
    """Measure one column (a sample of 5,000 rows is enough to tell what it is)."""
    s = survey.data[col]
    n = len(s)
    head = s.iloc[:5000]
    text = head.dropna().astype(str).str.strip()
    text = text[(text != "") & ~text.str.lower().isin({v.lower() for v in NOT_APPLICABLE})]
    nums = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    labelled = text.str.extract(_LABELLED_NUMBER, expand=False).str.replace(",", ".", regex=False)
    nums = nums.fillna(pd.to_numeric(labelled, errors="coerce"))  # cleaning reads them the same way
    scale, labels = _scale(head)
    filled = float(len(text) / max(len(head), 1))
    dates = 0.0
    sample = text.head(200)
    if len(text) and nums.notna().mean() < 0.5 and sample.str.contains(_DATE_LIKE).mean() >= 0.9:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(sample, errors="coerce", format="mixed", dayfirst=True)
        dates = float(parsed.notna().mean())
    valid = nums.dropna()
    row_number = bool(len(valid) == len(head) and len(head) > 2 and
                      (valid.to_numpy() == np.arange(valid.iloc[0], valid.iloc[0] + len(valid))).all())
    return Profile(
        column=col, question=str(survey.questions.get(col) or ""),
        import_id=survey.import_ids.get(col), filled=filled, distinct=int(text.nunique()),
        numeric=float(nums.notna().mean()) if len(text) else 0.0,
        integer=bool(len(valid) and (valid == valid.round()).all()),
        low=float(valid.min()) if len(valid) else None, high=float(valid.max()) if len(valid) else None,
        scale=scale, labels=labels, dates=dates,
        text_length=float(text.str.len().mean()) if len(text) else 0.0,
        unique=float(text.nunique() / max(len(text), 1)), row_number=row_number or col in ("", "Unnamed: 0"),
    ) if n else Profile(col, "", None, 0.0, 0, 0.0, False, None, None, None, None, 0.0, 0.0, 0.0, False)
