"""The labelled set as training and evaluation read it: labels, splits, weights, analyses.

``tests/data/topics_labels.jsonl`` holds ids and labels; the texts are read from the shared
corpus (``../shared/corpus``) and analysed with the pipeline the stream runs without NER.
Population weights: every drawn article belongs to one pool cell (or to ``none``); the
articles of a cell that a split holds are a simple random sample of the cell, so each
weighs ``N_cell / n_cell`` (its inverse inclusion probability within the split).
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.tagging.evaluation import corpus_articles
from monitor.text.nlp import Analyzed, load_pipeline

ROOT = Path(__file__).resolve().parents[2]
LABELS = ROOT / "tests" / "data" / "topics_labels.jsonl"
CELLS = ROOT / "tests" / "data" / "topics_cells.json"
CORPUS = ROOT.parent / "shared" / "corpus" / "news_articles.jsonl.gz"
TOPICS = ("air_defence", "ceasefire", "coalition")


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    labels: frozenset[str]
    strata: frozenset[str]
    cell: str | None
    split: str
    story: str
    debatable: bool

    @property
    def pooled(self) -> bool:
        return "pooled" in self.strata

    @property
    def drawn(self) -> bool:
        """Part of the probability sample (random or pooled), not only the legacy set."""
        return bool(self.strata - {"legacy"})


def load_items(path: Path = LABELS) -> list[Item]:
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            items.append(
                Item(
                    r["id"],
                    frozenset(r["labels"]),
                    frozenset(r["strata"]),
                    r["cell"],
                    r["split"],
                    r["story"],
                    bool(r["debatable"]),
                )
            )
    return items


def scored(items: Iterable[Item], split: str) -> list[Item]:
    """The items of a split that scores count: not debatable."""
    return [i for i in items if i.split == split and not i.debatable]


def population_weights(items: Sequence[Item], cells_path: Path = CELLS) -> dict[str, float]:
    """Inverse inclusion probability of each drawn item within the given items."""
    sizes: dict[str, int] = json.loads(cells_path.read_text(encoding="utf-8"))["cells"]
    drawn = [i for i in items if i.drawn and i.cell is not None]
    per_cell = Counter(i.cell for i in drawn)
    return {i.id: sizes[str(i.cell)] / per_cell[i.cell] for i in drawn}


def analyse(ids: Iterable[str], corpus: Path = CORPUS) -> dict[str, Analyzed]:
    """The corpus articles of these ids, analysed by the stream's pipeline without NER."""
    wanted = set(ids)
    with gzip.open(corpus, "rt", encoding="utf-8") as lines:
        articles = list(corpus_articles(lines, wanted))
    pipeline = load_pipeline("blank", ner=False)
    return {a.article.id: a for a in pipeline.analyze(articles)}
