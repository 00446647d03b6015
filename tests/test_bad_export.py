"""A schema that does not fit its export stops `cx check`, `cx clean` and `cx run --raw` with one
line (schema file and line, field, column, what was found), exit 2, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import cli, paths

SCHEMA = (paths.PROJECT_ROOT / "tests" / "fixtures" / "small_export" / "survey.yaml").read_text()


def _export(path: Path, ltr_max: int = 10) -> Path:
    rows = ["REC,Product.Quality,Salesman.Knowledge,Region,Date"]
    rows += [f"{i % (ltr_max + 1) if ltr_max == 10 else 1 + i % ltr_max},{i % 11},{(3 * i) % 11},"
             f"{'North' if i % 2 else 'South'},2026-01-{1 + i % 28:02d}" for i in range(80)]
    path.write_text("\n".join(rows) + "\n")
    return path


CASES = {  # name: (schema edit, export LTR max, needles in the one line)
    "missing column": (("Salesman.Knowledge,", "Salesman.Know,"), 10,
                       ("line 11", "drivers.knowledge", "'Salesman.Know'", "'Salesman.Knowledge'")),
    "scale mismatch": (("Product.Quality, group: product, scale: [0, 10]",
                        "Product.Quality, group: product, scale: [1, 5]"), 10,
                       ("line 10", "drivers.quality", "'Product.Quality'", "values 0 to 10",
                        "outside the scale [1, 5]")),
    "LTR not 0-10": (("", ""), 5, ("line 4", "fields.ltr", "'REC'", "values 1 to 5 only",
                                   "0-10")),
    "LTR scale declared 1-5": (("REC, scale: [0, 10]", "REC, scale: [1, 5]"), 5,
                               ("line 4", "fields.ltr.scale", "0, 10")),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", ["check", "clean", "run"])
def test_bad_schema_is_one_line_exit_2_nothing_written(tmp_path: Path, case: str, command: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    (old, new), ltr_max, needles = CASES[case]
    schema = tmp_path / "survey.yaml"
    schema.write_text(SCHEMA.replace(old, new) if old else SCHEMA)
    export = _export(tmp_path / "export.csv", ltr_max)
    out = tmp_path / "out"
    argv = {"check": ["check", str(export), "--schema", str(schema)],
            "clean": ["clean", str(export), "--schema", str(schema), "--out", str(out)],
            "run": ["run", "--raw", str(export), "--schema", str(schema), "--out", str(out)]}[command]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(schema) in err
    for needle in needles:
        assert needle in err, err
    assert not out.exists()


def test_command_line_paths_are_relative_to_the_current_folder(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "survey.yaml").write_text(SCHEMA)
    _export(tmp_path / "export.csv")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["check", "export.csv", "--schema", "survey.yaml"]) == 0
    assert "next: cx run --raw export.csv --schema survey.yaml" in capsys.readouterr().out
