"""Spike detection: which topics and entities are covered far more than usual.

Articles are counted per event-time window (``published_at``, else ingest time) in
*series*: one per topic tag and one per canonical entity (the ``max_entities`` most
frequent so far; a bounded table). For each series a baseline follows its *share* of all
articles in a window, not its count, so a change in how much the collection gathers is
not news: an exponentially weighted mean and variance of the share
(``half_life`` windows; Welford's update in EWMA form).

A closed window raises a spike for a series when all of these hold:

- the series has ``warmup`` windows of history;
- it counts at least ``min_count`` articles;
- the count is at least ``min_ratio`` times the expected count (window total times the
  baseline share);
- the count is unlikely under a Poisson law with that expectation: its upper tail is
  below ``alpha / m``, where ``m`` is the number of series tested in the window
  (Bonferroni: at most ``alpha`` false alarms per window in expectation when nothing
  happens);
- the share stands at least ``min_z`` baseline standard deviations (the EWMA variance
  plus the window's binomial sampling variance) above the baseline: news volume is
  overdispersed, and this keeps ordinary day-to-day swings quiet.

The window's share then updates the baseline, spike or not: a lasting change becomes
the new normal. A spike explains itself: window, observed and expected counts, shares,
p-value, z, and the stories (near-duplicate clusters) that drive it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from monitor.text.fingerprint import distance

SeriesKind = Literal["topic", "entity", "watchlist"]
Series = tuple[SeriesKind, str]
#: Two articles whose fingerprints differ by at most this many bits tell one story (the
#: same bound as once-per-story's near-duplicates).
STORY_DISTANCE = 8


@dataclass(frozen=True, slots=True)
class SpikeSettings:
    alpha: float = 0.01
    min_count: int = 5
    min_ratio: float = 2.0
    min_z: float = 3.0
    warmup: int = 7
    half_life: float = 7.0
    max_entities: int = 200

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be between 0 and 1")
        if self.min_count < 1 or self.warmup < 1 or self.max_entities < 1:
            raise ValueError("min_count, warmup and max_entities must be at least 1")
        if self.half_life <= 0 or self.min_ratio < 1 or self.min_z < 0:
            raise ValueError("half_life must be positive, min_ratio at least 1, min_z >= 0")


@dataclass(frozen=True, slots=True)
class Member:
    """One article of a window: what it counts in (topics, entities, the watchlists whose
    rules matched it), its story fingerprint and, in the stream, its story id."""

    id: str
    title: str
    topics: tuple[str, ...]
    entities: tuple[str, ...]
    fingerprint: int
    watchlists: tuple[str, ...] = ()
    story_id: str | None = None

    def series(self) -> set[Series]:
        found: set[Series] = {("topic", t) for t in self.topics}
        found.update(("entity", e) for e in self.entities)
        found.update(("watchlist", w) for w in self.watchlists)
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "topics": list(self.topics),
            "entities": list(self.entities),
            "fingerprint": f"{self.fingerprint:016x}",
            "watchlists": list(self.watchlists),
            "story_id": self.story_id,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Member:
        return cls(
            str(value["id"]),
            str(value["title"]),
            tuple(value["topics"]),
            tuple(value["entities"]),
            int(value["fingerprint"], 16),
            tuple(value.get("watchlists", ())),
            value.get("story_id"),
        )


@dataclass(frozen=True, slots=True)
class Story:
    """A story within a spike (a near-duplicate cluster): its first title and size, and
    its story id where the stream gave one."""

    title: str
    articles: int
    ids: tuple[str, ...]
    story_id: str | None = None


@dataclass(frozen=True, slots=True)
class Spike:
    window: str
    series: Series
    observed: int
    total: int
    expected: float
    share: float
    baseline_share: float
    p_value: float
    z: float
    tested: int
    stories: tuple[Story, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "window": self.window,
            "kind": self.series[0],
            "name": self.series[1],
            "observed": self.observed,
            "total": self.total,
            "expected": round(self.expected, 3),
            "share": round(self.share, 5),
            "baseline_share": round(self.baseline_share, 5),
            "p_value": self.p_value,
            "z": round(self.z, 2) if math.isfinite(self.z) else None,  # None: no spread
            "series_tested": self.tested,
            "stories": [
                {
                    "title": s.title,
                    "articles": s.articles,
                    "ids": list(s.ids),
                    "story_id": s.story_id,
                }
                for s in self.stories
            ],
        }


@dataclass(slots=True)
class _Baseline:
    mean: float = 0.0
    var: float = 0.0
    windows: int = 0

    def update(self, share: float, weight: float) -> None:
        if self.windows == 0:
            self.mean = share
        else:
            diff = share - self.mean
            step = weight * diff
            self.mean += step
            self.var = (1 - weight) * (self.var + diff * step)
        self.windows += 1


@dataclass
class SpikeDetector:
    """Closes windows one at a time (in event-time order) and says which series spiked."""

    settings: SpikeSettings = field(default_factory=SpikeSettings)
    _baselines: dict[Series, _Baseline] = field(default_factory=dict)
    _entity_counts: dict[str, int] = field(default_factory=dict)
    #: Series with a full history in the last window closed (the Bonferroni ``m``).
    last_tested: int = 0

    @property
    def _weight(self) -> float:
        return 1.0 - math.pow(0.5, 1.0 / self.settings.half_life)

    def close(self, window: str, members: Sequence[Member]) -> list[Spike]:
        """The spikes of one closed window of ``members``; updates every baseline."""
        total = len(members)
        if total == 0:
            return []  # an empty window (a gap in the collection) says nothing
        counts: dict[Series, list[Member]] = {}
        for member in members:
            for series in member.series():
                counts.setdefault(series, []).append(member)
        self._admit_entities(counts)
        followed = self._entities()
        counts = {s: m for s, m in counts.items() if s[0] != "entity" or s[1] in followed}
        ready = {s for s, b in self._baselines.items() if b.windows >= self.settings.warmup}
        tested = max(1, len(ready))
        self.last_tested = len(ready)
        spikes = []
        for series in sorted(ready & counts.keys()):
            spike = self._test(window, series, counts[series], total, tested)
            if spike is not None:
                spikes.append(spike)
        for series in set(self._baselines) | counts.keys():
            share = len(counts.get(series, ())) / total
            self._baselines.setdefault(series, _Baseline()).update(share, self._weight)
        self._forget_entities()
        return spikes

    def _test(
        self, window: str, series: Series, members: list[Member], total: int, tested: int
    ) -> Spike | None:
        settings, baseline = self.settings, self._baselines[series]
        observed = len(members)
        # A series never seen in a window still has a small expected share: half an
        # article over the history, so a first burst is not infinitely surprising.
        floor = 0.5 / (total * max(1, baseline.windows))
        expected_share = max(baseline.mean, floor)
        expected = total * expected_share
        share = observed / total
        spread = math.sqrt(baseline.var + expected_share * (1 - expected_share) / total)
        z = (share - expected_share) / spread if spread > 0 else math.inf
        if observed < settings.min_count or observed < settings.min_ratio * expected:
            return None
        if z < settings.min_z:
            return None
        p_value = poisson_upper_tail(observed, expected)
        if p_value >= settings.alpha / tested:
            return None
        return Spike(
            window,
            series,
            observed,
            total,
            expected,
            share,
            baseline.mean,
            p_value,
            z,
            tested,
            stories(members),
        )

    def to_state(self) -> dict[str, Any]:
        """The baselines and entity counts, JSON-safe (a table row)."""
        return {
            "baselines": [
                [kind, name, b.mean, b.var, b.windows]
                for (kind, name), b in sorted(self._baselines.items())
            ],
            "entities": dict(self._entity_counts),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self._baselines = {
            (kind, str(name)): _Baseline(float(mean), float(var), int(windows))
            for kind, name, mean, var, windows in state["baselines"]
        }
        self._entity_counts = {str(k): int(v) for k, v in state["entities"].items()}

    def _admit_entities(self, counts: Mapping[Series, list[Member]]) -> None:
        for (kind, name), members in counts.items():
            if kind == "entity":
                self._entity_counts[name] = self._entity_counts.get(name, 0) + len(members)

    def _entities(self) -> set[str]:
        ranked = sorted(self._entity_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return {name for name, _ in ranked[: self.settings.max_entities]}

    def _forget_entities(self) -> None:
        """Keep the tables bounded: entities outside the top 2K lose their counts and
        baselines (they start again if they come back)."""
        limit = 2 * self.settings.max_entities
        if len(self._entity_counts) <= limit:
            return
        ranked = sorted(self._entity_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        self._entity_counts = dict(ranked[:limit])
        kept = set(self._entity_counts)
        self._baselines = {
            s: b for s, b in self._baselines.items() if s[0] != "entity" or s[1] in kept
        }


def stories(members: Iterable[Member], top: int = 3) -> tuple[Story, ...]:
    """The largest stories among ``members``: by story id where members carry one (the
    stream's stories), else near-duplicate clusters (greedy, in arrival order)."""
    clusters: list[tuple[int | str, list[Member]]] = []
    for member in members:
        for key, cluster in clusters:
            if (
                member.story_id == key
                if member.story_id is not None
                else isinstance(key, int) and distance(key, member.fingerprint) <= STORY_DISTANCE
            ):
                cluster.append(member)
                break
        else:
            clusters.append((member.story_id or member.fingerprint, [member]))
    clusters.sort(key=lambda fc: -len(fc[1]))
    return tuple(
        Story(
            cluster[0].title,
            len(cluster),
            tuple(m.id for m in cluster[:20]),
            cluster[0].story_id,
        )
        for _, cluster in clusters[:top]
    )


def poisson_upper_tail(k: int, mu: float) -> float:
    """P(X >= k) for X ~ Poisson(mu), accurate in the far tail."""
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    if k <= mu:  # not in the upper tail: one minus the (small-sum) lower part
        lower, term = 0.0, math.exp(-mu)
        for i in range(k):
            lower += term
            term *= mu / (i + 1)
        return max(0.0, 1.0 - lower)
    log_term = -mu + k * math.log(mu) - math.lgamma(k + 1)
    total, term, i = 0.0, 1.0, k
    while term > 1e-17 * total or total == 0.0:
        total += term
        i += 1
        term *= mu / i
    return min(1.0, math.exp(log_term) * total)


def backtest(
    dated: Iterable[tuple[datetime, Member]],
    window: timedelta,
    settings: SpikeSettings | None = None,
) -> list[Spike]:
    """Every spike of a dated collection, window by window in event-time order (an article
    listed late still counts in the window of its own time)."""
    if window <= timedelta(0):
        raise ValueError("window must be positive")
    step = window.total_seconds()
    windows: dict[int, list[Member]] = {}
    for moment, member in dated:
        stamp = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        windows.setdefault(math.floor(stamp.timestamp() / step), []).append(member)
    detector = SpikeDetector(settings or SpikeSettings())
    found: list[Spike] = []
    for index in sorted(windows):
        start = datetime.fromtimestamp(index * step, UTC)
        label = start.date().isoformat() if step % 86_400 == 0 else start.isoformat()
        found.extend(detector.close(label, windows[index]))
    return found


@dataclass(frozen=True, slots=True)
class Closed:
    """A window the stream closed: its start, label, article count and spikes."""

    start: float
    label: str
    ids: tuple[str, ...]
    spikes: list[Spike]

    @property
    def articles(self) -> int:
        return len(self.ids)


class SpikeWindows:
    """The stream's windows: articles counted by event time, windows closed by a watermark.

    An article's event time is its ``published_at``, else its ingest time, and never later
    than its ingest time (a clock ahead of ours must not close windows early). The
    stream's event clock runs with the wall clock, as far ahead as its freshest article
    was (``lead``: the largest event time minus ingest time seen); the watermark is that
    clock less the allowed ``lateness``, and a window closes once the watermark
    passes its end, so it closes on time when the stream (or any part of it) goes quiet,
    and a dated corpus replayed faster than real time closes windows as its own clock
    runs. An article whose window has closed is late: counted, not added. Windows without
    articles (a gap in the collection) close without a test, as offline.

    The state is JSON rows: :meth:`to_state` (clock, closed boundary, detector) and one
    row per member (:meth:`add` says whether an article is new to its window).
    """

    def __init__(self, window: float, lateness: float, settings: SpikeSettings) -> None:
        if window <= 0 or lateness < 0:
            raise ValueError("window must be positive and lateness not negative")
        self.window, self.lateness = window, lateness
        self.detector = SpikeDetector(settings)
        self.open: dict[float, dict[str, Member]] = {}
        self.closed_until: float | None = None  # every window starting before it is closed
        self.lead: float | None = None  # the largest event time less ingest time seen

    def start_of(self, moment: float) -> float:
        return math.floor(moment / self.window) * self.window

    def window_of(self, published: float | None, ingested: float) -> float:
        """The start of an article's window (by its event time)."""
        return self.start_of(ingested if published is None else min(published, ingested))

    def add(self, member: Member, published: float | None, ingested: float) -> bool | None:
        """Count an article: True if new to its window, False if already there (processed
        again), None if its window has closed (late)."""
        event = ingested if published is None else min(published, ingested)
        start = self.start_of(event)
        if self.closed_until is not None and start < self.closed_until:
            return None
        if self.lead is None or event - ingested > self.lead:
            self.lead = event - ingested
        members = self.open.setdefault(start, {})
        if member.id in members:
            return False
        members[member.id] = member
        return True

    def watermark(self, now: float) -> float | None:
        if self.lead is None:
            return None
        return now + self.lead - self.lateness

    def close_due(self, now: float) -> list[Closed]:
        """Close every window whose end the watermark has passed, oldest first."""
        mark = self.watermark(now)
        if mark is None:
            return []
        closed = []
        for start in sorted(s for s in self.open if s + self.window <= mark):
            members = list(self.open.pop(start).values())
            label = _label(start, self.window)
            spikes = self.detector.close(label, members)
            closed.append(Closed(start, label, tuple(m.id for m in members), spikes))
        # Every window starting before the watermark's own has passed, with articles or not.
        passed = self.start_of(mark)
        if self.closed_until is None or passed > self.closed_until:
            self.closed_until = passed
        return closed

    def to_state(self) -> dict[str, Any]:
        return {
            "closed_until": self.closed_until,
            "lead": self.lead,
            "detector": self.detector.to_state(),
        }

    def restore(self, state: Mapping[str, Any], members: Iterable[tuple[float, Member]]) -> None:
        """Back to a saved state, with the members of the windows still open."""
        self.closed_until = state["closed_until"]
        self.lead = state["lead"]
        self.detector.restore(state["detector"])
        self.open = {}
        for start, member in members:
            if self.closed_until is None or start >= self.closed_until:
                self.open.setdefault(start, {})[member.id] = member


def _label(start: float, window: float) -> str:
    moment = datetime.fromtimestamp(start, UTC)
    return moment.date().isoformat() if window % 86_400 == 0 else moment.isoformat()
