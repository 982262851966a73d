"""Build ``tests/data/topics_labels.jsonl`` from the readings and the draw, with a frozen split.

Usage: ``python -m bench.topics.build DRAW_DIR`` (the folder ``bench.topics.draw`` wrote).

Each article gets its decided labels (``readings.decide``), how it was drawn (``strata``:
``random``, ``pooled``, or ``legacy`` for the earlier development set), its pool ``cell``,
its ``story`` (near-duplicates grouped: fingerprints within ``MAX_DISTANCE`` bits, or the
same headline of four words or more) and its ``split``. The split is made once, seeded,
about 60/20/20, stratified by stratum and label set, whole stories at a time; the legacy
articles (the taxonomy was tuned on them) and their stories go to train. An id that already
has a split in the existing file keeps it: the split is frozen, new articles only join it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.topics.readings import LABELS, by_article, decide, load_readings  # noqa: E402
from monitor.tagging.evaluation import corpus_articles  # noqa: E402
from monitor.text.fingerprint import MAX_DISTANCE, bands, distance, fingerprint, story_fields  # noqa: E402
from monitor.text.nlp import load_pipeline  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "news_articles.jsonl.gz"
CELLS = ROOT / "tests" / "data" / "topics_cells.json"
SHARES = {"train": 0.6, "validation": 0.2, "test": 0.2}
SEED = 20261206
_HEADLINE_WORDS = 4


def story_groups(corpus: Path, ids: Iterable[str]) -> dict[str, str]:
    """Each id's story: the smallest id of its group of near-duplicates."""
    wanted = sorted(set(ids))
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        articles = list(corpus_articles(lines, wanted))
    pipeline = load_pipeline("blank", ner=False)
    parent = {a.id: a.id for a in articles}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    prints: dict[str, int] = {}
    by_band: dict[str, list[str]] = defaultdict(list)
    by_title: dict[str, str] = {}
    for analyzed in pipeline.analyze(articles):
        article_id = analyzed.article.id
        value = fingerprint(story_fields(analyzed.title, analyzed.body))
        prints[article_id] = value
        for key in bands(value):
            for other in by_band[key]:
                if distance(value, prints[other]) <= MAX_DISTANCE:
                    union(article_id, other)
            by_band[key].append(article_id)
        words = analyzed.title.norms
        if len(words) >= _HEADLINE_WORDS:
            headline = " ".join(words)
            if headline in by_title:
                union(article_id, by_title[headline])
            by_title.setdefault(headline, article_id)
    # Records with no text at all are no article (the stream refuses them): their own story.
    return {i: find(i) if i in parent else i for i in wanted}


def assign_splits(
    items: Mapping[str, dict[str, Any]], frozen: Mapping[str, str], seed: int = SEED
) -> dict[str, str]:
    """A split for every story: frozen ones kept, legacy ones train, the rest stratified."""
    stories: dict[str, list[str]] = defaultdict(list)
    for article_id, item in items.items():
        stories[item["story"]].append(article_id)
    split_of: dict[str, str] = {}
    buckets: dict[tuple[str, str], list[str]] = defaultdict(list)
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(SHARES, 0))
    for story, members in sorted(stories.items()):
        strata = {s for m in members for s in items[m]["strata"]}
        labels = sorted({t for m in members for t in items[m]["labels"]})
        key = ("pooled" if "pooled" in strata else "random", "+".join(labels))
        kept = {frozen[m] for m in members if m in frozen}
        if kept:
            split_of[story] = sorted(kept)[0]
            counts[key][split_of[story]] += len(members)
        elif "legacy" in strata:
            split_of[story] = "train"
        else:
            buckets[key].append(story)
    rng = random.Random(seed)
    for key, group in sorted(buckets.items()):
        rng.shuffle(group)
        tally = counts[key]
        for story in group:
            total = sum(tally.values()) + 1
            split = max(SHARES, key=lambda s: SHARES[s] * total - tally[s])
            split_of[story] = split
            tally[split] += len(stories[story])
    return {m: split_of[story] for story, members in stories.items() for m in members}


def build(draw_dir: Path, corpus: Path = CORPUS) -> list[dict[str, Any]]:
    draw = [json.loads(line) for line in (draw_dir / "draw.jsonl").read_text().splitlines()]
    cells_n = json.loads((draw_dir / "cells.json").read_text())
    grouped = by_article(load_readings())
    legacy = set(grouped) - {row["id"] for row in draw}
    strata: dict[str, set[str]] = defaultdict(set)
    cell_of: dict[str, str] = {}
    for row in draw:
        strata[row["id"]].add(row["stratum"])
        cell_of[row["id"]] = row["cell"]
    for article_id in legacy:
        strata[article_id].add("legacy")
    if LABELS.exists():  # the earlier development set, recorded when it joined
        for line in LABELS.read_text().splitlines():
            record = json.loads(line)
            if "legacy" in record["strata"]:
                strata[record["id"]].add("legacy")
    story = story_groups(corpus, grouped)
    items: dict[str, dict[str, Any]] = {}
    for article_id, rs in sorted(grouped.items()):
        decision = decide(rs)
        items[article_id] = {
            "id": article_id,
            "labels": sorted(decision.labels),
            "strata": sorted(strata[article_id]),
            "cell": cell_of.get(article_id),
            "story": story[article_id],
            "readers": decision.readers,
            "debatable": decision.debatable,
            "note": decision.note,
        }
    frozen: dict[str, str] = {}
    if LABELS.exists():
        for line in LABELS.read_text().splitlines():
            record = json.loads(line)
            frozen[record["id"]] = record["split"]
    splits = assign_splits(items, frozen)
    for article_id, item in items.items():
        item["split"] = splits[article_id]
    sampled: dict[str, int] = defaultdict(int)
    for row in draw:
        sampled[f"{row['stratum']}:{row['cell']}"] += 1
    CELLS.write_text(
        json.dumps({"cells": cells_n, "drawn": dict(sorted(sampled.items()))}, indent=1) + "\n",
        encoding="utf-8",
    )
    return list(items.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("draw_dir", type=Path)
    args = parser.parse_args(argv)
    items = build(args.draw_dir)
    with LABELS.open("w", encoding="utf-8") as out:
        for item in items:
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    print(f"{len(items)} labelled articles -> {LABELS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
