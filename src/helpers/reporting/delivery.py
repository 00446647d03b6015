"""Tell people a run finished: the executive summary to leadership, a failure notice to analysts.

After ``cx run`` (a scheduled run is the same command), :func:`deliver`:

- on success, mails the executive summary to the leadership list: an HTML body with the
  summary page's content and its charts as inline images (``cid:``), the PDF attached, and links
  to the full summary and the run index (``report_url`` is where ``reports/`` is served);
- on failure, mails the analysts a short notice: which notebook failed, its error line, and the
  path of the run's log;
- posts the same news to an optional webhook as ``{"text": ...}`` JSON (Slack and Teams
  incoming webhooks accept it).

Settings come from environment variables or the git-ignored ``config/delivery.local.yaml``
(:func:`helpers.config.load_delivery`), never from the repository. ``cx run --no-send`` sends
nothing; ``--send-to-file DIR`` writes the messages (``.eml``) and the webhook payload
(``.json``) there instead of sending them.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import smtplib
import ssl
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from helpers import contract
from helpers.config import DeliverySettings
from helpers.reporting import analyst_notes, manifest, render, safe_html
from helpers.reporting.manifest import RunManifest, Status

log = logging.getLogger("helpers.reporting.delivery")

SUMMARY = contract.SUMMARY
_IMG = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=\s]+)"')
_MAIN = re.compile(r'<main class="cx-main">(.*?)</main>', re.S)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
MAX_ATTACHMENT = 20 * 1024 * 1024  # a PDF larger than this is linked, not attached


@dataclass(frozen=True)
class Outgoing:
    """What one delivery sends: mails and webhook payloads (for sending or writing to files)."""

    mails: tuple[tuple[str, EmailMessage], ...]
    webhooks: tuple[dict[str, Any], ...]


def _clean(text: str, limit: int = 200) -> str:
    """One line without control characters (safe in a mail header)."""
    return _CONTROL.sub(" ", str(text)).strip()[:limit]


def _link(settings: DeliverySettings, *parts: str) -> str | None:
    if not settings.report_url:
        return None
    return settings.report_url.rstrip("/") + "/" + "/".join(p.strip("/") for p in parts)


def _sender(settings: DeliverySettings) -> str:
    return settings.sender or "cx-reports@localhost"


def summary_body(page: str, css: str, links: Mapping[str, str | None]) -> tuple[str, list[bytes]]:
    """Email HTML from the rendered summary page: its main content (already sanitised) with the
    charts turned into ``cid:`` references, plus the house CSS and the links; and the images."""
    found = _MAIN.search(page)
    main = found.group(1) if found else ""
    images: list[bytes] = []

    def to_cid(m: re.Match[str]) -> str:
        images.append(base64.b64decode(re.sub(r"\s", "", m.group(1))))
        return f'src="cid:chart{len(images)}@cx"'

    main = _IMG.sub(to_cid, main)
    items = "".join(f'<li><a href="{safe_html.sanitize_url(url)}">{label}</a></li>'
                    for label, url in links.items() if url)
    nav = f"<ul>{items}</ul>" if items else ""
    html = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><style>{css}</style></head>'
            f'<body class="cx-report cx-leadership">{nav}{main}{nav}</body></html>')
    return html, images


def summary_message(run_dir: Path, run_id: str, settings: DeliverySettings) -> EmailMessage:
    """The executive summary as a mail: HTML with inline charts, plain text, the PDF attached."""
    page = (run_dir / f"{SUMMARY}.html").read_text(encoding="utf-8")
    links = {"Read the executive summary": _link(settings, run_id, f"{SUMMARY}.html"),
             "All runs and reports": _link(settings, "index.html")}
    if (run_dir / analyst_notes.FILE).is_file():  # the summary's "see the analyst notes"
        links["Analyst notes"] = _link(settings, run_id, analyst_notes.FILE)
    html, images = summary_body(page, render.CSS, links)
    msg = EmailMessage()
    msg["Subject"] = _clean(f"CX executive summary, run {run_id}")
    msg["From"] = _sender(settings)
    if settings.leadership:
        msg["To"] = ", ".join(settings.leadership)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="cx-reports")
    text = safe_html.text_of(page)
    msg.set_content(text + "".join(f"\n{label}: {url}" for label, url in links.items() if url))
    msg.add_alternative(html, subtype="html")
    *_, html_part = msg.iter_parts()
    for i, data in enumerate(images, start=1):
        html_part.add_related(data, maintype="image", subtype="png", cid=f"<chart{i}@cx>",
                              filename=f"chart{i}.png")
    pdf = run_dir / f"{SUMMARY}.pdf"
    if pdf.is_file() and pdf.stat().st_size <= MAX_ATTACHMENT:
        msg.add_attachment(pdf.read_bytes(), maintype="application", subtype="pdf",
                           filename=pdf.name)
    return msg


def failure_lines(doc: RunManifest, run_dir: Path) -> list[str]:
    """'04_leaders_vs_laggards failed: ValueError: ... (cell 12)' per failed notebook, skipped
    ones with their reason, and where the log is."""
    lines = []
    for nb in doc.notebooks:
        if nb.status is Status.FAILED:
            lines.append(f"{nb.name} failed: {_clean(nb.error or 'unknown error', 400)}")
        elif nb.status is Status.SKIPPED:
            lines.append(f"{nb.name} skipped: {_clean(nb.reason or '', 300)}")
    if doc.error and not lines:
        lines.append(f"run failed: {_clean(doc.error, 400)}")
    lines.append(f"log: {run_dir / 'run.log'}")
    return lines


def failure_message(doc: RunManifest, run_dir: Path, settings: DeliverySettings) -> EmailMessage:
    """A short plain-text notice to the analysts: what failed, the error line, the log path."""
    run_id = doc.run_id
    msg = EmailMessage()
    first = next((n.name for n in doc.notebooks if n.status is Status.FAILED), "the run")
    msg["Subject"] = _clean(f"CX report run {run_id} FAILED in {first}")
    msg["From"] = _sender(settings)
    if settings.analysts:
        msg["To"] = ", ".join(settings.analysts)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="cx-reports")
    index = _link(settings, "index.html")
    body = [f"The CX report run {run_id} did not finish.", "", *failure_lines(doc, run_dir)]
    body += ["", f"Run index: {index}"] if index else []
    body += ["", "reports/latest still points at the last successful run; nothing was sent to "
                 "leadership."]
    msg.set_content("\n".join(body) + "\n")
    return msg


def webhook_text(doc: RunManifest, run_dir: Path, settings: DeliverySettings) -> str:
    """One message for a chat channel: run succeeded with its link, or what failed."""
    if doc.succeeded:
        link = _link(settings, doc.run_id, f"{SUMMARY}.html")
        return f"CX report run {doc.run_id} succeeded." + (f" Executive summary: {link}" if link else "")
    return f"CX report run {doc.run_id} FAILED. " + " ".join(failure_lines(doc, run_dir))


def prepare(run_dir: Path, settings: DeliverySettings) -> Outgoing:
    """The mails and webhook payloads for a finished run (nothing is sent here)."""
    doc = manifest.read(run_dir)
    mails: list[tuple[str, EmailMessage]] = []
    if doc.succeeded and (run_dir / f"{SUMMARY}.html").is_file():
        mails.append(("summary", summary_message(run_dir, doc.run_id, settings)))
    else:
        mails.append(("failure", failure_message(doc, run_dir, settings)))
    hooks = ({"text": webhook_text(doc, run_dir, settings)},) if settings.webhook else ()
    return Outgoing(tuple(mails), hooks)


def send_mail(msg: EmailMessage, settings: DeliverySettings, timeout: float = 30) -> None:
    """Send one message through the configured SMTP server (STARTTLS, SSL or plain)."""
    if not settings.host:
        raise OSError("no SMTP host configured (CX_SMTP_HOST)")
    context = ssl.create_default_context()
    if settings.security == "ssl":
        server: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout,
                                                context=context)
    else:
        server = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    with server:
        if settings.security == "starttls":
            server.starttls(context=context)
        if settings.user:
            server.login(settings.user, settings.password or "")
        server.send_message(msg)


def post_webhook(url: str, payload: Mapping[str, Any], timeout: float = 20) -> int:
    """POST `payload` as JSON; the HTTP status (an HTTP error raises)."""
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"webhook {url!r} is not an http(s) URL")
    req = urllib.request.Request(url, data=json.dumps(payload).encode("utf-8"), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http(s) checked
        return int(resp.status)


def write_files(out: Outgoing, folder: Path, run_id: str) -> list[Path]:
    """The dry run: each mail as ``<run>-<kind>.eml`` and each payload as ``.json`` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, msg in out.mails:
        written.append(render.publish_bytes(folder / f"{run_id}-{kind}.eml", bytes(msg)))
    for i, payload in enumerate(out.webhooks, start=1):
        written.append(render.publish_bytes(folder / f"{run_id}-webhook{i}.json",
                                            json.dumps(payload, indent=2).encode("utf-8")))
    return written


def deliver(run_dir: str | Path, settings: DeliverySettings, *, send: bool = True,
            to_folder: str | Path | None = None) -> list[str]:
    """Deliver a finished run's news; returns one line per action (for the log and manifest).

    ``to_folder``: write the messages there instead of sending. ``send=False``: do nothing.
    A delivery failure is reported in the lines, never raised: the run itself is done.
    """
    run = Path(run_dir)
    if not send:
        return ["delivery skipped (--no-send)"]
    if to_folder is None and not settings.configured:
        return ["delivery not configured (CX_SMTP_HOST / CX_MAIL_* / CX_WEBHOOK_URL or "
                "config/delivery.local.yaml)"]
    out = prepare(run, settings)
    if to_folder is not None:
        return [f"written (not sent): {p}" for p in write_files(out, Path(to_folder), run.name)]
    lines = []
    for kind, msg in out.mails:
        if not msg["To"]:
            lines.append(f"{kind} mail: no recipients configured")
            continue
        try:
            send_mail(msg, settings)
            lines.append(f"{kind} mail sent to {msg['To']}")
        except (OSError, smtplib.SMTPException) as exc:
            lines.append(f"{kind} mail NOT sent: {type(exc).__name__}: {_clean(str(exc))}")
    for payload in out.webhooks:
        try:
            lines.append(f"webhook answered HTTP {post_webhook(str(settings.webhook), payload)}")
        except (OSError, ValueError) as exc:
            lines.append(f"webhook NOT posted: {type(exc).__name__}: {_clean(str(exc))}")
    for line in lines:
        log.info("delivery: %s", line)
    return lines
