"""The syntax tree of a watch-rule query: frozen nodes, built by :mod:`monitor.rules.parser`.

Leaves are :class:`Term` (a word, phrase or prefix, optionally scoped to fields) and the
article-level atoms :class:`Topic`, :class:`EntityIs` and :class:`Source`. ``offset`` is
the 0-based character offset in the query where the node starts (for error messages).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.text.fields import norms, pattern_words

FIELDS = ("title", "body")
WORD, PHRASE, PREFIX = "word", "phrase", "prefix"

#: What a term looks for: ``"=air defens"`` for words and phrases (compared as norms, so
#: "air defence" and "air-defense" are one pattern), ``"*halt"`` for prefixes. Terms
#: with the same pattern share one slot in the phrase index. (A string, not a tuple:
#: its hash is cached, and patterns are looked up for every hit.)
Pattern = str


@dataclass(frozen=True, slots=True)
class Term:
    """A word, a quoted phrase or a ``prefix*``, found in any of ``fields``."""

    text: str
    kind: str
    fields: tuple[str, ...] = FIELDS
    offset: int = field(default=0, compare=False)
    pattern: Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind == PREFIX:
            pattern = "*" + self.text.lower()
        else:
            pattern = "=" + " ".join(norms(pattern_words(self.text)))
        object.__setattr__(self, "pattern", pattern)

    @property
    def label(self) -> str:
        """The term as an alert shows it: ``air defence``, ``halt*``."""
        return f"{self.text}*" if self.kind == PREFIX else self.text


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class Near:
    """Some term of ``left`` within ``distance`` words of some term of ``right``.

    ``ordered`` (ONEAR) requires the left term to come first. Distance counts word
    positions between the nearest ends: adjacent words are at distance 1.
    """

    left: tuple[Term, ...]
    right: tuple[Term, ...]
    distance: int
    ordered: bool = False


@dataclass(frozen=True, slots=True)
class Topic:
    """True when the article carries the topic, with at least ``min_confidence`` if given
    (``topic:coalition>=0.8``; a topic without a confidence does not meet a bound)."""

    name: str
    offset: int = 0
    min_confidence: float | None = None


@dataclass(frozen=True, slots=True)
class EntityIs:
    """True when some entity's canonical name equals ``name`` (case-insensitive)."""

    name: str
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Source:
    """The article's source equals ``value`` (case-insensitive), or starts with it."""

    value: str
    prefix: bool = False
    offset: int = 0


Node = Term | And | Or | Not | Near | Topic | EntityIs | Source


def terms_of(node: Node) -> tuple[Term, ...]:
    """Every term in a tree, positive or negated, in query order."""
    if isinstance(node, Term):
        return (node,)
    if isinstance(node, And | Or):
        return tuple(t for child in node.children for t in terms_of(child))
    if isinstance(node, Not):
        return terms_of(node.child)
    if isinstance(node, Near):
        return (*node.left, *node.right)
    return ()


def topics_of(node: Node) -> tuple[Topic, ...]:
    """Every ``topic:`` atom in a tree."""
    if isinstance(node, Topic):
        return (node,)
    if isinstance(node, And | Or):
        return tuple(t for child in node.children for t in topics_of(child))
    if isinstance(node, Not):
        return topics_of(node.child)
    return ()
