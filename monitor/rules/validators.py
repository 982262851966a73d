"""Small validators for rule files: typed values out of located YAML, or a RuleError.

Each raises :class:`~monitor.errors.RuleError` pointing at the offending value, with
the rule id when one is known.
"""

from __future__ import annotations

from typing import Any, NoReturn

from monitor.durations import parse_duration
from monitor.errors import Location, RuleError
from monitor.rules.ruleset import StoryThreshold
from monitor.yamlfile import Located, LocatedList


def mapping(value: Any, where: Location, message: str) -> Located:
    """``value`` if it is a YAML mapping, else an error at ``where``."""
    if not isinstance(value, Located):
        raise RuleError(where, message)
    return value


def items(parent: Located, key: str, rule_id: str | None, allow_empty: bool = False) -> LocatedList:
    """The list under ``key``: present, a list, and non-empty unless ``allow_empty``."""
    if key not in parent:
        raise RuleError(parent.where(), f"missing {key!r}", parent.source_line(), rule_id)
    value = parent[key]
    if not isinstance(value, LocatedList) or not (value or allow_empty):
        fail(parent, key, f"{key!r} must be a {'' if allow_empty else 'non-empty '}list", rule_id)
    return value


def string(parent: Located, key: str, rule_id: str | None) -> str:
    """The non-blank string under ``key``, stripped."""
    if key not in parent:
        raise RuleError(parent.where(), f"missing {key!r}", parent.source_line(), rule_id)
    value = parent[key]
    if not isinstance(value, str) or not value.strip():
        fail(parent, key, f"{key!r} must be a non-empty string", rule_id)
    return str(value).strip()


def known_keys(parent: Located, allowed: frozenset[str], rule_id: str | None) -> None:
    """Refuse keys outside ``allowed`` (a typo must not silently disable a setting)."""
    for key in parent:
        if key not in allowed:
            fail(
                parent,
                key,
                f"unknown key {key!r}; expected one of {', '.join(sorted(allowed))}",
                rule_id,
            )


def fail(parent: Located, key: str, message: str, rule_id: str | None = None) -> NoReturn:
    """Raise a RuleError at the value of ``key``."""
    raise RuleError(parent.where(key), message, parent.source_line(key), rule_id)


def throttle(parent: Located, rule_id: str) -> tuple[int, float] | None:
    """``throttle: {max: N, per: 1h}``: at most N alerts per period, or None if absent."""
    if "throttle" not in parent:
        return None
    value = mapping(
        parent["throttle"],
        parent.where("throttle"),
        "'throttle' must be a mapping like {max: 5, per: 1h}",
    )
    known_keys(value, frozenset({"max", "per"}), rule_id)
    most = value.get("max")
    if isinstance(most, bool) or not isinstance(most, int) or most < 1:
        fail(value, "max", "'max' must be a whole number of alerts, at least 1", rule_id)
    try:
        period = parse_duration(str(value.get("per", "")))
    except ValueError as exc:
        fail(value, "per", f"'per': {exc}", rule_id)
    return most, period


def story_updates(parent: Located, rule_id: str | None) -> tuple[StoryThreshold, ...] | None:
    """``story_updates: [{sources: 3}, {articles: 10, within: 1h}]``, or None if absent."""
    if "story_updates" not in parent:
        return None
    entries = items(parent, "story_updates", rule_id, allow_empty=True)
    found: list[StoryThreshold] = []
    for i, entry in enumerate(entries):
        value = mapping(
            entry,
            entries.where(i),
            "a story update is a mapping like {sources: 3} or {articles: 10, within: 1h}",
        )
        known_keys(value, frozenset({"sources", "articles", "within"}), rule_id)
        kinds = [k for k in ("sources", "articles") if k in value]
        if len(kinds) != 1:
            raise RuleError(
                entries.where(i),
                "a story update names either 'sources' or 'articles'",
                parent.source_line("story_updates"),
                rule_id,
            )
        kind = kinds[0]
        count = value[kind]
        if isinstance(count, bool) or not isinstance(count, int) or count < 2:
            fail(value, kind, f"{kind!r} must be a whole number, at least 2", rule_id)
        within = None
        if "within" in value:
            if kind == "sources":
                fail(value, "within", "'within' goes with 'articles' only", rule_id)
            try:
                within = parse_duration(str(value["within"]))
            except ValueError as exc:
                fail(value, "within", f"'within': {exc}", rule_id)
        threshold = StoryThreshold("sources" if kind == "sources" else "articles", count, within)
        if any(t.name == threshold.name for t in found):
            fail(value, kind, f"duplicate story update {threshold.name!r}", rule_id)
        found.append(threshold)
    return tuple(found)
