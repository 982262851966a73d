"""Reading articles from files: ``.txt``, ``.json`` and ``.jsonl`` files or folders.

Records are yielded with their origin (``file:line``) so a bad one can be reported
precisely while the rest still flow. Common feed spellings are accepted on input
(``text`` for ``body``, ``published`` for ``published_at``; a timestamp without a zone
is read as UTC) and written out in the contract's names.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from monitor.errors import InvalidArticle
from monitor.text.article import Article, article_from_mapping, article_from_text

SUFFIXES = (".txt", ".json", ".jsonl", ".jsonl.gz")


@dataclass(frozen=True, slots=True)
class Record:
    """One input record: an Article, or the error that stopped it, and where it was."""

    origin: str
    article: Article | None = None
    error: InvalidArticle | None = None


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files named, and the article files inside folders named, in sorted order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.name.endswith(SUFFIXES)))
        else:
            files.append(path)
    return files


def read_records(paths: Iterable[Path]) -> Iterator[Record]:
    """Every record of every file, in order."""
    for path in expand(paths):
        if path.suffix == ".txt":
            yield _from_text(path)
        elif path.suffix == ".json":
            yield from _from_json(path)
        else:
            with _open(path) as lines:
                yield from read_lines(lines, str(path))


def read_lines(lines: TextIO, name: str) -> Iterator[Record]:
    """Records from JSON lines (``-`` on the command line: standard input)."""
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield _from_json_text(line, f"{name}:{number}")


def read_stdin() -> Iterator[Record]:
    return read_lines(sys.stdin, "<stdin>")


def _open(path: Path) -> TextIO:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _from_text(path: Path) -> Record:
    try:
        return Record(str(path), article=article_from_text(path.read_text(encoding="utf-8")))
    except UnicodeDecodeError as exc:
        return Record(str(path), error=InvalidArticle("bad_encoding", str(exc)))


def _from_json(path: Path) -> Iterator[Record]:
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        yield Record(str(path), error=InvalidArticle("bad_json", "not a JSON document"))
        return
    items = data if isinstance(data, list) else [data]
    for index, item in enumerate(items):
        yield _from_value(item, f"{path}[{index}]" if isinstance(data, list) else str(path))


def _from_json_text(line: str, origin: str) -> Record:
    try:
        value = json.loads(line)
    except (ValueError, RecursionError) as exc:
        return Record(origin, error=InvalidArticle("bad_json", str(exc)[:200]))
    return _from_value(value, origin)


def _from_value(value: Any, origin: str) -> Record:
    if not isinstance(value, dict):
        return Record(origin, error=InvalidArticle("not_an_object", "expected a JSON object"))
    try:
        return Record(origin, article=article_from_mapping(_feed_names(value)))
    except InvalidArticle as exc:
        return Record(origin, error=exc)


def _feed_names(record: dict[str, Any]) -> dict[str, Any]:
    """Map common feed field names onto the contract's (text -> body, published -> published_at)."""
    mapped = dict(record)
    if "body" not in mapped and isinstance(mapped.get("text"), str):
        mapped["body"] = mapped.pop("text")
    if "published_at" not in mapped and "published" in mapped:
        mapped["published_at"] = _with_zone(mapped.pop("published"))
    return mapped


def _with_zone(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return value  # left for validation to refuse with a reason
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).isoformat()
