"""``newsmon alerts tail``: follow alerts as a person (or as JSON lines)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from rich.console import Console
from rich.text import Text

from agents.kafka import reader
from agents.settings import Settings
from agents.topics import ALERTS, ROUTE, resolve
from monitor.rules.files import SEVERITIES

_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def render(alert: dict[str, Any]) -> Text:
    """One alert for a person: severity, rule, title, and snippets with matches highlighted."""
    rule, article = alert["rule"], alert["article"]
    text = Text()
    text.append(f"[{rule['severity'].upper()}]", style=_STYLE.get(rule["severity"], ""))
    text.append(f" {rule['watchlist']} / {rule['id']} v{rule['version']}\n", style="bold")
    text.append(f"  {article['title']}\n")
    topics = ", ".join(f"{t['name']} ({t['score']:g})" for t in alert.get("topics", []))
    text.append(f"  topics: {topics or '-'}   story: {alert['story_id']}\n", style="dim")
    for match in alert.get("matches", [])[:5]:
        text.append(f"  {match['field']}[{match['start']}:{match['end']}] ")
        text.append_text(_highlight(match["snippet"], match["term"]))
        text.append("\n")
    return text


def _highlight(snippet: str, term: str) -> Text:
    text = Text(snippet)
    text.highlight_words(
        [w for w in term.replace('"', "").split() if len(w) > 2],
        style="bold magenta",
        case_sensitive=False,
    )
    return text


def _wanted(alert: dict[str, Any], severity: str | None) -> bool:
    if severity is None:
        return True
    rank = SEVERITIES.index
    return rank(alert["rule"]["severity"]) <= rank(severity)


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
