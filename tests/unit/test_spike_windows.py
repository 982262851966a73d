"""The stream's spike windows: counted by event time, closed by a watermark that moves on
with the wall clock, so a burst is found within one window, a quiet stream still closes
its windows on time, a late article lands in its window while the lateness allows, and
the state survives a restart."""

from __future__ import annotations

import json
import random

import pytest

from monitor.alerting.spikes import Member, SpikeSettings, SpikeWindows
from tests.unit.test_spikes import _stream

HOUR = 3600.0
LATE = 600.0
T0 = 1_750_000_000.0 - 1_750_000_000.0 % HOUR  # a window boundary
SETTINGS = SpikeSettings(warmup=5)


def _windows() -> SpikeWindows:
    return SpikeWindows(HOUR, LATE, SETTINGS)


def _feed(spikes: SpikeWindows, windows: list[list[Member]], start: float = T0) -> list[str]:
    """Articles spread over their hour, each ingested 30 s after publication; the
    windows' spikes as ``<window start offset in hours>:<series>``."""
    found = []
    for w, members in enumerate(windows):
        for i, member in enumerate(members):
            published = start + w * HOUR + i * HOUR / len(members)
            assert spikes.add(member, published, published + 30) is True
            for closed in spikes.close_due(published + 30):
                found += [
                    f"{(closed.start - start) / HOUR:.0f}:{s.series[1]}" for s in closed.spikes
                ]
    return found


def test_a_planted_burst_is_found_within_one_window_of_its_end() -> None:
    windows = _stream(random.Random(3), 12, 300)
    burst = [Member(f"burst{i}", "Drone swarm", ("t4",), (), 0xABCDEF) for i in range(40)]
    windows[9] = windows[9] + burst
    spikes = _windows()
    assert _feed(spikes, windows) == ["9:t4"], "found while window 10 is being fed"


def test_a_steady_stream_with_the_same_mean_raises_nothing() -> None:
    for seed in range(3):
        spikes = _windows()
        assert _feed(spikes, _stream(random.Random(seed), 30, 300)) == [], seed


def test_a_quiet_stream_closes_its_last_window_on_the_wall_clock() -> None:
    spikes = _windows()
    _feed(spikes, _stream(random.Random(1), 3, 50))
    assert set(spikes.open) == {T0 + 2 * HOUR}, "the last hour is still open"
    assert spikes.close_due(T0 + 3 * HOUR + LATE - 1) == []
    [closed] = spikes.close_due(T0 + 3 * HOUR + LATE + 31)  # no article came since
    assert (closed.start, closed.articles) == (T0 + 2 * HOUR, 50)
    assert spikes.open == {}


def test_a_late_article_lands_in_its_window_until_the_lateness_is_spent() -> None:
    spikes = _windows()
    first = Member("a", "x", ("t1",), (), 1)
    assert spikes.add(first, T0 + 10, T0 + 10)
    now = T0 + HOUR + 300  # the next hour, within the lateness
    assert spikes.close_due(now) == []
    assert spikes.add(Member("late", "x", ("t1",), (), 2), T0 + 3000, now) is True
    assert spikes.add(Member("late", "x", ("t1",), (), 2), T0 + 3000, now) is False, "again"
    [closed] = spikes.close_due(T0 + HOUR + LATE)
    assert closed.articles == 2
    assert spikes.add(Member("too-late", "x", (), (), 3), T0 + 3500, T0 + HOUR + LATE + 5) is None


def test_a_publication_time_ahead_of_ingest_counts_at_ingest() -> None:
    spikes = _windows()
    assert spikes.add(Member("a", "x", (), (), 1), T0 + 5 * HOUR, T0 + 10)
    assert set(spikes.open) == {T0}, "a clock ahead of ours does not open a future window"


def test_the_state_through_json_gives_the_same_spikes() -> None:
    windows = _stream(random.Random(3), 12, 300)
    windows[9] = windows[9] + [Member(f"b{i}", "Swarm", ("t4",), (), 7) for i in range(40)]
    whole = _windows()
    expected = _feed(whole, windows)
    first = _windows()
    _feed(first, windows[:8])
    state = json.loads(json.dumps(first.to_state()))
    rows = [
        (start, Member.from_json(json.loads(json.dumps(m.to_json()))))
        for start, members in first.open.items()
        for m in members.values()
    ]
    restarted = _windows()
    restarted.restore(state, rows)
    assert _feed(restarted, windows[8:], start=T0 + 8 * HOUR) == [
        f"{int(s.split(':')[0]) - 8}:{s.split(':')[1]}" for s in expected
    ]


def test_window_and_lateness_are_checked() -> None:
    with pytest.raises(ValueError, match="window must be positive"):
        SpikeWindows(0, 1, SETTINGS)
