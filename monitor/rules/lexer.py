"""The lexer of the watch-rule query language: text to tokens, with offsets.

Operators are upper-case bare words (``AND OR NOT NEAR/n ONEAR/n``); ``"..."`` is a
phrase; ``title:``/``body:`` are field prefixes; ``topic:``, ``entity:`` and ``source:``
take a value (``topic:`` optionally with a confidence bound, ``topic:coalition>=0.8``).
A bare word may end with ``*`` (a prefix of at least three letters).
Every token keeps the 0-based offset of its first character for error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from monitor.rules.syntax import FIELDS, PHRASE, PREFIX, WORD, EntityIs, Node, Source, Term, Topic
from monitor.text.fields import pattern_words

ATOMS = ("topic", "entity", "source")
_OPERATORS = ("AND", "OR", "NOT")
_NEAR = re.compile(r"(O?NEAR)(?:/(.*))?")
_PREFIXED = re.compile(r"([A-Za-z_]+):")
_STOP = frozenset(' \t\r\n()"')
_TOPIC_BOUND = re.compile(r"(?P<name>[^<>=]+?)\s*>=\s*(?P<bound>\S*)")
_MIN_PREFIX = 3


class QueryError(ValueError):
    """A query that does not parse; ``offset`` is 0-based, ``column`` 1-based."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"column {offset + 1}: {message}")
        self.offset = offset
        self.column = offset + 1
        self.message = message


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # ( ) AND OR NOT NEAR TERM FIELD ATOM
    offset: int
    value: Any = None


def lex(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(Token(char, i))
            i += 1
        elif char == '"':
            phrase, i = _quoted(text, i)
            tokens.append(Token("TERM", i - len(phrase) - 2, _phrase(phrase, i - len(phrase) - 1)))
        else:
            end = i
            while end < len(text) and text[end] not in _STOP:
                end += 1
            i = _bare(text, i, end, tokens)
    return tokens


def _quoted(text: str, start: int) -> tuple[str, int]:
    close = text.find('"', start + 1)
    if close == -1:
        raise QueryError(start, "unterminated phrase: missing closing '\"'")
    return text[start + 1 : close], close + 1


def _phrase(phrase: str, offset: int) -> Term:
    if "*" in phrase:
        raise QueryError(offset + phrase.index("*"), "wildcards are not allowed inside phrases")
    if not pattern_words(phrase):
        raise QueryError(offset - 1, "empty phrase")
    return Term(phrase, PHRASE, offset=offset - 1)


def _bare(text: str, start: int, end: int, tokens: list[Token]) -> int:
    """Lex one run of non-space characters; return where lexing continues."""
    run = text[start:end]
    if run in _OPERATORS:
        tokens.append(Token(run, start))
    elif near := _NEAR.fullmatch(run):
        tokens.append(Token("NEAR", start, (_distance(near[2], start), near[1] == "ONEAR")))
    elif prefixed := _PREFIXED.match(run):
        return _prefixed(text, start, end, prefixed[1], tokens)
    else:
        tokens.append(Token("TERM", start, _word(run, start)))
    return end


def _distance(given: str | None, offset: int) -> int:
    if given is None:
        raise QueryError(offset, "NEAR needs a distance: NEAR/n with n >= 1")
    if not given.isdigit() or int(given) < 1:
        raise QueryError(offset, f"bad NEAR distance {given!r}: expected a whole number >= 1")
    return int(given)


def _prefixed(text: str, start: int, end: int, name: str, tokens: list[Token]) -> int:
    after = start + len(name) + 1
    if name in FIELDS:
        tokens.append(Token("FIELD", start, name))
        return after
    if name not in ATOMS:
        known = ", ".join(f"{n}:" for n in (*FIELDS, *ATOMS))
        raise QueryError(start, f"unknown field prefix '{name}:'; expected one of {known}")
    if after < end:
        value, resume = text[after:end], end
    elif after < len(text) and text[after] == '"':
        value, resume = _quoted(text, after)
    else:
        raise QueryError(start, f"'{name}:' needs a value")
    if not value.strip():
        raise QueryError(start, f"'{name}:' needs a value")
    tokens.append(Token("ATOM", start, _atom(name, value.strip(), start)))
    return resume


def _atom(name: str, value: str, offset: int) -> Node:
    if name == "topic":
        return _topic(value, offset)
    if name == "entity":
        return EntityIs(value, offset)
    if value.endswith("*"):
        return Source(value[:-1], prefix=True, offset=offset)
    return Source(value, offset=offset)


def _topic(value: str, offset: int) -> Topic:
    """``name`` or ``name>=c``: the topic, with a lowest confidence between 0 and 1."""
    bounded = _TOPIC_BOUND.fullmatch(value)
    if bounded is None:
        if any(ch in value for ch in "<>="):
            raise QueryError(offset, f"'topic:{value}': a bound is written topic:name>=0.8")
        return Topic(value, offset)
    bound = bounded.group("bound")
    try:
        confidence = float(bound)
    except ValueError:
        confidence = -1.0
    if not 0.0 <= confidence <= 1.0:
        raise QueryError(offset, f"'topic:{value}': the confidence bound must be from 0 to 1")
    return Topic(bounded.group("name"), offset, confidence)


def _word(run: str, offset: int) -> Term:
    star = run.find("*")
    if star != -1 and star != len(run) - 1:
        raise QueryError(offset + star, "'*' is only allowed at the end of a word")
    stem = run[:-1] if star != -1 else run
    words = pattern_words(stem)
    if not words:
        raise QueryError(offset, f"{run!r} is not a word")
    if star == -1:
        return Term(run, WORD if len(words) == 1 else PHRASE, offset=offset)
    if len(words) != 1 or words[0] != stem:
        raise QueryError(offset, f"a wildcard must be a single word, got {run!r}")
    if sum(ch.isalnum() for ch in stem) < _MIN_PREFIX:
        raise QueryError(offset, f"a wildcard needs at least {_MIN_PREFIX} letters before '*'")
    return Term(stem, PREFIX, offset=offset)
