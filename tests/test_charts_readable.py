"""Charts a person can read: labels never overlap, heights fit the rows, every chart has alt
text built from its title and data (and it reaches the rendered <img>), Okabe-Ito colours."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from helpers.reporting import chart_text, charts, driver_charts, render  # noqa: E402


@pytest.fixture(autouse=True)
def _theme():
    with matplotlib.rc_context():  # the house theme for these tests only
        charts.set_theme()
        yield
    plt.close("all")


def _pm(n_same: int = 4) -> pd.DataFrame:
    """A priority matrix with `n_same` items on exactly the same point (as the four B2B sales
    items were), plus two others."""
    names = [f"sales_item_{i}" for i in range(n_same)] + ["impl_on_time", "impl_on_budget"]
    share = [0.2] * n_same + [0.1, 0.12]
    perf = [3.5] * n_same + [4.1, 2.9]
    pm = pd.DataFrame({"share": share, "share_ci_low": np.array(share) - 0.03,
                       "share_ci_high": np.array(share) + 0.03, "performance": perf,
                       "perf_ci_low": np.array(perf) - 0.1, "perf_ci_high": np.array(perf) + 0.1,
                       "quadrant": ["fix first"] * n_same + ["don't over-invest", "monitor"]},
                      index=names)
    pm.attrs.update(importance_cut=1 / len(pm), performance_cut=3.5)
    return pm


def _boxes(ax: plt.Axes) -> list:
    fig = ax.figure
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(r)) for t in ax.texts if t.get_text()]


def test_priority_matrix_labels_never_overlap_even_on_one_point() -> None:
    labels = {f"sales_item_{i}": f"A long sales label number {i}" for i in range(4)}
    ax = driver_charts.priority_matrix(_pm(4), labels=labels)
    boxes = _boxes(ax)
    names = [b for b in boxes if b[0].startswith("A long") or b[0].startswith("impl")]
    assert len(names) == 6
    frame = ax.get_window_extent()
    for (ta, a), (tb, b) in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), f"{ta!r} overlaps {tb!r}"
    for text, box in names:  # inside the plot area
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, text


def test_the_overlap_check_can_fail() -> None:
    """Negative control: annotations at one point without the layout do overlap."""
    fig, ax = plt.subplots()
    for i in range(3):
        ax.annotate(f"label {i}", (1, 1), xytext=(5, 4), textcoords="offset points")
    boxes = _boxes(ax)
    assert any(a.overlaps(b) for (_, a), (_, b) in itertools.combinations(boxes, 2))


def test_place_labels_keeps_many_crowded_labels_apart() -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    rng = np.random.default_rng(3)
    xy = [(float(x), float(y)) for x, y in rng.normal(0, 0.05, size=(10, 2))]
    ax.scatter(*zip(*xy, strict=True))
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    chart_text.place_labels(ax, xy, [f"Rep {c}" for c in "ABCDEFGHIJ"])
    boxes = _boxes(ax)
    assert len(boxes) == 10
    assert not any(a.overlaps(b) for (_, a), (_, b) in itertools.combinations(boxes, 2))


def test_height_grows_with_rows() -> None:
    small = pd.DataFrame({"label": list("ab"), "estimate": [1.0, 2.0], "ci_low": [0.0, 1.0],
                          "ci_high": [2.0, 3.0], "n": [10, 20]})
    big = pd.concat([small] * 10, ignore_index=True).assign(label=[f"row {i}" for i in range(20)])
    h_small = charts.ci_points(small, label="label").figure.get_figheight()
    h_big = charts.ci_points(big, label="label").figure.get_figheight()
    assert h_small < 3 and h_big > 9 and h_big / 20 < 0.6  # about half an inch per row


def test_alt_text_from_title_and_data() -> None:
    t = pd.DataFrame({"label": ["B2B NPS", "B2C NPS"], "estimate": [17.8, 12.2],
                      "ci_low": [9.4, 3.4], "ci_high": [25.9, 20.7], "n": [731, 460]})
    ax = charts.ci_points(t, label="label", title="NPS by market", xlabel="NPS (points)")
    alt = chart_text.alt_text(ax.figure)
    assert alt == ("NPS by market. NPS (points): B2B NPS: 17.8 [9.4, 25.9], n=731; "
                   "B2C NPS: 12.2 [3.4, 20.7], n=460.")
    fig, ax2 = plt.subplots()  # a chart drawn without a description still gets one
    ax2.set_title("Untitled trend")
    ax2.set_xlabel("Wave")
    assert chart_text.alt_text(fig) == "Untitled trend; Wave"


def test_palette_is_okabe_ito() -> None:
    assert charts.PALETTE[:6] == ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"]


def test_alt_text_reaches_the_rendered_image(tmp_path) -> None:
    """set_theme makes IPython's PNG output of a figure carry image/png metadata alt, and the
    template writes it into the <img> (nbconvert's placeholder never appears)."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats

    shell = InteractiveShell.instance()
    try:
        select_figure_formats(shell, {"png"})  # what the inline backend registers in a kernel
        chart_text.install_alt_text()
        chart_text.install_alt_text()  # idempotent: wrapped once
        t = pd.DataFrame({"label": ["a <b>", "b"], "estimate": [1.0, 2.0], "ci_low": [0.5, 1.5],
                          "ci_high": [1.5, 2.5], "n": [10, 20]})
        fig = charts.ci_points(t, label="label", title="Alt test").figure
        data, meta = shell.display_formatter.format(fig)
    finally:
        InteractiveShell.clear_instance()
    assert meta["image/png"]["alt"].startswith("Alt test. Estimate: a <b>: 1.0 [0.5, 1.5], n=10;")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell("chart")
    cell.outputs = [nbformat.v4.new_output("display_data", data=data, metadata=meta)]
    nb.cells = [cell]
    src = tmp_path / "x.ipynb"
    nbformat.write(nb, src)
    page = render.render_notebook_html(src, tmp_path / "x.html", run_id="r").read_text()
    assert 'alt="Alt test. Estimate: a &lt;b&gt;: 1.0 [0.5, 1.5], n=10;' in page
    assert "No description has been provided" not in page


def test_shared_text_metrics_draw_the_same_png(monkeypatch: pytest.MonkeyPatch) -> None:
    """The theme measures each text once for both passes of a tight PNG: the bytes are those
    of matplotlib's per-renderer measuring."""
    import matplotlib.text as mtext
    from IPython.core.pylabtools import print_figure

    shared = mtext._get_text_metrics_with_cache
    assert getattr(shared, "cx_shared", False)

    def png() -> bytes:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.barh([0, 1, 2], [30, 50, 20])
        ax.set_yticks([0, 1, 2], ["Onboarding", "Support", "Value for money"])
        ax.set_title("Shares by item")
        charts.methods_note(ax, "A note long enough to wrap across the figure: " + "words " * 40)
        out = print_figure(fig, "png")
        plt.close(fig)
        return bytes(out)

    with_sharing = png()
    monkeypatch.setattr(mtext, "_get_text_metrics_with_cache", shared.__wrapped__)
    assert png() == with_sharing


def test_shared_font_layout_draws_the_same_png(monkeypatch: pytest.MonkeyPatch) -> None:
    """The theme shapes each text and reads each font's line heights once per kernel: the bytes
    are those of matplotlib's shaping at every draw (texts repeated, sizes, rotations,
    mathtext, another font under rc_context)."""
    from IPython.core.pylabtools import print_figure
    from matplotlib.backends.backend_agg import RendererAgg

    shared = RendererAgg.draw_text
    assert getattr(RendererAgg, "cx_layout", False)

    def png() -> bytes:
        fig, axes = plt.subplots(1, 2, figsize=(7, 3))
        for ax in axes:  # the same texts on both axes: the second draws them from the cache
            ax.barh([0, 1, 2], [30, 50, 20])
            ax.set_yticks([0, 1, 2], ["Onboarding", "Support", "Value for money \u2192 caf\u00e9"])
            ax.set_title("Shares by item")
            ax.text(10, 1, "n=812 $\\alpha$", rotation=30, fontsize=7)
        charts.methods_note(axes[0], "A note long enough to wrap across the figure: " + "words " * 30)
        out = print_figure(fig, "png")
        plt.close(fig)
        return bytes(out)

    def serif_png() -> bytes:  # the same texts in another font: not drawn from the cache
        with matplotlib.rc_context({"font.sans-serif": ["DejaVu Serif"]}):
            return png()

    cached, cached_serif = png(), serif_png()
    assert cached != cached_serif
    monkeypatch.setattr(RendererAgg, "draw_text", shared.__wrapped__)
    monkeypatch.delattr(RendererAgg, "_get_font_height_metrics")
    assert png() == cached
    assert serif_png() == cached_serif


def test_no_idle_redraw_under_the_inline_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the inline backend the theme drops pyplot's after-cell redraw of every figure (the
    PNG is rendered anyway); elsewhere nothing changes."""
    import types

    import IPython
    from IPython.core.events import EventManager, available_events

    shell = types.SimpleNamespace(events=EventManager(None, available_events))
    shell.events.register("post_execute", plt._draw_all_if_interactive)
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    monkeypatch.setattr(matplotlib, "get_backend", lambda *a, **k: "agg")
    chart_text.skip_idle_redraw()
    assert plt._draw_all_if_interactive in shell.events.callbacks["post_execute"]
    monkeypatch.setattr(matplotlib, "get_backend",
                        lambda *a, **k: "module://matplotlib_inline.backend_inline")
    chart_text.skip_idle_redraw()
    assert plt._draw_all_if_interactive not in shell.events.callbacks["post_execute"]


def test_fast_wrap_makes_matplotlibs_lines_and_png(monkeypatch: pytest.MonkeyPatch) -> None:
    """The theme wraps a note from a few exact measurements: the same lines as matplotlib's word
    by word wrapping (any font size, position, alignment, blank words, newlines, mathtext) and
    the same PNG bytes."""
    import random

    import matplotlib.text as mtext
    from IPython.core.pylabtools import print_figure

    fast = mtext.Text._get_wrapped_text
    assert getattr(fast, "cx_fast", False)
    rng = random.Random(7)
    vocab = ("NPS 95% CI (B2B) clustered by account, weighted; n=1,234 2024Q1-2025Q4 a of WWWWWW iiii "
             "svyglm Beta(1.5, 2.3) extraordinarily-long-hyphenated-word-that-never-fits").split()
    fig = plt.figure(figsize=(6, 3))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(0, 40))) for _ in range(10)]
    texts += ["", "one", "two  spaces   here " * 6, "first line\nsecond " + "line " * 25,
              "price $5 and $6 " * 6]
    for k, text in enumerate(texts):
        t = fig.text(rng.choice([0.01, 0.5, 0.97]), 0.5, text, fontsize=rng.choice([6, 8, 13]),
                     ha=rng.choice(["left", "center", "right"]), wrap=True)
        t._renderer = renderer
        assert fast(t) == fast.__wrapped__(t), (k, text)
        t.remove()
    plt.close(fig)

    def png() -> bytes:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.barh([0, 1, 2], [30, 50, 20])
        ax.set_title("Shares by item")
        charts.methods_note(ax, "Design-based means, B2B clustered by account; " * 12)
        out = print_figure(fig, "png")
        plt.close(fig)
        return bytes(out)

    fast_png = png()
    monkeypatch.setattr(mtext.Text, "_get_wrapped_text", fast.__wrapped__)
    assert png() == fast_png


@pytest.mark.parametrize("power", [0.8, 1.0, 1.25])
def test_wrap_words_finds_matplotlibs_breaks_whatever_the_estimate(power: float) -> None:
    """Widths that grow faster or slower than the sum of the words' (the estimate too short or too
    long) give the breaks of matplotlib's loop: the first prefix wider than the line."""
    import random

    def width(s: str) -> int:
        return int(7 * len(s) ** power)

    def reference(words: list[str], line_width: float) -> list[str]:  # matplotlib's loop
        lines = []
        while len(words) > 1:
            cut = next((i for i in range(2, len(words) + 1)
                        if width(" ".join(words[:i])) > line_width), None)
            if cut is None:
                break
            lines.append(" ".join(words[:cut - 1]))
            words = words[cut - 1:]
        return [*lines, " ".join(words)]

    rng = random.Random(3)
    for _ in range(200):
        words = ["w" * rng.randint(0, 12) for _ in range(rng.randint(1, 60))]
        line_width = rng.choice([5, 60, 300, 900])
        assert chart_text.wrap_words(words, width, line_width) == reference(words, line_width)
