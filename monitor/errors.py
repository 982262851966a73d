"""Errors of the newsmon domain.

The hierarchy::

    NewsmonError
    ├── InvalidArticle         a record that cannot become an Article; carries a
    │                          closed-set `reason` (see REASONS) for the dead-letter topic
    ├── TopicModelError        a topic model file that cannot be read or does not fit
    └── DefinitionError        a taxonomy or rule file that is refused; carries the
        │                      file, line and column of the problem
        ├── TaxonomyError
        └── RuleError          also carries the rule id when one is known
"""

from __future__ import annotations

from dataclasses import dataclass

#: Reasons a record is dead-lettered. ``schema:<field>`` is open only in its field name.
REASONS = (
    "bad_json",
    "not_an_object",
    "too_large",
    "bad_encoding",
    "unhandled",
    "webhook_failed",  # an alert a webhook did not take (the delivery agent)
)
SCHEMA_PREFIX = "schema:"


class NewsmonError(Exception):
    """Base class of every error newsmon raises on purpose."""


class InvalidArticle(NewsmonError):
    """A record that cannot become an article, with a reason from a closed set."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS and not reason.startswith(SCHEMA_PREFIX):
            raise ValueError(f"unknown dead-letter reason {reason!r}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class TopicModelError(NewsmonError):
    """A topic model file that cannot be read, or was made for another newsmon."""


@dataclass(frozen=True, slots=True)
class Location:
    """Where in a definition file a problem is: 1-based line and column."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


class DefinitionError(NewsmonError):
    """A definition file (taxonomy, rules) that is refused, with its location."""

    def __init__(self, location: Location, message: str, source_line: str = "") -> None:
        self.location = location
        self.message = message
        self.source_line = source_line
        super().__init__(self.render())

    def render(self) -> str:
        """The error as a compiler would print it, with a caret under the problem."""
        text = f"{self.location}: {self.message}"
        if self.source_line:
            caret = " " * (self.location.column - 1) + "^"
            text += f"\n    {self.source_line}\n    {caret}"
        return text


class TaxonomyError(DefinitionError):
    """A taxonomy file that is refused."""


class RuleError(DefinitionError):
    """A rule file that is refused; names the rule when one is known."""

    def __init__(
        self, location: Location, message: str, source_line: str = "", rule_id: str | None = None
    ) -> None:
        self.rule_id = rule_id
        prefix = f"rule {rule_id!r}: " if rule_id else ""
        super().__init__(location, prefix + message, source_line)
