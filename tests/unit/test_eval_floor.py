"""Evaluation: the pure measures, and the tagger's floor on the labelled dev set.

The floor test reads the shared corpus (``../shared/corpus``) and skips where it is absent.
The floor sits just below what the default taxonomy reaches (``bench/eval_topics.py``),
so a taxonomy change that costs precision or recall fails here, not in production.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from monitor.evaluation import (
    TopicScore,
    corpus_articles,
    errors,
    micro_average,
    parse_gold,
    score_topics,
)
from monitor.nlp import load_pipeline
from monitor.tagged import tag_analyzed
from monitor.tagging import Tagger
from monitor.taxonomy import load_taxonomy

ROOT = Path(__file__).resolve().parents[2]
DEV_SET = ROOT / "tests" / "data" / "topics_dev.jsonl"
CORPUS = ROOT.parent / "shared" / "corpus" / "news_articles.jsonl.gz"
PRECISION_FLOOR = 0.90
RECALL_FLOOR = 0.88

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
@pytest.mark.parametrize("ner", [False, True], ids=["blank", "ner"])
def test_dev_set_floor(ner: bool) -> None:
    pipeline = load_pipeline("en_core_web_sm" if ner else "blank", ner=ner)
    if ner and not pipeline.ner:
        pytest.skip("en_core_web_sm is not installed")
    gold = parse_gold(DEV_SET.read_text(encoding="utf-8").splitlines())
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        articles = list(corpus_articles(lines, gold))
    assert len(articles) == len(gold)
    tagger = Tagger(load_taxonomy())
    predicted = {
        a.article.id: frozenset(tag_analyzed(a, tagger).topic_names)
        for a in pipeline.analyze(articles)
    }
    for score in score_topics(gold, predicted, tagger.taxonomy.names):
        assert score.precision >= PRECISION_FLOOR, score
        assert score.recall >= RECALL_FLOOR, score
