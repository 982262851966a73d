"""Watch-rule files: ``parse_rules(text, path, known_topics) -> RuleSet``.

A rule file lists watchlists, each with rules (docs/rules.md)::

    watchlists:
      - name: ukraine-air-defence      # lowercase letters, digits, '-', '.'
        route: alerts.air-defence      # optional; default alerts.<name>
        deliver:                       # optional: webhooks that receive its alerts
          - webhook: ops               # a name, unique in the watchlist
            url: https://hooks.example.org/newsmon
            format: json               # json (default) | slack
            secret_env: NEWSMON_HOOK_OPS   # or secret_file: /run/secrets/ops (HMAC key)
            min_severity: high         # optional (default info: every alert)
          - email: hourly              # an e-mail digest (NEWSMON_SMTP_* settings)
            to: [desk@example.org]
            every: 1h                  # a divisor of a day; periods start at UTC midnight
        story_updates:                 # optional: tell me when an alerted story grows
          - sources: 3                 # confirmed by 3 distinct sources
          - {articles: 10, within: 1h} # 10 articles within an hour
        rules:
          - id: us-air-defence-pause   # unique across the file
            name: US pauses air defence shipments   # optional; default the id
            query: '"air defence" AND (pause OR halt*) AND Pentagon'
            severity: high             # critical | high | medium (default) | low | info
            topics: [air_defence]      # optional: the article must carry all of them
            throttle: {max: 5, per: 1h}   # optional: at most 5 alerts an hour
            story_updates: []          # optional: the rule's own list wins ([] = none)
            enabled: true              # optional
            must_match: ["The Pentagon paused shipments of air-defence missiles."]
            must_not_match: ["Air defence drills were held in Texas."]

Everything is validated before a rule set is returned; a refused file raises
:class:`~monitor.errors.RuleError` with file, line and column (for a query error, the
column of the offending character). Examples are checked against the query alone
(``topics:`` is ignored) with the blank spaCy pipeline; an example is the body of an
article, or a mapping with ``title``, ``body`` and ``source``. In examples, ``topic:``
and ``entity:`` atoms are always false: examples are not tagged.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.durations import parse_duration
from monitor.errors import Location, RuleError
from monitor.rules.examples import Example, examples_of, failing_examples
from monitor.rules.limits import MAX_RULES, check_query_text, check_query_tree
from monitor.rules.parser import QueryError, parse_query
from monitor.rules.ruleset import (
    ROUTE_PREFIX,
    SEVERITIES,
    Digest,
    Rule,
    RuleMatch,
    RuleSet,
    StoryThreshold,
    Webhook,
)
from monitor.rules.syntax import Node, topics_of
from monitor.rules.validators import (
    fail,
    items,
    known_keys,
    mapping,
    story_updates,
    string,
    throttle,
)
from monitor.yamlfile import Located, load_yaml, load_yaml_file

__all__ = [
    "DEFAULT_WATCHLISTS",
    "SEVERITIES",
    "Rule",
    "RuleMatch",
    "RuleSet",
    "load_rules",
    "parse_rules",
]

DEFAULT_WATCHLISTS = Path(__file__).parents[1] / "data" / "watchlists.yaml"
DEFAULT_SEVERITY = "medium"
_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*")
_ROUTE = re.compile(re.escape(ROUTE_PREFIX) + r"[A-Za-z0-9._-]+")
_RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_WATCHLIST_KEYS = frozenset({"name", "route", "rules", "description", "deliver", "story_updates"})
_WEBHOOK_KEYS = frozenset({"webhook", "url", "format", "secret_env", "secret_file", "min_severity"})
_DIGEST_KEYS = frozenset({"email", "to", "every", "min_severity"})
_ADDRESS = re.compile(r"[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+")
_DAY = 86_400
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_URL = re.compile(r"https?://[^\s/?#]+[^\s]*")
_RULE_KEYS = frozenset(
    {
        "id",
        "name",
        "query",
        "severity",
        "topics",
        "enabled",
        "description",
        "must_match",
        "must_not_match",
        "throttle",
        "story_updates",
    }
)


@dataclass(frozen=True, slots=True)
class _Parsed:
    rule: Rule
    query: Node
    enabled: bool
    examples: tuple[Example, ...]
    id_where: Location
    id_line: str


def load_rules(path: Path, known_topics: Collection[str]) -> RuleSet:
    """Read, parse and validate a rule file."""
    data = load_yaml_file(path, RuleError)
    return _rule_set(data, path.read_text(encoding="utf-8"), str(path), known_topics)


def parse_rules(text: str, path: str, known_topics: Collection[str]) -> RuleSet:
    """Parse and validate rule-file text; ``path`` names it in errors."""
    return _rule_set(load_yaml(text, path, RuleError), text, path, known_topics)


def _rule_set(data: Any, text: str, path: str, known: Collection[str]) -> RuleSet:
    if not isinstance(data, Located) or "watchlists" not in data:
        raise RuleError(Location(path, 1, 1), "a rule file is a mapping with 'watchlists'")
    known_keys(data, frozenset({"watchlists"}), None)
    watchlists = items(data, "watchlists", None)
    parsed: list[_Parsed] = []
    names: set[str] = set()
    webhooks: dict[str, tuple[Webhook, ...]] = {}
    digests: dict[str, tuple[Digest, ...]] = {}
    for i, item in enumerate(watchlists):
        watchlist = mapping(item, watchlists.where(i), "a watchlist must be a mapping")
        parsed.extend(_watchlist(watchlist, names, known))
        if "deliver" in watchlist:
            name = string(watchlist, "name", None)
            webhooks[name], digests[name] = _deliveries(watchlist)
    if len(parsed) > MAX_RULES:
        raise RuleError(
            data.where("watchlists"),
            f"{len(parsed)} rules; a rule set holds at most {MAX_RULES}",
            data.source_line("watchlists"),
        )
    _unique_ids(parsed)
    _check_examples(parsed)
    enabled = [p for p in parsed if p.enabled]
    return RuleSet([p.rule for p in enabled], text, [p.query for p in enabled], webhooks, digests)


def _deliveries(watchlist: Located) -> tuple[tuple[Webhook, ...], tuple[Digest, ...]]:
    """A watchlist's ``deliver:`` entries: webhooks and e-mail digests."""
    entries = items(watchlist, "deliver", None)
    hooks: list[Webhook] = []
    digests: list[Digest] = []
    for i, entry in enumerate(entries):
        item = mapping(entry, entries.where(i), "a delivery must be a mapping")
        if "email" in item:
            digest = _digest(item)
            if any(d.name == digest.name for d in digests):
                fail(item, "email", f"duplicate digest {digest.name!r} in this watchlist")
            digests.append(digest)
        elif "webhook" in item:
            hook = _webhook(item)
            if any(h.name == hook.name for h in hooks):
                fail(item, "webhook", f"duplicate webhook {hook.name!r} in this watchlist")
            hooks.append(hook)
        else:
            raise RuleError(entries.where(i), "a delivery names a 'webhook' or an 'email' digest")
    return tuple(hooks), tuple(digests)


def _webhook(item: Located) -> Webhook:
    if "secret" in item:
        fail(
            item,
            "secret",
            "a secret never goes into a rule file: name the environment variable "
            "(secret_env) or the file (secret_file) that holds it",
        )
    known_keys(item, _WEBHOOK_KEYS, None)
    name = string(item, "webhook", None)
    if not _NAME.fullmatch(name):
        fail(item, "webhook", f"webhook name {name!r} may use only a-z, 0-9, '-' and '.'")
    url = string(item, "url", None)
    if not _URL.fullmatch(url):
        fail(item, "url", f"url {url!r} must be an http:// or https:// address")
    form = item.get("format", "json")
    if form not in ("json", "slack"):
        fail(item, "format", "format must be json or slack")
    secret_env = string(item, "secret_env", None) if "secret_env" in item else ""
    secret_file = string(item, "secret_file", None) if "secret_file" in item else ""
    if secret_env and secret_file:
        fail(item, "secret_file", "give secret_env or secret_file, not both")
    if secret_env and not _ENV_NAME.fullmatch(secret_env):
        fail(item, "secret_env", f"{secret_env!r} is not an environment variable name")
    if form == "json" and not (secret_env or secret_file):
        fail(
            item,
            "webhook",
            f"webhook {name!r} needs secret_env or secret_file: its requests are signed",
        )
    return Webhook(name, url, form, secret_env, secret_file, _min_severity(item))


def _digest(item: Located) -> Digest:
    known_keys(item, _DIGEST_KEYS, None)
    name = string(item, "email", None)
    if not _NAME.fullmatch(name):
        fail(item, "email", f"digest name {name!r} may use only a-z, 0-9, '-' and '.'")
    to = items(item, "to", None)
    addresses = []
    for j, address in enumerate(to):
        if not isinstance(address, str) or not _ADDRESS.fullmatch(address.strip()):
            raise RuleError(to.where(j), f"{address!r} is not an e-mail address")
        addresses.append(address.strip())
    try:
        every = parse_duration(str(item.get("every", "")))
    except ValueError as exc:
        fail(item, "every", f"'every': {exc}")
    if not (10 <= every <= _DAY and _DAY % every == 0):
        fail(
            item,
            "every",
            "'every' must divide a day (periods start at UTC midnight): 10s to 1d, "
            "e.g. 15m, 1h, 6h, 1d",
        )
    return Digest(name, tuple(addresses), every, _min_severity(item))


def _min_severity(item: Located) -> str:
    severity = item.get("min_severity", "info")
    if severity not in SEVERITIES:
        fail(item, "min_severity", f"min_severity must be one of {', '.join(SEVERITIES)}")
    return str(severity)


def _watchlist(item: Located, names: set[str], known: Collection[str]) -> list[_Parsed]:
    known_keys(item, _WATCHLIST_KEYS, None)
    name = string(item, "name", None)
    if not _NAME.fullmatch(name):
        fail(
            item,
            "name",
            f"watchlist name {name!r} may use only lowercase letters, digits, '-' and '.'",
        )
    if name in names:
        fail(item, "name", f"duplicate watchlist {name!r}")
    names.add(name)
    route = string(item, "route", None) if "route" in item else ROUTE_PREFIX + name
    if not _ROUTE.fullmatch(route):
        fail(
            item,
            "route",
            f"route {route!r} must start with {ROUTE_PREFIX!r} and be a "
            "Kafka topic name (letters, digits, '.', '_', '-')",
        )
    rules = items(item, "rules", None)
    updates = story_updates(item, None) or ()
    return [
        _rule(mapping(r, rules.where(i), "a rule must be a mapping"), name, route, known, updates)
        for i, r in enumerate(rules)
    ]


def _rule(
    item: Located,
    watchlist: str,
    route: str,
    known: Collection[str],
    updates: tuple[StoryThreshold, ...] = (),
) -> _Parsed:
    rule_id = string(item, "id", None)
    if not _RULE_ID.fullmatch(rule_id):
        fail(item, "id", f"rule id {rule_id!r} may use only letters, digits, '.', '_', '-'")
    known_keys(item, _RULE_KEYS, rule_id)
    severity = string(item, "severity", rule_id) if "severity" in item else DEFAULT_SEVERITY
    if severity not in SEVERITIES:
        fail(
            item,
            "severity",
            f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}",
            rule_id,
        )
    topics = _topics(item, rule_id, known)
    query, node = _query(item, rule_id, known)
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        fail(item, "enabled", "'enabled' must be true or false", rule_id)
    rule = Rule(
        id=rule_id,
        name=string(item, "name", rule_id) if "name" in item else rule_id,
        query=query,
        severity=severity,
        watchlist=watchlist,
        route=route,
        topics=topics,
        throttle=throttle(item, rule_id),
        # A rule's own list wins over its watchlist's (an empty list turns them off).
        story_updates=(own if (own := story_updates(item, rule_id)) is not None else updates),
    )
    examples = examples_of(item, rule_id)
    return _Parsed(rule, node, enabled, examples, item.where("id"), item.source_line("id"))


def _topics(item: Located, rule_id: str, known: Collection[str]) -> tuple[str, ...]:
    if "topics" not in item:
        return ()
    topics = items(item, "topics", rule_id, allow_empty=True)
    for i, topic in enumerate(topics):
        if not isinstance(topic, str) or topic not in known:
            raise RuleError(
                topics.where(i),
                f"unknown topic {topic!r}; known topics: {', '.join(sorted(known)) or '(none)'}",
                item.source_line("topics"),
                rule_id,
            )
    return tuple(topics)


def _query(item: Located, rule_id: str, known: Collection[str]) -> tuple[str, Node]:
    text = string(item, "query", rule_id)
    try:
        check_query_text(item["query"])
        node = parse_query(item["query"])  # unstripped, so offsets are the file's
        check_query_tree(node)
    except QueryError as exc:
        raise RuleError(
            _query_location(item, exc.offset), exc.message, item.source_line("query"), rule_id
        ) from exc
    for topic in topics_of(node):
        if topic.name not in known:
            raise RuleError(
                _query_location(item, topic.offset),
                f"unknown topic {topic.name!r}; known topics: "
                f"{', '.join(sorted(known)) or '(none)'}",
                item.source_line("query"),
                rule_id,
            )
    return text, node


def _query_location(item: Located, offset: int) -> Location:
    """Where character ``offset`` of the query stands in the file (single-line scalars)."""
    where = item.where("query")
    line = item.source_line("query")
    quoted = 0 < where.column <= len(line) and line[where.column - 1] in "'\""
    return Location(where.path, where.line, where.column + quoted + offset)


def _check_examples(parsed: list[_Parsed]) -> None:
    failure = failing_examples([(p.query, p.examples) for p in parsed])
    if failure is not None:
        number, example = failure
        verb = "does not match" if example.expected else "matches"
        key = "must_match" if example.expected else "must_not_match"
        raise RuleError(
            example.where,
            f"the query {verb} this {key} example",
            example.source_line,
            parsed[number].rule.id,
        )


def _unique_ids(parsed: list[_Parsed]) -> None:
    """Rule ids are unique within a watchlist (two watchlists may use the same id)."""
    seen: set[str] = set()
    for item in parsed:
        if item.rule.key in seen:
            raise RuleError(
                item.id_where,
                f"duplicate rule id in watchlist {item.rule.watchlist!r}",
                item.id_line,
                item.rule.id,
            )
        seen.add(item.rule.key)
