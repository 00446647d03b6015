"""Writing the sample programme to disk: the survey export (Qualtrics CSV, plain CSV, XLSX or
SPSS), the side tables and ``truth.json``; a programme too large for memory, part by part.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from helpers.sample.program import Sample, generate
from helpers.sample.qualtrics_export import LTR_LABELS, QUESTION_COLUMNS

FORMATS = ("qualtrics", "csv", "xlsx", "sav")


def write(sample: Sample, out_dir: str | Path, fmt: str = "qualtrics") -> dict[str, Path]:
    """Write the sample into `out_dir`: the survey export, side tables and truth.json.

    fmt: "qualtrics" (CSV with 3 header rows, the default), "csv" (one header row),
    "xlsx" (Qualtrics-style XLSX) or "sav" (SPSS with value labels and -99 user-missing).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} unknown; expected one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    ext = {"qualtrics": "csv", "csv": "csv", "xlsx": "xlsx", "sav": "sav"}[fmt]
    survey = out / f"survey_export.{ext}"
    if fmt == "qualtrics":
        _write_qualtrics_csv(sample, survey)
    elif fmt == "csv":
        _atomic(survey, lambda p: sample.export.to_csv(p, index=False))
    elif fmt == "xlsx":
        _atomic(survey, lambda p: _write_xlsx(sample, p))
    else:
        _atomic(survey, lambda p: _write_sav(sample, p))
    written["survey_export"] = survey
    tables = {"accounts": sample.accounts, "invitations": sample.invitations,
              "cx_index": None if sample.cx_index is None else
              sample.cx_index.assign(source="synthetic sample (cx sample): not real companies"),
              "prices": sample.prices, "exclusions": sample.exclusions,
              "follow_ups": sample.follow_ups, "concessions": sample.concessions}
    for name, df in tables.items():
        if df is not None:
            p = out / f"{name}.csv"
            _atomic(p, partial(_fast_csv, df))
            written[name] = p
    truth_path = out / "truth.json"
    _atomic(truth_path, lambda p: Path(p).write_text(json.dumps(sample.truth, indent=2), encoding="utf-8"))
    written["truth"] = truth_path
    return written


#: Rows per part of a large sample (:func:`helpers.sample.writers.write_parts`).
PART_ROWS = 1_000_000


def write_parts(rows: int, out_dir: str | Path, seed: int = 42, gaming: bool = True,
                part_rows: int = PART_ROWS) -> dict[str, Path]:
    """A programme too large to generate in memory, written part by part: several CSV exports.

    Each part is an independent business unit of the same planted model (seed + part number,
    accounts, reps and contacts of its own), generated and written before the next starts, so
    memory stays that of one part. Writes ``survey_export/part-NNN.csv`` (Qualtrics layout, each
    with its header rows) and ``invitations/part-NNN.csv``, one ``accounts.csv``, the market data
    of part 0 and ``truth.json`` (the planted model, counts summed over parts, every part's
    gaming reps). Files already in the two folders are replaced.
    """
    import pyarrow.csv as pacsv

    out = Path(out_dir)
    n_parts = max(1, -(-rows // part_rows))
    sizes = [rows // n_parts + (k < rows % n_parts) for k in range(n_parts)]
    folders = {name: out / name for name in ("survey_export", "invitations")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("part-*.csv"):
            old.unlink()
    truth: dict[str, Any] = {}
    acc_tmp = out / ".accounts.csv.tmp"
    try:
        for k, size in enumerate(sizes):
            sample = generate(rows=size, seed=seed + k, gaming=gaming, market_data=k == 0, part=k)
            _write_qualtrics_csv(sample, folders["survey_export"] / f"part-{k:03d}.csv")
            _atomic(folders["invitations"] / f"part-{k:03d}.csv",
                    partial(_fast_csv, sample.invitations))
            with open(acc_tmp, "ab") as fh:
                table = pa.Table.from_pandas(sample.accounts, preserve_index=False)
                pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=k == 0,
                                                              quoting_style="needed"))
            if k == 0 and sample.cx_index is not None and sample.prices is not None:
                index = sample.cx_index.assign(source="synthetic sample (cx sample): not real companies")
                for name, df in (("cx_index", index), ("prices", sample.prices)):
                    _atomic(out / f"{name}.csv", partial(_fast_csv, df))
            truth = _merge_truth(truth, sample.truth, k)
            del sample
        acc_tmp.replace(out / "accounts.csv")
    finally:
        acc_tmp.unlink(missing_ok=True)
    truth.update(rows=rows, parts=n_parts, seed=seed)
    truth_path = out / "truth.json"
    _atomic(truth_path, lambda p: Path(p).write_text(json.dumps(truth, indent=2), encoding="utf-8"))
    return {"survey_export": folders["survey_export"], "invitations": folders["invitations"],
            "accounts": out / "accounts.csv", "cx_index": out / "cx_index.csv",
            "prices": out / "prices.csv", "truth": truth_path}


def _merge_truth(total: dict[str, Any], part: dict[str, Any], k: int) -> dict[str, Any]:
    """The first part's truth (the planted model), counts summed and gaming reps listed over parts."""
    if not total:
        return {**part, "defects": {"per_part": [part.get("defects", {})]}}
    for key in ("b2b_responses", "b2c_responses", "b2b_accounts", "b2b_reps", "silent_accounts",
                "pressured_responses"):
        if isinstance(part.get(key), int):
            total[key] = int(total.get(key, 0)) + part[key]
    total["gaming_reps"] = [*total.get("gaming_reps", []), *part.get("gaming_reps", [])]
    total["defects"]["per_part"].append(part.get("defects", {}))
    total.pop("pii", None)   # labelled PII of the first part only would mislead
    return total


def _atomic(path: Path, writer: Callable[[Path], object]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        writer(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _fast_csv(df: pd.DataFrame, path: Path) -> None:
    import pyarrow.csv as pacsv
    table = pa.Table.from_pandas(df, preserve_index=False)
    pacsv.write_csv(table, str(path), pacsv.WriteOptions(quoting_style="needed"))


def _write_qualtrics_csv(sample: Sample, path: Path) -> None:
    import pyarrow.csv as pacsv

    def writer(tmp: Path) -> None:
        head = io.StringIO()
        w = csv.writer(head, lineterminator="\n")
        cols = list(sample.export.columns)
        w.writerow(cols)
        w.writerow([sample.questions[c] for c in cols])
        w.writerow([sample.import_ids[c] for c in cols])
        table = pa.table({c: pa.array(sample.export[c].astype(str), pa.string()) for c in cols})
        with open(tmp, "wb") as fh:
            fh.write(head.getvalue().encode("utf-8"))
            pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    _atomic(path, writer)


def _write_xlsx(sample: Sample, path: Path) -> None:
    cols = list(sample.export.columns)
    header = pd.DataFrame([[sample.questions[c] for c in cols], [sample.import_ids[c] for c in cols]], columns=cols)
    pd.concat([header, sample.export], ignore_index=True).to_excel(path, index=False, engine="openpyxl")


def _write_sav(sample: Sample, path: Path) -> None:
    import pyreadstat
    df = sample.export.copy()
    labels: dict[str, dict[float, str]] = {}
    numeric = [col for canon, (col, _) in QUESTION_COLUMNS.items() if canon != "comment"]
    for col in numeric:
        s = df[col].replace({"N/A": "-99", "Don't know": "-99", **{v: str(int(k)) for k, v in LTR_LABELS.items()}})
        df[col] = pd.to_numeric(s, errors="coerce")
        labels[col] = {-99.0: "Not applicable"}
    labels["Q1"].update({0.0: "Not at all likely", 10.0: "Extremely likely"})
    safe = {c: "".join(ch if ch.isalnum() else "_" for ch in c) for c in df.columns}
    df = df.rename(columns=safe)
    pyreadstat.write_sav(df, str(path), column_labels=[sample.questions[c] for c in sample.export.columns],
                         variable_value_labels={safe[k]: v for k, v in labels.items()},
                         missing_ranges={safe[c]: [-99.0] for c in numeric})
