"""Which responses an analysis uses: one selector for every notebook and the command line.

:func:`study` reads the cleaned responses once, assigns each row its market by the configured
rule, raking-weights B2C within each wave and fixes the reported wave. :meth:`Study.market` then
gives the rows of one market and a choice of waves together with their survey design: B2B
contacts are clustered in accounts; B2C contacts carry raking weights and a contact unit (a
consumer who answered in several waves is one unit; an anonymous response is its own). Notebooks
and ``cx drivers`` both select through here, so the same parameters give the same numbers.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from helpers import catalog, config, contract, paths
from helpers import inputs as registry
from helpers.analysis import study_cache
from helpers.analysis.waves import partial_wave_note, reported_wave
from helpers.config import SegmentsConfig
from helpers.errors import ArgumentError, DataError, ThinData, require_columns
from helpers.ingest import provenance
from helpers.ingest import schema as schema_mod
from helpers.ingest.schema import Schema
from helpers.measures import Measure
from helpers.stats import weighting
from helpers.stats.design import Design
from helpers.stats.replicates import ReplicateDesign

MARKETS = ("B2B", "B2C")


@dataclass(frozen=True)
class DesignRule:
    """How one market's responses form a survey design: the one B2B / B2C rule.

    B2B contacts are nested in accounts (account-clustered PSUs, accounts answering in several
    waves stay one PSU); B2C contacts carry raking weights, each wave its own sample (a stratum),
    calibration-aware when raked within each wave. `unit` is what bootstraps and paired tests
    resample: accounts for B2B, contacts for B2C; with `paired`, changes between waves are
    measured on the units that answered in both (the same accounts), else as domains of the
    design of both waves.
    """

    cluster: str | None
    weights: str | None
    strata: str | None
    unit: str
    paired: bool
    description: str

    def design(self, rows: pd.DataFrame, margins: Mapping[str, object] | None = None,
               replicates: Mapping[str, Any] | None = None) -> Design:
        """The survey design of `rows` (R ``svydesign``; ``rake`` margins within each wave), or
        with the vendor's replicate weights (schema ``design``) R ``svrepdesign``."""
        if replicates and self.weights and "repw_1" in rows:
            options = {k: v for k, v in replicates.items()
                       if k in ("type", "scale", "rscales", "mse", "rho")}
            return ReplicateDesign.from_frame(rows, weights=self.weights,
                                              replicate_weights="repw_*", **options)
        calibrate = [["wave", m] for m in margins] if margins and self.weights else None
        return Design.from_frame(rows, weights=self.weights, cluster=self.cluster,
                                 strata=self.strata, calibrate=calibrate)


DESIGNS: dict[str, DesignRule] = {
    "B2B": DesignRule(cluster="account_id", weights=None, strata=None, unit="account_id",
                      paired=True, description="clustered by account"),
    "B2C": DesignRule(cluster=None, weights="weight", strata="wave", unit="contact_unit",
                      paired=False, description="weighted"),
}


class UnitColumns(TypedDict):
    """The resampling unit and weight column of a market, as keyword arguments."""

    cluster: str
    weights: str | None


@dataclass(frozen=True)
class MarketData:
    """Rows of one market and set of waves, with the design every estimate on them uses.

    `design` is the :class:`~helpers.stats.design.Design` of exactly these rows; a segment or
    a wave is a domain of it. `cluster` names the unit analyses resample (accounts for B2B,
    contacts for B2C) and `weights` the weight column (None when unweighted).
    """

    market: str
    rows: pd.DataFrame
    waves: tuple[str, ...]
    rule: DesignRule
    margins: Mapping[str, object] | None = None
    included: bool = True
    measures: tuple[Measure, ...] = ()
    replicates: Mapping[str, Any] | None = None

    @property
    def cluster(self) -> str:
        return self.rule.unit

    @property
    def weights(self) -> str | None:
        return self.rule.weights if self.included else None

    @property
    def columns(self) -> UnitColumns:
        """The resampling unit and weight column names (``cluster``, ``weights``), as keyword
        arguments for analyses that resample whole units (bootstraps, cross-validation)."""
        return {"cluster": self.cluster, "weights": self.weights}

    @functools.cached_property
    def design(self) -> Design:
        """The survey design of these rows (built once)."""
        if not self.included:
            return dataclasses.replace(self.rule, weights=None, strata=None).design(self.rows)
        return self.rule.design(self.rows, self.margins, self.replicates)

    @property
    def design_note(self) -> str:
        """'clustered by account', 'raked weights' or 'unweighted'."""
        return design_note(self.rule, self.margins, self.replicates)

    def estimate(self, statistic: str = "nps", by: str | Sequence[str] | None = None, *,
                 domain: Any = None) -> pd.DataFrame:
        """Any statistic of these rows by any field within any domain, with the reports'
        design (:func:`helpers.analysis.explore.estimate`)."""
        from helpers.analysis import explore

        return explore.estimate(self, statistic, by, domain=domain)

    def contrast(self, statistic: str, field: str, a: str, b: str = "rest") -> pd.DataFrame:
        """Group `a` of `field` minus `b` (a group, "rest" or "all"):
        :func:`helpers.analysis.explore.contrast`."""
        from helpers.analysis import explore

        return explore.contrast(self, statistic, field, a, b)


def design_note(rule: DesignRule, margins: Mapping[str, object] | None,
                replicates: Mapping[str, Any] | None = None) -> str:
    """How a market's figures are designed, in the words of the reports."""
    if rule.weights is None:
        return rule.description
    if replicates:
        return f"vendor weights, {replicates.get('type', 'JK1')} replicate weights"
    return "raked weights" if margins else "unweighted"


@dataclass(frozen=True)
class Study:
    """The responses a run analyses: included rows with market, B2C weights and contact units.

    `wave` is the reported wave (the latest unless chosen); `waves` every wave in the data.
    `all_rows` keeps the excluded rows too (with their market), for checks that look at what
    cleaning removed (e.g. repeated devices in score integrity); a study read by :func:`load`
    reads them again from `source` when first asked (most notebooks never need them, and a
    million-row table is not kept twice).
    """

    wave: str
    waves: list[str]
    included: pd.DataFrame
    all_rows: pd.DataFrame | None
    schema: Schema
    settings: SegmentsConfig
    tables: dict[str, pd.DataFrame]
    weighting: str
    blocks: dict[str, tuple[int, int]] = field(default_factory=dict)
    source: str | None = None
    full: Any = None   # outofcore.FullData when the responses exceed the memory budget

    @property
    def accounts(self) -> pd.DataFrame:
        """The account table (master or derived from the responses); empty when not provided."""
        return self.tables.get("accounts", pd.DataFrame({"account_id": pd.Series(dtype="string")}))

    @property
    def invitations(self) -> pd.DataFrame:
        """B2B invitations; empty when not provided."""
        return self.tables.get("invitations", pd.DataFrame(
            {"account_id": pd.Series(dtype="string"), "wave": pd.Series(dtype="string"),
             "responded": pd.Series(dtype=bool)}))

    @property
    def markets(self) -> list[str]:
        """Markets with at least one included response."""
        return [m for m in MARKETS if (self.included["market"] == m).any()]

    def every_row(self, market: str | None = None) -> pd.DataFrame:
        """Every row of the responses (of `market`), excluded ones too, with its market; in a
        run a market's rows are a slice of the rows its first notebook mapped (no copy)."""
        if self.all_rows is None and (rows := study_cache.every_row(self.source, market)) is not None:
            return rows
        if (every := self.all_rows) is None:
            every = catalog.load("responses", path=self.source)
            every = every.assign(market=every["market"].astype("string"))
        return every if market is None else every[every["market"] == market]

    def _block(self, market: str) -> pd.DataFrame:
        """Included rows of one market: a slice (no copy) of the market-ordered rows."""
        if market in self.blocks:
            start, stop = self.blocks[market]
            return self.included.iloc[start:stop]
        return self.included[self.included["market"] == market]

    @property
    def facts(self) -> contract.Facts:
        """What this study's data has, for checking each section's declared needs."""
        rows, fields, drivers, stages, segments, waves = {}, {}, {}, {}, {}, {}
        for m in MARKETS:
            d = self._block(m)
            rows[m] = len(d)
            filled = frozenset(c for c in d.columns if d[c].notna().any())
            fields[m] = filled
            drivers[m] = sum(i in filled for i in self.schema.driver_items(m))
            for stage in ("sales", "implementation"):
                stages[f"{m}.{stage}"] = sum(i in filled for i in self.schema.stage_items(stage))
            segments[m] = sum(f in d and d[f].nunique() >= 2 for f in self.schema.segment_fields(m))
            waves[m] = int(d["wave"].nunique())
        tables = {k: frozenset(map(str, t.columns)) for k, t in self.tables.items() if len(t)}
        responding, in_master = self.accounts_matched()
        return contract.Facts(rows, fields, drivers, stages, segments, waves, tables,
                              headline=self.headline.headline.name, measure=self.headline_words,
                              has_ltr=self.schema.has_ltr, accounts_responding=responding,
                              accounts_in_master=in_master)

    def accounts_matched(self) -> tuple[int, int | None]:
        """B2B accounts that answered, and how many of them the account master has (None
        without a master)."""
        d = self._block("B2B")
        ids = pd.Index(d["account_id"].dropna().unique()) if "account_id" in d else pd.Index([])
        master = self.tables.get("accounts")
        if master is None or not len(master) or "account_id" not in master:
            return len(ids), None
        return len(ids), int(ids.isin(master["account_id"]).sum())

    @property
    def headline_words(self) -> str:
        """What the headline measures, in words: "likelihood to recommend", "satisfaction"."""
        return ("likelihood to recommend" if self.schema.headline == "ltr"
                else self.headline.label.lower())

    @property
    def headline(self) -> Measure:
        """The programme's headline measure (the LTR; in a satisfaction or effort programme
        the schema's `headline:` rating)."""
        return self.schema.headline_measure

    @property
    def b2b(self) -> pd.DataFrame:
        """Included B2B responses of every wave."""
        return self.market("B2B").rows

    @property
    def b2c(self) -> pd.DataFrame:
        """Included B2C responses of every wave, with raking weights."""
        return self.market("B2C").rows

    def rule(self, market: str) -> DesignRule:
        """The design rule of `market` (:data:`DESIGNS`)."""
        if market not in DESIGNS:
            raise ArgumentError(f"market {market!r}: expected {' or '.join(MARKETS)}")
        return DESIGNS[market]

    def design(self, market: str, rows: pd.DataFrame) -> Design:
        """The survey design of `rows` of `market` (any of its rows: a wave, all waves, the
        rows of a study too large to load), by the market's rule and the B2C raking margins."""
        return self.rule(market).design(rows, self.raking_margins(), self.replicates())

    def design_note(self, market: str) -> str:
        """'clustered by account', 'raked weights' or 'unweighted'."""
        return design_note(self.rule(market), self.raking_margins(), self.replicates())

    def replicates(self) -> dict[str, Any] | None:
        """The vendor's replicate-weight design of B2C (schema ``design``), when it is used."""
        return self.schema.design if self.weighting.startswith("vendor") else None

    def raking_margins(self) -> dict[str, dict[str, float]] | None:
        """The population margins B2C was raked to (None when B2C is unweighted)."""
        return self.settings.b2c_margins if self.weighting.startswith("raked") else None

    def describe(self) -> str:
        """One paragraph: the reported wave, the waves, responses per market, the B2C weighting."""
        parts = []
        for m in self.markets:
            now = self.now(self.market(m).rows)
            acc = (f" from {now['account_id'].nunique():,} accounts"
                   if m == "B2B" and "account_id" in now and now["account_id"].notna().any() else "")
            parts.append(f"{m} {len(now):,} responses{acc}")
        text = (f"Reported wave {self.wave} (waves {', '.join(self.waves)}): "
                + ", ".join(parts or ["no included responses"]) + ".")
        if "B2C" in self.markets:
            text += f" B2C figures are {self.weighting}."
        partial = partial_wave_note(self.included, self.wave)
        if partial:
            text += " " + partial
        if self.full is not None:
            text += " " + self.full.note()
        return text

    def segment(self, market: str, exclude: Sequence[str] = ("role",)) -> str | None:
        """The market's first segment field (schema order) with at least two values in its rows."""
        rows = self._block(market)
        for f in self.schema.segment_fields(market):
            if f not in exclude and f in rows and rows[f].nunique() >= 2:
                return f
        return None

    def account_segment(self) -> str | None:
        """The first B2B segment field the account table carries (None without one)."""
        return next((f for f in self.schema.segment_fields("B2B")
                     if f != "role" and f in self.accounts and self.accounts[f].notna().any()), None)

    def change(self, market: str, statistic: str = "nps",
               waves: tuple[str, str] = ("previous", "reported")) -> pd.DataFrame:
        """The change of `statistic` between two waves as the reports measure it
        (:func:`helpers.analysis.explore.change`)."""
        from helpers.analysis import explore

        return explore.change(self, market, statistic, waves)

    def named_waves(self) -> dict[str, list[str] | None]:
        """The wave selections known by name: all, reported, latest, previous (None = all)."""
        i = self.waves.index(self.wave) if self.wave in self.waves else len(self.waves) - 1
        return {"all": None, "reported": [self.wave], "latest": self.waves[-1:],
                "previous": self.waves[i - 1:i] if i > 0 else []}

    def now(self, df: pd.DataFrame) -> pd.DataFrame:
        """Rows of `df` in the reported wave."""
        return df[df["wave"] == self.wave]

    def market(self, name: str, waves: str | Sequence[str] = "", *,
               included: bool = True) -> MarketData:
        """Rows of market `name` in `waves` with their design.

        `waves`: "" or "all" = every wave (pooled), "reported" = the wave the reports show (the
        latest complete one unless chosen), "latest" = the newest wave in the data, "previous"
        = the one before the reported wave, a list or a comma-separated string of waves (each
        checked to exist). `included=False` also keeps the rows cleaning excluded (no weights
        are defined for those).
        """
        if name not in MARKETS:
            raise ArgumentError(f"market {name!r}: expected {' or '.join(MARKETS)}")
        chosen = self._waves(waves)
        rows = self._block(name) if included else self.every_row(name)
        if chosen is not None:
            rows = rows[rows["wave"].astype(str).isin(chosen)]
        return MarketData(market=name, rows=rows, waves=tuple(chosen or self.waves),
                          rule=DESIGNS[name], margins=self.raking_margins(), included=included,
                          measures=self.schema.measures,
                          replicates=self.replicates() if name == "B2C" else None)

    def _waves(self, waves: str | Sequence[str]) -> list[str] | None:
        if isinstance(waves, str):
            named = self.named_waves()
            if waves.strip() in named:
                chosen = named[waves.strip()]
                if chosen == []:
                    raise ThinData(f"no wave before the reported wave {self.wave}", column="wave")
                return chosen
            waves = [w.strip() for w in waves.split(",") if w.strip()]
        wanted = [str(w) for w in waves]
        if not wanted:
            return None
        unknown = [w for w in wanted if w not in self.waves]
        if unknown:
            raise DataError(f"wave {unknown[0]!r} not in the data", column="wave",
                            expected=", ".join(self.waves))
        return wanted


def study(responses: pd.DataFrame, sch: Schema, cfg: SegmentsConfig, *,
          tables: Mapping[str, pd.DataFrame | None] | None = None, wave: str = "") -> Study:
    """Included responses with B2C weights and contact units, the reported wave, the inputs.

    `tables` holds the optional inputs (accounts, invitations, competitor_ratings, cx_index,
    prices); None or missing means not provided. `wave` "" means the latest wave. Bad data
    raises DataError naming the column.
    """
    require_columns(responses, ["include", "wave", sch.headline, "market"], "responses")
    every = responses.assign(market=responses["market"].astype("string"))  # shares the columns
    return _assemble(_included(every, sch, cfg), every, sch, cfg, tables, wave)


def _included(every: pd.DataFrame, sch: Schema, cfg: SegmentsConfig) -> study_cache.Derived:
    """Included rows by market with B2C weights and contact units, the blocks, the weighting."""
    resp, blocks = _by_market(every)
    b2c = resp["market"] == "B2C"
    note = "no B2C responses"
    if b2c.any():
        resp.loc[b2c, "weight"], unit, note = _b2c_columns(resp[b2c], sch, cfg)
        resp.loc[b2c, "contact_unit"] = unit
    return resp, blocks, note


def _b2c_columns(b2c: pd.DataFrame, sch: Schema, cfg: SegmentsConfig) -> tuple[pd.Series, pd.Series, str]:
    """The weights, contact units and weighting note of the included B2C rows."""
    weight, note = (_vendor_weights(b2c, sch) if sch.design and "vendor_weight" in b2c
                    else _b2c_weights_or_none(b2c, cfg))
    return weight, _contact_unit(b2c), note


def _assemble(found: study_cache.Derived, every: pd.DataFrame | None, sch: Schema, cfg: SegmentsConfig,
              tables: Mapping[str, pd.DataFrame | None] | None, wave: str) -> Study:
    resp, blocks, note = found
    present = {k: v for k, v in (tables or {}).items() if v is not None}
    if "invitations" in present:
        inv = present["invitations"]
        keep = inv["account_id"].notna().to_numpy() & (
            (inv["market"] == "B2B").to_numpy(dtype=bool, na_value=False) if "market" in inv else True)
        present["invitations"] = inv if keep.all() else inv[keep]  # no copy of a million rows
    return Study(wave=reported_wave(resp, wave),
                 waves=sorted(resp["wave"].dropna().astype(str).unique()),
                 included=resp, all_rows=every, schema=sch, settings=cfg, tables=present,
                 weighting=note, blocks=blocks)


def _by_market(every: pd.DataFrame, excluded: bool = False) -> study_cache.Blocks:
    """Included rows (`excluded`: every row) ordered by market (file order kept within a market)
    and each market's position range: a market's rows are then a slice, never a copy."""
    market = every["market"].to_numpy(dtype=object, na_value=None)
    order, blocks = study_cache.market_order(market, every["include"].astype(bool).to_numpy() | excluded,
                                             MARKETS)
    return every.take(order), blocks


def load(responses_path: str, schema_path: str, segments_config: str, *, wave: str = "",
         inputs: Mapping[str, str] | None = None) -> Study:
    """:func:`study` on files: the cleaned responses, the schema cleaning used, the analysis
    settings, and the optional processed tables (`inputs`: input name -> file, e.g.
    ``{"accounts": accounts_path}``; "" or an absent file means not provided)."""
    given = registry.given(inputs or {})
    provenance.announce(responses_path)  # stale data/processed: one line, or refused in a run
    scale = config.load_scale()
    target = paths.resolve(responses_path)
    estimate = (catalog.memory_estimate(target) if target.exists() and
                (target.is_dir() or target.suffix == ".parquet") else None)
    if estimate is not None and estimate.over(scale.memory_budget_gb):
        from helpers.analysis import outofcore
        print(estimate.line(scale.memory_budget_gb) + f": out of core ({scale.engine}) and a "
              "stratified subsample", file=sys.stderr)
        sample, full = outofcore.open_large(target, estimate, scale)
        tables = _sample_tables(given, sample)
        found = study(sample, schema_mod.load(schema_path), config.load_segments(segments_config),
                      tables=tables, wave=wave)
        return dataclasses.replace(found, full=full)
    tables = {name: study_cache.table(name, path) for name, path in given.items()}
    sch, cfg = schema_mod.load(schema_path), config.load_segments(segments_config)

    def derive() -> study_cache.Deriving:
        every, index = study_cache.responses_table(responses_path)
        require_columns(every.schema.empty_table().to_pandas(), ["include", "wave", sch.headline, "market"],
                        "responses")
        fields = ["wave", *cfg.b2c_margins, "contact_key", "response_id", "vendor_weight"]
        return study_cache.ordered(every, index, MARKETS, fields, lambda b2c: _b2c_columns(b2c, sch, cfg))

    rows = study_cache.derived(responses_path, schema_path, segments_config, derive)
    return dataclasses.replace(_assemble(rows, None, sch, cfg, tables, wave), source=responses_path)


def _sample_tables(given: Mapping[str, str], sample: pd.DataFrame
                   ) -> dict[str, pd.DataFrame | None]:
    """The optional tables for a subsample: tables whose rows grow with the responses
    (``Input.sampled``) only for the sampled keys (read with a filter, never whole), small
    tables whole."""
    out: dict[str, pd.DataFrame | None] = {}
    for name, path in given.items():
        inp = registry.INPUTS[name]
        if inp.sampled and inp.key in sample and paths.resolve(path).exists():
            out[name] = catalog.load_filtered(path, inp.key, sample[inp.key].dropna().unique())
        else:
            out[name] = catalog.load_optional(name, path)
    return out


def b2c_weighting(b2c: pd.DataFrame, cfg: SegmentsConfig) -> tuple[pd.Series, str]:
    """Raking weights of B2C rows as :func:`study` sets them (weights of 1 and why when a
    margin field is missing), e.g. for all rows of a study too large to load."""
    return _b2c_weights_or_none(b2c, cfg)


def _vendor_weights(b2c: pd.DataFrame, sch: Schema) -> tuple[pd.Series, str]:
    """The vendor's final weights (schema ``design``): no raking, replicate variances."""
    kind = sch.design.get("type", "JK1")
    return (b2c["vendor_weight"].astype(float),
            f"vendor-weighted (the export's weights, {kind} replicate weights for the variance)")


def _b2c_weights_or_none(b2c: pd.DataFrame, cfg: SegmentsConfig) -> tuple[pd.Series, str]:
    """Raking weights when every margin field is present and known, else weights of 1 and why."""
    lacking = [v for v in cfg.b2c_margins if v not in b2c or b2c[v].isna().any()]
    if lacking:
        why = (f"the B2C responses lack {', '.join(lacking)}" if len(lacking) < len(cfg.b2c_margins)
               else "no population margins are given for this survey's fields")
        return (pd.Series(1.0, index=b2c.index),
                f"unweighted: {why} (b2c_margins in the analysis settings: config/segments.yaml or "
                "cx run --segments); figures describe the respondents, not the population")
    unknown = [(v, x) for v, shares in cfg.b2c_margins.items()
               for x in map(str, b2c[v].unique()) if x not in shares]
    if unknown:
        var, level = unknown[0]
        raise DataError(f"B2C value {var}={level!r} has no population share", column=var,
                        expected=f"one of {', '.join(cfg.b2c_margins[var])} (b2c_margins.{var} "
                                 f"of the analysis settings {cfg.file})")
    w = b2c_weights(b2c, cfg.b2c_margins, trim_lower=cfg.trim_lower, trim_upper=cfg.trim_upper)
    return w, f"raked to {', '.join(cfg.b2c_margins)} margins, trimmed to " \
              f"{cfg.trim_lower:g}-{cfg.trim_upper:g} x mean weight"


def b2c_weights(df: pd.DataFrame, margins: Mapping[str, Mapping[str, float]], *,
                trim_lower: float = 0.3, trim_upper: float = 3.0, by: str | None = "wave",
                max_rounds: int = 20) -> pd.Series:
    """Raking weights (weighting.rake) to population `margins`, trimmed to [lower, upper] x mean.

    Raked separately within each `by` group (each wave is its own sample of the population),
    then trimmed (weighting.trim_weights) and re-raked from the trimmed weights until both the
    bounds hold and the margins move no further (at most `max_rounds`); the result is the last
    trimmed weights, so the bounds always hold and margins hold closely (see
    weighting.margin_table). Weights average 1 within each group.
    """
    require_columns(df, list(margins), "responses")
    cats = df[list(margins)].astype("category")  # levels looked up as codes, not strings
    groups = [(None, cats)] if by is None else list(cats.groupby(df[by], sort=True))
    parts = []
    for _, g in groups:
        levels = weighting.raking_levels(g, margins)   # the rows' levels, looked up once
        w = weighting.rake_levels(levels)
        for _ in range(max_rounds):
            t = weighting.trim_weights(w, upper=trim_upper, lower=trim_lower)
            if np.abs(t.to_numpy() - w.to_numpy()).max() <= 1e-4 * t.mean():
                break
            w = weighting.rake_levels(levels, t.to_numpy())
        parts.append(t / t.mean())
    return pd.concat(parts).reindex(df.index).rename("weight")


def _contact_unit(b2c: pd.DataFrame) -> pd.Series:
    """The contact key, or "anon:<response id>" for a response without one."""
    unit = (b2c["contact_key"].astype("string") if "contact_key" in b2c
            else pd.Series(pd.NA, index=b2c.index, dtype="string"))
    fallback = (b2c["response_id"].astype("string") if "response_id" in b2c
                else pd.Series([f"row{i}" for i in range(len(b2c))], index=b2c.index, dtype="string"))
    return unit.fillna("anon:" + fallback)
