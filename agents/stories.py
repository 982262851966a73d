"""The story agent: news.story-input -> news.stories and news.candidates, with story ids.

Every tagged article comes here, on one partition, so one owner sees them all and a
story has one identity: the analyser sends one record per article (its summary and the
candidates of its rule matches). The agent puts the article in its story
(:class:`monitor.alerting.stories.StoryBook`), writes the story's row to a
changelog-backed table keyed by story id, publishes the story record to the compacted
``news.stories`` and forwards each candidate to ``news.candidates`` with the story's id,
a summary of it and the rule's story-update thresholds it has reached. For a rule that
matched an earlier article of the story, a threshold reached now goes as a
``story_update`` candidate: the notifier decides both, once per rule and story and once
per threshold (docs/delivery.md).

Processing an article again (a crash before the commit) finds it among its story's
members: the counts do not move, and its candidates and reached thresholds are sent
again for the notifier to drop. A batch's table rows are durable before it returns, so
a committed article is always counted.

The same pass counts every article for spike detection (:mod:`agents.spikes`); ticks
(key ``tick``, sent by every worker every few seconds) make the agent run, and its spike
windows close, when no article comes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agents.analyser import wait_all
from agents.context import Context
from agents.deadletter import DeadLetter
from agents.internals import act_for
from agents.spikes import TICK_KEY, SpikeState, route_of
from monitor import wirejson
from monitor.alerting.records import Candidate, update_candidate
from monitor.alerting.stories import Joined, Story, StoryBook, arrival_of, met
from monitor.rules.files import RuleSet

log = logging.getLogger(__name__)
STAGE = "story"  # the dead-letter stage label of this agent


class StoryState:
    """The agent's table and the book of live stories built from it.

    The table is the truth; the book is rebuilt from it the first time it is needed
    after :meth:`forget` (a table recovery, or a failed batch whose changes never
    reached the table).
    """

    def __init__(self, table: Any, window: float) -> None:
        self.table = table
        self.window = window
        self._book: StoryBook | None = None

    def forget(self) -> None:
        self._book = None

    async def on_recover(self) -> None:
        self.forget()

    def book(self) -> StoryBook:
        if self._book is None:
            rows = [value for value in list(self.table.values()) if value]
            self._book = StoryBook.restore(self.window, rows)
            log.info("story book: %d live stories from the table", len(self._book))
        return self._book


@dataclass(frozen=True, slots=True)
class StoryPorts:
    """Where the story agent writes: news.stories, news.candidates, dead letters, and a
    flush that returns once the table's changelog writes are acknowledged."""

    stories: Any
    candidates: Any
    deadletter: DeadLetter
    flush: Callable[[], Awaitable[None]]
    #: Spike detection (None: off) and where spike alerts go (:class:`agents.app.Sinks`).
    spikes: SpikeState | None = None
    alerts: Any = None


async def process_arrivals(
    events: Sequence[Any], ctx: Context, state: StoryState, ports: StoryPorts
) -> None:
    """Put a batch of articles in their stories; forward their candidates."""
    try:
        await _process(events, ctx, state, ports)
    except BaseException:
        state.forget()
        if ports.spikes is not None:
            ports.spikes.forget()
        raise


async def _process(
    events: Sequence[Any], ctx: Context, state: StoryState, ports: StoryPorts
) -> None:
    book, metrics = state.book(), ctx.metrics
    touched: dict[str, tuple[Story, Any]] = {}
    closed: dict[str, Any] = {}
    sent = []
    for event in events:
        if event.message.key == TICK_KEY:
            continue  # only a reason to run: the spike windows close below
        try:
            record = json.loads(event.message.value)
            arrival = arrival_of(record)
            found = [Candidate(c) for c in record["candidates"]]
            for item in found:
                item.rule_key  # noqa: B018 - validates every key now, not mid-batch
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            await ports.deadletter.send(event.message, "bad_json", repr(exc), stage=STAGE)
            continue
        for story in book.expire(arrival.at):
            closed[story.story_id] = event
            touched.pop(story.story_id, None)
            metrics.story_articles.observe(story.articles)
            metrics.story_sources.observe(len(story.sources))
        joined = book.join(arrival)
        if joined.founded:
            metrics.stories_founded.inc()
        joined.story.matched(c.rule_key for c in found)
        closed.pop(joined.story.story_id, None)
        touched[joined.story.story_id] = (joined.story, event)
        if ports.spikes is not None:
            ports.spikes.count(record, joined.story.story_id, metrics)
        sent += await _forward(joined, record, found, ctx.rules.current, ports.candidates)
    sent += await _write(state.table, closed, touched, ports.stories)
    metrics.stories_live.set(len(book))
    if ports.spikes is not None and events:
        routes = route_of(ctx.rules.current, ctx.settings)
        await ports.spikes.close(ctx.clock().timestamp(), events, ctx, ports.alerts, routes)
    await ports.flush()  # the rows are durable before the batch's offsets can be committed
    await wait_all(sent)


async def _forward(
    joined: Joined, record: dict[str, Any], found: list[Candidate], ruleset: RuleSet, to: Any
) -> list[Any]:
    """Send the article's candidates with their story, and the story updates it brings to
    rules that matched earlier articles of the story."""
    story, sent = joined.story, []
    summary = story.summary()
    keys = {item.rule_key for item in found}
    for item in found:
        rule = ruleset.rule(item.rule_key)
        reached = met(story, rule.story_updates) if rule else []
        story.unforwarded(item.rule_key, reached)  # this candidate carries them
        value = dict(item.record, story_id=story.story_id, story=summary, updates=reached)
        sent.append(await to.send(key=item.rule_key.encode(), value=_dumps(value)))
    for rule_key in story.rules:
        rule = ruleset.rule(rule_key)
        if rule_key in keys or rule is None or not rule.story_updates:
            continue
        reached = met(story, rule.story_updates)
        if story.unforwarded(rule_key, reached) or (reached and not joined.new):
            update = update_candidate(rule, record, summary, reached).to_json()
            sent.append(await to.send(key=rule_key.encode(), value=_dumps(update)))
    return sent


async def _write(
    table: Any, closed: dict[str, Any], touched: dict[str, tuple[Story, Any]], stories: Any
) -> list[Any]:
    """Each story the batch touched: its row once, its record on news.stories; closed
    stories' rows deleted."""
    sent = []
    for story_id, event in closed.items():
        act_for(event)
        if table.get(story_id) is not None:
            del table[story_id]
    for story_id, (story, event) in touched.items():
        act_for(event)
        table[story_id] = story.to_state()
        sent.append(await stories.send(key=story_id.encode(), value=_dumps(story.to_json())))
    return sent


def _dumps(value: Any) -> bytes:
    return wirejson.dumps(value)
