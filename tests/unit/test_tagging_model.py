"""The learned second stage: features, calibrated confidence, decisions, the model file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from agents.settings import SettingsError, load_settings
from monitor.errors import TopicModelError
from monitor.tagging.model import (
    DEFAULT_MODEL,
    FEATURE_VERSION,
    FORMAT,
    TopicClassifier,
    TopicModel,
    article_features,
    features,
    load_topic_model,
    model_for,
    model_from_json,
    taxonomy_fingerprint,
)
from monitor.tagging.tagged_article import tag_analyzed
from monitor.tagging.tagger import Tagger
from monitor.tagging.taxonomy import Taxonomy, load_taxonomy
from monitor.text.article import Article, article_from_text
from monitor.text.nlp import Analyzed, Pipeline, load_pipeline
from tests.conftest import SEED

SEED_READINGS = Path(__file__).resolve().parents[1] / "data" / "seed_readings.jsonl"


@pytest.fixture(scope="module")
def blank() -> Pipeline:
    return load_pipeline("blank", ner=False)


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy()


def analyse(blank: Pipeline, title: str, body: str) -> Analyzed:
    return blank.analyze_one(Article(id="a1", title=title, body=body))


def classifier(weights: dict[str, float], threshold: float = 0.5) -> TopicClassifier:
    return TopicClassifier(weights, bias=0.0, slope=1.0, intercept=0.0, threshold=threshold)


def model_of(taxonomy: Taxonomy, **topics: TopicClassifier) -> TopicModel:
    return TopicModel("test-1", taxonomy_fingerprint(taxonomy), topics)


def test_features_describe_words_and_the_taxonomys_evidence(
    blank: Pipeline, taxonomy: Taxonomy
) -> None:
    analyzed = analyse(blank, "Truce agreed", "Both sides agreed a cease-fire in the east.")
    candidates = Tagger(taxonomy).candidates(analyzed)
    found = features(analyzed, candidates, taxonomy)
    assert [c.tag.name for c in candidates] == ["ceasefire"]
    assert found["x:ceasefire:score"] == pytest.approx(math.log1p(candidates[0].tag.score))
    assert found["x:ceasefire:passed"] == 1.0
    assert found["x:ceasefire:title"] == 1.0
    assert "x:coalition:score" not in found
    words = [v for k, v in found.items() if k.startswith(("w:", "b:"))]
    assert sum(v * v for v in words) == pytest.approx(1.0)  # unit length, whatever the size
    assert "b:truce agre" in found  # adjacent norms of the title
    assert features(analyzed, candidates, taxonomy) == found  # deterministic


def test_the_confidence_decides_and_is_reported(blank: Pipeline, taxonomy: Taxonomy) -> None:
    analyzed = analyse(blank, "Truce agreed", "Both sides agreed a cease-fire in the east.")
    keen = model_of(taxonomy, ceasefire=classifier({"x:ceasefire:passed": 3.0}))
    (tag,) = Tagger(taxonomy, keen).tag(analyzed)
    assert tag.name == "ceasefire"
    assert tag.confidence == pytest.approx(1 / (1 + math.exp(-3.0)), abs=1e-4)
    doubtful = model_of(taxonomy, ceasefire=classifier({"x:ceasefire:passed": 3.0}, 0.99))
    assert Tagger(taxonomy, doubtful).tag(analyzed) == ()


def test_the_model_can_keep_a_candidate_the_taxonomy_alone_drops(
    blank: Pipeline, taxonomy: Taxonomy
) -> None:
    # One weak piece of evidence: a candidate, below the taxonomy's threshold.
    body = "The weather stayed mild all week. " * 150 + "Diplomats spoke of a truce."
    analyzed = analyse(blank, "", body)
    (candidate,) = Tagger(taxonomy).candidates(analyzed)
    assert not candidate.passed
    assert Tagger(taxonomy).tag(analyzed) == ()
    model = model_of(taxonomy, ceasefire=classifier({"w:truce": 40.0}))
    assert [t.name for t in Tagger(taxonomy, model).tag(analyzed)] == ["ceasefire"]


def test_a_topic_the_model_does_not_cover_keeps_the_taxonomys_verdict(
    blank: Pipeline, taxonomy: Taxonomy
) -> None:
    analyzed = analyse(blank, "Truce agreed", "Both sides agreed a cease-fire in the east.")
    model = model_of(taxonomy, coalition=classifier({}))
    (tag,) = Tagger(taxonomy, model).tag(analyzed)
    assert (tag.name, tag.confidence) == ("ceasefire", None)


def test_the_model_file_round_trips_and_refuses_strangers(tmp_path: Path) -> None:
    model = TopicModel("v1", "abc", {"coalition": classifier({"w:alli": 1.5}, 0.7)})
    assert model_from_json(json.loads(json.dumps(model.to_json()))) == model
    wrong = model.to_json() | {"features": 999}
    with pytest.raises(TopicModelError, match="run `make train`"):
        model_from_json(wrong, "m.json")
    with pytest.raises(TopicModelError, match="not a topic model"):
        model_from_json({"format": FORMAT, "features": FEATURE_VERSION}, "m.json")
    garbage = tmp_path / "m.json"
    garbage.write_text("{", encoding="utf-8")
    with pytest.raises(TopicModelError, match=r"m\.json"):
        load_topic_model(garbage)


def test_a_model_is_bound_to_its_taxonomy(tmp_path: Path, taxonomy: Taxonomy) -> None:
    stranger = TopicModel("v1", "0000", {})
    with pytest.raises(TopicModelError, match="another taxonomy"):
        Tagger(taxonomy, stranger)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(stranger.to_json()), encoding="utf-8")
    with pytest.raises(TopicModelError, match="another taxonomy"):
        model_for(taxonomy, str(path))
    assert model_for(taxonomy, "none") is None
    edited = Taxonomy(taxonomy.topics[:1], taxonomy.field_weights, taxonomy.lead_chars)
    assert model_for(edited, "") is None  # a custom taxonomy runs without the shipped model


def test_a_missing_model_file_stops_start_up_with_the_variables_name() -> None:
    with pytest.raises(SettingsError, match="NEWSMON_TOPIC_MODEL"):
        load_settings({"NEWSMON_TOPIC_MODEL": "/nowhere/model.json"})
    assert load_settings({"NEWSMON_TOPIC_MODEL": "none"}).topic_model == "none"


def test_the_shipped_model_fits_the_shipped_taxonomy(taxonomy: Taxonomy) -> None:
    model = load_topic_model(DEFAULT_MODEL)
    assert model.applies_to(taxonomy)
    assert model.space is not None
    dimensions = {f"d:{k}" for k in range(model.space.dimensions)}
    for c in model.topics.values():  # a weight under 0.001 is pruned: most, not all
        assert len(dimensions & set(c.weights)) > 0.9 * len(dimensions)
    assert set(model.topics) == set(taxonomy.names)
    for c in model.topics.values():
        assert 0.0 < c.threshold < 1.0
        assert c.slope > 0  # calibration keeps the classifier's order


def test_the_seed_article_carries_the_topics_its_readers_gave_it(
    blank: Pipeline, taxonomy: Taxonomy, tagged_schema: Any
) -> None:
    tagger = Tagger(taxonomy, model_for(taxonomy))
    analyzed = blank.analyze_one(article_from_text(SEED.read_text(encoding="utf-8")))
    record = tag_analyzed(analyzed, tagger).to_json()
    tagged_schema.validate(record)
    confidences = {t["name"]: t["confidence"] for t in record["topics"]}
    readings = [json.loads(line) for line in SEED_READINGS.read_text().splitlines()]
    agreed = {
        t
        for t in ("air_defence", "ceasefire", "coalition")
        if sum(t in r["labels"] for r in readings) * 2 > len(readings)
    }
    assert agreed == {"air_defence", "coalition"}  # three readers, blind to the tagger
    assert set(confidences) == agreed
    assert all(0.5 <= c <= 1.0 for c in confidences.values())


def test_the_serving_path_gives_the_very_confidence_of_the_training_features(
    blank: Pipeline, taxonomy: Taxonomy
) -> None:
    # The worker scores from article_features (no feature names built for the words);
    # training and evaluation score from features(). Every value must be identical.
    shipped = load_topic_model()
    own = classifier({"w:truce": 0.7, "b:ceas fire": 1.3, "t:truce": -0.4, "len:2": 0.2})
    articles = [
        article_from_text(SEED.read_text(encoding="utf-8")),
        Article(id="a", title="Truce agreed", body="Both sides agreed a cease-fire. " * 9),
        Article(id="b", title="Patriot batteries", body="Air defence units shot down drones."),
        Article(id="c", title="Coalition talks", body="The coalition of the willing met in Paris."),
    ]
    for article in articles:
        analyzed = blank.analyze_one(article)
        candidates = Tagger(taxonomy).candidates(analyzed)
        assert candidates, article.title
        named = features(analyzed, candidates, taxonomy, shipped.space)
        looked_up = article_features(analyzed, candidates, taxonomy, shipped.space)
        assert any(name.startswith("d:") for name in named)  # the document space is read
        for topic in (*shipped.topics.values(), own):
            assert topic.confidence_of(looked_up) == topic.confidence(named)
        decided = {t.name: t.confidence for t in shipped.decide(analyzed, candidates, taxonomy)}
        for name, confidence in decided.items():
            assert confidence == round(shipped.topics[name].confidence(named), 4)
    assert own.confidence(features(blank.analyze_one(articles[1]), (), taxonomy)) != 0.5
