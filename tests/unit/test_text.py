"""Normalisation: the variants an analyst would write must meet on one norm."""

from __future__ import annotations

import pytest

from monitor.text import fields
from monitor.text.article import Article
from monitor.text.entities import AliasTable
from monitor.text.fields import americanize, norm, pattern_variants
from monitor.text.nlp import load_pipeline


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("missile", "missiles"),
        ("pause", "paused"),
        ("pause", "pauses"),
        ("intercept", "intercepted"),
        ("defence", "defense"),
        ("defences", "defenses"),
        ("defences", "defence"),
        ("offence", "offense"),
        ("armour", "armor"),
        ("colour", "colors"),
        ("organise", "organize"),
        ("organised", "organized"),
        ("mobilisation", "mobilization"),
        ("analysed", "analyzed"),
        ("centre", "center"),
        ("programme", "program"),
        ("Ceasefire", "ceasefire"),
        ("U.S.", "US"),
    ],
)
def test_variants_share_a_norm(left: str, right: str) -> None:
    assert norm(left) == norm(right)


@pytest.mark.parametrize(
    ("word", "american"),
    [
        ("defence", "defense"),
        ("colour", "color"),
        ("recognise", "recognize"),
        ("theatre", "theater"),
        ("promise", "promise"),
        ("devour", "devour"),
        ("house", "house"),
    ],
)
def test_americanize(word: str, american: str) -> None:
    assert americanize(word) == american


@pytest.mark.parametrize("phrase", ["cease-fire", "ceasefire", "cease fire", "Cease-Fire"])
def test_ceasefire_spellings_share_a_variant(phrase: str) -> None:
    assert (norm("ceasefire"),) in pattern_variants(phrase)


@pytest.mark.parametrize("phrase", ["air-defence", "air defence", "air defense", "Air-Defense"])
def test_air_defence_spellings_share_a_variant(phrase: str) -> None:
    assert (norm("air"), norm("defense")) in pattern_variants(phrase)


@pytest.mark.parametrize(
    "alias", ["Zelensky", "Zelenskiy", "Zelenskyy", "Volodymyr Zelensky", "zelenskiy"]
)
def test_zelenskyy_aliases_are_canonical(alias: str) -> None:
    assert AliasTable.load().canonical(alias, "PERSON") == ("Volodymyr Zelenskyy", "PERSON")


def test_unknown_entity_keeps_its_text() -> None:
    assert AliasTable.load().canonical("the Black Watch", "ORG") == ("Black Watch", "ORG")


_TRICKY = Article(
    id="t",
    title="Cease-fire talks on U.S.-led air-defence plan",
    body="A pro-Russian, so-called 'cease - fire' and e-mail… It's NATO’s co-operation ‐ "
    "well-known state-of-the-art.\n\n  Next para-\ngraph x-ray - ",
)


def test_fields_keep_words_offsets_and_compounds() -> None:
    analyzed = load_pipeline("blank", ner=False).analyze_one(_TRICKY)
    title, body = analyzed.title, analyzed.body
    assert title.lowers == (
        "cease", "fire", "talks", "on", "u.s.-led", "air", "defence", "plan",
    )  # fmt: skip
    assert [title.text[a:b] for a, b in zip(title.starts, title.ends, strict=True)] == [
        "Cease", "fire", "talks", "on", "U.S.-led", "air", "defence", "plan",
    ]  # fmt: skip
    assert [c[0] for c in title.compounds] == ["ceasefir", "airdef"]
    # Possessives and punctuation take no position; spaced or line-broken hyphens join nothing.
    assert "'s" not in body.lowers
    assert "it" in body.lowers
    assert [(body.lowers[a], body.lowers[b]) for _, a, b in body.compounds] == [
        ("pro", "russian"), ("so", "called"), ("e", "mail"), ("co", "operation"),
        ("well", "known"), ("state", "art"), ("x", "ray"),
    ]  # fmt: skip
    assert all(
        body.text[a:b].lower() == w
        for a, b, w in zip(body.starts, body.ends, body.lowers, strict=True)
    )


def test_fields_do_not_depend_on_what_was_analysed_before(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tokens are remembered by their text's id; a full or cleared memory changes nothing.
    pipeline = load_pipeline("blank", ner=False)
    warm = pipeline.analyze_one(_TRICKY)
    monkeypatch.setattr(fields, "_TOKEN_CACHE", 1)
    fields._TOKENS.clear()
    cold = pipeline.analyze_one(_TRICKY)
    assert cold.fields == warm.fields
    assert len(fields._TOKENS) == 1
