"""Silences: time-bounded suppression of alerts by rule, watchlist or entity.

A silence names one or more matchers (rule id, watchlist, canonical entity); it covers a
candidate alert when every matcher it names matches, between ``starts_at`` and
``ends_at``. A covered candidate is suppressed with the reason ``silenced``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    starts_at: float
    ends_at: float
    rule: str | None = None
    watchlist: str | None = None
    entity: str | None = None
    comment: str = ""
    created_by: str = ""

    def active(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def covers(self, rule_id: str, watchlist: str, entities: Iterable[str]) -> bool:
        """True when every matcher this silence names matches the candidate."""
        wanted = (self.entity or "").casefold()
        return (
            (self.rule is None or self.rule == rule_id)
            and (self.watchlist is None or self.watchlist == watchlist)
            and (self.entity is None or any(e.casefold() == wanted for e in entities))
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def new_silence(
    *,
    starts_at: float,
    seconds: float,
    rule: str | None = None,
    watchlist: str | None = None,
    entity: str | None = None,
    comment: str = "",
    created_by: str = "",
) -> Silence:
    """A silence from now for ``seconds``; at least one matcher is required."""
    if rule is None and watchlist is None and entity is None:
        raise ValueError("a silence needs --rule, --watchlist or --entity")
    key = json.dumps([rule, watchlist, entity, starts_at]).encode()
    return Silence(
        hashlib.sha256(key).hexdigest()[:12],
        starts_at,
        starts_at + seconds,
        rule,
        watchlist,
        entity,
        comment,
        created_by,
    )


def silence_from_json(record: dict[str, Any]) -> Silence:
    return Silence(**record)


def silencing(
    silences: Iterable[Silence], rule_id: str, watchlist: str, entities: Iterable[str], now: float
) -> Silence | None:
    """The first active silence that covers a candidate, if any."""
    names = list(entities)
    return next(
        (s for s in silences if s.active(now) and s.covers(rule_id, watchlist, names)), None
    )
