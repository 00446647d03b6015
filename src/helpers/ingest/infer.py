"""Draft a survey schema from an export (`cx schema infer`): what each column is, and why.

Each column is profiled (names, question text, ImportIds, fill, numbers, scale, dates, text
length, distinct values), then placed in this order: personal data (by name, then by the values:
emails, IPs, phones); platform fields (response id, dates, duration, status); the likelihood to
recommend (by name: recommend, likely, NPS, LTR, REC... and by content: whole numbers 0-10, mostly
filled; competing candidates are reported, not silently chosen); CES and CSAT (by name, on the
scale found in the data); competitor LTR grids; ids (account, rep, contact); role, market and
wave; the response date (any common format) with waves derived from it; rating grids (columns on a
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

from helpers.ingest.draft_yaml import answers_and_quality, entry, fmt, quoted_name
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
_LTR_TEXT = r"(?i)(how likely .*recommend|recommend|likelihood to recommend|\bnps\b|\bltr\b)"
_LTR_NAME = re.compile(r"(?i)^(q?\d*[_ .-]?)?(ltr|nps|nps[_ .-]?score|rec|recommend\w*|"
                       r"likel\w*[_ .-]?to[_ .-]?recommend|likely\w*|likelihood\w*|"
                       r"recommandation|empfehlung\w*|recomendaci\w*)$")

_STAGES = {"sales": r"(?i)sales|salesperson|salesman|vertrieb|vente|commercial|buying|proposal",
           "implementation": r"(?i)implement|onboard|deploy|go-?live|roll-?out|project|"
                             r"installation|setup"}
_NAMES = {**_STAGES, "touchpoint": r"(?i)purchase|deliver|support|\bapp\b|website|store|checkout|"
                                   r"product quality|value for money|experience with"}
_STEM_STOP = {"how", "would", "you", "rate", "please", "following", "our", "your", "with", "on",
              "the", "of", "to", "and", "a", "an", "did", "do", "we", "us", "for", "about"}


@dataclass(frozen=True)
class _Rule:
    """How to recognise one field: normalised names, ImportIds, question pattern, extra keys."""

    name: str
    ids: tuple[str, ...] = ()
    import_ids: tuple[str, ...] = ()
    pattern: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()


def _r(name: str, ids: str = "", imports: str = "", pattern: str | None = None, **extra: Any) -> _Rule:
    return _Rule(name, tuple(ids.split()), tuple(imports.split()), pattern, tuple(extra.items()))


_PERSONAL = [  # before anything else: an e-mail column must never become a segment field
    _r("contact_key", "recipientemail email emailaddress mail", "recipientEmail", r"(?i)\be-?mail\b",
       action="hash"),
    _r("ip_key", "ipaddress ip", "ipAddress", r"(?i)^ip address$", action="hash"),
    _r("first_name", "recipientfirstname firstname givenname", "recipientFirstName",
       r"(?i)^first name", action="drop"),
    _r("last_name", "recipientlastname lastname surname familyname", "recipientLastName",
       r"(?i)^(last name|surname)", action="drop"),
    _r("name", "name fullname respondentname contactname customername personname participantname",
       "", r"(?i)^(your |full |contact |respondent |customer |person |participant )*name\??$",
       action="drop"),
    _r("phone", "phone phonenumber mobile telephone", "", r"(?i)\b(phone|mobile)\b", action="drop"),
    _r("contact_details", "contactdetails yourcontactdetails contactinfo contactinformation kontaktdaten "
       "coordonnees datosdecontacto", "", r"(?i)contact (details|info)|kontaktdaten|coordonnées|"
       r"datos de contacto|dati di contatto|contactgegevens", action="drop"),
    _r("latitude", "locationlatitude latitude lat", "locationLatitude", action="drop"),
    _r("longitude", "locationlongitude longitude lon lng", "locationLongitude", action="drop"),
    _r("external_reference", "externalreference externaldatareference", "externalDataReference",
       action="drop"),
]
_PLATFORM = [
    _r("response_id", "responseid respondentid recordid", "_recordId", r"(?i)^(response|respondent) ?id$"),
    _r("submitted_at", "enddate recordeddate datesubmitted submittedat completedat submitdate "
       "responsedate surveydate date", "endDate recordedDate",
       r"(?i)^(end date|recorded date|date submitted|response date)$", type="datetime"),
    _r("started_at", "startdate startedat", "startDate", r"(?i)^start date$", type="datetime"),
    _r("duration_s", "durationinseconds duration durations", "duration", r"(?i)^duration",
       type="number"),
    _r("status", "status responsetype", "status"),
    _r("distribution_channel", "distributionchannel", "distributionChannel"),
    _r("finished", "finished", "finished", type="number"),
    _r("market", "market businessmarket", "", r"(?i)^market\b"),
    _r("wave", "wave surveywave", "", r"(?i)^wave\b"),
    _r("account_id", "accountid account customeraccount company companyid accountname client "
       "clientid customer customerid", "", r"(?i)^account ?(id|name)?$"),
    _r("role", "contactrole role jobrole", "", r"(?i)^(contact )?role\b"),
    _r("rep_id", "repid rep salesrep accountmanager accountteam accountowner csm", "",
       r"(?i)^(sales rep|account (manager|team|owner))"),
    _r("deal_close_date", "dealclosedate closedate", "", type="datetime"),
    _r("go_live_planned", "goliveplanned plannedgolive plannedgolivedate", "", type="datetime"),
    _r("go_live_date", "golivedate golive actualgolive", "", type="datetime"),
    _r("last_rep_touch_at", "lastreptouch lastreptouchat lastcontact", "", type="datetime"),
]
_MEASURES = [
    _r("ces", "ces effort customereffort effortscore", "",
       r"(?i)(easy|effort).*(handle|resolve|issue|request)|\beffort\b|\bCES\b", type="score"),
    _r("csat", "csat satisfaction satisfied overallsatisfaction csatscore", "",
       r"(?i)(how satisfied|overall satisfaction|satisfaction)", type="score"),
]
_COMMENT = re.compile(r"(?i)comment|feedback|verbatim|reason|why|explication|explanation|remark|"
                      r"text|open|kommentar|commentaire|anything else|tell us")


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
    return re.sub(r"[^a-z0-9]", "", str(text).lower())


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

    def find(self, rule: _Rule, skip: frozenset[str] = frozenset()) -> tuple[str, str] | None:
        """The first free column (not in `skip`) matching `rule` by name, ImportId or question
        text, and how."""
        q = self.survey.questions
        free = [c for c in self.free() if c not in skip]
        for c in free:
            if _norm(c) in rule.ids or (q.get(c) and q[c] != c and _norm(q[c]) in rule.ids):
                return c, f"named {c!r}"
        for c in free:
            if rule.import_ids and self.survey.import_ids.get(c) in rule.import_ids:
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
    _place_rules(pl, _PLATFORM, "fields")
    _place_ids(pl)
    _place_personal_values(pl)
    _place_competitors(pl)
    _place_ltr(pl)
    _place_measures(pl)
    _place_date(pl)
    groups = _place_grids(pl)
    _place_comment(pl)
    segments = _place_segments(pl)
    unplaced = [(c, _why_not(pl.profiles[c])) for c in pl.free()]
    text = _yaml(survey, pl, groups, segments, template or {}, unplaced)
    return Draft(text, pl.decisions, unplaced, pl.notes)


def _place_personal(pl: _Placer) -> None:
    for rule in _PERSONAL:
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


def _place_rules(pl: _Placer, rules: list[_Rule], section: str) -> None:
    for rule in rules:
        hit = pl.find(rule)
        if hit:
            col, how = hit
            p = pl.profiles[col]
            if dict(rule.extra).get("type") == "datetime" and p.dates < 0.8 and p.filled > 0:
                continue  # named like a date but does not hold dates
            pl.put(col, section, rule.name, dict(rule.extra), how)


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


def _ltr_score(p: Profile) -> float:
    """How much a column looks like a 0-10 likelihood-to-recommend answer (0 = not at all)."""
    by_name = bool(_LTR_NAME.match(p.column)) or bool(re.search(_LTR_TEXT, p.question or ""))
    content = (p.scale in ((0, 10), (1, 10)) and p.numeric >= 0.9 and p.integer and (p.high or 0) >= 7)
    if not content:
        return 0.0
    return (2.0 if by_name else 0.0) + p.filled


def _place_ltr(pl: _Placer) -> None:
    scored = sorted(((s, c) for c in pl.free() if (s := _ltr_score(pl.profiles[c])) > 0), reverse=True)
    named = [(s, c) for s, c in scored if s >= 2]
    pool = named or scored
    if not pool:
        pl.notes.append("no likelihood-to-recommend column found (a 0-10 question named recommend, "
                        "likely, NPS, LTR or REC): set fields.ltr.column by hand")
        pl.sections["fields"]["ltr"] = {"pattern": _LTR_TEXT, "scale": [0, 10]}
        return
    col = pool[0][1]
    why = ("named like a recommend question" if pool is named else "the only kind of column holding "
           "whole numbers 0-10") + f", {pl.profiles[col].filled:.0%} filled"
    if len(pool) > 1:
        others = ", ".join(repr(c) for _, c in pool[1:4])
        pl.notes.append(f"LTR: {col!r} chosen over {others} (also 0-10); change fields.ltr.column "
                        "if another is the recommend question")
    pl.put(col, "fields", "ltr", {"scale": [0, 10]}, why)


def _place_competitors(pl: _Placer) -> None:
    """Competitor LTR grids: "How likely ... recommend ...? - <vendor>" columns on 0-10."""
    q = pl.survey.questions
    grid = [c for c in pl.free() if re.search(_LTR_TEXT, q.get(c) or "") and " - " in (q.get(c) or "")
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
    for rule in _MEASURES:
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
    for name, rx in _NAMES.items():
        if re.search(rx, text):
            return name
    words = [w for w in re.findall(r"[a-z]+", stem.lower()) if w not in _STEM_STOP]
    return "_".join(words[:2]) if words and stem != "ratings" else "ratings"


def _place_comment(pl: _Placer) -> None:
    """Long free text (by average length, variety and name) as the comment."""
    cands = []
    for c in pl.free():
        p = pl.profiles[c]
        named = bool(_COMMENT.search(c + " " + p.question))
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
          tpl: Mapping[str, Any], unplaced: list[tuple[str, str]]) -> str:
    market = _market_rule(pl)
    seg_market = "B2B" if market != {"all": "B2C"} else "B2C"
    f = pl.sections["fields"]
    seg = _segment_markets(pl, ([s for s in ("role",) if s in f] + segments), market, seg_market)
    lines = ["# Draft survey schema written by `cx schema infer`: read the decisions it printed,",
             "# then check every entry (see config/survey.yaml for every option).",
             f"# Source: {quoted_name(survey.path.name)} (format {survey.format}, "
             f"{len(survey.data):,} responses, "
             f"{survey.data.shape[1]} columns).",
             f"survey: {quoted_name('Draft schema for ' + survey.path.name)}", ""]
    lines += ["fields:", *(f"  {k}: {entry(v)}" for k, v in f.items()), ""]
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
        stages = {g: g for g in groups if g in _STAGES}
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


def _market_shares(pl: _Placer, cols: list[str]) -> pd.Series:
    """Share of each market among the rows that answer any of `cols` (needs a market column)."""
    data = pl.survey.data
    market = data[pl.sections["fields"]["market"]["column"]].astype("string").str.strip().str.upper()
    answered = data[cols].notna().any(axis=1) & (data[cols].astype("string") != "").any(axis=1)
    return market[answered].value_counts(normalize=True)


def _segment_markets(pl: _Placer, names: list[str], rule: dict[str, str],
                     default: str) -> dict[str, list[str]]:
    """Segment fields per market, by where their values occur (as for driver groups)."""
    if not names:
        return {}
    if "column" not in rule or "market" not in pl.sections["fields"]:
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
    f = pl.sections["fields"]
    if "column" not in rule or "market" not in f:
        return {default: list(groups)}
    out: dict[str, list[str]] = {}
    for g, keys in groups.items():
        shares = _market_shares(pl, [pl.sections["drivers"][k]["column"] for k in keys])
        for m in [m for m in ("B2B", "B2C") if shares.get(m, 0) >= 0.2] or [default]:
            out.setdefault(m, []).append(g)
    return out


