"""The benchmark's articles: a stride sample of the shared corpus, or synthetic ones.

Every measurement of one run uses the same ``timed`` articles; ``warm`` articles warm
caches and consumers up, ``fresh`` ones feed the freshness run (new stories, so no alert
is suppressed as a duplicate of a timed one).
"""

from __future__ import annotations

import gzip
import json
import random
from dataclasses import dataclass
from pathlib import Path

from rules_scaling import corpus_articles as synthetic_or_corpus

from monitor.errors import InvalidArticle
from monitor.tagging.evaluation import corpus_articles
from monitor.text.article import Article, encode_article

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "news_articles.jsonl.gz"
SEED = 20261207


#: Words most news articles contain: the benchmark's one rule alerts on nearly all of them.
_BROAD = [
    "said",
    "year",
    "new",
    "government",
    "company",
    "market",
    "people",
    "police",
    "minister",
    "president",
    "war",
]


@dataclass(frozen=True)
class Sample:
    timed: list[Article]
    warm: list[Article]
    fresh: list[Article]
    origin: str

    @property
    def mean_chars(self) -> float:
        return sum(len(a.title) + len(a.body) + 2 for a in self.timed) / max(1, len(self.timed))


def load_sample(timed: int, warm: int, fresh: int, corpus: Path = CORPUS) -> Sample:
    """Articles spread evenly over the corpus (all four sub-corpora), or synthetic ones.

    The stride sample is shuffled (seeded) before it is cut into timed, warm and fresh
    articles, so all three come from the same mix of sub-corpora in no particular order:
    a replay at half the timed rate is then half the load all along. (Cut in corpus order,
    the fresh articles came from the corpus's last sub-corpora, and a stretch of them about
    four times longer than the timed mean overloaded the freshness run.)
    """
    wanted = timed + warm + fresh
    if not corpus.exists():
        articles = synthetic_or_corpus(wanted)  # synthetic when the corpus is absent
        origin = "synthetic (corpus absent)"
    else:
        with gzip.open(corpus, "rt", encoding="utf-8") as handle:
            lines = handle.readlines()
        articles = []
        for line in lines[:: max(1, len(lines) // (wanted + 50))]:
            try:
                articles.extend(corpus_articles([line]))
            except InvalidArticle:
                continue  # neither title nor text: not an article
        origin = f"{corpus.name}, stride sample of {len(lines)} records, shuffled"
    random.Random(SEED).shuffle(articles)
    return Sample(
        articles[:timed], articles[timed : timed + warm], articles[timed + warm : wanted], origin
    )


def write_jsonl(articles: list[Article], path: Path) -> Path:
    """The articles as JSON lines that ``newsmon replay`` reads."""
    path.write_bytes(b"".join(encode_article(a) + b"\n" for a in articles))
    return path


def article_ids(articles: list[Article]) -> set[str]:
    return {a.id for a in articles}


def rule_file(path: Path, generated: int = 0) -> Path:
    """A watch-rule file with one broad rule, so most articles raise an alert.

    ``generated`` adds that many random rules of real news words (see rules_scaling.py)
    in a second watchlist, to measure what the number of rules costs a worker.
    """
    query = " OR ".join(_BROAD)
    watchlists = [
        {
            "name": "bench",
            "rules": [
                {
                    "id": "bench-broad",
                    "name": "Almost any news",
                    "query": query,
                    "severity": "info",
                    "must_match": ["The minister said so."],
                }
            ],
        }
    ]
    if generated:
        from rules_scaling import corpus_articles, rule_set, vocabulary

        words = vocabulary(corpus_articles(3_000), "specific")
        rules = rule_set(generated, words, seed=7).rules
        watchlists.append(
            {
                "name": "generated",
                "rules": [
                    {"id": r.id, "name": r.name, "query": r.query, "severity": r.severity}
                    for r in rules
                ],
            }
        )
    path.write_text(json.dumps({"watchlists": watchlists}, indent=1))
    return path
