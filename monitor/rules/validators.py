"""Small validators for rule files: typed values out of located YAML, or a RuleError.

Each raises :class:`~monitor.errors.RuleError` pointing at the offending value, with
the rule id when one is known.
"""

from __future__ import annotations

from typing import Any, NoReturn

from monitor.durations import parse_duration
from monitor.errors import Location, RuleError
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
