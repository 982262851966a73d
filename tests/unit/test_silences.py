"""Silences and durations."""

from __future__ import annotations

import pytest

from monitor.alerting.silences import new_silence, silence_from_json, silencing
from monitor.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("4h", 14_400), ("2d", 172_800), ("1h30m", 5400), ("1w", 604_800)],
)
def test_durations_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


@pytest.mark.parametrize("text", ["", "4", "soon", "4 hours", "-1h", "0s", "h4"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_a_silence_needs_a_matcher() -> None:
    with pytest.raises(ValueError, match="--rule, --watchlist or --entity"):
        new_silence(starts_at=0, seconds=60)


def test_silence_covers_when_every_named_matcher_matches() -> None:
    both = new_silence(starts_at=0, seconds=60, rule="r1", entity="Volodymyr Zelenskyy")
    assert both.covers("r1", "w", ["Kyiv", "volodymyr zelenskyy"])
    assert not both.covers("r2", "w", ["Volodymyr Zelenskyy"])
    assert not both.covers("r1", "w", ["Kyiv"])
    watch = new_silence(starts_at=0, seconds=60, watchlist="w")
    assert watch.covers("any-rule", "w", [])


def test_silences_apply_only_while_active() -> None:
    silence = new_silence(starts_at=100, seconds=60, watchlist="w")
    assert silencing([silence], "r", "w", [], now=99) is None
    assert silencing([silence], "r", "w", [], now=100) == silence
    assert silencing([silence], "r", "w", [], now=160) is None
    assert silence_from_json(silence.to_json()) == silence
