"""The watch-rule query language: ``parse_query(text) -> Node`` and ``evaluate(node, facts)``.

Queries are parsed once into a frozen tree (:mod:`monitor.rules.syntax`, grammar in
:mod:`monitor.rules.parser`). Evaluation never looks at the text again: it reads
:class:`Facts`, i.e. the hits of every term found by one phrase-index pass per field
(see :mod:`monitor.rules.presearch`), the article's topics, entities and source. So matching
costs time linear in the text plus the size of the tree; there are no user regexes and
no backtracking.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from monitor.rules.parser import QueryError, parse_query
from monitor.rules.syntax import (
    FIELDS,
    And,
    EntityIs,
    Near,
    Node,
    Not,
    Or,
    Pattern,
    Source,
    Term,
    Topic,
)
from monitor.tagging.tags import Evidence, TopicTag
from monitor.text.fields import Field
from monitor.text.nlp import Analyzed
from monitor.text.phrases import Hit

__all__ = ["Facts", "QueryError", "evaluate", "evidence", "make_facts", "parse_query"]

#: Occurrences of one term reported as evidence; an alert explains, it does not index.
MAX_OCCURRENCES = 3

Found = tuple[Field, Hit]


@dataclass(frozen=True, slots=True)
class Facts:
    """What a query can ask about one article.

    ``hits`` maps each term pattern that occurs to its occurrences (a pattern with none
    is not a key, so ``in`` answers without building positions); ``entities`` holds canonical
    names and ``source`` the source, both case-folded.
    """

    hits: Mapping[Pattern, Sequence[Found]]
    topics: Mapping[str, float | None]  # topic name -> confidence (None: no second stage)
    entities: frozenset[str]
    source: str


def make_facts(
    analyzed: Analyzed, topics: Iterable[TopicTag | str], hits: Mapping[Pattern, Sequence[Found]]
) -> Facts:
    """Facts of an analysed article, its topic tags (or names) and its term hits."""
    return Facts(
        hits=hits,
        topics=_topic_confidences(topics),
        entities=frozenset(e.canonical.casefold() for e in analyzed.entities),
        source=analyzed.article.source.strip().casefold(),
    )


def _topic_confidences(topics: Iterable[TopicTag | str]) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    for t in topics:
        if isinstance(t, str):
            found[t] = None
        else:
            found[t.name] = t.confidence
    return found


def evaluate(node: Node, facts: Facts) -> bool:  # noqa: PLR0911 - one return per node type
    """Whether the query tree holds for the article the facts describe."""
    if isinstance(node, Term):
        return _occurs(node, facts)
    if isinstance(node, And):
        return all(evaluate(child, facts) for child in node.children)
    if isinstance(node, Or):
        return any(evaluate(child, facts) for child in node.children)
    if isinstance(node, Not):
        return not evaluate(node.child, facts)
    if isinstance(node, Near):
        return _closest(node, facts) is not None
    if isinstance(node, Topic):
        if node.name not in facts.topics:
            return False
        if node.min_confidence is None:
            return True
        confidence = facts.topics[node.name]
        return confidence is not None and confidence >= node.min_confidence
    if isinstance(node, EntityIs):
        return node.name.casefold() in facts.entities
    return _source_matches(node, facts.source)


def evidence(node: Node, facts: Facts) -> tuple[Evidence, ...]:
    """The positive term occurrences that made ``node`` true, title first then by start.

    Terms under NOT and in false branches of OR give no evidence; a NEAR gives the
    closest pair that satisfied it.
    """
    found: dict[tuple[str, int, int], Evidence] = {}
    for term, field, hit in _witnesses(node, facts):
        key = (field.name, hit.start, hit.end)
        if key not in found:
            snippet = field.snippet(hit.start, hit.end)
            found[key] = Evidence(
                term.label,
                field.name,
                hit.start,
                hit.end,
                snippet.text,
                (snippet.start, snippet.end),
            )
    return tuple(sorted(found.values(), key=lambda e: (e.field != "title", e.start, e.end)))


def _witnesses(node: Node, facts: Facts) -> Iterable[tuple[Term, Field, Hit]]:
    if isinstance(node, Term):
        occurrences = [(f, h) for f, h in facts.hits.get(node.pattern, ()) if f.name in node.fields]
        occurrences.sort(key=lambda o: (o[0].name != "title", o[1].start))
        return [(node, f, h) for f, h in occurrences[:MAX_OCCURRENCES]]
    if isinstance(node, And | Or):
        return [w for c in node.children if evaluate(c, facts) for w in _witnesses(c, facts)]
    if isinstance(node, Near):
        return _closest(node, facts) or ()
    return ()


def _occurs(term: Term, facts: Facts) -> bool:
    if term.fields == FIELDS:
        # Presence alone: the occurrences (positions) are built only if evidence asks.
        return term.pattern in facts.hits
    occurrences = facts.hits.get(term.pattern)
    if not occurrences:
        return False
    return any(field.name in term.fields for field, _ in occurrences)


def _source_matches(node: Source, source: str) -> bool:
    wanted = node.value.strip().casefold()
    return source.startswith(wanted) if node.prefix else source == wanted


_Pair = tuple[tuple[Term, Field, Hit], tuple[Term, Field, Hit]]


def _closest(near: Near, facts: Facts) -> _Pair | None:
    """The closest pair satisfying a NEAR/ONEAR in one field, or None.

    Each side's hits are sorted by position and searched by bisection, so the cost
    grows as (hits on one side) x log(hits on the other), never with the text squared.
    """
    best: tuple[int, _Pair] | None = None
    for name in FIELDS:
        left = _side(near.left, name, facts)
        right = _side(near.right, name, facts)
        if not left or not right:
            continue
        found = [_ordered(left, right, near.distance)]
        if not near.ordered:
            found.append(_swap(_ordered(right, left, near.distance)))
        for candidate in found:
            if candidate is not None and (best is None or candidate[0] < best[0]):
                best = candidate
    return best[1] if best else None


def _side(terms: tuple[Term, ...], name: str, facts: Facts) -> list[tuple[Term, Field, Hit]]:
    return [
        (term, field, hit)
        for term in terms
        if name in term.fields
        for field, hit in facts.hits.get(term.pattern, ())
        if field.name == name
    ]


def _ordered(
    first: list[tuple[Term, Field, Hit]], second: list[tuple[Term, Field, Hit]], distance: int
) -> tuple[int, _Pair] | None:
    """The closest pair with a ``first`` hit ending 1..distance words before a ``second``."""
    second = sorted(second, key=lambda w: w[2].first)
    starts = [w[2].first for w in second]
    best: tuple[int, _Pair] | None = None
    for witness in first:
        last = witness[2].last
        at = bisect_left(starts, last + 1)
        gap = starts[at] - last if at < len(starts) else distance + 1
        if gap <= distance and (best is None or gap < best[0]):
            best = (gap, (witness, second[at]))
    return best


def _swap(found: tuple[int, _Pair] | None) -> tuple[int, _Pair] | None:
    return (found[0], (found[1][1], found[1][0])) if found else None
