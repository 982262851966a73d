"""Stories as records: who joins which story, for how long, and what a story reaches."""

from __future__ import annotations

import json

from monitor.alerting.stories import MAX_MEMBERS, Arrival, Story, StoryBook, met
from monitor.rules.ruleset import StoryThreshold

WINDOW = 3600.0
BASE = 0x5A5A_1234_0F0F_9999


def _arrival(
    n: int, fingerprint: int = BASE, at: float = 0.0, source: str = "wire", **kw: object
) -> Arrival:
    entities = kw.get("entities", ("Kyiv",))
    return Arrival(
        f"a{n}",
        f"title {n}",
        source,
        at,
        fingerprint,
        topics=("air_defence",),
        entities=tuple(entities),  # type: ignore[arg-type]
    )


def _flip(value: int, *bits: int) -> int:
    for bit in bits:
        value ^= 1 << bit
    return value


def test_wire_copies_join_the_founders_story_and_unrelated_articles_found_their_own() -> None:
    book = StoryBook(WINDOW)
    first = book.join(_arrival(1))
    assert first.founded
    assert first.story.story_id == f"{BASE:016x}"
    copy = book.join(_arrival(2, _flip(BASE, 1, 9, 40), at=10, source="other"))
    assert not copy.founded
    assert copy.new
    assert copy.story is first.story
    other = book.join(_arrival(3, ~BASE & (2**64 - 1), at=20))
    assert other.founded
    assert other.story is not first.story
    story = first.story
    assert (story.articles, story.sources, story.first_seen, story.last_seen) == (
        2,
        ["wire", "other"],
        0.0,
        10.0,
    )
    record = story.to_json()
    assert record["member_ids"] == ["a1", "a2"]
    assert record["topics"] == [{"name": "air_defence", "articles": 2}]
    assert record["entities"] == [{"canonical": "Kyiv", "articles": 2}]


def test_a_story_grows_through_a_member_only_with_a_shared_entity() -> None:
    book = StoryBook(WINDOW)
    book.join(_arrival(1))
    near_member = _flip(BASE, *range(0, 6))  # 6 bits from the founder
    book.join(_arrival(2, near_member, at=1))
    # 12 bits from the founder, 6 from the second member.
    further = _flip(near_member, *range(20, 26))
    stranger = book.join(_arrival(3, further, at=2, entities=("Lisbon",)))
    assert stranger.founded, "near a member only, about something else: a new story"
    kin = book.join(_arrival(4, _flip(near_member, *range(30, 36)), at=3))
    assert not kin.founded
    assert kin.story.story_id == f"{BASE:016x}"


def test_a_story_takes_members_for_one_window_after_it_was_founded() -> None:
    book = StoryBook(WINDOW)
    book.join(_arrival(1))
    assert not book.join(_arrival(2, at=WINDOW)).founded
    assert [s.story_id for s in book.expire(WINDOW + 1)] == [f"{BASE:016x}"]
    later = book.join(_arrival(3, at=WINDOW + 1))
    assert later.founded, "the same subject, a new story"
    assert later.story.articles == 1


def test_an_article_processed_again_changes_nothing() -> None:
    book = StoryBook(WINDOW)
    book.join(_arrival(1))
    book.join(_arrival(2, _flip(BASE, 3), at=5, source="b"))
    again = book.join(_arrival(2, _flip(BASE, 3), at=5, source="b"))
    assert not again.new
    assert not again.founded
    assert again.story.articles == 2
    assert again.story.sources == ["wire", "b"]


def test_a_book_restored_from_its_rows_assigns_as_the_original_would() -> None:
    book = StoryBook(WINDOW)
    arrivals = [_arrival(i, _flip(BASE, i), at=i, source=f"s{i % 3}") for i in range(1, 8)]
    arrivals.append(_arrival(99, ~BASE & (2**64 - 1), at=9))
    for arrival in arrivals:
        book.join(arrival)
    rows = json.loads(json.dumps([s.to_state() for s in book]))  # through JSON, as a table
    restored = StoryBook.restore(WINDOW, rows)
    assert [s.to_state() for s in restored] == [s.to_state() for s in book]
    following = _arrival(50, _flip(BASE, 60), at=20)
    assert book.join(following).story.story_id == restored.join(following).story.story_id
    assert not restored.join(arrivals[2]).new, "members are known after a restore"


def test_member_ids_are_bounded_and_counts_go_on() -> None:
    story = Story("s", "t", BASE, 0.0, 0.0)
    for n in range(MAX_MEMBERS + 10):
        story.add(_arrival(n, at=float(n)))
    assert story.articles == MAX_MEMBERS + 10
    assert len(story.members) == MAX_MEMBERS
    assert story.members[-1][0] == f"a{MAX_MEMBERS + 9}"


def test_thresholds_reached_by_sources_by_articles_and_by_articles_within_a_span() -> None:
    sources, articles = StoryThreshold("sources", 3), StoryThreshold("articles", 4)
    burst = StoryThreshold("articles", 3, within=60.0)
    assert (sources.name, articles.name, burst.name) == (
        "sources>=3",
        "articles>=4",
        "articles>=3/1m",
    )
    story = Story("s", "t", BASE, 0.0, 0.0)
    for n, (at, source) in enumerate([(0, "a"), (100, "a"), (200, "b"), (230, "b")]):
        story.add(_arrival(n, at=at, source=source))
    assert met(story, [sources, articles, burst]) == ["articles>=4"]
    story.add(_arrival(9, at=250, source="c"))
    assert met(story, [sources, articles, burst]) == ["sources>=3", "articles>=4", "articles>=3/1m"]


def test_a_rules_thresholds_are_forwarded_once_each() -> None:
    story = Story("s", "t", BASE, 0.0, 0.0)
    assert story.unforwarded("w/r", ["sources>=3"]) == ["sources>=3"]
    assert story.unforwarded("w/r", ["sources>=3", "articles>=4"]) == ["articles>=4"]
    assert story.unforwarded("w/other", ["sources>=3"]) == ["sources>=3"]
    restored = Story.from_state(json.loads(json.dumps(story.to_state())))
    assert restored.unforwarded("w/r", ["sources>=3", "articles>=4"]) == []
