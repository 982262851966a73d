"""E-mail digests: a watchlist's alerts of one period, as one message.

Periods are aligned to UTC midnight (``every`` divides a day), so an hourly digest covers
09:00-10:00 UTC whichever worker sends it. A digest has a deterministic id and
``Message-ID``: one sent again after a crash is the same message to a mail system.
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from monitor.rules.ruleset import SEVERITIES, Digest, at_least


def last_closed(now: float, every: float, grace: float) -> tuple[float, float]:
    """The latest period ``[start, end)`` that ended at least ``grace`` seconds ago."""
    end = math.floor((now - grace) / every) * every
    return end - every, end


def digest_id(watchlist: str, digest: str, start: float) -> str:
    return hashlib.sha256(f"{watchlist}\x1f{digest}\x1f{start:.0f}".encode()).hexdigest()[:24]


def admits(digest: Digest, alert: Mapping[str, Any], start: float, end: float) -> bool:
    """Whether ``alert`` belongs in ``digest``'s period (by its raise time) and severity."""
    raised = datetime.fromisoformat(alert["raised_at"]).timestamp()
    return start <= raised < end and at_least(alert["rule"]["severity"], digest.min_severity)


def compose(
    watchlist: str,
    digest: Digest,
    alerts: Sequence[Mapping[str, Any]],
    *,
    period: tuple[float, float],
    sender: str,
) -> EmailMessage:
    """The message of one digest: the alerts by severity then time, as text and HTML."""
    ordered = sorted(
        alerts, key=lambda a: (SEVERITIES.index(a["rule"]["severity"]), a["raised_at"])
    )
    start = period[0]
    since, until = (datetime.fromtimestamp(t, UTC) for t in period)
    span = f"{since:%Y-%m-%d %H:%M} to {until:%H:%M} UTC"
    ident = digest_id(watchlist, digest.name, start)
    message = EmailMessage()
    message["Subject"] = f"[newsmon] {watchlist}: {len(ordered)} alerts, {span}"
    message["From"] = sender
    message["To"] = ", ".join(digest.to)
    message["Date"] = format_datetime(until)
    message["Message-ID"] = f"<digest-{ident}@newsmon>"
    message["X-Newsmon-Digest"] = ident
    message.set_content(_text(watchlist, ordered, span))
    message.add_alternative(_html(watchlist, ordered, span), subtype="html")
    return message


def _text(watchlist: str, alerts: Sequence[Mapping[str, Any]], span: str) -> str:
    lines = [f"{len(alerts)} alerts of watchlist {watchlist}, {span}.", ""]
    for alert in alerts:
        rule, article = alert["rule"], alert["article"]
        lines.append(f"[{rule['severity'].upper()}] {article.get('title') or '(untitled)'}")
        lines.append(
            f"  {rule.get('name') or rule['id']} · {article.get('source') or 'unknown source'}"
            f" · {article.get('published_at') or 'time unknown'} · alert {alert['alert_id']}"
        )
        if article.get("url"):
            lines.append(f"  {article['url']}")
        lines.extend(f"  > {m['snippet']}" for m in alert.get("matches", ())[:2])
        lines.append("")
    return "\n".join(lines)


def _html(watchlist: str, alerts: Sequence[Mapping[str, Any]], span: str) -> str:
    esc = html.escape
    items = []
    for alert in alerts:
        rule, article = alert["rule"], alert["article"]
        title = esc(article.get("title") or "(untitled)")
        if article.get("url"):
            title = f'<a href="{esc(article["url"])}">{title}</a>'
        snippets = "".join(
            f"<blockquote>{_marked(m)}</blockquote>" for m in alert.get("matches", ())[:2]
        )
        items.append(
            f"<li><b>[{esc(rule['severity'].upper())}]</b> {title}<br>"
            f"<small>{esc(rule.get('name') or rule['id'])} · "
            f"{esc(article.get('source') or 'unknown source')} · "
            f"{esc(article.get('published_at') or 'time unknown')}</small>{snippets}</li>"
        )
    return (
        f"<p>{len(alerts)} alerts of watchlist <b>{esc(watchlist)}</b>, {esc(span)}.</p>"
        f"<ul>{''.join(items)}</ul>"
    )


def _marked(match: Mapping[str, Any]) -> str:
    """The snippet with the matched words in <mark>, by the match's mark."""
    text, mark = match["snippet"], match.get("mark")
    if not mark:
        return html.escape(text)
    start, end = mark
    return (
        html.escape(text[:start])
        + f"<mark>{html.escape(text[start:end])}</mark>"
        + html.escape(text[end:])
    )
