"""Alerts: a rule match on a story, carrying its own explanation.

The wire contract (``monitor/schemas/alert.schema.json``): ``alert_id``, ``rule`` {id,
version, name, severity, watchlist}, ``article`` {id, title, url, source, published_at},
``matches`` [{term, field, start, end, snippet}], ``topics`` [{name, score, confidence}],
``entities`` [{text, label, canonical}], ``story_id``, ``raised_at``, ``kind``.

A match becomes a :class:`Candidate` first (everything the alert will say, plus the
story fingerprint); the once-per-story decision (:mod:`monitor.alerting.once_per_story`)
turns it into an alert or a suppression. Alert ids are deterministic: the same rule
version and story give the same id, so a restart or a rebalance never mints a new one. A
rule's version covers its watchlist, so two watchlists' rules of one id never share an
alert id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.alerting.once_per_story import Throttle
from monitor.alerting.spikes import Spike
from monitor.rules.files import RuleMatch
from monitor.rules.ruleset import Rule, rule_key
from monitor.tagging.tagged_article import TaggedArticle

#: The ``kind`` of a rule's alert on a new story, of the alert that says a story it
#: alerted on has grown past a threshold, and of a spike of coverage.
RULE_ALERT, STORY_UPDATE, SPIKE = "rule", "story_update", "spike"


def alert_id(rule_id: str, rule_version: str, story_id: str) -> str:
    """The deterministic id of the alert a rule version raises on a story."""
    key = f"{rule_id}\x00{rule_version}\x00{story_id}".encode()
    return hashlib.sha256(key).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A rule match waiting for the once-per-story decision (JSON-safe ``record``)."""

    record: dict[str, Any]

    @property
    def rule_id(self) -> str:
        return str(self.record["rule"]["id"])

    @property
    def rule_key(self) -> str:
        """``<watchlist>/<rule id>``: the key of the rule's candidates and story state."""
        return rule_key(self.watchlist, self.rule_id)

    @property
    def watchlist(self) -> str:
        return str(self.record["rule"]["watchlist"])

    @property
    def severity(self) -> str:
        return str(self.record["rule"]["severity"])

    @property
    def route(self) -> str:
        return str(self.record["route"])

    @property
    def fingerprint(self) -> int:
        return int(self.record["fingerprint"], 16)

    @property
    def kind(self) -> str:
        """``rule`` (a rule matched this article) or ``story_update``."""
        return str(self.record.get("kind", RULE_ALERT))

    @property
    def story_id(self) -> str | None:
        """The story the story agent put the article in (None in older candidates)."""
        value = self.record.get("story_id")
        return None if value is None else str(value)

    @property
    def updates(self) -> list[str]:
        """The rule's story-update thresholds the story has reached."""
        return [str(name) for name in self.record.get("updates") or ()]

    @property
    def throttle(self) -> Throttle | None:
        value = self.record.get("throttle")
        return Throttle(int(value[0]), float(value[1])) if value else None

    def to_json(self) -> dict[str, Any]:
        return self.record


def described(tagged: TaggedArticle) -> dict[str, Any]:
    """What an alert says of its article: ``article``, ``topics``, ``entities``."""
    article = tagged.article
    return {
        "article": {
            "id": article.id,
            "title": article.title,
            "url": article.url,
            "source": article.source,
            "published_at": article.published_at.isoformat() if article.published_at else None,
        },
        "topics": [
            {"name": t.name, "score": t.score, "confidence": t.confidence} for t in tagged.topics
        ],
        "entities": _entities(tagged),
    }


def candidate(match: RuleMatch, tagged: TaggedArticle, **extra: Any) -> Candidate:
    """The candidate alert for one rule match on a tagged article."""
    rule = match.rule
    record = {
        "rule": rule.to_json(),
        "route": rule.route,
        **described(tagged),
        "matches": [m.to_json() for m in match.matches],
        "fingerprint": f"{tagged.fingerprint:016x}",
        "throttle": list(rule.throttle) if rule.throttle else None,
        **extra,
    }
    return Candidate(record)


def update_candidate(
    rule: Rule, arrival: dict[str, Any], story: dict[str, Any], updates: list[str]
) -> Candidate:
    """A ``story_update`` candidate: a story ``rule`` matched has reached ``updates``;
    ``arrival`` (a ``news.story-input`` record) is the article that took it there."""
    return Candidate(
        {
            "kind": STORY_UPDATE,
            "rule": rule.to_json(),
            "route": rule.route,
            "article": arrival["article"],
            "topics": arrival["topics"],
            "entities": arrival["entities"],
            "matches": [],
            "fingerprint": arrival["fingerprint"],
            "throttle": None,
            "story_id": story["story_id"],
            "story": story,
            "updates": updates,
        }
    )


def _entities(tagged: TaggedArticle) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for entity in tagged.entities:
        seen.setdefault(
            (entity.canonical, entity.label),
            {"text": entity.text, "label": entity.label, "canonical": entity.canonical},
        )
    return list(seen.values())


def alert_record(found: Candidate, story_id: str, raised_at: datetime) -> dict[str, Any]:
    """The alert JSON for a candidate that alerts on ``story_id``."""
    record = found.record
    rule = record["rule"]
    alert = {
        "alert_id": alert_id(rule["id"], rule["version"], story_id),
        "rule": rule,
        "article": record["article"],
        "matches": record["matches"],
        "topics": record["topics"],
        "entities": record["entities"],
        "story_id": story_id,
        "raised_at": raised_at.isoformat(),
        "kind": RULE_ALERT,
    }
    if "story" in record:
        alert["story"] = record["story"]
    return alert


def update_alert_record(found: Candidate, threshold: str, raised_at: datetime) -> dict[str, Any]:
    """The ``story_update`` alert: the story of ``found`` has reached ``threshold`` (its id
    hashes rule version, story and threshold: once per threshold)."""
    story_id = str(found.story_id)
    alert = alert_record(found, story_id, raised_at)
    rule = found.record["rule"]
    alert["alert_id"] = alert_id(rule["id"], rule["version"], f"{story_id}|{threshold}")
    alert["kind"] = STORY_UPDATE
    alert["update"] = {"threshold": threshold}
    return alert


def spike_alert_record(
    spike: Spike, watchlist: str, severity: str, raised_at: datetime, detector: str
) -> dict[str, Any]:
    """The ``spike`` alert: a series covered far more than usual in one window.

    Its ``rule`` names the detector (id ``spike.<kind>``, ``detector`` the version of its
    settings) and the watchlist it is filed under; its ``article`` and ``story_id`` are
    the first article of the largest story driving it; ``spike`` says the rest. The id
    hashes series and window: one alert per series and window.
    """
    kind, name = spike.series
    top = spike.stories[0]
    identity = f"{SPIKE}\x00{kind}\x00{name}\x00{spike.window}".encode()
    return {
        "alert_id": hashlib.sha256(identity).hexdigest()[:24],
        "rule": {
            "id": f"{SPIKE}.{kind}",
            "version": detector,
            "name": f"Spike: {kind} {name}",
            "severity": severity,
            "watchlist": watchlist,
        },
        "article": {
            "id": top.ids[0],
            "title": top.title,
            "url": "",
            "source": "",
            "published_at": None,
        },
        "matches": [],
        "topics": [{"name": name, "score": 0.0, "confidence": None}] if kind == "topic" else [],
        "entities": [{"text": name, "label": "", "canonical": name}] if kind == "entity" else [],
        "story_id": top.story_id,
        "raised_at": raised_at.isoformat(),
        "kind": SPIKE,
        "spike": spike.to_json(),
    }
