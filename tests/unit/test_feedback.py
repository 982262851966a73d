"""A rule's precision from the analysts' verdicts."""

from __future__ import annotations

from typing import Any

from monitor.alerting.feedback import judgements


def _verdict(rule: str, verdict: str, watchlist: str = "w") -> dict[str, Any]:
    return {"rule": {"id": rule, "watchlist": watchlist, "version": "a" * 12}, "verdict": verdict}


def test_precision_counts_relevance_verdicts_only() -> None:
    found = judgements(
        [
            _verdict("r1", "relevant"),
            _verdict("r1", "relevant"),
            _verdict("r1", "not_relevant"),
            _verdict("r1", "wrong_topic"),
            _verdict("r2", "missed_topic"),
            _verdict("r1", "not_relevant", watchlist="other"),
        ]
    )
    assert [(j.watchlist, j.rule, j.relevant, j.not_relevant) for j in found] == [
        ("other", "r1", 0, 1),
        ("w", "r1", 2, 1),
    ]
    assert [round(j.precision, 3) for j in found] == [0.0, 0.667]
