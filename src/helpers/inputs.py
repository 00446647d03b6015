"""The optional inputs of a programme, declared once: one :class:`Input` each in :data:`INPUTS`.

A programme always has its survey export; everything else (an account master, the invitations,
competitor ratings, a public CX index, prices) may be missing. Every place that names an
optional input reads it from here: cleaning (``cx clean``, ``cx check``, notebook 01) reads and
cleans the files given, the command line builds its options (``--accounts`` ...), the runner
maps them to notebook 01's parameters and says which were not provided, the analyses load the
processed tables (``selection.load``), the catalog knows their files, and the "not available"
cards, ``cx check`` and the executive summary say what each is and how to provide it.

Which report sections need an input is declared by each section (``Needs.inputs`` in
:mod:`helpers.contract`, where a section needing two inputs reads naturally);
``contract.fed_by(name)`` lists them, so that list is not stated twice.

A file's reader is named by its dotted path (``"helpers.ingest.side_tables:read_accounts"``), as a
kedro catalog entry names its dataset type: this module belongs to the core layer and imports
nothing of the ingest layer that reads the files; ingest resolves the name when a file is given
(``helpers.ingest.side_tables.read_input``), and a test resolves every name, so a typo fails there.

Adding an input: one entry below plus its reader (``reader(path, salt) -> DataFrame``); then its
parameter in the parameters cells of the notebooks that read it and in config/params.yaml (the
run's public interface), and for a file, in ``optional_inputs`` of 01_clean_survey in
config/pipeline.yaml (tests/test_inputs.py checks these agree with the registry).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike

from helpers.errors import ArgumentError

FILE, EXPORT = "file", "export"


@dataclass(frozen=True)
class Input:
    """One optional input.

    Attributes
    ----------
    name : table name: the processed file ``<name>.parquet``, the key in ``Study.tables`` and
        in ``Needs.inputs``.
    parameter : run parameter naming its file (the raw file in 01_clean_survey, the processed
        table in the analysis notebooks).
    key : column it joins the responses or another input on.
    label : short name, for command-line help.
    what : what it is, as a "not available" card names it.
    how : how to provide it.
    source : ``"file"`` (given by `option` / `parameter`) or ``"export"`` (read from the survey
        export itself, as the schema maps it).
    option : command-line option of ``cx clean``, ``cx check`` and ``cx run`` ("" for an input
        from the export).
    reader : ``"module:function"`` reading and cleaning its file, ``(path, salt) -> DataFrame``
        ("" for an input from the export).
    fallback : what stands in when no file is given ("" for nothing).
    sampled : rows grow with the responses: when the responses are subsampled (above the
        memory budget), only the rows of the sampled `key` values are read.
    """

    name: str
    parameter: str
    key: str
    label: str
    what: str
    how: str
    source: str = FILE
    option: str = ""
    reader: str = ""
    fallback: str = ""
    sampled: bool = False

    def __post_init__(self) -> None:
        if self.source not in (FILE, EXPORT):
            raise ArgumentError(f"input {self.name!r}: source {self.source!r}", argument="source",
                                expected="file or export")
        if (self.source == FILE) != bool(self.option and self.reader):
            raise ArgumentError(f"input {self.name!r}: a file input has an option and a reader, "
                                "an input from the export neither")

    @property
    def file(self) -> str:
        """Its processed file in data/processed."""
        return f"{self.name}.parquet"

    @property
    def dest(self) -> str:
        """Its attribute on parsed command-line arguments (``--cx-index`` -> ``cx_index``)."""
        return self.option.removeprefix("--").replace("-", "_")


_README_MARKET = "see README 'A real CX index and price file'"

#: Every optional input, in the order the cleaning log and ``cx check`` list them.
INPUTS: dict[str, Input] = {i.name: i for i in (
    Input("accounts", "accounts_path", key="account_id", option="--accounts",
          label="account master (CRM extract)",
          what="an account master or an account column in the export",
          how="map account_id in the survey schema, or give cx run --accounts a CRM extract with "
              "account_id (accounts_path in config/params.yaml)",
          reader="helpers.ingest.side_tables:read_accounts",
          fallback="the export has an account column"),
    Input("invitations", "invitations_path", key="account_id", option="--invitations",
          label="invitations: who was invited each wave",
          what="an invitations table (who was invited each wave)",
          how="give cx run --invitations a file with wave, account_id, responded (and role) "
              "(invitations_path in config/params.yaml)",
          reader="helpers.ingest.side_tables:read_invitations", sampled=True),
    Input("competitor_ratings", "competitor_ratings_path", key="response_id", source=EXPORT,
          label="competitor ratings",
          what="competitor ratings (LTR of other vendors by the same respondents)",
          how="map the competitor LTR columns under `competitors:` in the survey schema",
          sampled=True),
    Input("cx_index", "cx_index_path", key="ticker", option="--cx-index",
          label="public CX index (market view)",
          what="a public CX index (year, ticker, rank or score)",
          how=f"give cx run --cx-index the file (cx_index_path in config/params.yaml); {_README_MARKET}",
          reader="helpers.ingest.side_tables:read_dated"),
    Input("prices", "prices_path", key="ticker", option="--prices",
          label="daily prices (market view)",
          what="daily prices with dividends or total returns",
          how=f"give cx run --prices the file (prices_path in config/params.yaml); {_README_MARKET}",
          reader="helpers.ingest.side_tables:read_dated"),
    Input("exclusions", "exclusions_path", key="account_id", option="--exclusions",
          label="exclusions: accounts removed from the invitation list",
          what="an exclusions file (account_id, excluded_by) or an excluded_by column in the "
               "account master",
          how="give cx run --exclusions a file with account_id and excluded_by "
              "(who removed the account), or add an excluded_by column to the account master",
          reader="helpers.ingest.side_tables:read_exclusions",
          fallback="the account master has an excluded_by column"),
    Input("follow_ups", "follow_ups_path", key="account_id", option="--follow-ups",
          label="follow-ups: account teams' follow-ups of what they heard",
          what="a follow-up file (account_id, date, outcome)",
          how="give cx run --follow-ups the account teams' follow-up log with "
              "account_id, date and outcome",
          reader="helpers.ingest.side_tables:read_follow_ups"),
    Input("concessions", "concessions_path", key="account_id", option="--concessions",
          label="concessions: discounts, credits and free services per account",
          what="a concessions table (account_id, rep_id, date, type, value)",
          how="give cx run --concessions a CRM or billing extract with "
              "account_id, rep_id, date, type and value",
          reader="helpers.ingest.side_tables:read_concessions"),
)}


def files() -> list[Input]:
    """The inputs given as files (each with a command-line option and a reader)."""
    return [i for i in INPUTS.values() if i.source == FILE]


def by_parameter(parameter: str) -> Input | None:
    """The input a run parameter names (None for any other parameter)."""
    return next((i for i in INPUTS.values() if i.parameter == parameter), None)


def given(paths: Mapping[str, str | PathLike[str] | None]) -> dict[str, str]:
    """`paths` (input name -> file) without the inputs not provided ("" or None), in registry
    order. A name that is not a registered input is an ArgumentError (a wrong call, not bad data)."""
    unknown = [n for n in paths if n not in INPUTS]
    if unknown:
        raise ArgumentError(f"unknown input {unknown[0]!r}", argument="inputs",
                            expected=", ".join(INPUTS))
    return {n: str(paths[n]) for n in INPUTS if paths.get(n)}


def from_parameters(params: Mapping[str, object]) -> dict[str, str]:
    """Input name -> file for every input whose run parameter is in `params` (a notebook's
    parameters: ``{"accounts_path": "...", "n_boot": 200}`` -> ``{"accounts": "..."}``)."""
    return {i.name: str(params[i.parameter] or "") for i in INPUTS.values() if i.parameter in params}
