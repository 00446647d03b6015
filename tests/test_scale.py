"""Scaling without changing conclusions (issue 16): stratified subsamples for the methods that
cannot scale exactly, per-cluster sufficient statistics for bootstraps, and the numpy models
that replace per-fit library overhead, each checked against the exact or reference result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from helpers.analysis import (
    drivers,
    headline,
    personas,
    priority,
    segments,
    selection,
    subsample,
    text,
)
from helpers.analysis.modelling import NO_BOOTSTRAP, Bootstrap
from helpers.errors import DataError


# --------------------------------------------------------------------- the subsample itself
def _panel(n_acc: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(n_acc):
        for w in ("2026Q1", "2026Q2", "2026Q3"):
            if rng.random() < (0.9 if w != "2026Q3" else 0.5):
                rows += [{"account_id": f"A{a}", "wave": w}] * int(rng.integers(1, 6))
    return pd.DataFrame(rows)


def test_subsample_is_proportional_by_stratum_and_keeps_clusters_whole() -> None:
    df = _panel(3000, seed=1)
    sub = subsample.subsample(df, 6000, cluster="account_id", seed=3)
    assert sub.sampled and abs(len(sub.rows) - 6000) < 60
    share = df["wave"].value_counts(normalize=True)
    got = sub.rows["wave"].value_counts(normalize=True)
    assert (got - share).abs().max() < 0.01                      # proportional allocation
    for a, g in sub.rows.groupby(["account_id", "wave"]):        # whole clusters in a stratum
        assert len(g) == ((df["account_id"] == a[0]) & (df["wave"] == a[1])).sum()
    kept = sub.rows.groupby("account_id")["wave"].nunique()
    assert (kept >= 2).mean() > 0.7                              # panel accounts largely kept
    assert (sub.positions == np.flatnonzero(df.index.isin(sub.rows.index))).all()
    assert "stratified random subsample of" in sub.note() and "size parameter 6,000" in sub.note()
    again = subsample.subsample(df, 6000, cluster="account_id", seed=3)
    assert again.rows.index.equals(sub.rows.index)               # deterministic for a seed


def test_subsample_keeps_everything_when_small_and_refuses_nonsense() -> None:
    df = _panel(50, seed=2)
    sub = subsample.subsample(df, 10_000, cluster="account_id")
    assert not sub.sampled and sub.rows is df and sub.note().startswith(f"all {len(df):,}")
    with pytest.raises(DataError, match="subsample size 0"):
        subsample.subsample(df, 0)


# --------------------------------------------------------------------- conclusions are stable
def _nonmonotonic(n: int, seed: int) -> pd.DataFrame:
    """'mid' creates promoters only at exactly 3 (an inverted U); 'lin' linearly."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 6, size=(n, 4)).astype(float)
    eta = 0.5 * (x[:, 0] - 3) + 0.15 * (x[:, 1] - 3) + 2.0 * (x[:, 2] == 3) - 0.6
    ltr = np.where(rng.random(n) < expit(eta), 9.0, 5.0)
    return pd.DataFrame(x, columns=["lin", "weak", "mid", "noise"]).assign(
        ltr=ltr, wave=np.where(np.arange(n) % 3 == 0, "2026Q2", "2026Q3"),
        acc=(np.arange(n) // 4).astype(str))


def test_nonlinear_check_conclusion_is_the_same_on_its_subsample() -> None:
    df = _nonmonotonic(24_000, seed=5)
    items = ["lin", "weak", "mid", "noise"]
    cv = drivers.CrossValidation(folds=3, n_repeats=1, seed=1)
    full = drivers.nonlinear_check(df, items, cluster="acc", cv=cv)
    part = drivers.nonlinear_check(df, items, cluster="acc", cv=cv, sample=6_000)
    assert part.auc["n"].iloc[0] < 6_100 < full.auc["n"].iloc[0]
    assert "subsample of" in part.sample_note and "all 24,000" in full.sample_note
    for res in (full, part):   # the planted threshold effect is found either way
        more = res.disagreements[res.disagreements["verdict"].str.startswith("boosting sees more")]
        assert set(more["driver"]) == {"mid"}
        imp = res.importance.set_index("driver")
        assert imp.loc["mid", "rank_boosting"] <= 2 and imp.loc["mid", "rank_logistic"] >= 3
    gain = [float(r.auc.set_index("model")["auc"].diff().iloc[-1]) for r in (full, part)]
    assert min(gain) > 0.02 and abs(gain[0] - gain[1]) < 0.02
    assert "subsample of" in drivers.nonlinear_summary({("X", "promoter"): part})["rows"].iloc[0]


def _three_personas(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centre = np.array([[1.5, 1.5, 4.5, 4.5], [4.5, 4.5, 1.5, 1.5], [4.5, 4.5, 4.5, 4.5]])
    g = rng.integers(0, 3, n)
    x = np.clip(np.rint(centre[g] + rng.normal(0, 0.6, (n, 4))), 1, 5)
    ltr = np.clip(np.rint(5 + 2 * g + rng.normal(0, 1.5, n)), 0, 10)
    return pd.DataFrame(x, columns=list("abcd")).assign(
        ltr=ltr, truth=g, wave=np.where(rng.random(n) < 0.5, "2026Q2", "2026Q3"))


def test_personas_fitted_on_a_subsample_find_the_same_personas() -> None:
    from sklearn.metrics import adjusted_rand_score

    df = _three_personas(30_000, seed=7)
    full = personas.find_personas(df, list("abcd"), options=personas.PersonaOptions(k_max=5, seeds=(0, 1)))
    part = personas.find_personas(df, list("abcd"),
                                  options=personas.PersonaOptions(k_max=5, seeds=(0, 1), sample=3_000))
    assert full.k == part.k == 3
    assert "subsample of" in part.sample_note and "nearest persona" in part.sample_note
    assert part.labels.notna().all()                       # every respondent gets a persona
    assert adjusted_rand_score(full.labels, part.labels) > 0.95
    a, b = full.table.set_index("persona"), part.table.set_index("persona")
    assert (b["nps"] - a["nps"]).abs().max() < 2.0         # persona NPS within 2 points
    assert ((b["nps"] >= a["ci_low"]) & (b["nps"] <= a["ci_high"])).all()


def _planted_comments(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    topics = {"delivery": ["delivery late", "late delivery again", "delivery arrived late"],
              "support": ["support helpful", "helpful support agent", "support was helpful"],
              "price": ["price too high", "high price", "price increase too high"]}
    group = rng.choice(["promoter", "passive", "detractor"], n)
    # promoters talk about support, detractors about delivery and price (each topic ~ a third)
    p = {"promoter": [0.15, 0.7, 0.15], "passive": [0.34, 0.33, 0.33], "detractor": [0.55, 0.0, 0.45]}
    topic = [rng.choice(list(topics), p=p[g]) for g in group]
    text_ = [rng.choice(topics[t]) for t in topic]
    return pd.DataFrame({"comment": text_, "nps_group": group, "topic": topic})


def test_themes_from_a_subsample_carry_the_same_contrast() -> None:
    df = _planted_comments(12_000, seed=3)
    full = text.themes(df["comment"], n_themes=3, seed=0)
    part = text.themes(df["comment"], n_themes=3, seed=0, sample=2_000, strata=df["nps_group"])
    assert part.assignment.notna().sum() == pytest.approx(2_000, abs=5)
    assert "subsample of" in part.sample_note and "subsample of" in text.language_note(
        {"B2C": part}) and not full.sample_note
    kept = part.assignment.notna()
    assert (df.loc[kept, "nps_group"].value_counts(normalize=True)
            - df["nps_group"].value_counts(normalize=True)).abs().max() < 0.01
    for th in (full, part):   # each theme is one planted topic; support leans promoter
        got = th.assignment.dropna()
        purity = pd.crosstab(got, df.loc[got.index, "topic"]).max(axis=1) / got.value_counts()
        assert (purity > 0.95).all()
        c = text.theme_contrast(th.assignment, df["nps_group"]).set_index("theme")
        support = [t for t in c.index if "support" in t or "helpful" in t][0]
        assert c.loc[support, "estimate"] > 30 and c.drop(support)["estimate"].lt(0).all()


# --------------------------------------------------------------------- bootstraps and models
def _clustered_logit_data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    acc = rng.integers(0, n // 6, n)
    u = rng.normal(0, 0.8, n // 6 + 1)[acc]
    x = rng.integers(1, 6, size=(n, 3)).astype(float)
    eta = 0.9 * (x[:, 0] - 3) + 0.4 * (x[:, 1] - 3) + u
    v = rng.random(n)
    ltr = np.where(v < expit(-1 - eta), 3.0, np.where(v > 1 - expit(eta - 1.5), 10.0, 8.0))
    return pd.DataFrame(x, columns=["good", "fair", "noise"]).assign(
        ltr=ltr, acc=acc.astype(str), w=rng.uniform(0.5, 2.0, n))


def test_what_if_one_step_bootstrap_agrees_with_refits_within_monte_carlo_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    df = _clustered_logit_data(6000, seed=8)
    items = ["good", "fair", "noise"]
    refit = priority.what_if(df, items, cluster="acc", bootstrap=Bootstrap(200, seed=3))
    monkeypatch.setattr(priority, "MAX_REFIT_PATTERNS", 0)
    step = priority.what_if(df, items, cluster="acc", bootstrap=Bootstrap(200, seed=3))
    assert refit.attrs["resampling"] == "refit"
    assert step.attrs["resampling"] == "one Newton step per resample"
    assert step["estimate"].to_numpy() == pytest.approx(refit["estimate"].to_numpy())
    # the same resamples: the two bootstraps differ by far less than their Monte Carlo error
    # (SE of a 2.5% quantile from 200 resamples ~ 0.19 bootstrap SEs)
    for col in ("ci_low", "ci_high"):
        assert ((step[col] - refit[col]).abs() < 0.1 * refit["se"]).all(), col
    assert ((step["se"] / refit["se"] - 1).abs() < 0.05).all()


def test_what_if_on_answer_patterns_equals_the_row_by_row_fit() -> None:
    df = _clustered_logit_data(1500, seed=9)
    items = ["good", "fair", "noise"]
    out = priority.what_if(df, items, cluster="acc", weights="w", bootstrap=NO_BOOTSTRAP)
    assert out.attrs["patterns"] <= 125 < len(df)
    x, y_ltr, w, _ = drivers.model_frame(df, items, "ltr", "acc", "w")
    q25, med = np.array([priority._wquantile(x[:, j], w, (0.25, 0.5)) for j in range(3)]).T
    moved = [np.where(x[:, j] <= q25[j], np.maximum(x[:, j], med[j]), x[:, j]) for j in range(3)]
    rows, _ = priority._what_if_effects(x, drivers.target_flag(y_ltr, "promoter"),
                                       drivers.target_flag(y_ltr, "detractor"), w, moved)
    assert out.loc[items, "estimate"].to_numpy() == pytest.approx(rows, rel=1e-9)


# --------------------------------------------------------------------- exports in parts
def _parts_and_whole(tmp_path, rows: int = 6000, part_rows: int = 2000):
    """A sample written as parts, and the same rows as one export file."""
    from helpers.sample import writers

    raw = tmp_path / "raw"
    writers.write_parts(rows, raw, seed=5, part_rows=part_rows)
    parts = sorted((raw / "survey_export").glob("part-*.csv"))
    whole = raw / "whole.csv"
    with open(whole, "wb") as out:
        for k, p in enumerate(parts):
            lines = p.read_bytes().splitlines(keepends=True)
            out.writelines(lines if k == 0 else lines[3:])   # 3 Qualtrics header rows
    return raw, parts, whole



def _same_responses(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """The responses cleaned whole (`a`) and in parts (`b`) are the same. Each part learns the
    programme's vocabulary (words that are no names) from its own comments, so a word recurring
    only across parts may be masked there: more masking, never less."""
    a, b = a.reset_index(drop=True), b[a.columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(a.drop(columns="comment"), b.drop(columns="comment"))
    differ = a["comment"].fillna("") != b["comment"].fillna("")
    assert differ.mean() < 0.01
    placeholders = r"\[[a-z ]+\]"
    assert (b.loc[differ, "comment"].str.count(placeholders)
            >= a.loc[differ, "comment"].str.count(placeholders)).all()

def test_cleaning_parts_equals_cleaning_the_whole_export(tmp_path) -> None:
    from helpers.ingest import clean

    raw, parts, whole = _parts_and_whole(tmp_path)
    one = clean.run(whole, out_dir=tmp_path / "one", inputs={"accounts": raw / "accounts.csv"})
    many = clean.run(raw / "survey_export", out_dir=tmp_path / "many",
                     inputs={"accounts": raw / "accounts.csv"})
    a = pd.read_parquet(tmp_path / "one" / "responses.parquet").sort_values("response_id")
    b = pd.read_parquet(tmp_path / "many" / "responses.parquet").sort_values("response_id")
    assert (tmp_path / "many" / "responses.parquet").is_dir() and len(list(
        (tmp_path / "many" / "responses.parquet").iterdir())) == len(parts) == 3
    _same_responses(a, b)
    assert one.log["rules"] == many.log["rules"] and one.log["funnel"] == many.log["funnel"]
    assert one.log["included"] == many.log["included"] == int(b["include"].sum())
    assert one.log["answers"] == many.log["answers"]
    assert many.log["input"]["rows"] == len(a) and "3 parts" in many.log["input"]["file"]
    assert (clean.ltr_distribution(one.responses) == clean.ltr_distribution(many.responses)).all().all()


def test_a_duplicate_across_parts_is_caught_and_the_latest_kept(tmp_path) -> None:
    from helpers.ingest import clean

    raw, parts, _ = _parts_and_whole(tmp_path, rows=3000, part_rows=1500)
    first = parts[0].read_text(encoding="utf-8").splitlines(keepends=True)
    second = parts[1].read_text(encoding="utf-8").splitlines(keepends=True)
    second.append(first[3])   # part 0's first response submitted again in part 1 (same contact)
    parts[1].write_text("".join(second), encoding="utf-8")
    clean.run(raw / "survey_export", out_dir=tmp_path / "out")
    df = pd.read_parquet(tmp_path / "out" / "responses.parquet")
    rid = pd.read_csv(parts[0], skiprows=[1, 2], nrows=1)["ResponseId"].iloc[0]
    same = df[df["response_id"] == rid]
    assert len(same) == 2 and same["flag_duplicate"].sum() == 1


def test_a_malformed_row_in_a_part_is_one_line_and_nothing_is_published(tmp_path) -> None:
    from helpers.ingest import clean

    raw, parts, _ = _parts_and_whole(tmp_path, rows=3000, part_rows=1000)
    out = tmp_path / "processed"
    clean.run(raw / "survey_export", out_dir=out)
    before = {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("*")}
    lines = parts[1].read_text(encoding="utf-8").splitlines(keepends=True)
    lines[500] = "R_broken,only,three\n"
    parts[1].write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DataError) as err:
        clean.run(raw / "survey_export", out_dir=out)
    msg = str(err.value)
    assert "part-001.csv" in msg and "row 501" in msg and "\n" not in msg
    after = {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("*")}
    assert after == before   # nothing half-written


def test_parts_cleaned_in_parallel_processes_equal_one_at_a_time(tmp_path, monkeypatch) -> None:
    """Parts (and the side tables in parts) cleaned in forked processes give byte-identical
    tables and the same log as one part after the other; a part's error crosses back whole."""
    from helpers.ingest import clean, parts

    if not parts.privacy.can_fork():
        pytest.skip("the platform cannot fork")
    raw, files, _ = _parts_and_whole(tmp_path, rows=4000, part_rows=1000)
    inputs = {"accounts": raw / "accounts.csv", "invitations": raw / "invitations"}  # parts too
    logs = {}
    for processes in (1, 2):
        monkeypatch.setattr(parts, "_processes", lambda files, n=processes: n)
        logs[processes] = clean.run(raw / "survey_export", out_dir=tmp_path / f"p{processes}",
                                    inputs=inputs).log
    one, two = tmp_path / "p1", tmp_path / "p2"
    written = sorted(p.relative_to(one) for p in one.rglob("*.parquet") if p.is_file())
    assert len(written) >= 4 + 3 and any("invitations" in str(p) for p in written)
    for rel in written:
        assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel
    assert logs[1] == logs[2]
    lines = files[2].read_text(encoding="utf-8").splitlines(keepends=True)
    lines[300] = "R_broken,only,three\n"
    files[2].write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DataError) as err:
        clean.run(raw / "survey_export", out_dir=tmp_path / "p2")
    assert "part-002.csv" in str(err.value) and "row 301" in str(err.value)
    assert err.value.row == 301


def test_parts_at_once_fit_the_cores_and_the_memory_budget(tmp_path, monkeypatch) -> None:
    from helpers.ingest import parts

    files = []
    for k in range(6):
        files.append(tmp_path / f"part-{k}.csv")
        files[-1].write_bytes(b"x" * 1_000_000)        # 1 MB: about 5 MB to clean
    monkeypatch.setattr(parts.os, "cpu_count", lambda: 4)
    monkeypatch.setenv("CX_MEMORY_BUDGET_GB", "1")
    assert parts._processes(files) == (4 if parts.privacy.can_fork() else 1)
    monkeypatch.setenv("CX_MEMORY_BUDGET_GB", "0.012")  # room for two at once
    assert parts._processes(files) == (2 if parts.privacy.can_fork() else 1)
    monkeypatch.setenv("CX_MEMORY_BUDGET_GB", "0.001")
    assert parts._processes(files) == 1
    assert parts._processes(files[:1]) == 1


# --------------------------------------------------------------------- the memory budget
@pytest.mark.skipif(not (selection.paths.PROCESSED_DIR / "responses.parquet").exists(),
                    reason="run `make test-data` first")
def test_above_the_memory_budget_aggregates_use_all_rows_out_of_core(monkeypatch) -> None:
    args = ("data/processed/responses.parquet", "data/processed/survey.yaml",
            "config/segments.yaml")
    whole = selection.load(*args)
    monkeypatch.setenv("CX_MEMORY_BUDGET_GB", "0.004")
    large = selection.load(*args)
    assert whole.full is None and large.full is not None and large.full.engine.name == "duckdb"
    assert len(large.included) < 0.5 * len(whole.included)          # a subsample in memory
    assert "exceed the memory budget" in large.describe() and "subsample of" in large.describe()
    share = lambda d: d.included.groupby(["market", "wave"]).size() / len(d.included)  # noqa: E731
    assert (share(large) - share(whole)).abs().max() < 0.03         # stratified by market, wave
    sampled = large.included.dropna(subset=["account_id"])
    full = whole.included.groupby(["account_id", "wave"]).size()
    kept = sampled.groupby(["account_id", "wave"]).size()
    assert (kept == full.reindex(kept.index)).all()                 # whole accounts in a wave
    for fn in (headline.market_headline, segments.market_segments, segments.market_trends,
               segments.market_changes):
        a, b = fn(whole), fn(large)                                  # all rows, out of core
        num = [c for c in a.columns if pd.api.types.is_numeric_dtype(a[c])]
        np.testing.assert_allclose(b[num].to_numpy(float), a[num].to_numpy(float),
                                   rtol=1e-9, atol=1e-9, err_msg=fn.__name__)


def test_one_export_file_above_the_memory_budget_is_streamed_into_parts(tmp_path, monkeypatch) -> None:
    from helpers.ingest import clean, parts

    raw, _, whole = _parts_and_whole(tmp_path, rows=3000, part_rows=1500)
    one = clean.run(whole, out_dir=tmp_path / "one")                 # in memory
    monkeypatch.setenv("CX_MEMORY_BUDGET_GB", "0.001")
    monkeypatch.setattr(parts, "PART_ROWS", 700)
    with pytest.raises(DataError) as err:                             # cx check holds it whole
        clean.prepare(whole)
    assert "whole.csv" in str(err.value) and "memory budget of 0.001 GB" in str(err.value)
    clean.preflight(whole)                                            # reads its first records
    many = clean.run(whole, out_dir=tmp_path / "many")
    a = pd.read_parquet(tmp_path / "one" / "responses.parquet").sort_values("response_id")
    b = pd.read_parquet(tmp_path / "many" / "responses.parquet").sort_values("response_id")
    assert len(list((tmp_path / "many" / "responses.parquet").iterdir())) == 5   # 3000 / 700
    _same_responses(a, b)
    assert one.log["rules"] == many.log["rules"] and one.log["included"] == many.log["included"]
    assert many.log["input"]["file"] == "whole.csv" and many.log["input"]["rows"] == 3000
    assert not list(tmp_path.glob(".cx-parts-*"))                     # the parts are removed


def test_a_malformed_row_in_a_large_export_file_names_the_file_and_its_row(tmp_path, monkeypatch) -> None:
    from helpers.ingest import clean, parts

    _, _, whole = _parts_and_whole(tmp_path, rows=3000, part_rows=1500)
    lines = whole.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2000] = "R_broken,only,three\n"                           # record 2001, in part 3
    whole.write_text("".join(lines), encoding="utf-8")
    monkeypatch.setenv("CX_MEMORY_BUDGET_GB", "0.001")
    monkeypatch.setattr(parts, "PART_ROWS", 700)
    out = tmp_path / "processed"
    with pytest.raises(DataError) as err:
        clean.run(whole, out_dir=out)
    msg = str(err.value)
    assert msg.startswith(str(whole)) and "row 2001" in msg and "\n" not in msg
    assert not any(out.glob("*")) and not list(tmp_path.glob(".cx-parts-*"))   # nothing written


def test_the_out_of_core_engine_starts_inside_a_notebook_kernel() -> None:
    """Inside a Jupyter kernel DuckDB refuses to switch its progress bar off without ipywidgets
    (a whole 20M run failed on it in every notebook): the engine still connects and answers."""
    from jupyter_client.manager import start_new_kernel

    km, client = start_new_kernel(kernel_name="python3")
    try:
        code = ("from helpers.stats.moments import DuckDBEngine\n"
                "print(DuckDBEngine({}).connection().execute('SELECT 41 + 1').fetchone()[0])")
        seen: list[str] = []
        reply = client.execute_interactive(
            code, timeout=120, output_hook=lambda m: seen.append(str(m["content"].get("text", ""))))
        assert reply["content"]["status"] == "ok", reply["content"]
        assert "42" in "".join(seen)
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)
