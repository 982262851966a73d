"""Webhook delivery of alerts: what is sent, how it is signed, when it is tried again.

A watchlist declares its webhooks in the rule file (``deliver:``); the worker's delivery
agent (:mod:`agents.delivery`) posts each of the watchlist's alerts to each of them.
Delivery is at least once: a receiver may see an alert again after a worker crash, with
the same ``X-Newsmon-Delivery`` id, and drops the repeat by it.

Signing follows the scheme of Stripe and Slack: ``X-Newsmon-Signature: t=<unix
time>,v1=<hex HMAC-SHA256 of "<t>." + body>``. A receiver recomputes the HMAC with the
shared secret, compares in constant time and refuses a timestamp older than a few
minutes (a replayed request). The secret never appears in the rule file: a webhook names
the environment variable or file that holds it.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Mapping
from typing import Any

from monitor.rules.ruleset import Webhook

SIGNATURE_HEADER = "X-Newsmon-Signature"
DELIVERY_HEADER = "X-Newsmon-Delivery"
#: Seconds a receiver accepts a signature's timestamp around its own clock.
TOLERANCE = 300


def delivery_id(alert_id: str, watchlist: str, webhook: str) -> str:
    """The same alert to the same webhook always has the same id (a receiver's dedupe key)."""
    digest = hashlib.sha256(f"{alert_id}\x1f{watchlist}\x1f{webhook}".encode())
    return digest.hexdigest()[:32]


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Newsmon-Signature`` header's value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: bytes, header: str, body: bytes, now: float) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within :data:`TOLERANCE` of ``now``
    (what a receiver does; the tests use it as one)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    stamp, given = parts.get("t", ""), parts.get("v1", "")
    if not stamp.isdigit() or abs(now - int(stamp)) > TOLERANCE:
        return False
    expected = signature(secret, int(stamp), body).rsplit("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


def payload(alert: Mapping[str, Any], webhook: Webhook, delivery: str) -> dict[str, Any]:
    """The JSON a webhook receives: the alert itself, or a Slack message about it."""
    if webhook.format == "json":
        return {"delivery_id": delivery, "webhook": webhook.name, "alert": alert}
    rule, article = alert["rule"], alert["article"]
    title = article.get("title") or "(untitled)"
    link = f"<{article['url']}|{_slack_escape(title)}>" if article.get("url") else title
    lines = [
        f"*[{rule['severity'].upper()}]* {_slack_escape(rule.get('name') or rule['id'])}"
        f" ({rule['watchlist']})",
        link,
        *(f"> {_slack_escape(m['snippet'])}" for m in alert.get("matches", ())[:3]),
    ]
    source = article.get("source") or "unknown source"
    lines.append(f"_{_slack_escape(source)}, {article.get('published_at') or 'time unknown'}_")
    return {"text": "\n".join(lines)}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def backoff(attempt: int, base: float, cap: float, rnd: random.Random) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential, capped, with full
    jitter (AWS's "full jitter": uniform between 0 and the exponential bound)."""
    return rnd.uniform(0, min(cap, base * 2**attempt))


def retriable(status: int) -> bool:
    """Whether an HTTP answer is worth another attempt (server errors, 408, 425, 429)."""
    return status >= 500 or status in (408, 425, 429)
