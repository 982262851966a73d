"""Property tests of decode_article: any input is an Article or a closed-set InvalidArticle.

Plus checks of the two ways a decoded article once failed later (lone surrogates,
texts longer than spaCy's max_length), and a check that the fuzz
generator of the integration test labels its cases the way decode_article decides.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from monitor.errors import REASONS, SCHEMA_PREFIX, InvalidArticle
from monitor.text.article import Article, decode_article, encode_article
from tests.integration.fuzzgen import FIELDS, LIMIT, generate

_FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _outcome(raw: bytes, max_bytes: int = LIMIT) -> Article | str:
    """The Article, or the dead-letter reason; any other exception fails the test."""
    try:
        return decode_article(raw, max_bytes)
    except InvalidArticle as exc:
        reason = exc.reason
    field = reason.removeprefix(SCHEMA_PREFIX)
    assert reason in REASONS or (reason.startswith(SCHEMA_PREFIX) and field in FIELDS), reason
    return reason


_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=10,
)
_stamps = st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat())
_field_values = _json | _stamps | st.sampled_from(["", " ", "2025-03-01T12:00:00Z", "\u200b"])
_objects = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), _field_values, max_size=9)


@_FAST
@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_fail_with_a_reason(raw: bytes) -> None:
    _outcome(raw)


@_FAST
@given(st.binary(max_size=200), st.integers(1, 250))
def test_the_size_limit_comes_first(raw: bytes, limit: int) -> None:
    outcome = _outcome(raw, limit)
    assert (outcome == "too_large") == (len(raw) > limit)


@_FAST
@given(_json)
def test_arbitrary_json_values_decode_or_fail_with_a_reason(value: Any) -> None:
    outcome = _outcome(json.dumps(value).encode())
    if not isinstance(value, dict):
        assert outcome == "not_an_object"


@_FAST
@given(_objects, st.booleans())
def test_arbitrary_objects_decode_or_fail_and_articles_round_trip(
    record: dict[str, Any], ascii_only: bool
) -> None:
    outcome = _outcome(json.dumps(record, ensure_ascii=ascii_only).encode())
    if isinstance(outcome, Article):
        again = decode_article(encode_article(outcome), LIMIT)
        assert json.dumps(again.to_json()) == json.dumps(outcome.to_json())


@_FAST
@given(st.text(max_size=40), st.text(max_size=40), st.integers(0, 40), st.binary(max_size=3))
def test_one_bad_byte_anywhere_is_bad_encoding_or_still_utf8(
    title: str, body: str, at: int, junk: bytes
) -> None:
    raw = json.dumps({"title": title + "x", "body": body}, ensure_ascii=False).encode()
    raw = raw[:at] + junk + raw[at:]
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        assert _outcome(raw) == "bad_encoding"
    else:
        _outcome(raw)


def test_the_fuzz_generator_labels_cases_as_decode_article_does() -> None:
    """tests/integration/test_fuzz.py trusts these labels: check them without a broker."""
    disagreements = Counter()
    for case in generate(400, 100):
        outcome = _outcome(case.value or b"")
        got = outcome.id if isinstance(outcome, Article) else outcome
        if got != (case.reason or case.article_id):
            disagreements[case.category] += 1
    assert disagreements == Counter()


# --- once reproducers of bugs found by fuzzing, now regression tests ----------------------


@pytest.mark.parametrize("field", ["title", "body", "url", "source", "language", "id", "extra"])
def test_a_decoded_article_with_a_lone_surrogate_still_encodes(field: str) -> None:
    raw = json.dumps({"title": "t", "body": "b", field: "x \ud800"}).encode()
    assert b"\\ud800" in raw
    outcome = _outcome(raw)
    if isinstance(outcome, Article):
        encode_article(outcome)
    else:
        assert outcome == "bad_encoding"


async def test_the_analyser_survives_a_lone_surrogate_and_tags_its_neighbours() -> None:
    from agents.analyser import process_articles
    from agents.app import build_context
    from agents.deadletter import DeadLetter
    from agents.settings import load_settings
    from tests.agents.fakes import FakeTopic, events

    registry = CollectorRegistry()
    env = {"NEWSMON_SPACY_MODEL": "blank", "NEWSMON_NER": "false"}
    ctx = build_context(load_settings(env), registry)
    good = json.dumps({"id": "good", "title": "Ceasefire talks", "body": "b"}).encode()
    bad = json.dumps({"id": "bad", "title": "t", "source": "\ud800"}).encode()
    sink, dead = FakeTopic("news.tagged"), FakeTopic("news.deadletter")
    candidates = FakeTopic("news.candidates")
    await process_articles(events(bad, good), ctx, sink, candidates, DeadLetter(dead, ctx.metrics))
    assert [s.key for s in sink.sent] == [b"good"]
    assert [s.value for s in dead.sent] == [bad]


def test_an_article_under_the_default_size_limit_can_be_analysed() -> None:
    from agents.settings import load_settings
    from monitor.text.nlp import BLANK, load_pipeline

    limit = load_settings({}).max_article_bytes
    record = {"id": "long", "title": "t", "body": "a " * 500_100}
    raw = json.dumps(record).encode()
    assert len(raw) <= limit
    load_pipeline(BLANK, ner=False).analyze([decode_article(raw, limit)])
