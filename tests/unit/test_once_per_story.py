"""Once per rule per story: duplicate, throttle and window decisions."""

from __future__ import annotations

from monitor.alerting.once_per_story import (
    ALERT,
    DUPLICATE,
    THROTTLED,
    Seen,
    Throttle,
    decide,
    expired,
)

FP = 0x723395AD86421017
COPY = FP ^ 0b101  # two bits away: the same story lightly edited
OTHER = 0x0F0F_F0F0_1234_ABCD


def _apply(state: dict[str, tuple[Seen, ...]], decision: object) -> None:
    state.update(decision.bands)  # type: ignore[attr-defined]


def test_first_copy_alerts_and_later_copies_are_duplicates() -> None:
    state: dict[str, tuple[Seen, ...]] = {}
    first = decide(FP, 0.0, state, (), window=3600)
    assert first.outcome == ALERT
    assert first.story_id == f"{FP:016x}"
    _apply(state, first)
    copy = decide(COPY, 10.0, state, (), window=3600)
    assert (copy.outcome, copy.story_id) == (DUPLICATE, first.story_id)
    assert copy.bands == {}
    assert decide(OTHER, 11.0, state, (), window=3600).outcome == ALERT


def test_replaying_the_same_article_gives_the_same_story() -> None:
    assert decide(FP, 0, {}, (), window=1).story_id == decide(FP, 99, {}, (), window=1).story_id


def test_a_story_alerts_again_after_the_window() -> None:
    state: dict[str, tuple[Seen, ...]] = {}
    _apply(state, decide(FP, 0.0, state, (), window=100))
    assert decide(FP, 50.0, state, (), window=100).outcome == DUPLICATE
    late = decide(FP, 101.0, state, (), window=100)
    assert late.outcome == ALERT
    assert all(len(entries) == 1 for entries in late.bands.values()), "expired entries dropped"


def test_throttle_suppresses_new_stories_past_the_limit() -> None:
    throttle = Throttle(max_alerts=2, per_seconds=60)
    state: dict[str, tuple[Seen, ...]] = {}
    times: tuple[float, ...] = ()
    outcomes = []
    for i, fp in enumerate((FP, OTHER, 0x1111_2222_3333_4444)):
        decision = decide(fp, float(i), state, times, window=3600, throttle=throttle)
        _apply(state, decision)
        times = decision.alert_times or times
        outcomes.append(decision.outcome)
    assert outcomes == [ALERT, ALERT, THROTTLED]
    assert (
        decide(0x5555_6666_7777_8888, 61.0, state, times, window=3600, throttle=throttle).outcome
        == ALERT
    )


def test_expired_entries_can_be_deleted() -> None:
    entries = (Seen(FP, "s", 0.0), Seen(OTHER, "t", 50.0))
    assert not expired(entries, 100.0, window=60)
    assert expired(entries, 111.0, window=60)
    assert Seen.from_json(entries[0].to_json()) == entries[0]
