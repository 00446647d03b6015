"""One derivation of the study per run (helpers.analysis.study_cache): a later notebook of the
run maps the first one's rows instead of deriving them, and gets the very same study."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from helpers import catalog, config, contract, paths
from helpers import inputs as registry
from helpers.analysis import outofcore, selection, study_cache
from helpers.ingest import schema

ARGS = ("data/processed/responses.parquet", "data/processed/survey.yaml", "config/segments.yaml")


def test_later_loads_map_the_first_derivation(tmp_path, monkeypatch) -> None:
    plain = selection.load(*ARGS)  # derived in Arrow: the frame selection.study makes with pandas
    rows = catalog.load("responses", ARGS[0])
    made = selection.study(rows, schema.load(ARGS[1]), config.load_segments(ARGS[2]))
    pd.testing.assert_frame_equal(plain.included, made.included, check_exact=True)
    assert (plain.blocks, plain.weighting) == (made.blocks, made.weighting)
    assert plain.included["weight"].notna().sum() == (plain.included["market"] == "B2C").sum() > 0
    monkeypatch.setenv(contract.STUDY_CACHE_ENV, str(tmp_path))
    first = selection.load(*ARGS)
    assert len(list(tmp_path.glob("study-*.arrow"))) == 1

    def derive_again(*_a: object) -> None:
        raise AssertionError("derived again")

    monkeypatch.setattr(study_cache, "ordered", derive_again)
    again = selection.load(*ARGS, wave=plain.waves[0])
    for found in (first, again):
        pd.testing.assert_frame_equal(found.included, plain.included, check_exact=True)
        assert (found.blocks, found.weighting, found.waves) == (plain.blocks, plain.weighting, plain.waves)
    assert again.wave == plain.waves[0] and first.wave == plain.wave
    settings = tmp_path / "segments.yaml"  # other settings: another key, derived afresh
    shutil.copy(paths.resolve(ARGS[2]), settings)
    settings.write_text(settings.read_text() + "\n# changed\n")
    assert study_cache.key(*ARGS[:2], str(settings)) != study_cache.key(*ARGS)
    with pytest.raises(AssertionError, match="derived again"):
        selection.load(*ARGS[:2], str(settings))


def _mapped_ranges(path) -> list[tuple[int, int]]:
    """Address ranges of this process where `path` is mapped (/proc/self/maps)."""
    out = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            if line.rstrip().endswith(str(path)):
                lo, hi = line.split()[0].split("-")
                out.append((int(lo, 16), int(hi, 16)))
    return out


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc (Linux)")
def test_mapped_study_holds_no_copy_of_numbers_and_dates(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(contract.STUDY_CACHE_ENV, str(tmp_path))
    selection.load(*ARGS)
    mapped = selection.load(*ARGS).included
    (cache,) = tmp_path.glob("study-*.arrow")
    ranges = _mapped_ranges(cache.resolve())
    numeric = [c for c in mapped if mapped[c].dtype.kind in "fM"]
    assert ranges and len(numeric) > 10 and mapped[numeric].isna().any().any()
    for c in numeric:
        address = mapped[c].to_numpy().__array_interface__["data"][0]
        assert any(lo <= address < hi for lo, hi in ranges), c

    before = selection.load(*ARGS).included.iloc[0]
    number = next(c for c in numeric if mapped[c].dtype.kind == "f" and mapped[c].notna().iloc[0])
    date = next(c for c in numeric if mapped[c].dtype.kind == "M" and mapped[c].notna().iloc[0])
    first = mapped.index[0]
    mapped.loc[first, number] = -1.0  # a write copies the column: the file and later loads keep theirs
    mapped.loc[first, date] = pd.Timestamp("1999-12-31")
    after = selection.load(*ARGS).included.iloc[0]
    assert (after[number], after[date]) == (before[number], before[date])
    assert mapped.loc[first, number] == -1.0 != before[number]


def test_mapped_side_tables_are_the_tables_read(tmp_path, monkeypatch) -> None:
    files = {name: f"data/processed/{inp.file}" for name, inp in registry.INPUTS.items()
             if paths.resolve(f"data/processed/{inp.file}").is_file()}
    plain = {name: catalog.load_optional(name, f) for name, f in files.items()}
    monkeypatch.setenv(contract.STUDY_CACHE_ENV, str(tmp_path))
    for _ in range(2):  # converted, then mapped
        for name, f in files.items():
            pd.testing.assert_frame_equal(study_cache.table(name, f), plain[name], check_exact=True)
    assert len(list(tmp_path.glob("table-*.arrow"))) == len(files) >= 5
    assert study_cache.table("invitations", "") is None

    inv = plain["invitations"]
    found = selection.load(*ARGS, inputs={"invitations": files["invitations"]}).invitations
    expected = inv[inv["account_id"].notna()]  # the B2B invitations with an account
    pd.testing.assert_frame_equal(found, expected[expected["market"] == "B2B"], check_exact=True)

    odd = pd.concat([inv.head(3), inv.head(3).assign(market="B2C"), inv.head(2).assign(account_id=None),
                     inv.head(2).assign(market=None)])
    study = selection.study(catalog.load("responses", ARGS[0]), schema.load(ARGS[1]),
                            config.load_segments(ARGS[2]), tables={"invitations": odd})
    pd.testing.assert_frame_equal(study.invitations, odd.iloc[:3], check_exact=True)


def test_every_row_of_a_market_is_a_slice_of_the_mapped_rows(tmp_path, monkeypatch) -> None:
    plain = selection.load(*ARGS)
    monkeypatch.setenv(contract.STUDY_CACHE_ENV, str(tmp_path))
    selection.load(*ARGS)
    mapped = selection.load(*ARGS)
    (every,) = tmp_path.glob("every-*.arrow")
    for m in selection.MARKETS:
        for waves in ("", plain.waves[-1]):
            found = mapped.market(m, waves, included=False).rows
            pd.testing.assert_frame_equal(found, plain.market(m, waves, included=False).rows,
                                          check_exact=True)
        whole = mapped.market(m, included=False).rows  # every wave: a slice, no copy
        address = whole["ltr"].to_numpy().__array_interface__["data"][0]
        assert any(lo <= address < hi for lo, hi in _mapped_ranges(every.resolve()))
        assert (~whole["include"]).any() and len(whole) > len(mapped.market(m).rows)


def test_responses_with_a_stored_index_keep_their_labels(tmp_path) -> None:
    rows = catalog.load("responses", ARGS[0]).iloc[::7]  # labels 0, 7, 14, ... stored in the file
    target = tmp_path / "responses.parquet"
    rows.to_parquet(target, index=True)
    found = selection.load(str(target), *ARGS[1:])
    made = selection.study(rows, schema.load(ARGS[1]), config.load_segments(ARGS[2]))
    pd.testing.assert_frame_equal(found.included, made.included, check_exact=True)
    assert found.included.index[:3].tolist() != [0, 1, 2] and found.blocks == made.blocks


def test_market_order_is_the_same_from_arrow_and_numpy() -> None:
    import numpy as np
    import pyarrow as pa

    names = ["B2C", "B2B", None, "Other", "B2B", "B2C", "B2B"]
    kept = np.array([True, True, True, True, False, True, True])
    want = study_cache.market_order(np.array(names, dtype=object), kept, selection.MARKETS)
    got = study_cache.market_order(pa.chunked_array([names[:3], names[3:]], pa.large_string()),
                                   kept, selection.MARKETS)
    assert np.array_equal(got[0], want[0]) and got[1] == want[1]
    assert want[0].tolist() == [1, 6, 0, 5, 2, 3] and want[1] == {"B2B": (0, 2), "B2C": (2, 4)}


def test_the_subsample_above_the_memory_budget_is_drawn_once_per_run(tmp_path, monkeypatch) -> None:
    """Above the budget every notebook works on the same stratified subsample: inside a run the
    first draws it (two scans of every row), the later ones map it, the very same rows."""
    monkeypatch.setenv("CX_MEMORY_BUDGET_GB", "0.004")
    plain = selection.load(*ARGS)
    assert plain.full is not None  # out of core
    monkeypatch.setenv(contract.STUDY_CACHE_ENV, str(tmp_path))
    first = selection.load(*ARGS)
    assert len(list(tmp_path.glob("subsample-*.arrow"))) == 1

    def draw_again(*_a: object) -> None:
        raise AssertionError("drawn again")

    monkeypatch.setattr(outofcore.FullData, "_fetch", draw_again)
    again = selection.load(*ARGS)
    for found in (first, again):
        pd.testing.assert_frame_equal(found.included, plain.included, check_exact=True)
        assert found.full is not None and found.full.rows_sampled == plain.full.rows_sampled
