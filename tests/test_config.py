"""helpers.config.load_segments: the shipped config is valid and agrees with the sample generator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from helpers import config, paths
from helpers.errors import ConfigError

TRUTH = paths.RAW_DIR / "truth.json"


def _write(tmp_path: Path, mutate) -> Path:
    doc = yaml.safe_load((paths.CONFIG_DIR / "segments.yaml").read_text(encoding="utf-8"))
    mutate(doc)
    p = tmp_path / "segments.yaml"
    p.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return p


def test_shipped_segments_config_is_valid() -> None:
    cfg = config.load_segments()
    # the population the sample generator draws from (task spec): channel, age band, region
    assert cfg.b2c_margins["channel"] == {"Online": 0.50, "Store": 0.30, "Phone": 0.20}
    assert cfg.b2c_margins["age_band"] == {"18-34": 0.30, "35-54": 0.40, "55+": 0.30}
    assert cfg.b2c_margins["region"] == {"NA": 0.40, "EMEA": 0.30, "APAC": 0.20, "LATAM": 0.10}
    assert cfg.role_order[0] == "decision_maker"


@pytest.mark.skipif(not TRUTH.exists(), reason="needs the sample (cx sample)")
def test_margins_equal_generator_truth() -> None:
    truth = json.loads(TRUTH.read_text(encoding="utf-8"))
    planted = truth["b2c_population_margins"]
    cfg = config.load_segments()
    assert set(planted) == set(cfg.b2c_margins)
    for var, shares in planted.items():
        assert cfg.b2c_margins[var] == pytest.approx({str(k): float(v) for k, v in shares.items()})


@pytest.mark.parametrize(("mutate", "needle"), [
    (lambda d: d["b2c_margins"]["channel"].update(Online=0.6), "b2c_margins.channel"),
    (lambda d: d["b2b"].update(account_vote="median"), "account_vote"),
    (lambda d: d.pop("personas"), "personas"),
    (lambda d: d["personas"].update(k_min=1), "k_min"),
    (lambda d: d["weights"].update(trim_lower=2.0), "trim_lower"),
    (lambda d: d["personas"].update(criterion="elbow"), "criterion"),
])
def test_invalid_config_raises_one_line_error(tmp_path: Path, mutate, needle: str) -> None:
    p = _write(tmp_path, mutate)
    with pytest.raises(ConfigError) as err:
        config.load_segments(p)
    msg = str(err.value)
    assert needle in msg and str(p) in msg and "\n" not in msg


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml"):
        config.load_segments(tmp_path / "nope.yaml")
