"""Offline timings on the sample: spaCy references, the ``newsmon tag`` path, rule scaling.

Each figure is the median of ``repeats`` timed passes over the same articles, after a
warm-up pass on other articles (spaCy's vocabulary and newsmon's caches fill there).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import spacy
from rules_scaling import corpus_articles as vocabulary_articles
from rules_scaling import rule_set, vocabulary
from tag_throughput import newsmon_path, spacy_pipe

from monitor.article import Article
from monitor.nlp import load_pipeline
from monitor.tagging import Tagger
from monitor.taxonomy import load_taxonomy
from monitor.topicmodel import model_for

Run = Callable[[Sequence[Article]], Any]


def rate(run: Run, articles: Sequence[Article], warm: Sequence[Article], repeats: int) -> float:
    """Median articles per second of ``run`` over ``articles``."""
    run(warm)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run(articles)
        times.append(time.perf_counter() - started)
    return len(articles) / statistics.median(times)


def tagging_rates(
    articles: Sequence[Article], warm: Sequence[Article], repeats: int
) -> dict[str, float]:
    """Docs/s of the spaCy references and of newsmon's tag path, NER off and on."""
    taxonomy = load_taxonomy()
    tagger = Tagger(taxonomy, model_for(taxonomy))  # the second stage included
    rates = {
        "spacy_blank_tokenizer": rate(spacy_pipe(spacy.blank("en")), articles, warm, repeats),
        "newsmon_offline_blank": rate(
            newsmon_path(load_pipeline("blank", ner=False), tagger), articles, warm, repeats
        ),
    }
    ner = load_pipeline("en_core_web_sm")
    if ner.ner:
        # The very spaCy object newsmon runs (NER only), so both do the same NLP work.
        rates["spacy_nlp_pipe_ner"] = rate(spacy_pipe(ner._nlp), articles, warm, repeats)
        rates["newsmon_offline_ner"] = rate(newsmon_path(ner, tagger), articles, warm, repeats)
    return rates


def rule_scaling(
    articles: Sequence[Article], repeats: int, counts: Sequence[int] = (10, 1_000, 10_000)
) -> dict[str, dict[str, float]]:
    """Per rule count: match-only articles/s, and the alerter's analyse + match articles/s."""
    words = vocabulary(vocabulary_articles(3_000), "specific")
    blank = load_pipeline("blank", ner=False)
    analyzed = blank.analyze(articles)
    found: dict[str, dict[str, float]] = {}
    for count in counts:
        started = time.perf_counter()
        rules = rule_set(count, words, seed=7)
        compiled = time.perf_counter() - started

        def match_only(_: Sequence[Article], rules: Any = rules) -> int:
            return sum(len(rules.match(a, ())) for a in analyzed)

        def alerter(batch: Sequence[Article], rules: Any = rules) -> int:
            return sum(len(rules.match(a, ())) for a in blank.analyze(batch))

        found[str(count)] = {
            "match_only": rate(match_only, articles, articles, repeats),
            "alerter": rate(alerter, articles, articles, repeats),
            "matches": float(match_only(articles)),
            "compile_seconds": compiled,
        }
    return found
