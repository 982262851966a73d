"""Articles: the record every stage passes on, and how raw input becomes one.

The wire contract (docs/records.md, ``monitor/schemas/article.schema.json``): a JSON object with
``id``, ``title``, ``body``, ``url``, ``source``, ``published_at`` (ISO 8601 with a zone)
and ``language``; unknown fields are kept. Either ``title`` or ``body`` may be empty or
missing, not both. A missing id is derived from the content, so replaying the same
corpus twice yields the same ids.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor import wirejson
from monitor.errors import InvalidArticle

DEFAULT_MAX_BYTES = 1024 * 1024
_TEXT_FIELDS = ("id", "title", "body", "url", "source", "language")
_KNOWN = {*_TEXT_FIELDS, "published_at"}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“'‘])")
_MAX_TITLE_CHARS = 300
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True, slots=True)
class Article:
    """One news article. ``published_at`` is timezone-aware or None."""

    id: str
    title: str
    body: str
    url: str = ""
    source: str = ""
    published_at: datetime | None = None
    language: str = "en"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The article as its wire JSON object (unknown fields restored)."""
        record: dict[str, Any] = dict(self.extra)
        record.update(
            id=self.id,
            title=self.title,
            body=self.body,
            url=self.url,
            source=self.source,
            published_at=self.published_at.isoformat() if self.published_at else None,
            language=self.language,
        )
        return record


def content_id(title: str, body: str) -> str:
    """A stable id from an article's text: 16 hex digits of SHA-256 over title and body."""
    digest = hashlib.sha256(f"{title.strip()}\n{body.strip()}".encode()).hexdigest()
    return digest[:16]


def parse_timestamp(value: str, name: str = "published_at") -> datetime:
    """Parse an ISO 8601 timestamp that carries a zone; refuse naive or malformed ones."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidArticle(f"schema:{name}", f"not an ISO 8601 timestamp: {value!r}") from exc
    if stamp.tzinfo is None:
        raise InvalidArticle(f"schema:{name}", f"timestamp has no zone: {value!r}")
    return stamp


def article_from_mapping(record: Mapping[str, Any]) -> Article:
    """Validate a decoded JSON object and build the Article it describes."""
    values: dict[str, str] = {}
    for name in _TEXT_FIELDS:
        value = record.get(name)
        if value is None:
            values[name] = ""
        elif isinstance(value, str):
            values[name] = value
        elif name == "id" and isinstance(value, int) and not isinstance(value, bool):
            values[name] = str(value)
        else:
            raise InvalidArticle(f"schema:{name}", f"{name} must be a string")
    if not values["title"].strip() and not values["body"].strip():
        raise InvalidArticle("schema:body", "title and body are both empty")
    published = record.get("published_at")
    if published is not None and not isinstance(published, str):
        raise InvalidArticle("schema:published_at", "published_at must be a string")
    return Article(
        id=values["id"].strip() or content_id(values["title"], values["body"]),
        title=values["title"],
        body=values["body"],
        url=values["url"],
        source=values["source"],
        published_at=parse_timestamp(published) if published else None,
        language=values["language"] or "en",
        extra={k: v for k, v in record.items() if k not in _KNOWN},
    )


def decode_article(raw: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> Article:
    """Decode one wire message into an Article, or raise InvalidArticle with a reason."""
    if len(raw) > max_bytes:
        raise InvalidArticle("too_large", f"{len(raw)} bytes exceeds the limit of {max_bytes}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArticle("bad_encoding", f"not UTF-8 at byte {exc.start}") from exc
    try:
        record = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidArticle("bad_json", str(exc)[:200]) from exc
    if not isinstance(record, dict):
        raise InvalidArticle("not_an_object", f"JSON {type(record).__name__}, not an object")
    if _SURROGATE_ESCAPE.search(text):
        _refuse_lone_surrogates(record)
    return article_from_mapping(record)


def _refuse_lone_surrogates(record: dict[str, Any]) -> None:
    """JSON may escape a lone UTF-16 surrogate (``"\\ud800"``); no UTF-8 text can hold one."""
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArticle("bad_encoding", "a JSON escape names a lone surrogate") from exc


def encode_article(article: Article) -> bytes:
    """The wire bytes of an article (compact UTF-8 JSON)."""
    return wirejson.dumps(article.to_json(), foreign=bool(article.extra))


def article_from_text(text: str) -> Article:
    """An article from plain text: the first line (or, if long, first sentence) is the title."""
    stripped = text.strip()
    first, _, rest = stripped.partition("\n")
    if len(first) > _MAX_TITLE_CHARS:
        parts = _SENTENCE_END.split(first, maxsplit=1)
        if len(parts) == 2:
            first, rest = parts[0], parts[1] + ("\n" + rest if rest else "")
    title, body = first.strip(), rest.strip()
    return Article(id=content_id(title, body), title=title, body=body)
