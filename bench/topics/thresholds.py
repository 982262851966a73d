"""How well a way of choosing the topic thresholds carries over to articles it never saw.

Usage: ``.venv/bin/python -m bench.topics.thresholds [--repeats 20]``

The frozen test split is for the end of the work, so this compares the ways on train and
validation only. Each repeat sets a fifth of their stories aside as a stand-in test set
and trains on the rest with ``make train``'s own code (``train.train_topic``:
regularisation, out-of-fold calibration): a quarter of the remaining stories play the
validation split, the rest the train split. The threshold (best F1 with precision at least
0.90 on the pooled stratum) is then chosen

- ``validation``: on the stand-in validation candidates alone (how the model was first
  trained), or
- ``held-out``: on those plus the stand-in train candidates scored out of fold (five
  folds, whole stories per fold), as ``make train`` does now;

and the stand-in test set is scored: pooled precision, recall and F1 (stage-one misses
count as misses), summed over the repeats, and F1 per repeat; and the precision the stream
would see, every drawn article weighted by its inverse inclusion probability.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

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
from bench.topics.train import candidate_rows, document_space, train_topic  # noqa: E402
from monitor.tagging.tagger import Tagger  # noqa: E402
from monitor.tagging.taxonomy import load_taxonomy  # noqa: E402

WAYS = ("validation", "held-out")
PRECISION = 0.90


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    f1s: list[float] = field(default_factory=list)
    weighted_tp: float = 0.0
    weighted_fp: float = 0.0

    def add(self, tp: int, fp: int, fn: int) -> None:
        self.tp, self.fp, self.fn = self.tp + tp, self.fp + fp, self.fn + fn
        self.f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)

    def line(self) -> str:
        p = self.tp / (self.tp + self.fp) if self.tp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp else 0.0
        f1 = 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp else 0.0
        spread = f"{min(self.f1s):.3f}-{max(self.f1s):.3f}"
        kept = self.weighted_tp + self.weighted_fp
        return (
            f"P {p:.3f}  R {r:.3f}  F1 {f1:.3f}  "
            f"F1 per repeat {float(np.mean(self.f1s)):.3f} ({spread})  "
            f"population P {self.weighted_tp / kept if kept else 0.0:.3f}"
        )


def _stories(stories: Sequence[str], share: float, rng: random.Random) -> set[str]:
    unique = sorted(set(stories))
    rng.shuffle(unique)
    return set(unique[: round(len(unique) * share)])


def compare(
    topic: str,
    rows: Sequence[tuple[Item, dict[str, float]]],
    items: Sequence[Item],
    repeats: int,
) -> dict[str, Tally]:
    """Both ways for one topic over ``repeats`` story-grouped stand-in splits."""
    candidates = {i.id for i, _ in rows}
    tallies = {way: Tally() for way in WAYS}
    for repeat in range(repeats):
        rng = random.Random(20261207 + repeat)
        test_stories = _stories([i.story for i in items], 0.2, rng)
        rest = [i for i in items if i.story not in test_stories]
        val_stories = _stories([i.story for i in rest], 0.25, rng)
        fit_items = [i for i in rest if i.story not in val_stories]
        fit_rows = [(i, f) for i, f in rows if i.story not in test_stories | val_stories]
        val_rows = [(i, f) for i, f in rows if i.story in val_stories]
        classifier, measured = train_topic(
            topic, fit_rows, val_rows, population_weights(fit_items), PRECISION
        )
        scored_rows = [(i, f) for i, f in rows if i.story in test_stories and i.pooled]
        confidence = np.array([classifier.confidence(f) for _, f in scored_rows])
        truth = np.array([topic in i.labels for i, _ in scored_rows], dtype=bool)
        weights = population_weights([i for i in items if i.story in test_stories])
        drawn = [
            (classifier.confidence(f), topic in i.labels, weights[i.id])
            for i, f in rows
            if i.id in weights
        ]
        missed = sum(
            1
            for i in items
            if i.story in test_stories and i.pooled and topic in i.labels and i.id not in candidates
        )
        chosen = {"validation": measured["validation_threshold"], "held-out": measured["threshold"]}
        for way, threshold in chosen.items():
            kept = confidence >= threshold
            tallies[way].add(
                int((kept & truth).sum()),
                int((kept & ~truth).sum()),
                int((~kept & truth).sum()) + missed,
            )
            tallies[way].weighted_tp += sum(w for c, t, w in drawn if t and c >= threshold)
            tallies[way].weighted_fp += sum(w for c, t, w in drawn if not t and c >= threshold)
    return tallies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"corpus not found at {args.corpus}: cannot compare (the texts live there)")
        return 2
    labelled = load_items(args.labels)
    items = scored(labelled, "train") + scored(labelled, "validation")  # never the test split
    taxonomy = load_taxonomy()
    space = document_space(args.corpus, labelled)  # fitted without the test split's texts
    rows = candidate_rows(
        items, analyse([i.id for i in items], args.corpus), Tagger(taxonomy), taxonomy, space
    )
    print(
        f"{args.repeats} story-grouped stand-in splits of train + validation "
        f"({len(items)} articles); pooled stratum, precision goal {PRECISION}"
    )
    for topic in TOPICS:
        for way, tally in compare(topic, rows[topic], items, args.repeats).items():
            print(f"{topic:12} {way:10} {tally.line()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
