"""The notifier agent: news.candidates -> news.alerts and alerts.<route>, once per story.

Candidates are keyed by rule id, so all of one rule's candidates meet in one partition
and its story state lives in that partition of a changelog-backed Faust table: several
workers agree because each rule has exactly one owner at a time, and a new owner after a
rebalance restores the state from the changelog.

Exactly one alert per story, across crashes (docs/delivery.md): the
notifier marks each alert of a batch *pending* and records its story in the table,
flushes the changelog, sends the batch's alerts and waits for every acknowledgement,
then clears the marks. The table is written once per key and batch, a rule's mark
before its stories (:mod:`agents.batchwrites`). A pending mark found later means a
crash came in between: the alert topics are searched for the alert's key and only the
missing copies are sent. A silenced or throttled story is recorded too: its later
copies are duplicates, not new pages once the silence ends.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Any

from agents.batchwrites import PENDING, BatchWrites
from agents.context import Context
from agents.deadletter import DeadLetter
from agents.internals import act_for
from agents.metrics import rule_label
from monitor.alerting.once_per_story import ALERT, SILENCED, Decision, Seen, decide
from monitor.alerting.records import Candidate, alert_record
from monitor.alerting.silences import silencing
from monitor.text.article import parse_timestamp
from monitor.text.fingerprint import bands

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


async def process_candidates(
    events: Sequence[Any], ctx: Context, table: Any, sinks: Any, deadletter: DeadLetter
) -> None:
    """Decide a batch of candidates; raise the alerts of the batch together."""
    writes = BatchWrites(table)
    raised: list[tuple[Any, Candidate, dict[str, Any]]] = []
    finished: set[str] = set()  # rules whose marks from before this batch are completed
    for event in events:
        act_for(event)
        writes.event = event
        found = await _decoded(event, deadletter)
        if found is None:
            continue
        if found.rule_id not in finished:
            await finish_pending(found.rule_id, table, sinks, ctx.settings.dedupe_window)
            finished.add(found.rule_id)
        if (record := _decide(found, ctx, writes)) is not None:
            raised.append((event, found, record))
    writes.apply()  # once per key, each rule's pending mark before its stories
    if not raised:
        return
    await sinks.flush()  # the pending marks are durable before any alert leaves
    await sinks.send_many([(record, found.route) for _, found, record in raised])
    _clear_marks(table, raised)
    for _, found, record in raised:
        _observe(record, found, ctx)


def _clear_marks(table: Any, raised: list[tuple[Any, Candidate, dict[str, Any]]]) -> None:
    """Clear the pending marks of a batch's acknowledged alerts: one write per rule."""
    sent: dict[str, tuple[Any, set[str]]] = {}
    for event, found, record in raised:
        sent.setdefault(found.rule_id, (event, set()))[1].add(record["alert_id"])
    for rule_id, (event, alert_ids) in sent.items():
        act_for(event)
        _clear_pending(table, rule_id, alert_ids)


async def process_candidate(
    event: Any, ctx: Context, table: Any, sinks: Any, deadletter: DeadLetter
) -> None:
    """Decide one candidate (a batch of one)."""
    await process_candidates([event], ctx, table, sinks, deadletter)


async def _decoded(event: Any, deadletter: DeadLetter) -> Candidate | None:
    try:
        found = Candidate(json.loads(event.message.value))
        found.fingerprint  # noqa: B018 - validates the field now, not mid-decision
    except (ValueError, KeyError, TypeError) as exc:
        await deadletter.send(event.message, "bad_json", repr(exc), stage="notify")
        return None
    return found


def _decide(found: Candidate, ctx: Context, table: Any) -> dict[str, Any] | None:
    """Record the decision in ``table``; return the alert to raise, marked pending, or None."""
    now = ctx.clock()
    decision = decide(
        found.fingerprint,
        now.timestamp(),
        _state(table, found.rule_id, found.fingerprint),
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
        return None
    record = alert_record(found, decision.story_id, now)
    pending = dict(table.get(f"{found.rule_id}|{PENDING}") or {})
    pending[record["alert_id"]] = {
        "alert": record,
        "route": found.route,
        "at": now.timestamp(),
        "fingerprint": f"{found.fingerprint:016x}",
    }
    # The mark first: a changelog that holds the story also holds the mark (same partition).
    table[f"{found.rule_id}|{PENDING}"] = pending
    _record(table, found.rule_id, _changes(decision))
    return record


def _clear_pending(table: Any, rule_id: str, alert_ids: Collection[str]) -> None:
    pending = {
        alert_id: mark
        for alert_id, mark in (table.get(f"{rule_id}|{PENDING}") or {}).items()
        if alert_id not in alert_ids
    }
    if pending:
        table[f"{rule_id}|{PENDING}"] = pending
    else:
        del table[f"{rule_id}|{PENDING}"]


async def finish_pending(rule_id: str, table: Any, sinks: Any, window: float) -> None:
    """Complete alerts a crash interrupted: send the copies the topics do not hold.

    The mark is written before its story, so a crash can leave a mark without the
    story: the story is recorded again, or the candidate, processed again, would alert
    a second time.
    """
    marks = dict(table.get(f"{rule_id}|{PENDING}") or {})
    if not marks:
        return
    since = min(mark["at"] for mark in marks.values())
    missing = await sinks.missing({a: mark["route"] for a, mark in marks.items()}, since)
    for alert_id, mark in marks.items():
        if missing[alert_id]:
            await sinks.send_many([(mark["alert"], mark["route"])], only=missing[alert_id])
        log.warning(
            "completed alert %s interrupted by a crash (re-sent to %s)",
            alert_id,
            ", ".join(sorted(missing[alert_id])) or "none",
        )
        if "fingerprint" in mark:
            _restore_story(table, rule_id, int(mark["fingerprint"], 16), mark["at"], window)
    _clear_pending(table, rule_id, set(marks))


def _restore_story(table: Any, rule_id: str, fingerprint: int, at: float, window: float) -> None:
    """Record the story of a completed alert unless the table holds it already."""
    decision = decide(fingerprint, at, _state(table, rule_id, fingerprint), (), window=window)
    if decision.outcome == ALERT:
        _record(table, rule_id, _changes(decision))


def _observe(record: dict[str, Any], found: Candidate, ctx: Context) -> None:
    ctx.metrics.alerts_raised.labels(watchlist=found.watchlist, severity=found.severity).inc()
    now = time.time()
    if published := record["article"].get("published_at"):
        age = now - parse_timestamp(published).timestamp()
        ctx.metrics.freshness_published.observe(max(0.0, age))
    if ingested := found.record.get("ingested_at"):
        ctx.metrics.freshness_ingest.observe(max(0.0, now - float(ingested)))
