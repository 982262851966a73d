"""Rule files: loading, validation with locations, versions, matching and the presearcher."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import RuleError
from monitor.rules.files import (
    DEFAULT_WATCHLISTS,
    SEVERITIES,
    Rule,
    RuleSet,
    load_rules,
    parse_rules,
)
from monitor.rules.presearch import Presearcher
from monitor.rules.query import parse_query
from monitor.tagging.tagger import Tagger
from monitor.tagging.tags import TopicTag
from monitor.tagging.taxonomy import load_taxonomy
from monitor.text.article import Article, article_from_text
from monitor.text.nlp import Analyzed, Pipeline, load_pipeline

TOPICS = ("air_defence", "ceasefire", "coalition")
SEED = Path(__file__).parents[2] / "seeds" / "000_db2a84df3f0e9d80.txt"
ISSUE_RULE = """\
watchlists:
  - name: ukraine-air-defence
    route: alerts.air-defence
    rules:
      - id: us-air-defence-pause
        query: '"air defence" AND (pause OR halt* OR suspend*) AND (Pentagon OR "United States")'
        severity: high
        topics: [air_defence]
        must_match: ["The Pentagon paused shipments of air-defence missiles to Ukraine."]
        must_not_match: ["Air defence drills were held in Texas."]
"""


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return load_pipeline("blank", ner=False)


def analyze(pipeline: Pipeline, body: str, title: str = "", source: str = "") -> Analyzed:
    return pipeline.analyze_one(Article(id="t", title=title, body=body, source=source))


def tags(*names: str) -> tuple[TopicTag, ...]:
    return tuple(TopicTag(name, 1.0, ()) for name in names)


def test_the_issue_example_loads_and_matches(pipeline: Pipeline) -> None:
    rules = parse_rules(ISSUE_RULE, "rules.yaml", TOPICS)
    (rule,) = rules.rules
    assert (rule.id, rule.name, rule.severity, rule.watchlist, rule.route, rule.topics) == (
        "us-air-defence-pause",
        "us-air-defence-pause",
        "high",
        "ukraine-air-defence",
        "alerts.air-defence",
        ("air_defence",),
    )
    assert rules.source == ISSUE_RULE
    article = analyze(pipeline, "The Pentagon has paused shipments of air defense missiles.")
    assert rules.match(article, tags("air_defence"))[0].rule == rule
    assert rules.match(article, ()) == ()  # the topics filter
    assert rule.to_json() == {
        "id": rule.id,
        "version": rule.version,
        "name": rule.id,
        "severity": "high",
        "watchlist": "ukraine-air-defence",
    }


def test_defaults_route_severity_name_and_enabled() -> None:
    text = """\
watchlists:
  - name: talks.v2
    rules:
      - {id: a, query: ceasefire}
      - {id: b, query: truce, name: Truce talk, severity: low, enabled: false}
"""
    rules = parse_rules(text, "r.yaml", TOPICS)
    assert [(r.id, r.route, r.severity, r.name) for r in rules.rules] == [
        ("a", "alerts.talks.v2", "medium", "a")
    ]
    assert rules.route_topics() == ("alerts.talks.v2",)


def test_default_watchlists_raise_two_alerts_for_the_seed(pipeline: Pipeline) -> None:
    taxonomy = load_taxonomy()
    rules = load_rules(DEFAULT_WATCHLISTS, taxonomy.names)
    assert len({r.watchlist for r in rules.rules}) >= 2
    article = pipeline.analyze_one(article_from_text(SEED.read_text(encoding="utf-8")))
    found = rules.match(article, Tagger(taxonomy).tag(article))
    ids = {m.rule.id for m in found}
    assert {"us-air-defence-pause", "coalition-summit"} <= ids
    assert len({m.rule.watchlist for m in found}) >= 2
    assert all(r.route.startswith("alerts.") for r in rules.rules)
    pause = next(m for m in found if m.rule.id == "us-air-defence-pause")
    surfaces = [article.body.text[e.start : e.end] for e in pause.matches if e.field == "body"]
    assert surfaces == ["Pentagon", "paused", "air defense"]


def test_matches_are_sorted_title_first_then_by_start(pipeline: Pipeline) -> None:
    rules = parse_rules(ISSUE_RULE, "r.yaml", TOPICS)
    article = analyze(
        pipeline,
        "The United States paused air defence aid.",
        title="Pentagon halts air-defense shipments",
    )
    (found,) = rules.match(article, tags("air_defence"))
    texts = {"title": article.title.text, "body": article.body.text}
    assert [(e.field, texts[e.field][e.start : e.end]) for e in found.matches] == [
        ("title", "Pentagon"),
        ("title", "halts"),
        ("title", "air-defense"),
        ("body", "United States"),
        ("body", "paused"),
        ("body", "air defence"),
    ]


# -- validation ------------------------------------------------------------------------


def at(text: str, line: int, needle: str, plus: int = 0) -> tuple[int, int]:
    """Line and 1-based column of ``needle`` on ``line`` of ``text``."""
    return line, text.splitlines()[line - 1].index(needle) + 1 + plus


def _rule(body: str, watchlist: str = "  - name: wl\n    rules:\n") -> str:
    return "watchlists:\n" + watchlist + body


ERRORS = [
    ("yaml", "watchlists:\n  - name: [wl\n", (3, 1), "expected"),
    ("no watchlists", "rules: []\n", (1, 1), "a mapping with 'watchlists'"),
    ("top key", "watchlists: []\nextra: 1\n", (2, 8), "unknown key 'extra'"),
    ("empty list", "watchlists: []\n", (1, 13), "'watchlists' must be a non-empty"),
    (
        "bad name",
        _rule("      - {id: a, query: x}\n", "  - name: Air Defence\n    rules:\n"),
        (2, 11),
        "watchlist name",
    ),
    (
        "bad route",
        _rule("      - {id: a, query: x}\n", "  - name: wl\n    route: news.wl\n    rules:\n"),
        (3, 12),
        "route",
    ),
    ("no rules", "watchlists:\n  - name: wl\n    rules: []\n", (3, 12), "non-empty list"),
    ("no query", _rule("      - id: a\n        severity: low\n"), (4, 9), "missing 'query'"),
    (
        "bad severity",
        _rule("      - id: a\n        query: x\n        severity: urgent\n"),
        (6, 19),
        "unknown severity 'urgent'",
    ),
    (
        "unknown key",
        _rule("      - id: a\n        query: x\n        severty: low\n"),
        (6, 18),
        "unknown key 'severty'",
    ),
    (
        "enabled",
        _rule("      - id: a\n        query: x\n        enabled: maybe\n"),
        (6, 18),
        "'enabled' must be true or false",
    ),
    (
        "topic list",
        _rule("      - id: a\n        query: x\n        topics: [coalition, drones]\n"),
        (6, 29),
        "unknown topic 'drones'",
    ),
    (
        "duplicate id",
        _rule("      - {id: a, query: x}\n      - {id: a, query: y}\n"),
        (5, 14),
        "duplicate rule id",
    ),
    (
        "topic query",
        _rule("      - id: a\n        query: 'x AND topic:drones'\n"),
        (5, 23),
        "unknown topic 'drones'",
    ),
    (
        "topic query with a bound",
        _rule("      - id: a\n        query: 'x AND topic:drones>=0.8'\n"),
        (5, 23),
        "unknown topic 'drones'",
    ),
    (
        "bound out of range",
        _rule("      - id: a\n        query: 'x AND topic:coalition>=80'\n"),
        (5, 23),
        "confidence bound must be from 0 to 1",
    ),
    ("parens", _rule("      - id: a\n        query: 'x AND (y OR z'\n"), (5, 23), "unbalanced '('"),
    ("dangling", _rule('      - id: a\n        query: "x AND y OR"\n'), (5, 25), "OR needs"),
    (
        "plain near",
        _rule("      - id: a\n        query: x NEAR y\n"),
        (5, 18),
        "NEAR needs a distance",
    ),
    (
        "near zero",
        _rule("      - id: a\n        query: x NEAR/0 y\n"),
        (5, 18),
        "bad NEAR distance",
    ),
    (
        "near operand",
        _rule("      - id: a\n        query: x NEAR/2 (y z)\n"),
        (5, 25),
        "NEAR operands",
    ),
    ("empty", _rule("      - id: a\n        query: '  '\n"), (5, 16), "non-empty string"),
    ("wildcard", _rule("      - id: a\n        query: x OR ab*\n"), (5, 21), "3 letters"),
    (
        "field",
        _rule("      - id: a\n        query: x AND lead:y\n"),
        (5, 22),
        "unknown field prefix",
    ),
    (
        "must_match",
        _rule(
            "      - id: a\n        query: ceasefire\n        must_match:\n"
            "          - A truce held.\n          - A cease-fire held.\n"
        ),
        (7, 13),
        "does not match this must_match example",
    ),
    (
        "must_not_match",
        _rule(
            "      - id: a\n        query: ceasefire NOT truce\n"
            "        must_not_match: [Truce holds, Ceasefire holds]\n"
        ),
        (6, 39),
        "matches this must_not_match example",
    ),
    (
        "story update count",
        _rule("      - id: a\n        query: x\n        story_updates: [{sources: 1}]\n"),
        (6, 35),
        "'sources' must be a whole number, at least 2",
    ),
    (
        "story update span",
        _rule(
            "      - id: a\n        query: x\n        story_updates: [{sources: 3, within: 1h}]\n"
        ),
        (6, 46),
        "'within' goes with 'articles' only",
    ),
    (
        "story update kind",
        _rule(
            "      - id: a\n        query: x\n",
            "  - name: wl\n    story_updates:\n      - {articles: 3, sources: 2}\n    rules:\n",
        ),
        (4, 9),
        "names either 'sources' or 'articles'",
    ),
    (
        "story update twice",
        _rule(
            "      - id: a\n        query: x\n        story_updates: [{sources: 3}, {sources: 3}]\n"
        ),
        (6, 49),
        "duplicate story update 'sources>=3'",
    ),
    (
        "example type",
        _rule("      - id: a\n        query: x\n        must_match: [3]\n"),
        (6, 22),
        "example is text or a mapping",
    ),
]


@pytest.mark.parametrize(
    ("text", "where", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_errors_name_line_and_column(text: str, where: tuple[int, int], message: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rules(text, "rules.yaml", TOPICS)
    error = caught.value
    assert (error.location.path, error.location.line, error.location.column) == (
        "rules.yaml",
        *where,
    )
    assert message in error.message
    if error.source_line:
        assert error.source_line == text.splitlines()[where[0] - 1]
        assert "^" in error.render()


def test_query_errors_name_the_rule_and_point_at_the_character() -> None:
    text = _rule("      - id: pause-rule\n        query: '\"air defence\" AND (pause OR ha*)'\n")
    with pytest.raises(RuleError) as caught:
        parse_rules(text, "rules.yaml", TOPICS)
    assert caught.value.rule_id == "pause-rule"
    assert (caught.value.location.line, caught.value.location.column) == at(text, 5, "ha*")
    assert "rule 'pause-rule'" in str(caught.value)


def test_example_mappings_give_title_and_source() -> None:
    text = _rule(
        "      - id: a\n        query: title:truce source:AP\n        must_match:\n"
        "          - {title: Truce holds, body: nothing else, source: ap}\n"
        "        must_not_match: [Truce holds]\n"
    )
    assert len(parse_rules(text, "r.yaml", TOPICS).rules) == 1


def test_examples_see_topic_and_entity_atoms_as_false() -> None:
    text = _rule(
        "      - id: a\n        query: truce OR topic:ceasefire OR entity:Putin\n"
        "        must_not_match: [Putin spoke about the ceasefire.]\n"
    )
    assert len(parse_rules(text, "r.yaml", TOPICS).rules) == 1


def test_load_rules_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(ISSUE_RULE, encoding="utf-8")
    assert load_rules(path, TOPICS).version == parse_rules(ISSUE_RULE, "x", TOPICS).version
    with pytest.raises(RuleError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml", TOPICS)


# -- versions --------------------------------------------------------------------------


def test_versions_are_stable_and_follow_the_definition() -> None:
    first = parse_rules(ISSUE_RULE, "a.yaml", TOPICS)
    again = parse_rules(ISSUE_RULE.replace("high\n", "high  # note\n"), "b.yaml", TOPICS)
    assert first.rules[0].version == again.rules[0].version
    assert first.version == again.version
    assert len(first.version) == len(first.rules[0].version) == 12
    int(first.version, 16)
    for old, new in [
        ("severity: high", "severity: low"),
        ("OR halt*", "OR stop*"),
        ("alerts.air-defence", "alerts.other"),
        ("id: us-", "id: uk-"),
    ]:
        changed = parse_rules(ISSUE_RULE.replace(old, new), "a.yaml", TOPICS)
        assert changed.rules[0].version != first.rules[0].version, new
        assert changed.version != first.version


def test_rule_set_version_ignores_rule_order() -> None:
    a = Rule("a", "a", "x", "low", "w", "alerts.w")
    b = Rule("b", "b", "y", "low", "w", "alerts.w")
    assert RuleSet([a, b]).version == RuleSet([b, a]).version
    assert RuleSet([a]).version != RuleSet([a, b]).version
    assert a.version == Rule("a", "a", "x", "low", "w", "alerts.w").version
    assert "info" in SEVERITIES


# -- the presearcher ---------------------------------------------------------------------


def test_presearch_keeps_rules_that_need_no_term_always() -> None:
    queries = [
        parse_query(q)
        for q in (
            "alpha bravo",
            "NOT alpha",
            "topic:coalition",
            "alpha OR NOT bravo",
            "source:ap* alpha",
            "(alpha OR bravo) NEAR/2 charlie",
        )
    ]
    assert Presearcher(queries).always == (1, 2, 3)


def test_presearch_skips_rules_whose_terms_are_absent(pipeline: Pipeline) -> None:
    rules = RuleSet(
        [
            Rule(f"r{i}", f"r{i}", q, "low", "w", "alerts.w")
            for i, q in enumerate(
                ["alpha bravo", "charlie OR delta", "NOT echo", '"alpha charlie" NEAR/3 delta']
            )
        ]
    )
    presearch = rules._presearch  # white-box: the candidate list itself
    article = analyze(pipeline, "nothing to see here")
    assert presearch.candidates(presearch.index.hits(article)) == [2]
    article = analyze(pipeline, "alpha and delta")
    assert presearch.candidates(presearch.index.hits(article)) == [1, 2]


_TERMS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    '"alpha bravo"',
    '"air defence"',
    "cease-fire",
    "ceasefire",
    "char*",
    "bra*",
    "title:delta",
    "body:echo",
    "(alpha OR echo)",
]
_ATOMS = [*_TERMS, "topic:coalition", "NOT bravo", "source:ap"]
_WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "charlies",
    "delta",
    "echo",
    "air",
    "defence",
    "air-defense",
    "cease",
    "fire",
    "ceasefire",
    "cease-fire",
    ",",
    "zulu",
]


def _near(terms: tuple[str, str, int, bool]) -> str:
    left, right, distance, ordered = terms
    return f"{left} {'ONEAR' if ordered else 'NEAR'}/{distance} {right}"


_leaf = st.sampled_from(_ATOMS) | st.tuples(
    st.sampled_from(_TERMS), st.sampled_from(_TERMS), st.integers(1, 4), st.booleans()
).map(_near)
_query = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"({p[0]} AND {p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]} OR {p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]} {p[1]})"),
        inner.map(lambda q: f"NOT {q}"),
    ),
    max_leaves=6,
)
_text = st.lists(st.sampled_from(_WORDS), max_size=14).map(" ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    queries=st.lists(_query, min_size=1, max_size=8),
    title=_text,
    body=_text,
    topical=st.booleans(),
    source=st.sampled_from(["", "AP", "Reuters"]),
)
def test_presearch_agrees_with_evaluating_every_rule(
    pipeline: Pipeline, *, queries: list[str], title: str, body: str, topical: bool, source: str
) -> None:
    rules = RuleSet(
        [Rule(f"r{i}", f"r{i}", q, "low", "w", "alerts.w") for i, q in enumerate(queries)]
    )
    article = analyze(pipeline, body or "zulu", title, source)
    topics = tags("coalition") if topical else ()
    assert rules.match(article, topics) == rules.match_all(article, topics)


def test_severity_at_least_orders_critical_first_and_refuses_unknown_ones() -> None:
    from monitor.rules.ruleset import at_least

    assert at_least("critical", "high")
    assert at_least("high", "high")
    assert not at_least("medium", "high")
    assert not at_least("urgent", "info"), "a severity newsmon does not know admits nothing"


def test_story_updates_come_from_the_watchlist_unless_a_rule_has_its_own() -> None:
    text = _rule(
        "      - {id: a, query: x}\n"
        "      - {id: b, query: y, story_updates: [{articles: 5}]}\n"
        "      - {id: c, query: z, story_updates: []}\n",
        "  - name: wl\n    story_updates:\n      - sources: 3\n"
        "      - {articles: 10, within: 1h30m}\n    rules:\n",
    )
    rules = {r.id: r for r in parse_rules(text, "rules.yaml", TOPICS).rules}
    names = {k: [t.name for t in r.story_updates] for k, r in rules.items()}
    assert names == {"a": ["sources>=3", "articles>=10/1h30m"], "b": ["articles>=5"], "c": []}
    assert rules["a"].story_updates[1].within == 5400
    plain = parse_rules(_rule("      - {id: a, query: x}\n"), "r.yaml", TOPICS).rules[0]
    assert plain.version != rules["a"].version, "the thresholds are part of the definition"
    assert "story_updates" not in plain.definition(), "absent: versions of older rules stand"
