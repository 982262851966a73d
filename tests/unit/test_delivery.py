"""Webhook delivery, the pure parts: signatures a receiver can verify (and a tampered
body it refuses), delivery ids, payloads, retry pauses, and `deliver:` in rule files."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.alerting.delivery import (
    backoff,
    delivery_id,
    payload,
    retriable,
    signature,
    verify,
)
from monitor.alerting.digests import admits, compose, digest_id, last_closed
from monitor.errors import RuleError
from monitor.rules.files import parse_rules
from monitor.rules.ruleset import Digest, Webhook

SECRET = b"s3cret-key"
RULE = """\
    rules:
      - id: r1
        query: marker
        must_match: ["a marker"]
        must_not_match: ["nothing"]
"""


def test_a_receiver_verifies_the_signature_and_refuses_tampering_and_replays() -> None:
    body = b'{"alert": {"alert_id": "abc"}}'
    header = signature(SECRET, 1_765_000_000, body)
    assert header.startswith("t=1765000000,v1=")
    assert verify(SECRET, header, body, now=1_765_000_010)
    assert not verify(SECRET, header, body.replace(b"abc", b"abd"), now=1_765_000_010)
    assert not verify(b"another key", header, body, now=1_765_000_010)
    assert not verify(SECRET, header, body, now=1_765_000_000 + 301)  # a replay, later
    assert not verify(SECRET, "v1=deadbeef", body, now=1_765_000_000)


def test_a_delivery_id_names_one_alert_to_one_webhook() -> None:
    first = delivery_id("a" * 24, "ukraine", "ops")
    assert first == delivery_id("a" * 24, "ukraine", "ops")
    assert (
        len(
            {
                first,
                delivery_id("b" * 24, "ukraine", "ops"),
                delivery_id("a" * 24, "ukraine", "chat"),
            }
        )
        == 3
    )


def test_payloads() -> None:
    alert = {
        "alert_id": "a" * 24,
        "rule": {"id": "r1", "name": "A <rule>", "severity": "high", "watchlist": "w"},
        "article": {
            "title": "T & U",
            "url": "https://example.org/1",
            "source": "",
            "published_at": None,
        },
        "matches": [{"snippet": "x < y"}],
    }
    generic = payload(alert, Webhook("ops", "http://h/x", secret_env="HOOK_OPS"), "d1")  # noqa: S106
    assert generic == {"delivery_id": "d1", "webhook": "ops", "alert": alert}
    slack = payload(alert, Webhook("chat", "http://h/x", format="slack"), "d1")
    assert slack["text"].splitlines() == [
        "*[HIGH]* A &lt;rule&gt; (w)",
        "<https://example.org/1|T &amp; U>",
        "> x &lt; y",
        "_unknown source, time unknown_",
    ]


def test_backoff_is_exponential_capped_and_jittered() -> None:
    rnd = random.Random(7)
    pauses = [[backoff(n, 1.0, 30.0, rnd) for _ in range(200)] for n in range(8)]
    for n, drawn in enumerate(pauses):
        bound = min(30.0, 2.0**n)
        assert all(0 <= p <= bound for p in drawn)
        assert max(drawn) > 0.8 * bound  # jitter spreads over the whole range
    assert [retriable(s) for s in (500, 503, 429, 408, 400, 401, 404, 410)] == [
        True, True, True, True, False, False, False, False,
    ]  # fmt: skip


def _parse(deliver: str) -> dict[str, tuple[Webhook, ...]]:
    text = f"watchlists:\n  - name: w\n{deliver}{RULE}"
    return parse_rules(text, "rules.yaml", ()).webhooks


def test_a_watchlist_declares_its_webhooks() -> None:
    hooks = _parse(
        "    deliver:\n"
        "      - webhook: ops\n"
        "        url: https://hooks.example.org/x\n"
        "        secret_file: /run/secrets/ops\n"
        "        min_severity: high\n"
        "      - webhook: chat\n"
        "        url: https://hooks.slack.com/services/T/B/X\n"
        "        format: slack\n"
    )
    assert hooks == {
        "w": (
            Webhook("ops", "https://hooks.example.org/x", "json", "", "/run/secrets/ops", "high"),
            Webhook("chat", "https://hooks.slack.com/services/T/B/X", "slack"),
        )
    }


def test_webhooks_change_the_rule_set_version_not_the_rule_versions() -> None:
    plain = parse_rules(f"watchlists:\n  - name: w\n{RULE}", "r.yaml", ())
    hooked = parse_rules(
        "watchlists:\n  - name: w\n    deliver:\n      - webhook: ops\n"
        f"        url: http://h/x\n        secret_env: HOOK\n{RULE}",
        "r.yaml",
        (),
    )
    assert plain.version != hooked.version
    assert [r.version for r in plain.rules] == [r.version for r in hooked.rules]


OPS = ["webhook: ops", "url: http://h/x"]


@pytest.mark.parametrize(
    ("entries", "line", "said"),
    [
        ([[*OPS, "secret: abc"]], 6, "a secret never goes into a rule file"),
        ([["webhook: ops", "url: ftp://h/x", "secret_env: S"]], 5, "must be an http:// or"),
        ([OPS], 4, "needs secret_env or secret_file"),
        ([[*OPS, "secret_env: 'A-B'"]], 6, "is not an environment variable name"),
        ([[*OPS, "format: teams", "secret_env: S"]], 6, "format must be json or slack"),
        ([[*OPS, "secret_env: S", "min_severity: loud"]], 7, "min_severity must be one of"),
        ([[*OPS, "format: slack"], [*OPS, "format: slack"]], 7, "duplicate webhook 'ops'"),
    ],
)
def test_a_bad_delivery_is_refused_with_its_line(
    entries: list[list[str]], line: int, said: str
) -> None:
    deliver = "".join("      - " + "\n        ".join(entry) + "\n" for entry in entries)
    with pytest.raises(RuleError) as refused:
        _parse("    deliver:\n" + deliver)
    assert refused.value.location.line == line
    assert said in str(refused.value)
    assert refused.value.location.path == str(Path("rules.yaml"))


def test_a_watchlist_declares_its_digests() -> None:
    text = (
        "watchlists:\n  - name: w\n    deliver:\n      - email: hourly\n"
        "        to: [desk@example.org, 'duty@example.org']\n        every: 1h\n"
        f"        min_severity: high\n{RULE}"
    )
    ruleset = parse_rules(text, "rules.yaml", ())
    assert ruleset.digests == {
        "w": (Digest("hourly", ("desk@example.org", "duty@example.org"), 3600.0, "high"),)
    }
    assert ruleset.webhooks == {}


@pytest.mark.parametrize(
    ("entry", "line", "said"),
    [
        (["email: d", "to: [desk@example.org]", "every: 7m"], 6, "'every' must divide a day"),
        (["email: d", "to: [desk@example.org]", "every: 5s"], 6, "'every' must divide a day"),
        (["email: d", "to: [desk@example.org]", "every: 2d"], 6, "'every' must divide a day"),
        (["email: d", "to: [not-an-address]", "every: 1h"], 5, "is not an e-mail address"),
        (["email: d", "every: 1h"], 4, "missing 'to'"),
        (["url: http://h/x"], 4, "a delivery names a 'webhook' or an 'email' digest"),
    ],
)
def test_a_bad_digest_is_refused_with_its_line(entry: list[str], line: int, said: str) -> None:
    with pytest.raises(RuleError) as refused:
        _parse("    deliver:\n      - " + "\n        ".join(entry) + "\n")
    assert refused.value.location.line == line
    assert said in str(refused.value)


def test_digest_periods_close_on_utc_boundaries_after_the_grace() -> None:
    hour = 3600.0
    at_ten = datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC).timestamp()
    assert last_closed(at_ten + 4, hour, grace=5) == (at_ten - 2 * hour, at_ten - hour)
    assert last_closed(at_ten + 5, hour, grace=5) == (at_ten - hour, at_ten)


def test_a_digest_message_lists_its_alerts_by_severity() -> None:
    start = datetime(2026, 12, 7, 9, tzinfo=UTC).timestamp()

    def alert(n: int, severity: str, title: str) -> dict[str, object]:
        return {
            "alert_id": f"{n:024x}",
            "raised_at": f"2026-12-07T09:{n:02d}:00+00:00",
            "rule": {"id": f"r{n}", "name": "", "severity": severity, "watchlist": "w"},
            "article": {"title": title, "url": "https://example.org/a?b=1&c=2", "source": "S"},
            "matches": [{"snippet": "the <chaos> marker", "mark": [4, 11]}],
        }

    alerts = [alert(1, "low", "Quiet <b>"), alert(2, "critical", "Loud")]
    digest = Digest("hourly", ("desk@example.org",), 3600.0)
    message = compose("w", digest, alerts, period=(start, start + 3600), sender="n@example.org")
    assert message["Subject"] == "[newsmon] w: 2 alerts, 2026-12-07 09:00 to 10:00 UTC"
    assert message["Message-ID"] == f"<digest-{digest_id('w', 'hourly', start)}@newsmon>"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.index("[CRITICAL] Loud") < text.index("[LOW] Quiet <b>")
    assert f"alert {1:024x}" in text
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Quiet &lt;b&gt;" in html
    assert "the <mark>&lt;chaos&gt;</mark> marker" in html
    assert 'href="https://example.org/a?b=1&amp;c=2"' in html
    assert admits(digest, alerts[0], start, start + 3600)
    assert not admits(digest, alerts[0], start + 3600, start + 7200)
