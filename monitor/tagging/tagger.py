"""Topic tagging: ``tag(analyzed, tagger) -> tuple[TopicTag, ...]``.

All terms of all topics are compiled into one :class:`~monitor.text.phrases.PhraseIndex`,
so tagging costs one pass over each field whatever the size of the taxonomy. Every
topic carries its score and the evidence that produced it.

Scoring (the meaning of the taxonomy format, see :mod:`monitor.tagging.taxonomy`): hits are
grouped per topic and field; a term occurrence counts when it is not inside an
``exclude`` context, stands in one of its ``fields``, has the case written when
``exact``, has one of its ``requires`` phrases and none of its ``unless`` phrases within
``within`` words. Of overlapping occurrences of one topic only the longest (then the
heaviest) counts, so one stretch of text is one piece of evidence. Each term counts at
most ``max_count`` occurrences, the heaviest first; each near pair its closest pair per
field (``ordered`` pairs need ``a`` before ``b``), unless both words of the pair lie inside
one counted term occurrence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from monitor.errors import TopicModelError
from monitor.tagging.model import TopicModel
from monitor.tagging.tags import Evidence, TopicCandidate, TopicTag
from monitor.tagging.taxonomy import FIELDS, Near, Taxonomy, Topic
from monitor.text.fields import Field, pattern_words
from monitor.text.nlp import Analyzed
from monitor.text.phrases import Hit, PhraseIndex

# What a phrase key in the index stands for: (kind, topic, item, side).
_TERM, _NEAR, _EXCLUDE, _REQUIRES, _UNLESS, _NEAR_UNLESS = 0, 1, 2, 3, 4, 5
_Slot = tuple[int, int, int, int]
#: Evidence that counted, by (kind, item): (weight, field, span, label).
_Counted = dict[tuple[int, int], list[tuple[float, Field, Hit, str]]]


class _FieldHits:
    """The hits of one topic's phrases in one field, sorted by what they stand for."""

    def __init__(self, field: Field) -> None:
        self.field = field
        self.terms: list[tuple[int, Hit]] = []
        self.context: dict[tuple[int, int], list[Hit]] = defaultdict(list)
        self.near: dict[int, tuple[list[Hit], list[Hit]]] = {}
        self.excluded: list[Hit] = []

    def add(self, kind: int, item: int, side: int, hit: Hit) -> None:
        if kind == _TERM:
            self.terms.append((item, hit))
        elif kind == _NEAR:
            self.near.setdefault(item, ([], []))[side].append(hit)
        elif kind == _EXCLUDE:
            self.excluded.append(hit)
        else:
            self.context[(kind, item)].append(hit)

    def is_excluded(self, hit: Hit) -> bool:
        return any(e.start <= hit.start and hit.end <= e.end for e in self.excluded)


class Tagger:
    """A taxonomy compiled for matching, and the learned second stage trained for it.

    Without a model the taxonomy decides alone (score and ``min_terms``). With one, every
    topic with evidence is a candidate and the model's calibrated confidence decides.
    """

    def __init__(self, taxonomy: Taxonomy, model: TopicModel | None = None) -> None:
        if model is not None and not model.applies_to(taxonomy):
            raise TopicModelError(
                f"topic model {model.version} was trained for another taxonomy; "
                "run `make train` for this one, or tag without the model"
            )
        self.taxonomy = taxonomy
        self.model = model
        self._slots: list[_Slot] = []
        phrases: list[tuple[int, str]] = []
        for t, topic in enumerate(taxonomy.topics):
            for i, term in enumerate(topic.terms):
                phrases.append((self._slot((_TERM, t, i, 0)), term.text))
                phrases.extend((self._slot((_REQUIRES, t, i, 0)), w) for w in term.requires)
                phrases.extend((self._slot((_UNLESS, t, i, 0)), w) for w in term.unless)
            for i, near in enumerate(topic.near):
                phrases.extend((self._slot((_NEAR, t, i, 0)), w) for w in near.a)
                phrases.extend((self._slot((_NEAR, t, i, 1)), w) for w in near.b)
                phrases.extend((self._slot((_NEAR_UNLESS, t, i, 0)), w) for w in near.unless)
            for i, context in enumerate(topic.exclude):
                phrases.append((self._slot((_EXCLUDE, t, i, 0)), context))
        self._index = PhraseIndex(phrases)

    def _slot(self, slot: _Slot) -> int:
        self._slots.append(slot)
        return len(self._slots) - 1

    def tag(self, analyzed: Analyzed) -> tuple[TopicTag, ...]:
        """The topics of an article, each with score, evidence and (with a model) confidence."""
        found = self.candidates(analyzed)
        if self.model is not None:
            return self.model.decide(analyzed, found, self.taxonomy)
        return tuple(c.tag for c in found if c.passed)

    def candidates(self, analyzed: Analyzed) -> tuple[TopicCandidate, ...]:
        """Every topic with counted evidence in an article, in taxonomy order.

        A topic whose counter-signs (negative near items) outweigh its evidence stays a
        candidate, with a score of zero or less: it does not pass, the model decides."""
        by_topic: dict[int, list[_FieldHits]] = defaultdict(list)
        for field in analyzed.fields:
            groups: dict[int, _FieldHits] = {}
            for hit in self._index.find(field):
                kind, t, item, side = self._slots[hit.key]
                if t not in groups:
                    groups[t] = _FieldHits(field)
                    by_topic[t].append(groups[t])
                groups[t].add(kind, item, side, hit)
        tags = []
        for t, topic in enumerate(self.taxonomy.topics):
            if t in by_topic and (found := self._score(topic, by_topic[t])) is not None:
                tags.append(found)
        return tuple(tags)

    def _score(self, topic: Topic, groups: list[_FieldHits]) -> TopicCandidate | None:
        counted: _Counted = defaultdict(list)
        for group in groups:
            terms = self._term_evidence(topic, group)
            for item, weight, hit in terms:
                counted[(_TERM, item)].append((weight, group.field, hit, topic.terms[item].text))
            # Only the near items with words on both sides here, in taxonomy order.
            for item in sorted(i for i, (a, b) in group.near.items() if a and b):
                near = topic.near[item]
                if not (pair := self._near_pair(group, item, near)):
                    continue
                span = Hit(
                    -1,
                    min(p.first for p in pair),
                    max(p.last for p in pair),
                    min(p.start for p in pair),
                    max(p.end for p in pair),
                )
                if any(h.first <= span.first and span.last <= h.last for _, _, h in terms):
                    continue  # the pair is one term ("coalition forces"), counted already
                weight = near.weight * self._field_weight(group.field, span, FIELDS)
                label = _near_label(group.field, near, pair)
                counted[(_NEAR, item)].append((weight, group.field, span, label))
        return self._verdict(topic, counted)

    @staticmethod
    def _near_pair(group: _FieldHits, item: int, near: Near) -> tuple[Hit, Hit] | None:
        """The closest counting pair of one near item in a field, if any."""
        a_hits, b_hits = group.near.get(item, ([], []))
        unless = group.context.get((_NEAR_UNLESS, item), [])
        a_hits = [
            h
            for h in a_hits
            if not group.is_excluded(h) and not _has_context(unless, h, near.within, own=True)
        ]
        b_hits = [
            h
            for h in b_hits
            if not group.is_excluded(h) and not _has_context(unless, h, near.within, own=True)
        ]
        return _closest(a_hits, b_hits, near.within, near.ordered)

    def _term_evidence(self, topic: Topic, group: _FieldHits) -> list[tuple[int, float, Hit]]:
        """The term occurrences that count, after exclusions, context and overlaps."""
        candidates = []
        for item, hit in group.terms:
            term = topic.terms[item]
            weight = self._field_weight(group.field, hit, term.fields)
            if not weight or group.is_excluded(hit):
                continue
            if term.exact and not _same_case(group.field, hit, term.text):
                continue
            needed = group.context.get((_REQUIRES, item), [])
            if term.requires and not _has_context(needed, hit, term.within, own=False):
                continue
            if _has_context(group.context.get((_UNLESS, item), []), hit, term.within, own=True):
                continue
            candidates.append((item, term.weight * weight, hit))
        return _longest(candidates)

    def _verdict(self, topic: Topic, counted: _Counted) -> TopicCandidate | None:
        score, contributors = 0.0, 0
        evidence: list[Evidence] = []
        for occurrences in counted.values():
            occurrences.sort(key=lambda o: (-abs(o[0]), o[1].name != "title", o[2].start))
            kept = occurrences[: topic.max_count]
            subtotal = sum(o[0] for o in kept)
            score += subtotal
            contributors += subtotal > 0
            for w, f, h, label in kept:
                if w > 0:
                    snippet = f.snippet(h.start, h.end)
                    evidence.append(
                        Evidence(
                            label,
                            f.name,
                            h.start,
                            h.end,
                            snippet.text,
                            (snippet.start, snippet.end),
                        )
                    )
        if not contributors:
            return None  # no evidence for the topic (counter-signs alone are none)
        evidence.sort(key=lambda e: (e.field != "title", e.start))
        passed = score >= topic.threshold and contributors >= topic.min_terms
        return TopicCandidate(TopicTag(topic.name, round(score, 3), tuple(evidence)), passed)

    def _field_weight(self, field: Field, hit: Hit, allowed: Iterable[str]) -> float:
        name = field.name
        if name == "body" and hit.start < self.taxonomy.lead_chars:
            name = "lead"
        allowed = tuple(allowed)
        if name not in allowed and not (name == "lead" and "body" in allowed):
            return 0.0
        weight = self.taxonomy.field_weights[name]
        long_body = self.taxonomy.long_body_chars
        if name == "body" and long_body and len(field.text) > long_body:
            weight *= long_body / len(field.text)
        return weight


def _same_case(field: Field, hit: Hit, written: str) -> bool:
    found = pattern_words(field.text[hit.start : hit.end])
    return all(a[0] == b[0] for a, b in zip(found, pattern_words(written), strict=False))


def _has_context(context: list[Hit], hit: Hit, within: int, *, own: bool) -> bool:
    """Whether a context phrase stands within ``within`` words of ``hit``.

    With ``own`` false a context phrase inside the hit itself does not count.
    """
    for c in context:
        if not own and hit.first <= c.first and c.last <= hit.last:
            continue
        if max(c.first - hit.last, hit.first - c.last) <= within:
            return True
    return False


def _longest(candidates: list[tuple[int, float, Hit]]) -> list[tuple[int, float, Hit]]:
    """Overlapping occurrences are one piece of evidence: the longest, then heaviest, wins."""
    candidates.sort(key=lambda c: (c[2].first - c[2].last, -abs(c[1]), c[2].first))
    kept: list[tuple[int, float, Hit]] = []
    for candidate in candidates:
        hit = candidate[2]
        if all(hit.last < k.first or k.last < hit.first for _, _, k in kept):
            kept.append(candidate)
    return kept


def _closest(
    a_hits: list[Hit], b_hits: list[Hit], within: int, ordered: bool = False
) -> tuple[Hit, Hit] | None:
    best: tuple[int, Hit, Hit] | None = None
    for a in a_hits:
        for b in b_hits:
            if a.first <= b.last and b.first <= a.last:
                continue  # the same words cannot stand for both sides
            if ordered and b.first < a.last:
                continue
            gap = max(b.first - a.last, a.first - b.last)
            if gap <= within and (best is None or gap < best[0]):
                best = (gap, a, b)
    return (best[1], best[2]) if best else None


def _near_label(field: Field, near: Near, pair: tuple[Hit, Hit]) -> str:
    """``"<a words> NEAR/<within> <b words>"`` as they are written in the text."""
    a, b = (" ".join(field.text[h.start : h.end].split()) for h in pair)
    return f"{a} NEAR/{near.within} {b}"
