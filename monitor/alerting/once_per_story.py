"""Once per rule per story: the decision behind every raised or suppressed alert.

State for one rule is the stories it alerted on (or suppressed first) within the window,
held in a :class:`StoryIndex` that finds a fingerprint's near-duplicates by band (see
:mod:`monitor.text.fingerprint`), plus the times of its recent alerts. A candidate of a
story the rule has seen within the window is a ``duplicate_story``; a new story past the
rule's throttle is ``throttled``; otherwise it alerts. The story is the one the story agent
put the article in (``story_id``, :mod:`monitor.alerting.stories`); a candidate without one
(written before stories were records) is a duplicate when its fingerprint is within
``MAX_DISTANCE`` bits of a live story, and founds a story whose id is its own fingerprint.
Either way replaying the same articles gives the same story and the same alert id.

:func:`decide` reads the state and changes nothing: the caller records the new story it
returns (:meth:`StoryIndex.add`) and stores it where the state lives.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from monitor.text.fingerprint import MAX_DISTANCE, bands, distance, story_id_of

ALERT, DUPLICATE, THROTTLED, SILENCED = "alert", "duplicate_story", "throttled", "silenced"


@dataclass(frozen=True, slots=True)
class Seen:
    """A story a rule alerted on (or suppressed first), and when."""

    fingerprint: int
    story_id: str
    seen_at: float


@dataclass(frozen=True, slots=True)
class Throttle:
    """At most ``max_alerts`` alerts per ``per_seconds`` for one rule."""

    max_alerts: int
    per_seconds: float


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a candidate: the outcome, the story it belongs to, the story to
    record (None for a duplicate) and, under a throttle, the rule's recent alert times."""

    outcome: str
    story_id: str
    story: Seen | None = None
    alert_times: tuple[float, ...] | None = None


class StoryIndex:
    """One rule's stories, found by fingerprint band, oldest first for expiry."""

    __slots__ = ("_bands", "_by_age")

    def __init__(self, stories: Iterable[Seen] = ()) -> None:
        self._bands: dict[str, list[Seen]] = {}
        self._by_age: list[Seen] = []
        for seen in stories:
            self.add(seen)

    def add(self, seen: Seen) -> None:
        for band in bands(seen.fingerprint):
            self._bands.setdefault(band, []).append(seen)
        bisect.insort(self._by_age, seen, key=lambda s: s.seen_at)

    def get(self, story_id: str, now: float, window: float) -> Seen | None:
        """The story of this id, if it is held and within the window."""
        for seen in self._bands.get(bands(int(story_id, 16))[0], ()):
            if seen.story_id == story_id and now - seen.seen_at <= window:
                return seen
        return None

    def near(self, fingerprint: int, now: float, window: float) -> Seen | None:
        """A story within the window whose fingerprint is near ``fingerprint``, if any."""
        for band in bands(fingerprint):
            for seen in self._bands.get(band, ()):
                if now - seen.seen_at <= window and (
                    distance(seen.fingerprint, fingerprint) <= MAX_DISTANCE
                ):
                    return seen
        return None

    def expire(self, now: float, window: float) -> list[Seen]:
        """Drop the stories older than the window and return them (to delete where stored)."""
        cut = 0
        while cut < len(self._by_age) and now - self._by_age[cut].seen_at > window:
            cut += 1
        gone = self._by_age[:cut]
        del self._by_age[:cut]
        for seen in gone:
            for band in bands(seen.fingerprint):
                entries = self._bands[band]
                entries.remove(seen)
                if not entries:
                    del self._bands[band]
        return gone

    def __iter__(self) -> Iterator[Seen]:
        return iter(self._by_age)

    def __len__(self) -> int:
        return len(self._by_age)


def decide(
    fingerprint: int,
    now: float,
    stories: StoryIndex,
    recent_alerts: Sequence[float],
    *,
    window: float,
    throttle: Throttle | None = None,
    story_id: str | None = None,
) -> Decision:
    """Decide for one candidate of one rule, given the rule's stories and recent alerts.

    ``story_id``: the story the story agent put the article in; without it (a candidate
    from before stories were records) the story is found by fingerprint.
    """
    if story_id is None:
        seen = stories.near(fingerprint, now, window)
    else:
        seen = stories.get(story_id, now, window)
    if seen is not None:
        return Decision(DUPLICATE, seen.story_id)
    founder = fingerprint if story_id is None else int(story_id, 16)
    story = Seen(founder, story_id_of(founder), now)
    if throttle is not None:
        recent = tuple(t for t in recent_alerts if now - t < throttle.per_seconds)
        if len(recent) >= throttle.max_alerts:
            return Decision(THROTTLED, story.story_id, story, recent)
        return Decision(ALERT, story.story_id, story, (*recent, now))
    return Decision(ALERT, story.story_id, story)
