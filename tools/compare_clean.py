#!/usr/bin/env python3
"""Clean a set of exports and compare the outputs with an earlier set: same tables, same log.

A change that makes `cx clean` faster must not change what it writes. Run once on the old code
(`save`), once on the new (`check`): every parquet table must hold the same Arrow table (schema,
metadata and values) and every cleaning_log.json the same figures.

    python tools/compare_clean.py save DIR [EXPORT ...]
    python tools/compare_clean.py check DIR [EXPORT ...]   # exit 1 listing what differs

Without EXPORTs it cleans the test sample (data/raw with its side tables) and the real exports in
tests/data/real-exports, each with the schema `cx schema infer` drafts for it. An EXPORT given
as a path is cleaned alone with the default schema (e.g. a 200k-row `cx sample` export).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

from helpers import cli, paths

REPO = Path(__file__).resolve().parents[1]
SIDE = ("accounts", "invitations", "cx_index", "prices")


def cases(exports: list[str]) -> dict[str, list[str]]:
    """Case name -> the `cx clean` arguments (without --out)."""
    if exports:
        return {Path(e).parent.parent.name + "-" + Path(e).stem: [e] for e in exports}
    raw = paths.resolve("data/raw")
    out = {"sample": [str(raw / "survey_export.csv"),
                      *[a for s in SIDE for a in (f"--{s.replace('_', '-')}", str(raw / f"{s}.csv"))]]}
    schemas = REPO / "build" / "compare-clean-schemas"   # one path: the log names it
    schemas.mkdir(parents=True, exist_ok=True)
    for export in sorted((REPO / "tests" / "data" / "real-exports").glob("*.csv")):
        schema = schemas / f"{export.stem}.yaml"
        with contextlib.redirect_stdout(io.StringIO()):
            inferred = cli.main(["schema", "infer", str(export), "--out", str(schema)])
        if inferred == 0:
            out[export.stem] = [str(export), "--schema", str(schema)]
    return out


def clean_all(folder: Path, exports: list[str]) -> None:
    """Clean every case into folder/<case>/."""
    for name, args in cases(exports).items():
        target = folder / name
        shutil.rmtree(target, ignore_errors=True)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            code = cli.main(["clean", *args, "--out", str(target)])
        if code:
            print(f"{name}: {err.getvalue().strip()[:160]}")
        print(f"{name}: cx clean exit {code}", flush=True)


def differences(old: Path, new: Path) -> list[str]:
    """One line per table or log that differs between two cleaned folders."""
    out = []
    for case in sorted(p.name for p in old.iterdir() if p.is_dir()):
        a, b = old / case, new / case
        files = sorted({p.name for p in a.iterdir()} | {p.name for p in b.iterdir()})
        for f in files:
            if not (a / f).exists() or not (b / f).exists():
                out.append(f"{case}/{f}: only in one folder")
            elif f.endswith(".parquet"):
                ta, tb = pq.read_table(a / f), pq.read_table(b / f)
                if not ta.equals(tb, check_metadata=True):
                    cols = [c for c in ta.column_names if c not in tb.column_names
                            or not ta[c].equals(tb[c])]
                    out.append(f"{case}/{f}: differs ({ta.num_rows} vs {tb.num_rows} rows; columns {cols})")
            elif f.endswith(".json"):
                ja, jb = (json.loads((p / f).read_text(encoding="utf-8")) for p in (a, b))
                keys = sorted(k for k in set(ja) | set(jb) if ja.get(k) != jb.get(k))
                if keys:
                    out.append(f"{case}/{f}: differs in {keys}")
            elif (a / f).read_bytes() != (b / f).read_bytes():
                out.append(f"{case}/{f}: differs")
    return out


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("save", "check"):
        print(__doc__)
        return 2
    folder, exports = Path(argv[1]), argv[2:]
    if argv[0] == "save":
        clean_all(folder, exports)
        return 0
    with tempfile.TemporaryDirectory(prefix="compare_clean_") as tmp:
        clean_all(Path(tmp), exports)
        diff = differences(folder, Path(tmp))
    print("\n".join(diff) if diff else f"identical: every case in {folder}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
