"""Once per rule per story: the decision behind every raised or suppressed alert.

State for one rule is a set of recently alerted stories, indexed by fingerprint band
(see :mod:`monitor.text.fingerprint`), plus the times of its recent alerts. A candidate whose
fingerprint is within ``MAX_DISTANCE`` bits of a story seen in the window is a
``duplicate_story``; a new story past the rule's throttle is ``throttled``; otherwise
it alerts and founds a story whose id is its own fingerprint, so replaying the same
article always gives the same story and the same alert id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from monitor.text.fingerprint import MAX_DISTANCE, bands, distance, story_id_of

ALERT, DUPLICATE, THROTTLED, SILENCED = "alert", "duplicate_story", "throttled", "silenced"


@dataclass(frozen=True, slots=True)
class Seen:
    """A story a rule alerted on (or suppressed first), and when."""

    fingerprint: int
    story_id: str
    seen_at: float

    def to_json(self) -> list[object]:
        return [f"{self.fingerprint:016x}", self.story_id, self.seen_at]

    @classmethod
    def from_json(cls, value: Sequence[object]) -> Seen:
        return cls(int(str(value[0]), 16), str(value[1]), float(str(value[2])))


@dataclass(frozen=True, slots=True)
class Throttle:
    """At most ``max_alerts`` alerts per ``per_seconds`` for one rule."""

    max_alerts: int
    per_seconds: float


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a candidate, and the rule's state afterwards (only keys that change)."""

    outcome: str
    story_id: str
    bands: Mapping[str, tuple[Seen, ...]]
    alert_times: tuple[float, ...] | None = None


def decide(
    fingerprint: int,
    now: float,
    state: Mapping[str, Sequence[Seen]],
    recent_alerts: Sequence[float],
    *,
    window: float,
    throttle: Throttle | None = None,
) -> Decision:
    """Decide for one candidate of one rule; ``state`` maps this fingerprint's bands to entries."""
    live = {
        key: tuple(s for s in state.get(key, ()) if now - s.seen_at <= window)
        for key in bands(fingerprint)
    }
    for entries in live.values():
        for seen in entries:
            if distance(seen.fingerprint, fingerprint) <= MAX_DISTANCE:
                return Decision(DUPLICATE, seen.story_id, {})
    story = story_id_of(fingerprint)
    recorded = {key: (*entries, Seen(fingerprint, story, now)) for key, entries in live.items()}
    if throttle is not None:
        recent = tuple(t for t in recent_alerts if now - t < throttle.per_seconds)
        if len(recent) >= throttle.max_alerts:
            return Decision(THROTTLED, story, recorded, recent)
        return Decision(ALERT, story, recorded, (*recent, now))
    return Decision(ALERT, story, recorded)


def expired(entries: Sequence[Seen], now: float, window: float) -> bool:
    """True when every entry is older than the window (the key can be deleted)."""
    return all(now - s.seen_at > window for s in entries)
