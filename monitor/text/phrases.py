"""One automaton for many phrases: the matcher under both taxonomy and rules.

Every pattern is compiled into an Aho-Corasick automaton over the space-joined norms of
a field, so finding all of them costs time linear in the text whatever their number
(this is the "equivalent automaton" to spaCy's PhraseMatcher, without building a Doc per
pattern). Prefix patterns (``halt*``) run in a second automaton over lower-case words.

``find`` builds every :class:`Hit`; ``scan`` finds the same occurrences by a dictionary
lookup per word, groups them by key and builds the hits of the keys a caller asks for:
rule matching reads the keys of ~100 occurrences per article but the positions of only
a handful.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import ahocorasick

from monitor.text.fields import Field, pattern_variants

#: Distinct words whose prefix keys an index remembers before it starts over.
_PREFIX_CACHE = 100_000


class Hit(NamedTuple):
    """A pattern found in a field: word positions ``first..last``, characters ``start:end``.

    A named tuple: built for every occurrence of every pattern, it must be cheap.
    """

    key: int
    first: int
    last: int
    start: int
    end: int


class PhraseIndex:
    """Patterns compiled once; ``find`` returns every occurrence in a field.

    ``phrases`` and ``prefixes`` are ``(key, text)`` pairs; keys are the caller's ids and
    may repeat (one key, several phrasings).
    """

    def __init__(
        self, phrases: Iterable[tuple[int, str]], prefixes: Iterable[tuple[int, str]] = ()
    ) -> None:
        variants = [(variant, key) for key, text in phrases for variant in pattern_variants(text)]
        starts = [(text.lower(), key) for key, text in prefixes if text.strip()]
        self._words = _automaton((f" {' '.join(v)} ", key, len(v)) for v, key in variants)
        self._prefixes = _automaton((f" {text}", key, 1) for text, key in starts)
        # For scan: patterns by their first norm, prefixes by their text (see _prefix_keys).
        heads: dict[str, dict[tuple[tuple[str, ...], int], None]] = {}
        for variant, key in variants:
            heads.setdefault(variant[0], {})[(variant[1:], key)] = None
        self._heads = {head: tuple(entries) for head, entries in heads.items()}
        table: dict[str, dict[int, None]] = {}
        for text, key in starts:
            table.setdefault(text, {})[key] = None
        self._prefix_table = {text: tuple(keys) for text, keys in table.items()}
        self._prefix_lengths = sorted({len(text) for text in table})
        self._prefix_cache: dict[str, tuple[int, ...]] = {}

    def find(self, field: Field) -> list[Hit]:
        """Every occurrence of every pattern in ``field``, in no particular order."""
        if not field.norms:
            return []
        hits = self._find_words(field)
        hits.extend(self._find_compounds(field))
        hits.extend(self._find_prefixes(field))
        return hits

    def scan(self, field: Field) -> FieldScan:
        """The occurrences in ``field`` grouped by key, as positions; see :class:`FieldScan`.

        Finds what :meth:`find` finds, by dictionary lookups per word instead of the
        automaton: the cost of a large index is then per word and per occurrence, not
        per character of a walk through a trie too large for the CPU caches.
        """
        scan = FieldScan(field)
        self._scan_words(field, scan.grouped)
        if self._prefix_lengths:
            self._scan_prefixes(field, scan.grouped)
        return scan

    def _scan_words(self, field: Field, grouped: dict[int, list[tuple[int, int]]]) -> None:
        norms = field.norms
        for first, entries in enumerate(map(self._heads.get, norms)):
            if entries is None:
                continue
            for rest, key in entries:
                after = first + 1 + len(rest)
                if rest and norms[first + 1 : after] != rest:
                    continue
                if key in grouped:
                    grouped[key].append((first, after))
                else:
                    grouped[key] = [(first, after)]
        for joined, first, last in field.compounds:
            for rest, key in self._heads.get(joined, ()):
                if not rest:
                    grouped.setdefault(key, []).append((first, last + 1))

    def _scan_prefixes(self, field: Field, grouped: dict[int, list[tuple[int, int]]]) -> None:
        lowers = field.lowers
        for word, cached in enumerate(map(self._prefix_cache.get, lowers)):
            keys = self._prefix_keys(lowers[word]) if cached is None else cached
            for key in keys:
                grouped.setdefault(key, []).append((word, word + 1))

    def _prefix_keys(self, lower: str) -> tuple[int, ...]:
        """Keys of the prefixes ``lower`` starts with, memoised (the vocabulary repeats)."""
        cache = self._prefix_cache
        table = self._prefix_table
        keys = tuple(
            key
            for length in self._prefix_lengths
            if length <= len(lower)
            for key in table.get(lower[:length], ())
        )
        if len(cache) >= _PREFIX_CACHE:
            cache.clear()
        cache[lower] = keys
        return keys

    def _find_words(self, field: Field) -> list[Hit]:
        if self._words is None:
            return []
        # A match ends on the space after word i in " w0 w1 ... "; i is the number of
        # spaces before that one, less the leading space. Matches come in order of their
        # end, so the count runs on from the previous match (linear, no per-word table).
        joined = f" {' '.join(field.norms)} "
        starts, ends = field.starts, field.ends
        hits = []
        last, counted_to = -1, 0
        for end, entries in self._words.iter(joined):
            last += joined.count(" ", counted_to, end)
            counted_to = end
            for key, length in entries:
                first = last - length + 1
                hits.append(Hit(key, first, last, starts[first], ends[last]))
        return hits

    def _find_compounds(self, field: Field) -> list[Hit]:
        if self._words is None or not field.compounds:
            return []
        hits = []
        for joined, first, last in field.compounds:
            for key, length in self._words.get(f" {joined} ", ()):
                if length == 1:
                    hits.append(Hit(key, first, last, field.starts[first], field.ends[last]))
        return hits

    def _find_prefixes(self, field: Field) -> list[Hit]:
        if self._prefixes is None:
            return []
        # As in _find_words: the word of a match is the count of spaces before its end,
        # less the leading space, counted on from the previous match.
        joined = f" {' '.join(field.lowers)}"
        starts, ends = field.starts, field.ends
        hits = []
        word, counted_to = -1, 0
        for end, entries in self._prefixes.iter(joined):
            word += joined.count(" ", counted_to, end)
            counted_to = end
            for key, _ in entries:
                hits.append(Hit(key, word, word, starts[word], ends[word]))
        return hits


class FieldScan:
    """The occurrences of patterns in one field, grouped by key; hits built on demand.

    ``grouped`` maps a key to its occurrences as word positions ``(first, last + 1)``.
    """

    __slots__ = ("_built", "field", "grouped")

    def __init__(self, field: Field) -> None:
        self.field = field
        self.grouped: dict[int, list[tuple[int, int]]] = {}
        self._built: dict[int, list[Hit]] = {}

    def hits(self, key: int) -> list[Hit]:
        """The occurrences of ``key`` (empty when it does not occur)."""
        if key in self._built:
            return self._built[key]
        starts, ends = self.field.starts, self.field.ends
        built = [
            Hit(key, first, after - 1, starts[first], ends[after - 1])
            for first, after in self.grouped.get(key, ())
        ]
        self._built[key] = built
        return built


def _automaton(entries: Iterable[tuple[str, int, int]]) -> Any:
    table: dict[str, list[tuple[int, int]]] = {}
    for text, key, length in entries:
        table.setdefault(text, []).append((key, length))
    if not table:
        return None
    automaton = ahocorasick.Automaton()
    for text, values in table.items():
        automaton.add_word(text, tuple(dict.fromkeys(values)))
    automaton.make_automaton()
    return automaton
