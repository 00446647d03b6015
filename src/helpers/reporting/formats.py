"""Number formats every report shares: figures with CIs, money, metric labels."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from typing import Any, TypeGuard

import numpy as np


def is_number(x: Any) -> TypeGuard[float]:
    """A finite real number (Python or numpy), not a bool: usable as a float."""
    return (isinstance(x, numbers.Real) and not isinstance(x, bool | np.bool_)
            and math.isfinite(float(x)))


def format_figure(value: Mapping[str, Any], digits: int = 1) -> str:
    """'31.2 [27.0, 35.4] n=812' style text of one metric (CI and n when present)."""
    est = float(value["estimate"])
    text = f"{est:,.{digits}f}"
    lo, hi = value.get("ci_low"), value.get("ci_high")
    if is_number(lo) and is_number(hi):
        text += f" [{float(lo):,.{digits}f}, {float(hi):,.{digits}f}]"
    if is_number(value.get("n")):
        text += f" n={int(value['n']):,}"
    return text


_UPPER = {"nps", "ces", "csat", "b2b", "b2c", "arr", "nrr", "ci", "dm"}


def metric_label(key: str) -> str:
    """Readable name of a dotted metric key: '02_segments.nps_b2b' -> 'NPS B2B (segments)'."""
    head, _, rest = key.partition(".")
    if not rest:
        head, rest = "", key
    words = [w.upper() if w.lower() in _UPPER else w for w in re.split(r"[._]+", rest) if w]
    source = re.sub(r"^\d+_", "", head).replace("_", " ")
    return " ".join(words) + (f" ({source})" if source else "")


# --- executive summary: read the run's artefacts, never recompute ----------------------------

MISSING = "not available in this run"


def too_few_text(n: Any) -> str:
    """What a headline tile says in place of its figure below the minimum n (the small-n rule
    of the segment tables): 'too few responses for a headline (n = 7)'."""
    return f"too few responses for a headline (n = {fmt_int(n)})"


def ci_text(est: float | None, lo: float | None, hi: float | None, n: Any = None,
            signed: bool = False, digits: int = 1, unit: str = "") -> str:
    """'+31.2 [+27.0, +35.4] (n=812)': estimate, 95% CI and n in one phrase."""
    if not is_number(est):
        return MISSING
    f = f"{{:{'+' if signed else ''},.{digits}f}}"
    text = f.format(est) + unit
    if is_number(lo) and is_number(hi):
        text += f" [{f.format(lo)}, {f.format(hi)}]"
    if is_number(n):
        text += f" (n={int(n):,})"
    elif isinstance(n, str) and n:
        text += f" (n {n})"  # a band (helpers.analysis.disclosure.shown_count)
    return text


def as_number(x: Any) -> float:
    return float(x) if is_number(x) else float("nan")


def money(x: float | None, currency: str = "USD") -> str:
    """Compact money: 1234567 -> 'USD 1.23M', -45000 -> 'USD -45k'; None or NaN -> MISSING."""
    if not is_number(x):
        return MISSING
    if abs(x) >= 1e6:
        return f"{currency} {x / 1e6:,.2f}M"
    if abs(x) >= 1e3:
        return f"{currency} {x / 1e3:,.0f}k"
    return f"{currency} {x:,.0f}"


# --- cell formats of the reports' tables (tables.py) and the workbook (workbook.py) ------------

DASH = "–"  # an empty or not-computed cell


def fmt_int(x: Any) -> str:
    """1234 -> '1,234' (a count)."""
    return f"{int(round(float(x))):,}" if is_number(x) else DASH


def fmt_num(x: Any, digits: int = 1, signed: bool = False) -> str:
    """A plain number with thousands separators: 4.7649 -> '4.8' (digits=1)."""
    if not is_number(x):
        return DASH
    value = float(x)
    if round(value, digits) == 0:
        value = 0.0  # no '-0.0'
    return f"{value:{'+' if signed else ''},.{digits}f}"


def fmt_points(x: Any, digits: int = 1) -> str:
    """NPS and other differences in points, always signed: 17.78 -> '+17.8'."""
    return fmt_num(x, digits, signed=True)


def fmt_pct(x: Any, digits: int = 1, fraction: bool = False, signed: bool = False) -> str:
    """A rate in percent: 60.6 -> '60.6%' (``fraction=True``: 0.606 -> '60.6%')."""
    if not is_number(x):
        return DASH
    return fmt_num(100 * float(x) if fraction else x, digits, signed) + "%"


def fmt_money(x: Any, currency: str = "USD", digits: int = 0) -> str:
    """Money with thousands separators: 8323066.33 -> 'USD 8,323,066'."""
    return f"{currency} {fmt_num(x, digits)}" if is_number(x) else DASH


def fmt_p(p: Any) -> str:
    """A p-value: '<0.001', '0.023', '1.000'."""
    if not is_number(p):
        return DASH
    return "<0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def fmt_ci(lo: Any, hi: Any, fmt: Any = fmt_num) -> str:
    """A 95% CI as '[low, high]' in the estimate's format (``fmt`` formats one number)."""
    if not (is_number(lo) and is_number(hi)):
        return DASH
    return f"[{fmt(lo)}, {fmt(hi)}]"


def fmt_sig(flag: Any) -> str:
    """Significance as a word: 'yes' / 'no' (missing: a dash)."""
    if flag is None or (isinstance(flag, float) and math.isnan(flag)):
        return DASH
    return "yes" if bool(flag) else "no"
