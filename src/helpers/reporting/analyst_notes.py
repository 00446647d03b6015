"""The analyst notes of a run (``<run>/analyst_notes.html``): every section the run could not show,
with what it needs in the survey schema's and the run's own terms.

The executive summary says in one line how many more analyses other data would make available
(:func:`summary_line`) and links here; the full list, in configuration language, is for the
analyst who maps the schema and provides the inputs.
"""

from __future__ import annotations

import html
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers import contract, paths
from helpers.reporting import cards
from helpers.reporting.render import CSS, publish_bytes
from helpers.reporting.safe_html import csp_meta

FILE = "analyst_notes.html"
MARKETS = ("B2B", "B2C")


def _absent_market(row: dict[str, Any]) -> str | None:
    """The market a section is missing only because the programme has none of its responses."""
    return next((m for m in MARKETS if row["missing"] == [f"{m} responses (the export has none)"]),
                None)


def split(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """(sections data would make available, {market: sections left out for want of that
    market}): a B2C-only programme is not missing its B2B sections, it has no B2B customers."""
    lacking: list[dict[str, Any]] = []
    absent: Counter[str] = Counter()
    for r in rows:
        market = _absent_market(r)
        if market:
            absent[market] += 1
        else:
            lacking.append(r)
    return lacking, dict(absent)


def summary_line(rows: list[dict[str, Any]], limit: int = 3) -> str | None:
    """'3 more analyses become available with account data and a second survey wave' (the
    `limit` commonest needs, in a leader's words); None when nothing is missing."""
    lacking, _ = split(rows)
    if not lacking:
        return None
    kinds = Counter(w for r in lacking for w in dict.fromkeys(contract.in_words(m)
                                                              for m in r["missing"]))
    named = [k for k, _ in kinds.most_common(limit)] + (["other data"] if len(kinds) > limit else [])
    words = (", ".join(named[:-1]) + " and " + named[-1]) if len(named) > 1 else named[0]
    n = len(lacking)
    return f"{n} more {'analysis becomes' if n == 1 else 'analyses become'} available with {words}"


def _table(rows: list[dict[str, Any]]) -> str:
    e = html.escape
    body = "".join(
        f"<tr><td>{e(str(r.get('notebook', '')))}</td><td>{e(str(r.get('title', '')))}</td>"
        f"<td><ul>{''.join(f'<li>{e(str(m))}</li>' for m in r['missing'])}</ul></td></tr>"
        for r in rows)
    return ('<table class="cx-table"><thead><tr><th>Report</th><th>Section</th>'
            f"<th>What it needs (survey schema, run parameters)</th></tr></thead><tbody>{body}"
            "</tbody></table>")


def write(run_dir: str | os.PathLike[str]) -> Path:
    """Write ``<run_dir>/analyst_notes.html`` from the run's ``sections/*.json``."""
    folder = paths.resolve(run_dir)
    lacking, absent = split(cards.not_available(folder))
    listing = (_table(lacking) if lacking else
               "<p>Every section of this programme's markets had the data it needs.</p>")
    gone = "".join(f"<p>This programme has no {html.escape(m)} responses, so its {k} {html.escape(m)} "
                   "section(s) are left out.</p>" for m, k in absent.items())
    page = f"""<!DOCTYPE html>
<html lang="en"><head>{csp_meta()}<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Analyst notes: what this run could not show</title>
<style>{CSS}</style></head>
<body class="cx-report">
<header class="cx-header"><p class="cx-crumbs"><a href="../index.html">All runs</a> &rsaquo; run
{html.escape(folder.name)}</p><h1 class="cx-title">Analyst notes: what this run could not show</h1>
<p class="cx-meta">{len(lacking)} section(s) not available &middot;
{datetime.now(UTC):%Y-%m-%d %H:%M UTC}</p></header>
<p>Each section below showed a "not available" card in its report. Providing what it needs (a
field mapped in the survey schema, an optional input file set in the run parameters, more
waves or responses) adds it to the next run; <code>cx check</code> lists the same before a run.</p>
{listing}{gone}
<footer class="cx-footer">From the run's <code>sections/*.json</code>, written by each report.</footer>
</body></html>
"""
    return publish_bytes(folder / FILE, page.encode("utf-8"))
