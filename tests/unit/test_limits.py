"""Bounded resources: a rule file cannot ask for unbounded work."""

from __future__ import annotations

import pytest

from monitor.errors import RuleError
from monitor.rules import limits
from monitor.rules.files import parse_rules

RULE = "watchlists:\n  - name: w\n    rules:\n      - id: r\n        query: '{query}'\n"


@pytest.mark.parametrize(
    ("query", "message", "column"),
    [
        ("(" * 40 + "truce" + ")" * 40, "nested deeper than 32", 17 + 32),
        (" OR ".join(f"w{i}" for i in range(300)), "300 terms in one query", 17),
        ("truce " * 700, "longer than 4000 characters", 17 + 4000),
    ],
)
def test_over_limit_queries_are_refused_where_they_exceed(
    query: str, message: str, column: int
) -> None:
    with pytest.raises(RuleError, match=message) as caught:
        parse_rules(RULE.format(query=query), "f.yaml", [])
    assert (caught.value.location.line, caught.value.location.column) == (5, column)


def test_quoted_parentheses_do_not_count_as_nesting() -> None:
    query = '"' + "(" * 40 + 'truce"'
    assert parse_rules(RULE.format(query=query), "f.yaml", []).rules


def test_rule_sets_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitor.rules.files.MAX_RULES", 2)
    rules = "".join(f"      - id: r{i}\n        query: truce\n" for i in range(3))
    text = "watchlists:\n  - name: w\n    rules:\n" + rules
    with pytest.raises(RuleError, match="3 rules; a rule set holds at most 2"):
        parse_rules(text, "f.yaml", [])
    assert limits.MAX_RULES >= 10_000, "the benchmarks load 10,000 rules"
