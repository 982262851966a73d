"""Backtests: what a rule set would have alerted on, with the stream's own code.

The same ``RuleSet.match`` runs here as in the analyser, on articles analysed and tagged
by the same pipeline, so a backtest shows exactly what the stream would have done
(before story de-duplication, which depends on arrival order and time).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.rules.files import RuleMatch, RuleSet
from monitor.tagging.tags import TopicTag
from monitor.text.nlp import Analyzed


@dataclass(frozen=True, slots=True)
class ArticleResult:
    """The rules one article matched."""

    article_id: str
    title: str
    matches: tuple[RuleMatch, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.article_id,
            "matches": [
                {
                    "rule_id": m.rule.id,
                    "watchlist": m.rule.watchlist,
                    "severity": m.rule.severity,
                    "matches": [e.to_json() for e in m.matches],
                }
                for m in self.matches
            ],
        }


def run(
    items: Iterable[tuple[Analyzed, Sequence[TopicTag]]], ruleset: RuleSet
) -> list[ArticleResult]:
    """Match every (analysed article, its topics) against the rule set."""
    return [
        ArticleResult(
            analyzed.article.id,
            analyzed.article.title or analyzed.article.body[:80],
            ruleset.match(analyzed, topics),
        )
        for analyzed, topics in items
    ]


@dataclass
class RuleSummary:
    """How many articles a rule would alert on, with a few examples (id, title, snippet)."""

    rule_id: str
    severity: str
    watchlist: str
    count: int = 0
    examples: list[tuple[str, str, str]] = field(default_factory=list)


def summarize(
    results: Iterable[ArticleResult], ruleset: RuleSet, examples: int = 3
) -> list[RuleSummary]:
    """Per rule of the set, in file order: articles matched and the first examples."""
    summaries = {r.key: RuleSummary(r.id, r.severity, r.watchlist) for r in ruleset.rules}
    for result in results:
        for match in result.matches:
            summary = summaries[match.rule.key]
            summary.count += 1
            if len(summary.examples) < examples:
                snippet = match.matches[0].snippet if match.matches else ""
                summary.examples.append((result.article_id, result.title, snippet))
    return list(summaries.values())


@dataclass(frozen=True, slots=True)
class RuleDiff:
    """Articles a rule alerts on with the new rule set and not the deployed one, and back.

    ``rule`` is ``<watchlist>/<rule id>`` (ids are unique per watchlist)."""

    rule: str
    gained: tuple[str, ...]
    lost: tuple[str, ...]


def diff(new: Iterable[ArticleResult], deployed: Iterable[ArticleResult]) -> list[RuleDiff]:
    """Alerts gained and lost per rule (rules only in one set count all as gained/lost)."""
    new_pairs = {(m.rule.key, r.article_id) for r in new for m in r.matches}
    old_pairs = {(m.rule.key, r.article_id) for r in deployed for m in r.matches}
    rules = sorted({rule for rule, _ in new_pairs | old_pairs})
    return [
        RuleDiff(
            rule,
            tuple(sorted(a for r, a in new_pairs - old_pairs if r == rule)),
            tuple(sorted(a for r, a in old_pairs - new_pairs if r == rule)),
        )
        for rule in rules
    ]
