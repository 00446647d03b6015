"""HTML that is safe to share: allow-list sanitising, Markdown escaping and the pages' CSP.

Every page the pipeline writes is built from data (segment names, waves, comments, run ids, error
texts). Three layers keep a crafted value from running in a reader's browser (or in the
Chromium that prints the PDF):

1. values are escaped where they are put into HTML or Markdown (:func:`escape_markdown`; Jinja's
   ``| e``; ``html.escape``);
2. every piece of HTML that comes out of a notebook (Markdown cells, ``text/html`` and
   ``text/markdown`` outputs) passes an allow-list sanitiser (:func:`sanitize`, the Rust
   *ammonia* library through ``nh3``): no script, no event-handler attribute, no ``javascript:``
   or ``data:`` link, images only as embedded ``data:image/...``;
3. a Content-Security-Policy meta tag (:func:`csp_meta`) forbids any script the page does not
   ship itself, any network load and any form, so a missed escape still cannot run. The only
   script a page ships is the interactive-tables script of the analysis pages
   (``templates/cx/tables.js``), allowed by its SHA-256 hash; leadership pages ship none.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

import nh3

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd", "del",
    "details", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp",
    "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "u", "ul", "var",
}
_COMMON = {"class", "id", "title", "lang", "dir", "role", "aria-label", "aria-hidden"}
_ATTRIBUTES = {
    "*": _COMMON,
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "col": {"span"},
    "ol": {"start"},
    "details": {"open"},
}
_IMAGE_DATA = re.compile(r"^data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=\s]*$")
_SAFE_HREF = re.compile(r"^(#|https?:|mailto:|[^:]*$)", re.I)  # relative, fragment, web, mail


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    """Keep an image only as an embedded picture and a link only to a page or a fragment."""
    if tag == "img" and attr == "src":
        return value if _IMAGE_DATA.match(value) else None
    if attr == "href":
        return value if _SAFE_HREF.match(value.strip()) else None
    return value


def sanitize(html: str | bytes) -> str:
    """`html` with everything outside the allow-list removed (scripts, handlers, styles, forms).

    Used as nbconvert's ``clean_html`` filter: Markdown cells and HTML/Markdown outputs pass it.
    """
    text = html.decode("utf-8", "replace") if isinstance(html, bytes) else str(html)
    return nh3.clean(text, tags=_TAGS, attributes=_ATTRIBUTES, attribute_filter=_attribute_filter,
                     url_schemes={"http", "https", "mailto", "data"}, link_rel="noopener noreferrer",
                     strip_comments=True)


_MD_SPECIAL = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "`": "\\`", "\\": "\\\\"})
_MD_LINK = re.compile(r"(!?)\[|\](?=[(\[:])")  # image/link openers, "](", "][", "]:"
_BARE_URL = re.compile(r"\b([a-z][a-z0-9+.-]*):(?=//)|\b(www)\.", re.I)  # what renderers autolink


def escape_markdown(text: str) -> str:
    """Text that Markdown shows literally: no HTML tag, entity, link, image or code span.

    For Markdown built from data (findings of the executive summary): a wave label
    ``2026Q3<img src=x onerror=alert(8)>`` is shown as those characters, not as an image. Bold
    (``**``), list markers and plain brackets such as a CI ``[27.0, 35.4]`` written by the caller
    keep working and look the same; only brackets that could open a link or image are escaped.
    A bare URL (``https://evil.example/x``, ``www.evil.example``) is shown as text, never
    autolinked: its ``:`` or ``.`` is written as a character reference the autolinker skips.
    """
    out = str(text).translate(_MD_SPECIAL)
    out = _BARE_URL.sub(lambda m: f"{m.group(1)}&#58;" if m.group(1) else f"{m.group(2)}&#46;",
                        out)
    return _MD_LINK.sub(lambda m: "!\\[" if m.group(1) else ("\\]" if m.group().startswith("]")
                                                               else m.group()), out)


def script_hash(script: str) -> str:
    """CSP source expression allowing exactly this inline script ('sha256-...')."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def content_security_policy(scripts: Iterable[str] = ()) -> str:
    """The pages' policy: nothing loads from anywhere, styles inline, images embedded, and only
    the inline scripts passed here (by hash) may run; with none, no script runs at all."""
    allowed = " ".join(script_hash(s) for s in scripts) or "'none'"
    return ("default-src 'none'; "
            f"script-src {allowed}; "
            "style-src 'unsafe-inline'; "
            "img-src data:; font-src data:; "
            "base-uri 'none'; form-action 'none'; object-src 'none'")


def csp_meta(scripts: Iterable[str] = ()) -> str:
    """The ``<meta http-equiv="Content-Security-Policy">`` tag; first in ``<head>``."""
    return f'<meta http-equiv="Content-Security-Policy" content="{content_security_policy(scripts)}">'


def sanitize_url(url: str) -> str:
    """An http(s) URL escaped for an ``href`` attribute; anything else becomes '#'."""
    import html

    text = str(url).strip()
    return html.escape(text, quote=True) if re.match(r"^https?://[^\s\"'<>]+$", text) else "#"


_MAIN = re.compile(r'<main class="cx-main">(.*?)</main>', re.S)
_BLOCK_END = re.compile(r"</(p|h[1-6]|li|tr|div|pre|caption)>", re.I)


def text_of(page: str) -> str:
    """The readable text of a rendered report's main content (for a plain-text mail part)."""
    import html

    found = _MAIN.search(page)
    body = _BLOCK_END.sub(lambda m: m.group(0) + "\n", found.group(1) if found else page)
    text = html.unescape(nh3.clean(body, tags=set(), strip_comments=True))
    lines = [" ".join(line.split()) for line in text.replace("¶", "").splitlines()]
    return "\n".join(line for line in lines if line)
