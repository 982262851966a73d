"""Compiled watch rules: ``RuleSet.match(analyzed, topics) -> tuple[RuleMatch, ...]``.

A :class:`RuleSet` parses every rule's query once and hands them all to one
:class:`~monitor.rules.presearch.Presearcher`: matching an article costs one phrase-index pass
per field, then an evaluation of only the rules whose terms occurred. Rules and rule
sets carry content versions, so an alert names exactly the rule that raised it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from monitor.durations import format_duration
from monitor.rules.parser import parse_query
from monitor.rules.presearch import Presearcher
from monitor.rules.query import evaluate, evidence, make_facts
from monitor.rules.syntax import Node
from monitor.tagging.tags import Evidence, TopicTag
from monitor.text.nlp import Analyzed

SEVERITIES = ("critical", "high", "medium", "low", "info")


def at_least(severity: str, floor: str) -> bool:
    """Whether ``severity`` is ``floor`` or more severe (an unknown severity is not)."""
    return severity in SEVERITIES and SEVERITIES.index(severity) <= SEVERITIES.index(floor)


ROUTE_PREFIX = "alerts."


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def rule_key(watchlist: str, rule_id: str) -> str:
    """The key of a watchlist's rule across every deployed watchlist."""
    return f"{watchlist}/{rule_id}"


@dataclass(frozen=True, slots=True)
class StoryThreshold:
    """A point in a story's growth an analyst wants to hear of: ``count`` distinct sources,
    or ``count`` articles (within ``within`` seconds, or in all)."""

    kind: Literal["sources", "articles"]
    count: int
    within: float | None = None

    @property
    def name(self) -> str:
        """``sources>=3``, ``articles>=10``, ``articles>=10/1h``: the threshold's id."""
        span = f"/{format_duration(self.within)}" if self.within is not None else ""
        return f"{self.kind}>={self.count}{span}"

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {self.kind: self.count}
        if self.within is not None:
            found["within"] = self.within
        return found


@dataclass(frozen=True, slots=True)
class Rule:
    """One watch rule. ``version`` hashes its definition, so any change gives a new one."""

    id: str
    name: str
    query: str
    severity: str
    watchlist: str
    route: str
    topics: tuple[str, ...] = ()
    version: str = ""
    #: At most ``throttle[0]`` alerts per ``throttle[1]`` seconds, or None.
    throttle: tuple[int, float] | None = None
    #: When a story this rule alerted on grows past one of these, a ``story_update``.
    story_updates: tuple[StoryThreshold, ...] = ()

    def __post_init__(self) -> None:
        if not self.version:
            object.__setattr__(self, "version", _digest(self.canonical_json()))

    @property
    def key(self) -> str:
        """``<watchlist>/<id>``: rule ids are unique per watchlist, this across all of them
        (neither part may contain '/' or '|')."""
        return rule_key(self.watchlist, self.id)

    def definition(self) -> dict[str, Any]:
        """The fields the version covers."""
        definition: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "query": self.query,
            "severity": self.severity,
            "topics": list(self.topics),
            "watchlist": self.watchlist,
            "route": self.route,
        }
        if self.throttle is not None:
            definition["throttle"] = list(self.throttle)
        if self.story_updates:
            definition["story_updates"] = [t.to_json() for t in self.story_updates]
        return definition

    def canonical_json(self) -> str:
        return json.dumps(
            self.definition(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )

    def to_json(self) -> dict[str, Any]:
        """The alert's ``rule`` object."""
        return {
            "id": self.id,
            "version": self.version,
            "name": self.name,
            "severity": self.severity,
            "watchlist": self.watchlist,
        }


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule that matched an article, with the term occurrences that made it match."""

    rule: Rule
    matches: tuple[Evidence, ...]


WebhookFormat = Literal["json", "slack"]


@dataclass(frozen=True, slots=True)
class Webhook:
    """One receiver of a watchlist's alerts."""

    name: str
    url: str
    format: WebhookFormat = "json"
    secret_env: str = ""  # the variable holding the HMAC secret, or
    secret_file: str = ""  # the file holding it (a Docker or Kubernetes secret)
    min_severity: str = "info"

    def to_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "url": self.url,
            "format": self.format,
            "secret_env": self.secret_env,
            "secret_file": self.secret_file,
            "min_severity": self.min_severity,
        }


@dataclass(frozen=True, slots=True)
class Digest:
    """An e-mail digest of a watchlist's alerts, one per period (aligned to UTC midnight)."""

    name: str
    to: tuple[str, ...]
    every: float  # seconds: a divisor of a day
    min_severity: str = "info"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "to": list(self.to),
            "every": self.every,
            "min_severity": self.min_severity,
        }


class RuleSet:
    """Rules compiled for matching. ``source`` is the YAML text they came from;
    ``webhooks`` are the receivers each watchlist delivers its alerts to."""

    def __init__(
        self,
        rules: Sequence[Rule],
        source: str = "",
        queries: Sequence[Node] | None = None,
        webhooks: Mapping[str, Sequence[Webhook]] | None = None,
        digests: Mapping[str, Sequence[Digest]] | None = None,
    ) -> None:
        self.rules = tuple(rules)
        self.source = source
        self.webhooks = {k: tuple(v) for k, v in (webhooks or {}).items() if v}
        self.digests = {k: tuple(v) for k, v in (digests or {}).items() if v}
        deliveries = json.dumps(
            {
                "webhooks": {k: [h.to_json() for h in v] for k, v in self.webhooks.items()},
                "digests": {k: [d.to_json() for d in v] for k, v in self.digests.items()},
            },
            sort_keys=True,
        )
        versions = "\n".join(sorted(rule.version for rule in self.rules))
        delivered = self.webhooks or self.digests
        self.version = _digest(versions + ("\n" + deliveries if delivered else ""))
        self._queries = (
            tuple(queries)
            if queries is not None
            else tuple(parse_query(rule.query) for rule in self.rules)
        )
        self._presearch = Presearcher(self._queries)
        self._by_key = {rule.key: rule for rule in self.rules}

    def __len__(self) -> int:
        return len(self.rules)

    def rule(self, key: str) -> Rule | None:
        """The rule of ``<watchlist>/<rule id>``, if this set holds it."""
        return self._by_key.get(key)

    def __repr__(self) -> str:
        return f"RuleSet({len(self.rules)} rules, version={self.version})"

    def match(self, analyzed: Analyzed, topics: Sequence[TopicTag]) -> tuple[RuleMatch, ...]:
        """Every rule that matches the article, in rule-file order."""
        return self._match(analyzed, topics, self._presearch.candidates)

    def match_all(self, analyzed: Analyzed, topics: Sequence[TopicTag]) -> tuple[RuleMatch, ...]:
        """Like :meth:`match` but evaluating every rule (no presearch): the reference."""
        return self._match(analyzed, topics, lambda _: range(len(self.rules)))

    def _match(
        self, analyzed: Analyzed, topics: Sequence[TopicTag], select: Any
    ) -> tuple[RuleMatch, ...]:
        hits = self._presearch.index.hits(analyzed)
        facts = make_facts(analyzed, topics, hits)
        found = []
        for number in select(hits):
            rule, query = self.rules[number], self._queries[number]
            if facts.topics.keys() >= set(rule.topics) and evaluate(query, facts):
                found.append(RuleMatch(rule, evidence(query, facts)))
        return tuple(found)

    def route_topics(self) -> tuple[str, ...]:
        """Every distinct route, in order of first use."""
        return tuple(dict.fromkeys(rule.route for rule in self.rules))

    def watchlists(self) -> tuple[str, ...]:
        """Every distinct watchlist name, in order of first use."""
        return tuple(dict.fromkeys(rule.watchlist for rule in self.rules))

    def only(self, watchlists: Collection[str]) -> RuleSet:
        """The rules and deliveries of ``watchlists`` alone (the queries are reused)."""
        keep = [i for i, rule in enumerate(self.rules) if rule.watchlist in watchlists]
        return RuleSet(
            [self.rules[i] for i in keep],
            self.source,
            [self._queries[i] for i in keep],
            {k: v for k, v in self.webhooks.items() if k in watchlists},
            {k: v for k, v in self.digests.items() if k in watchlists},
        )

    @classmethod
    def union(cls, parts: Sequence[RuleSet]) -> RuleSet:
        """One rule set of several with distinct watchlists (each analyst's push)."""
        return cls(
            [rule for part in parts for rule in part.rules],
            "",
            [query for part in parts for query in part._queries],
            {k: v for part in parts for k, v in part.webhooks.items()},
            {k: v for part in parts for k, v in part.digests.items()},
        )
