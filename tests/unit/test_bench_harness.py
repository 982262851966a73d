"""The benchmark harness's own arithmetic and sampling (bench/), without Kafka."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.append(str(BENCH))  # after everything else: bench names shadow nothing

import faust_floor  # noqa: E402 - bench/ modules import each other by bare name
from sample import load_sample  # noqa: E402


def test_the_floor_bound_is_the_offline_share_of_the_cpu_per_article() -> None:
    # 1 ms offline + 1 ms floor: at best half the offline rate.
    assert faust_floor.bound(1000, 1000) == pytest.approx(0.5)
    # 0.8 ms offline + 0.2 ms floor: 0.8.
    assert faust_floor.bound(1250, 5000) == pytest.approx(0.8)
    # A cheaper floor always allows more.
    assert faust_floor.bound(1000, 4000) > faust_floor.bound(1000, 2000)


def test_the_sample_is_the_same_every_run_and_its_parts_are_disjoint(tmp_path: Path) -> None:
    absent = tmp_path / "no-corpus.jsonl.gz"
    first = load_sample(40, 10, 30, corpus=absent)
    again = load_sample(40, 10, 30, corpus=absent)
    ids = [[a.id for a in part] for part in (first.timed, first.warm, first.fresh)]
    assert ids == [[a.id for a in part] for part in (again.timed, again.warm, again.fresh)]
    assert [len(part) for part in ids] == [40, 10, 30]
    assert len({i for part in ids for i in part}) == 80  # no article in two parts
