"""The notifier agent: news.candidates -> news.alerts and alerts.<route>, once per story.

Candidates are keyed by rule id, so all of one rule's candidates meet in one partition
and its story state lives in that partition of a changelog-backed Faust table: several
workers agree because each rule has exactly one owner at a time, and a new owner after a
rebalance restores the state from the changelog.

Exactly one alert per story, across crashes (README "Delivery guarantees"): before an
alert leaves, the notifier records it as *pending* in the table and flushes the
changelog; after the broker acknowledged the alert on every topic it records the story
and clears the mark. A pending mark found later means a crash came in between: the
alert topics are searched for the alert's key and only the copies that are missing are
sent. A silenced or throttled story is recorded too: its later copies are duplicates,
not new pages once the silence ends.
"""

from __future__ import annotations

import json
import logging
import time
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


def _record(table: Any, rule_id: str, changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        table[f"{rule_id}|{key}"] = value


def _changes(decision: Decision) -> dict[str, Any]:
    changes: dict[str, Any] = {
        band: [seen.to_json() for seen in entries] for band, entries in decision.bands.items()
    }
    if decision.alert_times is not None:
        changes["alerts"] = list(decision.alert_times)
    return changes


def _silenced(found: Candidate, ctx: Context, now: float) -> bool:
    entities = [e["canonical"] for e in found.record.get("entities", ())]
    silence = silencing(ctx.silences.values(), found.rule_id, found.watchlist, entities, now)
    return silence is not None


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
    await finish_pending(found.rule_id, table, sinks)
    now = ctx.clock()
    decision = decide(
        fingerprint,
        now.timestamp(),
        _state(table, found.rule_id, fingerprint),
        table.get(f"{found.rule_id}|alerts") or (),
        window=ctx.settings.dedupe_window,
        throttle=found.throttle,
    )
    if decision.outcome == ALERT and _silenced(found, ctx, now.timestamp()):
        decision = replace(decision, outcome=SILENCED)
    label = rule_label(found.rule_id, len(ctx.rules.current.rules))
    ctx.metrics.rule_outcomes.labels(rule=label, outcome=decision.outcome).inc()
    if decision.outcome != ALERT:
        ctx.metrics.alerts_suppressed.labels(
            reason=decision.outcome, watchlist=found.watchlist, severity=found.severity
        ).inc()
        _record(table, found.rule_id, _changes(decision))
        return
    record = alert_record(found, decision.story_id, now)
    pending: dict[str, Any] = {
        "alert": record,
        "route": found.route,
        "changes": _changes(decision),
        "at": now.timestamp(),
    }
    table[f"{found.rule_id}|pending"] = pending
    await sinks.flush()  # the pending mark is durable before the alert leaves
    await sinks.send(record, found.route)
    _record(table, found.rule_id, pending["changes"])
    del table[f"{found.rule_id}|pending"]
    _observe(record, found, ctx)


async def finish_pending(rule_id: str, table: Any, sinks: Any) -> None:
    """Complete an alert a crash interrupted: send the copies the topics do not hold."""
    pending = table.get(f"{rule_id}|pending")
    if not pending:
        return
    record = pending["alert"]
    missing = await sinks.missing(record["alert_id"], pending["route"], since=pending["at"])
    if missing:
        await sinks.send(record, pending["route"], only=missing)
    log.warning(
        "completed alert %s interrupted by a crash (re-sent to %s)",
        record["alert_id"],
        ", ".join(sorted(missing)) or "none",
    )
    _record(table, rule_id, pending["changes"])
    del table[f"{rule_id}|pending"]


def _observe(record: dict[str, Any], found: Candidate, ctx: Context) -> None:
    ctx.metrics.alerts_raised.labels(watchlist=found.watchlist, severity=found.severity).inc()
    now = time.time()
    if published := record["article"].get("published_at"):
        age = now - parse_timestamp(published).timestamp()
        ctx.metrics.freshness_published.observe(max(0.0, age))
    if ingested := found.record.get("ingested_at"):
        ctx.metrics.freshness_ingest.observe(max(0.0, now - float(ingested)))
