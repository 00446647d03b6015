"""Sample profiles: the generated programme in the shapes real programmes come in (`cx sample --profile`).

Real programmes have their own question sets and rarely every input. Each profile reshapes the
full sample (:func:`helpers.sample.program.generate`) and writes the export, the side files it
has and a survey schema for it (``survey.yaml``) that maps the export as it is:

- ``full``: today's programme: B2B and B2C, accounts, invitations, competitors, market data.
- ``b2c-only``: B2C responses only, no account, rep or journey fields, no side files.
- ``b2b-responses``: B2B responses only, accounts only as a column of the export, no account
  master, invitations, reps, renewal outcomes, competitors or market data, no CES.
- ``custom``: the full responses with the programme's own names: every item and field renamed
  and reordered, groups renamed, one item asked on 0-10 instead of 1-5, a plain CSV with ISO
  dates; the schema maps them. Its numbers equal the full sample's.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from helpers import paths
from helpers.sample import program, writers

PROFILES = ("full", "b2c-only", "b2b-responses", "custom")
B2B_ONLY_FIELDS = ("account_id", "role", "rep_id", "industry", "tier", "deal_close_date",
                   "go_live_planned", "go_live_date", "last_rep_touch_at")
B2C_ONLY_FIELDS = ("channel", "age_band", "tenure_band")
#: custom profile: export column -> its own name (drivers and fields renamed, one item on 0-10)
CUSTOM_COLUMNS = {
    "Q1": "REC", "Q2": "Effort", "Q3": "Satisfaction", "Q7": "Why",
    "Q4_1": "Vertrieb.Needs", "Q4_2": "Vertrieb.Expectations", "Q4_3": "Vertrieb.Pricing",
    "Q4_4": "Vertrieb.Speed", "Q4_5": "Vertrieb.Knowledge",
    "Q5_1": "Rollout.OnTime", "Q5_2": "Rollout.OnBudget", "Q5_3": "Rollout.Training",
    "Q5_4": "Rollout.Communication", "Q5_5": "Rollout.TimeToValue",
    "Q6_1": "Shop.Purchase", "Q6_2": "Shop.Delivery", "Q6_3": "Shop.Quality",
    "Q6_4": "Shop.Support", "Q6_5": "Shop.Value", "Q6_6": "Shop.App",
    "Market": "Business", "AccountID": "Customer No", "ContactRole": "Function", "RepID": "Owner",
    "Wave": "Survey round", "Region": "Territory", "Industry": "Sector", "Tier": "Size",
    "Channel": "Bought via", "AgeBand": "Age group", "Tenure": "Customer for",
    "EndDate": "Submitted", "ResponseId": "Response", "RecipientEmail": "Email",
    "StartDate": "Started", "Status": "Response type", "IPAddress": "IP", "Progress": "Progress pct",
    "Duration (in seconds)": "Seconds", "Finished": "Complete", "RecordedDate": "Recorded",
    "DistributionChannel": "Source", "UserLanguage": "Language", "RecipientLastName": "Last name",
    "RecipientFirstName": "First name", "ExternalReference": "External ref",
    "LocationLatitude": "Lat", "LocationLongitude": "Lon",
}
CUSTOM_FIELDS = {"region": "territory", "industry": "sector", "tier": "size", "role": "role",
                 "channel": "bought_via", "age_band": "age_band", "tenure_band": "customer_for"}
RESCALED_ITEM = "Vertrieb.Needs"
RATING_LABELS = {"very poor": 1, "poor": 2, "fair": 3, "good": 4, "very good": 5, "excellent": 5}   # asked on 0-10 in the custom profile (1-5 x 2.5 - 2.5)


def write(profile: str, out_dir: str | Path, rows: int = 5000, seed: int = 42,
          gaming: bool = True) -> dict[str, Path]:
    """Generate `profile` and write its export, side files, truth.json and survey.yaml
    (and, for ``custom``, segments.yaml); returns the paths by name."""
    if profile not in PROFILES:
        raise ValueError(f"profile {profile!r} unknown; expected one of {', '.join(PROFILES)}")
    sample = program.generate(rows=rows, seed=seed, gaming=gaming)
    base = yaml.safe_load((paths.CONFIG_DIR / "survey.yaml").read_text(encoding="utf-8"))
    if profile == "full":
        shaped, schema, fmt = sample, base, "qualtrics"
    elif profile == "b2c-only":
        shaped, schema, fmt = _b2c_only(sample), _b2c_schema(base), "qualtrics"
    elif profile == "b2b-responses":
        shaped, schema, fmt = _b2b_responses(sample), _b2b_schema(base), "qualtrics"
    else:
        shaped, schema, fmt = _custom(sample), _custom_schema(base), "csv"
    written = writers.write(shaped, out_dir, fmt=fmt)
    written["rows"] = len(shaped.export)  # type: ignore[assignment]  # (count, not a path)
    target = Path(out_dir) / "survey.yaml"
    target.write_text(f"# Survey schema of the sample profile {profile!r} (cx sample --profile).\n"
                      + yaml.safe_dump(schema, sort_keys=False, allow_unicode=True), encoding="utf-8")
    written["schema"] = target
    if profile == "custom":  # population margins keyed by the programme's own field names
        settings = yaml.safe_load((paths.CONFIG_DIR / "segments.yaml").read_text(encoding="utf-8"))
        settings["b2c_margins"] = {CUSTOM_FIELDS.get(k, k): v for k, v in settings["b2c_margins"].items()}
        written["segments"] = Path(out_dir) / "segments.yaml"
        written["segments"].write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    return written


def _keep(sample: program.Sample, rows: pd.Series, drop: list[str]) -> program.Sample:
    """The sample with only `rows` of the export, without the `drop` columns or any side file."""
    export = sample.export.loc[rows.to_numpy(), [c for c in sample.export.columns if c not in drop]]
    return replace(sample, export=export.reset_index(drop=True),
                   questions={c: q for c, q in sample.questions.items() if c not in drop},
                   import_ids={c: q for c, q in sample.import_ids.items() if c not in drop},
                   accounts=None, invitations=None, cx_index=None, prices=None)


def _columns_of(schema: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    return [schema["fields"][n]["column"] for n in names if n in schema["fields"]]


def _b2c_only(sample: program.Sample) -> program.Sample:
    base = yaml.safe_load((paths.CONFIG_DIR / "survey.yaml").read_text(encoding="utf-8"))
    drop = ["Market", *_columns_of(base, B2B_ONLY_FIELDS), "Q4_1", "Q4_2", "Q4_3", "Q4_4", "Q4_5",
            "Q5_1", "Q5_2", "Q5_3", "Q5_4", "Q5_5", "Q8_1", "Q8_2", "Q8_3", "Q8_4"]
    return _keep(sample, sample.export["Market"] == "B2C", drop)


def _b2c_schema(base: dict[str, Any]) -> dict[str, Any]:
    s = copy.deepcopy(base)
    for n in ("market", *B2B_ONLY_FIELDS):
        s["fields"].pop(n, None)
    s["drivers"] = {k: v for k, v in s["drivers"].items() if v["group"] == "touchpoint"}
    s["markets"] = {"B2C": ["touchpoint"]}
    s["segments"] = {"B2C": s["segments"]["B2C"]}
    s["market_rule"] = {"all": "B2C"}
    s.pop("stages", None)
    s["competitors"] = {}
    return s


def _b2b_responses(sample: program.Sample) -> program.Sample:
    drop = ["Market", "RepID", "DealCloseDate", "GoLivePlanned", "GoLiveDate", "LastRepTouch", "Q2",
            "Channel", "AgeBand", "Tenure", "Q6_1", "Q6_2", "Q6_3", "Q6_4", "Q6_5", "Q6_6",
            "Q8_1", "Q8_2", "Q8_3", "Q8_4"]
    return _keep(sample, sample.export["Market"] == "B2B", drop)


def _b2b_schema(base: dict[str, Any]) -> dict[str, Any]:
    s = copy.deepcopy(base)
    for n in ("market", "ces", "rep_id", "deal_close_date", "go_live_planned", "go_live_date",
              "last_rep_touch_at", *B2C_ONLY_FIELDS):
        s["fields"].pop(n, None)
    s["drivers"] = {k: v for k, v in s["drivers"].items() if v["group"] != "touchpoint"}
    s["markets"] = {"B2B": ["sales", "implementation"]}
    s["segments"] = {"B2B": s["segments"]["B2B"]}
    s["market_rule"] = {"b2b_when_present": "account_id"}
    s["competitors"] = {}
    return s


def _custom(sample: program.Sample) -> program.Sample:
    """Every mapped column renamed, columns shuffled, one item on 0-10, plain CSV, ISO dates."""
    export = sample.export.rename(columns=CUSTOM_COLUMNS)
    text = export[RESCALED_ITEM].str.strip()
    item = pd.to_numeric(text.str.extract(r"^\s*(-?\d+)", expand=False), errors="coerce")
    item = item.fillna(text.str.lower().map(RATING_LABELS))
    rescaled = (item * 2.5 - 2.5).round(1)
    keep = item.isna() | text.isin(["-99", "-98", "-97"])  # not-applicable codes stay as they are
    export[RESCALED_ITEM] = text.where(keep, rescaled.map("{:g}".format))
    order = np.random.default_rng(7).permutation(export.columns.to_numpy())
    export = export[list(order)]
    for col in ("Submitted", "Started", "Recorded"):
        export[col] = export[col].str.replace(" ", "T", regex=False)
    rename = {**{c: c for c in sample.questions}, **CUSTOM_COLUMNS}
    return replace(sample, export=export,
                   questions={rename[c]: q for c, q in sample.questions.items()},
                   import_ids={})


def _custom_schema(base: dict[str, Any]) -> dict[str, Any]:
    """The full schema with the custom profile's names: fields, items and groups renamed."""
    s = copy.deepcopy(base)
    field_names = CUSTOM_FIELDS
    fields = {}
    for name, spec in s["fields"].items():
        col = CUSTOM_COLUMNS.get(spec.get("column"), spec.get("column"))
        fields[field_names.get(name, name)] = {"column": col, **{k: v for k, v in spec.items()
                                                                if k in ("type", "scale", "labels")}}
    s["fields"] = fields
    groups = {"sales": "vertrieb", "implementation": "rollout", "touchpoint": "shop"}
    drivers = {}
    for i, spec in enumerate(base["drivers"].values()):
        col = CUSTOM_COLUMNS[f"Q{spec['import_id'][3]}_{spec['import_id'].split('_')[1]}"]
        drivers[f"item_{i + 1:02d}_{col.split('.')[1].lower()}"] = {
            "column": col, "group": groups[spec["group"]], "label": spec["label"],
            "scale": [0, 10] if col == RESCALED_ITEM else spec["scale"],
            **({"type": "number"} if col == RESCALED_ITEM else {})}  # 0, 2.5, ... 10: not whole
    s["drivers"] = dict(reversed(list(drivers.items())))      # another order as well
    s["markets"] = {m: [groups[g] for g in gs] for m, gs in base["markets"].items()}
    s["stages"] = {"sales": "vertrieb", "implementation": "rollout"}
    s["segments"] = {m: [field_names[f] for f in fs] for m, fs in base["segments"].items()}
    s["competitors"] = {v: {"column": f"Q8_{spec['import_id'].split('_')[1]}"}
                        for v, spec in base["competitors"].items()}
    s["personal"] = {n: {"column": CUSTOM_COLUMNS.get(spec["column"], spec["column"]),
                         "action": spec["action"]}
                     for n, spec in base["personal"].items() if "column" in spec}
    return s
