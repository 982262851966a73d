"""Stories as records: every tagged article joins one story, and a story says how it grows.

A story is founded by an article no live story claims; its id is that article's
fingerprint (:func:`monitor.text.fingerprint.story_id_of`), so replaying the same
articles in the same order gives the same stories. An article joins a live story when its
fingerprint is within ``MAX_DISTANCE`` bits of the founder's, or within that bound of a
later member's *and* it names one of the story's entities: wire copies join directly, and a
story can grow through rewrites that keep its subject without drifting to another. A
story is live for ``window`` seconds after it was founded (the once-per-story window); a
near-duplicate after that founds a new story.

Times are the article messages' ingest times (the stream's order), so the same input
always gives the same stories. A :class:`StoryBook` holds the live stories and a band
index over their fingerprints; its state is a JSON mapping per story (a table row), from
which :meth:`StoryBook.restore` rebuilds it after a restart.

:func:`met` says which of a rule's :class:`~monitor.rules.ruleset.StoryThreshold` a story
has reached: the basis of ``story_update`` alerts.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.alerting.records import described
from monitor.rules.ruleset import StoryThreshold
from monitor.tagging.tagged_article import TaggedArticle
from monitor.text.fingerprint import MAX_DISTANCE, bands, distance, story_id_of

#: Member ids a story keeps (to recognise an article processed again); counts go on.
MAX_MEMBERS = 500
#: Distinct fingerprints a story indexes (wire copies share one).
MAX_FINGERPRINTS = 64
#: Entities and topics a story record lists, most frequent first.
TOP = 10


@dataclass(frozen=True, slots=True)
class Arrival:
    """What a story needs of an article: id, source, ingest time, fingerprint, labels."""

    id: str
    title: str
    source: str
    at: float
    fingerprint: int
    topics: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()


def arrival_record(
    tagged: TaggedArticle, ingested_at: float, candidates: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The ``news.story-input`` record of a tagged article: what its story needs, and the
    candidates of its rule matches (to be forwarded with the story's id)."""
    return {
        **described(tagged),
        "at": ingested_at,
        "fingerprint": f"{tagged.fingerprint:016x}",
        "candidates": list(candidates),
    }


def arrival_of(record: dict[str, Any]) -> Arrival:
    """The :class:`Arrival` of a ``news.story-input`` record (KeyError/ValueError if bad)."""
    article = record["article"]
    return Arrival(
        id=str(article["id"]),
        title=str(article["title"]),
        source=str(article.get("source") or ""),
        at=float(record["at"]),
        fingerprint=int(record["fingerprint"], 16),
        topics=tuple(str(t["name"]) for t in record["topics"]),
        entities=tuple(sorted({str(e["canonical"]) for e in record["entities"]})),
    )


@dataclass(slots=True)
class Story:
    """One story: its founder's id and title, its members and what they are about."""

    story_id: str
    title: str
    founder: int
    first_seen: float
    last_seen: float
    articles: int = 0
    members: list[tuple[str, str, float]] = field(default_factory=list)  # id, source, at
    sources: list[str] = field(default_factory=list)
    fingerprints: list[int] = field(default_factory=list)
    topics: Counter[str] = field(default_factory=Counter)
    entities: Counter[str] = field(default_factory=Counter)
    rules: list[str] = field(default_factory=list)  # rule keys that matched a member
    #: Per rule key, the thresholds already forwarded to the notifier (sent once each).
    forwarded: dict[str, list[str]] = field(default_factory=dict)

    def holds(self, article_id: str) -> bool:
        return any(member[0] == article_id for member in self.members)

    def add(self, arrival: Arrival) -> None:
        self.articles += 1
        self.last_seen = max(self.last_seen, arrival.at)
        self.members.append((arrival.id, arrival.source, arrival.at))
        del self.members[:-MAX_MEMBERS]
        if arrival.source and arrival.source not in self.sources:
            self.sources.append(arrival.source)
        if arrival.fingerprint not in self.fingerprints and (
            len(self.fingerprints) < MAX_FINGERPRINTS
        ):
            self.fingerprints.append(arrival.fingerprint)
        self.topics.update(arrival.topics)
        self.entities.update(set(arrival.entities))

    def matched(self, rule_keys: Iterable[str]) -> None:
        self.rules.extend(k for k in rule_keys if k not in self.rules)

    def unforwarded(self, rule_key: str, reached: Iterable[str]) -> list[str]:
        """The thresholds of ``reached`` not forwarded for the rule yet; now they are."""
        done = self.forwarded.setdefault(rule_key, [])
        new = [name for name in reached if name not in done]
        done.extend(new)
        return new

    def articles_since(self, since: float) -> int:
        """Members that arrived at or after ``since`` (among those kept)."""
        return sum(1 for _, _, at in self.members if at >= since)

    def to_state(self) -> dict[str, Any]:
        """The table row: everything needed to rebuild the story."""
        return {
            "story_id": self.story_id,
            "title": self.title,
            "founder": f"{self.founder:016x}",
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "articles": self.articles,
            "members": [list(m) for m in self.members],
            "sources": list(self.sources),
            "fingerprints": [f"{f:016x}" for f in self.fingerprints],
            "topics": dict(self.topics),
            "entities": dict(self.entities),
            "rules": list(self.rules),
            "forwarded": {k: list(v) for k, v in self.forwarded.items()},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Story:
        return cls(
            story_id=str(state["story_id"]),
            title=str(state["title"]),
            founder=int(state["founder"], 16),
            first_seen=float(state["first_seen"]),
            last_seen=float(state["last_seen"]),
            articles=int(state["articles"]),
            members=[(str(i), str(s), float(a)) for i, s, a in state["members"]],
            sources=[str(s) for s in state["sources"]],
            fingerprints=[int(f, 16) for f in state["fingerprints"]],
            topics=Counter({str(k): int(v) for k, v in state["topics"].items()}),
            entities=Counter({str(k): int(v) for k, v in state["entities"].items()}),
            rules=[str(r) for r in state["rules"]],
            forwarded={str(k): [str(n) for n in v] for k, v in state["forwarded"].items()},
        )

    def to_json(self) -> dict[str, Any]:
        """The ``news.stories`` record (docs/records.md): the summary, with the sources
        named, the top topics and entities, and the member ids."""
        return {
            **self.summary(),
            "sources": list(self.sources),
            "topics": [{"name": n, "articles": c} for n, c in _top(self.topics)],
            "entities": [{"canonical": n, "articles": c} for n, c in _top(self.entities)],
            "member_ids": [m[0] for m in self.members],
        }

    def summary(self) -> dict[str, Any]:
        """What a candidate or an alert says of its story."""
        return {
            "story_id": self.story_id,
            "title": self.title,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "articles": self.articles,
            "sources": len(self.sources),
        }


def _top(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]


@dataclass(frozen=True, slots=True)
class Joined:
    """Where an article went: its story, whether it founded it, whether it was new to it."""

    story: Story
    founded: bool
    new: bool


class StoryBook:
    """The live stories, found by fingerprint band, oldest first for expiry."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.stories: dict[str, Story] = {}
        self._bands: dict[str, list[tuple[int, str]]] = {}
        self._by_age: list[tuple[float, str]] = []

    @classmethod
    def restore(cls, window: float, states: Iterable[dict[str, Any]]) -> StoryBook:
        book = cls(window)
        for state in states:
            book._index(Story.from_state(state))
        return book

    def __len__(self) -> int:
        return len(self.stories)

    def __iter__(self) -> Iterator[Story]:
        return iter(self.stories.values())

    def join(self, arrival: Arrival) -> Joined:
        """Put an article in its story (founding one if none claims it)."""
        for story in self._candidates(arrival.fingerprint):
            if story.holds(arrival.id):
                return Joined(story, founded=False, new=False)
        claimed = self._claim(arrival)
        if claimed is None:
            founded = Story(
                story_id_of(arrival.fingerprint),
                arrival.title,
                arrival.fingerprint,
                arrival.at,
                arrival.at,
            )
            if founded.story_id in self.stories:  # the same fingerprint, its story expired
                self._drop(founded.story_id)
            founded.add(arrival)
            self._index(founded)
            return Joined(founded, founded=True, new=True)
        claimed.add(arrival)
        if arrival.fingerprint in claimed.fingerprints:
            entry = (arrival.fingerprint, claimed.story_id)
            for band in bands(arrival.fingerprint):
                if entry not in self._bands.get(band, ()):
                    self._bands.setdefault(band, []).append(entry)
        return Joined(claimed, founded=False, new=True)

    def expire(self, now: float) -> list[Story]:
        """Drop the stories founded more than the window before ``now``; return them."""
        cut = bisect.bisect_left(self._by_age, (now - self.window, ""))
        aged, self._by_age = self._by_age[:cut], self._by_age[cut:]
        gone = [
            self.stories[sid]
            for first_seen, sid in aged
            if sid in self.stories and self.stories[sid].first_seen == first_seen
        ]
        for story in gone:
            self._drop(story.story_id, aged=True)
        return gone

    def _candidates(self, fingerprint: int) -> list[Story]:
        found: dict[str, Story] = {}
        for band in bands(fingerprint):
            for member, story_id in self._bands.get(band, ()):
                if story_id not in found and distance(member, fingerprint) <= MAX_DISTANCE:
                    found[story_id] = self.stories[story_id]
        return list(found.values())

    def _claim(self, arrival: Arrival) -> Story | None:
        """The live story the article belongs to: the nearest founder, else a member's
        story that shares an entity; the older story on a tie."""
        founders, members = [], []
        for story in self._candidates(arrival.fingerprint):
            if arrival.at - story.first_seen > self.window:
                continue
            if distance(story.founder, arrival.fingerprint) <= MAX_DISTANCE:
                founders.append(story)
            elif not story.entities or story.entities.keys() & set(arrival.entities):
                members.append(story)
        for group in (founders, members):
            if group:
                return min(
                    group,
                    key=lambda s: (distance(s.founder, arrival.fingerprint), s.first_seen),
                )
        return None

    def _index(self, story: Story) -> None:
        self.stories[story.story_id] = story
        for fingerprint in story.fingerprints:
            for band in bands(fingerprint):
                self._bands.setdefault(band, []).append((fingerprint, story.story_id))
        bisect.insort(self._by_age, (story.first_seen, story.story_id))

    def _drop(self, story_id: str, aged: bool = False) -> None:
        story = self.stories.pop(story_id)
        for fingerprint in story.fingerprints:
            for band in bands(fingerprint):
                entries = [e for e in self._bands.get(band, ()) if e[1] != story_id]
                if entries:
                    self._bands[band] = entries
                else:
                    self._bands.pop(band, None)
        if not aged:
            self._by_age = [e for e in self._by_age if e[1] != story_id]


def met(story: Story, thresholds: Sequence[StoryThreshold]) -> list[str]:
    """The names of the thresholds the story has reached, as of its last article."""
    reached = []
    for threshold in thresholds:
        if threshold.kind == "sources":
            value = len(story.sources)
        elif threshold.within is None:
            value = story.articles
        else:
            value = story.articles_since(story.last_seen - threshold.within)
        if value >= threshold.count:
            reached.append(threshold.name)
    return reached
