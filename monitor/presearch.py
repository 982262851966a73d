"""The presearcher: which rules are worth evaluating for an article.

Every term of every query is compiled into one :class:`~monitor.phrases.PhraseIndex`,
so an article costs one automaton pass per field whatever the number of rules. Each
query gets a set of *required patterns* -- the query can only be true if one of them
occurs -- and only queries whose required patterns were hit (plus the few that can
match without any term, such as ``NOT x`` or ``topic:ceasefire``) are evaluated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from monitor.nlp import Analyzed
from monitor.phrases import PhraseIndex
from monitor.query import Found, evaluate, evidence, make_facts
from monitor.query_ast import PREFIX, And, Near, Node, Or, Pattern, Term, terms_of
from monitor.query_parser import parse_query
from monitor.tagging import Evidence, TopicTag

Hits = dict[Pattern, list[Found]]


class TermIndex:
    """All terms of many queries in one phrase index; equal patterns share one key."""

    def __init__(self, terms: Iterable[Term]) -> None:
        self._patterns: list[Pattern] = []
        keys: dict[Pattern, int] = {}
        phrases: dict[tuple[int, str], None] = {}
        prefixes: list[tuple[int, str]] = []
        for term in terms:
            pattern = term.pattern
            if pattern not in keys:
                keys[pattern] = len(self._patterns)
                self._patterns.append(pattern)
                if term.kind == PREFIX:
                    prefixes.append((keys[pattern], term.text))
            if term.kind != PREFIX:
                phrases[(keys[pattern], term.text.lower())] = None
        self._index = PhraseIndex(phrases, prefixes)

    def hits(self, analyzed: Analyzed) -> Hits:
        """Every occurrence of every pattern in the article, grouped by pattern."""
        grouped: Hits = defaultdict(list)
        patterns = self._patterns
        for field in analyzed.fields:
            for hit in self._index.find(field):
                grouped[patterns[hit.key]].append((field, hit))
        return grouped


def required(node: Node) -> frozenset[Pattern] | None:
    """Patterns of which at least one must occur for ``node`` to be true.

    None means the node can be true without any term (NOT, topic:, entity:, source:).
    AND needs only its cheapest child's set; OR needs the union of its children's.
    """
    if isinstance(node, Term):
        return frozenset({node.pattern})
    if isinstance(node, Or):
        sets = [required(child) for child in node.children]
        return None if any(s is None for s in sets) else frozenset().union(*sets)  # type: ignore[arg-type]
    if isinstance(node, And):
        return _cheapest([s for c in node.children if (s := required(c)) is not None])
    if isinstance(node, Near):
        return _cheapest([frozenset(t.pattern for t in side) for side in (node.left, node.right)])
    return None


def clauses(node: Node) -> tuple[frozenset[Pattern], ...]:
    """Pattern sets that must *all* be hit (one pattern of each) for ``node`` to be true."""
    if isinstance(node, And):
        return tuple(s for c in node.children for s in clauses(c))
    if isinstance(node, Near):
        return tuple(frozenset(t.pattern for t in side) for side in (node.left, node.right))
    found = required(node)
    return (found,) if found is not None else ()


def _cheapest(sets: list[frozenset[Pattern]]) -> frozenset[Pattern] | None:
    return min(sets, key=_cost) if sets else None


def _cost(patterns: frozenset[Pattern]) -> tuple[float, int]:
    """Prefer sets of few patterns, and phrases (rare) over single words and prefixes."""
    weights = [3.0 if p[0] == "*" else 1.0 if " " in p else 2.0 for p in patterns]
    return (sum(weights), len(patterns))


class Presearcher:
    """Maps hit patterns to the queries that may match; see the module docstring."""

    def __init__(self, queries: Sequence[Node]) -> None:
        self.index = TermIndex(t for query in queries for t in terms_of(query))
        self._triggers: dict[Pattern, list[int]] = defaultdict(list)
        self._always: list[int] = []
        self._clauses: list[tuple[frozenset[Pattern], ...]] = []
        for number, query in enumerate(queries):
            self._clauses.append(clauses(query))
            trigger = required(query)
            if trigger is None:
                self._always.append(number)
            for pattern in trigger or ():
                self._triggers[pattern].append(number)

    @property
    def always(self) -> tuple[int, ...]:
        """Queries evaluated for every article (they can match without any term)."""
        return tuple(self._always)

    def candidates(self, hits: Hits) -> list[int]:
        """Numbers of the queries that may be true given ``hits``, ascending."""
        found: set[int] = set(self._always)
        triggers = self._triggers
        for pattern in hits:
            if pattern in triggers:
                found.update(triggers[pattern])
        hit = frozenset(hits)
        everything = self._clauses
        return sorted(n for n in found if all(not c.isdisjoint(hit) for c in everything[n]))


def match_query(
    query: str | Node, analyzed: Analyzed, topics: Iterable[TopicTag | str] = ()
) -> tuple[Evidence, ...] | None:
    """Evaluate one query on its own (no rule set): its evidence if it matches, else None.

    For tools and tests; a :class:`~monitor.ruleset.RuleSet` shares one index instead.
    """
    node = parse_query(query) if isinstance(query, str) else query
    facts = make_facts(analyzed, topics, TermIndex(terms_of(node)).hits(analyzed))
    return evidence(node, facts) if evaluate(node, facts) else None
