"""The recursive-descent parser of the watch-rule query language.

Grammar (operators are upper case only; precedence NEAR > NOT > AND > OR)::

    query    = or_expr ;
    or_expr  = and_expr { "OR" and_expr } ;
    and_expr = unary { [ "AND" ] unary } ;             (* side by side means AND *)
    unary    = "NOT" unary | near ;
    near     = primary [ ( "NEAR/" n | "ONEAR/" n ) primary ] ;   (* n >= 1 *)
    primary  = "(" or_expr ")" | field ":" ( term | "(" or_expr ")" )
             | "topic:" value | "entity:" value | "source:" value [ "*" ] | term ;
    field    = "title" | "body" ;
    term     = word | '"' phrase '"' | prefix "*" ;    (* prefix: >= 3 letters *)

NEAR operands must be terms (optionally field-scoped) or parenthesised OR-groups of
terms. Errors are :class:`QueryError` with the 0-based offset of the offending character.
"""

from __future__ import annotations

from dataclasses import replace

from monitor.rules.lexer import QueryError, Token, lex
from monitor.rules.syntax import FIELDS, And, Near, Node, Not, Or, Term

__all__ = ["QueryError", "parse_query"]


def parse_query(text: str) -> Node:
    """Parse a query into a frozen tree, or raise :class:`QueryError`."""
    tokens = lex(text)
    if not tokens:
        raise QueryError(0, "empty query")
    parser = _Parser(tokens, len(text))
    node = parser.or_expr()
    if (token := parser.peek()) is not None:
        if token.kind == ")":
            raise QueryError(token.offset, "unbalanced ')': nothing to close")
        raise QueryError(
            token.offset,
            _near_operand_error if token.kind == "NEAR" else f"unexpected {token.kind}",
        )
    return node


_near_operand_error = "NEAR operands must be words, phrases, wildcards or an OR-group of them"


_STARTS_UNARY = frozenset({"(", "TERM", "FIELD", "ATOM", "NOT"})


class _Parser:
    def __init__(self, tokens: list[Token], length: int) -> None:
        self._tokens = tokens
        self._at = 0
        self._length = length

    def peek(self) -> Token | None:
        return self._tokens[self._at] if self._at < len(self._tokens) else None

    def _take(self) -> Token:
        token = self._tokens[self._at]
        self._at += 1
        return token

    def _operand(self, operator: Token, starts: frozenset[str] = _STARTS_UNARY) -> None:
        """Refuse an operator with nothing usable on its right."""
        token = self.peek()
        if token is None or token.kind not in starts:
            raise QueryError(operator.offset, f"{operator.kind} needs a term on its right")

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self._operand(self._take())
            children.append(self.and_expr())
        return _flat(Or, children)

    def and_expr(self) -> Node:
        children = [self.unary()]
        while (token := self.peek()) is not None:
            if token.kind == "AND":
                self._operand(self._take())
            elif token.kind not in _STARTS_UNARY:
                break
            children.append(self.unary())
        return _flat(And, children)

    def unary(self) -> Node:
        token = self.peek()
        if token is not None and token.kind == "NOT":
            self._operand(self._take())
            return Not(self.unary())
        return self.near()

    def near(self) -> Node:
        start = self.peek()
        left = self.primary()
        operator = self.peek()
        if operator is None or operator.kind != "NEAR":
            return left
        assert start is not None  # primary() consumed it
        self._take()
        self._operand(operator, frozenset({"(", "TERM", "FIELD"}))
        right_start = self.peek()
        assert right_start is not None
        right = self.primary()
        distance, ordered = operator.value
        return Near(
            _near_terms(left, start.offset),
            _near_terms(right, right_start.offset),
            distance,
            ordered,
        )

    def primary(self) -> Node:
        token = self.peek()
        if token is None:
            raise QueryError(self._length, "the query ends where a term was expected")
        self._take()
        if token.kind == "(":
            return self._group(token)
        if token.kind == "FIELD":
            self._operand(Token(f"{token.value}:", token.offset), frozenset({"(", "TERM"}))
            inner = self._take()
            node = self._group(inner) if inner.kind == "(" else inner.value
            return _scope(node, token.value, token.offset)
        if token.kind in ("TERM", "ATOM"):
            return token.value  # type: ignore[no-any-return]
        if token.kind == ")":
            raise QueryError(token.offset, "unbalanced ')': nothing to close")
        if token.kind == "NEAR":
            raise QueryError(token.offset, "NEAR needs a term on its left")
        raise QueryError(token.offset, f"{token.kind} needs a term on its left")

    def _group(self, opening: Token) -> Node:
        token = self.peek()
        if token is not None and token.kind == ")":
            raise QueryError(opening.offset, "empty parentheses")
        node = self.or_expr()
        token = self.peek()
        if token is None or token.kind != ")":
            raise QueryError(opening.offset, "unbalanced '(': never closed")
        self._take()
        return node


def _flat(kind: type[And] | type[Or], children: list[Node]) -> Node:
    if len(children) == 1:
        return children[0]
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))
    return kind(tuple(flat))


def _near_terms(node: Node, offset: int) -> tuple[Term, ...]:
    if isinstance(node, Term):
        return (node,)
    if isinstance(node, Or) and all(isinstance(c, Term) for c in node.children):
        return tuple(c for c in node.children if isinstance(c, Term))
    raise QueryError(offset, _near_operand_error)


def _scope(node: Node, field: str, offset: int) -> Node:
    """Restrict every term under ``node`` to ``field``."""
    if isinstance(node, Term):
        if node.fields not in (FIELDS, (field,)):
            raise QueryError(offset, f"'{field}:' conflicts with '{node.fields[0]}:' inside it")
        return replace(node, fields=(field,))
    if isinstance(node, And | Or):
        return replace(node, children=tuple(_scope(c, field, offset) for c in node.children))
    if isinstance(node, Not):
        return Not(_scope(node.child, field, offset))
    if isinstance(node, Near):
        left = tuple(_scope(t, field, offset) for t in node.left)
        right = tuple(_scope(t, field, offset) for t in node.right)
        return replace(node, left=left, right=right)  # type: ignore[arg-type]
    raise QueryError(offset, f"'{field}:' applies to terms, not to {type(node).__name__.lower()}:")
