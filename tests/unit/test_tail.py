"""`newsmon alerts tail` as a person reads it: the matched words highlighted by their
offsets, and where and when the article was published."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console
from rich.text import Text

from monitor.rules.presearch import match_query
from monitor.text.article import Article
from monitor.text.nlp import Pipeline, load_pipeline
from newsmon.tail import highlight, render


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return load_pipeline("blank", ner=False)


def _matches(pipeline: Pipeline, query: str, body: str) -> list[dict[str, Any]]:
    analyzed = pipeline.analyze_one(Article(id="a1", title="", body=body))
    found = match_query(query, analyzed, ())
    assert found is not None
    return [e.to_json() for e in found]


def _highlighted(text: Text) -> list[str]:
    return [text.plain[span.start : span.end] for span in text.spans]


def test_a_phrase_lights_up_as_written_in_the_article(pipeline: Pipeline) -> None:
    [match] = _matches(pipeline, '"air defence"', "Kyiv asked for more air defense systems.")
    assert _highlighted(highlight(match)) == ["air defense"]


def test_both_words_of_a_near_light_up(pipeline: Pipeline) -> None:
    body = "Interceptors were scrambled after drones approached the ships at dawn."
    found = _matches(pipeline, "interceptor* NEAR/8 ship*", body)
    assert [_highlighted(highlight(m)) for m in found] == [["Interceptors"], ["ships"]]


def test_a_match_without_a_mark_falls_back_to_the_term_words() -> None:
    old = {"term": "ceasefire", "snippet": "a ceasefire held", "field": "body"}
    assert _highlighted(highlight(old)) == ["ceasefire"]


def test_an_alert_shows_source_publication_time_and_link(pipeline: Pipeline) -> None:
    alert = {
        "rule": {"severity": "high", "watchlist": "ukraine", "id": "ad", "version": "0" * 12},
        "article": {
            "id": "a1",
            "title": "More air defense for Kyiv",
            "url": "https://example.org/news/1",
            "source": "Example Wire",
            "published_at": "2026-12-07T09:30:00Z",
        },
        "topics": [{"name": "air_defence", "score": 4.0, "confidence": 0.91}],
        "story_id": "0123456789abcdef",
        "matches": _matches(pipeline, '"air defence"', "Kyiv asked for more air defense."),
    }
    console = Console(record=True, width=200, color_system=None)
    console.print(render(alert))
    shown = console.export_text()
    assert "Example Wire, 2026-12-07T09:30:00Z  https://example.org/news/1" in shown
    assert "topics: air_defence (91%)" in shown
    assert "body[20:31] Kyiv asked for more air defense." in shown
