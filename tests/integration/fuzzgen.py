"""Fuzz cases for the articles topic: (value bytes, expected outcome) pairs, reproducibly.

Hypothesis draws small pools (text fragments, JSON values) once, derandomized; a
``random.Random(seed)`` then builds thousands of messages from them, which is fast.
Each bad case carries the dead-letter reason the contract promises (docs/records.md, dead
letters); each valid case carries the article id the tagger must publish. Labels come
from the contract and Python's own JSON and UTF-8 parsers, never from ``decode_article``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from monitor.text.article import content_id

#: The worker's NEWSMON_MAX_ARTICLE_BYTES in the fuzz test: small, so oversize is cheap.
LIMIT = 64 * 1024
FIELDS = ("id", "title", "body", "url", "source", "language", "published_at")


@dataclass(frozen=True, slots=True)
class Case:
    """One message: its value, and either the reason it is refused or the id it is tagged as."""

    value: bytes | None
    category: str
    reason: str | None = None
    article_id: str | None = None


@dataclass(frozen=True, slots=True)
class Pools:
    """Hypothesis-drawn material: text fragments, JSON scalars/containers, non-strings."""

    texts: tuple[str, ...]
    json_values: tuple[Any, ...]
    not_strings: tuple[Any, ...]


def _collect(strategy: st.SearchStrategy[Any], count: int) -> tuple[Any, ...]:
    """``count`` examples of ``strategy``, the same ones on every run (derandomized)."""
    found: list[Any] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def draw(value: Any) -> None:
        found.append(value)

    draw()
    return tuple(found)


_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def draw_pools() -> Pools:
    return Pools(
        texts=_collect(st.text(max_size=60), 300),
        json_values=_collect(_JSON, 300),
        not_strings=_collect(_JSON.filter(lambda v: v is not None and not isinstance(v, str)), 200),
    )


class Builder:
    """Builds cases from a seeded random source and the hypothesis pools."""

    def __init__(self, seed: int, pools: Pools) -> None:
        self.rng = random.Random(seed)
        self.pools = pools
        self.serial = 0

    def text(self) -> str:
        return self.rng.choice(self.pools.texts)

    def ident(self) -> str:
        self.serial += 1
        return f"fz-{self.serial:06d}"

    def timestamp(self) -> str | None:
        moment = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=self.rng.randrange(10**9))
        zone = timezone(timedelta(minutes=self.rng.randrange(-12 * 60, 14 * 60 + 1, 15)))
        return self.rng.choice(
            [None, "", moment.isoformat(), moment.astimezone(zone).isoformat(), "2025-03-01T12:00Z"]
        )

    def article(self, ident: str) -> dict[str, Any]:
        """A valid article object; the unique id also opens the title, so it is never empty."""
        record: dict[str, Any] = {
            "id": ident,
            "title": f"Story {ident} {self.text()}",
            "body": " ".join(self.text() for _ in range(self.rng.randrange(4))),
            "url": f"https://news.example/{ident}",
            "source": self.rng.choice(["wire.example", "", None]),
            "published_at": self.timestamp(),
            "language": self.rng.choice(["en", "de", None]),
        }
        for name in [k for k in ("source", "language") if self.rng.random() < 0.2]:
            del record[name]
        return record

    def dumps(self, record: Any) -> str:
        return json.dumps(record, ensure_ascii=self.rng.random() < 0.5)

    def valid(self, record: dict[str, Any], category: str, text: str | None = None) -> Case:
        raw = (text if text is not None else self.dumps(record)).encode()
        assert len(raw) <= LIMIT, category
        return Case(raw, category, article_id=str(record["id"]))

    def bad_json(self, text: str, category: str) -> Case:
        try:
            json.loads(text)
        except (ValueError, RecursionError):
            return Case(text.encode(), category, reason="bad_json")
        return self.bad_json(text + "}{", category)  # the mutation happened to be valid JSON

    def bad_bytes(self, raw: bytes, category: str) -> Case:
        if len(raw) > LIMIT:
            return Case(raw, category, reason="too_large")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return Case(raw, category, reason="bad_encoding")
        raise AssertionError(f"{category}: {raw[:60]!r} is valid UTF-8")


# --- bad messages: each returns a Case with the reason the contract promises ------------


def invalid_json(b: Builder) -> Case:
    doc = json.dumps(b.article(b.ident()))
    mutations: list[Callable[[], str]] = [
        lambda: doc.replace(":", "=", 1),
        lambda: doc.replace('"', "'"),
        lambda: doc[:-1] + ",}",
        lambda: doc + doc,
        lambda: "\ufeff" + doc,  # a UTF-8 byte-order mark: json refuses it
        lambda: "// comment\n" + doc,
        lambda: "{" + b.text(),
        lambda: b.rng.choice(["", " ", "\n", "undefined", "{'id': 1}", "{id: 1}", "nul"]),
        lambda: '{"id": ' + "9" * b.rng.randrange(4301, 6000) + "}",  # > int max str digits
        lambda: b.text() + "\x00{",
    ]
    return b.bad_json(b.rng.choice(mutations)(), "invalid_json")


def truncated_json(b: Builder) -> Case:
    doc = b.dumps(b.article(b.ident()))
    return b.bad_json(doc[: b.rng.randrange(len(doc))], "truncated_json")


def raw_control_char(b: Builder) -> Case:
    record = b.article(b.ident())
    record["title"] += "@@"
    char = chr(b.rng.randrange(0x20))
    return b.bad_json(json.dumps(record).replace("@@", char, 1), "raw_control_char")


def deep_nesting(b: Builder) -> Case:
    shape = b.rng.choice(["[", "obj", "field"])
    depth = b.rng.randrange(1_200, 10_000 if shape == "obj" else 30_000)  # within LIMIT
    if shape == "[":
        text = "[" * depth + "]" * depth
    elif shape == "obj":
        text = '{"a":' * depth + "1" + "}" * depth
    else:
        text = '{"title":"t","x":' + "[" * depth + "]" * depth + "}"
    return b.bad_json(text, f"deep_nesting_{shape}")


def not_an_object(b: Builder) -> Case:
    special = ["[]", "null", "true", '"article"', "1e400", "NaN", "-Infinity", "0"]
    value = b.rng.choice([*b.pools.json_values, [b.article(b.ident())]])
    text = b.rng.choice([b.dumps(value), b.rng.choice(special)])
    if isinstance(json.loads(text), dict):
        text = f"[{text}]"
    return Case(text.encode(), "not_an_object", reason="not_an_object")


def wrong_type(b: Builder) -> Case:
    record = b.article(b.ident())
    name = b.rng.choice(FIELDS)
    wrong = [v for v in b.pools.not_strings if name != "id" or not _is_int(v)]
    record[name] = b.rng.choice([*wrong, 1.5, True, [], {}])
    return Case(b.dumps(record).encode(), f"wrong_type_{name}", reason=f"schema:{name}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_BAD_STAMPS = [
    "yesterday",
    " ",
    "2025-13-01T00:00:00Z",
    "2025-02-30T10:00:00+00:00",
    "2025-03-01T25:00:00Z",
    "2025-03-01T10:00:00+25:00",
    "01/03/2025 10:00 UTC",
    "2025-03-01T10:00:00 CET",
]


def bad_timestamp(b: Builder) -> Case:
    record = b.article(b.ident())
    moment = datetime(2024, 1, 1) + timedelta(seconds=b.rng.randrange(10**8))  # noqa: DTZ001 (naive on purpose)
    record["published_at"] = b.rng.choice(
        [moment.isoformat(), moment.date().isoformat(), "x" + b.text(), *_BAD_STAMPS]
    )
    return Case(b.dumps(record).encode(), "bad_timestamp", reason="schema:published_at")


def both_empty(b: Builder) -> Case:
    record = b.article(b.ident())
    blanks = [None, "", " ", "\n\t", "\u00a0", "\u3000 ", "\x1c"]
    for name in ("title", "body"):
        if b.rng.random() < 0.3:
            del record[name]
        else:
            record[name] = b.rng.choice(blanks)
    return Case(b.dumps(record).encode(), "both_empty", reason="schema:body")


_NOT_UTF8 = [b"\xff", b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf5\x80\x80\x80", b"\xe2\x82"]


def invalid_utf8(b: Builder) -> Case:
    record = b.article(b.ident())
    raw = json.dumps(record, ensure_ascii=False).encode()
    choice = b.rng.randrange(4)
    if choice == 0:
        raw = json.dumps({**record, "title": "Café Zürich"}, ensure_ascii=False).encode(
            "latin-1", "replace"
        )
    elif choice == 1:
        raw = json.dumps(record).encode("utf-16")
    else:
        at = b.rng.randrange(len(raw) + 1)
        raw = raw[:at] + b.rng.choice(_NOT_UTF8) + raw[at:]
    return b.bad_bytes(raw, "invalid_utf8")


def oversize(b: Builder) -> Case:
    size = b.rng.choice([LIMIT + 1, b.rng.randrange(LIMIT + 2, LIMIT + 32 * 1024)])
    record = b.article(b.ident())
    record["body"] = ""
    base = json.dumps(record).encode()
    kind = b.rng.randrange(3)
    if kind == 0:  # a well-formed article that is simply too long
        raw = base[:-1] + b', "padding": "' + b"a" * (size - len(base) - 13) + b'"}'
    elif kind == 1:
        raw = b"\xff" * size
    else:
        raw = b"[" * 100_000 + b"]" * 100_000  # 100k levels: too large before too deep
    return b.bad_bytes(raw, "oversize")


BAD: dict[str, tuple[Callable[[Builder], Case], int]] = {
    "invalid_json": (invalid_json, 12),
    "truncated_json": (truncated_json, 10),
    "raw_control_char": (raw_control_char, 5),
    "deep_nesting": (deep_nesting, 5),
    "not_an_object": (not_an_object, 10),
    "wrong_type": (wrong_type, 20),
    "bad_timestamp": (bad_timestamp, 10),
    "both_empty": (both_empty, 8),
    "invalid_utf8": (invalid_utf8, 12),
    "oversize": (oversize, 5),
}


# --- valid messages: odd but within the contract, so each must be tagged ----------------


def plain(b: Builder) -> Case:
    return b.valid(b.article(b.ident()), "plain")


def content_id_only(b: Builder) -> Case:
    record = b.article(b.ident())
    del record["id"]
    title, body = record["title"], record["body"]
    return Case(b.dumps(record).encode(), "content_id", article_id=content_id(title, body))


def int_id(b: Builder) -> Case:
    record = b.article(b.ident())
    record["id"] = 10**12 + b.serial
    return b.valid(record, "int_id")


def unknown_fields(b: Builder) -> Case:
    record = b.article(b.ident())
    depth = b.rng.randrange(1, 300)
    nested: Any = b.rng.choice(b.pools.json_values)
    for level in range(depth):
        nested = [nested] if level % 2 else {"k": nested}
    record.update(extra=nested, tags=[b.text()], score=b.rng.random())
    return b.valid(record, "unknown_fields")


def many_tokens(b: Builder) -> Case:
    record = b.article(b.ident())
    word = b.rng.choice(["a ", "war ", "é ", ". ", "🛰 "])
    room = LIMIT - len(json.dumps(record, ensure_ascii=False).encode()) - 64
    record["body"] = word * (room // len(word.encode()))
    return b.valid(record, "many_tokens", json.dumps(record, ensure_ascii=False))


def exactly_at_limit(b: Builder) -> Case:
    record = b.article(b.ident())
    record["body"] = ""
    base = len(json.dumps(record).encode())
    record["body"] = "x" * (LIMIT - base)
    text = json.dumps(record)
    assert len(text.encode()) == LIMIT
    return b.valid(record, "exactly_at_limit", text)


def control_chars(b: Builder) -> Case:
    record = b.article(b.ident())
    specials = "".join(chr(c) for c in range(0x20)) + "\x7f\x85\u2028\u2029\ufeff\ufffe\uffff"
    record["title"] += specials
    record["body"] = "\x00" * b.rng.randrange(1, 50) + b.text()
    return b.valid(record, "control_chars")


def astral_escapes(b: Builder) -> Case:
    record = b.article(b.ident())
    record["title"] += " @@ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 עברית العربية e\u0301 👩\u200d💻"
    text = json.dumps(record).replace("@@", "\\ud83d\\ude00")  # a surrogate *pair*: one emoji
    return b.valid(record, "astral_escapes", text)


def odd_shapes(b: Builder) -> Case:
    record = b.article(b.ident())
    shape = b.rng.randrange(4)
    if shape == 0:
        record["body"] = None
    elif shape == 1:
        record["title"], record["body"] = "\u200b", ""  # zero-width space is not whitespace
    elif shape == 2:
        return b.valid(record, "odd_shapes", '\n\t {"id": "decoy", ' + json.dumps(record)[1:])
    return b.valid(record, "odd_shapes", " \r\n" + json.dumps(record) + "\n ")


VALID: dict[str, tuple[Callable[[Builder], Case], int]] = {
    "plain": (plain, 50),
    "content_id": (content_id_only, 8),
    "int_id": (int_id, 5),
    "unknown_fields": (unknown_fields, 10),
    "many_tokens": (many_tokens, 2),
    "exactly_at_limit": (exactly_at_limit, 1),
    "control_chars": (control_chars, 10),
    "astral_escapes": (astral_escapes, 8),
    "odd_shapes": (odd_shapes, 6),
}


def _allocate(total: int, weights: dict[str, tuple[Any, int]]) -> dict[str, int]:
    """Split ``total`` over the categories by weight; every category gets at least one."""
    whole = sum(w for _, w in weights.values())
    counts = {name: max(1, total * w // whole) for name, (_, w) in weights.items()}
    first = next(iter(counts))
    counts[first] += total - sum(counts.values())
    return counts


def generate(bad: int, valid: int, seed: int = 20_250_301) -> list[Case]:
    """``bad`` refused and ``valid`` accepted messages, shuffled together reproducibly."""
    builder = Builder(seed, draw_pools())
    cases = [
        make(builder)
        for table, total in ((BAD, bad), (VALID, valid))
        for name, count in _allocate(total, table).items()
        for make in [table[name][0]] * count
    ]
    builder.rng.shuffle(cases)
    return cases


def lone_surrogates(seed: int = 7) -> list[Case]:
    """Articles with a JSON-escaped lone surrogate in each text field, then plain ones.

    Python's json decodes "\\ud800" to a str that UTF-8 cannot encode. The plain articles
    after them (same partitions) show whether a failure takes its neighbours down too.
    """
    builder = Builder(seed, Pools(texts=("text",), json_values=(1,), not_strings=(1,)))
    cases = []
    for name in ("title", "body", "url", "source", "language", "extra", "id"):
        for escape in ("\\ud800", "\\udfff", "\\ud83d"):
            record = builder.article(builder.ident())
            record[name] = f"{record.get(name) or 'x'} @@"
            text = json.dumps(record).replace("@@", escape)
            ident = json.loads(text)["id"]
            cases.append(Case(text.encode(), f"lone_surrogate_{name}", article_id=ident))
    cases += [plain(builder) for _ in range(40)]
    return cases
