"""`newsmon replay` pacing: by rate, or by publication time sped up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.text.article import Article
from newsmon.replay import Pacer

T0 = datetime(2022, 2, 24, 4, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _dated(hours: float | None) -> Article:
    when = None if hours is None else T0 + timedelta(hours=hours)
    return Article(f"a{hours}", "Title", "Body.", published_at=when)


def test_a_speedup_keeps_relative_publication_times() -> None:
    clock = Clock()
    pacer = Pacer(speedup=3600, clock=clock)  # an hour a second
    assert pacer.delay(0, _dated(0)) == 0.0
    assert pacer.delay(1, _dated(1)) == 1.0
    assert pacer.delay(2, _dated(3)) == 3.0
    clock.now += 2.5  # the replay has slept, then sends late: only what is left is waited
    assert pacer.delay(3, _dated(3)) == 0.5


def test_undated_and_out_of_order_articles_go_at_once_in_file_order() -> None:
    clock = Clock()
    pacer = Pacer(speedup=60, clock=clock)
    assert pacer.delay(0, _dated(None)) == 0.0  # before the first dated one: no anchor yet
    assert pacer.delay(1, _dated(2)) == 0.0  # the anchor
    assert pacer.delay(2, _dated(None)) == 0.0
    assert pacer.delay(3, _dated(1)) == 0.0  # an hour before the anchor: already due
    assert pacer.delay(4, _dated(2.5)) == pytest.approx(30.0)


def test_a_rate_spaces_articles_evenly_and_nothing_paces_as_fast_as_possible() -> None:
    clock = Clock()
    pacer = Pacer(rate=4, clock=clock)
    assert [pacer.delay(i, _dated(None)) for i in range(3)] == [0.0, 0.25, 0.5]
    assert Pacer(clock=clock).delay(7, _dated(5)) == 0.0
    with pytest.raises(ValueError, match="not both"):
        Pacer(rate=1, speedup=2)
