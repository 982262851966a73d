"""``newsmon rules``: validate, backtest and deploy watch-rule files."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Collection, Iterator, Mapping
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from aiokafka.errors import KafkaError
from rich.console import Console
from rich.table import Table

from agents.rulesfeed import (
    deployed,
    latest_ruleset,
    push_ruleset,
    remove_watchlist,
)
from agents.settings import Settings
from monitor.rules import backtest
from monitor.rules.files import RuleSet, load_rules
from monitor.tagging.model import model_for
from monitor.tagging.tagger import Tagger
from monitor.tagging.taxonomy import load_taxonomy
from monitor.text.article import Article
from monitor.text.nlp import load_pipeline
from newsmon.sources import read_records
from newsmon.topicread import read_topic

_BATCH = 64


def run_rules(args: argparse.Namespace, settings: Settings) -> int:
    taxonomy = load_taxonomy(settings.taxonomy)
    if args.rules_command == "remove":
        return _remove(settings, args.watchlist, taxonomy.names)
    ruleset = load_rules(args.file, taxonomy.names)
    if args.rules_command == "validate":
        watchlists = ruleset.watchlists()
        print(
            f"{args.file}: OK: {len(ruleset.rules)} rules in {len(watchlists)} watchlists "
            f"({', '.join(watchlists)}), rule-set version {ruleset.version}"
        )
        return 0
    if args.rules_command == "push":
        return _push(settings, ruleset, args.file, taxonomy.names)
    return _test(
        args, settings, ruleset, Tagger(taxonomy, model_for(taxonomy, settings.topic_model))
    )


def _push(settings: Settings, ruleset: RuleSet, path: Path, known: Collection[str]) -> int:
    """Deploy the file's watchlists; print what changes in them (and only in them)."""
    state = asyncio.run(deployed(settings, known))
    before = state.by_watchlist()
    asyncio.run(push_ruleset(settings, ruleset, str(path), datetime.now(UTC), state))
    after = asyncio.run(latest_ruleset(settings, known))
    for line in push_diff(ruleset, before):
        print(line)
    others = sorted(set(before) - set(ruleset.watchlists()))
    version = after[0].version if after else ruleset.version
    print(
        f"pushed rule set {version} ({len(ruleset.rules)} rules in "
        f"{', '.join(ruleset.watchlists())}) to {settings.topic_prefix}newsmon.rules; "
        f"workers apply it within seconds"
        + (f"; other watchlists deployed, untouched: {', '.join(others)}" if others else "")
    )
    return 0


def push_diff(ruleset: RuleSet, before: Mapping[str, tuple[RuleSet, str]]) -> list[str]:
    """What a push changes in its own watchlists: rules added, changed and removed."""
    lines = []
    for name in ruleset.watchlists():
        new = {r.id: r.version for r in ruleset.rules if r.watchlist == name}
        old = {r.id: r.version for r in before[name][0].rules} if name in before else {}
        if not old:
            lines.append(f"{name}: new watchlist, {len(new)} rules")
            continue
        added = sorted(new.keys() - old.keys())
        removed = sorted(old.keys() - new.keys())
        changed = sorted(k for k in new.keys() & old.keys() if new[k] != old[k])
        parts = [
            f"{label} {', '.join(ids)}"
            for label, ids in (("added", added), ("changed", changed), ("removed", removed))
            if ids
        ]
        lines.append(f"{name}: {'; '.join(parts) if parts else 'unchanged'}")
    return lines


def _remove(settings: Settings, watchlist: str, known: Collection[str]) -> int:
    state = asyncio.run(deployed(settings, known))
    if not asyncio.run(remove_watchlist(settings, watchlist, state)):
        names = ", ".join(sorted(state.by_watchlist())) or "none"
        print(
            f"newsmon: watchlist {watchlist} is not deployed (deployed: {names})", file=sys.stderr
        )
        return 2
    print(f"removed watchlist {watchlist} from {settings.topic_prefix}newsmon.rules")
    return 0


def _articles(args: argparse.Namespace, settings: Settings, bad: list[str]) -> Iterator[Article]:
    """The articles to test on; a bad record is reported on stderr and noted in ``bad``."""
    if args.topic:
        yield from read_topic(settings, settings.topic_prefix + args.topic)
        return
    for record in read_records(args.against, settings.max_article_bytes):
        if record.article is not None:
            yield record.article
        else:
            bad.append(record.origin)
            print(f"{record.origin}: {record.problem}", file=sys.stderr)


def _test(args: argparse.Namespace, settings: Settings, ruleset: RuleSet, tagger: Tagger) -> int:
    deployed = _deployed(settings, tagger) if args.diff else None
    pipeline = load_pipeline(settings.spacy_model, ner=settings.ner and not args.no_ner)
    new_results, old_results = [], []
    bad: list[str] = []
    articles = islice(_articles(args, settings, bad), args.limit)
    while batch := list(islice(articles, _BATCH)):
        items = [(a, tagger.tag(a)) for a in pipeline.analyze(batch)]
        new_results.extend(backtest.run(items, ruleset))
        if deployed is not None:
            old_results.extend(backtest.run(items, deployed))
    if args.as_json:
        for result in new_results:
            print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        _print_summary(backtest.summarize(new_results, ruleset, args.examples), len(new_results))
    if deployed is not None:
        _print_diff(backtest.diff(new_results, old_results), deployed)
    return 1 if bad else 0


def _deployed(settings: Settings, tagger: Tagger) -> RuleSet:
    """The rule set pushed last; the NEWSMON_RULES file when none was pushed or Kafka is away."""
    try:
        latest = asyncio.run(latest_ruleset(settings, tagger.taxonomy.names))
    except KafkaError as exc:
        print(
            f"newsmon: cannot read the deployed rule set ({exc}); comparing with {settings.rules}",
            file=sys.stderr,
        )
        latest = None
    return latest[0] if latest else load_rules(Path(settings.rules), tagger.taxonomy.names)


def _print_summary(summaries: list[backtest.RuleSummary], total: int) -> None:
    console = Console()
    table = Table(title=f"backtest on {total} articles")
    for column in ("rule", "severity", "watchlist", "alerts", "examples"):
        table.add_column(column)
    for s in summaries:
        examples = "\n".join(f"{aid}: {title[:70]}" for aid, title, _ in s.examples)
        table.add_row(s.rule_id, s.severity, s.watchlist, str(s.count), examples)
    console.print(table)


def _print_diff(diffs: list[backtest.RuleDiff], deployed: RuleSet) -> None:
    console = Console()
    table = Table(title=f"against the deployed rule set {deployed.version}")
    table.add_column("rule", no_wrap=True)
    for column in ("watchlist", "alerts gained", "alerts lost", "examples"):
        table.add_column(column)
    for d in diffs:
        if d.gained or d.lost:
            watchlist, _, rule_id = d.rule.partition("/")
            sample = ", ".join([f"+{a}" for a in d.gained[:2]] + [f"-{a}" for a in d.lost[:2]])
            table.add_row(rule_id, watchlist, str(len(d.gained)), str(len(d.lost)), sample)
    console.print(table if table.row_count else "no change in alerts against the deployed set")
