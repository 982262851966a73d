"""Topic verdicts as readings of the labelled data."""

from __future__ import annotations

from typing import Any

from monitor.alerting.feedback import topic_readings


def _alert(n: int, topics: list[str]) -> dict[str, Any]:
    return {
        "alert_id": f"{n:024x}",
        "article": {"id": f"art{n}"},
        "topics": [{"name": t, "score": 1.0, "confidence": None} for t in topics],
    }


def _verdict(n: int, verdict: str, topic: str | None, at: str) -> dict[str, Any]:
    return {
        "alert_id": f"{n:024x}",
        "user": "ann",
        "verdict": verdict,
        "topic": topic,
        "note": "",
        "at": at,
    }


def test_topic_verdicts_change_the_topics_the_alert_showed() -> None:
    alerts = {a["alert_id"]: a for a in (_alert(1, ["coalition", "air_defence"]), _alert(2, []))}
    readings, orphans = topic_readings(
        [
            _verdict(1, "wrong_topic", "air_defence", "2026-12-07T10:00:00+00:00"),
            _verdict(2, "missed_topic", "ceasefire", "2026-12-07T09:00:00+00:00"),
            _verdict(1, "relevant", None, "2026-12-07T11:00:00+00:00"),
            _verdict(9, "wrong_topic", "coalition", "2026-12-07T12:00:00+00:00"),
        ],
        alerts,
    )
    assert [(r["id"], r["labels"], r["note"]) for r in readings] == [
        ("art2", ["ceasefire"], "missed topic: ceasefire"),
        ("art1", ["coalition"], "wrong topic: air_defence"),
    ]
    assert {r["reader"] for r in readings} == {"desk:ann"}
    assert orphans == 1
