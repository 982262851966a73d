"""Train the learned second stage of topic tagging from ``tests/data`` (``make train``).

Usage: ``.venv/bin/python -m bench.topics.train [--out monitor/data/topic_model.json]``

First the document space (:mod:`monitor.tagging.space`), from the corpus's articles outside
the test split, without labels; it is written beside the model (``topic_model.space.npz``).
Then, per topic, over the train articles the taxonomy makes candidates for it (any evidence):

1. a logistic regression over :func:`monitor.tagging.model.features` seen in at least three
   train candidates (scikit-learn, L2, the regularisation chosen by log-loss on
   validation candidates; weights under 0.001 dropped);
2. Platt calibration of its margin, fitted on out-of-fold margins of the drawn train
   articles (five folds, whole stories per fold) weighted by their population weights, so
   the confidence is a probability at the stream's prevalence;
3. the threshold: the highest F1 whose precision is at least ``--precision`` (0.90), over
   the held-out confidences of the pooled stratum: the validation candidates as the final
   model scores them, and the train candidates as scored out of fold (the margins of step
   2). Validation alone holds 39-66 positives per topic; with train's held-out scores the
   pool holds four to five times as many, and a choice made on it carries over better
   (docs/topic-tagging.md: repeated story-grouped splits of train and validation).

The test split is never read. The result is deterministic for the same labels and corpus.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GroupKFold

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
from monitor.tagging.evaluation import corpus_articles  # noqa: E402
from monitor.tagging.model import (  # noqa: E402
    DEFAULT_MODEL,
    TopicClassifier,
    TopicModel,
    features,
    taxonomy_fingerprint,
)
from monitor.tagging.space import DocumentSpace, document_text  # noqa: E402
from monitor.tagging.tagger import Tagger  # noqa: E402
from monitor.tagging.tags import TopicCandidate  # noqa: E402
from monitor.tagging.taxonomy import Taxonomy, load_taxonomy  # noqa: E402
from monitor.text.nlp import Analyzed  # noqa: E402

C_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
FOLDS = 5
MIN_ARTICLES = 3  # a feature seen in fewer train candidates is not learnt from
PRUNE = 1e-3
#: The document space: themes, and the fewest corpus articles a word must stand in.
SPACE_DIMENSIONS = 300
SPACE_MIN_ARTICLES = 100


def _fit(x: object, y: Sequence[int], c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, max_iter=5000, solver="lbfgs")
    model.fit(x, y)
    return model


def best_threshold(scored: Sequence[tuple[float, bool]], precision: float) -> float:
    """The threshold with the best F1 among those whose precision reaches ``precision``.

    ``scored`` holds (confidence, truly the topic) pairs; a threshold keeps every pair whose
    confidence reaches it. 1.0 when no threshold reaches the precision. The threshold is
    rounded down to four places, so it still keeps the article it was chosen at."""
    positives = sum(t for _, t in scored)
    best, chosen = -1.0, 1.0
    tp = fp = 0
    ranked = sorted(scored, key=lambda pair: -pair[0])
    for n, (confidence, truth) in enumerate(ranked):
        tp, fp = tp + truth, fp + (not truth)
        if n + 1 < len(ranked) and ranked[n + 1][0] == confidence:
            continue  # one threshold keeps every article of the same confidence
        if tp and tp / (tp + fp) >= precision and 2 * tp / (tp + fp + positives) > best:
            best, chosen = 2 * tp / (tp + fp + positives), confidence
    return math.floor(chosen * 10_000) / 10_000


def train_topic(
    topic: str,
    train: Sequence[tuple[Item, dict[str, float]]],
    validation: Sequence[tuple[Item, dict[str, float]]],
    weights: Mapping[str, float],
    precision: float,
) -> tuple[TopicClassifier, dict[str, float]]:
    """One topic's classifier, calibration and threshold; and what was measured on the way."""
    seen = Counter(k for _, f in train for k in f)
    vectorizer = DictVectorizer(sort=True)
    vectorizer.fit([{k: 1.0 for k, n in seen.items() if n >= MIN_ARTICLES}])
    x_train = vectorizer.transform([f for _, f in train])
    y_train = [int(topic in i.labels) for i, _ in train]
    x_val = vectorizer.transform([f for _, f in validation])
    y_val = [int(topic in i.labels) for i, _ in validation]
    losses = {}
    for c in C_GRID:
        fitted = _fit(x_train, y_train, c)
        losses[c] = log_loss(y_val, fitted.predict_proba(x_val)[:, 1], labels=[0, 1])
    c_best = min(C_GRID, key=lambda c: (round(losses[c], 6), c))
    # Out-of-fold margins of the train candidates, whole stories per fold.
    groups = [i.story for i, _ in train]
    margins = np.zeros(len(train))
    for fit_rows, held_rows in GroupKFold(n_splits=FOLDS).split(x_train, y_train, groups):
        fitted = _fit(x_train[fit_rows], [y_train[r] for r in fit_rows], c_best)
        margins[held_rows] = fitted.decision_function(x_train[held_rows])
    drawn = [r for r, (i, _) in enumerate(train) if i.id in weights]
    platt = LogisticRegression(C=1e6, max_iter=5000)
    platt.fit(
        margins[drawn].reshape(-1, 1),
        [y_train[r] for r in drawn],
        sample_weight=[weights[train[r][0].id] for r in drawn],
    )
    final = _fit(x_train, y_train, c_best)
    names = vectorizer.get_feature_names_out()
    kept = {
        str(name): round(float(w), 5)
        for name, w in zip(names, final.coef_[0], strict=True)
        if abs(w) >= PRUNE
    }
    classifier = TopicClassifier(
        weights=kept,
        bias=round(float(final.intercept_[0]), 5),
        slope=round(float(platt.coef_[0][0]), 5),
        intercept=round(float(platt.intercept_[0]), 5),
        threshold=0.5,
    )
    # Held-out confidences of the pooled stratum: validation as the final model scores it,
    # train out of fold.
    on_validation = [
        (classifier.confidence(f), topic in i.labels) for i, f in validation if i.pooled
    ]
    out_of_fold = [
        (classifier.calibrated(float(margins[r])), bool(y_train[r]))
        for r, (i, _) in enumerate(train)
        if i.pooled
    ]
    threshold = best_threshold(on_validation + out_of_fold, precision)
    classifier = TopicClassifier(
        classifier.weights, classifier.bias, classifier.slope, classifier.intercept, threshold
    )
    measured = {
        "C": c_best,
        "train_candidates": len(train),
        "train_positives": sum(y_train),
        "validation_candidates": len(validation),
        "held_out_pooled": len(on_validation) + len(out_of_fold),
        "features": len(kept),
        "threshold": threshold,
        "validation_threshold": best_threshold(on_validation, precision),  # alone, as before
    }
    return classifier, measured


def document_space(corpus: Path, labelled: Sequence[Item]) -> DocumentSpace:
    """The document space, fitted on the corpus's articles outside the test split.

    No label is read: the space is learnt from which words occur together. The test
    split's articles are left out all the same, so that nothing of theirs shapes the model
    (unlabelled corpus copies of a test story are not known as such, and stay in)."""
    test = {i.id for i in labelled if i.split == "test"}
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        texts = [document_text(a.title, a.body) for a in corpus_articles(lines) if a.id not in test]
    return DocumentSpace.fit(texts, SPACE_DIMENSIONS, SPACE_MIN_ARTICLES)


def candidate_rows(
    items: Sequence[Item],
    analysed: Mapping[str, Analyzed],
    tagger: Tagger,
    taxonomy: Taxonomy,
    space: DocumentSpace | None,
) -> dict[str, list[tuple[Item, dict[str, float]]]]:
    """Per topic, the items the taxonomy makes candidates for it, with their features."""
    rows: dict[str, list[tuple[Item, dict[str, float]]]] = {t: [] for t in TOPICS}
    for item in items:
        if item.id not in analysed:
            continue
        found: tuple[TopicCandidate, ...] = tagger.candidates(analysed[item.id])
        if not found:
            continue
        feats = features(analysed[item.id], found, taxonomy, space)
        for candidate in found:
            rows[candidate.tag.name].append((item, feats))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--precision", type=float, default=0.90)
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"corpus not found at {args.corpus}: cannot train (the texts live there)")
        return 2
    items = load_items(args.labels)
    train, validation = scored(items, "train"), scored(items, "validation")
    taxonomy = load_taxonomy()
    tagger = Tagger(taxonomy)
    space = document_space(args.corpus, items)
    print(f"document space: {space.dimensions} themes over {len(space.vocabulary)} words")
    analysed = analyse([i.id for i in train + validation], args.corpus)
    weights = population_weights(train)
    train_rows = candidate_rows(train, analysed, tagger, taxonomy, space)
    validation_rows = candidate_rows(validation, analysed, tagger, taxonomy, space)
    classifiers = {}
    for topic in TOPICS:
        classifier, measured = train_topic(
            topic, train_rows[topic], validation_rows[topic], weights, args.precision
        )
        classifiers[topic] = classifier
        print(f"{topic}: " + ", ".join(f"{k}={v}" for k, v in measured.items()))
    digest = hashlib.sha256(args.labels.read_bytes()).hexdigest()[:10]
    model = TopicModel(f"labels-{digest}", taxonomy_fingerprint(taxonomy), classifiers, space)
    space_file = args.out.with_name(f"{args.out.stem}.space.npz")
    space_file.write_bytes(space.to_bytes())
    args.out.write_text(
        json.dumps(model.to_json(space_file.name), indent=1) + "\n", encoding="utf-8"
    )
    for path in (args.out, space_file):
        print(f"model {model.version} -> {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0 if all(math.isfinite(c.threshold) for c in classifiers.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
