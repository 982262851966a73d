"""Evaluation: the pure measures, and the tagger's floor on the labelled dev set.

The floor test reads the shared corpus (``../shared/corpus``) and skips where it is absent.
The floor sits just below what the shipped tagger reaches on the validation split
(``make eval``), so a taxonomy or model change that costs precision or recall fails here,
not in production. The test split is never read here.
"""

from __future__ import annotations

import pytest

from bench.topics.data import CORPUS, analyse, load_items, scored
from monitor.tagging.evaluation import (
    TopicScore,
    corpus_articles,
    errors,
    micro_average,
    parse_gold,
    score_topics,
)
from monitor.tagging.model import model_for
from monitor.tagging.tagged_article import tag_analyzed
from monitor.tagging.tagger import Tagger
from monitor.tagging.taxonomy import load_taxonomy

PRECISION_FLOOR = {"air_defence": 0.90, "ceasefire": 0.87, "coalition": 0.85}
# Coalition's F1 floor is lower since the re-reading of 2026-12-08: the 18 validation articles
# it decided (debatable before, left out), hard coalition calls most of them, are scored now
# (0.773 -> 0.682).
F1_FLOOR = {"air_defence": 0.92, "ceasefire": 0.87, "coalition": 0.66}

GOLD = {"a": frozenset({"x"}), "b": frozenset({"x", "y"}), "c": frozenset(), "d": frozenset({"y"})}
PREDICTED = {"a": frozenset({"x"}), "b": frozenset({"y"}), "c": frozenset({"x"})}


def test_scores_count_hits_misses_and_false_alarms() -> None:
    x, y = score_topics(GOLD, PREDICTED, ["x", "y"])
    assert (x.true_positives, x.false_positives, x.false_negatives) == (1, 1, 1)
    assert (x.precision, x.recall, x.f1, x.support) == (0.5, 0.5, 0.5, 2)
    assert (y.precision, y.recall) == (1.0, 0.5)
    assert y.f1 == pytest.approx(2 / 3)


def test_a_topic_that_never_fires_scores_zero() -> None:
    (z,) = score_topics(GOLD, {}, ["x"])
    assert (z.precision, z.recall, z.f1) == (0.0, 0.0, 0.0)


def test_micro_average_pools_counts() -> None:
    pooled = micro_average(score_topics(GOLD, PREDICTED, ["x", "y"]))
    assert pooled == TopicScore("micro", 2, 1, 2)


def test_errors_list_ids() -> None:
    wrong = errors(GOLD, PREDICTED, "x")
    assert (wrong.false_positives, wrong.false_negatives) == (("c",), ("b",))


def test_parse_gold_and_corpus_lines() -> None:
    gold = parse_gold(['{"id": "r:1", "labels": ["x"], "hard": "clear"}', ""])
    assert gold == {"r:1": frozenset({"x"})}
    lines = ['{"id": "r:1", "title": "T", "text": "Body."}', '{"id": "r:2", "title": "U"}']
    assert [a.id for a in corpus_articles(lines, {"r:2"})] == ["r:2"]


@pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus folder is absent")
def test_validation_floor() -> None:
    """The shipped tagger (taxonomy + model) on the validation split's pooled stratum."""
    items = [i for i in scored(load_items(), "validation") if i.pooled]
    analysed = analyse([i.id for i in items])
    gold = {i.id: i.labels for i in items if i.id in analysed}
    taxonomy = load_taxonomy()
    tagger = Tagger(taxonomy, model_for(taxonomy))
    predicted = {
        article_id: frozenset(tag_analyzed(a, tagger).topic_names)
        for article_id, a in analysed.items()
    }
    for score in score_topics(gold, predicted, taxonomy.names):
        assert score.precision >= PRECISION_FLOOR[score.topic], score
        assert score.f1 >= F1_FLOOR[score.topic], score
