"""The notifier agent: news.candidates -> news.alerts and alerts.<route>, once per story.

Candidates are keyed by rule (``<watchlist>/<rule id>``: ids are unique per watchlist),
so all of one rule's candidates meet in one partition and its story state lives in that
partition of a changelog-backed Faust table: several workers agree because each rule has
exactly one owner at a time, and a new owner after a rebalance restores the state from
the changelog.

The table holds one row per story a rule saw (``<rule key>|story|<story id>``: the
story's id, when the rule first saw it, whether it alerted and the story-update
thresholds it knows; deleted when the story leaves the dedupe window), so a new story
costs one changelog record. The story id comes with the candidate from the story agent
(:mod:`agents.stories`); candidates written before that are matched to the rule's stories
by fingerprint band (:class:`monitor.alerting.once_per_story.StoryIndex`, kept in memory
by :class:`StoryTable`, built from the table when a rule is first decided after a start
or a table recovery).

Story updates: a candidate whose story the rule alerted on, carrying thresholds the row
does not know (a later article of the story, or a ``story_update`` candidate for a rule
that matched an earlier one), raises one ``story_update`` alert per new threshold, with
the same pending marks; the thresholds a story had reached when the rule first alerted
are known from the start (that alert says them).

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
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from agents.batchwrites import PENDING, BatchWrites
from agents.context import Context
from agents.deadletter import DeadLetter
from agents.internals import act_for
from agents.metrics import rule_label
from monitor.alerting.once_per_story import ALERT, DUPLICATE, SILENCED, Seen, StoryIndex, decide
from monitor.alerting.records import STORY_UPDATE, Candidate, alert_record, update_alert_record
from monitor.alerting.silences import silencing
from monitor.text.article import parse_timestamp

log = logging.getLogger(__name__)
STORY = "story"


def story_key(rule_key: str, fingerprint: int) -> str:
    return f"{rule_key}|{STORY}|{fingerprint:016x}"


class StoryTable:
    """The notifier's table, with each rule's stories indexed in memory by fingerprint band.

    The table is the truth; the indexes are built from it the first time they are needed
    after :meth:`forget`, which Faust calls when it has recovered the table after a
    rebalance, and which a failed batch calls too (its stories never reached the table).
    """

    def __init__(self, table: Any) -> None:
        self.table = table
        self._indexes: dict[str, StoryIndex] | None = None

    def forget(self) -> None:
        """Drop the indexes: the next decision rebuilds them from the table."""
        self._indexes = None

    async def on_recover(self) -> None:
        self.forget()

    def index(self, rule_key: str) -> StoryIndex:
        if self._indexes is None:
            self._indexes = self._build()
        return self._indexes.setdefault(rule_key, StoryIndex())

    def _build(self) -> dict[str, StoryIndex]:
        indexes: dict[str, StoryIndex] = {}
        for key, value in list(self.table.items()):
            head, _, fingerprint = key.rpartition("|")
            rule_key, _, kind = head.rpartition("|")
            # Keys written before rules were keyed per watchlist lack the "/": their stories
            # belong to no rule now, and are left out.
            if kind == STORY and "/" in rule_key:
                story_id, seen_at = value[0], value[1]
                seen = Seen(int(fingerprint, 16), str(story_id), float(seen_at))
                indexes.setdefault(rule_key, StoryIndex()).add(seen)
        return indexes


def _silenced(found: Candidate, ctx: Context, now: float) -> bool:
    entities = [e["canonical"] for e in found.record.get("entities", ())]
    silence = silencing(ctx.silences.values(), found.rule_id, found.watchlist, entities, now)
    return silence is not None


async def process_candidates(
    events: Sequence[Any], ctx: Context, stories: StoryTable, sinks: Any, deadletter: DeadLetter
) -> None:
    """Decide a batch of candidates; raise the alerts of the batch together."""
    try:
        await _process(events, ctx, stories, sinks, deadletter)
    except BaseException:
        stories.forget()  # the batch's stories are in the indexes but not in the table
        raise


async def _process(
    events: Sequence[Any], ctx: Context, stories: StoryTable, sinks: Any, deadletter: DeadLetter
) -> None:
    table = stories.table
    writes = BatchWrites(table)
    raised: list[tuple[Any, Candidate, dict[str, Any]]] = []
    finished: set[str] = set()  # rules whose marks from before this batch are completed
    for event in events:
        act_for(event)
        writes.event = event
        found = await _decoded(event, deadletter)
        if found is None:
            continue
        if found.rule_key not in finished:
            await finish_pending(found.rule_key, stories, sinks, ctx.settings.dedupe_window)
            finished.add(found.rule_key)
        for record in _decide(found, ctx, stories.index(found.rule_key), writes):
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
        sent.setdefault(found.rule_key, (event, set()))[1].add(record["alert_id"])
    for key, (event, alert_ids) in sent.items():
        act_for(event)
        _clear_pending(table, key, alert_ids)


async def process_candidate(
    event: Any, ctx: Context, stories: StoryTable, sinks: Any, deadletter: DeadLetter
) -> None:
    """Decide one candidate (a batch of one)."""
    await process_candidates([event], ctx, stories, sinks, deadletter)


async def _decoded(event: Any, deadletter: DeadLetter) -> Candidate | None:
    try:
        found = Candidate(json.loads(event.message.value))
        found.fingerprint  # noqa: B018 - validates the field now, not mid-decision
    except (ValueError, KeyError, TypeError) as exc:
        await deadletter.send(event.message, "bad_json", repr(exc), stage="notify")
        return None
    return found


def _decide(found: Candidate, ctx: Context, index: StoryIndex, table: Any) -> list[dict[str, Any]]:
    """Record the decision in ``table``; return the alerts to raise, marked pending."""
    now = ctx.clock()
    window = ctx.settings.dedupe_window
    for gone in index.expire(now.timestamp(), window):
        del table[story_key(found.rule_key, gone.fingerprint)]
    if found.kind == STORY_UPDATE:
        return _updates(found, ctx, table)
    decision = decide(
        found.fingerprint,
        now.timestamp(),
        index,
        table.get(f"{found.rule_key}|alerts") or (),
        window=window,
        throttle=found.throttle,
        story_id=found.story_id,
    )
    if decision.outcome == ALERT and _silenced(found, ctx, now.timestamp()):
        decision = replace(decision, outcome=SILENCED)
    label = rule_label(found.rule_key, len(ctx.rules.current.rules))
    ctx.metrics.rule_outcomes.labels(rule=label, outcome=decision.outcome).inc()
    raised = []
    if decision.outcome == ALERT:
        record = alert_record(found, decision.story_id, now)
        _mark(
            table,
            found,
            record,
            now,
            fingerprint=f"{found.fingerprint:016x}",
            story=found.story_id,
            updates=found.updates,
        )
        raised.append(record)
    else:
        ctx.metrics.alerts_suppressed.labels(
            reason=decision.outcome, watchlist=found.watchlist, severity=found.severity
        ).inc()
    if decision.story is not None:
        # The thresholds the story has reached already are in this alert: no update.
        outcome, known = decision.outcome, found.updates
        _record(table, index, found.rule_key, decision.story, outcome=outcome, updates=known)
    elif decision.outcome == DUPLICATE and found.story_id is not None:
        raised.extend(_updates(found, ctx, table))
    if decision.alert_times is not None:
        table[f"{found.rule_key}|alerts"] = list(decision.alert_times)
    return raised


def _mark(
    table: Any, found: Candidate, record: dict[str, Any], now: datetime, **facts: Any
) -> None:
    """Mark an alert pending. The mark goes first: a changelog that holds the story also
    holds the mark (same partition, and BatchWrites writes marks before stories)."""
    pending = dict(table.get(f"{found.rule_key}|{PENDING}") or {})
    pending[record["alert_id"]] = {
        "alert": record,
        "route": found.route,
        "at": now.timestamp(),
        **facts,
    }
    table[f"{found.rule_key}|{PENDING}"] = pending


def _updates(found: Candidate, ctx: Context, table: Any) -> list[dict[str, Any]]:
    """The story-update alerts of a candidate: each threshold its story reached that the
    rule's story record does not know yet, if the rule alerted on the story."""
    story_id = found.story_id
    if story_id is None:
        return []
    key = story_key(found.rule_key, int(story_id, 16))
    stored = table.get(key)
    if stored is None:  # the rule never saw this story (or it left the window)
        return []
    row = _StoryRow.of(stored)
    new = [name for name in found.updates if name not in row.updates]
    if not new:
        return []
    table[key] = row.knowing(new).to_json()
    now = ctx.clock()
    if not row.alerted:
        return []
    if _silenced(found, ctx, now.timestamp()):
        for _ in new:
            ctx.metrics.alerts_suppressed.labels(
                reason=SILENCED, watchlist=found.watchlist, severity=found.severity
            ).inc()
        return []
    raised = []
    for name in new:
        record = update_alert_record(found, name, now)
        _mark(table, found, record, now, story=story_id, update=name)
        raised.append(record)
    return raised


@dataclass(frozen=True, slots=True)
class _StoryRow:
    """A rule's story in the table: ``[story id, seen at, alerted, updates known]`` (rows
    written before story updates hold the first two: they alerted, knowing none)."""

    story_id: str
    seen_at: float
    alerted: bool = True
    updates: tuple[str, ...] = ()

    @classmethod
    def of(cls, value: Sequence[Any]) -> _StoryRow:
        alerted = bool(value[2]) if len(value) > 2 else True
        updates = tuple(str(n) for n in value[3]) if len(value) > 3 else ()
        return cls(str(value[0]), float(value[1]), alerted, updates)

    def knowing(self, names: Sequence[str]) -> _StoryRow:
        return replace(self, updates=(*self.updates, *names))

    def to_json(self) -> list[Any]:
        return [self.story_id, self.seen_at, self.alerted, list(self.updates)]


def _record(
    table: Any,
    index: StoryIndex,
    rule_key: str,
    story: Seen,
    *,
    outcome: str = ALERT,
    updates: Sequence[str] = (),
) -> None:
    index.add(story)
    row = _StoryRow(story.story_id, story.seen_at, outcome == ALERT, tuple(updates))
    table[story_key(rule_key, story.fingerprint)] = row.to_json()


def _clear_pending(table: Any, rule_key: str, alert_ids: Collection[str]) -> None:
    pending = {
        alert_id: mark
        for alert_id, mark in (table.get(f"{rule_key}|{PENDING}") or {}).items()
        if alert_id not in alert_ids
    }
    if pending:
        table[f"{rule_key}|{PENDING}"] = pending
    else:
        del table[f"{rule_key}|{PENDING}"]


async def finish_pending(rule_key: str, stories: StoryTable, sinks: Any, window: float) -> None:
    """Complete alerts a crash interrupted: send the copies the topics do not hold.

    The mark is written before its story, so a crash can leave a mark without the
    story: the story is recorded again, or the candidate, processed again, would alert
    a second time.
    """
    table = stories.table
    marks = dict(table.get(f"{rule_key}|{PENDING}") or {})
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
            index = stories.index(rule_key)
            decision = decide(
                int(mark["fingerprint"], 16),
                mark["at"],
                index,
                (),
                window=window,
                story_id=mark.get("story"),
            )
            if decision.story is not None:  # the table does not hold the story yet
                known = [str(n) for n in mark.get("updates", ())]
                _record(table, index, rule_key, decision.story, updates=known)
        elif "update" in mark:  # the story's row may not know the update yet
            key = story_key(rule_key, int(mark["story"], 16))
            if (stored := table.get(key)) is not None:
                row = _StoryRow.of(stored)
                if mark["update"] not in row.updates:
                    table[key] = row.knowing([mark["update"]]).to_json()
    _clear_pending(table, rule_key, set(marks))


def _observe(record: dict[str, Any], found: Candidate, ctx: Context) -> None:
    ctx.metrics.alerts_raised.labels(watchlist=found.watchlist, severity=found.severity).inc()
    if record["kind"] == STORY_UPDATE:
        kind = record["update"]["threshold"].partition(">=")[0]
        ctx.metrics.story_updates.labels(watchlist=found.watchlist, threshold=kind).inc()
        return
    now = time.time()
    if published := record["article"].get("published_at"):
        age = now - parse_timestamp(published).timestamp()
        ctx.metrics.freshness_published.observe(max(0.0, age))
    if ingested := found.record.get("ingested_at"):
        ctx.metrics.freshness_ingest.observe(max(0.0, now - float(ingested)))
