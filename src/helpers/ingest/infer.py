"""Draft a survey schema (config/survey.yaml format) from an export, for the analyst to edit.

``infer_schema(survey)`` places each export column on a canonical field of
docs/data-contract.md by its column id, its Qualtrics ImportId or its question text (LTR "how
likely ... recommend", effort, satisfaction, e-mail, names, IP address, ...), recognises rating
grids as driver items (grouped sales / implementation / touchpoint by their wording) and
competitor LTR grids, guesses answer scales from the data, and lists every column it could not
place. The result is a draft: it loads with ``helpers.ingest.schema.load`` but needs a human look.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from helpers.ingest.readers import Survey

__all__ = ["infer_schema"]

_NUMBER = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*(?:$|[-–:=)]|\s)")
_EMAIL = re.compile(r"^[\w.+'-]+@[\w-]+(\.[\w-]+)+$")
_PHONE = re.compile(r"^(?!\d{4}-\d{2}-\d{2})(?!\d{1,2}/\d{1,2}/\d{2,4})\+?\(?\d[\d\s().-]{6,18}\d$")
_IPV4 = re.compile(r"^(\d{1,3}\.){3}\d{1,3}$")
_NA_CODES = {-99.0, -98.0, -97.0, 98.0, 99.0}
_SCALES = [(1, 3), (1, 4), (1, 5), (0, 5), (1, 7), (1, 10), (0, 10)]
_LTR = r"(?i)how likely .*recommend"

#: Answer label sets written into the draft (same names as config/survey.yaml).
LABEL_SETS: dict[str, dict[str, int]] = {
    "agree7": {"Strongly disagree": 1, "Disagree": 2, "Somewhat disagree": 3,
               "Neither agree nor disagree": 4, "Somewhat agree": 5, "Agree": 6,
               "Strongly agree": 7},
    "agree5": {"Strongly disagree": 1, "Disagree": 2, "Neither agree nor disagree": 3,
               "Agree": 4, "Strongly agree": 5},
    "satisfied5": {"Very dissatisfied": 1, "Dissatisfied": 2, "Neutral": 3, "Satisfied": 4,
                   "Very satisfied": 5},
    "rating5": {"Very poor": 1, "Poor": 2, "Fair": 3, "Good": 4, "Very good": 5,
                "Excellent": 5},
}
NOT_APPLICABLE = ["N/A", "NA", "n/a", "Not applicable", "Don't know", "Dont know",
                  "Prefer not to say", "-99", "-98", "-97"]


@dataclass(frozen=True)
class _Rule:
    """How to recognise one canonical field: normalised ids, ImportIds, question pattern."""

    name: str
    ids: tuple[str, ...] = ()
    import_ids: tuple[str, ...] = ()
    pattern: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()
    score: bool = False


def _r(name: str, ids: str = "", imports: str = "", pattern: str | None = None,
       score: bool = False, **extra: Any) -> _Rule:
    return _Rule(name, tuple(ids.split()), tuple(imports.split()), pattern,
                 tuple(extra.items()), score)


# Personal data first, so that e.g. an e-mail column never becomes a segment field.
_PERSONAL = [
    _r("contact_key", "recipientemail email emailaddress mail", "recipientEmail",
       r"(?i)\be-?mail\b", action="hash"),
    _r("ip_key", "ipaddress ip", "ipAddress", r"(?i)^ip address$", action="hash"),
    _r("first_name", "recipientfirstname firstname givenname", "recipientFirstName",
       r"(?i)^first name", action="drop"),
    _r("last_name", "recipientlastname lastname surname familyname", "recipientLastName",
       r"(?i)^(last name|surname)", action="drop"),
    _r("name", "name fullname respondentname", "", r"(?i)^(your )?(full )?name\??$",
       action="drop"),
    _r("phone", "phone phonenumber mobile telephone", "", r"(?i)\b(phone|mobile)\b",
       action="drop"),
    _r("latitude", "locationlatitude latitude lat", "locationLatitude", action="drop"),
    _r("longitude", "locationlongitude longitude lon lng", "locationLongitude", action="drop"),
    _r("external_reference", "externalreference externaldatareference", "externalDataReference",
       action="drop"),
]

_FIELDS = [
    _r("response_id", "responseid respondentid recordid id", "_recordId",
       r"(?i)^(response|respondent) ?id$", required=True),
    _r("submitted_at", "enddate recordeddate datesubmitted submittedat completedat",
       "endDate recordedDate", r"(?i)^(end date|recorded date|date submitted)$",
       type="datetime", required=True),
    _r("started_at", "startdate startedat", "startDate", r"(?i)^start date$", type="datetime"),
    _r("duration_s", "durationinseconds duration durations", "duration",
       r"(?i)^duration", type="number"),
    _r("status", "status responsetype", "status"),
    _r("distribution_channel", "distributionchannel", "distributionChannel"),
    _r("finished", "finished", "finished", type="number"),
    _r("market", "market businessmarket", "", r"(?i)^market\b"),
    _r("wave", "wave surveywave", "", r"(?i)^wave\b"),
    _r("account_id", "accountid account customerid companyid", "", r"(?i)^account ?id"),
    _r("role", "contactrole role jobrole", "", r"(?i)^(contact )?role\b"),
    _r("rep_id", "repid rep salesrep accountmanager accountteam accountowner", "",
       r"(?i)^(sales rep|account (manager|team|owner))"),
    _r("region", "region censusregion locationcensusregion", "", r"(?i)\bregion\b"),
    _r("industry", "industry sector", "", r"(?i)^industry"),
    _r("tier", "tier customertier accounttier", "", r"(?i)^tier\b"),
    _r("channel", "channel purchasechannel saleschannel", "", r"(?i)^(purchase )?channel\b"),
    _r("age_band", "ageband age agegroup", "", r"(?i)^age\b"),
    _r("tenure_band", "tenure tenureband customertenure", "", r"(?i)^tenure\b"),
    _r("deal_close_date", "dealclosedate closedate", "", type="datetime"),
    _r("go_live_planned", "goliveplanned plannedgolive plannedgolivedate", "", type="datetime"),
    _r("go_live_date", "golivedate golive actualgolive", "", type="datetime"),
    _r("last_rep_touch_at", "lastreptouch lastreptouchat lastcontact", "", type="datetime"),
    _r("ltr", "ltr nps likelihoodtorecommend", "", _LTR, score=True, type="score",
       scale=[0, 10], required=True),
    _r("ces", "ces effort customereffort", "",
       r"(?i)(easy|effort).*(handle|resolve|issue|request)", score=True, type="score",
       scale=[1, 7], labels="agree7"),
    _r("csat", "csat satisfaction", "", r"(?i)(how satisfied|overall satisfaction)",
       score=True, type="score", scale=[1, 5], labels="satisfied5"),
    _r("comment", "comment comments feedback verbatim", "",
       r"(?i)(reason for your score|comment|anything else|tell us (more|why)|feedback)",
       type="text"),
]

_GROUPS = [
    ("sales", r"(?i)\bsales?\b|salesperson|account (manager|executive)|buying|proposal"),
    ("implementation", r"(?i)implement|onboard|deploy|go-?live|roll-?out|\bproject\b|"
                       r"time to value|on budget|on time"),
    ("touchpoint", r"(?i)experience with|purchase|deliver|support|\bapp\b|website|store|"
                   r"checkout|product quality|value for money"),
]
_GROUP_PREFIX = {"sales": "sales", "implementation": "impl", "touchpoint": "tp"}
_GROUP_MARKET = {"sales": "B2B", "implementation": "B2B", "touchpoint": "B2C"}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _slug(text: str, words: int = 3) -> str:
    parts = re.findall(r"[a-z0-9]+", text.lower())
    stop = {"the", "a", "an", "our", "of", "to", "and", "was", "were", "us", "we", "your"}
    kept = [w for w in parts if w not in stop] or parts or ["item"]
    return "_".join(kept[:words])


def _grid_item(question: str) -> tuple[str, str] | None:
    """Split Qualtrics / SurveyMonkey grid text "<stem> - <item>" or "<stem> | <item>"."""
    for sep in (" | ", " - "):
        if sep in question:
            stem, item = question.rsplit(sep, 1)
            if stem.strip() and item.strip():
                return stem.strip(), item.strip()
    return None


def _scale(values: pd.Series) -> tuple[tuple[int, int] | None, str | None]:
    """Guess a rating scale (low, high) and a label set name from an answer column.

    The scale is the smallest usual one (1-5, 1-7, 0-10, ...) holding the central 98% of the
    numeric answers, so a few out-of-range entries do not widen it; not-applicable codes and
    labels are left out.
    """
    counts = values.dropna().astype(str).str.strip().value_counts().head(500)
    if counts.empty:
        return None, None
    lead = pd.Series(counts.index).str.extract(_NUMBER.pattern, expand=False)
    nums = pd.to_numeric(lead.str.replace(",", ".", regex=False), errors="coerce")
    weights = pd.Series(counts.to_numpy(), dtype=float)
    words = {str(w).lower() for w in counts.index[nums.isna().to_numpy()]}
    words -= {v.lower() for v in NOT_APPLICABLE}
    labels_hit: str | None = None
    if words:
        best = max(LABEL_SETS, key=lambda k: (len(words & {w.lower() for w in LABEL_SETS[k]}),
                                              -len(LABEL_SETS[k])))
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
        if not (float(lo).is_integer() and float(hi).is_integer()):
            return None, None
    else:
        return None, None
    for a, b in _SCALES:
        if a <= lo and hi <= b:
            return (a, b), labels_hit
    return None, labels_hit


def _looks_like(values: pd.Series, rx: re.Pattern[str]) -> bool:
    s = values.dropna()
    if s.empty or pd.api.types.is_numeric_dtype(s.dtype):
        return False
    sample = s.astype(str).str.strip().head(200)
    return bool(sample.str.match(rx.pattern).mean() >= 0.5)


def _fmt(value: Any) -> str:
    """One YAML flow scalar / list."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    text = str(value)
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) and text.lower() not in {
        "yes", "no", "true", "false", "null", "on", "off", "y", "n", "none"}
    return text if plain else json.dumps(text, ensure_ascii=False)


def _entry(mapping: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in mapping.items() if v is not None) + "}"


class _Placer:
    """Tracks which columns are taken and how each was found."""

    def __init__(self, survey: Survey) -> None:
        self.survey = survey
        self.columns = [str(c) for c in survey.data.columns]
        self.placed: dict[str, str] = {}

    def free(self) -> list[str]:
        return [c for c in self.columns if c not in self.placed]

    def find(self, rule: _Rule, avoid_grid: bool = False) -> tuple[str, str] | None:
        """First free column matching `rule`: (column, how) with how in id/import_id/pattern."""
        q = self.survey.questions
        ids = set(rule.ids)
        for c in self.free():
            if _norm(c) in ids or (_norm(q.get(c, "")) in ids and q.get(c, "") != c):
                return c, "id"
        for c in self.free():
            if self.survey.import_ids.get(c) in rule.import_ids:
                return c, "import_id"
        if rule.pattern:
            rx = re.compile(rule.pattern)
            hits = [c for c in self.free() if rx.search(q.get(c, "") or "")]
            if avoid_grid:
                hits = [c for c in hits if _grid_item(q.get(c, "")) is None] or hits
            if rule.score:
                hits = [c for c in hits if _scale(self.survey.data[c])[0] is not None]
            if hits:
                return hits[0], "pattern"
        return None

    def spec(self, col: str, how: str, rule: _Rule | None = None) -> dict[str, Any]:
        qid = self.survey.import_ids.get(col)
        out: dict[str, Any] = {"column": col, "import_id": qid if qid != col else None}
        if how == "pattern" and rule is not None:
            out["pattern"] = rule.pattern
        return out


def infer_schema(survey: Survey, template: Mapping[str, Any] | None = None
                 ) -> tuple[str, list[str]]:
    """Draft a config/survey.yaml-style schema for `survey`.

    Parameters
    ----------
    survey : an export read by :func:`helpers.ingest.readers.read_survey`.
    template : an existing schema document whose ``answers``, ``market_rule`` and ``quality``
        sections are copied into the draft (built-in defaults when None).

    Returns
    -------
    (yaml_text, unplaced_columns) : the draft, and the export columns it could not place (in
    export order; they are also listed as a comment at the end of the draft).
    """
    pl = _Placer(survey)
    data = survey.data
    lines = ["# Draft survey schema inferred by `cx schema infer`: check every entry before use.",
             f"# Source: {survey.path.name} (format {survey.format}, {len(data)} responses, "
             f"{data.shape[1]} columns).",
             f"survey: {_fmt('Draft schema for ' + survey.path.name)}", ""]

    personal: list[str] = []
    for rule in _PERSONAL:
        hit = pl.find(rule)
        if hit:
            col, how = hit
            pl.placed[col] = f"personal.{rule.name}"
            personal.append(f"  {rule.name}: {_entry({**pl.spec(col, how, rule), **dict(rule.extra)})}")

    # competitor LTR grids before our own LTR: "How likely ... recommend ...? - <vendor>"
    competitors: list[str] = []
    ltr_rx = re.compile(_LTR)
    q = survey.questions
    grid_ltr = [c for c in pl.free() if ltr_rx.search(q.get(c, "")) and _grid_item(q.get(c, ""))]
    if len(grid_ltr) >= 2 or (grid_ltr and any(ltr_rx.search(q.get(c, "")) and not
                                               _grid_item(q.get(c, "")) for c in pl.free())):
        for col in grid_ltr:
            vendor = _grid_item(q[col])[1]  # type: ignore[index]
            pl.placed[col] = f"competitors.{vendor}"
            competitors.append(f"  {_fmt(vendor)}: {_entry(pl.spec(col, 'id'))}")

    fields: list[str] = []
    for rule in _FIELDS:
        hit = pl.find(rule, avoid_grid=rule.score)
        extra = dict(rule.extra)
        if hit is None:
            if extra.get("required"):
                fallback = {"response_id": {"column": "ResponseId"},
                            "submitted_at": {"column": "EndDate"},
                            "ltr": {"pattern": rule.pattern}}[rule.name]
                fields.append(f"  {rule.name}: {_entry({**fallback, **extra})}"
                              "  # TODO: not found in this export")
            continue
        col, how = hit
        pl.placed[col] = f"fields.{rule.name}"
        spec = {**pl.spec(col, how, rule), **extra}
        if rule.score:
            scale, labels = _scale(data[col])
            if "scale" not in spec and scale is not None:
                spec["scale"] = list(scale)
            if labels is not None:
                spec["labels"] = labels
        fields.append(f"  {rule.name}: {_entry(spec)}")

    drivers, groups = _drivers(pl)
    for col in pl.free():  # personal data recognised by the values themselves
        for rx, kind, action in ((_EMAIL, "email", "hash"), (_IPV4, "ip", "hash"),
                                 (_PHONE, "phone", "drop")):
            if _looks_like(data[col], rx):
                name = f"{kind}_{_slug(col, 2)}"
                pl.placed[col] = f"personal.{name}"
                personal.append(f"  {name}: {_entry({**pl.spec(col, 'id'), 'action': action})}"
                                f"  # the values look like {kind} numbers/addresses")
                break
    markets: dict[str, list[str]] = {}
    for g in dict.fromkeys(groups):
        if g in _GROUP_MARKET:
            markets.setdefault(_GROUP_MARKET[g], []).append(g)

    lines += ["fields:", *fields, ""]
    tpl = dict(template or {})
    market_rule = tpl.get("market_rule") or {"b2b_when_present": "account_id"}
    lines += ["# When `market` is not a column: B2B when this field is filled, else B2C.",
              f"market_rule: {_entry(market_rule)}", ""]
    lines += ["# Experience items (drivers): group, scale and a short label for charts.",
              "drivers:" + ("" if drivers else " {}"), *drivers, ""]
    lines += ["markets:" + ("" if markets else " {}"),
              *(f"  {m}: {_fmt(gs)}" for m, gs in markets.items()), ""]
    lines += ["competitors:" + ("" if competitors else " {}"), *competitors, ""]
    lines += ["# Personal data: hash -> salted key column; drop -> removed.",
              "personal:" + ("" if personal else " {}"), *personal, ""]
    lines += _answers_and_quality(tpl)
    unplaced = pl.free()
    if unplaced:
        lines += ["", f"# {len(unplaced)} column(s) not placed (add them above if needed):"]
        lines += [f"#   {c!r}: {(q.get(c) or '')[:80]!r}" for c in unplaced]
    return "\n".join(lines) + "\n", unplaced


def _drivers(pl: _Placer) -> tuple[list[str], list[str]]:
    """Rating-grid columns as driver items, grouped by the wording of the grid."""
    q = pl.survey.questions
    out: list[str] = []
    groups: list[str] = []
    keys: set[str] = set()
    for col in pl.free():
        split = _grid_item(q.get(col, ""))
        if split is None:
            continue
        scale, labels = _scale(pl.survey.data[col])
        if scale is None or scale[1] > 10:
            continue
        stem, item = split
        group = next((g for g, rx in _GROUPS if re.search(rx, stem)), None) or next(
            (g for g, rx in _GROUPS if re.search(rx, item)), "other")
        key = f"{_GROUP_PREFIX.get(group, 'item')}_{_slug(item)}"
        while key in keys:
            key += "_2"
        keys.add(key)
        pl.placed[col] = f"drivers.{key}"
        groups.append(group)
        spec = {**pl.spec(col, "id"), "group": group, "scale": list(scale), "labels": labels,
                "label": item}
        note = "  # group guessed as other: edit" if group == "other" else ""
        out.append(f"  {key}: {_entry(spec)}{note}")
    return out, groups


def _answers_and_quality(tpl: Mapping[str, Any]) -> list[str]:
    answers = tpl.get("answers") or {"not_applicable": NOT_APPLICABLE, "label_sets": LABEL_SETS}
    quality = tpl.get("quality") or {
        "test_status": ["Survey Preview", "Survey Test", "Spam"],
        "test_channels": ["preview", "test"], "speeder_fraction": 0.33,
        "straightliner_min_items": 5, "duplicate_key": ["contact_key", "wave"]}
    lines = ["# Answer labels. Not-applicable answers become missing, never zero.", "answers:",
             f"  not_applicable: {_fmt(list(answers.get('not_applicable', [])))}",
             "  label_sets:"]
    lines += [f"    {name}: {_entry(m)}" for name, m in (answers.get("label_sets") or {}).items()]
    lines += ["", "# Quality rules (flags, never deletes).", "quality:"]
    lines += [f"  {k}: {_fmt(v)}" for k, v in quality.items()]
    return lines
