"""What the analysts' desk holds and shows: recent alerts, newest first, with the
feedback given on each; filters and search over them; an Atom feed per watchlist.

Pure data: the desk service (:mod:`agents.desk`) feeds it the records it reads from
``news.alerts`` and ``news.feedback`` and answers requests from it.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.etree import ElementTree as ET

from monitor.rules.ruleset import SEVERITIES, at_least

#: Verdicts an analyst can give on an alert (``news.feedback``).
VERDICTS = ("relevant", "not_relevant", "wrong_topic", "missed_topic")
#: Where an alert stands in the desk's work (``news.triage``); no record means "open".
TRIAGE_STATES = ("open", "acknowledged", "assigned", "resolved")
_ATOM = "http://www.w3.org/2005/Atom"


class FeedbackError(ValueError):
    """A feedback request that cannot be recorded; the message says why."""


@dataclass(frozen=True, slots=True)
class Filters:
    """What ``GET /api/alerts`` asks for; empty strings mean "any"."""

    watchlist: str = ""
    severity: str = ""  # this severity or a more severe one
    topic: str = ""
    entity: str = ""
    source: str = ""
    q: str = ""  # every word somewhere in the alert's text, case-insensitive
    since: str = ""  # raised at or after (ISO 8601)
    until: str = ""  # raised before (ISO 8601)
    state: str = ""  # the alert's triage state (the view decides: see DeskView.select)
    limit: int = 100

    def __post_init__(self) -> None:
        if self.severity and self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
        if self.state and self.state not in TRIAGE_STATES:
            raise ValueError(f"state must be one of {', '.join(TRIAGE_STATES)}")
        if not 1 <= self.limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        for name in ("since", "until"):
            if value := getattr(self, name):
                try:
                    datetime.fromisoformat(value)
                except ValueError:
                    raise ValueError(f"{name} must be an ISO 8601 time, not {value!r}") from None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Filters:
        """From URL query parameters (ValueError names the bad one)."""
        known = {f for f in cls.__dataclass_fields__ if f != "limit"}
        unknown = sorted(set(query) - known - {"limit"})
        if unknown:
            raise ValueError(f"unknown parameter {unknown[0]!r}")
        limit = query.get("limit", "100")
        if not limit.isdigit():
            raise ValueError(f"limit must be a whole number, not {limit!r}")
        return cls(**{k: v.strip() for k, v in query.items() if k in known}, limit=int(limit))

    def admit(self, alert: Mapping[str, Any]) -> bool:
        rule, article = alert["rule"], alert["article"]
        raised = _when(alert["raised_at"])
        source = (article.get("source") or "").casefold()
        return (
            (not self.watchlist or rule["watchlist"] == self.watchlist)
            and (not self.severity or at_least(rule["severity"], self.severity))
            and (not self.topic or self.topic in {t["name"] for t in alert.get("topics", ())})
            and (
                not self.entity
                or self.entity.casefold()
                in {e["canonical"].casefold() for e in alert.get("entities", ())}
            )
            and (not self.source or source == self.source.casefold())
            and (not self.since or raised >= _when(self.since))
            and (not self.until or raised < _when(self.until))
            and (not self.q or all(w in searchable(alert) for w in self.q.casefold().split()))
        )


def _when(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.now().astimezone().tzinfo)


def searchable(alert: Mapping[str, Any]) -> str:
    """The words a text search looks through: title, source, rule, snippets, entities."""
    rule, article = alert["rule"], alert["article"]
    parts = [
        article.get("title") or "",
        article.get("source") or "",
        rule.get("name") or "",
        rule["id"],
        rule["watchlist"],
        *(m.get("snippet", "") for m in alert.get("matches", ())),
        *(e.get("canonical", "") for e in alert.get("entities", ())),
        *(t["name"] for t in alert.get("topics", ())),
    ]
    return " ".join(parts).casefold()


@dataclass
class DeskView:
    """Alerts by raise time (newest last inside), each once, with their feedback."""

    capacity: int = 50_000
    _order: list[tuple[str, str]] = field(default_factory=list)  # (raised_at, alert_id)
    _alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    _feedback: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    _triage: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._alerts)

    def add(self, alert: dict[str, Any]) -> bool:
        """Keep ``alert``; False if it was held already (a redelivery or both topics)."""
        alert_id = alert["alert_id"]
        if alert_id in self._alerts:
            return False
        self._alerts[alert_id] = alert
        bisect.insort(self._order, (alert["raised_at"], alert_id))
        while len(self._order) > self.capacity:  # the oldest go first
            _, dropped = self._order.pop(0)
            del self._alerts[dropped]
        return True

    def get(self, alert_id: str) -> dict[str, Any] | None:
        return self._alerts.get(alert_id)

    def add_feedback(self, record: Mapping[str, Any]) -> None:
        """The latest feedback of each user on an alert (a later record replaces theirs)."""
        self._feedback.setdefault(record["alert_id"], {})[record["user"]] = dict(record)

    def feedback(self, alert_id: str) -> list[dict[str, Any]]:
        return sorted(self._feedback.get(alert_id, {}).values(), key=lambda r: r["at"])

    def all_feedback(self) -> list[dict[str, Any]]:
        """The latest feedback of each user on every alert held, oldest first."""
        held = (r for a, by in self._feedback.items() if a in self._alerts for r in by.values())
        return sorted(held, key=lambda r: r["at"])

    def set_triage(self, record: Mapping[str, Any]) -> None:
        """An alert's latest triage record replaces the one before."""
        self._triage[record["alert_id"]] = dict(record)

    def triage(self, alert_id: str) -> dict[str, Any] | None:
        return self._triage.get(alert_id)

    def all_triage(self) -> list[dict[str, Any]]:
        """The triage of every alert held, oldest change first."""
        held = (r for a, r in self._triage.items() if a in self._alerts)
        return sorted(held, key=lambda r: r["at"])

    def state(self, alert_id: str) -> str:
        record = self._triage.get(alert_id)
        return "open" if record is None else str(record["state"])

    def select(self, filters: Filters) -> list[dict[str, Any]]:
        """Alerts that pass ``filters``, newest first, at most ``filters.limit``."""
        found = []
        for _, alert_id in reversed(self._order):
            alert = self._alerts[alert_id]
            if filters.state and self.state(alert_id) != filters.state:
                continue
            if filters.admit(alert):
                found.append(alert)
                if len(found) == filters.limit:
                    break
        return found

    def watchlists(self) -> list[str]:
        return sorted({a["rule"]["watchlist"] for a in self._alerts.values()})


def feedback_record(
    alert: Mapping[str, Any], user: str, request: Mapping[str, Any], at: datetime
) -> dict[str, Any]:
    """The ``news.feedback`` record for a verdict on ``alert`` (FeedbackError if invalid)."""
    unknown = sorted(set(request) - {"verdict", "topic", "note"})
    if unknown:
        raise FeedbackError(f"unknown field {unknown[0]!r}")
    verdict = request.get("verdict")
    if verdict not in VERDICTS:
        raise FeedbackError(f"verdict must be one of {', '.join(VERDICTS)}")
    topic, note = request.get("topic"), request.get("note")
    if topic is not None and (not isinstance(topic, str) or not topic.strip()):
        raise FeedbackError("topic must be a topic name")
    if verdict in ("wrong_topic", "missed_topic") and not topic:
        raise FeedbackError(f"a {verdict} verdict names its topic")
    if note is not None and (not isinstance(note, str) or len(note) > 4000):
        raise FeedbackError("note must be text of at most 4000 characters")
    rule = alert["rule"]
    return {
        "alert_id": alert["alert_id"],
        "user": user,
        "verdict": verdict,
        "topic": topic,
        "note": note or "",
        "at": at.isoformat(),
        "rule": {k: rule[k] for k in ("id", "version", "watchlist")},
        "article_id": alert["article"]["id"],
        "story_id": alert["story_id"],
    }


def triage_record(
    alert: Mapping[str, Any], user: str, request: Mapping[str, Any], at: datetime
) -> dict[str, Any]:
    """The ``news.triage`` record that moves ``alert`` to a state (FeedbackError if invalid)."""
    unknown = sorted(set(request) - {"state", "assignee", "note"})
    if unknown:
        raise FeedbackError(f"unknown field {unknown[0]!r}")
    state, assignee, note = request.get("state"), request.get("assignee"), request.get("note")
    if state not in TRIAGE_STATES:
        raise FeedbackError(f"state must be one of {', '.join(TRIAGE_STATES)}")
    if assignee is not None and (
        not isinstance(assignee, str) or not assignee.strip() or len(assignee) > 100
    ):
        raise FeedbackError("assignee must be a name of at most 100 characters")
    if state == "assigned" and not assignee:
        raise FeedbackError("an assigned alert names its assignee")
    if note is not None and (not isinstance(note, str) or len(note) > 4000):
        raise FeedbackError("note must be text of at most 4000 characters")
    rule = alert["rule"]
    return {
        "alert_id": alert["alert_id"],
        "state": state,
        "assignee": assignee.strip() if assignee else None,
        "note": note or "",
        "by": user,
        "at": at.isoformat(),
        "rule": {k: rule[k] for k in ("id", "version", "watchlist")},
        "story_id": alert["story_id"],
    }


def atom_feed(watchlist: str, alerts: Iterable[Mapping[str, Any]], self_url: str) -> bytes:
    """An Atom 1.0 feed (RFC 4287) of a watchlist's alerts, newest first."""
    ET.register_namespace("", _ATOM)
    feed = ET.Element(f"{{{_ATOM}}}feed")
    entries = list(alerts)
    _text(feed, "id", f"urn:newsmon:watchlist:{watchlist}")
    _text(feed, "title", f"newsmon alerts: {watchlist}")
    updated = max((a["raised_at"] for a in entries), default="1970-01-01T00:00:00+00:00")
    _text(feed, "updated", _rfc3339(updated))
    ET.SubElement(feed, f"{{{_ATOM}}}link", rel="self", href=self_url)
    _text(ET.SubElement(feed, f"{{{_ATOM}}}author"), "name", "newsmon")
    for alert in entries:
        rule, article = alert["rule"], alert["article"]
        entry = ET.SubElement(feed, f"{{{_ATOM}}}entry")
        _text(entry, "id", f"urn:newsmon:alert:{alert['alert_id']}")
        _text(entry, "title", article.get("title") or "(untitled)")
        _text(entry, "updated", _rfc3339(alert["raised_at"]))
        if article.get("published_at"):
            _text(entry, "published", _rfc3339(article["published_at"]))
        if article.get("url"):
            ET.SubElement(entry, f"{{{_ATOM}}}link", rel="alternate", href=article["url"])
        if article.get("source"):
            _text(ET.SubElement(entry, f"{{{_ATOM}}}author"), "name", article["source"])
        ET.SubElement(entry, f"{{{_ATOM}}}category", term=rule["severity"])
        lines = [f"{rule['name'] or rule['id']} ({rule['severity']})"]
        lines += [m["snippet"] for m in alert.get("matches", ())[:5]]
        _text(entry, "summary", "\n".join(lines))
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))


def _text(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, f"{{{_ATOM}}}{tag}").text = text


def _rfc3339(value: str) -> str:
    return _when(value).isoformat()
