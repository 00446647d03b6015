"""The run contract, declared once: what each report section needs, what each notebook writes and
what it reads.

Real programmes rarely have every input. Each analysis section declares here the data it needs
(a market's responses, fields, driver items, waves, optional input tables and their columns);
the notebooks show a "not available" card instead of a section whose needs are not met, the run
validation (``cx check`` / ``cx run --check``) lists what will not be available, and the
executive summary and the run index report it. The artefacts a notebook writes for another to
read (metrics files and result tables) are named here too, with what each notebook reads of
them: written and read by these names only, checked when a run is validated and while it runs.
What each optional input is and how to provide it is declared in :mod:`helpers.inputs`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from helpers import inputs as registry
from helpers.errors import DataError

#: Response fields a section may need -> how to provide it.
FIELD_HOW: dict[str, str] = {
    "ltr": "a 0-10 likelihood-to-recommend question, mapped as ltr in the survey schema; this "
           "programme has none and reports its headline measure instead",
    "account_id": "map the account column as account_id in the survey schema",
    "role": "map the contact role (decision_maker / influencer / user) as role",
    "rep_id": "map the account team or sales rep column as rep_id",
    "comment": "map the free-text comment column as comment",
    "ces": "map the customer-effort question as ces (with its scale)",
    "csat": "map the satisfaction question as csat (with its scale)",
    "submitted_at": "map the response date as submitted_at (waves are derived from it)",
    "deal_close_date": "map the deal close date (export or account master)",
    "go_live_date": "map the go-live date (export or account master)",
    "go_live_planned": "map the planned go-live date (export or account master)",
    "last_rep_touch_at": "map the last rep contact date as last_rep_touch_at",
}


@dataclass(frozen=True)
class Needs:
    """What one report section needs to run."""

    title: str
    market: str | None = None                    # rows of this market
    fields: tuple[str, ...] = ()                 # response fields with at least one value
    drivers: int = 0                             # driver items of the market, at least
    stage: str | None = None                     # a journey stage's items (sales, implementation)
    segments: int = 0                            # segment fields of the market, at least
    inputs: tuple[str, ...] = ()                 # optional inputs (helpers.inputs), non-empty
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)  # input -> columns
    waves: int = 1                               # distinct waves, at least
    min_rows: int = 30                           # responses of the market, at least
    matched: bool = False                        # responding accounts in the account master


B2B, B2C = "B2B", "B2C"
SECTIONS: dict[str, Needs] = {
    # 02_segments
    "segments.headline": Needs("Headline figures by market", min_rows=1),
    "segments.subsegments": Needs("{headline} by sub-segment", segments=1),
    "segments.trends": Needs("{headline} per wave", waves=2),
    "segments.changes": Needs("Changes since the previous wave", waves=2),
    "segments.account_nps": Needs("B2B {ltr} by account", market=B2B, fields=("account_id", "ltr")),
    "segments.dm_coverage": Needs("Decision-maker coverage", market=B2B, fields=("account_id", "role")),
    "segments.revenue_coverage": Needs("Revenue coverage", market=B2B, fields=("account_id",),
                                       inputs=("accounts",), columns={"accounts": ("arr",)},
                                       matched=True),
    "segments.response_rates": Needs("Response rates by tier and role", market=B2B,
                                     fields=("account_id",), inputs=("invitations",)),
    "segments.archetypes": Needs("Account archetypes", market=B2B,
                                 fields=("account_id", "role", "ltr")),
    "segments.b2c_weighting": Needs("B2C weighting to the population", market=B2C, min_rows=30),
    "segments.personas": Needs("Personas", drivers=2, min_rows=60),
    # 03_promoter_drivers
    "drivers.importance": Needs("What drives {measure}", drivers=2),
    "drivers.by_segment": Needs("Drivers by segment", drivers=2, segments=1, min_rows=60),
    "drivers.priority": Needs("Priority matrix", drivers=2),
    "drivers.what_if": Needs("What-if {ltr} gain", fields=("ltr",), drivers=2, min_rows=60),
    "drivers.models": Needs("Promoter and detractor models", fields=("ltr",), drivers=2,
                            min_rows=60),
    "drivers.nonlinear": Needs("Non-linear check", fields=("ltr",), drivers=2, min_rows=100),
    "drivers.journey": Needs("Quarter-end deals and go-live slips", market=B2B,
                             fields=("account_id", "deal_close_date", "go_live_date", "go_live_planned",
                                     "ltr"),
                             stage="implementation"),
    "drivers.walk_back": Needs("What promoter accounts experienced", market=B2B,
                               fields=("account_id", "ltr"), drivers=2),
    "drivers.teams": Needs("Account teams' promoter rates", market=B2B, fields=("rep_id", "ltr")),
    "drivers.themes": Needs("What promoters and detractors say", fields=("comment", "ltr")),
    # 04_leaders_vs_laggards
    "outcomes.leaders": Needs("Leaders vs laggards: renewal and growth", market=B2B,
                              fields=("account_id",), inputs=("accounts",),
                              columns={"accounts": ("arr", "renewed")}, matched=True),
    "outcomes.competitors": Needs("Competitive benchmark", fields=("ltr",),
                                  inputs=("competitor_ratings",), min_rows=10),
    "outcomes.market": Needs("Did CX leaders beat the market", inputs=("cx_index", "prices"), min_rows=0),
    # 07_sales_briefing
    "sales.competitors": Needs("Where we lead and lag competitors", fields=("ltr",),
                               inputs=("competitor_ratings",), min_rows=10),
    "sales.competitors_by_segment": Needs("Competitor gaps by segment and region", fields=("ltr",),
                                          inputs=("competitor_ratings",), segments=1, min_rows=10),
    "sales.separators": Needs("Sales and implementation experiences that separate promoters "
                              "from detractors", fields=("ltr",), stage="sales", drivers=2),
    "sales.dm_coverage": Needs("Decision-maker coverage by account tier", market=B2B,
                               fields=("account_id", "role"), segments=1),
    "sales.response_rates": Needs("Response rates by account tier", market=B2B,
                                  fields=("account_id",), inputs=("invitations",)),
    # 05_score_integrity
    "integrity.reps": Needs("Gamed or pressured scores by rep", market=B2B,
                            fields=("rep_id",), drivers=2),
    "integrity.concessions": Needs("Concessions and scores", market=B2B,
                                   fields=("account_id", "submitted_at"),
                                   inputs=("concessions",),
                                   waves=2),
    # 08_account_programme and 09_follow_up_list
    "programme.response": Needs("Response programme: rates against the target and the chase list",
                                market=B2B, fields=("account_id", "role"), inputs=("invitations",)),
    "programme.follow_up_list": Needs("Follow-up list for account teams", market=B2B,
                                      fields=("account_id", "ltr"), waves=2),
    "programme.follow_up_effect": Needs("Do followed-up accounts move more", market=B2B,
                                        fields=("account_id", "submitted_at", "ltr"),
                                        inputs=("follow_ups",), waves=2),
    "programme.coverage_audit": Needs("Coverage audit: accounts not surveyed", market=B2B,
                                      fields=("account_id", "ltr"), inputs=("accounts", "invitations"),
                                      columns={"accounts": ("arr",)}, matched=True),
    "programme.exclusions": Needs("Accounts removed from the invitation list", market=B2B,
                                  fields=("account_id",), inputs=("exclusions",)),
}

def title(section: str, headline: str = "NPS", measure: str = "likelihood to recommend") -> str:
    """The section's title in the programme's words: {headline} is the headline statistic's
    name (NPS, CSAT ...), {measure} what it measures, {ltr} NPS or, in a programme without the
    recommend question, "likelihood to recommend"."""
    ltr = "NPS" if headline == "NPS" else "likelihood to recommend"
    return needs(section).title.format(headline=headline, measure=measure, ltr=ltr)


def needs(section: str) -> Needs:
    """The declared needs of `section` (DataError for an undeclared name)."""
    try:
        return SECTIONS[section]
    except KeyError:
        raise DataError(f"unknown report section {section!r}", file="helpers/contract.py",
                        expected="a name in contract.SECTIONS") from None


def fed_by(name: str) -> list[str]:
    """The report sections that need the optional input `name` (from their ``Needs.inputs``)."""
    return [s for s, need in SECTIONS.items() if name in need.inputs]


@dataclass(frozen=True)
class Facts:
    """What a run's data has: per market, the rows, fields with values, driver items, segment
    fields and waves; and the optional input tables present with their columns."""

    rows: dict[str, int]
    fields: dict[str, frozenset[str]]
    drivers: dict[str, int]
    stages: dict[str, int]
    segments: dict[str, int]
    waves: dict[str, int]
    tables: dict[str, frozenset[str]]
    headline: str = "NPS"                        # the headline statistic's name
    measure: str = "likelihood to recommend"     # what it measures, in words
    has_ltr: bool = True                         # the programme asks the 0-10 recommend question
    accounts_responding: int = 0                 # B2B accounts that answered
    accounts_in_master: int | None = None        # of them in the account master (None: no master)


def missing(section: str, facts: Facts, market: str | None = None) -> list[str]:
    """What `section` lacks in this run, each as "<what> (<how to provide it>)"; [] = available.

    `market` is the market the section is shown for (sections pinned to a market use theirs).
    """
    need = needs(section)
    m = need.market or market
    if m is not None and facts.rows.get(m, 0) == 0:
        return [f"{m} responses (the export has none)"]
    markets = [m] if m is not None else [k for k, v in facts.rows.items() if v]
    if not markets:
        return ["responses (none included)"]
    out: list[str] = []
    rows = max(facts.rows.get(k, 0) for k in markets)
    if rows < need.min_rows:
        out.append(f"at least {need.min_rows} responses (this run has {rows}; not enough data)")
    have = frozenset().union(*(facts.fields.get(k, frozenset()) for k in markets))
    for f in need.fields:
        if (f not in have) if f != "ltr" else not facts.has_ltr:
            out.append(f"the field {f} ({FIELD_HOW.get(f, f'map {f} in the survey schema')})")
    if need.drivers and max(facts.drivers.get(k, 0) for k in markets) < need.drivers:
        out.append(f"at least {need.drivers} driver items rated by {' or '.join(markets)} "
                   "respondents (list rating questions under `drivers:` in the survey schema)")
    if need.stage and max(facts.stages.get(f"{k}.{need.stage}", 0) for k in markets) == 0:
        out.append(f"items rating the {need.stage} stage (`stages: {{{need.stage}: <group>}}` "
                   "in the survey schema)")
    if need.segments and max(facts.segments.get(k, 0) for k in markets) < need.segments:
        out.append("a segment field with at least 2 groups (list fields under `segments:` in the "
                   "survey schema; a field with one value cannot be compared)")
    if need.waves > 1 and max(facts.waves.get(k, 0) for k in markets) < need.waves:
        out.append(f"at least {need.waves} waves (this run has one; map the response date as "
                   "submitted_at or a wave column)")
    for t in need.inputs:
        if t not in facts.tables:
            out.append(f"{registry.INPUTS[t].what} ({registry.INPUTS[t].how})")
        else:
            lacking = [c for c in need.columns.get(t, ()) if c not in facts.tables[t]]
            if lacking:
                out.append(f"columns {', '.join(lacking)} in the {t} table ({registry.INPUTS[t].how})")
    if need.matched and facts.accounts_in_master == 0 and "accounts" in facts.tables:
        out.append(f"responding accounts in the account master (none of the "
                   f"{facts.accounts_responding} accounts that answered has its account_id there)")
    return out


#: A missing need in a leader's words (what to provide, not where to map it), by the start of
#: the text :func:`missing` writes; the analyst notes keep :func:`missing`'s own words.
_IN_WORDS: tuple[tuple[str, str], ...] = (
    ("the field account_id", "account data"), ("the field role", "contact roles"),
    ("the field rep_id", "account-team data"), ("the field comment", "comments"),
    ("the field ces", "an effort question"), ("the field csat", "a satisfaction question"),
    ("the field submitted_at", "response dates"), ("the field deal_close_date", "deal dates"),
    ("the field go_live", "go-live dates"), ("the field last_rep_touch_at", "sales-contact dates"),
    ("at least 2 waves", "a second survey wave"), ("a segment field", "customer segments"),
    ("items rating the", "journey-stage questions"), ("more data than", "more responses"),
    ("columns", "renewal and revenue data"),
)
_INPUT_WORDS = {"accounts": "account data", "invitations": "invitation lists",
                "competitor_ratings": "competitor ratings", "cx_index": "market data",
                "prices": "market data"}


def in_words(lack: str) -> str:
    """One missing need (as :func:`missing` states it) in a leader's words: 'account data',
    'a second survey wave', 'more responses' ..."""
    for start, words in _IN_WORDS:
        if lack.startswith(start):
            return words
    if "driver items" in lack:
        return "experience rating questions"
    if lack.startswith("at least") and "responses" in lack:
        return "more responses"
    for name, spec in registry.INPUTS.items():
        if lack.startswith(spec.what):
            return _INPUT_WORDS.get(name, spec.label)
    return "more data"


# --- the run's artefacts: who writes each, who reads it -----------------------------------------

#: Set by `cx run` in each notebook's kernel to the notebook running there: the catalog then
#: refuses a result table the notebook does not write (save) or did not declare it reads (load).
#: Unset in JupyterLab, nbval and tests, where only the names are checked.
NOTEBOOK_ENV = "CX_NOTEBOOK"
#: The run's private folder where its notebooks share one derivation of the study
#: (:mod:`helpers.analysis.study_cache`); set by the runner for its kernels only.
STUDY_CACHE_ENV = "CX_STUDY_CACHE"

#: Notebooks that write a metrics file (``metrics/<notebook>.json``).
METRICS = ("01_clean_survey", "02_segments", "03_promoter_drivers", "04_leaders_vs_laggards",
           "05_score_integrity", "07_sales_briefing", "08_account_programme")
#: Result tables (``tables/<name>.parquet``): name -> the notebook that writes it.
TABLES: dict[str, str] = {
    **dict.fromkeys(("segment_nps", "nps_trend", "wave_changes", "b2b_account_nps", "b2b_archetypes",
                     "b2b_response_rates", "b2b_response_rates_by_account", "personas",
                     "market_headline", "headline_changes", "b2b_dm_coverage"), "02_segments"),
    **dict.fromkeys(("drivers_ranked", "drivers_priority", "drivers_what_if", "drivers_odds_ratios",
                     "drivers_segments", "journey_effects", "promoter_walk_back",
                     "team_promoter_rates", "comment_themes"), "03_promoter_drivers"),
    **dict.fromkeys(("account_nps_ranking", "leader_laggard_gaps", "leader_laggard_by_segment",
                     "outcomes_by_group", "revenue_at_risk", "gap_value", "gap_value_by_segment",
                     "competitor_nps", "competitor_gaps", "competitor_pairs",
                     "competitor_gaps_by_segment", "backtest_summary", "backtest_yearly",
                     "backtest_events"), "04_leaders_vs_laggards"),
    **dict.fromkeys(("integrity_nps", "integrity_audit", "integrity_concessions"), "05_score_integrity"),
    **dict.fromkeys(("sales_competitor_gaps", "sales_competitor_gaps_by_segment",
                     "sales_separators", "sales_coverage"), "07_sales_briefing"),
    **dict.fromkeys(("programme_response_rates", "programme_tier_trend", "programme_coverage_gaps",
                     "programme_propensity", "programme_chase_list", "programme_coverage_audit",
                     "programme_headline_bias"), "08_account_programme"),
    "follow_up_effect": "09_follow_up_list",
}


@dataclass(frozen=True)
class Reads:
    """What one notebook reads of the artefacts other notebooks wrote into the run folder."""

    tables: tuple[str, ...] = ()    # result tables (names in TABLES)
    metrics: tuple[str, ...] = ()   # notebooks whose metrics file it reads (names in METRICS)


#: The executive summary: it reads the other notebooks' artefacts, never recomputes.
SUMMARY = "06_executive_summary"
#: Every notebook that reads another's artefacts, and what it reads. Before anything runs,
#: `cx run` checks that each writer is among the reader's ``needs`` (config/pipeline.yaml);
#: while it runs, the catalog refuses a table read that is not declared here.
READS: dict[str, Reads] = {
    SUMMARY: Reads(
        tables=("market_headline", "headline_changes", "wave_changes", "nps_trend",
                "drivers_ranked", "drivers_priority", "drivers_what_if", "gap_value"),
        # and, with drivers_ranked, only the ``outcome`` entry of 03's metrics (the measure
        # its drivers explain: helpers.reporting.artefacts.stored_outcome), none of its figures
        metrics=("01_clean_survey", "02_segments", "04_leaders_vs_laggards",
                 "05_score_integrity", "08_account_programme")),
    "07_sales_briefing": Reads(tables=("drivers_ranked",)),
}


class ContractError(ValueError):
    """A notebook wrote or read an artefact outside the run contract: a programming error, put
    right in this module or in the notebook (never bad data)."""


def running_notebook() -> str | None:
    """The notebook this process executes for `cx run` (None outside a run)."""
    return os.environ.get(NOTEBOOK_ENV) or None


def _registered(name: str) -> str:
    if name not in TABLES:
        raise ContractError(f"result table {name!r} is not registered: add it to "
                            "helpers/contract.py TABLES (result table -> the notebook that "
                            "writes it)")
    return name


def table_name(name: str) -> str:
    """`name` if it is a registered result table that the running notebook (if any) writes or
    declares in :data:`READS`, else :class:`ContractError`."""
    reader = running_notebook()
    writer = TABLES[_registered(name)]
    if reader is not None and writer != reader and name not in READS.get(reader, Reads()).tables:
        raise ContractError(f"{reader} reads result table {name!r} of {writer} without "
                            f"declaring it: add it to helpers/contract.py READS[{reader!r}]")
    return name


def written_table(name: str) -> str:
    """`name` if it is a registered result table of the running notebook (if any), else
    :class:`ContractError`."""
    writer = running_notebook()
    if writer is not None and TABLES[_registered(name)] != writer:
        raise ContractError(f"{writer} writes result table {name!r}, registered to {TABLES[name]} "
                            "in helpers/contract.py TABLES")
    return _registered(name)


def metrics_file(notebook: str) -> str:
    """`notebook` if it writes a metrics file (:data:`METRICS`) and is the running notebook
    (if any), else :class:`ContractError`."""
    if notebook not in METRICS:
        raise ContractError(f"metrics file {notebook!r} is not registered: add the notebook to "
                            "helpers/contract.py METRICS (notebooks that write metrics)")
    writer = running_notebook()
    if writer is not None and writer != notebook:
        raise ContractError(f"{writer} writes the metrics file of {notebook}")
    return notebook


def reads_of(notebook: str) -> list[tuple[str, str]]:
    """What `notebook` reads of other notebooks, as (what, the notebook that writes it) pairs:
    ``("result table 'drivers_ranked'", "03_promoter_drivers")``, ``("metrics", "02_segments")``."""
    declared = READS.get(notebook, Reads())
    return ([(f"result table {t!r}", TABLES[t]) for t in declared.tables]
            + [("metrics", nb) for nb in declared.metrics])
