"""Stories: near-duplicates share a story id; state is bounded by window and capacity."""

from __future__ import annotations

import random

from monitor.text.article import Article, article_from_text
from monitor.text.fingerprint import MAX_DISTANCE, bands, distance, fingerprint, story_fields
from monitor.text.nlp import load_pipeline
from tests.conftest import SEED

PIPELINE = load_pipeline("blank", ner=False)


def _fp(article: Article) -> int:
    return fingerprint(PIPELINE.analyze_one(article).fields)


def test_fingerprint_is_deterministic_and_separates_stories() -> None:
    seed = article_from_text(SEED.read_text(encoding="utf-8"))
    other = Article(
        id="c",
        title="Cocoa review",
        body="Showers continued throughout the week in the Bahia cocoa zone.",
    )
    assert _fp(seed) == _fp(seed)
    assert distance(_fp(seed), _fp(other)) > 16


def test_banding_finds_every_neighbour_within_the_distance() -> None:
    value = 0x723395AD86421017
    flipped = random.Random(7).sample(range(64), MAX_DISTANCE)
    neighbour = value ^ sum(1 << bit for bit in flipped)
    assert distance(value, neighbour) == MAX_DISTANCE
    assert set(bands(value)) & set(bands(neighbour))


def _doc(title: str, body: str) -> int:
    analyzed = PIPELINE.analyze_one(Article(id="x", title=title, body=body))
    return fingerprint(story_fields(analyzed.title, analyzed.body))


def test_wire_copies_of_one_story_stay_within_the_distance() -> None:
    seed = article_from_text(SEED.read_text(encoding="utf-8"))
    base = _doc(seed.title, seed.body)
    copies = [
        _doc("UK hosts coalition of the willing as Pentagon pauses air defence", seed.body),
        _doc(seed.title, "LONDON (Reuters) - " + seed.body),
        _doc(seed.title, seed.body.replace("next week", "on Thursday").replace("over 30", "30")),
        _doc(seed.title, seed.body.rsplit("\n", 1)[0]),
    ]
    assert [distance(base, c) <= MAX_DISTANCE for c in copies] == [True] * 4


def test_fingerprint_of_the_seed_is_pinned() -> None:
    # Story ids are fingerprints and live in Kafka: a new implementation must give the
    # very same values, or stories founded before an upgrade would alert again after it.
    seed = article_from_text(SEED.read_text(encoding="utf-8"))
    assert _fp(seed) == 0x723395AD86421017
