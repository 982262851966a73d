"""Named entities and their canonical names.

spaCy's NER finds mentions; an alias table (``data/entities.yaml``) gives canonical
names (Zelensky, Zelenskiy, Zelenskyy → Volodymyr Zelenskyy) and doubles as a
gazetteer, so known entities are found even when no trained pipeline is installed.
Aliases are compared on norms, so case, spelling and inflection variants meet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from monitor.text.fields import Field, norms, pattern_words
from monitor.text.phrases import PhraseIndex

DEFAULT_ALIASES = Path(__file__).parents[1] / "data" / "entities.yaml"
#: NER labels worth reporting: who, which organisation, where.
LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT", "PRODUCT"})
_LEADING = ("the ", "The ")


@dataclass(frozen=True, slots=True)
class Entity:
    """A mention of an entity in one field, with its canonical name."""

    text: str
    label: str
    canonical: str
    field: str
    start: int
    end: int

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "label": self.label,
            "canonical": self.canonical,
            "field": self.field,
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True, slots=True)
class KnownEntity:
    canonical: str
    label: str


class AliasTable:
    """Canonical names by normalised alias, and a gazetteer over the same aliases.

    Acronym aliases (``US``, ``IS``) would collide with common words once case is
    folded, so the gazetteer only accepts them written in capitals.
    """

    def __init__(self, entries: Iterable[tuple[str, str, Sequence[str]]]) -> None:
        self._known: list[KnownEntity] = []
        self._by_key: dict[tuple[str, ...], int] = {}
        self._alias_entity: list[int] = []
        self._strict: list[bool] = []
        phrases: list[tuple[int, str]] = []
        for canonical, label, aliases in entries:
            index = len(self._known)
            self._known.append(KnownEntity(canonical, label))
            for alias in (canonical, *aliases):
                self._by_key[norms(pattern_words(alias))] = index
                phrases.append((len(self._alias_entity), alias))
                self._alias_entity.append(index)
                self._strict.append(_is_acronym(alias))
        self._index = PhraseIndex(phrases)

    @classmethod
    def load(cls, path: Path = DEFAULT_ALIASES) -> AliasTable:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls(
            (item["canonical"], item.get("label", "ORG"), item.get("aliases", []))
            for item in data.get("entities", [])
        )

    def canonical(self, text: str, label: str) -> tuple[str, str]:
        """The canonical name and label of a mention; unknown mentions keep their text."""
        cleaned = " ".join(text.split())
        for prefix in _LEADING:
            cleaned = cleaned.removeprefix(prefix)
        found = self._by_key.get(norms(pattern_words(cleaned)))
        if found is None:
            return cleaned, label
        known = self._known[found]
        return known.canonical, known.label

    def mentions(self, field: Field) -> list[Entity]:
        """Known entities mentioned in a field, longest mention first where they overlap."""
        hits = sorted(self._index.find(field), key=lambda h: (h.start, -(h.end - h.start)))
        found: list[Entity] = []
        taken_until = -1
        for hit in hits:
            surface = field.text[hit.start : hit.end]
            if hit.start < taken_until or (self._strict[hit.key] and not surface.isupper()):
                continue
            known = self._known[self._alias_entity[hit.key]]
            found.append(
                Entity(surface, known.label, known.canonical, field.name, hit.start, hit.end)
            )
            taken_until = hit.end
        return found


def _is_acronym(alias: str) -> bool:
    letters = [ch for ch in alias if ch.isalpha()]
    return len(letters) <= 5 and all(ch.isupper() for ch in letters)


def merge_entities(ner: Iterable[Entity], gazetteer: Iterable[Entity]) -> tuple[Entity, ...]:
    """NER mentions plus gazetteer mentions that no NER mention overlaps, in text order."""
    merged = list(ner)
    spans = [(e.field, e.start, e.end) for e in merged]
    for entity in gazetteer:
        if not any(f == entity.field and s < entity.end and entity.start < e for f, s, e in spans):
            merged.append(entity)
    order = {"title": 0, "body": 1}
    return tuple(sorted(merged, key=lambda e: (order.get(e.field, 2), e.start)))
