"""Analysis of texts of any accepted length: short ones in one pass, long ones in chunks."""

from __future__ import annotations

import pytest

from monitor.text.article import Article
from monitor.text.nlp import BLANK, LONG_TEXT, Pipeline, _chunk_starts, load_pipeline

TAIL = "Emmanuel Macron met Keir Starmer in London on Monday."


@pytest.fixture(scope="module")
def trained() -> Pipeline:
    pipeline = load_pipeline("en_core_web_sm")
    if not pipeline.ner:
        pytest.skip("en_core_web_sm is not installed")
    return pipeline


def _long_article(words: int) -> Article:
    return Article("long", "Summit report", "talks " * words + TAIL)


def test_chunks_are_cut_after_a_space_or_a_line_and_cover_the_text() -> None:
    text = "alpha beta\ngamma delta epsilon"
    starts = list(_chunk_starts(text, 12))
    ends = [*starts[1:], len(text)]
    assert starts[0] == 0
    assert "".join(text[a:b] for a, b in zip(starts, ends, strict=True)) == text
    assert all(b - a <= 12 for a, b in zip(starts, ends, strict=True))
    assert all(text[s - 1] in " \n" for s in starts[1:])


def test_a_text_without_spaces_is_cut_at_the_size() -> None:
    assert list(_chunk_starts("x" * 25, 10)) == [0, 10, 20]


def test_a_text_over_spacys_max_length_is_analysed_whole() -> None:
    article = _long_article(250_000)  # 1.5 million characters
    analyzed = load_pipeline(BLANK, ner=False).analyze([article])[0]
    assert len(analyzed.body.text) > 1_000_000
    assert analyzed.body.lowers[-2:] == ("on", "monday")
    assert article.body[analyzed.body.starts[-1] : analyzed.body.ends[-1]] == "Monday"


def test_entities_past_the_first_chunk_keep_their_offsets(trained: Pipeline) -> None:
    article = _long_article(LONG_TEXT // 6 + 10)
    assert len(article.body) > LONG_TEXT
    short = Article("short", "Summit report", TAIL)
    long_result, short_result = trained.analyze([article, short])
    names = {e.canonical for e in long_result.entities}
    assert {"Emmanuel Macron", "Keir Starmer"} <= names
    for entity in long_result.entities:
        assert article.body[entity.start : entity.end] == entity.text
    assert {e.canonical for e in short_result.entities} >= {"Emmanuel Macron", "Keir Starmer"}
