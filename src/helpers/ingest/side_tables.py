"""Optional input files of a cleaning run (accounts, invitations, dated tables), read and cleaned.

Each reader is named in :mod:`helpers.inputs` and called through :func:`read_input`.
"""

from __future__ import annotations

import os
import pkgutil
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import inputs as registry
from helpers.errors import ArgumentError, DataError, require_columns
from helpers.ingest import fields
from helpers.ingest.privacy import hash_keys

ACCOUNT_DATES = ("deal_close_date", "go_live_planned", "go_live_date", "renewal_date")


def clean_accounts(df: pd.DataFrame, file: object) -> pd.DataFrame:
    """CRM account extract -> accounts table. Only ``account_id`` is required: ARR, journey dates,
    renewal outcomes and segment columns are used when present (the analyses that need a missing
    one say so)."""
    require_columns(df, ["account_id"], file)
    out = df.drop(columns=[c for c in ("account_name",) if c in df]).copy()
    blank = out["account_id"].isna() | (out["account_id"].astype("string").str.strip() == "")
    if blank.any():
        raise DataError("account_id is empty", file=file, column="account_id",
                        row=int(np.flatnonzero(blank.to_numpy())[0]) + 2, expected="an id on every row")
    for c in ACCOUNT_DATES:
        if c in out:
            out[c] = pd.to_datetime(out[c], errors="coerce")
    if "arr" in out:
        out["arr"] = pd.to_numeric(out["arr"], errors="coerce")
        bad = out["arr"].isna() | (out["arr"] < 0)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise DataError(f"ARR is {df['arr'].iloc[row - 2]!r}", file=file, column="arr", row=row,
                            expected="a non-negative number")
    fields.journey_durations(out)
    if "renewed" in out:
        out["renewed"] = _yes(out["renewed"])
        out["churned"] = ~out["renewed"]
        if {"arr", "expansion_arr"} <= set(out):
            out["expansion_arr"] = pd.to_numeric(out["expansion_arr"], errors="coerce").fillna(0.0)
            out["nrr"] = np.where(out["renewed"], (out["arr"] + out["expansion_arr"]) / out["arr"], 0.0)
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].astype("string")
    return out


def _yes(values: pd.Series) -> pd.Series:
    """True where a value reads true, 1 or yes (any case); a column read as booleans as it is."""
    if values.dtype == np.dtype(bool):
        return values.copy()
    return values.astype(str).str.lower().isin(["true", "1", "yes"])


def accounts_from_responses(responses: pd.DataFrame) -> pd.DataFrame:
    """Accounts named in the responses when no account master is given: one row per account
    with the fields that are constant within every account (e.g. tier, region, rep)."""
    if "account_id" not in responses or responses["account_id"].isna().all():
        return pd.DataFrame({"account_id": pd.Series(dtype="string")})
    skip = {"response_id", "contact_key", "ip_key", "ltr", "comment", "submitted_at", "wave",
            "include", "exclusion_reason", "nps_group", "duration_s"}
    cols = [c for c in responses.columns if c not in skip and not c.startswith("flag_")
            and responses[c].dtype in (object, "string") and c != "account_id"]
    by_account = responses.loc[responses["account_id"].notna(), ["account_id", *cols]].groupby(
        "account_id", sort=True)
    distinct = by_account[cols].nunique(dropna=True)
    constant = [c for c in cols if (distinct[c] <= 1).all()]
    out = by_account[constant].first().reset_index()
    out["account_id"] = out["account_id"].astype("string")
    return out


def clean_invitations(df: pd.DataFrame, file: object, salt: str) -> pd.DataFrame:
    """Distribution list -> invitations with hashed contact keys (emails dropped).

    Needs ``wave``, ``account_id`` and ``responded``; ``role`` and ``contact_email`` are used
    when present (coverage by role, matching contacts)."""
    require_columns(df, ["wave", "account_id", "responded"], file)
    out = df.copy()
    if "contact_email" in out:
        out["contact_key"] = hash_keys(out.pop("contact_email"), salt)
    out["responded"] = _yes(out["responded"])
    if "invited_at" in out:
        out["invited_at"] = fields.by_distinct(out["invited_at"], lambda v: pd.to_datetime(v, errors="coerce"))
    for c in ("wave", "account_id", "role", "market"):
        if c in out:
            out[c] = out[c].astype("string")
    if "role" in out:
        out["role"] = fields.role_codes(out["role"])
    return out


def read_table(path: Path) -> pd.DataFrame:
    """A side table (CSV or parquet) or a one-line DataError naming the file."""
    if not path.exists():
        raise DataError("file not found", file=path, expected="a CSV or parquet table")
    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read table ({type(exc).__name__}: {str(exc).splitlines()[0]})",
                        file=path, expected="a CSV or parquet table") from None


# Readers of the optional input files, named in helpers.inputs: (path, salt) -> cleaned table.
def read_accounts(path: Path, salt: str) -> pd.DataFrame:
    """An account master file (see :func:`clean_accounts`)."""
    return clean_accounts(read_table(path), path)


def read_invitations(path: Path, salt: str) -> pd.DataFrame:
    """An invitations file (see :func:`clean_invitations`)."""
    return clean_invitations(read_table(path), path, salt)


def read_dated(path: Path, salt: str) -> pd.DataFrame:
    """A table kept as it is, its ``date`` column (when present) read as dates."""
    t = read_table(path)
    if "date" in t:
        t["date"] = pd.to_datetime(t["date"], errors="coerce")
    return t


def _dated_events(df: pd.DataFrame, file: object, needed: list[str]) -> pd.DataFrame:
    """An account-level event table: `needed` columns present, ``date`` read as a date (a row
    without a readable date is a DataError), ids as text."""
    require_columns(df, needed, file)
    out = df.copy()
    if "date" in out:
        dates = pd.to_datetime(out["date"], errors="coerce")
        bad = dates.isna() & out["date"].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"date is {out['date'].iloc[row]!r}", file=file, column="date",
                            row=row + 2, expected="a date (YYYY-MM-DD)")
        out["date"] = dates
    for c in ("account_id", "rep_id", "excluded_by", "outcome", "type", "reason"):
        if c in out:
            out[c] = out[c].astype("string")
    return out


def read_exclusions(path: Path, salt: str) -> pd.DataFrame:
    """Accounts removed from the invitation list: ``account_id`` and ``excluded_by``."""
    return _dated_events(read_table(path), path, ["account_id", "excluded_by"])


def read_follow_ups(path: Path, salt: str) -> pd.DataFrame:
    """Account teams' follow-ups: ``account_id``, ``date`` and (optionally) ``outcome``."""
    return _dated_events(read_table(path), path, ["account_id", "date"])


def read_concessions(path: Path, salt: str) -> pd.DataFrame:
    """Concessions: ``account_id``, ``rep_id``, ``date``, ``value`` (and ``type``); a value that
    is not a non-negative number is a DataError."""
    out = _dated_events(read_table(path), path, ["account_id", "rep_id", "date", "value"])
    value = pd.to_numeric(out["value"], errors="coerce")
    bad = value.isna() | (value < 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"value is {out['value'].iloc[row]!r}", file=path, column="value",
                        row=row + 2, expected="a non-negative number")
    return out.assign(value=value.astype(float))


def read_input(inp: registry.Input, path: Path, salt: str) -> pd.DataFrame:
    """The file of optional input `inp`, read and cleaned by its registered reader."""
    reader: Callable[[Path, str], pd.DataFrame] = pkgutil.resolve_name(inp.reader)
    return reader(path, salt)


def files_given(given: Mapping[str, str | os.PathLike[str] | None] | None) -> dict[str, str]:
    """Optional input files of a cleaning run: input name -> file, those not provided left out.
    An input that does not come from a file (competitor ratings) is an ArgumentError."""
    chosen = registry.given(given or {})
    wrong = [n for n in chosen if registry.INPUTS[n].source != registry.FILE]
    if wrong:
        raise ArgumentError(f"input {wrong[0]!r} comes from the export, not from a file",
                            argument="inputs")
    return chosen
