"""Offline timings on the sample: spaCy references, the ``newsmon tag`` path, rule scaling.

Each comparison times its subject and its reference in alternating passes over the same
articles (:func:`paired`), after a warm-up pass on other articles (spaCy's vocabulary and
newsmon's caches fill there), and reports the median ratio with its spread, wall-clock and
CPU time.
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

from monitor.tagging.model import model_for
from monitor.tagging.tagger import Tagger
from monitor.tagging.taxonomy import load_taxonomy
from monitor.text.article import Article
from monitor.text.nlp import load_pipeline

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


def paired(
    subject: Run,
    reference: Run,
    articles: Sequence[Article],
    warm: Sequence[Article],
    repeats: int,
) -> dict[str, Any]:
    """``subject`` against ``reference``, timed in alternating passes over the same articles.

    Each repeat times both, in alternating order, so a slow spell of a shared machine hits
    both sides alike; the ratio is the median of the per-repeat ratios, with their spread,
    in wall-clock and in CPU time of this process.
    """
    subject(warm)
    reference(warm)
    walls: dict[str, list[float]] = {"subject": [], "reference": []}
    cpus: dict[str, list[float]] = {"subject": [], "reference": []}
    for repeat in range(repeats):
        order = (("reference", reference), ("subject", subject))
        for name, run in order if repeat % 2 == 0 else order[::-1]:
            wall, cpu = time.perf_counter(), time.process_time()
            run(articles)
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(time.process_time() - cpu)
    ratios = sorted(r / s for s, r in zip(walls["subject"], walls["reference"], strict=True))
    cpu_ratios = sorted(r / s for s, r in zip(cpus["subject"], cpus["reference"], strict=True))
    return {
        "subject_per_s": len(articles) / statistics.median(walls["subject"]),
        "reference_per_s": len(articles) / statistics.median(walls["reference"]),
        "ratio": statistics.median(ratios),
        "ratio_min": ratios[0],
        "ratio_max": ratios[-1],
        "cpu_ratio": statistics.median(cpu_ratios),
        "repeats": repeats,
    }


def tagging_rates(
    articles: Sequence[Article], warm: Sequence[Article], repeats: int
) -> dict[str, Any]:
    """newsmon's tag path against spaCy alone, NER off and on, in paired passes."""
    taxonomy = load_taxonomy()
    tagger = Tagger(taxonomy, model_for(taxonomy))  # the second stage included
    blank = paired(
        newsmon_path(load_pipeline("blank", ner=False), tagger),
        spacy_pipe(spacy.blank("en")),
        articles,
        warm,
        repeats,
    )
    rates: dict[str, Any] = {
        "spacy_blank_tokenizer": blank["reference_per_s"],
        "newsmon_offline_blank": blank["subject_per_s"],
        "blank_vs_tokenizer": blank,
    }
    ner = load_pipeline("en_core_web_sm")
    if ner.ner:
        # The very spaCy object newsmon runs (NER only), so both do the same NLP work.
        with_ner = paired(newsmon_path(ner, tagger), spacy_pipe(ner._nlp), articles, warm, repeats)
        rates["spacy_nlp_pipe_ner"] = with_ner["reference_per_s"]
        rates["newsmon_offline_ner"] = with_ner["subject_per_s"]
        rates["ner_vs_nlp_pipe"] = with_ner
    return rates


def offline_pass(
    model: str, articles: Sequence[Article], warm: Sequence[Article]
) -> Callable[[], dict[str, float]]:
    """One timed pass of the offline newsmon path over ``articles`` per call, in articles
    per wall-clock second and per CPU second: the reference an end-to-end run is paired
    with.

    Each pass loads the pipeline afresh and warms it on ``warm`` only, so it meets the
    timed articles for the first time, as a worker (a new process per run) and
    ``newsmon tag`` do: spaCy's tokenizer caches what it has seen, and a second pass over
    the same texts costs about a third less (2026-12-07: 490 against 310-370 us per
    article), which made the earlier reference faster than any stream can be.
    """
    taxonomy = load_taxonomy()
    tagger = Tagger(taxonomy, model_for(taxonomy))

    def one() -> dict[str, float]:
        path = newsmon_path(load_pipeline(model, ner=model != "blank"), tagger)
        path(warm)
        started, cpu = time.perf_counter(), time.process_time()
        path(articles)
        return {
            "per_s": len(articles) / (time.perf_counter() - started),
            "per_cpu_s": len(articles) / (time.process_time() - cpu),
        }

    return one


def rule_scaling(
    articles: Sequence[Article], repeats: int, counts: Sequence[int] = (1_000, 10_000)
) -> dict[str, Any]:
    """Match-only and analyse + match articles/s per rule count, each paired with 10 rules."""
    words = vocabulary(vocabulary_articles(3_000), "specific")
    blank = load_pipeline("blank", ner=False)
    analyzed = blank.analyze(articles)

    def runs(count: int) -> tuple[Run, Run, float]:
        started = time.perf_counter()
        rules = rule_set(count, words, seed=7)
        compiled = time.perf_counter() - started

        def match_only(_: Sequence[Article]) -> int:
            return sum(len(rules.match(a, ())) for a in analyzed)

        def alerter(batch: Sequence[Article]) -> int:
            return sum(len(rules.match(a, ())) for a in blank.analyze(batch))

        return match_only, alerter, compiled

    ten_match, ten_alerter, ten_compiled = runs(10)
    found: dict[str, Any] = {"10": {"compile_seconds": ten_compiled}}
    for count in counts:
        match_only, alerter, compiled = runs(count)
        match = paired(match_only, ten_match, articles, articles, repeats)
        analyse = paired(alerter, ten_alerter, articles, articles, repeats)
        found["10"]["match_only"] = match["reference_per_s"]
        found["10"]["alerter"] = analyse["reference_per_s"]
        found[str(count)] = {
            "match_only": match["subject_per_s"],
            "alerter": analyse["subject_per_s"],
            "match_only_vs_10": match,
            "alerter_vs_10": analyse,
            "matches": float(match_only(articles)),
            "compile_seconds": compiled,
        }
    return found
