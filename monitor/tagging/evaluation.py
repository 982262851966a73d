"""Evaluation of the topic tagger against hand-labelled articles.

Pure functions over label sets: ``score_topics(gold, predicted, topics)`` returns one
:class:`TopicScore` per topic (true/false positives, false negatives, precision, recall,
F1, support); ``errors(gold, predicted, topic)`` lists the ids the tagger got wrong.
Reading the development set and the corpus is left to the caller, who passes the lines
in (``parse_gold``, ``corpus_articles``), so these functions never touch a file.

Conventions: an id missing from ``predicted`` was tagged with nothing; precision with no
predictions, recall with no support and F1 with both at zero are 0.0 (a topic that never
fires scores nothing, it does not pass vacuously).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from monitor.text.article import Article, article_from_mapping

Labels = Mapping[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class TopicScore:
    """How one topic fared: counts and the measures derived from them."""

    topic: str
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def support(self) -> int:
        """How many gold articles carry the topic."""
        return self.true_positives + self.false_negatives

    @property
    def precision(self) -> float:
        return _ratio(self.true_positives, self.true_positives + self.false_positives)

    @property
    def recall(self) -> float:
        return _ratio(self.true_positives, self.support)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True)
class Errors:
    """The ids a topic got wrong, sorted."""

    false_positives: tuple[str, ...]
    false_negatives: tuple[str, ...]


def score_topic(gold: Labels, predicted: Labels, topic: str) -> TopicScore:
    """Counts for one topic over the ids of ``gold``."""
    tp = fp = fn = 0
    for article_id, labels in gold.items():
        said = topic in predicted.get(article_id, frozenset())
        truth = topic in labels
        tp += said and truth
        fp += said and not truth
        fn += truth and not said
    return TopicScore(topic, tp, fp, fn)


def score_topics(gold: Labels, predicted: Labels, topics: Sequence[str]) -> tuple[TopicScore, ...]:
    """One score per topic, in the order given."""
    return tuple(score_topic(gold, predicted, topic) for topic in topics)


def micro_average(scores: Iterable[TopicScore]) -> TopicScore:
    """All topics pooled into one score named ``micro``."""
    counts = [(s.true_positives, s.false_positives, s.false_negatives) for s in scores]
    tp, fp, fn = (sum(column) for column in zip(*counts, strict=True)) if counts else (0, 0, 0)
    return TopicScore("micro", tp, fp, fn)


def errors(gold: Labels, predicted: Labels, topic: str) -> Errors:
    """False positives and false negatives of one topic, by id."""
    fps, fns = [], []
    for article_id, labels in sorted(gold.items()):
        said = topic in predicted.get(article_id, frozenset())
        if said and topic not in labels:
            fps.append(article_id)
        elif topic in labels and not said:
            fns.append(article_id)
    return Errors(tuple(fps), tuple(fns))


def parse_gold(lines: Iterable[str]) -> dict[str, frozenset[str]]:
    """Gold labels from the JSON lines of a development set (``{"id", "labels"}``)."""
    gold: dict[str, frozenset[str]] = {}
    for line in lines:
        if line.strip():
            record = json.loads(line)
            gold[str(record["id"])] = frozenset(record["labels"])
    return gold


def corpus_articles(lines: Iterable[str], wanted: Iterable[str] | None = None) -> Iterator[Article]:
    """Articles from corpus JSON lines (``{id, title, text, ...}``), optionally only ``wanted``.

    Records with neither title nor text are skipped: the stream dead-letters them."""
    keep = frozenset(wanted) if wanted is not None else None
    for line in lines:
        record = json.loads(line)
        if keep is not None and str(record["id"]) not in keep:
            continue
        title, body = record.get("title") or "", record.get("text") or ""
        if not (title.strip() or body.strip()):
            continue  # the stream refuses an article with no text at all
        yield article_from_mapping(
            {
                "id": str(record["id"]),
                "title": title,
                "body": body,
                "source": record.get("source") or "",
            }
        )


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0
