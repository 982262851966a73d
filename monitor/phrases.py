"""One automaton for many phrases: the matcher under both taxonomy and rules.

Every pattern is compiled into an Aho-Corasick automaton over the space-joined norms of
a field, so finding all of them costs time linear in the text whatever their number
(this is the "equivalent automaton" to spaCy's PhraseMatcher, without building a Doc per
pattern). Prefix patterns (``halt*``) run in a second automaton over lower-case words.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import ahocorasick

from monitor.text import Field, pattern_variants


@dataclass(frozen=True, slots=True)
class Hit:
    """A pattern found in a field: word positions ``first..last``, characters ``start:end``."""

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
        self._words = _automaton(
            (f" {' '.join(variant)} ", key, len(variant))
            for key, text in phrases
            for variant in pattern_variants(text)
        )
        self._prefixes = _automaton(
            (f" {text.lower()}", key, 1) for key, text in prefixes if text.strip()
        )

    def find(self, field: Field) -> list[Hit]:
        """Every occurrence of every pattern in ``field``, in no particular order."""
        if not field.norms:
            return []
        hits = self._find_words(field)
        hits.extend(self._find_compounds(field))
        hits.extend(self._find_prefixes(field))
        return hits

    def _find_words(self, field: Field) -> list[Hit]:
        if self._words is None:
            return []
        # A match ends on the space after word i in " w0 w1 ... "; i is the number of
        # spaces before that one, less the leading space. Matches come in order of their
        # end, so the count runs on from the previous match (linear, no per-word table).
        joined = f" {' '.join(field.norms)} "
        hits = []
        last, counted_to = -1, 0
        for end, entries in self._words.iter(joined):
            last += joined.count(" ", counted_to, end)
            counted_to = end
            for key, length in entries:
                first = last - length + 1
                hits.append(Hit(key, first, last, field.starts[first], field.ends[last]))
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
        starts = list(accumulate((len(w) + 1 for w in field.lowers), initial=0))
        hits = []
        for end, entries in self._prefixes.iter(f" {' '.join(field.lowers)}"):
            word = bisect_right(starts, end - 1) - 1
            for key, _ in entries:
                hits.append(Hit(key, word, word, field.starts[word], field.ends[word]))
        return hits


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
