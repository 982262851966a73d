"""What topic tagging finds: topic tags with their evidence, and stage one's candidates.

The records shared by the taxonomy stage (:mod:`monitor.tagging.tagger`), the learned
second stage (:mod:`monitor.tagging.model`) and everything downstream that explains a
topic (rules, alerts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Evidence:
    """One match that counted towards a topic: the term and where it stands."""

    term: str
    field: str
    start: int
    end: int
    snippet: str
    #: Where ``start:end`` stands in ``snippet`` (None in records made before it was kept).
    mark: tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "term": self.term,
            "field": self.field,
            "start": self.start,
            "end": self.end,
            "snippet": self.snippet,
        }
        if self.mark is not None:
            found["mark"] = list(self.mark)
        return found

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Evidence:
        mark = record.get("mark")
        return cls(
            record["term"],
            record["field"],
            int(record["start"]),
            int(record["end"]),
            record["snippet"],
            None if mark is None else (int(mark[0]), int(mark[1])),
        )


@dataclass(frozen=True, slots=True)
class TopicTag:
    """A topic on an article: the taxonomy's ``score`` and ``evidence`` and, where a learned
    second stage decided it, ``confidence`` (a calibrated probability; None without one)."""

    name: str
    score: float
    evidence: tuple[Evidence, ...]
    confidence: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "score": self.score,
            "confidence": self.confidence,
            "evidence": [e.to_json() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class TopicCandidate:
    """Stage one's finding for one topic: any counted evidence, scored, thresholds aside.

    ``passed`` says whether the taxonomy alone would tag it (score and ``min_terms``)."""

    tag: TopicTag
    passed: bool
