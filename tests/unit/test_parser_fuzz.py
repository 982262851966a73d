"""The rule language meets arbitrary input: its documented errors, and nothing else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import DefinitionError
from monitor.rules.files import parse_rules
from monitor.rules.lexer import QueryError
from monitor.rules.parser import parse_query
from monitor.rules.syntax import Node

TOPICS = ("air_defence", "ceasefire", "coalition")
#: Pieces of the query language, so that random text often comes close to a query.
_PIECES = st.sampled_from(
    [
        "AND", "OR", "NOT", "NEAR/3", "ONEAR/2", "(", ")", '"', "*", ":", "title:", "body:",
        "topic:coalition", "topic:ceasefire>=0.8", "entity:", "source:", "ceasefire", "talk*",
        "air defence", " ", "\n", "\\", "é", "0.5", ">=", "-",
    ]
)  # fmt: skip
_QUERIES = st.one_of(st.text(max_size=60), st.lists(_PIECES, max_size=12).map(" ".join))


@settings(max_examples=400, deadline=None)
@given(_QUERIES)
def test_a_query_parses_or_is_refused_with_a_column(text: str) -> None:
    try:
        node = parse_query(text)
    except QueryError as exc:
        column = exc.column
        assert column >= 1
    else:
        assert isinstance(node, Node)


_YAML = st.one_of(
    st.text(max_size=120),
    _QUERIES.map(
        lambda q: (
            "watchlists:\n  - name: w\n    rules:\n      - id: r\n"
            f"        query: {q!r}\n        severity: high\n"
        )
    ),
)


@settings(max_examples=300, deadline=None)
@given(_YAML)
def test_a_rule_file_loads_or_is_refused_with_file_line_and_column(text: str) -> None:
    try:
        parse_rules(text, "fuzz.yaml", TOPICS)
    except DefinitionError as exc:
        rendered = exc.render()
        assert rendered.startswith("fuzz.yaml:")


def test_a_control_character_in_a_rule_file_is_refused_where_it_stands() -> None:
    text = "watchlists:\n  - name: w\x08\n"
    try:
        parse_rules(text, "rules.yaml", TOPICS)
    except DefinitionError as exc:
        rendered = exc.render()
    else:
        raise AssertionError("a control character was accepted")
    assert rendered.startswith("rules.yaml:2:12: character 0x0008 is not allowed in YAML")
