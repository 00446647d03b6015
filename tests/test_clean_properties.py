"""Malformed exports through the whole `cx clean` path: a clean result or one clear line, never a traceback."""

from __future__ import annotations

import io as stdio
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import cli
from helpers.sample import program, writers


@pytest.fixture(scope="module")
def valid_export(tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("valid")
    writers.write(program.generate(rows=200, seed=1, market_data=False), out)
    return (out / "survey_export.csv").read_bytes()


def _clean(path: Path, out: Path) -> tuple[int, str]:
    err, std = stdio.StringIO(), stdio.StringIO()
    with redirect_stderr(err), redirect_stdout(std):
        code = cli.main(["clean", str(path), "--out", str(out)])
    return code, err.getvalue()


def _mutations():
    lines = st.integers(0, 60)
    return st.one_of(
        st.tuples(st.just("truncate"), st.integers(0, 20_000)),
        st.tuples(st.just("drop_line"), lines),
        st.tuples(st.just("garbage"), st.integers(0, 20_000), st.binary(min_size=1, max_size=40)),
        st.tuples(st.just("replace_ltr"), st.sampled_from(["abc", "", "N/A", "99", "-5", "1e9", "ten"])),
        st.tuples(st.just("drop_column"), st.integers(0, 56)),
        st.tuples(st.just("encoding"), st.sampled_from(["utf-16", "cp1252", "latin-1"])),
    )


def _apply(data: bytes, mutation) -> bytes:
    kind = mutation[0]
    if kind == "truncate":
        return data[: mutation[1]]
    if kind == "garbage":
        i = min(mutation[1], len(data))
        return data[:i] + mutation[2] + data[i:]
    text = data.decode("utf-8")
    rows = text.split("\n")
    if kind == "drop_line":
        i = mutation[1] % max(1, len(rows))
        return "\n".join(rows[:i] + rows[i + 1:]).encode()
    if kind == "replace_ltr":
        head = rows[0].split(",")
        col = head.index("Q1")
        out = rows[:3] + [",".join(f if j != col else mutation[1] for j, f in enumerate(r.split(",")))
                          if r.count('"') == 0 else r for r in rows[3:]]
        return "\n".join(out).encode()
    if kind == "drop_column":
        j = mutation[1]
        return "\n".join(",".join(f for k, f in enumerate(r.split(",")) if k != j) for r in rows).encode()
    return text.encode(mutation[1], errors="replace")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=_mutations())
def test_malformed_export_gives_result_or_one_line_error(valid_export, tmp_path_factory, mutation):
    folder = tmp_path_factory.mktemp("bad")
    p = folder / "export.csv"
    p.write_bytes(_apply(valid_export, mutation))
    out = folder / "out"
    code, err = _clean(p, out)
    assert code in (0, 2)
    if code == 2:
        assert err.count("\n") == 1 and "export.csv" in err, err
        assert not out.exists() or not any(out.iterdir()), "nothing may be written on failure"
    else:
        assert (out / "responses.parquet").exists()


def test_empty_file_is_a_clear_error(tmp_path):
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    code, err = _clean(p, tmp_path / "out")
    assert code == 2 and "empty.csv" in err and err.count("\n") == 1
