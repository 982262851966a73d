"""Normalisation: the variants an analyst would write must meet on one norm."""

from __future__ import annotations

import pytest

from monitor.text.entities import AliasTable
from monitor.text.fields import americanize, norm, pattern_variants


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
