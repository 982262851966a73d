"""From readers' labels to decided labels: majority, disputes, debatable items, kappa."""

from __future__ import annotations

import pytest

from bench.topics.readings import Reading, by_article, cohen_kappa, decide, next_readings


def reading(reader: str, *labels: str, note: str = "", round_: int = 1) -> Reading:
    return Reading("a1", reader, round_, frozenset(labels), note)


def test_one_plain_reading_decides() -> None:
    decided = decide([reading("r1", "coalition", note="NATO summit decisions")])
    assert (decided.labels, decided.debatable, decided.readers) == (
        frozenset({"coalition"}),
        False,
        1,
    )


def test_a_lone_hard_call_is_debatable_until_read_again() -> None:
    assert decide([reading("r1", note="Hard call: ceasefire")]).debatable
    again = decide([reading("r1", note="Hard call: ceasefire"), reading("r2")])
    assert (again.labels, again.debatable) == (frozenset(), False)


def test_a_dispute_is_settled_by_the_third_reading() -> None:
    first, second = reading("r1", "ceasefire", note="talks on a truce"), reading("r2")
    assert decide([first, second]).debatable
    third = reading("r3", "ceasefire", note="truce talks", round_=3)
    decided = decide([first, second, third])
    assert (decided.labels, decided.debatable, decided.note) == (
        frozenset({"ceasefire"}),
        False,
        "talks on a truce",
    )


def test_a_third_reader_who_is_unsure_leaves_the_item_debatable() -> None:
    rs = [reading("r1", "coalition"), reading("r2"), reading("r3", note="Hard call: coalition")]
    decided = decide(rs)
    assert decided.debatable
    assert decided.labels == frozenset()  # the majority still stands for the record


def test_further_readings_go_to_someone_who_has_not_read_it() -> None:
    rs = [
        Reading("hard", "r1", 1, frozenset(), "Hard call: coalition"),
        Reading("plain", "r1", 1, frozenset(), ""),
        Reading("split", "r1", 1, frozenset({"ceasefire"}), "x"),
        Reading("split", "r2", 1, frozenset(), ""),
        Reading("agreed", "r1", 1, frozenset({"coalition"}), "x"),
        Reading("agreed", "r2", 1, frozenset({"coalition"}), "y"),
    ]
    wanted = next_readings(by_article(rs), ["r1", "r2", "r3"])
    assert set(wanted) == {"hard", "split"}
    assert wanted["split"] == "r3"
    assert wanted["hard"] in {"r2", "r3"}


def test_cohen_kappa() -> None:
    assert cohen_kappa([(True, True), (False, False)] * 5) == 1.0
    # 20 items: 6 agree yes, 10 agree no, 4 disagree; kappa from its definition:
    pairs = [(True, True)] * 6 + [(False, False)] * 10 + [(True, False)] * 2 + [(False, True)] * 2
    p_o, p_yes = 16 / 20, 8 / 20
    p_e = p_yes * p_yes + (1 - p_yes) * (1 - p_yes)
    assert cohen_kappa(pairs) == pytest.approx((p_o - p_e) / (1 - p_e))
    assert cohen_kappa([(True, False), (False, True)]) < 0
