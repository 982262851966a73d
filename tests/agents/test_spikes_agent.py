"""Spike detection in the story agent, on fakes of our ports: windows counted by event
time, closed by the clock (a tick when no article comes), one spike alert per series and
window, exactly once across a crash in the middle of sending it."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from agents.context import Context
from agents.deadletter import DeadLetter
from agents.spikes import TICK_KEY, TICK_VALUE, SpikeState
from agents.stories import StoryPorts, StoryState, process_arrivals
from tests.agents.fakes import ChangelogTable, FakeEvent, FakeMessage, FakeSinks, FakeTopic
from tests.agents.test_agents import CrashingSinks
from tests.agents.test_stories_agent import _arrivals, _seed

WINDOW, LATE = 60.0, 10.0
T0 = 1_750_000_020.0  # a window boundary (a multiple of 60)


def _settings(ctx: Context) -> Context:
    settings = ctx.settings.model_copy(
        update={
            "spike_window": WINDOW,
            "spike_lateness": LATE,
            "spike_warmup": 3,
            "spike_min_count": 3,
        }
    )
    return replace(ctx, settings=settings)


def _article(template: dict[str, Any], n: int, at: float, topic: str | None) -> dict[str, Any]:
    """A distinct article (its own story) published at ``at``, with one topic or none."""
    article = dict(
        template["article"],
        id=f"art-{n}",
        title=f"article {n}",
        published_at=datetime.fromtimestamp(at, UTC).isoformat(),
    )
    topics = [{"name": topic, "score": 3.0, "confidence": 0.9}] if topic else []
    fingerprint = f"{(n * 0x9E3779B97F4A7C15) % 2**64:016x}"
    return dict(
        template,
        article=article,
        at=at + 1,
        topics=topics,
        entities=[],
        fingerprint=fingerprint,
        candidates=[],
    )


class Agent:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.state = StoryState(ChangelogTable(), ctx.settings.dedupe_window)
        self.table = ChangelogTable()
        self.spikes = SpikeState(self.table, ctx.settings)
        self.sinks = FakeSinks()
        self.offset = 0

    async def run(
        self, records: list[dict[str, Any] | None], now: float, sinks: Any = None
    ) -> None:
        """One batch (None: a tick) with the clock at ``now``."""
        batch = []
        for record in records:
            self.offset += 1
            key, value = (
                (TICK_KEY, TICK_VALUE) if record is None else (b"a", json.dumps(record).encode())
            )
            batch.append(
                FakeEvent(FakeMessage(value, key=key, topic="news.story-input", offset=self.offset))
            )
        dead = DeadLetter(FakeTopic("news.deadletter"), self.ctx.metrics)
        ports = StoryPorts(
            FakeTopic("news.stories"),
            FakeTopic("news.candidates"),
            dead,
            _flushed,
            spikes=self.spikes,
            alerts=sinks or self.sinks,
        )
        clock = replace(self.ctx, clock=lambda: datetime.fromtimestamp(now, UTC))
        await process_arrivals(batch, clock, self.state, ports)

    def alerts(self) -> list[dict[str, Any]]:
        return [json.loads(s.value) for s in self.sinks.alerts.sent]


async def _agent(ctx: Context) -> tuple[Agent, dict[str, Any]]:
    """A story agent with spikes on short windows, and an arrival record to copy."""
    ctx = _settings(ctx)
    [template] = await _arrivals(ctx, _seed(1, "a"))
    return Agent(ctx), template


async def _flushed() -> None:
    return None


def _windows(
    template: dict[str, Any], hot: dict[int, int], windows: int = 8
) -> list[list[dict[str, Any]]]:
    """``windows`` windows of 20 articles; 2 carry air_defence, or ``hot[w]`` in window w."""
    found, n = [], 0
    for w in range(windows):
        batch = []
        for i in range(20):
            n += 1
            topic = "air_defence" if i < hot.get(w, 2) else None
            batch.append(_article(template, n, T0 + w * WINDOW + i * 2, topic))
        found.append(batch)
    return found


async def test_a_burst_raises_one_spike_alert_when_its_window_closes(
    ctx: Context, alert_schema: Any
) -> None:
    agent, template = await _agent(ctx)
    ctx = agent.ctx
    windows = _windows(template, {6: 14})
    for w, batch in enumerate(windows[:7]):
        await agent.run(batch, now=T0 + w * WINDOW + 45)
    assert agent.alerts() == [], "window 6 is open until its lateness is spent"
    await agent.run(windows[7][:10], now=T0 + 7 * WINDOW + LATE + 1)
    [alert] = agent.alerts()
    alert_schema.validate(alert)
    assert alert["kind"] == "spike"
    spike = alert["spike"]
    assert (spike["kind"], spike["name"], spike["observed"], spike["total"]) == (
        "topic",
        "air_defence",
        14,
        20,
    )
    assert spike["window"] == datetime.fromtimestamp(T0 + 6 * WINDOW, UTC).isoformat()
    assert spike["expected"] == pytest.approx(2.0, rel=0.2)
    assert alert["rule"]["watchlist"] == "spikes"
    assert alert["story_id"] == spike["stories"][0]["story_id"]
    routed = [json.loads(s.value)["alert_id"] for s in agent.sinks.route("alerts.spikes").sent]
    assert routed == [alert["alert_id"]]
    await agent.run([None], now=T0 + 9 * WINDOW)
    assert len(agent.alerts()) == 1, "each window is tested once"


async def test_a_quiet_stream_closes_its_last_window_on_a_tick(ctx: Context) -> None:
    agent, template = await _agent(ctx)
    ctx = agent.ctx
    for w, batch in enumerate(_windows(template, {7: 14})):
        await agent.run(batch, now=T0 + w * WINDOW + 45)
    assert agent.alerts() == []
    await agent.run([None], now=T0 + 8 * WINDOW + LATE - 5)
    assert agent.alerts() == [], "not before the lateness is spent"
    await agent.run([None], now=T0 + 8 * WINDOW + LATE + 2)  # nothing else came: a tick
    [alert] = agent.alerts()
    assert alert["spike"]["window"] == datetime.fromtimestamp(T0 + 7 * WINDOW, UTC).isoformat()


async def test_an_article_processed_again_is_counted_once(ctx: Context) -> None:
    agent, template = await _agent(ctx)
    ctx = agent.ctx
    windows = _windows(template, {6: 14})
    for w, batch in enumerate(windows[:7]):
        await agent.run(batch, now=T0 + w * WINDOW + 45)
        if w == 6:  # a crash before the commit: the batch comes again
            await agent.run(batch, now=T0 + w * WINDOW + 46)
    await agent.run([None], now=T0 + 7 * WINDOW + LATE + 2)
    [alert] = agent.alerts()
    assert (alert["spike"]["observed"], alert["spike"]["total"]) == (14, 20)


async def test_a_spike_interrupted_by_a_crash_is_completed_once(ctx: Context) -> None:
    agent, template = await _agent(ctx)
    ctx = agent.ctx
    for w, batch in enumerate(_windows(template, {7: 14})):
        await agent.run(batch, now=T0 + w * WINDOW + 45)
    crashing = CrashingSinks()
    crashing.alerts, crashing.routes = agent.sinks.alerts, agent.sinks.routes
    with pytest.raises(ConnectionError):
        await agent.run([None], now=T0 + 8 * WINDOW + LATE + 2, sinks=crashing)
    assert "pending" in agent.table, "the mark outlived the crash"
    # The restarted agent finds the mark in its table (its windows rebuilt from the rows).
    agent.spikes = SpikeState(agent.table, ctx.settings)
    await agent.run([None], now=T0 + 8 * WINDOW + LATE + 3)
    assert len(agent.alerts()) == 1
    assert len(agent.sinks.route("alerts.spikes").sent) == 1
    assert "pending" not in agent.table


async def test_members_are_stored_one_row_per_batch_and_dropped_when_their_window_closes(
    ctx: Context,
) -> None:
    agent, template = await _agent(ctx)
    ctx = agent.ctx
    windows = _windows(template, {})
    await agent.run(windows[0][:10], now=T0 + 30)
    await agent.run(windows[0][10:], now=T0 + 45)
    rows = {k: v for k, v in agent.table.items() if k.startswith("m|")}
    assert len(rows) == 2, "two batches, one window: two rows"
    assert sum(len(v) for v in rows.values()) == 20
    again = SpikeState(agent.table, ctx.settings)  # a restart: the window from the rows
    agent.spikes = again
    await agent.run(windows[0][10:], now=T0 + 46)  # the second batch processed again
    assert len([k for k in agent.table if k.startswith("m|")]) == 2, "nothing new to store"
    await agent.run(windows[1], now=T0 + WINDOW + LATE + 1)  # window 0 closes
    starts = {k.split("|")[1] for k in agent.table if k.startswith("m|")}
    assert starts == {f"{T0 + WINDOW:.0f}"}
    assert agent.table["state"]["closed_until"] == T0 + WINDOW


async def test_a_publication_time_that_does_not_parse_counts_at_ingest(ctx: Context) -> None:
    agent, template = await _agent(ctx)
    ctx = agent.ctx
    record = _article(template, 1, T0 + 5, None)
    record["article"]["published_at"] = "yesterday"
    await agent.run([record], now=T0 + 10)
    assert set(agent.spikes.windows().open) == {T0}
