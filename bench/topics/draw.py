"""Draw the articles to be read for the topic labels, and lay them out in reading batches.

Usage: ``.venv/bin/python -m bench.topics.draw OUT_DIR [--pool air_defence=900 ...]``

The draw follows ``tests/data/pool_queries.json`` (written before any labelling):

- ``random``: a simple random sample of ``random_size`` records of the whole corpus.
- ``pooled``: every corpus record falls in at most one pool cell (the first topic whose
  broad query it matches). Each cell is put in a seeded random order and its first ``n``
  records are read; a top-up reads further down the same order, so every cell's sample
  stays a simple random sample of the cell and its inclusion probability is ``n / N``.

The queries only choose what is read. Readers never see which stratum or cell an article
came from, nor any tagger output. OUT_DIR receives ``draw.jsonl`` (id, stratum, cell, rank)
and ``cells.json`` (cell sizes); the texts themselves never enter the repository.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "tests" / "data" / "pool_queries.json"
CORPUS = ROOT.parent / "shared" / "corpus" / "news_articles.jsonl.gz"


def corpus_records(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def pool_cell(text: str, order: list[str], patterns: dict[str, re.Pattern[str]]) -> str | None:
    """The first topic whose broad query matches, or None (outside every pool)."""
    return next((topic for topic in order if patterns[topic].search(text)), None)


def record_text(record: dict[str, Any]) -> str:
    return f"{record.get('title') or ''}\n{record.get('text') or ''}"


def cells(corpus: Path, spec: dict[str, Any]) -> dict[str, list[str]]:
    """Corpus ids by pool cell (``"none"`` for records no query matches), corpus order."""
    patterns = {t: re.compile(q, re.IGNORECASE) for t, q in spec["queries"].items()}
    by_cell: dict[str, list[str]] = {}
    for record in corpus_records(corpus):
        cell = pool_cell(record_text(record), spec["order"], patterns) or "none"
        by_cell.setdefault(cell, []).append(str(record["id"]))
    return by_cell


def draw(
    by_cell: dict[str, list[str]], spec: dict[str, Any], pool_sizes: dict[str, int]
) -> list[dict[str, Any]]:
    """The seeded draw: the random stratum, then each cell's first ``n`` in its own order."""
    seed = int(spec["seed"])
    everyone = sorted(i for ids in by_cell.values() for i in ids)
    cell_of = {i: c for c, ids in by_cell.items() for i in ids}
    picked = random.Random(seed).sample(everyone, int(spec["random_size"]))
    rows = [
        {"id": i, "stratum": "random", "cell": cell_of[i], "rank": r} for r, i in enumerate(picked)
    ]
    for cell in spec["order"]:
        ordered = sorted(by_cell.get(cell, []))
        random.Random(f"{seed}:{cell}").shuffle(ordered)
        for rank, article_id in enumerate(ordered[: pool_sizes.get(cell, 0)]):
            rows.append({"id": article_id, "stratum": "pooled", "cell": cell, "rank": rank})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out", type=Path)
    parser.add_argument("--pool", action="append", default=[], metavar="CELL=N")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args(argv)
    spec = json.loads(QUERIES.read_text(encoding="utf-8"))
    sizes = {k: int(v) for k, v in (p.split("=", 1) for p in args.pool)}
    by_cell = cells(args.corpus, spec)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = draw(by_cell, spec, sizes)
    with (args.out / "draw.jsonl").open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    (args.out / "cells.json").write_text(
        json.dumps({c: len(ids) for c, ids in sorted(by_cell.items())}, indent=1) + "\n",
        encoding="utf-8",
    )
    print(f"{len(rows)} draws ({len({r['id'] for r in rows})} distinct) -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
