"""The desk's view: alerts once each, newest first, bounded; filters and search;
feedback validation; the Atom feed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from monitor.alerting.desk import (
    DeskView,
    FeedbackError,
    Filters,
    atom_feed,
    feedback_record,
    triage_record,
)

ATOM = "{http://www.w3.org/2005/Atom}"


def _alert(n: int, **changes: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "alert_id": f"{n:024x}",
        "rule": {
            "id": f"r{n}",
            "version": "a" * 12,
            "name": "Air defence deliveries",
            "severity": "medium",
            "watchlist": "ukraine",
        },
        "article": {
            "id": f"art{n}",
            "title": f"Story number {n}",
            "url": f"https://example.org/{n}",
            "source": "Example Wire",
            "published_at": "2026-12-07T08:00:00+00:00",
        },
        "matches": [{"term": "x", "field": "body", "start": 0, "end": 1, "snippet": "Patriot x"}],
        "topics": [{"name": "air_defence", "score": 3.0, "confidence": 0.9}],
        "entities": [{"text": "Kyiv", "label": "GPE", "canonical": "Kyiv"}],
        "story_id": f"{n:016x}",
        "raised_at": f"2026-12-07T09:{n:02d}:00+00:00",
    }
    for key, value in changes.items():
        alert[key] = {**alert[key], **value} if isinstance(value, dict) else value
    return alert


def test_alerts_are_kept_once_newest_first_and_the_oldest_leave_first() -> None:
    view = DeskView(capacity=3)
    for n in (2, 1, 4, 3):
        assert view.add(_alert(n))
    assert not view.add(_alert(4))  # read again (both alert topics, a redelivery)
    assert [a["alert_id"] for a in view.select(Filters())] == [f"{n:024x}" for n in (4, 3, 2)]
    assert view.get(f"{1:024x}") is None


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"watchlist": "gaza"}, [2]),
        ({"severity": "high"}, [3]),
        ({"severity": "medium"}, [3, 1]),
        ({"topic": "ceasefire"}, [2]),
        ({"entity": "kyiv"}, [3, 1]),
        ({"source": "example wire"}, [3, 1]),
        ({"q": "patriot NUMBER 3"}, [3]),
        ({"since": "2026-12-07T09:02:00+00:00"}, [3, 2]),
        ({"until": "2026-12-07T09:02:00+00:00"}, [1]),
        ({"limit": "1"}, [3]),
    ],
)
def test_filters(filters: dict[str, str], expected: list[int]) -> None:
    view = DeskView()
    view.add(_alert(1))
    view.add(
        _alert(
            2,
            rule={"watchlist": "gaza", "severity": "low"},
            topics=[{"name": "ceasefire", "score": 1.0, "confidence": None}],
            entities=[],
            article={"source": "Other"},
        )
    )
    view.add(_alert(3, rule={"severity": "high"}))
    found = view.select(Filters.from_query(filters))
    assert [int(a["alert_id"], 16) for a in found] == expected


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ({"severity": "urgent"}, "severity must be one of"),
        ({"limit": "0"}, "limit must be between 1 and 1000"),
        ({"limit": "ten"}, "limit must be a whole number"),
        ({"since": "yesterday"}, "since must be an ISO 8601 time"),
        ({"colour": "red"}, "unknown parameter 'colour'"),
    ],
)
def test_bad_filters_name_the_parameter(query: dict[str, str], said: str) -> None:
    with pytest.raises(ValueError, match=said):
        Filters.from_query(query)


def test_feedback_is_validated_and_carries_what_training_needs() -> None:
    alert = _alert(5)
    at = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    record = feedback_record(alert, "local", {"verdict": "wrong_topic", "topic": "coalition"}, at)
    assert record["rule"] == {"id": "r5", "version": "a" * 12, "watchlist": "ukraine"}
    assert (record["article_id"], record["topic"], record["at"]) == (
        "art5",
        "coalition",
        "2026-12-07T10:00:00+00:00",
    )
    for request, said in (
        ({"verdict": "meh"}, "verdict must be one of"),
        ({"verdict": "missed_topic"}, "a missed_topic verdict names its topic"),
        ({"verdict": "relevant", "note": "x" * 4001}, "note must be text"),
        ({"verdict": "relevant", "user": "mallory"}, "unknown field 'user'"),
    ):
        with pytest.raises(FeedbackError, match=said):
            feedback_record(alert, "local", request, at)


def test_a_users_later_verdict_replaces_their_earlier_one() -> None:
    view = DeskView()
    view.add(_alert(1))
    at = datetime(2026, 12, 7, tzinfo=UTC)
    for verdict in ("relevant", "not_relevant"):
        view.add_feedback(feedback_record(_alert(1), "ann", {"verdict": verdict}, at))
    view.add_feedback(feedback_record(_alert(1), "bob", {"verdict": "relevant"}, at))
    view.add_feedback(feedback_record(_alert(9), "bob", {"verdict": "relevant"}, at))
    assert [(r["user"], r["verdict"]) for r in view.feedback(f"{1:024x}")] == [
        ("ann", "not_relevant"),
        ("bob", "relevant"),
    ]
    assert len(view.all_feedback()) == 2  # alert 9 is not on this desk


def test_the_atom_feed_has_an_entry_per_alert_newest_first() -> None:
    alerts = [_alert(2), _alert(1, article={"url": "", "source": ""})]
    root = ET.fromstring(atom_feed("ukraine", alerts, "http://desk/feeds/ukraine.atom"))  # noqa: S314
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}updated") == "2026-12-07T09:02:00+00:00"
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == [
        f"urn:newsmon:alert:{2:024x}",
        f"urn:newsmon:alert:{1:024x}",
    ]
    assert entries[0].find(f"{ATOM}link").get("href") == "https://example.org/2"  # type: ignore[union-attr]
    assert entries[1].find(f"{ATOM}link") is None
    assert "Patriot x" in (entries[0].findtext(f"{ATOM}summary") or "")


def test_triage_moves_an_alert_and_the_state_filter_follows_it() -> None:
    view = DeskView()
    for n in (1, 2):
        view.add(_alert(n))
    at = datetime(2026, 12, 7, 11, tzinfo=UTC)
    record = triage_record(_alert(1), "local", {"state": "assigned", "assignee": " Dana "}, at)
    assert (record["state"], record["assignee"], record["by"]) == ("assigned", "Dana", "local")
    view.set_triage(record)
    assert [a["alert_id"] for a in view.select(Filters(state="open"))] == [f"{2:024x}"]
    assert [a["alert_id"] for a in view.select(Filters(state="assigned"))] == [f"{1:024x}"]
    view.set_triage(triage_record(_alert(1), "local", {"state": "open"}, at))
    assert len(view.select(Filters(state="open"))) == 2
    for request, said in (
        ({"state": "closed"}, "state must be one of"),
        ({"state": "assigned"}, "an assigned alert names its assignee"),
        ({"state": "assigned", "assignee": "x" * 101}, "assignee must be a name"),
        ({"state": "open", "by": "mallory"}, "unknown field 'by'"),
    ):
        with pytest.raises(FeedbackError, match=said):
            triage_record(_alert(1), "local", request, at)
