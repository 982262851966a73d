"""Bounds on what a rule file may ask for, so one file cannot exhaust a worker.

A rule set holds at most ``MAX_RULES`` rules; a query at most ``MAX_QUERY_CHARS``
characters, ``MAX_DEPTH`` nested parentheses and ``MAX_TERMS`` terms. Each limit is
refused with the place it is exceeded, like any other error in the file.
"""

from __future__ import annotations

from monitor.rules.lexer import QueryError
from monitor.rules.syntax import Node, terms_of

MAX_RULES = 50_000
MAX_QUERY_CHARS = 4_000
MAX_DEPTH = 32
MAX_TERMS = 256


def check_query_text(text: str) -> None:
    """Refuse an over-long or over-nested query before parsing it (the parser recurses)."""
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(MAX_QUERY_CHARS, f"query longer than {MAX_QUERY_CHARS} characters")
    depth, quoted = 0, False
    for offset, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise QueryError(offset, f"parentheses nested deeper than {MAX_DEPTH}")
        elif not quoted and char == ")":
            depth -= 1


def check_query_tree(node: Node) -> None:
    """Refuse a query with more terms than one rule may hold."""
    terms = terms_of(node)
    if len(terms) > MAX_TERMS:
        raise QueryError(0, f"{len(terms)} terms in one query; at most {MAX_TERMS}")
