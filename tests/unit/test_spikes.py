"""Spike detection on synthetic streams: a planted burst is found in its window, a steady
stream with the same mean raises nothing, a volume change of the whole collection is not
a spike, and a late article lands in its own window."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerting.spikes import (
    Member,
    SpikeDetector,
    SpikeSettings,
    backtest,
    poisson_upper_tail,
    stories,
)

START = datetime(2022, 1, 1, tzinfo=UTC)
TOPICS = [f"t{i}" for i in range(10)]


def _stream(
    rnd: random.Random, windows: int, per_window: int, share: float = 0.03
) -> list[list[Member]]:
    """Windows of articles; each topic independently on ``share`` of them."""
    found = []
    for w in range(windows):
        members = []
        for i in range(per_window):
            topics = tuple(t for t in TOPICS if rnd.random() < share)
            members.append(Member(f"w{w}a{i}", f"article {w}/{i}", topics, (), rnd.getrandbits(64)))
        found.append(members)
    return found


def _run(
    windows: list[list[Member]], settings: SpikeSettings | None = None
) -> list[tuple[int, str]]:
    detector = SpikeDetector(settings or SpikeSettings())
    return [
        (w, spike.series[1])
        for w, members in enumerate(windows)
        for spike in detector.close(f"w{w}", members)
    ]


def test_a_planted_burst_is_found_in_its_window() -> None:
    rnd = random.Random(3)
    windows = _stream(rnd, 40, 300)
    burst = [
        Member(f"burst{i}", "Interceptors shot down a drone swarm", ("t4",), (), 0xABCDEF)
        for i in range(40)
    ]
    windows[30] = windows[30] + burst
    assert _run(windows) == [(30, "t4")]


def test_a_steady_stream_with_the_same_mean_raises_nothing() -> None:
    for seed in range(5):
        windows = _stream(random.Random(seed), 60, 300)
        assert _run(windows) == [], seed


def test_the_collection_growing_tenfold_is_not_a_spike() -> None:
    rnd = random.Random(11)
    windows = _stream(rnd, 20, 100) + _stream(rnd, 10, 1000)
    assert _run(windows) == []


def test_a_late_article_counts_in_its_own_window() -> None:
    dated = []
    for day in range(12):
        for i in range(100):
            topics = ("flood",) if i < 2 else ()
            dated.append(
                (START + timedelta(days=day, minutes=i), Member(f"{day}-{i}", "x", topics, (), i))
            )
    # Day 10's burst arrives last, after day 11's articles: it still belongs to day 10.
    late = [
        (
            START + timedelta(days=10, hours=5),
            Member(f"late{i}", "Dam breaks", ("flood",), (), 2**64 - 1),
        )
        for i in range(30)
    ]
    spikes = backtest(dated + late, timedelta(days=1), SpikeSettings(warmup=5))
    assert [(s.window, s.series, s.observed) for s in spikes] == [
        ("2022-01-11", ("topic", "flood"), 32)
    ]
    assert spikes[0].stories[0].title == "Dam breaks"
    assert spikes[0].stories[0].articles == 30


def test_entities_are_bounded_to_the_most_frequent() -> None:
    detector = SpikeDetector(SpikeSettings(max_entities=2, warmup=1))
    members = [Member(str(i), "x", (), (f"e{i % 5}",) * 1, i) for i in range(50)]
    members += [Member(f"k{i}", "x", (), ("Kyiv",), i) for i in range(20)]
    detector.close("w0", members)
    assert detector._entities() == {"Kyiv", "e0"}


def test_stories_cluster_near_duplicates() -> None:
    base = 0xF0F0_F0F0_F0F0_F0F0
    members = [
        Member("a", "Dam breaks", (), (), base),
        Member("b", "Dam breaks, thousands flee", (), (), base ^ 0b111),  # 3 bits apart
        Member("c", "Election called", (), (), ~base & (2**64 - 1)),
    ]
    found = stories(members)
    assert [(s.title, s.articles) for s in found] == [("Dam breaks", 2), ("Election called", 1)]


@pytest.mark.parametrize(("k", "mu"), [(0, 3.0), (1, 0.5), (3, 3.0), (10, 2.0), (40, 5.0)])
def test_poisson_upper_tail(k: int, mu: float) -> None:
    def pmf(i: int) -> float:
        return math.exp(-mu + i * math.log(mu) - math.lgamma(i + 1))

    exact = 1 - sum(pmf(i) for i in range(k))
    tail = sum(pmf(i) for i in range(k, k + 200))
    expected = tail if k > mu else exact
    assert poisson_upper_tail(k, mu) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_a_watchlist_series_spikes_and_is_not_bounded_as_an_entity() -> None:
    rnd = random.Random(5)
    settings = SpikeSettings(max_entities=1)  # the entity bound must not drop watchlists
    windows = []
    for w in range(12):
        hot = 15 if w == 10 else 1
        windows.append(
            [
                Member(f"w{w}a{i}", "x", (), (f"e{i}",), rnd.getrandbits(64), ("desk",) * (i < hot))
                for i in range(30)
            ]
        )
    detector = SpikeDetector(settings)
    found = [(w, s.series) for w, m in enumerate(windows) for s in detector.close(f"w{w}", m)]
    assert found == [(10, ("watchlist", "desk"))]
