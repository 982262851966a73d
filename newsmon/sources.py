"""Reading articles from files: ``.txt``, ``.json``, ``.jsonl`` and ``.jsonl.gz`` files or folders.

Records are yielded with their origin (``file:line``) so a bad one can be reported
precisely while the rest still flow: a line that is not UTF-8 or not JSON is one bad
record, and the next line is read. A file that cannot be read at all (missing, no
permission, a ``.gz`` that is not gzip or is cut short) is one bad record naming the file
and, for a cut-short ``.gz``, the last line read. A UTF-8 byte order mark is accepted and
dropped, so it never shifts an offset. With ``max_bytes`` an article whose wire form is
larger is a bad record (``too_large``), as the stream would dead-letter it. Common feed
spellings are accepted on input (``text`` for ``body``, ``published`` for
``published_at``; a timestamp without a zone is read as UTC) and written out in the
contract's names.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.errors import InvalidArticle
from monitor.text.article import Article, article_from_mapping, article_from_text, encode_article

SUFFIXES = (".txt", ".json", ".jsonl", ".jsonl.gz")
_BOM = b"\xef\xbb\xbf"
#: What reading a damaged or mislabelled ``.gz`` raises, besides OSError (BadGzipFile).
_GZIP_ERRORS = (OSError, EOFError, zlib.error)


@dataclass(frozen=True, slots=True)
class Record:
    """One input record: an Article, or what stopped it, and where it was.

    ``error`` is a record the stream would dead-letter (with its reason); ``unreadable``
    says why a file, or the rest of it, could not be read.
    """

    origin: str
    article: Article | None = None
    error: InvalidArticle | None = None
    unreadable: str | None = None

    @property
    def problem(self) -> str:
        """What is wrong with a bad record, for a person ("" for a good one)."""
        if self.error is not None:
            return f"{self.error.reason}: {self.error.detail}"
        return self.unreadable or ""


def missing(paths: Iterable[Path]) -> list[Path]:
    """The paths that name no file or folder (checked before anything else runs)."""
    return [path for path in paths if str(path) != "-" and not path.exists()]


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files named, and the article files inside folders named, in sorted order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.name.endswith(SUFFIXES)))
        else:
            files.append(path)
    return files


def read_records(paths: Iterable[Path], max_bytes: int | None = None) -> Iterator[Record]:
    """Every record of every file, in order; ``-`` is standard input (JSON lines)."""
    for path in expand(paths):
        if str(path) == "-":
            found = read_lines(sys.stdin.buffer, "<stdin>")
        elif path.suffix == ".txt":
            found = iter([_from_text(path)])
        elif path.suffix == ".json":
            found = _from_json(path)
        else:
            found = _from_lines(path)
        for record in found:
            yield _checked(record, max_bytes)


def read_lines(lines: Iterable[bytes], name: str) -> Iterator[Record]:
    """Records from JSON lines given as bytes; a bad line is one bad record."""
    for number, line in enumerate(lines, start=1):
        yield from _from_line(line, f"{name}:{number}", first=number == 1)


def _from_line(line: bytes, origin: str, *, first: bool) -> Iterator[Record]:
    """The record of one JSON line (none for a blank line); a BOM may open the first."""
    try:
        text = (line.removeprefix(_BOM) if first else line).decode("utf-8")
    except UnicodeDecodeError as exc:
        detail = f"not UTF-8 at byte {exc.start}"
        yield Record(origin, error=InvalidArticle("bad_encoding", detail))
        return
    if text.strip():
        yield _from_json_text(text, origin)


def _checked(record: Record, max_bytes: int | None) -> Record:
    """The record, or a ``too_large`` one when its article's wire form passes ``max_bytes``."""
    if record.article is None or max_bytes is None:
        return record
    size = len(encode_article(record.article))
    if size <= max_bytes:
        return record
    detail = f"{size} bytes exceeds the limit of {max_bytes}"
    return Record(record.origin, error=InvalidArticle("too_large", detail))


def _from_lines(path: Path) -> Iterator[Record]:
    last = 0  # the last line read, for a file that breaks off
    try:
        with _open(path) as lines:
            for number, line in enumerate(lines, start=1):
                last = number
                yield from _from_line(line, f"{path}:{number}", first=number == 1)
    except _GZIP_ERRORS as exc:
        after = f" after line {last}" if last else ""
        yield Record(str(path), unreadable=f"cannot read{after}: {_reason(exc)}")


def _open(path: Path) -> io.BufferedIOBase:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, gzip.BadGzipFile | EOFError | zlib.error):
        return f"not a complete gzip file ({exc})"
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def _decoded(path: Path) -> str | Record:
    """The text of a whole file, or a bad record saying why there is none."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Record(str(path), unreadable=f"cannot read: {_reason(exc)}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return Record(
            str(path), error=InvalidArticle("bad_encoding", f"not UTF-8 at byte {exc.start}")
        )


def _from_text(path: Path) -> Record:
    text = _decoded(path)
    if isinstance(text, Record):
        return text
    return Record(str(path), article=article_from_text(text))


def _from_json(path: Path) -> Iterator[Record]:
    text = _decoded(path)
    if isinstance(text, Record):
        yield text
        return
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        yield Record(str(path), error=InvalidArticle("bad_json", str(exc)[:200]))
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
