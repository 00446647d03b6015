"""Cleaning finds every planted defect, removes personal data, and never writes half a result."""

import json
from pathlib import Path

import pandas as pd
import pytest

from helpers.errors import DataError
from helpers.ingest import clean, fields, privacy, readers, schema, side_tables

RULE_TO_TRUTH = {"test": "test_responses", "duplicate": "duplicates", "speeder": "speeders",
                 "straightliner": "straightliners", "out_of_range": "out_of_range", "incomplete": "blank_ltr"}


def test_every_planted_defect_is_found(cleaned, truth):
    for rule, key in RULE_TO_TRUTH.items():
        assert cleaned.log["rules"][rule]["rows"] == truth["defects"][key], rule
    assert cleaned.log["answers"]["ltr"]["labels_mapped"] == truth["defects"]["label_valued"]
    na = sum(a["not_applicable"] for k, a in cleaned.log["answers"].items() if k not in ("ltr", "ces", "csat"))
    assert na == truth["defects"]["not_applicable_answers"]


def test_flags_and_include_are_consistent(cleaned):
    r = cleaned.responses
    flags = [c for c in r.columns if c.startswith("flag_")]
    assert len(flags) == 6
    assert (r["include"] == ~r[flags].any(axis=1)).all()
    assert (r.loc[r["include"], "exclusion_reason"] == "").all()
    assert cleaned.log["funnel"][-1]["rows"] == int(r["include"].sum())
    assert r.loc[r["include"], "ltr"].between(0, 10).all()


def test_not_applicable_is_missing_never_zero(cleaned):
    items = schema.load().driver_items()
    vals = cleaned.responses[items]
    assert (vals.min() >= 1).all()


def test_no_personal_data_in_processed_files(cleaned, sample_dir):
    raw = readers.read_survey(sample_dir / "survey_export.csv").data
    emails = set(raw["RecipientEmail"].dropna()) - {""}
    lasts = {x for x in raw["RecipientLastName"].dropna() if len(x) > 3}
    ips = set(raw["IPAddress"].dropna())
    assert "@" not in (cleaned.out / "cleaning_log.json").read_text()
    text = pd.concat([pd.read_parquet(p).astype(str).stack() for p in cleaned.out.glob("*.parquet")])
    joined = "\n".join(map(str, text.tolist()))
    assert not [e for e in list(emails)[:400] if e in joined]
    assert not [ip for ip in list(ips)[:400] if ip in joined]
    assert not [n for n in lasts if f" {n}" in joined or f"{n}," in joined]
    assert "@" not in joined.replace("[email]", "")
    assert "[email]" in joined or "[phone]" in joined  # comments with contact details were masked


def test_contact_keys_are_salted(sample_dir):
    s = pd.Series(["anna@x.com", "ANNA@x.com ", None])
    a, b = privacy.hash_keys(s, "salt-1"), privacy.hash_keys(s, "salt-2")
    assert a[0] == a[1] and a[0] != b[0] and pd.isna(a[2])


def test_contact_keys_are_keyed_blake2_of_the_normalised_value() -> None:
    """The keys are the salted BLAKE2 digest of each value stripped and in lower case, whatever
    the path that computes them (keys link rows across exports and runs: they must not move)."""
    import hashlib

    values = ["Anna@X.com", " anna@x.com", "", "  ", None, "Zoë@Straße.de", "b@y.org", "b@y.org", "\tC@z.io\n"]
    for s in (pd.Series(values, dtype="string"), pd.Series(values, dtype=object), pd.Series(values)):
        keys = privacy.hash_keys(s, "salt-1")
        want = [None if v is None or not v.strip() else hashlib.blake2b(
            v.strip().lower().encode(), key=b"salt-1", digest_size=8).hexdigest() for v in values]
        assert keys.dtype == "string" and [None if pd.isna(k) else k for k in keys] == want
    assert privacy.hash_keys(pd.Series([], dtype="string"), "s").empty
    assert privacy.hash_keys(pd.Series([None, None], dtype="string"), "s").isna().all()


def test_failure_writes_nothing(tmp_path, sample_dir):
    from helpers.paths import PROJECT_ROOT
    text = (PROJECT_ROOT / "config" / "survey.yaml").read_text()
    bad = tmp_path / "schema.yaml"
    bad.write_text(text.replace("ResponseId, import_id: _recordId", "NoSuchColumn, import_id: nope"))
    out = tmp_path / "out"
    with pytest.raises(DataError, match="response_id"):
        clean.run(sample_dir / "survey_export.csv", schema_path=bad, out_dir=out)
    assert not out.exists() or not any(out.iterdir())


def test_ltr_without_numbers_is_a_clear_error(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("ResponseId,EndDate,Q1\nR_1,2026-01-01 10:00:00,great\nR_2,2026-01-02 10:00:00,fine\n")
    with pytest.raises(DataError) as err:
        clean.run(p, out_dir=tmp_path / "out")
    msg = str(err.value)
    assert "x.csv" in msg and "Q1" in msg and "\n" not in msg


def test_a_mapped_answer_column_empty_in_every_row_is_warned(tmp_path):
    p = tmp_path / "x.csv"
    rows = "".join(f"R_{i},2026-01-0{i % 9 + 1} 10:00:00,{i % 11},\n" for i in range(40))
    p.write_text("ResponseId,EndDate,Q1,Q3\n" + rows)
    (tmp_path / "s.yaml").write_text(
        "fields:\n  response_id: {column: ResponseId}\n  submitted_at: {column: EndDate, type: datetime}\n"
        "  ltr: {column: Q1, scale: [0, 10]}\n  csat: {column: Q3, scale: [1, 5]}\nmarket_rule: {all: B2C}\n",
        encoding="utf-8")
    log = clean.prepare(p, tmp_path / "s.yaml").log
    assert clean.answer_warnings(log) == [
        "warning: csat (column 'Q3'): no answer in any of the 40 rows, so it is left out of every "
        "figure; check that the schema maps the right column"]


def test_raw_folder_is_refused(tmp_path, sample_dir):
    from helpers import paths
    with pytest.raises(PermissionError):
        clean.run(sample_dir / "survey_export.csv", out_dir=paths.RAW_DIR / "x")


def test_quarter_end():
    d = pd.Series(pd.to_datetime(["2025-03-31", "2025-03-18", "2025-03-17", "2025-02-01", None]))
    assert fields.quarter_end(d).tolist()[:4] == [True, True, False, False]
    assert pd.isna(fields.quarter_end(d).iloc[4])


def test_cleaning_log_is_json(cleaned):
    doc = json.loads((cleaned.out / "cleaning_log.json").read_text())
    assert doc["input"]["rows"] == 3000 and doc["input"]["format"] == "qualtrics"
    assert doc["funnel"][0]["rows"] == 3000
    assert [f["rows"] for f in doc["funnel"]] == sorted((f["rows"] for f in doc["funnel"]), reverse=True)


def test_contact_roles_in_an_exports_own_words_become_role_codes() -> None:
    """Responses and invitations: common wordings of decision maker / influencer / user (any
    case, hyphens, a few languages) map to the codes the analyses use; others stay as written."""
    roles = pd.Series(["Decision Maker", "decision-maker", "Economic buyer", "Champion",
                       "End user", "ADMIN", "Entscheider", "Board member", None, "user"])
    assert fields.role_codes(roles).tolist() == [
        "decision_maker", "decision_maker", "decision_maker", "influencer", "user", "user",
        "decision_maker", "Board member", pd.NA, "user"]
    inv = side_tables.clean_invitations(pd.DataFrame({"wave": ["2026Q1"], "account_id": ["A"],
                                                "responded": ["yes"], "role": ["End-User"]}),
                                  "invitations.csv", "salt")
    assert inv["role"].tolist() == ["user"]


def test_warm_workers_clean_as_the_process_alone(tmp_path, sample_dir, monkeypatch):
    """A large export's clean hashes identifiers and builds the masking context in the warm
    masking workers while the fields are read: every file it writes is the same as a clean in
    one process, and a bad account master is the same one-line error."""
    import os

    if not privacy.can_fork():
        pytest.skip("no fork on this platform")
    inputs = {"accounts": sample_dir / "accounts.csv", "invitations": sample_dir / "invitations.csv"}
    alone = clean.run(sample_dir / "survey_export.csv", out_dir=tmp_path / "alone", inputs=inputs)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(clean, "WARM_MASKING_FROM_BYTES", 0)
    monkeypatch.setattr(privacy, "PARALLEL_HASHING", 100)
    submitted: list[str] = []
    real = privacy.forked_pool

    def spied(workers: int):
        pool = real(workers)
        submit = pool.submit
        monkeypatch.setattr(pool, "submit", lambda fn, *a, **k: submitted.append(getattr(fn, "__name__", "")) or submit(fn, *a, **k))
        return pool
    monkeypatch.setattr(privacy, "forked_pool", spied)
    warm = clean.run(sample_dir / "survey_export.csv", out_dir=tmp_path / "warm", inputs=inputs)
    assert {"mask_context", "hash_keys"} <= set(submitted)
    assert alone.log == warm.log
    for f in sorted((tmp_path / "alone").iterdir()):
        assert f.read_bytes() == (tmp_path / "warm" / f.name).read_bytes(), f.name
    bad = tmp_path / "accounts.csv"
    bad.write_bytes(b"account_id,account_name\n\xff\xfe\x00bad")
    with pytest.raises(DataError) as err:
        clean.run(sample_dir / "survey_export.csv", out_dir=tmp_path / "bad", inputs={"accounts": bad})
    assert "accounts.csv" in str(err.value) and "\n" not in str(err.value)


def test_bad_side_table_read_while_writing_writes_nothing(tmp_path, sample_dir):
    """The side tables are read while the responses are written to the staging folder: a bad
    one is the usual one-line error and leaves the processed folder as it was."""
    out = tmp_path / "out"
    clean.run(sample_dir / "survey_export.csv", out_dir=out)
    before = {f.name: f.read_bytes() for f in out.iterdir()}
    bad = tmp_path / "invitations.csv"
    bad.write_text("wave,account_id\n2026Q1,A1\n")
    with pytest.raises(DataError) as err:
        clean.run(sample_dir / "survey_export.csv", out_dir=out,
                  inputs={"accounts": sample_dir / "accounts.csv", "invitations": bad})
    assert "invitations.csv" in str(err.value) and "responded" in str(err.value)
    assert "\n" not in str(err.value)
    assert {f.name: f.read_bytes() for f in out.iterdir()} == before



def test_columns_read_once_are_let_go_and_change_nothing(sample_dir, monkeypatch):
    """The export's columns are dropped as their fields are read (most of a large cleaning's
    peak); the personal, competitor and unmapped columns stay for the later steps, and the
    result equals a cleaning that keeps every column."""
    sch = schema.load()
    survey = readers.read_survey(sample_dir / "survey_export.csv")
    mapped = fields.mapped(survey, sch)
    res = clean.clean_responses(survey, sch, "salt")
    left = set(survey.data.columns)
    assert not left & clean._read_once(readers.read_survey(sample_dir / "survey_export.csv"), sch, mapped)
    assert {"RecipientEmail", "IPAddress", "UserLanguage"} <= left
    assert set(res.competitor_ratings["vendor"].unique()) == set(sch.competitors)
    monkeypatch.setattr(clean, "_read_once", lambda *args: set())
    kept = readers.read_survey(sample_dir / "survey_export.csv")
    ref = clean.clean_responses(kept, sch, "salt")
    assert set(mapped.values()) <= set(kept.data.columns)
    pd.testing.assert_frame_equal(res.responses, ref.responses)
    pd.testing.assert_frame_equal(res.competitor_ratings, ref.competitor_ratings)
    assert res.log == ref.log


TINY_SCHEMA = Path(__file__).parent / "data" / "tiny_schema.yaml"  # ID, Date, Sat, Region


def _tiny_export(tmp_path, answer: str) -> tuple:
    """A 12-response export answering `answer` to its headline question, and its schema."""
    export = tmp_path / "x.csv"
    export.write_text("ID,Date,Sat,Region\n" + "".join(
        f"R{i},2026-0{i % 9 + 1}-10,{answer},North\n" for i in range(12)))
    return export, TINY_SCHEMA


def test_nothing_kept_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    """Every headline answer blank: `cx clean` names the rule that removed them all, exits 2 and
    writes nothing (it used to write 0 included rows and exit 0)."""
    from helpers import cli
    export, sch = _tiny_export(tmp_path, "")
    out = tmp_path / "out"
    assert cli.main(["clean", str(export), "--schema", str(sch), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "x.csv" in err and "no response kept: 12 of 12 responses removed as incomplete" in err
    assert "column 'Sat'" in err
    assert not out.exists()
    with pytest.raises(DataError, match="no response kept"):
        clean.prepare(export, sch)   # cx check


def test_headline_answers_no_label_maps_say_so_when_nothing_is_kept(tmp_path):
    """Headline answers in words the schema cannot map: the error names the column, examples of
    the answers and the label sets to add them to, in the run's checks as in the clean."""
    export, sch = _tiny_export(tmp_path, "Happy")
    with pytest.raises(DataError) as err:
        clean.run(export, sch, out_dir=tmp_path / "out")
    msg = str(err.value)
    assert "\n" not in msg and "column 'Sat'" in msg and "'Happy'" in msg, msg
    assert "12 of 12 answers to the headline question (csat) could not be read" in msg
    assert "answers.label_sets" in msg and not (tmp_path / "out").exists()
    with pytest.raises(DataError) as pre:
        clean.preflight(export, sch)
    assert str(pre.value) == msg


def test_preflight_cleans_a_small_export_only(tmp_path):
    export, sch = _tiny_export(tmp_path, "4")
    checked = clean.preflight(export, sch)
    assert checked is not None and checked.log["included"] == 12
    assert clean.preflight(export, sch, rows=11) is None   # larger than the rows it reads


def test_nothing_kept_in_a_folder_of_parts_publishes_nothing(tmp_path):
    export, sch = _tiny_export(tmp_path, "")
    folder = tmp_path / "parts"
    folder.mkdir()
    lines = export.read_text().splitlines(keepends=True)
    (folder / "part-0000.csv").write_text("".join(lines[:7]))
    (folder / "part-0001.csv").write_text(lines[0] + "".join(lines[7:]))
    with pytest.raises(DataError, match="no response kept: 12 of 12 responses removed as incomplete"):
        clean.run(folder, sch, out_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
