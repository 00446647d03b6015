"""Delivery after a run: the executive summary to leadership (HTML with inline charts, PDF
attached, links), a failure notice to analysts (notebook, error line, log path), a webhook post;
settings from the environment or a git-ignored file; --no-send and the dry run to files.

Mails go to a real SMTP server (aiosmtpd) on 127.0.0.1 started here, webhooks to an
http.server in a thread: what is tested is what a mail client and a chat service would receive.
"""

from __future__ import annotations

import base64
import email
import json
import shutil
import threading
from email import policy
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from helpers import config
from helpers.errors import ConfigError
from helpers.reporting import delivery

PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63f8cfc0f01f0005000201e2b8c3d60000000049454e44ae426082")).decode()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def smtp():
    inbox = _Inbox()
    ctl = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    ctl.start()
    try:
        yield inbox, ctl.port
    finally:
        ctl.stop()


@pytest.fixture()
def hook():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server hook name
            size = int(self.headers["Content-Length"])
            received.append({"type": self.headers["Content-Type"],
                             "body": json.loads(self.rfile.read(size))})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):  # quiet
            pass

    srv = HTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield received, f"http://127.0.0.1:{srv.server_address[1]}/hook"
    finally:
        srv.shutdown()
        srv.server_close()


def _run(tmp: Path, status: str = "succeeded") -> Path:
    run = tmp / "reports" / "20261201T061500Z-abc1234"
    run.mkdir(parents=True)
    notebooks = [{"name": "02_segments", "status": "succeeded", "error": None},
                 {"name": "04_leaders_vs_laggards", "status": "failed" if status == "failed" else
                  "succeeded", "error": "ValueError: ARR is not a number (cell [12])"
                  if status == "failed" else None},
                 {"name": "06_executive_summary", "status": "skipped" if status == "failed" else
                  "succeeded", "reason": "needs 04_leaders_vs_laggards, which failed"}]
    (run / "manifest.json").write_text(json.dumps({"run_id": run.name, "status": status,
                                                   "notebooks": notebooks}))
    page = ('<html><head><title>Executive summary</title></head><body><header>x</header>'
            '<main class="cx-main"><div class="cx-scorecard" id="cx-scorecard">'
            '<p class="cx-tile-value">+17.8</p><p>95% CI [+9.4, +25.9] · n=731</p></div>'
            f'<img src="data:image/png;base64,{PNG}" alt="NPS per wave"></main></body></html>')
    (run / "06_executive_summary.html").write_text(page, encoding="utf-8")
    (run / "06_executive_summary.pdf").write_bytes(b"%PDF-1.4 test\n%%EOF\n")
    return run


def _settings(port: int, webhook: str | None = None) -> config.DeliverySettings:
    return config.DeliverySettings(host="127.0.0.1", port=port, security="none",
                                   sender="cx@example.com", leadership=("ceo@example.com",),
                                   analysts=("analyst@example.com",), webhook=webhook,
                                   report_url="https://cx.example.com/reports")


def test_summary_mail_with_inline_chart_pdf_and_links(tmp_path, smtp, hook):
    inbox, port = smtp
    received, url = hook
    run = _run(tmp_path)
    lines = delivery.deliver(run, _settings(port, url))
    assert lines == ["summary mail sent to ceo@example.com", "webhook answered HTTP 200"]
    (sender, rcpts, raw), = inbox.messages
    assert sender == "cx@example.com" and rcpts == ["ceo@example.com"]
    msg = email.message_from_bytes(raw, policy=policy.default)
    html = msg.get_body(("html",)).get_content()
    assert "+17.8" in html and 'src="cid:chart1@cx"' in html and "data:image" not in html
    assert ('href="https://cx.example.com/reports/20261201T061500Z-abc1234/'
            '06_executive_summary.html"') in html
    parts = {p.get_content_type(): p for p in msg.walk()}
    assert parts["image/png"]["Content-ID"] == "<chart1@cx>"
    assert parts["image/png"].get_content() == base64.b64decode(PNG)
    pdf = parts["application/pdf"]
    assert pdf.get_filename() == "06_executive_summary.pdf" and pdf.get_content().startswith(b"%PDF")
    assert "95% CI [+9.4, +25.9]" in msg.get_body(("plain",)).get_content()
    (post,) = received
    assert post["type"] == "application/json"
    assert post["body"]["text"].startswith("CX report run 20261201T061500Z-abc1234 succeeded.")


def test_failure_notice_to_analysts_names_notebook_error_and_log(tmp_path, smtp, hook):
    inbox, port = smtp
    received, url = hook
    run = _run(tmp_path, "failed")
    lines = delivery.deliver(run, _settings(port, url))
    assert lines[0] == "failure mail sent to analyst@example.com"
    (_, rcpts, raw), = inbox.messages
    assert rcpts == ["analyst@example.com"]
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"].strip() == ("CX report run 20261201T061500Z-abc1234 FAILED in "
                                      "04_leaders_vs_laggards")
    body = msg.get_content()
    assert "04_leaders_vs_laggards failed: ValueError: ARR is not a number (cell [12])" in body
    assert "06_executive_summary skipped: needs 04_leaders_vs_laggards, which failed" in body
    assert f"log: {run / 'run.log'}" in body
    assert not msg.is_multipart()  # short, plain text: no summary, no attachment
    assert "FAILED" in received[0]["body"]["text"] and "run.log" in received[0]["body"]["text"]


def test_no_send_and_not_configured_send_nothing(tmp_path, smtp):
    inbox, port = smtp
    run = _run(tmp_path)
    assert delivery.deliver(run, _settings(port), send=False) == ["delivery skipped (--no-send)"]
    assert delivery.deliver(run, config.DeliverySettings())[0].startswith("delivery not configured")
    assert inbox.messages == []


def test_dry_run_writes_the_messages_to_files(tmp_path, smtp):
    inbox, port = smtp
    run = _run(tmp_path)
    out = tmp_path / "outbox"
    lines = delivery.deliver(run, _settings(port, "https://hooks.example.com/x"), to_folder=out)
    assert inbox.messages == []
    eml = out / f"{run.name}-summary.eml"
    assert lines == [f"written (not sent): {eml}", f"written (not sent): {out / (run.name + '-webhook1.json')}"]
    msg = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["To"] == "ceo@example.com" and "application/pdf" in {p.get_content_type() for p in msg.walk()}


def test_smtp_failure_is_reported_not_raised(tmp_path):
    run = _run(tmp_path)
    lines = delivery.deliver(run, _settings(1))  # nothing listens on port 1
    assert lines[0].startswith("summary mail NOT sent: ConnectionRefusedError")


def test_settings_from_environment_over_the_ignored_file(tmp_path, monkeypatch):
    f = tmp_path / "delivery.local.yaml"
    f.write_text("smtp: {host: smtp.file.example, port: 2525, security: none}\n"
                 "from: cx@example.com\nleadership: [a@example.com, b@example.com]\n"
                 "analysts: x@example.com\n")
    env = {"CX_DELIVERY_FILE": str(f), "CX_SMTP_HOST": "smtp.env.example",
           "CX_SMTP_PASSWORD": "s3cret"}
    s = config.load_delivery(env)
    assert (s.host, s.port, s.security, s.password) == ("smtp.env.example", 2525, "none", "s3cret")
    assert s.leadership == ("a@example.com", "b@example.com") and s.analysts == ("x@example.com",)
    assert s.configured and "environment" in s.source
    assert not config.load_delivery({"CX_DELIVERY_FILE": str(tmp_path / "none.yaml")}).configured
    with pytest.raises(ConfigError, match="leadership: 'not-an-address' is not an email address"):
        config.load_delivery({**env, "CX_MAIL_LEADERSHIP": "not-an-address"})
    with pytest.raises(ConfigError, match="webhook"):
        config.load_delivery({**env, "CX_WEBHOOK_URL": "file:///etc/passwd"})


def test_the_settings_file_is_git_ignored_and_no_secret_is_committed():
    from helpers import paths
    ignored = (paths.PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert config.DELIVERY_FILE in ignored
    example = config.read_yaml("config/delivery.example.yaml")
    assert example["smtp"]["password"] == ""


def test_cx_report_send_on_a_finished_run(tmp_path, smtp, monkeypatch, capsys):
    from helpers import cli
    inbox, port = smtp
    run = _run(tmp_path)
    for k, v in {"CX_SMTP_HOST": "127.0.0.1", "CX_SMTP_PORT": str(port), "CX_SMTP_SECURITY": "none",
                 "CX_MAIL_LEADERSHIP": "ceo@example.com", "CX_DELIVERY_FILE": str(tmp_path / "x.yaml")
                 }.items():
        monkeypatch.setenv(k, v)
    assert cli.main(["report", "send", str(run)]) == 0
    assert "delivery: summary mail sent to ceo@example.com" in capsys.readouterr().out
    assert len(inbox.messages) == 1
    assert json.loads((run / "manifest.json").read_text())["delivery"] == [
        "summary mail sent to ceo@example.com"]
    shutil.rmtree(run)
