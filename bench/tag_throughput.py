"""Tagging throughput on real articles, next to spaCy on the same texts.

Usage: ``.venv/bin/python bench/tag_throughput.py [--articles 5000] [--no-ner]``

Four timings over the same articles (a stride sample of the shared corpus, so all four
sub-corpora are in it), each text being ``title + "\\n\\n" + body``:

- ``spacy.blank("en").pipe``: spaCy's rule-based tokenizer alone, the floor;
- newsmon blank: ``load_pipeline("blank")`` analyse + ``Tagger`` + fingerprint + the
  record's JSON as the worker writes it;
- ``nlp.pipe`` of the very spaCy pipeline newsmon loads for NER (NER only);
- newsmon NER: the same newsmon path with that pipeline.

Each is timed after a warm-up on other articles. Without the corpus it says so, exits 0.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import spacy  # noqa: E402 - the repository root goes on sys.path first

from monitor import wirejson  # noqa: E402
from monitor.errors import InvalidArticle  # noqa: E402
from monitor.tagging.evaluation import corpus_articles  # noqa: E402
from monitor.tagging.model import model_for  # noqa: E402
from monitor.tagging.tagged_article import tag_analyzed  # noqa: E402
from monitor.tagging.tagger import Tagger  # noqa: E402
from monitor.tagging.taxonomy import load_taxonomy  # noqa: E402
from monitor.text.article import Article  # noqa: E402
from monitor.text.nlp import Pipeline, load_pipeline  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "news_articles.jsonl.gz"
WARM_UP = 200
TOKENIZER, NEWSMON_BLANK = "spacy.blank('en').pipe", "newsmon blank"
SPACY_NER, NEWSMON_NER = "nlp.pipe (NER only)", "newsmon NER"


def sample(corpus: Path, count: int) -> tuple[list[Article], list[Article]]:
    """``count`` articles spread evenly over the corpus, and others to warm up on."""
    with gzip.open(corpus, "rt", encoding="utf-8") as handle:
        lines = handle.readlines()
    stride = max(1, len(lines) // (count + WARM_UP))
    picked: list[Article] = []
    for line in lines[::stride]:
        try:
            picked.extend(corpus_articles([line]))
        except InvalidArticle:
            continue  # a record with neither title nor text is not an article
    return picked[:count], picked[count : count + WARM_UP]


def texts_of(articles: Sequence[Article]) -> list[str]:
    return [f"{a.title}\n\n{a.body}" for a in articles]


def newsmon_path(pipeline: Pipeline, tagger: Tagger) -> Callable[[Sequence[Article]], int]:
    """The tagger agent's work: analyse, tag, fingerprint, serialise."""

    def run(articles: Sequence[Article]) -> int:
        size = 0
        for analyzed in pipeline.analyze(articles):
            record = tag_analyzed(analyzed, tagger).to_json()
            size += len(wirejson.dumps(record, foreign=bool(analyzed.article.extra)))
        return size

    return run


def spacy_pipe(nlp: Any) -> Callable[[Sequence[Article]], int]:
    """spaCy alone: make the docs, count their tokens."""

    def run(articles: Sequence[Article]) -> int:
        return sum(len(doc) for doc in nlp.pipe(texts_of(articles), batch_size=64))

    return run


def rate(
    run: Callable[[Sequence[Article]], int], articles: Sequence[Article], warm: Sequence[Article]
) -> float:
    run(warm)
    started = time.perf_counter()
    run(articles)
    return len(articles) / (time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tagging throughput vs spaCy.")
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--no-ner", action="store_true", help="skip the NER timings")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"corpus not found at {args.corpus}; nothing to measure (skipped)")
        return 0
    articles, warm = sample(args.corpus, args.articles)
    chars = sum(len(t) for t in texts_of(articles))
    print(f"{len(articles)} articles, {chars / len(articles):.0f} chars on average")
    taxonomy = load_taxonomy()
    tagger = Tagger(taxonomy, model_for(taxonomy))  # the second stage included
    blank = load_pipeline("blank", ner=False)
    rates = {
        TOKENIZER: rate(spacy_pipe(spacy.blank("en")), articles, warm),
        NEWSMON_BLANK: rate(newsmon_path(blank, tagger), articles, warm),
    }
    if not args.no_ner:
        ner = load_pipeline("en_core_web_sm")
        if ner.ner:
            # The very spaCy object newsmon runs, so both sides do the same NLP work.
            rates[SPACY_NER] = rate(spacy_pipe(ner._nlp), articles, warm)
            rates[NEWSMON_NER] = rate(newsmon_path(ner, tagger), articles, warm)
    for name, value in rates.items():
        print(f"{name:<26}{value:>10.0f} articles/s")
    print(
        f"ratio newsmon blank / spaCy blank tokenizer: "
        f"{rates[NEWSMON_BLANK] / rates[TOKENIZER]:.2f}"
    )
    if NEWSMON_NER in rates:
        print(
            f"ratio newsmon NER / spaCy nlp.pipe (NER):    "
            f"{rates[NEWSMON_NER] / rates[SPACY_NER]:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
