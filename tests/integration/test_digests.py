"""E-mail digests on the real broker to a real SMTP server (aiosmtpd) that requires
STARTTLS and a login: a digest of 10-second periods carries every alert of the watchlist
exactly once, with the alert ids in its text, and is recorded on newsmon.digests."""

from __future__ import annotations

import email
import json
import re
import subprocess
import time
from collections.abc import Iterator
from email.message import Message
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.conftest import free_port, skip_or_fail
from tests.integration.chaos import articles, write_feed
from tests.integration.processes import (
    kcat_read,
    quick_env,
    run_newsmon,
    running_worker,
    wait_for,
)

pytestmark = pytest.mark.broker
USER, PASSWORD = "newsmon", "smtp-password-for-the-test"
COUNT = 12


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, Message]] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        assert isinstance(envelope.content, bytes)
        self.messages.append((envelope, email.message_from_bytes(envelope.content, policy=default)))
        return "250 OK"


def _authenticate(
    server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[Inbox, int, Path]]:
    """An SMTP server on 127.0.0.1 with a self-signed certificate, STARTTLS required."""
    import ssl

    if subprocess.run(["openssl", "version"], capture_output=True, check=False).returncode:
        skip_or_fail("openssl is needed for the SMTP server's certificate")
    cert, key = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=_authenticate,
        auth_required=True,
    )
    controller.start()
    try:
        yield inbox, port, cert
    finally:
        controller.stop()


def _rules() -> str:
    return """\
watchlists:
  - name: chaos
    route: alerts.chaos
    deliver:
      - email: quick
        to: [desk@example.org, duty@example.org]
        every: 10s
    rules:
      - id: chaos-marker
        query: '"chaos marker"'
        severity: high
        must_match: ["A chaos marker in the text."]
        must_not_match: ["Nothing to see."]
"""


def test_a_digest_carries_every_alert_of_its_period_once(
    bootstrap: str, prefix: str, tmp_path: Path, smtp: tuple[Inbox, int, Path]
) -> None:
    inbox, port, cert = smtp
    rules = tmp_path / "rules.yaml"
    rules.write_text(_rules())
    env = quick_env(
        bootstrap,
        prefix,
        rules,
        NEWSMON_SMTP_HOST="127.0.0.1",
        NEWSMON_SMTP_PORT=str(port),
        NEWSMON_SMTP_CAFILE=str(cert),
        NEWSMON_SMTP_USERNAME=USER,
        NEWSMON_SMTP_PASSWORD=PASSWORD,
        NEWSMON_SMTP_FROM="newsmon@example.org",
    )
    with running_worker(env, free_port(), tmp_path) as worker:
        feed = write_feed(tmp_path / "feed.jsonl", articles(COUNT, seed=5))
        replayed = run_newsmon(worker.env, "replay", str(feed))
        assert replayed.returncode == 0, replayed.stderr
        alerts = wait_for(
            lambda: len(found := kcat_read(bootstrap, f"{prefix}news.alerts")) >= COUNT and found,
            60,
            "the alerts",
        )
        expected = {json.loads(a)["alert_id"] for a in alerts}

        def listed() -> list[str]:
            return [
                found
                for _, message in inbox.messages
                for found in re.findall(r"alert ([0-9a-f]{24})", _text(message))
            ]

        started = time.monotonic()
        wait_for(lambda: set(listed()) >= expected, 60, lambda: f"digests: {listed()}")
        waited = time.monotonic() - started
        log = worker.log.read_text()
    assert sorted(listed()) == sorted(expected)  # every alert, none in two digests
    for envelope, message in inbox.messages:
        assert envelope.rcpt_tos == ["desk@example.org", "duty@example.org"]
        assert message["From"] == "newsmon@example.org"
        assert message["Subject"].startswith("[newsmon] chaos: ")
        assert re.fullmatch(r"<digest-[0-9a-f]{24}@newsmon>", message["Message-ID"])
        html = message.get_body(("html",))
        assert html is not None
        assert "<mark>chaos marker</mark>" in html.get_content().lower()
    recorded = [json.loads(v) for v in kcat_read(bootstrap, f"{prefix}newsmon.digests")]
    sent = [r for r in recorded if r["alerts"]]
    assert sorted(r["digest_id"] for r in sent) == sorted(
        m["X-Newsmon-Digest"] for _, m in inbox.messages
    )
    assert PASSWORD not in log
    print(f"digests: {len(inbox.messages)} messages for {COUNT} alerts, {waited:.0f} s after them")


def _text(message: Message) -> str:
    body = message.get_body(("plain",))  # type: ignore[attr-defined]
    return str(body.get_content()) if body is not None else ""
