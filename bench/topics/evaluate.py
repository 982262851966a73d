"""Measure topic tagging on the labelled set: ``make eval`` (validation), ``make eval-test``.

Usage: ``.venv/bin/python -m bench.topics.evaluate [--split validation|test] [--stage-one]
[--errors TOPIC] [--reliability]``

Tags every labelled article of the split with the code the stream runs (blank pipeline,
the taxonomy, the shipped second stage; ``--stage-one`` for the taxonomy alone) and prints,
per topic, with 95 % bootstrap intervals (2,000 resamples, seeded):

- **pooled**: precision, recall and F1 on the articles drawn by the pool queries;
- **population**: precision and recall with every drawn article weighted by its inverse
  inclusion probability (its pool cell's size over the split's articles of that cell), i.e.
  as they would be over the whole corpus; resampled within cells;
- how many positives stage one (any taxonomy evidence) misses, which bounds recall.

``--reliability`` adds calibration: per confidence bin, the mean confidence of the
candidates against the population-weighted share that truly carry the topic, and the
weighted Brier score. Debatable articles are left out and counted. Run the test split once,
at the end.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.topics.data import (  # noqa: E402
    CORPUS,
    LABELS,
    TOPICS,
    Item,
    analyse,
    load_items,
    population_weights,
    scored,
)
from monitor.tagging.model import DEFAULT_MODEL, TopicModel, features, load_topic_model  # noqa: E402
from monitor.tagging.tagger import Tagger  # noqa: E402
from monitor.tagging.taxonomy import load_taxonomy  # noqa: E402
from monitor.text.nlp import Analyzed  # noqa: E402

RESAMPLES = 2000
SEED = 7

Rows = Sequence[tuple[bool, bool, float]]  # (truth, said, weight)


def measures(rows: Rows) -> tuple[float, float, float]:
    """Weighted precision, recall and F1 (0.0 where undefined)."""
    tp = sum(w for t, s, w in rows if t and s)
    fp = sum(w for t, s, w in rows if s and not t)
    fn = sum(w for t, s, w in rows if t and not s)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def bootstrap(
    groups: Mapping[str, Rows], statistic: Callable[[Rows], tuple[float, ...]]
) -> list[tuple[float, float]]:
    """95 % percentile intervals of each statistic, resampling within each group."""
    rng = random.Random(SEED)
    draws: list[tuple[float, ...]] = []
    for _ in range(RESAMPLES):
        sample: list[tuple[bool, bool, float]] = []
        for rows in groups.values():
            sample.extend(rng.choices(rows, k=len(rows)))
        draws.append(statistic(sample))
    intervals = []
    for k in range(len(draws[0])):
        values = sorted(d[k] for d in draws)
        intervals.append((values[int(0.025 * RESAMPLES)], values[int(0.975 * RESAMPLES) - 1]))
    return intervals


def _fmt(value: float, interval: tuple[float, float]) -> str:
    return f"{value:.3f} [{interval[0]:.2f}-{interval[1]:.2f}]"


def report(
    items: Sequence[Item],
    predicted: Mapping[str, frozenset[str]],
    candidates: Mapping[str, set[str]],
) -> list[str]:
    weights = population_weights(items)
    out = [
        f"{'topic':<12} {'pooled P':<19} {'pooled R':<19} {'pooled F1':<19} "
        f"{'population P':<19} {'population R':<19} {'pos':>4} {'missed by stage 1':>18}"
    ]
    for topic in TOPICS:
        pooled_rows = [
            (topic in i.labels, topic in predicted[i.id], 1.0) for i in items if i.pooled
        ]
        by_cell: dict[str, list[tuple[bool, bool, float]]] = defaultdict(list)
        for i in items:
            if i.id in weights:
                by_cell[str(i.cell)].append(
                    (topic in i.labels, topic in predicted[i.id], weights[i.id])
                )
        population = [row for rows in by_cell.values() for row in rows]
        p, r, f = measures(pooled_rows)
        ci = bootstrap({"all": pooled_rows}, measures)
        wp, wr, _ = measures(population)
        wci = bootstrap(by_cell, measures)
        positives = [i for i in items if topic in i.labels]
        missed = sum(i.id not in candidates[topic] for i in positives)
        out.append(
            f"{topic:<12} {_fmt(p, ci[0]):<19} {_fmt(r, ci[1]):<19} {_fmt(f, ci[2]):<19} "
            f"{_fmt(wp, wci[0]):<19} {_fmt(wr, wci[1]):<19} {len(positives):>4} "
            f"{missed:>4} ({missed / max(1, len(positives)):.1%})"
        )
    return out


BINS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0001)


def reliability(
    items: Sequence[Item],
    analysed: Mapping[str, Analyzed],
    tagger: Tagger,
    model: TopicModel,
) -> list[str]:
    """Calibration on the split: per topic and confidence bin, the mean confidence of the
    candidates against the population-weighted share that truly carry the topic."""
    weights = population_weights(items)
    rows: dict[str, list[tuple[float, bool, float]]] = defaultdict(list)
    for item in items:
        if item.id not in weights:
            continue
        found = tagger.candidates(analysed[item.id])
        feats = features(analysed[item.id], found, tagger.taxonomy, model.space)
        for candidate in found:
            name = candidate.tag.name
            confidence = model.topics[name].confidence(feats)
            rows[name].append((confidence, name in item.labels, weights[item.id]))
    out = ["topic        bin        n  mean conf  weighted share true"]
    for topic in TOPICS:
        brier = sum(w * (c - t) ** 2 for c, t, w in rows[topic]) / sum(w for *_, w in rows[topic])
        for low, high in pairwise(BINS):
            inside = [(c, t, w) for c, t, w in rows[topic] if low <= c < high]
            if not inside:
                continue
            total = sum(w for *_, w in inside)
            mean = sum(c * w for c, _, w in inside) / total
            share = sum(w for _, t, w in inside if t) / total
            out.append(
                f"{topic:<12} {low:.1f}-{min(high, 1):.1f}  {len(inside):>4}"
                f"  {mean:>9.3f}  {share:>8.3f}"
            )
        out.append(
            f"{topic:<12} weighted Brier score {brier:.4f} over {len(rows[topic])} candidates"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--split", choices=("train", "validation", "test"), default="validation")
    parser.add_argument("--stage-one", action="store_true", help="the taxonomy alone")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--errors", choices=TOPICS, help="list this topic's wrong ids")
    parser.add_argument("--reliability", action="store_true", help="calibration by bin")
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"corpus not found at {args.corpus}; nothing to evaluate (skipped)")
        return 0
    everything = load_items(args.labels)
    items = scored(everything, args.split)
    debatable = sum(i.split == args.split and i.debatable for i in everything)
    taxonomy = load_taxonomy()
    model = None if args.stage_one else load_topic_model(args.model)
    tagger = Tagger(taxonomy, model)
    analysed = analyse([i.id for i in items], args.corpus)
    predicted: dict[str, frozenset[str]] = {}
    candidates: dict[str, set[str]] = {t: set() for t in TOPICS}
    confidence: dict[str, dict[str, float | None]] = {}
    for article_id, analyzed in analysed.items():
        tags = tagger.tag(analyzed)
        predicted[article_id] = frozenset(t.name for t in tags)
        confidence[article_id] = {t.name: t.confidence for t in tags}
        for c in tagger.candidates(analyzed):
            candidates[c.tag.name].add(article_id)
    items = [i for i in items if i.id in analysed]
    stage = "taxonomy alone" if model is None else f"taxonomy + model {model.version}"
    pooled = sum(i.pooled for i in items)
    print(
        f"{args.split}: {len(items)} articles ({pooled} pooled), {debatable} debatable left "
        f"out; {stage}; 95 % bootstrap intervals"
    )
    print("\n".join(report(items, predicted, candidates)))
    if args.reliability and model is not None:
        print("\n".join(reliability(items, analysed, tagger, model)))
    if args.errors:
        topic = args.errors
        for item in sorted(items, key=lambda i: i.id):
            truth, said = topic in item.labels, topic in predicted[item.id]
            if truth != said:
                kind = "FP" if said else "FN"
                title = analysed[item.id].article.title[:100]
                print(f"{kind} {item.id} conf={confidence[item.id].get(topic)} {title!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
