"""The executive summary's one line on accounts never surveyed (from the account programme's
coverage audit): "N accounts (X % of ARR) were not surveyed; had they scored like the bottom
quartile, B2B NPS would be Y". No account, contact or rep is named."""

from __future__ import annotations

import pandas as pd

from helpers.analysis import coverage_audit
from helpers.reporting.formats import MISSING
from helpers.reporting.summary import Artefacts, Finding

NOTEBOOK = "08_account_programme"


def coverage_finding(art: Artefacts) -> Finding:
    """The coverage audit's line for leadership, or what is missing."""
    keys = ("accounts_not_surveyed", "arr_share_not_surveyed", "nps_b2b", "nps_if_bottom_quartile")
    line = coverage_audit.line_from_metrics({k: art.metric(k, NOTEBOOK) for k in keys})
    text = line or f"Accounts never surveyed: {MISSING}."
    return Finding(text, pd.DataFrame(columns=["label", "estimate", "ci_low", "ci_high", "n"]),
                   "", "", "")
