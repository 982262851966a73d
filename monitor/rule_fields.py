"""Small validators for rule files: typed values out of located YAML, or a RuleError.

Each raises :class:`~monitor.errors.RuleError` pointing at the offending value, with
the rule id when one is known.
"""

from __future__ import annotations

from typing import Any, NoReturn

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
