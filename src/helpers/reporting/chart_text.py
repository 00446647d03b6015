"""Text on charts: alt text that says what each chart shows, and point labels that never overlap.

:func:`describe` records a chart's alt text from its title and data; :func:`install_alt_text`
makes the notebook's PNG output carry it (``image/png`` metadata ``alt``, which the report
template writes into the ``<img>``). :func:`place_labels` lays out point labels.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np

# --- alt text: every chart says what it shows ----------------------------------------------

_ALT: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
MAX_ALT_ROWS = 12


def describe(target: plt.Axes | plt.Figure, text: str) -> None:
    """Record the alt text of the chart `target` belongs to (replaces an earlier one)."""
    fig = target.figure if isinstance(target, plt.Axes) else target
    _ALT[fig] = " ".join(str(text).split())


def describe_rows(target: plt.Axes | plt.Figure, title: str, rows: Sequence[str],
                  unit: str = "") -> None:
    """Alt text from a title and one phrase per row (at most :data:`MAX_ALT_ROWS`)."""
    shown = list(rows[:MAX_ALT_ROWS])
    more = f"; and {len(rows) - MAX_ALT_ROWS} more" if len(rows) > MAX_ALT_ROWS else ""
    head = f"{title}." if title else "Chart."
    describe(target, f"{head} {unit + ': ' if unit else ''}{'; '.join(shown)}{more}.")


def title_of(ax: plt.Axes) -> str:
    """The axes' title whichever slot it is in (the house style puts titles on the left)."""
    return next((t for t in (ax.get_title("left"), ax.get_title(), ax.get_title("right")) if t), "")


def _is_number_text(text: str) -> bool:
    try:
        float(text.replace("\N{MINUS SIGN}", "-").replace(",", ""))
    except ValueError:
        return False
    return True


def alt_text(fig: plt.Figure) -> str:
    """The chart's description: what :func:`describe` recorded, else its titles, axis labels and
    category labels (so that no chart goes without one)."""
    if fig in _ALT:
        return _ALT[fig]
    parts = [t.get_text() for t in fig.texts[:1] if t.get_text()]
    for ax in fig.axes:
        bits = [title_of(ax), ax.get_xlabel(), ax.get_ylabel()]
        ticks = [t.get_text() for t in ax.get_yticklabels()
                 if t.get_text() and not _is_number_text(t.get_text())]
        if ticks and len(ticks) <= MAX_ALT_ROWS:
            bits.append("rows: " + ", ".join(ticks))
        parts.append("; ".join(b for b in bits if b))
    text = ". ".join(p for p in parts if p)
    return text or "Chart"


def install_alt_text() -> None:
    """Make IPython's PNG output of a figure carry its alt text (``image/png`` metadata ``alt``).

    Wraps the inline backend's PNG formatter; outside IPython nothing happens.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the kernel
        return
    shell = get_ipython()
    if shell is None:
        return
    import importlib

    from matplotlib.figure import Figure

    if "inline" in str(mpl.get_backend(auto_select=False)):
        # the inline backend registers its PNG formatter when its module is first imported
        importlib.import_module("matplotlib_inline.backend_inline")
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        original = formatter.lookup_by_type(Figure)
    except KeyError:
        return
    if getattr(original, "cx_alt", False):
        return

    def png_with_alt(fig: Figure) -> Any:
        out = original(fig)
        if out is None:
            return None
        data, meta = out if isinstance(out, tuple) else (out, {})
        return data, {**(meta or {}), "alt": alt_text(fig)}

    png_with_alt.cx_alt = True  # type: ignore[attr-defined]  # marks our wrapper: installed once
    formatter.for_type(Figure, png_with_alt)


def skip_idle_redraw() -> None:
    """Leave out pyplot's redraw of every open figure after each cell (for windows a kernel does
    not have): the inline backend renders each figure to its PNG right after, so that whole
    draw per chart was thrown away. Only under the inline backend in IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the kernel
        return
    shell = get_ipython()
    if shell is None or "inline" not in str(mpl.get_backend()):
        return
    hook = getattr(plt, "_draw_all_if_interactive", None)
    if hook is not None and hook in shell.events.callbacks.get("post_execute", []):
        shell.events.unregister("post_execute", hook)


def share_text_metrics() -> None:
    """Measure a text once per kernel for all Agg drawings at one dpi, not once per renderer.

    matplotlib caches the size of each text per renderer object, and a PNG saved with
    ``bbox_inches="tight"`` (the inline backend's output) lays the figure out with one renderer
    and draws it with another of the cropped size, so every text was measured twice (about a
    third of a chart's rendering). An Agg text's size depends only on the text, its font
    properties, the dpi and the hinting, which is the key here: the images are byte-identical.
    """
    import matplotlib.text as mtext
    from matplotlib.backends.backend_agg import RendererAgg, get_hinting_flag

    measure = getattr(mtext, "_get_text_metrics_with_cache", None)
    if measure is None or getattr(measure, "cx_shared", False):
        return
    sizes: dict[tuple[Any, ...], tuple[float, float, float]] = {}

    def shared(renderer: Any, text: str, fontprop: Any, ismath: Any, dpi: float
               ) -> tuple[float, float, float]:
        if type(renderer) is not RendererAgg:
            return measure(renderer, text, fontprop, ismath, dpi)
        key = (renderer.dpi, dpi, text, fontprop.copy(), ismath, get_hinting_flag())
        if key not in sizes:
            if len(sizes) >= 50_000:
                sizes.clear()
            sizes[key] = renderer.get_text_width_height_descent(text, fontprop, ismath=ismath)
        return sizes[key]

    shared.cx_shared = True  # type: ignore[attr-defined]  # installed once
    shared.__wrapped__ = measure  # type: ignore[attr-defined]  # matplotlib's own
    mtext._get_text_metrics_with_cache = shared  # type: ignore[attr-defined]  # private hook


def share_font_layout() -> None:
    """Lay out each text's glyphs and look up each font's line heights once per kernel, not at
    every draw.

    Agg shapes a text (``FT2Font._layout``, ~1 ms) each time it draws it, and every text's
    layout reads its font's height tables (``Text._get_layout``, three passes of a tight PNG);
    both depend only on the text, its font properties, the dpi and the hinting, so the images
    are byte-identical. Installed only where matplotlib has these hooks (3.11's Agg).
    """
    from matplotlib.backends.backend_agg import RendererAgg, get_hinting_flag

    if getattr(RendererAgg, "cx_layout", False) or not hasattr(RendererAgg, "_draw_text_glyphs_and_boxes"):
        return
    heights: dict[tuple[Any, ...], tuple[Any, Any, Any]] = {}
    layouts: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    draw_text = RendererAgg.draw_text

    def font_height_metrics(self: Any, prop: Any) -> tuple[Any, Any, Any]:
        key = (prop.copy(), self.dpi, _font_settings())
        if key not in heights:
            heights[key] = _font_height_metrics(prop, self.dpi)
        return heights[key]

    def shared_draw_text(self: Any, gc: Any, x: float, y: float, s: str, prop: Any,  # noqa: PLR0913  # matplotlib's signature
                         angle: float, ismath: Any = False, mtext: Any = None) -> None:
        if ismath:
            return draw_text(self, gc, x, y, s, prop, angle, ismath, mtext)
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        key = (prop.copy(), self.dpi, s, get_hinting_flag(),
               None if features is None else tuple(features), language, _font_settings())
        if key not in layouts:
            if len(layouts) >= 50_000:
                layouts.clear()
            size = prop.get_size_in_points()
            layouts[key] = [(item.ft_object, size, item.glyph_index, 0, 1, item.x, item.y)
                            for item in self._prepare_font(prop)._layout(
                                s, flags=get_hinting_flag(), features=features, language=language)]
        self._draw_text_glyphs_and_boxes(gc, x, y, angle, layouts[key], [])
        return None

    RendererAgg._get_font_height_metrics = font_height_metrics  # type: ignore[attr-defined]  # Text's hook
    RendererAgg.draw_text = shared_draw_text  # type: ignore[method-assign]
    RendererAgg.cx_layout = True  # type: ignore[attr-defined]  # installed once
    shared_draw_text.__wrapped__ = draw_text  # type: ignore[attr-defined]  # matplotlib's own


_FONT_SETTINGS = ("font.family", "font.serif", "font.sans-serif", "font.cursive", "font.fantasy",
                  "font.monospace", "text.hinting_factor")


def _font_settings() -> tuple[str, ...]:
    """The settings that decide which font file a font's properties resolve to (a chart drawn
    under another ``rc_context`` gets its own cache entries)."""
    rc: Any = mpl.rcParams
    return tuple(str(rc[k]) for k in _FONT_SETTINGS)


def _font_height_metrics(prop: Any, dpi: float) -> tuple[Any, Any, Any]:
    """(ascent, descent, line gap) in pixels from the font's tables, as ``Text._get_layout``
    computes them (Nones: no table, and Text measures "lp" instead)."""
    from matplotlib.font_manager import fontManager, get_font

    font: Any = get_font(fontManager._find_fonts_by_props(prop))
    for table_name, gap_key, ascent_key, descent_key in (
            ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
            ("hhea", "lineGap", "ascent", "descent")):
        table = font.get_sfnt_table(table_name)
        if table is None:
            continue
        fontsize = prop.get_size_in_points()
        units_per_em = font.get_sfnt_table("head")["unitsPerEm"]
        scale = 1 / units_per_em * fontsize * dpi / 72
        return table[ascent_key] * scale, -table[descent_key] * scale, table[gap_key] * scale
    return None, None, None


def fast_wrap() -> None:
    """Wrap a ``wrap=True`` text (the methods note) measuring a few candidate lines, not every
    word's prefix.

    matplotlib finds each line break by measuring the line word by word (for a three-line note
    some 75 strings of up to a line's length, in each of the three passes of a tight PNG: ~40 % of
    a chart). The width of a prefix of words never shrinks as words are added, so the break (the
    first prefix wider than the line) is found from an estimate (each word measured once, the
    same cache for the whole kernel) and then checked and moved word by word with exact widths:
    the same lines as matplotlib's, so the images are byte-identical. Lines with a ``$``
    (mathtext) go to matplotlib's own wrapping.
    """
    import matplotlib.text as mtext

    wrap = getattr(mtext.Text, "_get_wrapped_text", None)
    if wrap is None or getattr(wrap, "cx_fast", False):
        return

    def fast(self: Any) -> str:
        text = self.get_text()
        if not self.get_wrap() or self.get_usetex():
            return text
        if "$" in text:
            return wrap(self)
        line_width = self._get_wrap_line_width()
        return "\n".join(line for part in text.split("\n")
                         for line in wrap_words(part.split(" "), self._get_rendered_text_width, line_width))

    fast.cx_fast = True  # type: ignore[attr-defined]  # installed once
    fast.__wrapped__ = wrap  # type: ignore[attr-defined]  # matplotlib's own
    mtext.Text._get_wrapped_text = fast  # type: ignore[attr-defined]  # private hook


def wrap_words(words: list[str], width: Any, line_width: float) -> list[str]:
    """The lines matplotlib's wrapping makes of `words` (one line of text split at spaces): each
    line the longest run of words whose ``width`` (pixels of the joined words) is at most
    `line_width`, at least one word."""
    lines = []
    gap = width("x x") - 2 * width("x")
    while len(words) > 1:
        cut = _first_too_wide(words, width, line_width, gap)
        if cut is None:
            break
        lines.append(" ".join(words[:cut - 1]))
        words = words[cut - 1:]
    return [*lines, " ".join(words)]


def _first_too_wide(words: list[str], width: Any, line_width: float, gap: float) -> int | None:
    """The smallest ``i >= 2`` with ``width(" ".join(words[:i])) > line_width`` (None when all
    words fit): estimated from the words' own widths, then checked and moved with exact widths."""
    n = len(words)
    guess, used = n + 1, 0.0
    for i, word in enumerate(words, 1):
        used += width(word) + (gap if i > 1 else 0)
        if i >= 2 and used > line_width:
            guess = i
            break

    def too_wide(i: int) -> bool:
        return bool(width(" ".join(words[:i])) > line_width)

    i = guess
    while i <= n and not too_wide(i):
        i += 1
    while i > 2 and too_wide(i - 1):
        i -= 1
    return i if i <= n else None


# --- point labels that do not overlap ------------------------------------------------------

_OFFSETS = [(dx, dy) for dy in (0, 11, -11, 22, -22, 33, -33, 44, -44, 55, -55, 66, -66)
            for dx in (6, -6)]


def _overlap(a: Any, b: Any) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def root_figure(ax: plt.Axes) -> plt.Figure:
    """The figure `ax` is drawn on (the top figure when `ax` sits in a subfigure)."""
    fig = ax.get_figure(root=True)
    if fig is None:
        raise ValueError("the axes belong to no figure")
    return fig


def place_labels(ax: plt.Axes, xy: Sequence[tuple[float, float]], texts: Sequence[str],
                 avoid: Sequence[Any] = (), fontsize: float = 8, color: str = "#333333"
                 ) -> list[Any]:
    """Label points so that no two labels overlap each other, the points or `avoid` artists.

    Each label takes the first free position beside its point (right, left, then further up or
    down); a label moved away from its point gets a thin leader line. Call it after the axes
    limits are final. Returns the annotations.
    """
    renderer = root_figure(ax).canvas.get_renderer()  # type: ignore[attr-defined]  # stubs: Agg canvas only
    frame = ax.get_window_extent(renderer)
    taken = [a.get_window_extent(renderer) for a in avoid]
    pts = ax.transData.transform(np.asarray(xy, float).reshape(-1, 2)) if len(xy) else np.empty((0, 2))
    from matplotlib.transforms import Bbox

    taken += [Bbox.from_extents(x - 4, y - 4, x + 4, y + 4) for x, y in pts]
    out = []
    order = sorted(range(len(texts)), key=lambda i: (-xy[i][1], xy[i][0]))
    for i in order:
        ann = ax.annotate(texts[i], xy[i], xytext=(6, 0), textcoords="offset points",
                          fontsize=fontsize, color=color, va="center", ha="left",
                          bbox={"boxstyle": "square,pad=0.05", "fc": "white", "ec": "none",
                                "alpha": 0.8})
        best, best_cost = None, None
        for k, (dx, dy) in enumerate(_OFFSETS):
            ann.set_position((dx, dy))
            ann.set_horizontalalignment("left" if dx > 0 else "right")
            box = ann.get_window_extent(renderer)
            outside = box.x0 < frame.x0 or box.x1 > frame.x1 or box.y0 < frame.y0 or box.y1 > frame.y1
            cost = sum(_overlap(box, t) for t in taken) + (1e6 if outside else 0) + k
            if best_cost is None or cost < best_cost:
                best, best_cost = (dx, dy, box), cost
            if cost == k:
                break
        assert best is not None  # _OFFSETS is not empty
        dx, dy, box = best
        ann.set_position((dx, dy))
        ann.set_horizontalalignment("left" if dx > 0 else "right")
        if dy:
            ax.annotate("", xy[i], xytext=(dx, dy), textcoords="offset points",
                        arrowprops={"arrowstyle": "-", "color": "#999999", "lw": 0.6,
                                    "shrinkA": 0, "shrinkB": 2})
        taken.append(box)
        out.append(ann)
    return out
