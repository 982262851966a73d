"""The notifier agent: news.candidates -> news.alerts and alerts.<route>, once per story.

Candidates are keyed by rule id, so all of one rule's candidates meet in one partition
and its story state lives in that partition of a changelog-backed Faust table: several
workers agree because each rule has exactly one owner at a time, and a new owner after a
rebalance restores the state from the changelog. The alert is sent (and acknowledged)
before the story is recorded, so a crash in between re-sends the same alert id rather
than losing it. A silenced or throttled story is recorded too: its later copies are
duplicates, not new pages once the silence ends.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from agents.context import Context
from agents.deadletter import DeadLetter
from agents.metrics import rule_label
from monitor.alerts import Candidate, alert_record
from monitor.article import parse_timestamp
from monitor.dedupe import ALERT, SILENCED, Decision, Seen, decide
from monitor.silences import silencing
from monitor.story import bands

log = logging.getLogger(__name__)


def _state(table: Any, rule_id: str, fingerprint: int) -> dict[str, tuple[Seen, ...]]:
    return {
        band: tuple(Seen.from_json(v) for v in table.get(f"{rule_id}|{band}") or ())
        for band in bands(fingerprint)
    }


def _silenced(found: Candidate, ctx: Context, now: float) -> bool:
    entities = [e["canonical"] for e in found.record.get("entities", ())]
    return (
        silencing(ctx.silences.values(), found.rule_id, found.watchlist, entities, now) is not None
    )


def _record(table: Any, rule_id: str, decision: Decision) -> None:
    for band, entries in decision.bands.items():
        table[f"{rule_id}|{band}"] = [seen.to_json() for seen in entries]
    if decision.alert_times is not None:
        table[f"{rule_id}|alerts"] = list(decision.alert_times)


async def process_candidate(
    event: Any, ctx: Context, table: Any, sinks: Any, deadletter: DeadLetter
) -> None:
    """Decide one candidate: raise its alert or count why it was suppressed."""
    try:
        found = Candidate(json.loads(event.message.value))
        fingerprint = found.fingerprint
    except (ValueError, KeyError, TypeError) as exc:
        await deadletter.send(event.message, "bad_json", repr(exc), stage="notify")
        return
    now = ctx.clock()
    recent = table.get(f"{found.rule_id}|alerts") or ()
    decision = decide(
        fingerprint,
        now.timestamp(),
        _state(table, found.rule_id, fingerprint),
        recent,
        window=ctx.settings.dedupe_window,
        throttle=found.throttle,
    )
    if decision.outcome == ALERT and _silenced(found, ctx, now.timestamp()):
        decision = replace(decision, outcome=SILENCED)
    label = rule_label(found.rule_id, len(ctx.rules.current.rules))
    ctx.metrics.rule_outcomes.labels(rule=label, outcome=decision.outcome).inc()
    if decision.outcome == ALERT:
        await _send(alert_record(found, decision.story_id, now), found, ctx, sinks)
    else:
        ctx.metrics.alerts_suppressed.labels(
            reason=decision.outcome, watchlist=found.watchlist, severity=found.severity
        ).inc()
    _record(table, found.rule_id, decision)


async def _send(record: dict[str, Any], found: Candidate, ctx: Context, sinks: Any) -> None:
    value = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
    key = record["alert_id"].encode()
    with ctx.metrics.stage("produce").time():
        futures = [
            await topic.send(key=key, value=value)
            for topic in (sinks.alerts, sinks.route(found.route))
        ]
        for future in futures:
            await future
    ctx.metrics.alerts_raised.labels(watchlist=found.watchlist, severity=found.severity).inc()
    now = ctx.clock().timestamp()
    published = found.record["article"].get("published_at")
    if published:
        age = now - parse_timestamp(published).timestamp()
        ctx.metrics.freshness_published.observe(max(0.0, age))
    if ingested := found.record.get("ingested_at"):
        ctx.metrics.freshness_ingest.observe(max(0.0, now - float(ingested)))
