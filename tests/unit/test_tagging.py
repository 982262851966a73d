"""Topic tagging on hand-written sentences, and the seed article as a golden fixture."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from monitor.tagging.model import features
from monitor.tagging.tagged_article import tag_analyzed
from monitor.tagging.tagger import Tagger
from monitor.tagging.tags import TopicTag
from monitor.tagging.taxonomy import load_taxonomy
from monitor.text.article import Article, article_from_text
from monitor.text.nlp import Pipeline, load_pipeline

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_db2a84df3f0e9d80.txt"

SMALL = """\
fields: {title: 2.0, lead: 1.5, body: 1.0}
lead_chars: 40
topics:
  - name: ceasefire
    threshold: 3
    terms:
      - {term: cease-fire, weight: 3}
      - {term: truce, weight: 3, unless: [trade], within: 3}
  - name: air_defence
    threshold: 3
    terms:
      - {term: Patriot, weight: 3, exact: true, requires: [missile, battery], within: 3}
    near:
      - {a: [missile, drone], b: [shot down, intercepted], within: 4, weight: 3}
  - name: coalition
    threshold: 2
    terms:
      - {term: coalition, weight: 2}
      - {term: coalition government, weight: -2}
    exclude: [grand coalition]
"""


@pytest.fixture(scope="module")
def blank() -> Pipeline:
    return load_pipeline("blank", ner=False)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Tagger:
    path = tmp_path_factory.mktemp("taxonomy") / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return Tagger(load_taxonomy(path))


def tags(pipeline: Pipeline, tagger: Tagger, body: str, title: str = "") -> dict[str, TopicTag]:
    analyzed = pipeline.analyze_one(Article("t", title, body))
    return {tag.name: tag for tag in tagger.tag(analyzed)}


# The body is padded past lead_chars (40) so that the body weight (1.0) applies.
PAD = "Officials spoke on Monday in the capital. "


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (PAD + "The coalition met.", {"coalition"}),
        (PAD + "The coalition government met.", set()),
        (PAD + "A grand coalition was formed.", set()),
        (PAD + "Both sides agreed a cease-fire.", {"ceasefire"}),
        (PAD + "Both sides agreed a cease fire.", {"ceasefire"}),
        (PAD + "Both sides agreed a ceasefire.", {"ceasefire"}),
        (PAD + "The unions called a truce.", {"ceasefire"}),
        (PAD + "A trade truce was called.", set()),
        (PAD + "Two drones were shot down overnight.", {"air_defence"}),
        (PAD + "The drones flew for miles and miles before they were shot down.", set()),
        (PAD + "A Patriot battery arrived.", {"air_defence"}),
        (PAD + "The Patriots won the game.", set()),
        (PAD + "A patriot battery of songs.", set()),
    ],
    ids=[
        "term",
        "negative-term",
        "exclude",
        "hyphen",
        "spaced",
        "joined",
        "truce",
        "unless",
        "near",
        "near-too-far",
        "requires",
        "requires-missing",
        "exact-case",
    ],
)
def test_topics(blank: Pipeline, small: Tagger, body: str, expected: set[str]) -> None:
    assert set(tags(blank, small, body)) == expected


@pytest.mark.parametrize(
    ("title", "body", "score"),
    [
        ("Ceasefire holds", "", 6.0),  # title x2
        ("", "A ceasefire holds.", 4.5),  # lead x1.5
        ("", PAD + "A ceasefire holds.", 3.0),  # body x1
        ("", PAD + "Ceasefire, ceasefire, ceasefire, ceasefire.", 9.0),  # max_count 3
    ],
)
def test_field_weights(blank: Pipeline, small: Tagger, title: str, body: str, score: float) -> None:
    assert tags(blank, small, body, title)["ceasefire"].score == score


def test_threshold_edge(blank: Pipeline, tmp_path: Path) -> None:
    text = SMALL.replace(
        "threshold: 3\n    terms:\n      - {term: cease-fire",
        "threshold: 3.01\n    terms:\n      - {term: cease-fire",
    )
    path = tmp_path / "edge.yaml"
    path.write_text(text, encoding="utf-8")
    above = Tagger(load_taxonomy(path))
    assert "ceasefire" not in tags(blank, above, PAD + "A ceasefire holds.")
    assert "ceasefire" in tags(blank, above, "A ceasefire holds.")


@pytest.mark.parametrize(
    ("title", "body", "expected"),
    [
        ("Truce in the east", "Fighting ends.", ("ceasefire", ["Truce"])),
        ("", "Both sides signed a Cease-Fire today.", ("ceasefire", ["Cease-Fire"])),
        ("", PAD + "One missile was intercepted.", ("air_defence", ["missile was intercepted"])),
    ],
)
def test_evidence_offsets(
    blank: Pipeline, small: Tagger, title: str, body: str, expected: tuple[str, list[str]]
) -> None:
    topic, surfaces = expected
    found = tags(blank, small, body, title)[topic]
    texts = {"title": title, "body": body}
    assert [texts[e.field][e.start : e.end] for e in found.evidence] == surfaces


def seed_tags(pipeline: Pipeline) -> tuple[Article, dict[str, TopicTag]]:
    article = article_from_text(SEED.read_text(encoding="utf-8"))
    tagged = tag_analyzed(pipeline.analyze_one(article), Tagger(load_taxonomy()))
    return article, {t.name: t for t in tagged.topics}


def test_seed_article_topics_and_evidence(blank: Pipeline) -> None:
    article, found = seed_tags(blank)
    assert set(found) == {"air_defence", "ceasefire", "coalition"}
    texts = {"title": article.title, "body": article.body}
    surface = {
        name: [texts[e.field][e.start : e.end].lower() for e in tag.evidence]
        for name, tag in found.items()
    }
    assert "coalition of the willing" in surface["coalition"]
    assert "ceasefire" in surface["ceasefire"]
    assert "air defense" in surface["air_defence"]
    for tag in found.values():
        for evidence in tag.evidence:
            assert texts[evidence.field][evidence.start : evidence.end]
            assert (
                " ".join(texts[evidence.field][evidence.start : evidence.end].split())
                in evidence.snippet
            )


def test_seed_article_entities_with_ner() -> None:
    pipeline = load_pipeline("en_core_web_sm")
    if not pipeline.ner:
        pytest.skip("en_core_web_sm is not installed")
    _, found = seed_tags(pipeline)
    assert set(found) == {"air_defence", "ceasefire", "coalition"}
    article = article_from_text(SEED.read_text(encoding="utf-8"))
    canonical = {e.canonical for e in pipeline.analyze_one(article).entities}
    assert {"Emmanuel Macron", "Keir Starmer", "Volodymyr Zelenskyy", "Donald Trump"} <= canonical
    # Places the alias table does not list: only the trained NER finds them.
    assert {"Rome", "Moscow", "London"} <= canonical


def test_evidence_outweighed_by_counter_signs_stays_a_candidate(
    blank: Pipeline, small: Tagger
) -> None:
    text = PAD + "The coalition met. The coalition government fell. The coalition government quit."
    analyzed = blank.analyze_one(Article("t", "", text))
    [found] = small.candidates(analyzed)
    assert found.tag.name == "coalition"
    assert found.tag.score == -2.0
    assert not found.passed
    assert [e.term for e in found.tag.evidence] == ["coalition"]
    assert "coalition" not in tags(blank, small, text)
    # The model reads the score signed (log1p of a score below -1 has no value).
    assert features(analyzed, (found,), small.taxonomy, None)["x:coalition:score"] == -math.log1p(2)
    # Counter-signs alone are no evidence.
    negative = blank.analyze_one(Article("t", "", PAD + "The coalition government met."))
    assert small.candidates(negative) == ()
