"""The taxonomy: topics defined by weighted terms, proximity pairs and exclusions.

A topic's score is the sum of its evidence: each occurrence of a term adds the term's
weight times the weight of the field it is in (title > lead > body), counting at most
``max_count`` occurrences of one term; a ``near`` pair adds its weight when a word of
``a`` and a word of ``b`` stand within ``within`` words of each other. Terms may be
negative. An occurrence inside an ``exclude`` context ("coalition government") counts
for nothing. The topic applies when the score reaches ``threshold`` and at least
``min_terms`` distinct positive terms or pairs contributed. See docs/taxonomy.md.

Context on a term (format version 2, all optional, absent keys keep version 1 meaning):

- ``requires: [words]`` -- an occurrence counts only when one of these words or phrases
  stands within ``within`` words of it in the same field (``Patriot`` needs ``missile``,
  ``battery``, ``system`` ... so the football team does not count);
- ``unless: [words]`` -- an occurrence counts for nothing when one of these stands within
  ``within`` words (``S-300`` unless ``fired``, ``shelling``: the missile used on ground
  targets);
- ``within`` -- the window of both, in words (default 6).

Long articles (format version 2): with ``long_body_chars: N`` at the top level, evidence
in the body after the lead of a body longer than N characters is scaled by
``N / len(body)``, so a topic must come up more often in a long article to count
(a passing mention deep in a 6,000-character feature is not what it is about).

A near pair may say ``ordered: true`` (the ``a`` word must come before the ``b`` word)
and ``unless: [words]`` (the pair counts for nothing when one of these stands within
``within`` words of either side); it counts once per field, up to ``max_count``.
Overlapping term occurrences of one topic are one piece of evidence: the longest span
wins (``coalition government`` as a negative term silences the ``coalition`` inside it),
then the heavier weight. Unknown keys are refused with their file, line and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from monitor.errors import Location, TaxonomyError
from monitor.text.fields import pattern_words
from monitor.yamlfile import Located, LocatedList, load_yaml_file

DEFAULT_TAXONOMY = Path(__file__).parents[1] / "data" / "taxonomy.yaml"
FIELDS = ("title", "lead", "body")
DEFAULT_FIELD_WEIGHTS = {"title": 2.0, "lead": 1.5, "body": 1.0}
DEFAULT_LEAD_CHARS = 400
DEFAULT_WITHIN = 6
_TOPIC_KEYS = frozenset(
    {"name", "label", "definition", "threshold", "terms", "near", "exclude"}
    | {"min_terms", "max_count"}
)
_TERM_KEYS = frozenset(["term", "weight", "fields", "exact", "requires", "unless", "within"])
_NEAR_KEYS = frozenset(["a", "b", "within", "weight", "ordered", "unless"])
_ROOT_KEYS = frozenset(["version", "fields", "lead_chars", "long_body_chars", "topics"])


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase with a weight; ``exact`` requires the case as written.

    ``requires``/``unless`` are context phrases that must (must not) stand within
    ``within`` words of an occurrence for it to count.
    """

    text: str
    weight: float
    fields: tuple[str, ...] = FIELDS
    exact: bool = False
    requires: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    within: int = DEFAULT_WITHIN


@dataclass(frozen=True, slots=True)
class Near:
    """Proximity evidence: a word of ``a`` within ``within`` words of a word of ``b``
    (and before it when ``ordered``)."""

    a: tuple[str, ...]
    b: tuple[str, ...]
    within: int
    weight: float
    ordered: bool = False
    unless: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    label: str
    definition: str
    threshold: float
    terms: tuple[Term, ...]
    near: tuple[Near, ...] = ()
    exclude: tuple[str, ...] = ()
    min_terms: int = 1
    max_count: int = 3


@dataclass(frozen=True, slots=True)
class Taxonomy:
    topics: tuple[Topic, ...]
    field_weights: dict[str, float]
    lead_chars: int = DEFAULT_LEAD_CHARS
    long_body_chars: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(topic.name for topic in self.topics)


def load_taxonomy(path: Path = DEFAULT_TAXONOMY) -> Taxonomy:
    """Load and validate a taxonomy file; refuse it with file, line and column."""
    data = load_yaml_file(path, TaxonomyError)
    root = _mapping(data, None, "the taxonomy must be a mapping with 'topics'", str(path))
    _known_keys(root, _ROOT_KEYS, "the taxonomy")
    topics = _sequence(root, "topics")
    weights = dict(DEFAULT_FIELD_WEIGHTS)
    if "fields" in root:
        given = _mapping(root["fields"], root.where("fields"), "fields must be a mapping")
        for name in given:
            if name not in FIELDS:
                _fail(given, name, f"unknown field {name!r}; expected one of {', '.join(FIELDS)}")
            weights[name] = _number(given, name)
    parsed = tuple(_topic(item, topics.where(i)) for i, item in enumerate(topics))
    seen: set[str] = set()
    for i, topic in enumerate(parsed):
        if topic.name in seen:
            raise TaxonomyError(topics.where(i), f"duplicate topic {topic.name!r}")
        seen.add(topic.name)
    lead = int(_number(root, "lead_chars")) if "lead_chars" in root else DEFAULT_LEAD_CHARS
    long_body = int(_number(root, "long_body_chars")) if "long_body_chars" in root else 0
    return Taxonomy(parsed, weights, lead, long_body)


def _topic(item: Any, where: Location) -> Topic:
    topic = _mapping(item, where, "a topic must be a mapping")
    _known_keys(topic, _TOPIC_KEYS, "a topic")
    name = _text(topic, "name")
    if not name.isidentifier():
        _fail(topic, "name", f"topic name {name!r} must be a lower-case identifier")
    terms = _sequence(topic, "terms")
    near = _sequence(topic, "near") if "near" in topic else LocatedList()
    exclude = _sequence(topic, "exclude") if "exclude" in topic else LocatedList()
    return Topic(
        name=name,
        label=str(topic.get("label", name)),
        definition=str(topic.get("definition", "")).strip(),
        threshold=_number(topic, "threshold"),
        terms=tuple(_term(t, terms.where(i)) for i, t in enumerate(terms)),
        near=tuple(_near(n, near.where(i)) for i, n in enumerate(near)),
        exclude=tuple(_phrase(e, exclude.where(i)) for i, e in enumerate(exclude)),
        min_terms=int(_number(topic, "min_terms")) if "min_terms" in topic else 1,
        max_count=int(_number(topic, "max_count")) if "max_count" in topic else 3,
    )


def _term(item: Any, where: Location) -> Term:
    if isinstance(item, str):
        return Term(_phrase(item, where), 1.0)
    term = _mapping(item, where, "a term is a phrase or a mapping with 'term' and 'weight'")
    _known_keys(term, _TERM_KEYS, "a term")
    fields = tuple(_sequence(term, "fields")) if "fields" in term else FIELDS
    for name in fields:
        if name not in FIELDS:
            _fail(term, "fields", f"unknown field {name!r}; expected one of {', '.join(FIELDS)}")
    return Term(
        _phrase(_text(term, "term"), term.where("term")),
        _number(term, "weight"),
        fields,
        _flag(term, "exact"),
        _phrases(term, "requires"),
        _phrases(term, "unless"),
        _window(term, DEFAULT_WITHIN),
    )


def _near(item: Any, where: Location) -> Near:
    near = _mapping(item, where, "a near pair is a mapping with a, b, within and weight")
    _known_keys(near, _NEAR_KEYS, "a near pair")
    within = _window(near, None)
    return Near(
        _phrases(near, "a", required=True),
        _phrases(near, "b", required=True),
        within,
        _number(near, "weight"),
        _flag(near, "ordered"),
        _phrases(near, "unless"),
    )


def _phrases(parent: Located, key: str, *, required: bool = False) -> tuple[str, ...]:
    if key not in parent and not required:
        return ()
    words = _sequence(parent, key)
    return tuple(_phrase(w, words.where(i)) for i, w in enumerate(words))


def _window(parent: Located, default: int | None) -> int:
    if default is not None and "within" not in parent:
        return default
    within = _number(parent, "within")
    if within < 1 or within != int(within):
        _fail(parent, "within", "within must be a whole number of words, at least 1")
    return int(within)


def _flag(parent: Located, key: str) -> bool:
    value = parent.get(key, False)
    if not isinstance(value, bool):
        _fail(parent, key, f"{key!r} must be true or false, got {value!r}")
    return value


def _known_keys(parent: Located, known: frozenset[str], what: str) -> None:
    for key in parent:
        if key not in known:
            _fail(
                parent,
                key,
                f"unknown key {key!r} in {what}; expected one of " + ", ".join(sorted(known)),
            )


def _phrase(value: Any, where: Location) -> str:
    if not isinstance(value, str) or not pattern_words(value):
        raise TaxonomyError(where, f"expected a word or phrase, got {value!r}")
    return value


def _mapping(value: Any, where: Location | None, message: str, path: str = "") -> Located:
    if not isinstance(value, Located):
        raise TaxonomyError(where or Location(path, 1, 1), message)
    return value


def _sequence(parent: Located, key: str) -> LocatedList:
    if key not in parent:
        raise TaxonomyError(parent.where(), f"missing {key!r}", parent.source_line())
    value = parent[key]
    if not isinstance(value, LocatedList) or not value:
        _fail(parent, key, f"{key!r} must be a non-empty list")
    return value


def _text(parent: Located, key: str) -> str:
    if key not in parent:
        raise TaxonomyError(parent.where(), f"missing {key!r}", parent.source_line())
    value = parent[key]
    if not isinstance(value, str) or not value.strip():
        _fail(parent, key, f"{key!r} must be a non-empty string")
    return str(value)


def _number(parent: Located, key: str) -> float:
    if key not in parent:
        raise TaxonomyError(parent.where(), f"missing {key!r}", parent.source_line())
    value = parent[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(parent, key, f"{key!r} must be a number, got {value!r}")
    return float(value)


def _fail(parent: Located, key: str, message: str) -> NoReturn:
    raise TaxonomyError(parent.where(key), message, parent.source_line(key))
