"""Which responses an analysis uses: one selector for every notebook and the command line.

:func:`study` reads the cleaned responses once, assigns each row its market by the configured
rule, raking-weights B2C within each wave and fixes the reported wave. :meth:`Study.market` then
gives the rows of one market and a choice of waves together with their survey design: B2B
contacts are clustered in accounts; B2C contacts carry raking weights and a contact unit (a
consumer who answered in several waves is one unit; an anonymous response is its own). Notebooks
and ``cx drivers`` both select through here, so the same parameters give the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.config import SegmentsConfig
from helpers.errors import DataError, require_columns
from helpers.stats import weighting

MARKETS = ("B2B", "B2C")
DESIGNS: dict[str, dict[str, str | None]] = {
    "B2B": {"cluster": "account_id", "weights": None},        # contacts nested in accounts
    "B2C": {"cluster": "contact_unit", "weights": "weight"},  # contacts; raked to the population
}


@dataclass(frozen=True)
class MarketData:
    """Rows of one market and set of waves, with the design every estimate on them uses."""

    market: str
    rows: pd.DataFrame
    waves: tuple[str, ...]
    cluster: str | None
    weights: str | None

    @property
    def design(self) -> dict[str, str | None]:
        """``cluster`` and ``weights`` column names, as keyword arguments for estimators."""
        return {"cluster": self.cluster, "weights": self.weights}


@dataclass(frozen=True)
class Study:
    """The responses a run analyses: included rows with market, B2C weights and contact units.

    `wave` is the reported wave (the latest unless chosen); `waves` every wave in the data.
    `all_rows` keeps the excluded rows too (with their market), for checks that look at what
    cleaning removed (e.g. repeated devices in score integrity).
    """

    wave: str
    waves: list[str]
    included: pd.DataFrame
    all_rows: pd.DataFrame
    accounts: pd.DataFrame
    invitations: pd.DataFrame

    @property
    def b2b(self) -> pd.DataFrame:
        """Included B2B responses of every wave."""
        return self.market("B2B").rows

    @property
    def b2c(self) -> pd.DataFrame:
        """Included B2C responses of every wave, with raking weights."""
        return self.market("B2C").rows

    def now(self, df: pd.DataFrame) -> pd.DataFrame:
        """Rows of `df` in the reported wave."""
        return df[df["wave"] == self.wave]

    def market(self, name: str, waves: str | Sequence[str] = "", *,
               included: bool = True) -> MarketData:
        """Rows of market `name` in `waves` with their design.

        `waves`: "" = every wave (pooled), "reported" = the reported wave, a list or a
        comma-separated string of waves (each checked to exist). `included=False` also keeps
        the rows cleaning excluded (no weights are defined for those).
        """
        if name not in MARKETS:
            raise DataError(f"market {name!r}", expected=" or ".join(MARKETS))
        chosen = self._waves(waves)
        source = self.included if included else self.all_rows
        rows = source[source["market"] == name]
        if chosen is not None:
            rows = rows[rows["wave"].astype(str).isin(chosen)]
        d = DESIGNS[name]
        return MarketData(market=name, rows=rows, waves=tuple(chosen or self.waves),
                          cluster=d["cluster"], weights=d["weights"] if included else None)

    def _waves(self, waves: str | Sequence[str]) -> list[str] | None:
        if isinstance(waves, str):
            if waves.strip() == "reported":
                return [self.wave]
            waves = [w.strip() for w in waves.split(",") if w.strip()]
        wanted = [str(w) for w in waves]
        if not wanted:
            return None
        unknown = [w for w in wanted if w not in self.waves]
        if unknown:
            raise DataError(f"wave {unknown[0]!r} not in the data", column="wave",
                            expected=", ".join(self.waves))
        return wanted


def study(responses: pd.DataFrame, cfg: SegmentsConfig, *, accounts: pd.DataFrame | None = None,
          invitations: pd.DataFrame | None = None, wave: str = "") -> Study:
    """Assign markets by the configured rule, weight B2C per wave, fix the reported wave.

    `wave` "" means the latest wave. Accounts and invitations are optional (empty tables when
    not provided). Bad data (unknown market, missing margin level) raises DataError naming the
    column.
    """
    accounts = pd.DataFrame({"account_id": []}) if accounts is None else accounts
    invitations = pd.DataFrame({"account_id": []}) if invitations is None else invitations
    require_columns(responses, ["include", "wave", "ltr", "account_id"], "responses")
    every = responses.copy()
    every["market"] = split_market(every, cfg.market_column, cfg.market_rule)
    resp = every[every["include"].astype(bool)].copy()
    b2c = resp["market"] == "B2C"
    if b2c.any():
        resp.loc[b2c, "weight"] = b2c_weights(resp[b2c], cfg.b2c_margins,
                                                       trim_lower=cfg.trim_lower,
                                                       trim_upper=cfg.trim_upper)
        resp.loc[b2c, "contact_unit"] = _contact_unit(resp[b2c])
    inv = invitations[invitations["account_id"].notna()]
    if "market" in inv:
        inv = inv[inv["market"] == "B2B"]
    return Study(wave=reported_wave(resp, wave),
                 waves=sorted(resp["wave"].dropna().astype(str).unique()),
                 included=resp, all_rows=every, accounts=accounts, invitations=inv.copy())


def split_market(df: pd.DataFrame, column: str = "market", rule: str | None = None) -> pd.Series:
    """Market ("B2B"/"B2C") per row: from `column`, or by a rule "<col> not null" (-> B2B).

    A rule "<col> is null" makes the null rows B2B instead.
    """
    if rule:
        col, _, cond = rule.partition(" ")
        require_columns(df, [col], "responses")
        is_b2b = df[col].notna() if cond.strip() == "not null" else df[col].isna()
        return pd.Series(np.where(is_b2b, "B2B", "B2C"), index=df.index, name="market")
    require_columns(df, [column], "responses")
    bad = ~df[column].isin(["B2B", "B2C"])
    if bad.any():
        raise DataError(f"value {df[column][bad].iloc[0]!r}", column=column,
                        row=int(np.flatnonzero(bad.to_numpy())[0]), expected="B2B or B2C")
    return df[column].rename("market")


def reported_wave(df: pd.DataFrame, wave: str = "") -> str:
    """`wave` if given (checked to exist), else the latest wave in the data (waves sort in time)."""
    waves = sorted(df["wave"].dropna().astype(str).unique())
    if not waves:
        raise DataError("no waves", column="wave", expected="at least one wave, e.g. 2025Q4")
    if wave and wave not in waves:
        raise DataError(f"wave {wave!r} not in the data", column="wave", expected=", ".join(waves))
    return wave or waves[-1]


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
    # categorical columns: raking looks levels up many times (much faster than on strings)
    cats = df[list(margins)].astype("category")
    groups = [(None, cats)] if by is None else list(cats.groupby(df[by], sort=True))
    parts = []
    for _, g in groups:
        w = weighting.rake(g, margins)
        for _ in range(max_rounds):
            t = weighting.trim_weights(w, upper=trim_upper, lower=trim_lower)
            if np.abs(t.to_numpy() - w.to_numpy()).max() <= 1e-4 * t.mean():
                break
            w = weighting.rake(g, margins, base_weight=t.to_numpy())
        parts.append(t / t.mean())
    return pd.concat(parts).reindex(df.index).rename("weight")


def _contact_unit(b2c: pd.DataFrame) -> pd.Series:
    """The contact key, or "anon:<response id>" for a response without one."""
    unit = (b2c["contact_key"].astype("string") if "contact_key" in b2c
            else pd.Series(pd.NA, index=b2c.index, dtype="string"))
    fallback = (b2c["response_id"].astype("string") if "response_id" in b2c
                else pd.Series([f"row{i}" for i in range(len(b2c))], index=b2c.index, dtype="string"))
    return unit.fillna("anon:" + fallback)
