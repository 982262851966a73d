"""The deployed rule set as the union of per-watchlist records, with the legacy key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from agents.rulesfeed import LEGACY_KEY, Deployed, encode_watchlist, key_of
from monitor.errors import RuleError
from monitor.rules.files import parse_rules
from newsmon.rulescmd import push_diff

AT = datetime(2026, 12, 7, tzinfo=UTC)


@dataclass
class Record:
    key: bytes | None
    value: bytes | None


def _file(*lists: tuple[str, str]) -> str:
    text = "watchlists:\n"
    for name, rule in lists:
        text += (
            f"  - name: {name}\n    rules:\n      - id: {rule}\n        query: {rule}word\n"
            f'        must_match: ["a {rule}word"]\n        must_not_match: ["nothing"]\n'
        )
    return text


def _records(text: str, *names: str | None, key: bytes | None = None) -> list[Record]:
    ruleset = parse_rules(text, "f.yaml", ())
    return [
        Record(key or key_of(name or ""), encode_watchlist(ruleset, name, "f.yaml", AT))
        for name in names
    ]


def test_the_union_keeps_every_watchlist_and_own_keys_win_over_the_legacy_one() -> None:
    state = Deployed(())
    state.take(_records(_file(("old", "o1"), ("shared", "s1")), None, key=LEGACY_KEY))
    state.take(_records(_file(("alpha", "a1")), "alpha"))
    state.take(_records(_file(("shared", "s2")), "shared"))
    union = state.union()
    assert union is not None
    assert sorted(r.id for r in union[0].rules) == ["a1", "o1", "s2"]
    state.take([Record(key_of("alpha"), None)])  # removed
    union = state.union()
    assert union is not None
    assert sorted(r.id for r in union[0].rules) == ["o1", "s2"]


def test_two_watchlists_may_hold_the_same_rule_id_and_both_are_applied() -> None:
    state = Deployed(())
    state.take(_records(_file(("alpha", "urgent")), "alpha"))
    state.take(_records(_file(("bravo", "urgent")), "bravo"))
    union = state.union()
    assert union is not None
    rules = union[0].rules
    assert sorted(r.key for r in rules) == ["alpha/urgent", "bravo/urgent"]
    assert rules[0].version != rules[1].version  # so their alert ids never meet


def test_a_rule_id_twice_in_one_watchlist_is_refused_with_its_place() -> None:
    text = _file(("alpha", "a1")) + (
        "      - id: a1\n        query: other\n"
        '        must_match: ["other"]\n        must_not_match: ["nothing"]\n'
    )
    with pytest.raises(RuleError) as refused:
        parse_rules(text, "a.yaml", ())
    assert str(refused.value.location) == "a.yaml:8:13"
    assert "duplicate rule id in watchlist 'alpha'" in str(refused.value)


def test_a_push_lists_what_changes_in_its_own_watchlists_only() -> None:
    state = Deployed(())
    state.take(_records(_file(("alpha", "a1"), ("bravo", "b1")), "alpha", "bravo"))
    new = parse_rules(_file(("alpha", "a2"), ("charlie", "c1")), "n.yaml", ())
    assert push_diff(new, state.by_watchlist()) == [
        "alpha: added a2; removed a1",
        "charlie: new watchlist, 1 rules",
    ]
