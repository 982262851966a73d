"""The presearcher: which rules are worth evaluating for an article.

Every term of every query is compiled into one :class:`~monitor.text.phrases.PhraseIndex`,
so an article costs one automaton pass per field whatever the number of rules. Each
query gets a set of *required patterns* -- the query can only be true if one of them
occurs -- and only queries whose required patterns were hit (plus the few that can
match without any term, such as ``NOT x`` or ``topic:ceasefire``) are evaluated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from monitor.rules.parser import parse_query
from monitor.rules.query import Found, evaluate, evidence, make_facts
from monitor.rules.syntax import PREFIX, And, Near, Node, Or, Pattern, Term, terms_of
from monitor.tagging.tags import Evidence, TopicTag
from monitor.text.nlp import Analyzed
from monitor.text.phrases import FieldScan, PhraseIndex


class Hits(Mapping[Pattern, list[Found]]):
    """Every occurrence of every pattern in an article, grouped by pattern.

    Which patterns occur is known at once; the occurrences of a pattern (field and
    :class:`~monitor.text.phrases.Hit`) are built the first time it is looked up, so an
    article pays for positions only where a query reads them.
    """

    __slots__ = ("_found", "_keys", "_patterns", "_present", "_scans")

    def __init__(
        self, scans: Sequence[FieldScan], keys: Mapping[Pattern, int], patterns: Sequence[Pattern]
    ) -> None:
        self._scans = scans
        self._keys = keys
        self._patterns = patterns
        self._present: set[int] = set().union(*(scan.grouped.keys() for scan in scans))
        self._found: dict[Pattern, list[Found]] = {}

    @property
    def present(self) -> set[int]:
        """The keys (of the :class:`TermIndex`) of the patterns that occur."""
        return self._present

    def __getitem__(self, pattern: Pattern) -> list[Found]:
        if pattern in self._found:
            return self._found[pattern]
        key = self._keys.get(pattern)
        if key is None or key not in self._present:
            raise KeyError(pattern)
        found = [(scan.field, hit) for scan in self._scans for hit in scan.hits(key)]
        self._found[pattern] = found
        return found

    def get(self, pattern: Pattern, default: object = None) -> Any:
        """As ``Mapping.get``, without raising and catching KeyError for absent patterns."""
        key = self._keys.get(pattern)
        if key is None or key not in self._present:
            return default
        return self[pattern]

    def __contains__(self, pattern: object) -> bool:
        return self._keys.get(pattern, -1) in self._present  # type: ignore[call-overload]

    def __iter__(self) -> Iterator[Pattern]:
        return (self._patterns[key] for key in self._present)

    def __len__(self) -> int:
        return len(self._present)


class TermIndex:
    """All terms of many queries in one phrase index; equal patterns share one key."""

    def __init__(self, terms: Iterable[Term]) -> None:
        self._patterns: list[Pattern] = []
        self.keys: dict[Pattern, int] = {}
        keys = self.keys
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
        return Hits([self._index.scan(f) for f in analyzed.fields], self.keys, self._patterns)

    def present(self, hits: Mapping[Pattern, Sequence[Found]]) -> set[int]:
        """The keys of the patterns that occur in ``hits`` (from any Mapping)."""
        if isinstance(hits, Hits) and hits._keys is self.keys:
            return hits.present
        return {self.keys[p] for p, found in hits.items() if found and p in self.keys}


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
        keys = self.index.keys
        triggers: dict[int, list[tuple[int, tuple[frozenset[int], ...]]]] = defaultdict(list)
        #: Queries that can hold without a term, with the clauses they still need.
        self._always: list[tuple[int, tuple[frozenset[int], ...]]] = []
        for number, query in enumerate(queries):
            trigger = required(query)
            rest = [frozenset(keys[p] for p in c) for c in clauses(query) if c != trigger]
            if trigger is None:
                self._always.append((number, tuple(rest)))
            else:
                if trigger not in clauses(query):
                    rest.append(frozenset(keys[p] for p in trigger))
                for pattern in trigger:
                    triggers[keys[pattern]].append((number, tuple(rest)))
        self._triggers = dict(triggers)
        self._trigger_keys = frozenset(triggers)

    @property
    def always(self) -> tuple[int, ...]:
        """Queries evaluated for every article (they can match without any term)."""
        return tuple(number for number, _ in self._always)

    def candidates(self, hits: Mapping[Pattern, Sequence[Found]]) -> list[int]:
        """Numbers of the queries that may be true given ``hits``, ascending."""
        present = self.index.present(hits)
        found = set()
        # Loops, not all(<genexpr>) nor a helper: with 10k rules this body runs ~50 times
        # per article, and most triggered queries fail on their first other clause.
        for key in present & self._trigger_keys:
            for number, rest in self._triggers[key]:
                for clause in rest:
                    if clause.isdisjoint(present):
                        break
                else:
                    found.add(number)
        for number, rest in self._always:
            if all(not clause.isdisjoint(present) for clause in rest):
                found.add(number)
        return sorted(found)


def match_query(
    query: str | Node, analyzed: Analyzed, topics: Iterable[TopicTag | str] = ()
) -> tuple[Evidence, ...] | None:
    """Evaluate one query on its own (no rule set): its evidence if it matches, else None.

    For tools and tests; a :class:`~monitor.rules.ruleset.RuleSet` shares one index instead.
    """
    node = parse_query(query) if isinstance(query, str) else query
    facts = make_facts(analyzed, topics, TermIndex(terms_of(node)).hits(analyzed))
    return evidence(node, facts) if evaluate(node, facts) else None
