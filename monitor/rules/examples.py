"""Checking rules against their ``must_match`` / ``must_not_match`` examples.

Examples are analysed with the blank spaCy pipeline (loaded once, on first use) and
checked against the query alone: a rule's ``topics:`` filter is ignored, and ``topic:``
and ``entity:`` atoms are false, because examples are neither tagged nor run through
NER. ``source:`` atoms see the example's ``source``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from monitor.errors import Location, RuleError
from monitor.rules.presearch import TermIndex
from monitor.rules.query import Facts, evaluate
from monitor.rules.syntax import Node, terms_of
from monitor.rules.validators import items
from monitor.text.article import Article
from monitor.text.nlp import BLANK, Pipeline, load_pipeline
from monitor.yamlfile import Located


@dataclass(frozen=True, slots=True)
class Example:
    """One example article for a rule and whether the rule must match it."""

    where: Location
    source_line: str
    expected: bool
    title: str = ""
    body: str = ""
    source: str = ""

    def article(self) -> Article:
        return Article(
            id=f"example:{self.where}", title=self.title, body=self.body, source=self.source
        )


@cache
def _pipeline() -> Pipeline:
    return load_pipeline(BLANK, ner=False)


def failing_examples(
    rules: Sequence[tuple[Node, Sequence[Example]]],
) -> tuple[int, Example] | None:
    """The first ``(rule number, example)`` whose outcome differs from the expected one."""
    flat = [
        (number, query, example)
        for number, (query, examples) in enumerate(rules)
        for example in examples
    ]
    if not flat:
        return None
    analyzed = _pipeline().analyze([example.article() for _, _, example in flat])
    for (number, query, example), article in zip(flat, analyzed, strict=True):
        hits = TermIndex(terms_of(query)).hits(article)
        facts = Facts(hits, {}, frozenset(), example.source.strip().casefold())
        if evaluate(query, facts) != example.expected:
            return number, example
    return None


def examples_of(item: Located, rule_id: str) -> tuple[Example, ...]:
    examples: list[Example] = []
    for key, expected in (("must_match", True), ("must_not_match", False)):
        if key not in item:
            continue
        values = items(item, key, rule_id, allow_empty=True)
        for i, value in enumerate(values):
            line = item.lines[values.where(i).line - 1]
            where = Example(values.where(i), line, expected)
            examples.append(_example(value, where, key, rule_id))
    return tuple(examples)


def _example(value: Any, where: Example, key: str, rule_id: str) -> Example:
    """``where`` is an empty example carrying the location and expectation."""
    if isinstance(value, str) and value.strip():
        return replace(where, body=value)
    if (
        isinstance(value, Located)
        and set(value) <= {"title", "body", "source"}
        and all(isinstance(v, str) for v in value.values())
        and any(value.values())
    ):
        return replace(where, **value)
    message = f"each {key} example is text or a mapping with title/body/source"
    raise RuleError(where.where, message, where.source_line, rule_id)
