"""Spike detection in the stream, inside the story agent: every article counted once, in
order, where its story is known.

The story agent (:mod:`agents.stories`) hands each article it has put in a story to
:meth:`SpikeState.count`, and after each batch calls :meth:`SpikeState.close`, which
closes the windows the watermark has passed (:class:`monitor.alerting.spikes.SpikeWindows`)
and raises their spikes as ``spike`` alerts on ``news.alerts`` and the route of the
watchlist they are filed under. Every worker sends a tick to ``news.story-input`` every few
seconds, so the agent runs, and windows close on time, when no article comes.

State lives in the changelog-backed table ``spikes`` (one partition, with the story
agent's input): per batch and open window, the articles the batch added
(``m|<window start>|<first offset>-<last offset>``: one changelog record per batch, not per
article; an article processed again is found in the window and not counted twice), the
windows' clock and the detector's baselines (``state``), and the spike alerts of a close
not yet acknowledged (``pending``). A close writes the new state and the pending alerts, flushes the
changelog, sends the alerts, then clears the mark; a mark found after a restart is
completed by reading the alert topics back for the alerts' ids (only the missing copies
are sent), as the notifier does.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from agents.internals import act_for
from agents.metrics import Metrics
from agents.settings import Settings
from monitor.alerting.records import spike_alert_record
from monitor.alerting.spikes import Member, SpikeSettings, SpikeWindows
from monitor.errors import InvalidArticle
from monitor.rules.files import RuleSet
from monitor.text.article import parse_timestamp

log = logging.getLogger(__name__)
STATE, PENDING, MEMBER = "state", "pending", "m"
SEVERITY = "medium"
#: A tick on news.story-input: no article, only a reason for the story agent to run.
TICK_KEY, TICK_VALUE = b"tick", b'{"tick":true}'


def detector_settings(settings: Settings) -> SpikeSettings:
    return SpikeSettings(
        alpha=settings.spike_alpha,
        min_count=settings.spike_min_count,
        warmup=settings.spike_warmup,
        max_entities=settings.spike_max_entities,
    )


class SpikeState:
    """The spike table and the windows built from it (rebuilt after :meth:`forget`)."""

    def __init__(self, table: Any, settings: Settings) -> None:
        self.table = table
        self.settings = settings
        self._windows: SpikeWindows | None = None
        self._rows: dict[float, set[str]] = {}  # the member rows of each open window
        self._added: dict[float, list[dict[str, Any]]] = {}  # this batch's new members
        self._finished = False  # pending alerts of an earlier run completed
        described = json.dumps(_describe(settings), sort_keys=True)
        self.detector_version = hashlib.sha256(described.encode()).hexdigest()[:12]

    def forget(self) -> None:
        self._windows = None
        self._rows, self._added = {}, {}
        self._finished = False

    async def on_recover(self) -> None:
        self.forget()

    def windows(self) -> SpikeWindows:
        if self._windows is None:
            settings = self.settings
            windows = SpikeWindows(
                settings.spike_window, settings.spike_lateness, detector_settings(settings)
            )
            members = []
            for key, value in list(self.table.items()):
                if key.startswith(f"{MEMBER}|") and value:
                    start = float(key.split("|")[1])
                    self._rows.setdefault(start, set()).add(key)
                    members += [(start, Member.from_json(m)) for m in value]
            if (state := self.table.get(STATE)) is not None:
                windows.restore(state, members)
            else:
                for start, member in members:
                    windows.open.setdefault(start, {})[member.id] = member
            self._windows = windows
        return self._windows

    def count(self, record: dict[str, Any], story_id: str, metrics: Metrics) -> None:
        """Count one article (a ``news.story-input`` record) in its window."""
        article = record["article"]
        watchlists = sorted({c["rule"]["watchlist"] for c in record["candidates"]})
        member = Member(
            str(article["id"]),
            str(article["title"]),
            tuple(str(t["name"]) for t in record["topics"]),
            tuple(sorted({str(e["canonical"]) for e in record["entities"]})),
            int(record["fingerprint"], 16),
            tuple(watchlists),
            story_id,
        )
        moment = _timestamp(article.get("published_at"))
        windows = self.windows()
        added = windows.add(member, moment, float(record["at"]))
        if added is None:
            metrics.spike_late.inc()
        elif added:
            start = windows.window_of(moment, float(record["at"]))
            self._added.setdefault(start, []).append(member.to_json())

    def _store_added(self, first: Any, last: Any) -> None:
        """One row per open window for the members this batch added (offsets name it)."""
        span = f"{first.message.offset}-{last.message.offset}"
        for start, members in self._added.items():
            key = f"{MEMBER}|{start:.0f}|{span}"
            self.table[key] = members
            self._rows.setdefault(start, set()).add(key)
        self._added = {}

    async def close(
        self, now: float, events: Any, ctx: Any, sinks: Any, routes: Callable[[str], str]
    ) -> None:
        """Store the batch's members; close the windows the watermark passed and raise
        their spikes, exactly once."""
        act_for(events[-1])
        self._store_added(events[0], events[-1])
        await self._finish_pending(sinks)
        windows = self.windows()
        closed = windows.close_due(now)
        self._drop_closed_rows(windows)
        if not closed:
            return
        metrics, settings = ctx.metrics, self.settings
        raised_at: datetime = ctx.clock()
        pending: dict[str, Any] = {}
        for window in closed:
            log.info(
                "spike window %s closed: %d articles, %d series tested, %d spikes",
                window.label,
                window.articles,
                windows.detector.last_tested,
                len(window.spikes),
            )
            metrics.spike_windows.inc()
            metrics.spike_series.set(windows.detector.last_tested)
            for spike in window.spikes:
                kind, name = spike.series
                watchlist = name if kind == "watchlist" else settings.spike_watchlist
                alert = spike_alert_record(
                    spike, watchlist, SEVERITY, raised_at, self.detector_version
                )
                pending[alert["alert_id"]] = {
                    "alert": alert,
                    "route": routes(watchlist),
                    "at": raised_at.timestamp(),
                }
        if pending:
            self.table[PENDING] = pending
        self.table[STATE] = windows.to_state()
        await sinks.flush()  # the new state and the marks are durable before any alert
        if pending:
            await sinks.send_many([(mark["alert"], mark["route"]) for mark in pending.values()])
            del self.table[PENDING]
            for mark in pending.values():
                spike = mark["alert"]["spike"]
                metrics.spikes.labels(kind=spike["kind"]).inc()
                log.info(
                    "spike: %s %s in %s (%d against %.1f expected)",
                    spike["kind"],
                    spike["name"],
                    spike["window"],
                    spike["observed"],
                    spike["expected"],
                )

    def _drop_closed_rows(self, windows: SpikeWindows) -> None:
        """Delete the member rows of every closed window (this close's, or one a crash
        left behind)."""
        bound = windows.closed_until
        for start in [s for s in self._rows if bound is not None and s < bound]:
            for key in self._rows.pop(start):
                if self.table.get(key) is not None:
                    del self.table[key]

    async def _finish_pending(self, sinks: Any) -> None:
        if self._finished:
            return
        marks = dict(self.table.get(PENDING) or {})
        if marks:
            since = min(mark["at"] for mark in marks.values())
            missing = await sinks.missing({a: m["route"] for a, m in marks.items()}, since)
            for alert_id, mark in marks.items():
                if missing[alert_id]:
                    await sinks.send_many([(mark["alert"], mark["route"])], only=missing[alert_id])
                log.warning("completed spike alert %s interrupted by a crash", alert_id)
            del self.table[PENDING]
        self._finished = True


def _timestamp(published: Any) -> float | None:
    """An article's publication time, or None (then its ingest time counts) when it has
    none or one that does not parse."""
    if not published:
        return None
    try:
        return parse_timestamp(str(published)).timestamp()
    except InvalidArticle:
        return None


def _describe(settings: Settings) -> dict[str, Any]:
    """What a spike alert's detector version covers."""
    return {
        "window": settings.spike_window,
        "lateness": settings.spike_lateness,
        "alpha": settings.spike_alpha,
        "min_count": settings.spike_min_count,
        "warmup": settings.spike_warmup,
        "max_entities": settings.spike_max_entities,
    }


def route_of(ruleset: RuleSet, settings: Settings) -> Callable[[str], str]:
    """The route topic of a watchlist's spike alerts: its rules' route, else alerts.<name>."""

    def route(watchlist: str) -> str:
        for rule in ruleset.rules:
            if rule.watchlist == watchlist:
                return rule.route
        return f"alerts.{watchlist}"

    return route
