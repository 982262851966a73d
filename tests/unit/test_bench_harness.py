"""The benchmark harness's own arithmetic and sampling (bench/), without Kafka."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.append(str(BENCH))  # after everything else: bench names shadow nothing

import endtoend  # noqa: E402 - bench/ modules import each other by bare name
import faust_floor  # noqa: E402
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


def test_rules_end_to_end_is_judged_by_the_median_pair() -> None:
    def run(alerted: float, tagged: float, cpu: float) -> dict[str, float]:
        return {"alerted_per_s": alerted, "tagged_per_s": tagged, "alerted_per_cpu_s": cpu}

    pairs = [
        (run(300, 400, 300), run(400, 500, 500)),  # 0.75
        (run(90, 400, 300), run(100, 500, 400)),  # 0.90 (a slow pair: both sides slow)
        (run(200, 400, 300), run(400, 500, 600)),  # 0.50
    ]
    summary = endtoend.rules_summary(pairs)
    assert summary["ratio"] == pytest.approx(0.75)
    assert (summary["ratio_min"], summary["ratio_max"]) == pytest.approx((0.5, 0.9))
    assert summary["cpu_ratio"] == pytest.approx(0.6)
    assert summary["tagged_ratio"] == pytest.approx(0.8)
    assert summary["10000"] is pairs[0][0]
    assert summary["pairs"] == 3
