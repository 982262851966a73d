"""Tagged records on news.tagged can carry their words: a subscriber rebuilds the same fields."""

from __future__ import annotations

import json

import pytest

from monitor.tagging.tagged_article import tag_analyzed, tagged_from_json
from monitor.tagging.tagger import Tagger
from monitor.tagging.taxonomy import load_taxonomy
from monitor.text.article import Article, article_from_text
from monitor.text.fields import field_from_spans
from monitor.text.nlp import Pipeline, load_pipeline
from tests.conftest import SEED


@pytest.fixture(scope="module")
def blank() -> Pipeline:
    return load_pipeline("blank", ner=False)


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(load_taxonomy())


ARTICLES = [
    ("Cease-fire talks", "A cease-fire was agreed. Air-defence units, the U.S. said, stay."),
    ("", "The minister's reply: 'no' -- then a three-way, self-styled co-op deal."),
    ("Überraschung in São Paulo", "Café owners’ strike; prices up 5.5% — “again”."),
    ("Title only, no body", ""),
    ("Hyphens - spaced, -leading and trailing-", "x-ray x - ray re-re-election"),
]


@pytest.mark.parametrize(("title", "body"), ARTICLES)
def test_words_on_the_wire_rebuild_the_analysed_fields(
    blank: Pipeline, tagger: Tagger, title: str, body: str
) -> None:
    article = Article(id="a1", title=title, body=body)
    analyzed = blank.analyze_one(article)
    wire = json.loads(json.dumps(tag_analyzed(analyzed, tagger).to_json(words=True)))
    assert tagged_from_json(wire).analyzed() == analyzed


def test_the_seed_article_round_trips(blank: Pipeline, tagger: Tagger) -> None:
    analyzed = blank.analyze_one(article_from_text(SEED.read_text(encoding="utf-8")))
    wire = json.loads(json.dumps(tag_analyzed(analyzed, tagger).to_json(words=True)))
    assert tagged_from_json(wire).analyzed() == analyzed


def test_words_only_when_asked_for_and_never_without_the_article(
    blank: Pipeline, tagger: Tagger
) -> None:
    tagged = tag_analyzed(blank.analyze_one(Article(id="a1", title="T", body="A truce.")), tagger)
    assert "words" not in tagged.to_json()
    assert "words" not in tagged.to_json(with_article=False, words=True)  # newsmon tag
    assert "words" in tagged.to_json(words=True)


def test_a_record_without_words_has_no_analysis(blank: Pipeline, tagger: Tagger) -> None:
    analyzed = blank.analyze_one(Article(id="a1", title="Talks", body="A ceasefire."))
    tagged = tagged_from_json(tag_analyzed(analyzed, tagger).to_json())
    assert tagged.fields is None
    assert tagged.analyzed() is None


@pytest.mark.parametrize(
    ("starts", "ends", "compounds"),
    [
        ([0, 4], [3], []),  # one end missing
        ([0], [3], [(0, 1)]),  # a compound past the last word
        ([0], [3], [(0, 0)]),  # a compound of one word
        ([0, 40], [3, 44], []),  # a word outside the text
    ],
)
def test_spans_that_do_not_fit_the_text_are_refused(
    starts: list[int], ends: list[int], compounds: list[tuple[int, int]]
) -> None:
    with pytest.raises(ValueError, match="body"):
        field_from_spans("body", "Two words", starts, ends, compounds)
