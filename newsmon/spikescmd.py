"""``newsmon spikes backtest``: spike detection over a dated collection, offline.

Every article is analysed and tagged with the stream's code; it counts in the window of
its ``published_at`` (articles without one are left out and counted). The detector is
:mod:`monitor.alerting.spikes`, the one the stream is to use. ``--shuffle-dates SEED``
gives every article another article's date (the same articles and daily volumes, no
events): what it still finds is the detector's false-alarm rate.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agents.settings import Settings
from monitor.alerting.spikes import Member, Spike, SpikeSettings, backtest
from monitor.durations import parse_duration
from monitor.text.article import Article
from newsmon.sources import read_records

_BATCH = 64
_DEFAULTS = SpikeSettings()


def add_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    spikes = commands.add_parser("spikes", help="spike detection on topics and entities")
    sub = spikes.add_subparsers(dest="spikes_command", required=True)
    test = sub.add_parser("backtest", help="find the spikes of a dated collection, offline")
    test.add_argument("--against", nargs="+", type=Path, required=True, metavar="PATH")
    test.add_argument("--window", default="1d", help="window length (default 1d)")
    test.add_argument("--shuffle-dates", type=int, metavar="SEED", help="the null: dates shuffled")
    test.add_argument("--alpha", type=float, default=_DEFAULTS.alpha)
    test.add_argument("--min-count", type=int, default=_DEFAULTS.min_count)
    test.add_argument("--warmup", type=int, default=_DEFAULTS.warmup)
    test.add_argument("--max-entities", type=int, default=_DEFAULTS.max_entities)
    test.add_argument("--no-ner", action="store_true", help="entities from the alias table only")
    test.add_argument("--json", action="store_true", dest="as_json", help="JSON lines")


def run_spikes(args: argparse.Namespace, settings: Settings) -> int:
    try:
        window = timedelta(seconds=parse_duration(args.window))
        detection = SpikeSettings(
            alpha=args.alpha,
            min_count=args.min_count,
            warmup=args.warmup,
            max_entities=args.max_entities,
        )
    except ValueError as exc:
        print(f"newsmon: {exc}", file=sys.stderr)
        return 2
    console = Console(stderr=True)
    dated, undated, bad = _members(settings, args.against, ner=settings.ner and not args.no_ner)
    if args.shuffle_dates is not None:
        dates = [moment for moment, _ in dated]
        random.Random(args.shuffle_dates).shuffle(dates)
        dated = list(zip(dates, (m for _, m in dated), strict=True))
    spikes = backtest(dated, window, detection)
    if args.as_json:
        for spike in spikes:
            print(json.dumps(spike.to_json(), ensure_ascii=False))
    else:
        _print(spikes)
    windows = len({int(m.timestamp() // window.total_seconds()) for m, _ in dated})
    console.print(
        f"{len(spikes)} spikes in {windows} windows of {args.window} over {len(dated)} dated "
        f"articles ({undated} without a date left out, {bad} unreadable)"
        + ("; dates shuffled" if args.shuffle_dates is not None else "")
    )
    return 1 if bad else 0


def _members(
    settings: Settings, paths: list[Path], *, ner: bool
) -> tuple[list[tuple[datetime, Member]], int, int]:
    """Every dated article as a spike-series member, the undated count, the bad count."""
    from monitor.tagging.model import model_for  # spaCy loads only when tagging
    from monitor.tagging.tagged_article import tag_analyzed
    from monitor.tagging.tagger import Tagger
    from monitor.tagging.taxonomy import load_taxonomy
    from monitor.text.nlp import load_pipeline

    taxonomy = load_taxonomy(settings.taxonomy)
    tagger = Tagger(taxonomy, model_for(taxonomy, settings.topic_model))
    pipeline = load_pipeline(settings.spacy_model, ner=ner)
    dated: list[tuple[datetime, Member]] = []
    bad: list[str] = []
    undated = 0
    articles = _articles(paths, settings, bad)
    while batch := list(islice(articles, _BATCH)):
        when = {a.id: a.published_at for a in batch if a.published_at is not None}
        undated += len(batch) - len(when)
        for analyzed in pipeline.analyze([a for a in batch if a.id in when]):
            tagged = tag_analyzed(analyzed, tagger)
            article = tagged.article
            member = Member(
                article.id,
                article.title or article.body[:120],
                tuple(t.name for t in tagged.topics),
                tuple(sorted({e.canonical for e in tagged.entities})),
                tagged.fingerprint,
            )
            dated.append((when[article.id], member))
    return dated, undated, len(bad)


def _articles(paths: list[Path], settings: Settings, bad: list[str]) -> Iterator[Article]:
    for record in read_records(paths, settings.max_article_bytes):
        if record.article is not None:
            yield record.article
        else:
            print(f"{record.origin}: {record.problem}", file=sys.stderr)
            bad.append(record.origin)


def _print(spikes: list[Spike]) -> None:
    table = Table(show_lines=False)
    for column in ("window", "series", "observed / total", "expected", "×", "p", "top stories"):
        table.add_column(column)
    for spike in spikes:
        kind, name = spike.series
        stories = "; ".join(f"{s.title[:70]} ({s.articles})" for s in spike.stories)
        table.add_row(
            spike.window,
            f"{kind}:{name}",
            f"{spike.observed} / {spike.total}",
            f"{spike.expected:.1f}",
            f"{spike.observed / spike.expected:.1f}",
            f"{spike.p_value:.1e}",
            stories,
        )
    Console(width=200).print(table)
