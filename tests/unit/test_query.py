"""The query language: parsing, every operator, distances, fields, variants, errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from monitor.rules.presearch import match_query
from monitor.rules.query import QueryError, parse_query
from monitor.rules.syntax import PREFIX, And, Near, Not, Or, Term, Topic
from monitor.tagging.tags import TopicTag
from monitor.text.article import Article
from monitor.text.nlp import Analyzed, Pipeline, load_pipeline

Analyze = Callable[..., Analyzed]


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return load_pipeline("blank", ner=False)


@pytest.fixture(scope="module")
def analyze(pipeline: Pipeline) -> Analyze:
    def make(body: str = "", title: str = "", source: str = "") -> Analyzed:
        return pipeline.analyze_one(Article(id="t", title=title, body=body, source=source))

    return make


def matches(analyze: Analyze, query: str, body: str = "", title: str = "", **kw: object) -> bool:
    topics = kw.pop("topics", ())
    return match_query(query, analyze(body, title, **kw), topics) is not None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "body", "expected"),
    [
        ("missile", "Two Missiles were fired.", True),
        ("MISSILES", "a missile", True),
        ("pause", "The Pentagon paused deliveries.", True),
        ("paused", "a pause in deliveries", True),
        ("defence", "air defense systems", True),
        ("defense", "air defences", True),
        ('"air defence"', "air-defense missiles", True),
        ("air-defence", "air defence missiles", True),
        ('"air defence"', "airdefence is one word here", True),
        ("ceasefire", "a cease-fire was agreed", True),
        ("cease-fire", "a ceasefire was agreed", True),
        ('"cease fire"', "a ceasefire was agreed", True),
        ("organise", "they organized talks", True),
        ("missile", "a missionary", False),
        ("and", "Rock and roll", True),
        ("rock and roll", "rock, roll and jazz", True),
        ("near", "the summit near London", True),
    ],
)
def test_words_match_normalised_forms(
    analyze: Analyze, query: str, body: str, expected: bool
) -> None:
    assert matches(analyze, query, body) is expected


@pytest.mark.parametrize(
    ("query", "body", "expected"),
    [
        ('"air defence"', "air defence", True),
        ('"air defence"', "defence of the air", False),
        ('"air defence"', "air and defence", False),
        ('"air defence"', "Air. Defence.", True),  # punctuation takes no position
        ('"coalition of the willing"', "the “coalition of the willing” met", True),
        ('"coalition of the willing"', "the coalition of willing states", False),
    ],
)
def test_phrases_need_adjacent_words_in_order(
    analyze: Analyze, query: str, body: str, expected: bool
) -> None:
    assert matches(analyze, query, body) is expected


@pytest.mark.parametrize(
    ("query", "body", "expected"),
    [
        ("halt*", "deliveries were halted", True),
        ("halt*", "a halt", True),
        ("halt*", "HALTING everything", True),
        ("halt*", "asphalt roads", False),
        ("negotiat*", "negotiations stalled", True),
        ("suspend*", "a suspension", False),
    ],
)
def test_prefixes_match_word_starts(
    analyze: Analyze, query: str, body: str, expected: bool
) -> None:
    assert matches(analyze, query, body) is expected


@pytest.mark.parametrize(
    ("query", "body", "expected"),
    [
        ("alpha AND bravo", "alpha bravo", True),
        ("alpha AND bravo", "alpha", False),
        ("alpha bravo", "bravo ... alpha", True),  # side by side means AND
        ("alpha bravo", "alpha", False),
        ("alpha OR bravo", "bravo", True),
        ("alpha OR bravo", "charlie", False),
        ("NOT alpha", "bravo", True),
        ("NOT alpha", "bravo alpha", False),
        ("bravo NOT alpha", "bravo", True),
        ("bravo AND NOT alpha", "bravo alpha", False),
        # precedence NOT > AND > OR
        ("alpha OR bravo charlie", "alpha", True),
        ("alpha OR bravo charlie", "bravo", False),
        ("alpha OR bravo AND charlie", "bravo charlie", True),
        ("(alpha OR bravo) charlie", "alpha", False),
        ("(alpha OR bravo) charlie", "alpha charlie", True),
        ("NOT alpha OR bravo", "alpha bravo", True),
        ("NOT alpha OR bravo", "alpha", False),
        ("NOT alpha bravo", "bravo", True),
        ("NOT (alpha bravo)", "alpha", True),
        ("NOT (alpha bravo)", "alpha bravo", False),
        ("NOT NOT alpha", "alpha", True),
    ],
)
def test_boolean_operators_and_precedence(
    analyze: Analyze, query: str, body: str, expected: bool
) -> None:
    assert matches(analyze, query, body) is expected


def test_not_applies_to_the_whole_article(analyze: Analyze) -> None:
    assert not matches(analyze, "bravo NOT alpha", "bravo", title="alpha")
    assert matches(analyze, "bravo NOT body:alpha", "bravo", title="alpha")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("alpha NEAR/1 bravo", True),  # adjacent
        ("alpha NEAR/1 charlie", False),
        ("alpha NEAR/2 charlie", True),  # distance n
        ("alpha NEAR/3 echo", False),  # n + 1
        ("alpha NEAR/4 echo", True),
        ("echo NEAR/4 alpha", True),  # either order
        ("echo NEAR/3 alpha", False),
        ("alpha ONEAR/4 echo", True),
        ("echo ONEAR/4 alpha", False),  # ONEAR keeps the order
        ("echo ONEAR/9 alpha", False),
        ('"alpha bravo" NEAR/1 charlie', True),  # nearest ends
        ('"alpha bravo" NEAR/1 delta', False),
        ('"alpha bravo" NEAR/2 delta', True),
        ('delta NEAR/2 "alpha bravo"', True),
        ("(zulu OR delta) NEAR/1 echo", True),
        ("(zulu OR yankee) NEAR/9 echo", False),
        ("alph* NEAR/1 bravo", True),
        ("alpha NEAR/1 alpha", False),  # the same word is not both sides
        ("charlie NEAR/1 (bravo OR delta)", True),
    ],
)
def test_near_distances(analyze: Analyze, query: str, expected: bool) -> None:
    assert matches(analyze, query, "Alpha, bravo; charlie - delta: echo.") is expected


def test_near_needs_both_sides_in_one_field(analyze: Analyze) -> None:
    assert not matches(analyze, "alpha NEAR/5 bravo", "bravo", title="alpha")
    assert matches(analyze, "alpha NEAR/5 bravo", "alpha bravo", title="alpha")
    assert matches(analyze, "alpha NEAR/5 bravo", "nothing", title="alpha bravo")
    assert not matches(analyze, "body:alpha NEAR/5 bravo", "nothing", title="alpha bravo")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("title:alpha", True),
        ("body:alpha", False),
        ("title:bravo", False),
        ("body:bravo", True),
        ('title:"alpha charlie"', True),
        ("title:alp*", True),
        ("body:alp*", False),
        ("title:(bravo OR charlie)", True),
        ("title:(bravo OR delta)", False),
        ("body:(bravo NOT alpha)", True),
        ("title:(alpha NEAR/1 charlie)", True),
    ],
)
def test_field_scoping(analyze: Analyze, query: str, expected: bool) -> None:
    assert matches(analyze, query, "bravo delta", title="alpha charlie") is expected


def test_topic_entity_and_source_atoms(analyze: Analyze) -> None:
    body = "President Zelensky met the coalition."
    assert matches(analyze, "topic:coalition", body, topics=("coalition",))
    assert not matches(analyze, "topic:coalition", body, topics=("ceasefire",))
    assert matches(analyze, 'entity:"Volodymyr Zelenskyy"', body)
    assert matches(analyze, 'entity:"volodymyr zelenskyy"', body)
    assert not matches(analyze, 'entity:"Vladimir Putin"', body)
    assert matches(analyze, "source:Reuters", body, source="reuters")
    assert not matches(analyze, "source:Reuters", body, source="reuters.com")
    assert matches(analyze, "source:reut*", body, source="Reuters.com")
    assert matches(analyze, 'source:"Associated Press"', body, source="associated press")
    assert matches(
        analyze,
        "coalition topic:coalition NOT source:tass",
        body,
        topics=("coalition",),
        source="AP",
    )


def test_evidence_points_at_the_matched_characters(analyze: Analyze) -> None:
    title = "Pentagon pauses air-defence shipments"
    body = "The Pentagon paused shipments of air defense missiles. No drills."
    query = '"air defence" AND (pause OR halt*) AND Pentagon AND NOT drill NEAR/1 missile'
    found = match_query(query, analyze(body, title))
    assert found is not None
    texts = {"title": title, "body": body}
    seen = [(e.term, e.field, texts[e.field][e.start : e.end]) for e in found]
    assert seen == [
        ("Pentagon", "title", "Pentagon"),
        ("pause", "title", "pauses"),
        ("air defence", "title", "air-defence"),
        ("Pentagon", "body", "Pentagon"),
        ("pause", "body", "paused"),
        ("air defence", "body", "air defense"),
    ]
    # Each snippet marks where its match stands in it: the words that matched.
    assert [e.snippet[slice(*e.mark)] for e in found if e.mark] == [t for _, _, t in seen]


def test_a_snippet_marks_its_match_with_white_space_collapsed(analyze: Analyze) -> None:
    body = "Officials said the\n\n air   defense   batteries\tmoved " + "further " * 20
    found = match_query('"air defence" NEAR/3 batter*', analyze(body))
    assert found is not None
    marked = [e.snippet[slice(*e.mark)] for e in found if e.mark]
    assert marked == ["air defense", "batteries"]
    assert all("\n" not in e.snippet and "  " not in e.snippet for e in found)
    assert found[0].snippet.startswith("Officials said the air defense batteries moved")
    assert found[0].snippet.endswith("…")


def test_evidence_of_near_is_the_closest_pair(analyze: Analyze) -> None:
    body = "troops far far far far away; deploy troops now"
    found = match_query("deploy* NEAR/2 troop*", analyze(body))
    assert found is not None
    assert [(body[e.start : e.end], e.start) for e in found] == [("deploy", 29), ("troops", 36)]


def test_evidence_skips_false_branches(analyze: Analyze) -> None:
    found = match_query("(alpha OR (bravo AND zulu)) AND NOT yankee", analyze("alpha bravo"))
    assert found is not None
    assert [e.term for e in found] == ["alpha"]


def test_parser_builds_a_frozen_tree() -> None:
    tree = parse_query('a OR b c NOT d "e f" NEAR/2 golf*')
    assert tree == Or(
        (
            Term("a", "word"),
            And(
                (
                    Term("b", "word"),
                    Term("c", "word"),
                    Not(Term("d", "word")),
                    Near((Term("e f", "phrase"),), (Term("golf", PREFIX),), 2),
                )
            ),
        )
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        tree.children = ()  # type: ignore[misc]


@pytest.mark.parametrize(
    ("query", "column", "message"),
    [
        ("", 1, "empty query"),
        ("   ", 1, "empty query"),
        ("(alpha OR bravo", 1, "unbalanced '('"),
        ("alpha (bravo OR (charlie)", 7, "unbalanced '('"),
        ("alpha OR bravo)", 15, "unbalanced ')'"),
        ("alpha OR", 7, "OR needs a term on its right"),
        ("alpha AND", 7, "AND needs a term on its right"),
        ("alpha NOT", 7, "NOT needs a term on its right"),
        ("OR alpha", 1, "OR needs a term on its left"),
        ("alpha AND OR bravo", 7, "AND needs a term on its right"),
        ("alpha NEAR bravo", 7, "NEAR needs a distance"),
        ("alpha NEAR/0 bravo", 7, "bad NEAR distance"),
        ("alpha ONEAR/x bravo", 7, "bad NEAR distance"),
        ("alpha NEAR/3", 7, "NEAR needs a term on its right"),
        ("NEAR/3 alpha", 1, "NEAR needs a term on its left"),
        ("(alpha AND bravo) NEAR/3 charlie", 1, "NEAR operands"),
        ("alpha NEAR/3 (bravo AND charlie)", 14, "NEAR operands"),
        ("alpha NEAR/3 topic:ceasefire", 7, "NEAR needs a term on its right"),
        ("alpha NEAR/2 bravo NEAR/2 charlie", 20, "NEAR operands"),
        ("ha*", 1, "at least 3 letters"),
        ("alpha OR ha*", 10, "at least 3 letters"),
        ("al*pha", 3, "only allowed at the end"),
        ("air-def*", 1, "single word"),
        ('"air def*"', 9, "not allowed inside phrases"),
        ("foo:bar", 1, "unknown field prefix 'foo:'"),
        ("alpha Title:bravo", 7, "unknown field prefix"),
        ('alpha "air defence', 7, "unterminated phrase"),
        ('alpha ""', 7, "empty phrase"),
        ("alpha ()", 7, "empty parentheses"),
        ("title:", 1, "title: needs a term"),
        ("title:topic:ceasefire", 1, "title: needs a term"),
        ("title:(body:alpha)", 1, "conflicts"),
        ("topic:", 1, "'topic:' needs a value"),
        ("topic:coalition>=1.5", 1, "confidence bound must be from 0 to 1"),
        ("topic:coalition>=high", 1, "confidence bound must be from 0 to 1"),
        ("alpha topic:coalition>0.5", 7, "a bound is written topic:name>=0.8"),
        ("topic:coalition<=0.5", 1, "a bound is written"),
        ("topic:coalition >= 0.8", 17, "'>=' is not a word"),
        ("alpha ,", 7, "not a word"),
    ],
)
def test_syntax_errors_carry_the_column(query: str, column: int, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    assert caught.value.column == column
    assert message in caught.value.message


def test_a_topic_atom_can_require_a_confidence(analyze: Analyze) -> None:
    body = "Allies met."
    sure = (TopicTag("coalition", 6.0, (), confidence=0.93),)
    unsure = (TopicTag("coalition", 6.0, (), confidence=0.62),)
    no_model = (TopicTag("coalition", 6.0, ()),)
    assert matches(analyze, "topic:coalition>=0.8", body, topics=sure)
    assert matches(analyze, "topic:coalition>=0.93", body, topics=sure)
    assert not matches(analyze, "topic:coalition>=0.8", body, topics=unsure)
    assert matches(analyze, "topic:coalition", body, topics=unsure)
    assert not matches(analyze, "topic:coalition>=0.8", body, topics=no_model)
    assert not matches(analyze, "topic:coalition>=0", body, topics=())
    assert matches(analyze, "topic:coalition>=0.8 OR allies", body, topics=unsure)
    assert parse_query("topic:coalition>=0.8") == Topic("coalition", 0, 0.8)


def test_lower_case_operators_are_words(analyze: Analyze) -> None:
    tree = parse_query("rock and roll or not near")
    assert isinstance(tree, And)
    assert [t.text for t in tree.children if isinstance(t, Term)] == [
        "rock",
        "and",
        "roll",
        "or",
        "not",
        "near",
    ]
