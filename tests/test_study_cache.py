"""One derivation of the study per run (helpers.analysis.study_cache): a later notebook of the
run maps the first one's rows instead of deriving them, and gets the very same study."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from helpers import contract, paths
from helpers.analysis import selection, study_cache

ARGS = ("data/processed/responses.parquet", "data/processed/survey.yaml", "config/segments.yaml")


def test_later_loads_map_the_first_derivation(tmp_path, monkeypatch) -> None:
    plain = selection.load(*ARGS)
    monkeypatch.setenv(contract.STUDY_CACHE_ENV, str(tmp_path))
    first = selection.load(*ARGS)
    assert len(list(tmp_path.glob("study-*.arrow"))) == 1

    def derive_again(*_a: object) -> None:
        raise AssertionError("derived again")

    monkeypatch.setattr(selection, "_included", derive_again)
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
