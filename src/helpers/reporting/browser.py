"""Headless Chromium: find it, and check a rendered report as a reader's browser would.

:func:`check_in_browser` opens a page and reports script and console errors, broken images and
code cells left in the DOM, images without alt text, where the scorecard ends and where the first
chart starts on a 1366x768 laptop screen and what searching and sorting an interactive table does, with a screenshot; :func:`check_run` checks the index and every page
of a run (``cx report check``). No browser is downloaded: Debian's chromium or $CX_CHROMIUM.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
LAPTOP = (1366, 768)  # the screen a leader reads on: the scorecard must fit above its fold


# --- PDF -------------------------------------------------------------------------------------


def find_chromium() -> str | None:
    """Path of a headless-capable Chromium (env CX_CHROMIUM overrides), or None when absent."""
    env = os.environ.get("CX_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_command(chromium: str, profile: str, *args: str) -> list[str]:
    """Headless Chromium command line that never touches the network or a user profile."""
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={profile}", *args]


# --- browser check (used by tests/test_browser.py and after a run) ----------------------------

_PROBE = """<script>/* cx browser check: collects errors, dialogs, data- marks, broken images, code */
window.__cx = {errors: [], dialogs: [], marks: []};
["alert", "confirm", "prompt", "print"].forEach(function (name) {
  window[name] = function (msg) { window.__cx.dialogs.push(name + "(" + String(msg).slice(0, 80) + ")"); };
});
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cx.errors.push("blocked by the Content-Security-Policy: " + e.violatedDirective + " " +
                          (e.blockedURI || "") + " " + (e.sample || ""));
});
var __cxMarks = new MutationObserver(function (records) {
  records.forEach(function (r) {
    if (r.attributeName && r.attributeName.indexOf("data-") === 0) {
      window.__cx.marks.push(r.target.nodeName + " " + r.attributeName);
    }
  });
});
__cxMarks.observe(document, {attributes: true, subtree: true});
window.addEventListener("error", function (e) {
  var t = e.target;
  window.__cx.errors.push(t && t !== window && (t.src || t.href) ? "failed to load " + (t.src || t.href)
                          : String(e.message || e));
}, true);
window.addEventListener("unhandledrejection", function (e) { window.__cx.errors.push("unhandled rejection: " + e.reason); });
(function () { var ce = console.error; console.error = function () {
  window.__cx.errors.push("console.error: " + Array.prototype.join.call(arguments, " ")); ce.apply(console, arguments); }; })();
window.addEventListener("load", function () { setTimeout(__cxReport, 100); });
function __cxInteract() {  /* exercise the first interactive table: search, then sort */
  var tabs = document.querySelectorAll("table.cx-interactive");
  if (!tabs.length) { return null; }
  var t = tabs[0], r = {tables: tabs.length, enhanced: document.querySelectorAll(".cx-tools").length};
  var shown = function () { return Array.prototype.filter.call(t.tBodies[0].rows,
                                                              function (x) { return !x.hidden; }); };
  r.rows = shown().length;
  var tools = t.parentNode.previousElementSibling, input = tools && tools.querySelector("input");
  if (input && t.tBodies[0].rows.length) {
    r.search_key = t.tBodies[0].rows[t.tBodies[0].rows.length - 1].cells[0].textContent.trim();
    input.value = r.search_key; input.dispatchEvent(new Event("input"));
    r.search_rows = shown().length;
    r.search_all_match = shown().every(function (x) { return x.textContent.indexOf(r.search_key) >= 0; });
    input.value = ""; input.dispatchEvent(new Event("input"));
  }
  var buttons = t.tHead.querySelectorAll("button.cx-sort");
  if (buttons.length) {
    var col = buttons.length - 1, b = buttons[col];
    var column = function () { return shown().map(function (x) { return x.cells[col].textContent; }); };
    b.click(); r.ascending = column(); r.aria = b.parentNode.getAttribute("aria-sort");
    b.click(); r.descending = column();
  }
  return r;
}
function __cxReport() {  /* after load: CSP violation events are queued as tasks */
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; })
                   .map(function (i) { return (i.currentSrc || i.src).slice(0, 120); });
  var code = document.querySelectorAll(".jp-InputArea, .jp-InputPrompt, .jp-InputArea-editor, .jp-CodeMirrorEditor, .input_area, .prompt.input_prompt").length;
  __cxMarks.takeRecords().forEach(function (r) {
    if (r.attributeName && r.attributeName.indexOf("data-") === 0) {
      window.__cx.marks.push(r.target.nodeName + " " + r.attributeName);
    }
  });
  __cxMarks.disconnect();
  Array.prototype.forEach.call(document.querySelectorAll("[data-cx-pwned]"), function (el) {
    window.__cx.marks.push(el.nodeName + " data-cx-pwned");
  });
  var noAlt = imgs.filter(function (i) { var a = (i.getAttribute("alt") || "").trim();
    return !a || a === "No description has been provided for this image"; }).length;
  var sc = document.getElementById("cx-scorecard");
  var fold = sc ? {bottom: Math.round(sc.getBoundingClientRect().bottom + window.scrollY),
                   viewport: window.innerHeight, width: window.innerWidth} : null;
  var ch = document.querySelector(".cx-main .jp-RenderedImage img, .cx-main img");
  var chart = ch ? {top: Math.round(ch.getBoundingClientRect().top + window.scrollY),
                    viewport: window.innerHeight} : null;
  var out = document.createElement("pre"); out.id = "__cx_result"; out.hidden = true;
  out.textContent = JSON.stringify({errors: window.__cx.errors, images: imgs.length, broken: broken,
                                    code_cells: code, title: document.title,
                                    dialogs: window.__cx.dialogs, marks: window.__cx.marks,
                                    scripts: document.scripts.length - 1, no_alt: noAlt,
                                    fold: fold, chart: chart, interactive: __cxInteract()});
  document.body.appendChild(out);
}
</script>"""
_RESULT = re.compile(r'<pre id="__cx_result"[^>]*>(.*?)</pre>', re.S)


@dataclass(frozen=True)
class BrowserCheck:
    """What headless Chromium saw on one page: errors, images and (forbidden) code cells."""

    page: str
    errors: tuple[str, ...]
    images: int
    broken_images: tuple[str, ...]
    code_cells: int
    screenshot: str | None
    dialogs: tuple[str, ...] = ()
    marks: tuple[str, ...] = ()
    scripts: int = 0
    images_without_alt: int = 0
    fold: dict | None = None          # the scorecard's bottom (page px) and the viewport height
    interactive: dict | None = None   # what searching and sorting the first interactive table did
    chart: dict | None = None         # the first chart's top (page px) and the viewport height

    @property
    def scorecard_above_fold(self) -> bool | None:
        """True when the page's scorecard ends within the first screen (None: no scorecard)."""
        if not self.fold:
            return None
        return 0 < self.fold["bottom"] <= self.fold["viewport"]

    @property
    def chart_above_fold(self) -> bool | None:
        """True when the page's first chart starts within the first screen (None: no chart)."""
        if not self.chart:
            return None
        return 0 <= self.chart["top"] < self.chart["viewport"]

    @property
    def ok(self) -> bool:
        """No console/script/resource error or CSP violation, no dialog, no ``data-`` attribute
        set by a script, every image loaded, no code cell in the DOM."""
        return not self.problems()

    def problems(self) -> list[str]:
        """Every problem seen on the page, one phrase each."""
        out = [*self.errors, *(f"image did not load: {b}" for b in self.broken_images)]
        out += [f"a script opened a dialog: {d}" for d in self.dialogs]
        out += [f"a script set an attribute: {m}" for m in self.marks]
        if self.images_without_alt:
            out.append(f"{self.images_without_alt} image(s) without alt text")
        if self.code_cells:
            out.append(f"{self.code_cells} code cell(s) in the DOM")
        return out


def check_in_browser(page: str | os.PathLike[str], screenshot: str | os.PathLike[str] | None = None,
                     chromium: str | None = None, timeout: float = 90,
                     shot_height: int = 1600) -> BrowserCheck:
    """Open an HTML file in headless Chromium and report errors, broken images and code cells.

    A copy of the page with a small probe script is loaded beside the original (so relative links
    resolve the same); Chromium's own console log on stderr is read too. With `screenshot`, the
    original page is also saved as a full-width PNG. Raises FileNotFoundError without Chromium.
    """
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError("Chromium not found (apt-get install -y chromium)")
    src = Path(page).resolve()
    text = src.read_text(encoding="utf-8")
    probe = src.with_name(f".cx-browsercheck-{src.name}")
    head = re.search(r"<head[^>]*>", text, re.I)
    at = head.end() if head else 0
    probe.write_text(text[:at] + _PROBE + text[at:], encoding="utf-8")
    shot: Path | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="cx-chromium-") as profile:
            cmd = chromium_command(chromium, profile, "--enable-logging=stderr", "--v=0",
                                   f"--window-size={LAPTOP[0]},{LAPTOP[1]}", "--hide-scrollbars",
                                   "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
            if screenshot is not None:
                shot = Path(screenshot).resolve()
                shot.parent.mkdir(parents=True, exist_ok=True)
                subprocess.run(chromium_command(chromium, profile, "--hide-scrollbars",
                                                f"--window-size={LAPTOP[0]},{shot_height}",
                                                f"--screenshot={shot}",
                                                src.as_uri()),
                               capture_output=True, text=True, timeout=timeout, check=False)
    finally:
        probe.unlink(missing_ok=True)
    found = _RESULT.search(proc.stdout)
    if not found:
        return BrowserCheck(page=str(src), errors=(f"page did not load (chromium exit "
                                                   f"{proc.returncode})",), images=0,
                            broken_images=(), code_cells=0, screenshot=None)
    result = json.loads(html.unescape(found.group(1)))
    errors = list(result["errors"])
    for line in proc.stderr.splitlines():
        if "CONSOLE" in line and ("Uncaught" in line or "Error" in line) and not any(
                e.split(": ", 1)[-1][:40] in line for e in errors):
            errors.append(line.split("] ", 1)[-1].strip())
    return BrowserCheck(page=str(src), errors=tuple(errors), images=int(result["images"]),
                        broken_images=tuple(result["broken"]), code_cells=int(result["code_cells"]),
                        screenshot=str(shot) if shot and shot.is_file() else None,
                        dialogs=tuple(result["dialogs"]), marks=tuple(result["marks"]),
                        scripts=int(result["scripts"]), images_without_alt=int(result["no_alt"]),
                        fold=result.get("fold"), interactive=result.get("interactive"),
                        chart=result.get("chart"))


def check_run(run_dir: str | os.PathLike[str], screenshots: bool = True) -> list[BrowserCheck]:
    """Browser-check the index and every report of a run; screenshots into ``<run>/screenshots``."""
    run = Path(run_dir).resolve()
    pages = [run.parent / "index.html", *sorted(run.glob("*.html"))]
    return [check_in_browser(p, screenshot=(run / "screenshots" / f"{p.stem}.png")
                             if screenshots else None) for p in pages if p.is_file()]
