"""``newsmon alerts tail``: follow alerts as a person (or as JSON lines)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from rich.console import Console
from rich.text import Text

from agents.kafka import reader
from agents.settings import Settings
from agents.topics import ALERTS, ROUTE, resolve
from monitor.rules.ruleset import at_least

_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def render(alert: dict[str, Any]) -> Text:
    """One alert for a person: severity, rule, title, where and when it was published, and
    snippets with the matched words highlighted where the match says they stand."""
    rule, article = alert["rule"], alert["article"]
    text = Text()
    text.append(f"[{rule['severity'].upper()}]", style=_STYLE.get(rule["severity"], ""))
    text.append(f" {rule['watchlist']} / {rule['id']} v{rule['version']}\n", style="bold")
    text.append(f"  {article['title']}\n")
    published = article.get("published_at") or "publication time unknown"
    text.append(f"  {article.get('source') or '-'}, {published}", style="dim")
    if url := article.get("url"):
        text.append("  ")
        text.append(url, style=f"link {url}" if _LINKABLE.match(url) else "")
    text.append("\n")
    topics = ", ".join(_topic(t) for t in alert.get("topics", []))
    text.append(f"  topics: {topics or '-'}   story: {alert['story_id']}\n", style="dim")
    for match in alert.get("matches", [])[:5]:
        text.append(f"  {match['field']}[{match['start']}:{match['end']}] ")
        text.append_text(highlight(match))
        text.append("\n")
    return text


_LINKABLE = re.compile(r"^https?://[^\s]+$")


def _topic(topic: dict[str, Any]) -> str:
    confidence = topic.get("confidence")
    said = f"{topic['score']:g}" if confidence is None else f"{confidence:.0%}"
    return f"{topic['name']} ({said})"


def highlight(match: dict[str, Any]) -> Text:
    """The match's snippet with the matched text highlighted by its ``mark``: the very
    words that matched ("air defense" for the term "air defence", every word of a NEAR).
    A match recorded without a mark (older alerts) highlights the term's words found in
    the snippet instead."""
    text = Text(match["snippet"])
    mark = match.get("mark")
    if mark is not None:
        text.stylize(_MATCHED, mark[0], mark[1])
        return text
    text.highlight_words(
        [w for w in match["term"].replace('"', "").split() if len(w) > 2],
        style=_MATCHED,
        case_sensitive=False,
    )
    return text


_MATCHED = "bold magenta"


def _wanted(alert: dict[str, Any], severity: str | None) -> bool:
    return severity is None or at_least(alert["rule"]["severity"], severity)


async def tail(
    settings: Settings,
    *,
    route: str | None = None,
    severity: str | None = None,
    from_beginning: bool = False,
    max_alerts: int | None = None,
    timeout: float | None = None,
    idle: float | None = None,
    as_json: bool = False,
    console: Console | None = None,
) -> int:
    """Print alerts until ``max_alerts`` were shown, ``timeout`` seconds passed, or (once
    one was shown) ``idle`` seconds passed without another."""
    console = console or Console()
    spec_name = resolve(ROUTE, settings, route).name if route else resolve(ALERTS, settings).name
    consumer = reader(settings, spec_name, from_beginning=from_beginning)
    await consumer.start()
    shown, deadline = 0, (time.monotonic() + timeout) if timeout else None
    last = time.monotonic()
    try:
        while max_alerts is None or shown < max_alerts:
            wait = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
            if wait <= 0 or (shown and idle is not None and time.monotonic() - last > idle):
                break
            batch = await consumer.getmany(timeout_ms=int(wait * 1000))
            for message in (m for messages in batch.values() for m in messages):
                alert = json.loads(message.value)
                if not _wanted(alert, severity):
                    continue
                if as_json:
                    print(json.dumps(alert, ensure_ascii=False), flush=True)
                else:
                    console.print(render(alert))
                shown, last = shown + 1, time.monotonic()
                if max_alerts is not None and shown >= max_alerts:
                    break
    finally:
        await consumer.stop()
    return shown


def run_tail(settings: Settings, **options: Any) -> int:
    return asyncio.run(tail(settings, **options))
