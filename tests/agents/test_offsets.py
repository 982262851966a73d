"""Commits only past finished work: the rule, and Faust's consumer once it is installed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import faust
import pytest
from aiokafka import TopicPartition
from faust.transport.consumer import Consumer
from faust.types import TP
from faust.types.tuples import Message
from intervaltree import IntervalTree

from agents import internals, offsets
from agents.internals import ConsumerBooks
from agents.offsets import (
    StallWatch,
    next_commit,
    release,
    rewind,
    still_held,
    withheld_unless_done,
)
from tests.conftest import restored_add_topic

PARTITION = TP("news.articles", 0)


def gaps(*spans: tuple[int, int]) -> IntervalTree:
    tree = IntervalTree()
    for start, end in spans:
        tree.addi(start, end)
    return tree


def test_commit_moves_over_the_acknowledged_run_from_the_committed_offset() -> None:
    assert next_commit(10, [10, 11, 12], gaps()) == 13
    assert next_commit(10, [12, 10, 11, 15], gaps()) == 13


def test_an_unacknowledged_record_at_the_head_holds_the_commit() -> None:
    # faust-streaming #606: stock Faust commits 13 here and loses offset 10.
    assert next_commit(10, [11, 12], gaps()) is None


def test_acknowledgements_below_the_committed_offset_do_not_count() -> None:
    assert next_commit(10, [7, 8, 9], gaps()) is None
    assert next_commit(10, [8, 9, 10], gaps()) == 11


def test_known_gaps_are_passed_over_but_not_the_record_after_them() -> None:
    assert next_commit(10, [12], gaps((10, 12))) == 13
    assert next_commit(10, [13], gaps((10, 12))) == 12  # up to the record at 12, not past it
    assert next_commit(10, [], gaps((10, 12))) is None


def test_before_the_first_commit_the_run_starts_at_offset_zero() -> None:
    # Starting at the lowest acknowledgement would commit over records 0-4, unprocessed.
    assert next_commit(None, [5, 6, 8], gaps()) is None
    assert next_commit(None, [0, 1, 2, 4], gaps()) == 3
    # A log that starts later (retention): once the broker confirmed the gap before it.
    assert next_commit(None, [5, 6, 8], gaps((0, 5))) == 7


@pytest.fixture
def consumer() -> Iterator[Any]:
    patched = {name: vars(Consumer)[name] for name in ("_new_offset", "_add_gap", "perform_seek")}
    with restored_add_topic():
        internals.install()
        app = faust.App("offsets-test", broker="kafka://127.0.0.1:1")
        app.topics._acking_topics.add(PARTITION.topic)
        yield app.consumer
    for name, method in patched.items():
        setattr(Consumer, name, method)


def test_faust_consumer_holds_the_commit_at_an_unfinished_head(consumer: Any) -> None:
    consumer._committed_offset[PARTITION] = 10
    consumer._acked[PARTITION] = [11, 12]
    consumer._acked_index[PARTITION] = {11, 12}
    assert consumer._new_offset(PARTITION) is None
    consumer._acked[PARTITION].append(10)
    consumer._acked_index[PARTITION].add(10)
    assert consumer._new_offset(PARTITION) == 13
    assert consumer._acked[PARTITION] == []
    assert consumer._acked_index[PARTITION] == set()


async def test_faust_guessed_gaps_are_ignored(consumer: Any) -> None:
    # Faust saw offset 12 after 9: it would commit over 10 and 11 unprocessed.
    consumer._committed_offset[PARTITION] = 10
    await consumer._add_gap(PARTITION, 10, 12)
    consumer._acked[PARTITION] = [12]
    consumer._acked_index[PARTITION] = {12}
    assert consumer._new_offset(PARTITION) is None


def test_gaps_the_broker_confirmed_are_committed_over(consumer: Any) -> None:
    consumer._committed_offset[PARTITION] = 10
    consumer._gap[PARTITION].addi(10, 12)
    consumer._acked[PARTITION] = [12]
    consumer._acked_index[PARTITION] = {12}
    assert consumer._new_offset(PARTITION) == 13


class _Event:
    def __init__(self, offset: int) -> None:
        self.message = Message("news.articles", 0, offset, 0.0, 0, None, b"k", b"v", None)


async def test_an_interrupted_batch_is_never_acknowledged(consumer: Any) -> None:
    events = [_Event(10), _Event(11)]
    with pytest.raises(RuntimeError):
        async with withheld_unless_done(events):
            raise RuntimeError("stopped mid-batch")
    consumer._committed_offset[PARTITION] = 10
    for event in events:
        event.message.refcount = 1
        event.message.ack(consumer)  # what Faust's take_events does when it closes
        assert consumer.ack(event.message) is False
    assert consumer._new_offset(PARTITION) is None


async def test_a_finished_batch_is_acknowledged(consumer: Any) -> None:
    events = [_Event(10), _Event(11)]
    async with withheld_unless_done(events):
        pass
    consumer._committed_offset[PARTITION] = 10
    for event in events:
        assert consumer.ack(event.message) is True
    assert consumer._new_offset(PARTITION) == 12


def _held_at_10(consumer: Any) -> None:
    consumer._committed_offset[PARTITION] = 10
    consumer._acked[PARTITION] = [11, 12]
    consumer._acked_index[PARTITION] = {11, 12}


def test_a_commit_held_by_a_dropped_record_is_found_after_the_delay(consumer: Any) -> None:
    _held_at_10(consumer)
    watch = StallWatch(after=30)
    assert watch.stalled(ConsumerBooks(consumer), now=100.0) == {}
    assert watch.stalled(ConsumerBooks(consumer), now=120.0) == {}
    assert watch.stalled(ConsumerBooks(consumer), now=130.0) == {PARTITION: 10}


def test_a_head_record_still_being_processed_is_not_a_stall(consumer: Any) -> None:
    _held_at_10(consumer)
    head = _Event(10).message
    consumer._unacked_messages.add(head)
    watch = StallWatch(after=30)
    watch.stalled(ConsumerBooks(consumer), now=100.0)
    assert watch.stalled(ConsumerBooks(consumer), now=200.0) == {}
    head.acked = True
    assert watch.stalled(ConsumerBooks(consumer), now=200.0) == {}  # the clock starts again now
    assert watch.stalled(ConsumerBooks(consumer), now=230.0) == {PARTITION: 10}


def test_a_head_never_delivered_before_the_first_commit_is_found(consumer: Any) -> None:
    consumer._acked[PARTITION] = [4, 5]
    consumer._acked_index[PARTITION] = {4, 5}
    assert consumer._committed_offset[PARTITION] is None
    assert consumer._new_offset(PARTITION) is None
    watch = StallWatch(after=30)
    assert watch.stalled(ConsumerBooks(consumer), now=100.0) == {}
    assert watch.stalled(ConsumerBooks(consumer), now=130.0) == {PARTITION: 0}


def test_a_commit_that_moves_restarts_the_clock(consumer: Any) -> None:
    _held_at_10(consumer)
    watch = StallWatch(after=30)
    watch.stalled(ConsumerBooks(consumer), now=100.0)
    consumer._committed_offset[PARTITION] = 11
    consumer._acked[PARTITION] = [12, 13]
    assert watch.stalled(ConsumerBooks(consumer), now=135.0) == {}
    assert watch.stalled(ConsumerBooks(consumer), now=165.0) == {PARTITION: 11}


async def test_rewinding_fetches_again_from_the_held_offset(consumer: Any) -> None:
    sought: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        sought.append((tp, offset))

    consumer._seek = seek
    await rewind(consumer, PARTITION, 10)
    assert sought == [(PARTITION, 10)]
    assert consumer._read_offset[PARTITION] == 10  # the record at 10 is not dropped


class _Thread:
    """The consumer thread's side of a rebalance's seek: what Kafka has committed."""

    def __init__(self, committed: dict[TP, int | None]) -> None:
        self.committed = committed
        self.to_beginning: list[TP] = []

    def assignment(self) -> set[TP]:
        return set(self.committed)

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return self.committed

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        # aiokafka refuses anything but its own TopicPartition (Faust's TP is another type)
        assert all(type(tp) is TopicPartition for tp in partitions)
        self.to_beginning.extend(TP(tp.topic, tp.partition) for tp in partitions)


async def test_after_a_rebalance_uncommitted_partitions_start_from_the_beginning(
    consumer: Any,
) -> None:
    # Faust dropped records it had fetched during the rebalance; a partition with a commit
    # is fetched again from there, one without must be fetched again from its start.
    committed, fresh = PARTITION, TP("news.articles", 1)
    changelog = TP("offsets-test-stories-changelog", 0)  # table recovery reads those
    thread = _Thread({committed: 40, fresh: None, changelog: None})
    consumer._thread = thread
    consumer._read_offset[fresh] = 57  # where the dropped records had been read to
    await consumer.perform_seek()
    assert thread.to_beginning == [fresh]
    assert consumer._committed_offset[committed] == 40
    assert consumer._read_offset[fresh] is None


def test_records_fetched_and_dropped_with_nothing_acknowledged_are_found(consumer: Any) -> None:
    # The stall report of a cluster-test run: committed 64, the partition's end 99, its
    # fetch position at the end, nothing acknowledged or in flight.
    consumer._committed_offset[PARTITION] = 64
    watch = StallWatch(after=30)
    books = ConsumerBooks(consumer)
    assert watch.stalled(books, now=100.0, ends={PARTITION: 99}) == {}
    assert watch.stalled(books, now=130.0, ends={PARTITION: 99}) == {PARTITION: 64}
    assert watch.stalled(books, now=200.0, ends={PARTITION: 64}) == {}, "nothing pending"


def test_pending_records_being_processed_are_not_a_stall(consumer: Any) -> None:
    consumer._committed_offset[PARTITION] = 64
    delivered = _Event(64).message  # Faust holds delivered messages in a WeakSet
    consumer._unacked_messages.add(delivered)
    watch = StallWatch(after=30)
    books = ConsumerBooks(consumer)
    watch.stalled(books, now=100.0, ends={PARTITION: 99})
    assert watch.stalled(books, now=200.0, ends={PARTITION: 99}) == {}


def _buffer(consumer: Any, tp: TP, maxsize: int = 100) -> Any:
    """The stream buffer Faust's consumer delivers ``tp``'s records to (an agent's channel)."""
    channel = consumer.app.topic(tp.topic, maxsize=maxsize)
    consumer.app.topics._tp_index[tp].add(channel)
    return channel.queue


async def test_records_waiting_in_a_streams_buffer_are_not_a_stall(consumer: Any) -> None:
    # The full-size fuzz test's failures: 12,500 messages published at once, the agent's
    # buffer holding records of a partition for over ten seconds. Faust counts them in
    # flight only once the stream takes them; fetching them again tagged them twice.
    consumer._committed_offset[PARTITION] = 64
    buffer = _buffer(consumer, PARTITION)
    buffer.put_nowait(_Event(64))
    watch = StallWatch(after=30)
    books = ConsumerBooks(consumer)
    watch.stalled(books, now=100.0, ends={PARTITION: 99})
    assert watch.stalled(books, now=200.0, ends={PARTITION: 99}) == {}
    assert not still_held(books, PARTITION, 64, {PARTITION: 99})
    buffer.get_nowait()  # taken by the stream, then dropped by it (a rebalance): a stall
    assert watch.stalled(books, now=200.0, ends={PARTITION: 99}) == {}
    assert watch.stalled(books, now=230.0, ends={PARTITION: 99}) == {PARTITION: 64}
    assert still_held(books, PARTITION, 64, {PARTITION: 99})


async def test_a_full_buffer_may_hold_the_consumer_with_a_record_in_hand(consumer: Any) -> None:
    consumer._committed_offset[PARTITION] = 64
    other = TP(PARTITION.topic, 1)
    buffer = _buffer(consumer, PARTITION, maxsize=1)
    consumer.app.topics._tp_index[other] |= consumer.app.topics._tp_index[PARTITION]
    buffer.put_nowait(_Event(7))  # another partition's record fills it
    books = ConsumerBooks(consumer)
    assert books.queued(PARTITION)
    watch = StallWatch(after=30)
    watch.stalled(books, now=100.0, ends={PARTITION: 99})
    assert watch.stalled(books, now=200.0, ends={PARTITION: 99}) == {}


async def test_a_partition_that_moved_on_while_the_broker_was_asked_is_not_fetched_again(
    consumer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sought: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        sought.append((tp, offset))

    async def moved_on(settings: Any, tp: TP, offset: int) -> int:
        consumer._committed_offset[PARTITION] = 80  # processed and committed meanwhile
        return offset

    async def still_there(settings: Any, tp: TP, offset: int) -> int:
        return offset

    consumer._seek = seek
    consumer._committed_offset[PARTITION] = 64
    monkeypatch.setattr(offsets, "first_record_at", moved_on)
    books = ConsumerBooks(consumer)
    settings: Any = None  # only first_record_at reads it
    await release(consumer, books, PARTITION, 64, settings, ends=lambda: {PARTITION: 99})
    assert sought == []
    consumer._committed_offset[PARTITION] = 64
    monkeypatch.setattr(offsets, "first_record_at", still_there)
    await release(consumer, books, PARTITION, 64, settings, ends=lambda: {PARTITION: 99})
    assert sought == [(PARTITION, 64)]
