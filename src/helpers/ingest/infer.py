"""Draft a survey schema from an export (`cx schema infer`): what each column is, and why.

Each column is profiled (names, question text, ImportIds, fill, numbers, scale, dates, text
length, distinct values), then placed in this order: personal data (by name, then by the values:
emails, IPs, phones); platform fields (response id, Qualtrics' recorded date before its end
date, duration, status, Finished as a yes/no field); ids (account or customer in the usual
languages, rep, contact); role, market and wave; competitor LTR grids; the likelihood to recommend
(a column whose name, question text or answer labels say recommend, NPS or LTR, on 0-10: a rating
on another scale never is; competing candidates are reported, not silently chosen); CES and CSAT
(by name, on the scale found in the data), and the programme kind: NPS with the recommend question,
else satisfaction or effort with ``headline:`` naming its measure; the response date (any common format) with waves derived from it; rating grids (columns on a
common scale that share a prefix, e.g. ``Product.*``, ``Q5_1..Q5_6``, ``Q4 - item``) as driver
groups; long free text as the comment; low-cardinality text as segment fields. What is left is
listed with the reason. The draft loads with :func:`helpers.ingest.schema.load` and, on typical
exports, cleans without edits; the analyst reads the decisions and adjusts.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from helpers.ingest import column_rules as rules
from helpers.ingest.draft_yaml import answers_and_quality, entry, fmt, quoted_name, study_lines
from helpers.ingest.fields import BOOLEAN_WORDS
from helpers.ingest.pii_text import is_person_name
from helpers.ingest.profiling import Profile, profile
from helpers.ingest.readers import Survey

__all__ = ["Draft", "infer_schema"]

_EMAIL = re.compile(r"^[\w.+'-]+@[\w-]+(\.[\w-]+)+$")
_PHONE = re.compile(r"^(?!\d{4}-\d{2}-\d{2})(?!\d{1,2}/\d{1,2}/\d{2,4})\+?\(?\d[\d\s().-]{6,18}\d$")
_IPV4 = re.compile(r"^(\d{1,3}\.){3}\d{1,3}$")
# contact details anywhere in a value: an e-mail, a phone number, a URL with a personal parameter
_CONTACT_IN = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+|%40|\+\d[\d ().-]{7,}\d|[?&](?:e-?mail|mail|name|"
                         r"first_?name|last_?name|phone|tel|mobile|user(?:name)?|contact)=", re.I)
_NOT_SEGMENT = re.compile(r"(?i)^(?:mozilla/|opera/)|applewebkit|gecko/|^(?=\S*\d)(?=\S*[a-z])[\w-]{10,}$")


@dataclass
class Draft:
    """A drafted schema: the YAML text, each decision with its reason, what stayed unplaced."""

    text: str
    decisions: list[tuple[str, str, str]]      # (column, placed as, why)
    unplaced: list[tuple[str, str]]            # (column, why not)
    notes: list[str] = field(default_factory=list)

    def report(self) -> str:
        """What was decided and why, one line per column, then what was left and the notes."""
        lines = [f"  {c!r} -> {where}: {why}" for c, where, why in self.decisions]
        lines += [f"  {c!r} not placed: {why}" for c, why in self.unplaced]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _norm(text: str) -> str:
    """'Société' -> 'societe', 'Customer No.' -> 'customerno'."""
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", str(text).lower())
                    if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]", "", plain)


def _slug(text: str, words: int = 3) -> str:
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", str(text))
                    if not unicodedata.combining(ch))  # Tranche d'âge -> Tranche d'age
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", plain)  # AgeBand -> Age Band
    parts = re.findall(r"[a-z0-9]+", spaced.lower())
    stop = {"the", "a", "an", "our", "of", "to", "and", "was", "were", "us", "we", "your", "how"}
    kept = [w for w in parts if w not in stop] or parts or ["item"]
    slug = "_".join(kept[:words])
    return slug if slug[0].isalpha() else f"q_{slug}"


class _Placer:
    """Places columns one by one and remembers each decision."""

    def __init__(self, survey: Survey) -> None:
        self.survey = survey
        self.columns = [str(c) for c in survey.data.columns]
        self.profiles = {c: profile(survey, c) for c in self.columns}
        self.placed: dict[str, str] = {}
        self.decisions: list[tuple[str, str, str]] = []
        self.notes: list[str] = []
        self.sections: dict[str, dict[str, dict[str, Any]]] = {
            k: {} for k in ("fields", "drivers", "competitors", "personal")}

    def free(self) -> list[str]:
        return [c for c in self.columns if c not in self.placed]

    def put(self, col: str, section: str, name: str, spec: Mapping[str, Any], why: str) -> None:
        qid = self.survey.import_ids.get(col)
        entry = {"column": col, **({"import_id": qid} if qid and qid != col else {}), **spec}
        self.sections[section][name] = entry
        self.placed[col] = f"{section}.{name}"
        self.decisions.append((col, f"{section}.{name}", why))

    def find(self, rule: rules.Rule, skip: frozenset[str] = frozenset()) -> tuple[str, str] | None:
        """The first free column (not in `skip`) matching `rule` by name, ImportId or question
        text, and how."""
        q = self.survey.questions
        free = [c for c in self.free() if c not in skip]
        by_name = [(rule.ids.index(_norm(c)), c, f"named {c!r}") for c in free if _norm(c) in rule.ids]
        by_name += [(rule.ids.index(_norm(q[c])), c, f"question text {str(q[c])[:50]!r}")
                    for c in free if q.get(c) and q[c] != c and _norm(q[c]) in rule.ids
                    and _norm(c) not in rule.ids]
        if by_name:  # the rule's first name wins where it prefers some (RecordedDate, EndDate)
            pick = min(by_name, key=lambda t: (t[0] if dict(rule.extra).get("preferred") else 0,
                                               free.index(t[1])))
            return pick[1], pick[2]
        ids = [(rule.import_ids.index(i), c) for c in free
               if (i := self.survey.import_ids.get(c)) in rule.import_ids]
        if ids:
            c = min(ids, key=lambda t: (t[0] if dict(rule.extra).get("preferred") else 0,
                                        free.index(t[1])))[1]
            return c, f"Qualtrics ImportId {self.survey.import_ids[c]}"
        if rule.pattern:
            rx = re.compile(rule.pattern)
            for c in free:
                if rx.search(q.get(c) or ""):
                    return c, f"question text {str(q.get(c))[:50]!r}"
        return None


def infer_schema(survey: Survey, template: Mapping[str, Any] | None = None) -> Draft:
    """Draft a config/survey.yaml-style schema for `survey` (see the module docstring).

    `template`: an existing schema document whose ``answers`` and ``quality`` sections are copied
    into the draft (built-in defaults when None).
    """
    named = survey.category_labels()
    if named:  # SPSS categories: drafted by their labels, as cleaning reads them
        data = survey.data.copy()
        for col, labels in named.items():
            data[col] = data[col].map(labels).astype("string")
        survey = dataclasses.replace(survey, data=data)
    pl = _Placer(survey)
    _place_personal(pl)
    _place_rules(pl, rules.PLATFORM, "fields")
    _place_ids(pl)
    _place_personal_values(pl)
    _place_competitors(pl)
    _place_ltr(pl)
    _place_measures(pl)
    headline = _programme(pl)
    _place_date(pl)
    groups = _place_grids(pl)
    _place_comment(pl)
    segments = _place_segments(pl)
    unplaced = [(c, _why_not(pl.profiles[c])) for c in pl.free()]
    text = _yaml(survey, pl, groups, segments, template or {}, unplaced, headline)
    return Draft(text, pl.decisions, unplaced, pl.notes)


def _place_personal(pl: _Placer) -> None:
    for rule in rules.PERSONAL:
        hit = pl.find(rule)
        if hit:
            pl.put(hit[0], "personal", rule.name, dict(rule.extra), f"{hit[1]}: personal data, "
                   + ("replaced by a salted hash key" if dict(rule.extra)["action"] == "hash" else "dropped"))


def _place_personal_values(pl: _Placer) -> None:
    """Personal data recognised by the values themselves (after ids were placed by name)."""
    data = pl.survey.data
    for col in pl.free():
        for rx, kind, action in ((_EMAIL, "email", "hash"), (_IPV4, "ip", "hash"), (_PHONE, "phone", "drop")):
            s = data[col].dropna().astype(str).str.strip().head(200)
            if len(s) and not pd.api.types.is_numeric_dtype(data[col].dtype) and s.str.match(rx.pattern).mean() >= 0.5:
                name = "contact_key" if kind == "email" and "contact_key" not in pl.sections["personal"] \
                    else f"{kind}_{_slug(col, 2)}"
                pl.put(col, "personal", name, {"action": action},
                       f"the values look like {kind} {'addresses' if kind != 'phone' else 'numbers'}")
                break
        else:
            values = data[col].dropna().astype(str).str.strip().drop_duplicates().head(200)
            if len(values) >= 3 and values.map(is_person_name).mean() >= 0.6:
                pl.put(col, "personal", f"name_{_slug(col, 2)}", {"action": "drop"},
                       "the values look like people's names: personal data, dropped")
            elif len(values) and not pd.api.types.is_numeric_dtype(data[col].dtype) \
                    and values.str.contains(_CONTACT_IN).mean() >= 0.3:
                pl.put(col, "personal", f"contact_{_slug(col, 2)}", {"action": "drop"},
                       "the values hold e-mails, phone numbers or URLs with personal "
                       "parameters: personal data, dropped")


def _place_rules(pl: _Placer, table: list[rules.Rule], section: str) -> None:
    for rule in table:
        hit = pl.find(rule)
        if hit:
            col, how = hit
            p = pl.profiles[col]
            kind = dict(rule.extra).get("type")
            if kind == "datetime" and p.dates < 0.8 and p.filled > 0:
                continue  # named like a date but does not hold dates
            if kind == "boolean" and not _is_boolean(pl.survey.data[col]):
                continue
            spec = {k: v for k, v in rule.extra if k != "preferred"}
            if kind == "boolean":
                pl.put(col, section, rule.name, spec, f"{how}, yes/no values")
                continue
            pl.put(col, section, rule.name, spec, how)


def _is_boolean(values: pd.Series) -> bool:
    """Every answer a yes/no word (True/False, yes/no, ja/nein, oui/non, 1/0), none other."""
    text = values.dropna().astype(str).str.strip().str.lower().head(5000)
    text = text[text != ""]
    return bool(len(text)) and bool(text.isin(list(BOOLEAN_WORDS)).all())


def _place_ids(pl: _Placer) -> None:
    """An unnamed row counter is ignored; a column named like an id is the response id when every
    value is unique, else a respondent id (hashed: it links a person's answers)."""
    for col in pl.free():
        p = pl.profiles[col]
        if p.row_number:
            pl.placed[col] = "ignored"
            pl.decisions.append((col, "ignored", "a row counter (1, 2, 3, ...), not data"))
            continue
        if re.fullmatch(r"(?i)(id|user_?id|respondent|customer_?id|client_?id|member_?id|uid)", col):
            if p.unique >= 0.999 and "response_id" not in pl.sections["fields"]:
                pl.put(col, "fields", "response_id", {}, f"named {col!r}, every value unique")
            elif "contact_key" not in pl.sections["personal"]:
                pl.put(col, "personal", "contact_key", {"action": "hash"},
                       f"named {col!r}, values repeat: a respondent id, replaced by a salted hash key "
                       "(duplicates per respondent and wave are found with it)")


def _says_recommend(pl: _Placer, col: str) -> str:
    """Why `col` is a recommend question by its words ("" when it is not): its name, its
    question text or its answer labels say recommend / NPS / LTR (en, de, fr, es, it, nl, pt)."""
    p = pl.profiles[col]
    if rules.LTR_NAME.match(p.column):
        return f"named {col!r}"
    # a one-row header's question is the column name: its words count when it holds numbers
    if re.search(rules.LTR_TEXT, p.question or "") and (p.question != col or p.numeric >= 0.9):
        return f"question text {p.question[:50]!r}"
    words = pl.survey.data[col].dropna().astype(str).drop_duplicates().head(50)
    labels = words[~words.str.fullmatch(r"\s*-?\d+(?:[.,]\d+)?\s*")]
    if len(labels) and labels.str.contains(rules.LTR_TEXT).any():
        return f"answer labels such as {labels[labels.str.contains(rules.LTR_TEXT)].iloc[0][:40]!r}"
    return ""


_ONE_TO_TEN = re.compile(r"(?i)\b1\s*(?:-|–|to|bis|à|a|al|tot|até)\s*10\b")
_NAMED_NPS = re.compile(r"(?i)\b(nps|ltr)\b|(?:^|_)(nps|ltr)(?:_|$)")


def _off_ltr_scale(pl: _Placer, col: str) -> str:
    """Why `col` is not on the 0-10 scale of a likelihood-to-recommend answer ("" when it is):
    another scale, not whole numbers, a question text saying 1-10, or answers 1-10 without a
    single 0 (unless the column is named NPS or LTR, the 0-10 question by definition)."""
    p = pl.profiles[col]
    if p.scale is None or p.numeric < 0.9 or not p.integer:
        return "not whole numbers on a rating scale"
    if p.scale != (0, 10) or (p.high or 0) < 7:
        return f"on {p.scale[0]}-{p.scale[1]}" if p.scale != (0, 10) else f"answers up to {p.high:g}"
    if _ONE_TO_TEN.search(p.question or ""):
        return "on 1-10 (its question text says so)"
    answers = round(p.filled * len(pl.survey.data))
    if p.low == 1 and answers >= 30 and not _NAMED_NPS.search(col):
        return f"on 1-10 (no 0 among {answers:,} answers)"
    return ""


def _place_ltr(pl: _Placer) -> None:
    """The LTR: a column whose words say recommend, on 0-10. A rating on another scale is never
    the LTR, whatever its name; without one the programme runs on another measure."""
    named = [(c, why, _off_ltr_scale(pl, c)) for c in pl.free() if (why := _says_recommend(pl, c))]
    for c, _, off in named:
        if off:
            pl.notes.append(f"{c!r} reads like a recommend question but is {off}, not 0-10: "
                            "not drafted as the LTR (NPS needs the 0-10 question)")
    pool = sorted(((pl.profiles[c].filled, c, why) for c, why, off in named if not off),
                  key=lambda t: -t[0])
    if not pool:
        return
    filled, col, why = pool[0]
    if len(pool) > 1:
        others = ", ".join(repr(c) for _, c, _ in pool[1:4])
        pl.notes.append(f"LTR: {col!r} chosen over {others} (also recommend questions on 0-10); "
                        "change fields.ltr.column if another is the one to report")
    pl.put(col, "fields", "ltr", {"scale": [0, 10]},
           f"{why}: a recommend question on 0-10, {filled:.0%} filled")


def _programme(pl: _Placer) -> str | None:
    """The headline measure of the draft and the note saying which programme kind it is and why:
    NPS with a 0-10 recommend question, else satisfaction (CSAT) or effort (CES); None when the
    export has no measure at all (a placeholder LTR entry is drafted to be filled in)."""
    f = pl.sections["fields"]
    if "ltr" in f:
        pl.notes.append(f"programme: NPS, because {f['ltr']['column']!r} is a recommend question "
                        "on 0-10")
        return None
    kinds = {"csat": "satisfaction (CSAT)", "ces": "effort (CES)"}
    headline = next((k for k in kinds if k in f), None)
    if headline is None:
        pl.notes.append("no likelihood-to-recommend column (a 0-10 question whose name, text or "
                        "labels say recommend, NPS or LTR) and no satisfaction or effort "
                        "question: set fields.ltr.column (cx check stops at its placeholder "
                        "until then), or map a rating and name it as headline")
        f["ltr"] = {"pattern": rules.LTR_TEXT, "scale": [0, 10]}
        return None
    spec = f[headline]
    pl.notes.append(f"programme: {kinds[headline]}, because the export has no 0-10 recommend "
                    f"question; the headline is {headline.upper()} ({spec['column']!r}, "
                    f"{spec['scale'][0]}-{spec['scale'][1]}) and the sections that need the "
                    "likelihood to recommend say so on their cards")
    return headline


def _place_competitors(pl: _Placer) -> None:
    """Competitor LTR grids: "How likely ... recommend ...? - <vendor>" columns on 0-10."""
    q = pl.survey.questions
    grid = [c for c in pl.free() if re.search(rules.LTR_TEXT, q.get(c) or "") and " - " in (q.get(c) or "")
            and pl.profiles[c].scale == (0, 10)]
    if len(grid) >= 2:
        for c in grid:
            vendor = q[c].rsplit(" - ", 1)[1].strip()
            pl.put(c, "competitors", vendor, {}, "a recommend question about another vendor")


def _grid_members(pl: _Placer) -> frozenset[str]:
    """Free columns that belong to a grid (a stem shared with another column): items to rate,
    never the one CSAT or CES question ('How satisfied ... | Ease of use' is a grid item)."""
    stems: dict[str, list[str]] = {}
    for c in pl.free():
        split = _prefix(c, pl.survey.questions.get(c) or "")
        if split:
            stems.setdefault(split[0], []).append(c)
    return frozenset(c for cols in stems.values() if len(cols) > 1 for c in cols)


def _place_measures(pl: _Placer) -> None:
    grid = _grid_members(pl)
    for rule in rules.MEASURES:
        hit = pl.find(rule, skip=grid)
        if not hit:
            continue
        col, how = hit
        p = pl.profiles[col]
        if p.scale is None:
            pl.notes.append(f"{col!r} is named like {rule.name.upper()} but holds no rating scale")
            continue
        spec: dict[str, Any] = {"scale": list(p.scale)}
        if p.labels:
            spec["labels"] = p.labels
        pl.put(col, "fields", rule.name, spec, f"{how}, answers on {p.scale[0]}-{p.scale[1]} (from the data)")


def _place_date(pl: _Placer) -> None:
    """The response date: the platform's end date, else the one date column, else none (one wave)."""
    if "submitted_at" in pl.sections["fields"]:
        return
    dates = [c for c in pl.free() if pl.profiles[c].dates >= 0.9 and pl.profiles[c].filled >= 0.5]
    if dates:
        pl.put(dates[0], "fields", "submitted_at", {"type": "datetime"},
               "the values are dates: the response date; waves are derived from it (quarters)")
        if len(dates) > 1:
            pl.notes.append(f"submitted_at: {dates[0]!r} chosen over {', '.join(map(repr, dates[1:]))}")
    elif "wave" not in pl.sections["fields"]:
        pl.notes.append("no response date: the export is one wave; analyses over time say so")


def _prefix(col: str, question: str) -> tuple[str, str] | None:
    """(stem, item) of a grid column: "Product.Quality", "Q5_1", "Q4 - Speed", "Q4 | Speed"."""
    for text in (question, col):
        for sep in (" | ", " - "):
            if sep in text:
                stem, item = text.rsplit(sep, 1)
                if stem.strip() and item.strip():
                    return stem.strip(), item.strip()
    m = re.fullmatch(r"(.+?)[._:](\w[^._:]*)", col) or re.fullmatch(r"([A-Za-z]+\d+)_(\d+)", col)
    return (m.group(1), m.group(2)) if m else None


def _place_grids(pl: _Placer) -> dict[str, list[str]]:
    """Rating columns sharing a prefix (or single rating columns) as driver items, by group."""
    rated = [c for c in pl.free() if pl.profiles[c].scale is not None and pl.profiles[c].filled >= 0.2]
    by_stem: dict[str, list[tuple[str, str]]] = {}
    for c in rated:
        split = _prefix(c, pl.survey.questions.get(c) or "")
        stem, item = split if split else ("ratings", c)
        by_stem.setdefault(stem, []).append((c, item))
    groups: dict[str, list[str]] = {}
    for stem, cols in by_stem.items():
        if len(cols) == 1 and stem != "ratings":
            stem = "ratings"
        group = _group_name(stem, [i for _, i in cols])
        for c, item in cols:
            p = pl.profiles[c]
            assert p.scale is not None  # only rated columns are grouped
            key = _slug(f"{group} {item}" if not _slug(item).startswith(_slug(group)) else item)
            while key in pl.sections["drivers"]:
                key += "_2"
            question = (pl.survey.questions.get(c) or "").strip()
            if question and question != c and (item.isdigit() or item == c):
                item = question[:60]  # SPSS variable label / question text, not "q1" or "1"
            spec: dict[str, Any] = {"group": group, "scale": list(p.scale), "label": item}
            if p.labels:
                spec["labels"] = p.labels
            pl.put(c, "drivers", key, spec, f"a rating on {p.scale[0]}-{p.scale[1]} in the "
                   f"{group!r} grid" + ("" if len(cols) > 1 else " (a single rating item)"))
            groups.setdefault(group, []).append(key)
    return groups


def _group_name(stem: str, items: list[str]) -> str:
    """A readable group name from a grid's stem (the question text or the column prefix)."""
    text = " ".join([stem, *items]) if stem == "ratings" else stem
    for name, rx in rules.NAMES.items():
        if re.search(rx, text):
            return name
    words = [w for w in re.findall(r"[a-z]+", stem.lower()) if w not in rules.STEM_STOP]
    return "_".join(words[:2]) if words and stem != "ratings" else "ratings"


def _place_comment(pl: _Placer) -> None:
    """Long free text (by average length, variety and name) as the comment."""
    cands = []
    for c in pl.free():
        p = pl.profiles[c]
        named = bool(rules.COMMENT.search(c + " " + p.question))
        if p.numeric < 0.5 and p.dates < 0.5 and (
                (named and p.text_length >= 8) or (p.text_length >= 12 and p.unique >= 0.3)):
            cands.append((p.text_length * (2 if named else 1), c))
    if not cands:
        return
    cands.sort(reverse=True)
    col = cands[0][1]
    pl.put(col, "fields", "comment", {"type": "text"},
           f"free text (average {pl.profiles[col].text_length:.0f} characters): the comment")
    if len(cands) > 1:
        pl.notes.append(f"comment: {col!r} chosen over {', '.join(repr(c) for _, c in cands[1:4])}")


def _place_segments(pl: _Placer) -> list[str]:
    """Text columns with a few repeated values (2-30 levels) as segment fields."""
    out = []
    for c in pl.free():
        p = pl.profiles[c]
        if 2 <= p.distinct <= 30 and p.numeric < 0.5 and p.unique <= 0.5 and p.dates < 0.5 \
                and p.filled >= 0.2:
            values = pl.survey.data[c].dropna().astype(str).str.strip()
            if values.str.contains(_NOT_SEGMENT).mean() >= 0.9:
                pl.placed[c] = "ignored"
                pl.decisions.append((c, "ignored", "browser user agents or opaque ids, not a segment"))
                continue
            words = 3
            name = _slug(c, words)
            while name in pl.sections["fields"] or name in _reserved():
                words += 1
                longer = _slug(c, words)
                name = longer if longer != name else name + "_2"
            pl.put(c, "fields", name, _label_spec(name, c, pl.survey.questions.get(c)),
                   f"text with {p.distinct} values: a segment field")
            out.append(name)
    return out


def _label_spec(name: str, col: str, question: str | None) -> dict[str, str]:
    """A segment field's label when its name in words would not say it (question text, accents,
    punctuation): {"label": ...}, else {}."""
    text = " ".join((question or col).split())[:60]
    plain = re.fullmatch(r"[A-Za-z0-9 _]+", text) and _slug(text, 99) == name
    return {} if plain else {"label": text}


def _reserved() -> set[str]:
    from helpers.ingest.schema import CANONICAL
    return set(CANONICAL)


def _why_not(p: Profile) -> str:
    if p.filled == 0:
        return "empty"
    if p.dates >= 0.9:
        return "another date column (not the response date)"
    if p.numeric >= 0.9 and p.scale is None:
        span = f"{p.low:g} to {p.high:g}" if p.low is not None else "?"
        return f"numbers {span}, not a rating scale (a count, amount or code?)"
    if p.distinct > 30 and p.text_length < 12:
        return f"{p.distinct} distinct short values (an id or a category with many levels?)"
    if p.filled < 0.2:
        return f"only {p.filled:.0%} filled"
    return "not recognised"


def _market_rule(pl: _Placer) -> dict[str, str]:
    f = pl.sections["fields"]
    if "market" in f:
        return {"column": "market"}
    if "account_id" in f:
        return {"b2b_when_present": "account_id"}
    return {"all": "B2C"}


def _yaml(survey: Survey, pl: _Placer, groups: dict[str, list[str]], segments: list[str],
          tpl: Mapping[str, Any], unplaced: list[tuple[str, str]], headline: str | None) -> str:
    market = _market_rule(pl)
    seg_market = "B2B" if market != {"all": "B2C"} else "B2C"
    f = pl.sections["fields"]
    seg = _segment_markets(pl, ([s for s in ("role",) if s in f] + segments), market, seg_market)
    lines = ["# Draft survey schema written by `cx schema infer`: read the decisions it printed,",
             "# then check every entry (see config/survey.yaml for every option).",
             f"# Source: {quoted_name(survey.path.name)} (format {survey.format}, "
             f"{len(survey.data):,} responses, "
             f"{survey.data.shape[1]} columns).",
             f"survey: {quoted_name('Draft schema for ' + survey.path.name)}", *study_lines(survey.path), ""]
    lines += ["fields:", *(f"  {k}: {entry(v)}" for k, v in f.items()), ""]
    if headline is not None:
        lines += ["# The measure the programme reports: the export has no 0-10 recommend question.",
                  f"headline: {headline}", ""]
    lines += ["# How a response's market is decided (see config/survey.yaml).",
              f"market_rule: {entry(market)}",
              "waves: {period: quarter}" + ("" if "submitted_at" in f or "wave" in f
                                            else "  # no date in this export: one wave"), ""]
    lines += ["segments:" + ("" if seg else " {}"), *(f"  {m}: {fmt(fs)}" for m, fs in seg.items())]
    lines += ["", "# Rating items (drivers): group, scale and a short label for charts.",
              "drivers:" + ("" if pl.sections["drivers"] else " {}"),
              *(f"  {k}: {entry(v)}" for k, v in pl.sections["drivers"].items()), ""]
    if groups:
        by_market = _group_markets(pl, groups, market, seg_market)
        lines += ["markets:", *(f"  {m}: {fmt(gs)}" for m, gs in by_market.items())]
        stages = {g: g for g in groups if g in rules.STAGES}
        if stages:
            lines.append(f"stages: {entry(stages)}")
        lines.append("")
    lines += ["competitors:" + ("" if pl.sections["competitors"] else " {}"),
              *(f"  {fmt(k)}: {entry(v)}" for k, v in pl.sections["competitors"].items()), ""]
    lines += ["# Personal data: hash -> salted key column; drop -> removed.",
              "personal:" + ("" if pl.sections["personal"] else " {}"),
              *(f"  {k}: {entry(v)}" for k, v in pl.sections["personal"].items()), ""]
    lines += answers_and_quality(tpl)
    if unplaced:
        lines += ["", f"# {len(unplaced)} column(s) not placed (add them above if needed):"]
        lines += [f"#   {c!r}: {why}" for c, why in unplaced]
    return "\n".join(lines) + "\n"


def _by_rows(pl: _Placer, rule: dict[str, str]) -> bool:
    """Whether the market rule decides markets row by row (a market column, or B2B where an
    account is given), so fields and groups can be placed where their values occur."""
    f = pl.sections["fields"]
    return ("column" in rule and "market" in f) or rule.get("b2b_when_present") in f


def _market_shares(pl: _Placer, cols: list[str]) -> pd.Series:
    """Share of each market among the rows that answer any of `cols` (a market column, or B2B
    where an account is given)."""
    data = pl.survey.data
    f = pl.sections["fields"]
    if "market" in f:
        market = data[f["market"]["column"]].astype("string").str.strip().str.upper()
    else:
        acc = data[f["account_id"]["column"]]
        given = acc.notna() & (acc.astype("string").str.strip() != "")
        market = given.map({True: "B2B", False: "B2C"})
    answered = data[cols].notna().any(axis=1) & (data[cols].astype("string") != "").any(axis=1)
    return market[answered].value_counts(normalize=True)


def _segment_markets(pl: _Placer, names: list[str], rule: dict[str, str],
                     default: str) -> dict[str, list[str]]:
    """Segment fields per market, by where their values occur (as for driver groups)."""
    if not names:
        return {}
    if not _by_rows(pl, rule):
        return {default: names}
    out: dict[str, list[str]] = {}
    for n in names:
        shares = _market_shares(pl, [pl.sections["fields"][n]["column"]])
        for m in [m for m in ("B2B", "B2C") if shares.get(m, 0) >= 0.2] or [default]:
            out.setdefault(m, []).append(n)
    return out


def _group_markets(pl: _Placer, groups: dict[str, list[str]], rule: dict[str, str],
                   default: str) -> dict[str, list[str]]:
    """Each driver group's market(s): where the export has a market column, the markets whose
    rows answer the group's items (at least a fifth of the answers); else the default market."""
    if not _by_rows(pl, rule):
        return {default: list(groups)}
    out: dict[str, list[str]] = {}
    for g, keys in groups.items():
        shares = _market_shares(pl, [pl.sections["drivers"][k]["column"] for k in keys])
        for m in [m for m in ("B2B", "B2C") if shares.get(m, 0) >= 0.2] or [default]:
            out.setdefault(m, []).append(g)
    return out


