"""Section gates: show a section when its declared needs are met, else a "not available" card.

A notebook opens one :class:`Gate` on its study's facts and asks it before each section::

    gate = cards.Gate("02_segments", data.facts)
    if gate.open("segments.account_nps"):
        ...  # the section

When a need is missing the reader sees a card, "Not available in this run: needs X (how to
provide it)", and the notebook goes on. Data that meet the needs but turn out too thin for an
analysis (no promoter accounts, too few complete answers: :class:`helpers.errors.ThinData`) get
the same card with what was found, through :meth:`Gate.enough` or :meth:`Gate.each`::

    if gate.open("drivers.walk_back"):
        with gate.enough("drivers.walk_back"):
            ...  # the section; a ThinData error ends it with a card, not a failed notebook

Any other error still fails the notebook loudly. :meth:`Gate.save` writes what was and was not available
to the run folder (``sections/<notebook>.json``), which the executive summary and the run index
read.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from helpers import catalog, contract, paths
from helpers.errors import ThinData

T = TypeVar("T")
K = TypeVar("K")


@dataclass
class Gate:
    """Checks sections against a run's facts, shows cards, remembers the outcome."""

    notebook: str
    facts: contract.Facts
    record: list[dict[str, Any]] = field(default_factory=list)
    leadership: bool = False   # a leadership page: cards in a leader's words (card_html)

    def open(self, section: str, market: str | None = None, show: bool = True) -> bool:
        """True when `section` (for `market`) can run; otherwise display its card and False."""
        lacking = contract.missing(section, self.facts, market)
        title = _title(section, market, self.facts)
        seen = self._entry(section, market)
        if seen is not None and seen.get("thin"):
            return False  # found too thin earlier in this notebook: its card is shown already
        if not seen:
            self.record.append({"section": section, "title": title, "market": market,
                                "available": not lacking, "missing": lacking})
        if lacking and show and not seen:
            from IPython.display import HTML, display

            display(HTML(card_html(title, lacking, self.leadership)))
        return not lacking

    def markets(self, section: str, markets: list[str] | tuple[str, ...]) -> list[str]:
        """The markets for which `section` can run (a card for each market that cannot, when
        that market has responses at all)."""
        out = []
        for m in markets:
            if self.facts.rows.get(m, 0) == 0:
                continue
            if self.open(section, m):
                out.append(m)
        return out

    @contextmanager
    def enough(self, section: str, market: str | None = None) -> Iterator[None]:
        """Run a section's body; when its data prove too thin (ThinData), show a "not enough
        data" card with what was found and record the section as not available, instead of
        failing the notebook. Later :meth:`open` calls for the section return False."""
        try:
            yield
        except ThinData as err:
            self._thin(section, market, err)

    def each(self, section: str, keys: Iterable[K], fn: Callable[[K], T]) -> dict[K, T]:
        """``{k: fn(k)}`` over `keys` (markets), leaving out, with a card each, the keys whose
        data are too thin for the section."""
        out: dict[K, T] = {}
        for k in keys:
            with self.enough(section, str(k)):
                out[k] = fn(k)
        return out

    def _entry(self, section: str, market: str | None) -> dict[str, Any] | None:
        return next((r for r in self.record if r["section"] == section and r["market"] == market),
                    None)

    def _thin(self, section: str, market: str | None, err: ThinData) -> None:
        need = f"more data than this run has: {err}"
        entry = self._entry(section, market)
        if entry is None:
            entry = {"section": section, "title": _title(section, market, self.facts),
                     "market": market}
            self.record.append(entry)
        entry.update(available=False, missing=[need], thin=True)
        from IPython.display import HTML, display

        display(HTML(card_html(entry["title"], [need], self.leadership)))

    def lacking(self, section: str) -> list[str]:
        """What `section` lacked in this run, for any market (the causes its cards named)."""
        return [m for r in self.record if r["section"] == section and not r["available"]
                for m in r["missing"]]

    def unavailable(self) -> list[dict[str, Any]]:
        return [r for r in self.record if not r["available"]]

    def save(self, run_dir: str | os.PathLike[str]) -> None:
        """Write ``<run_dir>/sections/<notebook>.json`` (one entry per section asked)."""
        catalog.save_json({"notebook": self.notebook, "sections": self.record},
                          paths.resolve(run_dir) / "sections" / f"{self.notebook}.json")


def _title(section: str, market: str | None, facts: contract.Facts | None = None) -> str:
    words = (facts.headline, facts.measure) if facts is not None else ()
    return contract.title(section, *words) + (f" ({market})" if market else "")


def card_html(title: str, lacking: list[str], leadership: bool = False) -> str:
    """The "not available" card: the section's title and each missing need in plain words;
    on a leadership page (`leadership`) what to provide in a leader's words
    (:func:`helpers.contract.in_words`), the schema terms left to the run's analyst notes."""
    if leadership:
        words = list(dict.fromkeys(contract.in_words(m) for m in lacking))
        said = (", ".join(words[:-1]) + " and " + words[-1]) if len(words) > 1 else words[0]
        return (f'<div class="cx-card cx-na" role="note"><p><strong>Not available in this run: '
                f"{html.escape(title)}</strong></p><p>It needs {html.escape(said)}; see the "
                '<a href="analyst_notes.html">analyst notes</a>.</p></div>')
    items = "".join(f"<li>{html.escape(m)}</li>" for m in lacking)
    return (f'<div class="cx-card cx-na" role="note"><p><strong>Not available in this run: '
            f"{html.escape(title)}</strong></p><p>This section needs:</p><ul>{items}</ul></div>")


def not_available(run_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every section a run's notebooks reported as not available (from ``sections/*.json``)."""
    folder = paths.resolve(run_dir) / "sections"
    out: list[dict[str, Any]] = []
    for p in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        doc = catalog.load_json("sections", p)
        out += [{**r, "notebook": doc.get("notebook", p.stem)} for r in doc.get("sections", [])
                if not r.get("available", True)]
    return out
