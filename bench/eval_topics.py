"""Measure the topic tagger on the labelled development set.

Usage: ``.venv/bin/python bench/eval_topics.py [--ner] [--errors] [--topic NAME]``

Loads ``tests/data/topics_dev.jsonl``, looks each id up in the shared corpus
(``../shared/corpus/news_articles.jsonl.gz``), tags every article with the code the
stream runs (``load_pipeline`` -> ``Tagger`` -> ``tag_analyzed``) and prints precision,
recall, F1 and support per topic. ``--errors`` also lists false positives and false
negatives with their strongest evidence. Without the corpus it says so and exits 0.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.evaluation import (  # noqa: E402 - the repository root goes on sys.path first
    TopicScore,
    corpus_articles,
    errors,
    micro_average,
    parse_gold,
    score_topics,
)
from monitor.nlp import load_pipeline  # noqa: E402
from monitor.tagged import TaggedArticle, tag_analyzed  # noqa: E402
from monitor.tagging import Tagger  # noqa: E402
from monitor.taxonomy import DEFAULT_TAXONOMY, load_taxonomy  # noqa: E402

DEV_SET = ROOT / "tests" / "data" / "topics_dev.jsonl"
CORPUS = ROOT.parent / "shared" / "corpus" / "news_articles.jsonl.gz"


def tag_dev_set(
    dev: Path, corpus: Path, taxonomy: Path, *, ner: bool
) -> tuple[dict[str, frozenset[str]], dict[str, TaggedArticle]]:
    """Gold labels and the tagged article of every dev-set id found in the corpus."""
    gold = parse_gold(dev.read_text(encoding="utf-8").splitlines())
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        articles = list(corpus_articles(lines, gold))
    pipeline = load_pipeline("en_core_web_sm" if ner else "blank", ner=ner)
    tagger = Tagger(load_taxonomy(taxonomy))
    tagged = {a.article.id: tag_analyzed(a, tagger) for a in pipeline.analyze(articles)}
    return {i: gold[i] for i in tagged}, tagged


def print_table(scores: Sequence[TopicScore]) -> None:
    print(f"{'topic':<14}{'P':>7}{'R':>7}{'F1':>7}{'TP':>5}{'FP':>5}{'FN':>5}{'support':>9}")
    for s in scores:
        print(
            f"{s.topic:<14}{s.precision:>7.3f}{s.recall:>7.3f}{s.f1:>7.3f}"
            f"{s.true_positives:>5}{s.false_positives:>5}{s.false_negatives:>5}{s.support:>9}"
        )


def print_errors(
    gold: dict[str, frozenset[str]], tagged: dict[str, TaggedArticle], topic: str
) -> None:
    """The ids one topic got wrong, each with its title and strongest evidence."""
    predicted = {i: frozenset(t.topic_names) for i, t in tagged.items()}
    wrong = errors(gold, predicted, topic)
    for kind, ids in (
        ("false positives", wrong.false_positives),
        ("false negatives", wrong.false_negatives),
    ):
        print(f"\n== {topic}: {kind} ({len(ids)})")
        for article_id in ids:
            item = tagged[article_id]
            found = next((t for t in item.topics if t.name == topic), None)
            print(
                f"- {article_id} gold={sorted(gold[article_id])} "
                f"tagged={list(item.topic_names)} title={item.article.title[:90]!r}"
            )
            if found:
                print(
                    f"    score={found.score}: "
                    + "; ".join(f"{e.term}@{e.field}:{e.start}" for e in found.evidence[:6])
                )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ner", action="store_true", help="run en_core_web_sm NER too")
    parser.add_argument("--errors", action="store_true", help="list wrong ids with evidence")
    parser.add_argument("--topic", action="append", help="only these topics' errors")
    parser.add_argument("--dev", type=Path, default=DEV_SET)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--taxonomy", type=Path, default=DEFAULT_TAXONOMY)
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"corpus not found at {args.corpus}; nothing to evaluate (skipped)")
        return 0
    gold, tagged = tag_dev_set(args.dev, args.corpus, args.taxonomy, ner=args.ner)
    names = load_taxonomy(args.taxonomy).names
    predicted = {i: frozenset(t.topic_names) for i, t in tagged.items()}
    scores = score_topics(gold, predicted, names)
    print(f"{len(gold)} articles, pipeline: {'en_core_web_sm (NER)' if args.ner else 'blank'}")
    print_table([*scores, micro_average(scores)])
    if args.errors:
        for topic in args.topic or names:
            print_errors(gold, tagged, topic)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
