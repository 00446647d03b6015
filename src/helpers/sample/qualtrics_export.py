"""The sample's responses as a Qualtrics-style text export, with planted defects.

Three header rows (column ids, question text, ImportIds), text values, embedded data fields;
planted: duplicates, test responses, speeders, straightliners, out-of-range and blank scores,
label-valued and not-applicable answers. Columns are built as Arrow strings (no per-row
Python strings), so a million responses fit in memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers.sample.draws import lookup_map
from helpers.sample.planted_model import (
    B2B_EFFECTS,
    B2C_EFFECTS,
    COMPANY,
    COMPETITORS,
    IMPL_ITEMS,
    MEDIAN_DURATION_S,
    SALES_ITEMS,
    TOUCHPOINT_ITEMS,
)

QUESTION_COLUMNS: dict[str, tuple[str, str]] = {  # canonical -> (column id, question text)
    "ltr": ("Q1", f"How likely are you to recommend {COMPANY} to a friend or colleague?"),
    "ces": ("Q2", f"{COMPANY} made it easy for me to handle my issue."),
    "csat": ("Q3", f"Overall, how satisfied are you with {COMPANY}?"),
    **{k: (f"Q4_{i}", f"Thinking about the sales process, how would you rate us on... - {t}")
       for i, (k, t) in enumerate(SALES_ITEMS.items(), 1)},
    **{k: (f"Q5_{i}", f"Thinking about the implementation, how would you rate us on... - {t}")
       for i, (k, t) in enumerate(IMPL_ITEMS.items(), 1)},
    **{k: (f"Q6_{i}", f"How would you rate your recent experience with... - {t}")
       for i, (k, t) in enumerate(TOUCHPOINT_ITEMS.items(), 1)},
    "comment": ("Q7", "What is the most important reason for your score?"),
    **{f"comp_{v}": (f"Q8_{i}", f"How likely are you to recommend each of these vendors? - {v}")
       for i, v in enumerate(COMPETITORS, 1)},
}
EMBEDDED = {  # canonical -> embedded data field
    "market": "Market", "account_id": "AccountID", "role": "ContactRole", "wave": "Wave", "rep_id": "RepID",
    "region": "Region", "industry": "Industry", "tier": "Tier", "channel": "Channel", "age_band": "AgeBand",
    "tenure_band": "Tenure", "deal_close_date": "DealCloseDate", "go_live_planned": "GoLivePlanned",
    "go_live_date": "GoLiveDate", "last_rep_touch_at": "LastRepTouch", "phone": "Phone",
}
GRIDS = {"Q4": list(SALES_ITEMS), "Q5": list(IMPL_ITEMS), "Q6": list(TOUCHPOINT_ITEMS)}
LTR_LABELS = {0.0: "0 - Not at all likely", 10.0: "10 - Extremely likely"}
NA_CODES = ["N/A", "Don't know", "-99"]


@dataclass(frozen=True)
class QualtricsExport:
    """The Qualtrics-style export and what :func:`to_export` planted in it."""

    frame: pd.DataFrame            # text values, all columns, duplicates included, shuffled
    questions: dict[str, str]      # column id -> question text (2nd header row)
    import_ids: dict[str, str]     # column id -> ImportId (3rd header row)
    truth: dict[str, Any]          # defect counts and the test response ids


@dataclass(frozen=True)
class _DefectRows:
    """Disjoint row positions of each row-level defect (``planted``: all of them)."""

    test: np.ndarray
    speed: np.ndarray
    straight: np.ndarray
    out_of_range: np.ndarray
    blank_ltr: np.ndarray
    duplicate_of: np.ndarray       # rows that get an earlier duplicate submission
    planted: np.ndarray


def to_export(rng: np.random.Generator, resp: pd.DataFrame, defects: dict[str, int]
              ) -> QualtricsExport:
    """The responses as a Qualtrics-style text export with the planted defects.

    Consumes `resp` (pass the only reference: the numbers are dropped before the text export is
    built, so both never sit in memory in full). The steps draw from `rng` in this order;
    reordering them changes the sample for every seed.
    """
    n = len(resp)
    resp = resp.copy()
    _add_platform_fields(rng, resp)
    rows = _defect_rows(rng, n, defects)
    _plant_test_and_speeders(rng, resp, rows)
    _plant_straightliners(rng, resp, rows.straight)
    text = _answer_text(rng, resp, rows)
    n_labels = _plant_labels(rng, resp, text, rows.planted, defects["label_valued"])
    _plant_not_applicable(rng, resp, text, rows.straight)

    pii_comments = resp["comment"].str.contains("@", regex=False) | resp["comment"].str.contains("Call me on")
    test_ids = sorted(resp.loc[rows.test, "response_id"].tolist())[:50]
    dup_resp = resp.iloc[rows.duplicate_of][["submitted_at", "duration"]].copy()
    keep = ["market", "region", "submitted_at", "duration", "status", "ip", "progress", "finished",
            "response_id", "last_name", "first_name", "email", "channel_dist", "comment"]
    resp = resp[[c for c in resp.columns if c in keep or c in EMBEDDED]]  # (memory: drop the numbers)
    columns = _export_frame(resp, text)  # consumes resp and text
    del resp, text
    questions = {c: q for c, q in _header_text().items()}
    export = _with_duplicates(rng, columns, dup_resp, rows.duplicate_of, questions)

    item_cols = [QUESTION_COLUMNS[c][0] for c in [*B2B_EFFECTS, *B2C_EFFECTS]]
    truth = {
        **{k: int(v) for k, v in defects.items()},
        "label_valued": n_labels,
        "not_applicable_answers": int(export[item_cols].isin(NA_CODES).to_numpy().sum()),
        "comments_with_contact_details": int(pii_comments.sum()),
        "test_response_ids": test_ids,
    }
    return QualtricsExport(export, questions, _import_ids(), truth)


def _add_platform_fields(rng: np.random.Generator, resp: pd.DataFrame) -> None:
    """Fields the survey platform records: response id, duration, status, progress, channel."""
    n = len(resp)
    resp["response_id"] = "R_" + _ids(rng, n).astype(object)
    dur = MEDIAN_DURATION_S * np.exp(np.clip(rng.normal(0, 0.35, n), -0.75, 1.5))
    resp["duration"] = np.rint(dur)
    resp["status"] = "IP Address"
    resp["progress"], resp["finished"] = 100, 1
    resp["channel_dist"] = "email"


def _defect_rows(rng: np.random.Generator, n: int, defects: dict[str, int]) -> _DefectRows:
    """Draw disjoint rows for each row-level defect, as many as `defects` asks for."""
    order = rng.permutation(n)
    cuts = np.cumsum([defects[k] for k in ("test_responses", "speeders", "straightliners", "out_of_range",
                                           "blank_ltr", "duplicates")])
    return _DefectRows(*np.split(order[:cuts[-1]], cuts[:-1]), planted=order[:cuts[-1]])


def _plant_test_and_speeders(rng: np.random.Generator, resp: pd.DataFrame, rows: _DefectRows
                             ) -> None:
    """Test, preview and spam responses (no contact details unless spam); speeders' durations."""
    test_r, speed_r = rows.test, rows.speed
    test_kind = rng.choice(["Survey Preview", "Survey Test", "Spam"], len(test_r))
    resp.loc[test_r, "status"] = test_kind
    resp.loc[test_r, "channel_dist"] = np.where(test_kind == "Spam", "anonymous", np.where(
        test_kind == "Survey Preview", "preview", "test"))
    for col in ("email", "first_name", "last_name"):
        resp.loc[test_r, col] = np.where(test_kind == "Spam", resp.loc[test_r, col], "")
    resp.loc[speed_r, "duration"] = np.rint(MEDIAN_DURATION_S * rng.uniform(0.05, 0.22, len(speed_r)))


def _plant_straightliners(rng: np.random.Generator, resp: pd.DataFrame, straight_r: np.ndarray
                          ) -> None:
    """Straightliners: one grid answered with a single value throughout; nobody else has one."""
    # (The draws stay in a scalar loop so the random stream is unchanged; the writes are vectorised.)
    market = resp["market"].to_numpy(object)
    s_grid = np.empty(len(straight_r), dtype=object)
    s_val = np.empty(len(straight_r), dtype=float)
    for i, r in enumerate(straight_r):
        s_grid[i] = "Q6" if market[r] == "B2C" else str(rng.choice(["Q4", "Q5"]))
        s_val[i] = float(rng.integers(1, 6))
    for g, grid in GRIDS.items():
        sel = s_grid == g
        for c in grid:
            arr = resp[c].to_numpy(float, copy=True)
            arr[straight_r[sel]] = s_val[sel]
            resp[c] = arr
    # Everyone else: no accidental straightlining (a genuinely flat grid is vanishingly rare).
    others = np.setdiff1d(np.arange(len(resp)), straight_r)
    for grid in GRIDS.values():
        vals = resp[grid].to_numpy(float)[others]
        full = np.isfinite(vals).sum(axis=1) >= 5
        flat = full & (np.nanmax(np.where(full[:, None], vals, 0), axis=1)
                       == np.nanmin(np.where(full[:, None], vals, 0), axis=1))
        rows = others[flat]
        col = rng.integers(0, len(grid), len(rows))
        cur = vals[flat, col]
        bumped = np.where(cur >= 5, cur - 1, cur + 1)
        arr = resp[grid].to_numpy(float, copy=True)
        arr[rows, col] = bumped
        resp[grid] = arr


def _answer_text(rng: np.random.Generator, resp: pd.DataFrame, rows: _DefectRows
                 ) -> dict[str, _TextCodes]:
    """Answers as text the way a platform writes them, with out-of-range values and blank LTRs
    planted (a blank LTR's response is half the time unfinished)."""
    text = {c: _TextCodes.of_numbers(resp[c]) for c in ["ltr", "ces", "csat", *B2B_EFFECTS, *B2C_EFFECTS,
                                                          *[f"comp_{v}" for v in COMPETITORS]]}
    oor_r, blank_r = rows.out_of_range, rows.blank_ltr
    half = len(oor_r) // 2
    text["ltr"][oor_r[:half]] = rng.choice(["11", "12", "15"], half)
    text["ces"][oor_r[half:]] = rng.choice(["8", "9", "0"], len(oor_r) - half)
    text["ltr"][blank_r] = ""
    resp.loc[blank_r, "finished"] = np.where(rng.random(len(blank_r)) < 0.5, 0, 1)
    resp.loc[blank_r, "progress"] = np.where(resp.loc[blank_r, "finished"] == 0, 45, 100)
    return text


def _plant_labels(rng: np.random.Generator, resp: pd.DataFrame, text: dict[str, _TextCodes],
                  planted: np.ndarray, n_labels: int) -> int:
    """Label-valued LTR answers ("10 - Extremely likely") on clean rows whose LTR is 0 or 10;
    returns how many were planted."""
    cand = np.setdiff1d(np.flatnonzero(np.isin(resp["ltr"].to_numpy(), [0.0, 10.0])), planted)
    lab = rng.choice(cand, min(n_labels, len(cand)), replace=False)
    text["ltr"][lab] = lookup_map(resp["ltr"].to_numpy()[lab], LTR_LABELS, None)
    return int(len(lab))


def _plant_not_applicable(rng: np.random.Generator, resp: pd.DataFrame, text: dict[str, _TextCodes],
                          straight_r: np.ndarray) -> None:
    """Plant "not applicable" codes on driver items (cleaning must make them missing, not 0)."""
    na_hit: dict[str, np.ndarray] = {}
    for c in [*B2B_EFFECTS, *B2C_EFFECTS]:
        col = text[c]
        hit = col.nonblank() & (rng.random(len(resp)) < 0.015)
        hit[straight_r] = False
        col[hit] = rng.choice(NA_CODES, int(hit.sum()))
        na_hit[c] = hit
    # Undo codes that would leave a grid flat (5+ answers, one value): those rows are not planted.
    # A cell reads as its number unless it was given a code above, so the numbers come from resp.
    for grid in GRIDS.values():
        coded = np.column_stack([na_hit[c] for c in grid])
        vals = resp[grid].to_numpy(float, copy=True)
        vals[coded] = np.nan
        n_ans = np.isfinite(vals).sum(axis=1)
        with np.errstate(invalid="ignore"):
            spread = np.nanmax(np.where(n_ans[:, None] > 0, vals, 0), axis=1) - \
                np.nanmin(np.where(n_ans[:, None] > 0, vals, 0), axis=1)
        accidental = (n_ans >= 5) & (spread == 0) & coded.any(axis=1)
        for j, c in enumerate(grid):
            undo = accidental & coded[:, j]
            if undo.any():
                text[c][undo] = _num_text(resp[c][undo])


def _with_duplicates(rng: np.random.Generator, columns: dict[str, Any], dup_resp: pd.DataFrame,
                     dup_src: np.ndarray, questions: dict[str, str]) -> pd.DataFrame:
    """The export frame: every row plus the duplicates, shuffled, in the order of `questions`.

    A duplicate is an earlier complete submission by the same contact in the same wave (a copy
    of row `dup_src` with earlier dates and its own response id). Consumes `columns`.
    """
    dup_take = pa.array(dup_src)
    dups = {c: a.take(dup_take) for c, a in columns.items()}
    earlier = dup_resp["submitted_at"] - pd.to_timedelta(rng.uniform(1, 72, len(dup_src)), unit="h")
    dups["EndDate"] = _fmt_dates(earlier)
    dups["RecordedDate"] = dups["EndDate"]
    dups["StartDate"] = _fmt_dates(earlier - pd.to_timedelta(dup_resp["duration"].to_numpy(), unit="s"))
    dups["ResponseId"] = pa.array([f"R_{x}" for x in _ids(rng, len(dup_src))], pa.string())
    # Rows and duplicates in a shuffled order, taken once per column; the order is exactly the one
    # DataFrame.sample(frac=1.0, random_state=seed) draws (RandomState.choice without replacement).
    total = len(columns["ResponseId"]) + len(dup_src)
    order_all = pa.array(np.random.RandomState(int(rng.integers(0, 2**31))).choice(total, total, replace=False))
    dtype = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str" dtype
    export_cols = {}
    for c in questions:
        whole = pa.chunked_array([columns.pop(c), dups.pop(c)]).take(order_all)
        export_cols[c] = pd.Series(whole, dtype=dtype)
    return pd.DataFrame(export_cols)


def _ids(rng: np.random.Generator, n: int) -> np.ndarray:
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
    chars = alphabet[rng.integers(0, len(alphabet), (n, 15))]
    return chars.view(f"<U{15}").ravel() if chars.flags["C_CONTIGUOUS"] else np.array(["".join(r) for r in chars])


class _TextCodes:
    """A text column held as integer codes into a small vocabulary.

    Answer columns have a handful of distinct values; editing codes and turning them into one
    Arrow string array at the end avoids a million Python strings per column.
    """

    def __init__(self, codes: np.ndarray, vocab: list[str]) -> None:
        self.codes, self.vocab = codes, list(vocab)

    @classmethod
    def of_numbers(cls, s: pd.Series) -> _TextCodes:
        """Whole numbers as text, "" when missing."""
        v = s.to_numpy(float)
        ok = np.isfinite(v)
        codes = np.zeros(len(v), np.int16)
        found, uniq = pd.factorize(v[ok].astype(np.int64))
        codes[ok] = found + 1
        return cls(codes, ["", *uniq.astype(str).tolist()])

    def __setitem__(self, rows: np.ndarray, values: str | np.ndarray) -> None:
        if isinstance(values, str):
            values = np.array([values], dtype=object)[np.zeros(len(self.codes[rows]), np.intp)]
        uniq, inv = np.unique(np.asarray(values, dtype=object), return_inverse=True)
        base = len(self.vocab)
        self.vocab.extend(str(u) for u in uniq)
        self.codes[rows] = base + inv.ravel()

    def nonblank(self) -> np.ndarray:
        """True where the text is not empty."""
        blank = [i for i, v in enumerate(self.vocab) if v == ""]
        return ~np.isin(self.codes, blank)

    def to_arrow(self):
        return pc.take(pa.array(self.vocab, pa.string()), pa.array(self.codes))


def _num_text(s: pd.Series) -> np.ndarray:
    """Whole numbers as text ("" when missing); each distinct value is formatted once."""
    v = s.to_numpy(float)
    out = np.full(len(v), "", dtype=object)
    ok = np.isfinite(v)
    if ok.any():
        codes, uniq = pd.factorize(v[ok].astype(int))
        out[ok] = uniq.astype(str).astype(object)[codes]
    return out


def _fmt_dates(s: pd.Series | pd.DatetimeIndex, with_time: bool = True):
    """Datetimes as export text, "%Y-%m-%d %H:%M:%S" (or "%Y-%m-%d"), "" when missing.

    Returns an Arrow string array. Each distinct day and each distinct time of day is formatted
    once and the parts are joined in Arrow (pandas strftime formats row by row).
    """
    a = np.asarray(pd.to_datetime(s), dtype="datetime64[ns]").astype("datetime64[s]")
    nat = np.isnat(a)
    days, tod = np.divmod(a.astype(np.int64), 86400)
    day_u, day_i = np.unique(np.where(nat, 0, days), return_inverse=True)
    text = pc.take(pa.array(np.datetime_as_string(day_u.astype("datetime64[D]")).tolist(), pa.string()),
                   pa.array(day_i.ravel()))
    if with_time:
        tod_u, tod_i = np.unique(np.where(nat, 0, tod), return_inverse=True)
        clock = [f"{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}" for t in tod_u.tolist()]
        text = pc.binary_join_element_wise(text, pc.take(pa.array(clock, pa.string()),
                                                         pa.array(tod_i.ravel())), " ")
    return pc.if_else(pa.array(nat), "", text)


def _export_frame(resp: pd.DataFrame, text: dict[str, _TextCodes]) -> dict[str, Any]:
    """The export's columns as text, built as Arrow string arrays (no per-row Python strings).

    Consumes `resp` and `text`: each source column is removed once converted, so the response
    frame and the export never both sit in memory in full.
    """
    n = len(resp)
    b2b = pa.array((resp["market"] == "B2B").to_numpy(bool))
    lat, lon = _coords(resp)
    end = resp.pop("submitted_at")
    duration = resp.pop("duration")
    end_text = _fmt_dates(end)

    def strings(name: str) -> pa.Array:
        return pa.array(resp.pop(name).fillna("").astype(str), pa.string())

    def const(value: str) -> pa.Array:
        return pc.take(pa.array([value], pa.string()), pa.array(np.zeros(n, np.int32)))

    cols: dict[str, Any] = {
        "StartDate": _fmt_dates(end - pd.to_timedelta(duration, unit="s")),
        "EndDate": end_text,
        "Status": strings("status"),
        "IPAddress": strings("ip"),
        "Progress": _TextCodes.of_numbers(resp.pop("progress")).to_arrow(),
        "Duration (in seconds)": _TextCodes.of_numbers(duration).to_arrow(),
        "Finished": _TextCodes.of_numbers(resp.pop("finished")).to_arrow(),
        "RecordedDate": end_text,
        "ResponseId": strings("response_id"),
        "RecipientLastName": strings("last_name"),
        "RecipientFirstName": strings("first_name"),
        "RecipientEmail": strings("email"),
        "ExternalReference": const(""),
        "LocationLatitude": lat, "LocationLongitude": lon,
        "DistributionChannel": strings("channel_dist"),
        "UserLanguage": const("EN"),
    }
    del end, duration
    for canon, (col, _) in QUESTION_COLUMNS.items():
        cols[col] = text.pop(canon).to_arrow() if canon in text else strings(canon)
    for canon, col in EMBEDDED.items():
        if canon in ("deal_close_date", "go_live_planned", "go_live_date", "last_rep_touch_at"):
            vals = pc.if_else(b2b, _fmt_dates(resp.pop(canon), with_time=canon == "last_rep_touch_at"), "")
        else:
            vals = strings(canon) if canon in resp else const("")
        cols[col] = vals
    return cols


def _coords(resp: pd.DataFrame):
    """Jittered location per region, as text; each distinct value is formatted once."""
    centre = {"NA": (40.7, -74.0), "EMEA": (50.1, 8.7), "APAC": (1.35, 103.8), "LATAM": (-23.5, -46.6)}
    table = np.array([*centre.values(), (0.0, 0.0)])
    pos = pd.Index(list(centre)).get_indexer(resp["region"].fillna("NA").to_numpy(object))
    c = table[np.where(pos < 0, len(centre), pos)]
    jit = np.random.default_rng(7).normal(0, 0.5, c.shape)
    out = []
    for j in range(2):
        bits = np.round(c[:, j] + jit[:, j], 4).view(np.int64)  # exact: keeps -0.0 apart from 0.0
        codes, uniq = pd.factorize(bits)
        out.append(pc.take(pa.array(uniq.view(np.float64).astype(str).tolist(), pa.string()),
                           pa.array(codes)))
    return out[0], out[1]


def _header_text() -> dict[str, str]:
    base = {
        "StartDate": "Start Date", "EndDate": "End Date", "Status": "Response Type", "IPAddress": "IP Address",
        "Progress": "Progress", "Duration (in seconds)": "Duration (in seconds)", "Finished": "Finished",
        "RecordedDate": "Recorded Date", "ResponseId": "Response ID", "RecipientLastName": "Recipient Last Name",
        "RecipientFirstName": "Recipient First Name", "RecipientEmail": "Recipient Email",
        "ExternalReference": "External Data Reference", "LocationLatitude": "Location Latitude",
        "LocationLongitude": "Location Longitude", "DistributionChannel": "Distribution Channel",
        "UserLanguage": "User Language",
    }
    base.update({col: q for col, q in QUESTION_COLUMNS.values()})
    base.update({col: col for col in EMBEDDED.values()})
    return base


def _import_ids() -> dict[str, str]:
    meta = {"StartDate": '{"ImportId":"startDate","timeZone":"America/Denver"}',
            "EndDate": '{"ImportId":"endDate","timeZone":"America/Denver"}',
            "Status": '{"ImportId":"status"}', "IPAddress": '{"ImportId":"ipAddress"}',
            "Progress": '{"ImportId":"progress"}', "Duration (in seconds)": '{"ImportId":"duration"}',
            "Finished": '{"ImportId":"finished"}',
            "RecordedDate": '{"ImportId":"recordedDate","timeZone":"America/Denver"}',
            "ResponseId": '{"ImportId":"_recordId"}', "RecipientLastName": '{"ImportId":"recipientLastName"}',
            "RecipientFirstName": '{"ImportId":"recipientFirstName"}',
            "RecipientEmail": '{"ImportId":"recipientEmail"}',
            "ExternalReference": '{"ImportId":"externalDataReference"}',
            "LocationLatitude": '{"ImportId":"locationLatitude"}',
            "LocationLongitude": '{"ImportId":"locationLongitude"}',
            "DistributionChannel": '{"ImportId":"distributionChannel"}',
            "UserLanguage": '{"ImportId":"userLanguage"}'}
    for col, _ in QUESTION_COLUMNS.values():
        qid = "QID" + col[1:]
        meta[col] = json.dumps({"ImportId": qid + ("_TEXT" if col == "Q7" else "")}, separators=(",", ":"))
    for col in EMBEDDED.values():
        meta[col] = json.dumps({"ImportId": col}, separators=(",", ":"))
    return meta
