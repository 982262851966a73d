"""Micro-benchmark: does rule matching stay flat as the number of rules grows?

Generates 10 / 1,000 / 10,000 random rules from a vocabulary of real news words (plus
phrases, wildcards and NEAR), analyses a few hundred corpus articles once, then times
``RuleSet.match`` alone. Prints articles/s per rule count and the 10k/10 ratio.

    .venv/bin/python bench/rules_scaling.py [--articles 300] [--seed 7]
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import json
import random
import re
import time
from collections import Counter
from pathlib import Path

from monitor.rules.ruleset import SEVERITIES, Rule, RuleSet
from monitor.text.article import Article
from monitor.text.nlp import Analyzed, load_pipeline

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "news_articles.jsonl.gz"
RULE_COUNTS = (10, 1_000, 10_000)
_FALLBACK = (
    "Ukraine",
    "Russia",
    "Kyiv",
    "Moscow",
    "Pentagon",
    "missile",
    "drone",
    "ceasefire",
    "talks",
    "summit",
    "minister",
    "president",
    "election",
    "parliament",
    "budget",
    "inflation",
    "interest",
    "bank",
    "market",
    "shares",
    "oil",
    "gas",
    "sanctions",
    "border",
    "troops",
    "attack",
    "strike",
    "refugees",
    "court",
    "judge",
    "police",
    "protest",
    "vote",
    "energy",
    "climate",
    "storm",
    "flood",
    "hospital",
    "vaccine",
    "school",
    "teachers",
    "strike",
    "airline",
    "airport",
    "railway",
)
_WORD = re.compile(r"[A-Za-z][a-z]{3,}")


def corpus_articles(count: int) -> list[Article]:
    """Corpus articles if the shared corpus is present, else synthetic ones."""
    if not CORPUS.exists():
        rng = random.Random(1)
        return [
            Article(
                id=str(i),
                title=" ".join(rng.choices(_FALLBACK, k=8)),
                body=" ".join(rng.choices(_FALLBACK, k=300)),
            )
            for i in range(count)
        ]
    found: list[Article] = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record.get("text"):
                found.append(
                    Article(
                        id=str(len(found)),
                        title=record.get("title") or "",
                        body=record["text"][:5000],
                    )
                )
            if len(found) == count:
                break
    return found


#: Vocabularies by corpus frequency rank: "specific" words are what analysts' rules are
#: made of (names, places, weapons: a few articles each); "common" words are the
#: everyday news vocabulary right after the stop words (a worst case for any presearch).
#: "absent" is the specific vocabulary minus every word of the timed articles: it measures
#: the presearch floor (articles that mention no rule term).
VOCABULARIES = {"specific": (1_500, 20_000), "common": (150, 5_000), "absent": (1_500, 20_000)}


def vocabulary(articles: list[Article], kind: str) -> list[str]:
    """Real news words from the corpus, by frequency rank (see ``VOCABULARIES``)."""
    skip, size = VOCABULARIES[kind]
    counts = Counter(w.lower() for a in articles for w in _WORD.findall(f"{a.title} {a.body}"))
    ranked = [w for w, _ in counts.most_common(size + skip)][skip:]
    return ranked or list(_FALLBACK)


def _stem(word: str) -> str:
    return word[: max(4, len(word) - 3)]


def _prefixes_any(ordered: list[str], stem: str) -> bool:
    at = bisect.bisect_left(ordered, stem)
    return at < len(ordered) and ordered[at].startswith(stem)


def random_query(rng: random.Random, words: list[str], stems: list[str]) -> str:
    """A query of 2-3 clauses mixing words, phrases, wildcards, OR-groups and NEAR."""

    def atom() -> str:
        roll = rng.random()
        if roll < 0.15:
            return f'"{rng.choice(words)} {rng.choice(words)}"'
        if roll < 0.25:
            return rng.choice(stems) + "*"
        return rng.choice(words)

    def clause() -> str:
        roll = rng.random()
        if roll < 0.3:
            return f"({atom()} OR {atom()} OR {atom()})"
        if roll < 0.45:
            return f"{atom()} NEAR/{rng.randint(1, 8)} {atom()}"
        return atom()

    query = " AND ".join(clause() for _ in range(rng.randint(2, 3)))
    return query + (f" AND NOT {atom()}" if rng.random() < 0.2 else "")


def rule_set(count: int, words: list[str], seed: int) -> RuleSet:
    rng = random.Random(seed)
    # Prefixes as analysts write them (negotiat*, suspend*): a word minus its last letters.
    stems = [_stem(w) for w in words if len(w) >= 6]
    rules = [
        Rule(
            id=f"r{i}",
            name=f"r{i}",
            query=random_query(rng, words, stems),
            severity=rng.choice(SEVERITIES),
            watchlist=f"w{i % 50}",
            route=f"alerts.w{i % 50}",
        )
        for i in range(count)
    ]
    return RuleSet(rules)


def throughput(rules: RuleSet, analyzed: list[Analyzed], repeat: int = 3) -> tuple[float, int]:
    """Best-of-``repeat`` articles per second, and the number of matches."""
    best, matched = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        matched = sum(len(rules.match(a, ())) for a in analyzed)
        best = min(best, time.perf_counter() - start)
    return len(analyzed) / best, matched


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--vocabulary", choices=sorted(VOCABULARIES), default="specific")
    args = parser.parse_args(argv)
    articles = corpus_articles(args.articles * 10)
    words = vocabulary(articles, args.vocabulary)
    if args.vocabulary == "absent":
        timed = articles[-args.articles :]
        seen = {w.lower() for a in timed for w in re.findall(r"\w+", f"{a.title} {a.body}")}
        ordered = sorted(seen)
        words = [w for w in words if not _prefixes_any(ordered, _stem(w))]
    analyzed = load_pipeline("blank", ner=False).analyze(articles[-args.articles :])
    print(f"{len(analyzed)} articles, {args.vocabulary} vocabulary of {len(words)} words")
    rates = {}
    for count in RULE_COUNTS:
        built = time.perf_counter()
        rules = rule_set(count, words, args.seed)
        compile_s = time.perf_counter() - built
        rates[count], matched = throughput(rules, analyzed)
        print(
            f"{count:>6} rules: {rates[count]:8.1f} articles/s  "
            f"({matched} matches, compiled in {compile_s:.2f} s)"
        )
    print(f"ratio 10k/10: {rates[10_000] / rates[10]:.2f}")


if __name__ == "__main__":
    main()
