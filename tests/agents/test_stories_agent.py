"""The story agent and story updates, on fakes of our ports: analyser -> story agent ->
notifier, as the worker wires them, minus Kafka."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from agents.analyser import process_articles
from agents.context import Context
from agents.deadletter import DeadLetter
from agents.notifier import StoryTable, process_candidates
from agents.stories import StoryPorts, StoryState, process_arrivals
from monitor.text.article import Article, article_from_text, encode_article
from tests.agents.fakes import ChangelogTable, FakeSinks, FakeTopic, events
from tests.agents.test_agents import CrashingSinks
from tests.conftest import SEED


def _seed(n: int = 0, source: str = "wire-a") -> Article:
    seed = article_from_text(SEED.read_text(encoding="utf-8"))
    return replace(seed, id=f"{seed.id}-{n}", source=source)


async def _arrivals(ctx: Context, *articles: Article) -> list[dict[str, Any]]:
    """The analyser's news.story-input records for these articles."""
    tagged, story_input = FakeTopic("news.tagged"), FakeTopic("news.story-input")
    dead = FakeTopic("news.deadletter")
    values = [encode_article(a) for a in articles]
    await process_articles(events(*values), ctx, tagged, story_input, DeadLetter(dead, ctx.metrics))
    assert dead.sent == []
    assert [s.key for s in story_input.sent] == [a.id.encode() for a in articles]
    return [json.loads(s.value) for s in story_input.sent]


class Pipeline:
    """The story agent's and the notifier's state, fed batch by batch."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.book = ChangelogTable()
        self.state = StoryState(self.book, ctx.settings.dedupe_window)
        self.notifier = ChangelogTable()
        self.sinks = FakeSinks()
        self.stories = FakeTopic("news.stories")
        self.candidates = FakeTopic("news.candidates")
        self.dead = FakeTopic("news.deadletter")

    async def assign(self, *records: dict[str, Any]) -> list[bytes]:
        """Run the story agent; return the candidates it forwarded."""
        before = len(self.candidates.sent)
        dead = DeadLetter(self.dead, self.ctx.metrics)
        ports = StoryPorts(self.stories, self.candidates, dead, _flushed)
        values = [json.dumps(r).encode() for r in records]
        await process_arrivals(
            events(*values, topic="news.story-input"), self.ctx, self.state, ports
        )
        return [s.value for s in self.candidates.sent[before:]]

    async def notify(self, values: list[bytes], sinks: FakeSinks | None = None) -> None:
        dead = DeadLetter(self.dead, self.ctx.metrics)
        await process_candidates(
            events(*values, topic="news.candidates"),
            self.ctx,
            StoryTable(self.notifier),
            sinks or self.sinks,
            dead,
        )

    def alerts(self) -> list[dict[str, Any]]:
        return [json.loads(s.value) for s in self.sinks.alerts.sent]


async def _flushed() -> None:
    return None


def _name(topic: dict[str, Any]) -> str:
    return str(topic["name"])


def _copy(record: dict[str, Any], n: int, source: str) -> dict[str, Any]:
    """A wire copy of an arrival from another source that matches no rule itself."""
    article = dict(record["article"], id=f"copy-{n}", source=source)
    return dict(record, article=article, candidates=[])


async def test_every_article_joins_a_story_that_is_published_as_a_record(ctx: Context) -> None:
    pipeline = Pipeline(ctx)
    records = await _arrivals(ctx, _seed(1, "a"), _seed(2, "b"), _seed(3, "a"))
    forwarded = [json.loads(v) for v in await pipeline.assign(*records)]
    story_id = records[0]["fingerprint"]
    assert {c["story_id"] for c in forwarded} == {story_id}
    assert sorted(c["rule"]["id"] for c in forwarded) == ["quiet"] * 3 + ["willing"] * 3
    [published] = pipeline.stories.sent  # one record per story and batch
    assert published.key == story_id.encode()
    story = json.loads(published.value)
    assert story["articles"] == 3
    assert story["sources"] == ["a", "b"]
    assert story["member_ids"] == [r["article"]["id"] for r in records]
    assert story["title"] == records[0]["article"]["title"]
    assert story["topics"] == [
        {"name": t["name"], "articles": 3} for t in sorted(records[0]["topics"], key=_name)
    ]
    assert list(pipeline.book) == [story_id], "one table row per story"


async def test_a_story_update_is_raised_once_per_threshold_and_replays_add_nothing(
    ctx: Context, alert_schema: Any
) -> None:
    pipeline = Pipeline(ctx)
    [seed] = await _arrivals(ctx, _seed(1, "a"))
    await pipeline.notify(await pipeline.assign(seed))
    assert sorted(a["rule"]["id"] for a in pipeline.alerts()) == ["quiet", "willing"]
    copies = [_copy(seed, 2, "b"), _copy(seed, 3, "c")]
    await pipeline.notify(await pipeline.assign(*copies))
    updates = [a for a in pipeline.alerts() if a["kind"] == "story_update"]
    assert [(a["rule"]["id"], a["update"]) for a in updates] == [
        ("willing", {"threshold": "sources>=3"})
    ], "quiet turned story updates off"
    update = updates[0]
    alert_schema.validate(update)
    assert update["story"]["sources"] == 3
    assert update["story_id"] == seed["fingerprint"]
    assert update["article"]["id"] == "copy-3", "the article that took the story there"
    first = next(a for a in pipeline.alerts() if a["rule"]["id"] == "willing")
    assert update["alert_id"] != first["alert_id"]

    # A fourth article within the hour: the second threshold, once.
    await pipeline.notify(await pipeline.assign(_copy(seed, 4, "c")))
    names = [a["update"]["threshold"] for a in pipeline.alerts() if a["kind"] == "story_update"]
    assert names == ["sources>=3", "articles>=4/1h"]

    # Processed again after a crash: candidates and thresholds go again, no alert does.
    count = len(pipeline.alerts())
    again = await pipeline.assign(seed, *copies, _copy(seed, 4, "c"))
    assert again, "the replayed articles' candidates are forwarded again"
    await pipeline.notify(again)
    assert len(pipeline.alerts()) == count
    story = json.loads(pipeline.stories.sent[-1].value)
    assert story["articles"] == 4, "the counts did not move"


async def test_thresholds_reached_before_the_rule_alerted_are_in_its_alert(
    ctx: Context,
) -> None:
    pipeline = Pipeline(ctx)
    [seed] = await _arrivals(ctx, _seed(1, "c"))
    early = [_copy(seed, 2, "a"), _copy(seed, 3, "b")]
    assert await pipeline.assign(*early) == [], "no rule matched yet: nothing to forward"
    await pipeline.notify(await pipeline.assign(seed))
    alerts = pipeline.alerts()
    assert sorted(a["kind"] for a in alerts) == ["rule", "rule"]
    willing = next(a for a in alerts if a["rule"]["id"] == "willing")
    assert willing["story"]["sources"] == 3
    assert willing["story"]["articles"] == 3
    await pipeline.notify(await pipeline.assign(_copy(seed, 4, "d")))
    kinds = [a.get("update", {}).get("threshold") for a in pipeline.alerts()]
    assert kinds.count("sources>=3") == 0, "known when the rule alerted"
    assert kinds.count("articles>=4/1h") == 1


async def test_an_update_interrupted_by_a_crash_is_completed_once(ctx: Context) -> None:
    pipeline = Pipeline(ctx)
    [seed] = await _arrivals(ctx, _seed(1, "a"))
    await pipeline.notify(await pipeline.assign(seed))
    forwarded = await pipeline.assign(_copy(seed, 2, "b"), _copy(seed, 3, "c"))
    crashing = CrashingSinks()  # the same topics; it sends to news.alerts, then crashes
    crashing.alerts, crashing.routes = pipeline.sinks.alerts, pipeline.sinks.routes
    with pytest.raises(ConnectionError):
        await pipeline.notify(forwarded, crashing)
    # The restarted notifier finds the pending mark in its table and gets the batch again.
    await pipeline.notify(forwarded)
    updates = [a for a in pipeline.alerts() if a["kind"] == "story_update"]
    assert len(updates) == 1
    route = pipeline.sinks.routes["alerts.desk"].sent
    assert sum(json.loads(s.value)["kind"] == "story_update" for s in route) == 1


async def test_a_bad_story_input_record_is_dead_lettered_and_the_batch_goes_on(
    ctx: Context,
) -> None:
    pipeline = Pipeline(ctx)
    [seed] = await _arrivals(ctx, _seed(1, "a"))
    bad = {k: v for k, v in seed.items() if k != "fingerprint"}
    forwarded = await pipeline.assign(bad, seed)
    assert len(forwarded) == 2
    [dead] = pipeline.dead.sent
    assert dead.headers["newsmon-stage"] == b"story"


async def test_a_row_written_before_story_updates_counts_as_alerted(ctx: Context) -> None:
    """An older notifier row ``[story id, seen at]`` (no flag, no thresholds): its story
    alerted, and a threshold reached now raises its update once."""
    pipeline = Pipeline(ctx)
    [seed] = await _arrivals(ctx, _seed(1, "a"))
    await pipeline.notify(await pipeline.assign(seed))
    key = next(k for k in pipeline.notifier if k.startswith("desk/willing|story|"))
    pipeline.notifier[key] = pipeline.notifier[key][:2]
    forwarded = await pipeline.assign(_copy(seed, 2, "b"), _copy(seed, 3, "c"))
    await pipeline.notify(forwarded)
    await pipeline.notify(forwarded)
    updates = [a["update"]["threshold"] for a in pipeline.alerts() if a["kind"] == "story_update"]
    assert updates == ["sources>=3"]
    assert pipeline.notifier[key][2:] == [True, ["sources>=3"]]
