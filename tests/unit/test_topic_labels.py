"""The labelled set: made by reading, decided from its readings, split once and frozen."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from bench.topics.build import story_groups
from bench.topics.data import CELLS, CORPUS, LABELS, TOPICS
from bench.topics.readings import (
    REREAD_ROUND,
    Reading,
    by_article,
    decide,
    kappa_table,
    load_readings,
)

QUERIES = Path(__file__).resolve().parents[1] / "data" / "pool_queries.json"
#: sha256 of the sorted test-split ids, newline-joined: the split as it was frozen.
FROZEN_TEST_SPLIT = "cf0422dfc243b6cc18e48fcdb10297a228c3c7aa274e383f5d44ee7005852c5d"
TEST_SPLIT_SIZE = 819


@pytest.fixture(scope="module")
def labelled() -> list[dict[str, Any]]:
    return [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines()]


def test_records_are_well_formed(labelled: list[dict[str, Any]]) -> None:
    cells = json.loads(CELLS.read_text(encoding="utf-8"))["cells"]
    ids = [r["id"] for r in labelled]
    assert len(ids) == len(set(ids))
    for r in labelled:
        assert set(r["labels"]) <= set(TOPICS), r
        assert r["strata"], r
        assert set(r["strata"]) <= {"random", "pooled", "legacy"}, r
        assert r["split"] in {"train", "validation", "test"}, r
        assert r["cell"] in cells or (r["cell"] is None and r["strata"] == ["legacy"]), r
        assert r["readers"] >= 1, r
        assert isinstance(r["debatable"], bool), r


def test_every_label_is_the_decision_of_its_readings(labelled: list[dict[str, Any]]) -> None:
    grouped = by_article(load_readings())
    assert set(grouped) == {r["id"] for r in labelled}
    for r in labelled:
        decided = decide(grouped[r["id"]])
        assert sorted(decided.labels) == r["labels"], r["id"]
        assert decided.debatable == r["debatable"], r["id"]


def test_the_draw_has_its_strata_and_pooled_positives(labelled: list[dict[str, Any]]) -> None:
    random_part = [r for r in labelled if "random" in r["strata"]]
    assert len(random_part) == json.loads(QUERIES.read_text())["random_size"] == 1000
    for topic in TOPICS:
        pooled = [r for r in labelled if "pooled" in r["strata"] and not r["debatable"]]
        assert sum(topic in r["labels"] for r in pooled) >= 200, topic
        # The random part shows the stream's prevalence: each topic is rare.
        assert sum(topic in r["labels"] for r in random_part) / len(random_part) < 0.02


def test_double_readings_cover_300_drawn_articles_and_every_hard_call() -> None:
    grouped = by_article(load_readings())
    table = kappa_table(grouped)
    assert table["double_sample"]["coalition"]["items"] >= 300
    for readings in grouped.values():
        if readings[0].hard:
            assert len(readings) >= 2, readings[0].id


def test_a_rereading_reads_train_and_validation_only_by_two_new_readers(
    labelled: list[dict[str, Any]],
) -> None:
    split = {r["id"]: r["split"] for r in labelled}
    reread = 0
    for article_id, readings in by_article(load_readings()).items():
        later = [r for r in readings if r.round == REREAD_ROUND]
        if not later:
            continue
        reread += 1
        assert split[article_id] != "test", article_id
        earlier = {r.reader for r in readings if r.round < REREAD_ROUND}
        assert len({r.reader for r in later}) == len(later) == 2, article_id
        assert not earlier & {r.reader for r in later}, article_id
    assert reread >= 150


def _reading(reader: str, round_: int, *labels: str, note: str = "") -> Reading:
    return Reading("a", reader, round_, frozenset(labels), note)


def test_after_a_rereading_the_majority_of_all_readings_decides() -> None:
    first, second = _reading("r1", 1, "coalition"), _reading("r2", 2, note="Hard call: no")
    third = _reading("r3", 3, "coalition", note="Hard call: allies meet")
    assert decide([first, second, third]).debatable  # the decider was unsure
    again = [_reading("r16", REREAD_ROUND, "coalition"), _reading("r17", REREAD_ROUND)]
    decided = decide([first, second, third, *again])
    assert decided.labels == {"coalition"}
    assert not decided.debatable
    assert decided.readers == 5
    # Two agreeing readings and two new ones against them: a tie, still debatable.
    agreed = [_reading("r1", 1, "ceasefire"), _reading("r2", 1, "ceasefire")]
    tied = decide([*agreed, _reading("r16", REREAD_ROUND), _reading("r17", REREAD_ROUND)])
    assert tied.debatable
    assert tied.labels == frozenset()


def test_no_story_spans_two_splits(labelled: list[dict[str, Any]]) -> None:
    splits: dict[str, set[str]] = defaultdict(set)
    for r in labelled:
        splits[r["story"]].add(r["split"])
    assert all(len(s) == 1 for s in splits.values())


def test_the_earlier_development_set_is_train(labelled: list[dict[str, Any]]) -> None:
    legacy = [r for r in labelled if "legacy" in r["strata"]]
    assert len(legacy) == 351
    assert {r["split"] for r in legacy} == {"train"}


def test_the_test_split_is_frozen(labelled: list[dict[str, Any]]) -> None:
    test_ids = sorted(r["id"] for r in labelled if r["split"] == "test")
    assert len(test_ids) == TEST_SPLIT_SIZE
    assert hashlib.sha256("\n".join(test_ids).encode()).hexdigest() == FROZEN_TEST_SPLIT


@pytest.mark.skipif(not CORPUS.exists(), reason="shared corpus folder is absent")
def test_near_duplicates_recomputed_never_cross_the_test_split(
    labelled: list[dict[str, Any]],
) -> None:
    split = {r["id"]: r["split"] for r in labelled}
    members: dict[str, set[str]] = defaultdict(set)
    for article_id, story in story_groups(CORPUS, split).items():
        members[story].add(split[article_id])
    crossing = [s for s in members.values() if "test" in s and len(s) > 1]
    assert crossing == []
