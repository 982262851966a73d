"""Once per rule per story: duplicate, throttle and window decisions; the story index."""

from __future__ import annotations

import random

from monitor.alerting.once_per_story import (
    ALERT,
    DUPLICATE,
    THROTTLED,
    Decision,
    Seen,
    StoryIndex,
    Throttle,
    decide,
)
from monitor.text.fingerprint import MAX_DISTANCE, distance

FP = 0x723395AD86421017
COPY = FP ^ 0b101  # two bits away: the same story lightly edited
OTHER = 0x0F0F_F0F0_1234_ABCD


def _apply(index: StoryIndex, decision: Decision) -> None:
    if decision.story is not None:
        index.add(decision.story)


def test_first_copy_alerts_and_later_copies_are_duplicates() -> None:
    index = StoryIndex()
    first = decide(FP, 0.0, index, (), window=3600)
    assert first.outcome == ALERT
    assert first.story_id == f"{FP:016x}"
    assert first.story == Seen(FP, first.story_id, 0.0)
    _apply(index, first)
    copy = decide(COPY, 10.0, index, (), window=3600)
    assert (copy.outcome, copy.story_id) == (DUPLICATE, first.story_id)
    assert copy.story is None, "a duplicate records nothing"
    assert decide(OTHER, 11.0, index, (), window=3600).outcome == ALERT


def test_decide_changes_nothing_itself() -> None:
    index = StoryIndex()
    decide(FP, 0.0, index, (), window=3600)
    assert len(index) == 0
    assert decide(FP, 1.0, index, (), window=3600).outcome == ALERT


def test_replaying_the_same_article_gives_the_same_story() -> None:
    empty = StoryIndex()
    assert (
        decide(FP, 0, empty, (), window=1).story_id == decide(FP, 99, empty, (), window=1).story_id
    )


def test_a_story_alerts_again_after_the_window() -> None:
    index = StoryIndex()
    _apply(index, decide(FP, 0.0, index, (), window=100))
    assert decide(FP, 50.0, index, (), window=100).outcome == DUPLICATE
    assert decide(FP, 101.0, index, (), window=100).outcome == ALERT, "even before expiry"
    assert index.expire(101.0, window=100) == [Seen(FP, f"{FP:016x}", 0.0)]
    assert len(index) == 0


def test_throttle_suppresses_new_stories_past_the_limit() -> None:
    throttle = Throttle(max_alerts=2, per_seconds=60)
    index = StoryIndex()
    times: tuple[float, ...] = ()
    outcomes = []
    for i, fp in enumerate((FP, OTHER, 0x1111_2222_3333_4444)):
        decision = decide(fp, float(i), index, times, window=3600, throttle=throttle)
        _apply(index, decision)
        times = decision.alert_times or times
        outcomes.append(decision.outcome)
    assert outcomes == [ALERT, ALERT, THROTTLED]
    assert decide(0x1111_2222_3333_4444, 3.0, index, times, window=3600).outcome == DUPLICATE, (
        "a throttled story is recorded: its copies are duplicates"
    )
    later = decide(0x5555_6666_7777_8888, 61.0, index, times, window=3600, throttle=throttle)
    assert later.outcome == ALERT


def test_expiry_takes_the_oldest_stories_whatever_order_they_came_in() -> None:
    index = StoryIndex([Seen(OTHER, "t", 50.0), Seen(FP, "s", 0.0)])
    index.add(Seen(0x1111_2222_3333_4444, "u", 20.0))
    assert [s.story_id for s in index.expire(85.0, window=60)] == ["s", "u"]
    assert [s.story_id for s in index] == ["t"]
    assert index.near(FP, 0.0, window=1e9) is None, "gone from every band"
    assert index.near(OTHER ^ 1, 85.0, window=60) == Seen(OTHER, "t", 50.0)


def test_the_index_finds_exactly_the_stories_within_the_distance() -> None:
    """Banding finds every stored fingerprint within MAX_DISTANCE bits, and no other."""
    rng = random.Random(5)
    stored = [rng.getrandbits(64) for _ in range(300)]
    index = StoryIndex(Seen(fp, f"{fp:016x}", 0.0) for fp in stored)
    for base in rng.sample(stored, 60):
        for flips in (0, 1, MAX_DISTANCE, MAX_DISTANCE + 1, 20):
            probe = base
            for bit in rng.sample(range(64), flips):
                probe ^= 1 << bit
            found = index.near(probe, 0.0, window=1)
            near = [fp for fp in stored if distance(fp, probe) <= MAX_DISTANCE]
            if near:
                assert found is not None
                assert distance(found.fingerprint, probe) <= MAX_DISTANCE
            else:
                assert found is None
