"""Records go to Kafka as compact UTF-8 JSON: the bytes the standard library would write."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor import wirejson
from monitor.tagging.model import model_for
from monitor.tagging.tagged_article import tag_analyzed
from monitor.tagging.tagger import Tagger
from monitor.tagging.taxonomy import load_taxonomy
from monitor.text.article import article_from_text, decode_article, encode_article
from monitor.text.nlp import load_pipeline
from tests.conftest import SEED


def _stdlib(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def test_a_tagged_record_is_written_as_the_standard_library_writes_it() -> None:
    taxonomy = load_taxonomy()
    analyzed = load_pipeline("blank", ner=False).analyze_one(
        article_from_text(SEED.read_text(encoding="utf-8"))
    )
    record = tag_analyzed(analyzed, Tagger(taxonomy, model_for(taxonomy))).to_json(words=True)
    assert record["topics"]
    assert wirejson.dumps(record) == _stdlib(record)


def _json(floats: st.SearchStrategy[float]) -> st.SearchStrategy[Any]:
    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**63), max_value=2**64 - 1)
        | floats
        | st.text(st.characters(exclude_categories=("Cs",))),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=20,
    )


_FINITE = st.floats(allow_nan=False, allow_infinity=False)


@given(_json(_FINITE))
def test_any_json_value_reads_back_the_same(value: Any) -> None:
    assert json.loads(wirejson.dumps(value)) == value


@given(_json(_FINITE.filter(lambda f: "e" not in repr(f))))
def test_without_exponents_the_bytes_are_the_standard_librarys(value: Any) -> None:
    # Floats in exponent form are the one spelling that differs (orjson 1e-8, Python 1e-08).
    assert wirejson.dumps(value) == _stdlib(value)


@pytest.mark.parametrize("value", [{"n": 2**70}, {"n": -(2**64)}, {"s": "a\ud800b"}])
def test_what_orjson_refuses_is_written_by_the_standard_library(value: Any) -> None:
    if "s" in value:  # no UTF-8 holds a lone surrogate: the caller's error, as before
        with pytest.raises(UnicodeEncodeError):
            wirejson.dumps(value)
    else:
        assert wirejson.dumps(value) == _stdlib(value)
        assert json.loads(wirejson.dumps(value)) == value


def test_a_float_json_cannot_hold_is_null_unless_the_value_is_foreign() -> None:
    value = {"x": float("nan"), "y": float("-inf")}
    assert wirejson.dumps(value) == b'{"x":null,"y":null}'
    assert wirejson.dumps(value, foreign=True) == b'{"x":NaN,"y":-Infinity}' == _stdlib(value)


def test_an_article_survives_the_wire_unknown_fields_and_all() -> None:
    article = article_from_text("Título — ünïcode ✓\n\nBody with “quotes” and \\ backslash.")
    assert decode_article(encode_article(article)) == article
    odd = decode_article(b'{"title": "t", "body": "b", "x": Infinity, "y": 1e400, "n": 1e-8}')
    again = decode_article(encode_article(odd))
    assert again.extra == {"x": float("inf"), "y": float("inf"), "n": 1e-8}
