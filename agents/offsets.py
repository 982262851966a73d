"""Offsets are committed only past work that is done (docs/delivery.md).

Faust commits, per partition, the run of acknowledged offsets that follows the committed
one. Two details of its bookkeeping can commit past a record that was never processed,
and a SIGKILL afterwards loses that record (faust-streaming issues #606 and #596):

- the run may start one offset *after* the committed offset, so a record still in
  flight, or dropped from a queue during a rebalance or table recovery, at the head of
  the partition is skipped;
- any jump in the offsets it delivers is taken for a gap in the log (offsets holding
  no record, e.g. transaction markers) and committed over. After a rebalance with a
  table restore, Faust can skip a record while delivering the ones after it (seen in
  the chaos test: one article of 400 never tagged), so the "gap" was a record.

:func:`agents.internals.install` replaces those two methods of Faust's consumer. The rule
they follow is :func:`next_commit`: a commit moves only over offsets that were acknowledged or are
gaps the broker confirmed, starting exactly at the committed offset. A commit held at
one offset with nothing in flight (:class:`StallWatch`) is resolved by asking the
broker (:func:`first_record_at`): offsets without a record become a gap, a real record
is fetched again (:func:`rewind`).

A batch whose processing was interrupted (a worker stopping mid-batch, an agent that
raised) must not be acknowledged either: Faust's ``take_events`` acknowledges the
events of a batch when its generator is closed, whatever happened to the batch.
:func:`withheld_unless_done` marks such events so that acknowledgement does nothing;
their offsets stay uncommitted and are processed again by the next owner.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from aiokafka import TopicPartition
from intervaltree import IntervalTree

from agents.kafka import reader
from agents.settings import Settings

if TYPE_CHECKING:
    from faust.types import TP

    from agents.internals import ConsumerBooks

log = logging.getLogger(__name__)


def next_commit(committed: int | None, acked: Sequence[int], gaps: IntervalTree) -> int | None:
    """The offset to commit next, or None when nothing can move.

    ``committed`` is the next offset to read (Kafka's committed offset; None before the
    group's first commit, and Faust also turns a committed 0 into None), ``acked`` the
    acknowledged offsets, ``gaps`` intervals of offsets known to hold no record.

    Without a commit the run starts at offset 0, not at the lowest acknowledgement: that
    would be a guess like Faust's, and a head record dropped before the first commit
    could be committed over that way. A partition whose log starts later (retention) is
    held until the stall watch has the broker confirm offsets 0 to its first record as a
    gap.
    """
    done = set(acked)
    if not done:
        return None
    start = 0 if committed is None else committed
    position = start
    while position in done or gaps.overlaps_point(position):
        position += 1
    return position if position > start else None


def withhold(events: Iterable[Any]) -> None:
    """Make acknowledging these events a no-op: their offsets will not be committed."""
    for event in events:
        event.message.acked = True


@asynccontextmanager
async def withheld_unless_done(events: Sequence[Any]) -> AsyncIterator[None]:
    """Withhold the batch's acknowledgements if the block does not complete."""
    try:
        yield
    except BaseException:
        withhold(events)
        log.warning("batch of %d events interrupted: left uncommitted", len(events))
        raise


class StallWatch:
    """Finds partitions whose commits are held by a head offset that nobody processes.

    The stricter rule trades a lost record for a held commit: when Faust skips a record
    (see the module doc), later records are processed but the commit cannot pass the
    skipped one; a gap in the log (a transaction marker) holds it the same way until
    the broker confirms it. Records after a re-fetched one are processed twice, which
    the notifier's story state absorbs.

    A partition can also hold records after its committed offset with none of them
    acknowledged or in flight: Faust fetched them and dropped them during a rebalance
    (its read position then stands past them and nothing fetches them again). Given the
    partitions' end offsets (``ends``), that is found the same way; records still waiting
    in a stream's buffer are not dropped (Faust counts a message in flight only once a
    stream takes it), so a partition with any there is not judged.
    """

    def __init__(self, after: float) -> None:
        self.after = after
        self._held: dict[TP, tuple[int, float]] = {}

    def stalled(
        self, books: ConsumerBooks, now: float, ends: Mapping[TP, int] | None = None
    ) -> dict[TP, int]:
        """Partitions held for ``after`` seconds at the same offset, with that offset."""
        found: dict[TP, int] = {}
        held: dict[TP, tuple[int, float]] = {}
        for tp in set(books.acked) | set(ends or ()):
            if not _held_now(books, tp, ends):
                continue
            committed = books.committed.get(tp) or 0
            offset, since = self._held.get(tp, (committed, now))
            if offset != committed:
                since = now
            held[tp] = (committed, since)
            if now - since >= self.after:
                found[tp] = committed
        self._held = held
        return found


def still_held(
    books: ConsumerBooks, tp: TP, offset: int, ends: Mapping[TP, int] | None = None
) -> bool:
    """Whether ``tp``'s commits are held at ``offset`` with nothing to move them, now.

    Asked again after the broker answered: the partition may have moved on meanwhile, and
    fetching it again then would process its records a second time.
    """
    return (books.committed.get(tp) or 0) == offset and _held_now(books, tp, ends)


def _held_now(books: ConsumerBooks, tp: TP, ends: Mapping[TP, int] | None) -> bool:
    committed = books.committed.get(tp) or 0  # None: no commit yet (see next_commit)
    acked = books.acked.get(tp) or ()
    if acked and min(acked) > committed:
        # the head is dropped unless it is being processed (it left the buffer in order)
        return not books.in_flight_below(tp, min(acked))
    if acked or (ends or {}).get(tp, 0) <= committed:
        return False  # the commit can move, or nothing is pending
    # pending records: dropped unless being processed or waiting in a stream's buffer
    return not (books.in_flight_below(tp, None) or books.queued(tp))


async def rewind(consumer: Any, tp: TP, offset: int) -> None:
    """Fetch ``tp`` again from ``offset`` (the committed offset holding its commits)."""
    log.warning("commits of %s held at offset %d by a dropped record: fetching again", tp, offset)
    await consumer.seek(tp, offset)


async def release(
    consumer: Any,
    books: ConsumerBooks,
    tp: TP,
    offset: int,
    settings: Settings,
    *,
    ends: Callable[[], Mapping[TP, int]] | None = None,
) -> None:
    """Free a commit held at ``offset``: a confirmed gap is passed over, a record re-fetched
    if the partition is still held there once the broker has answered (``ends`` gives the
    end offsets as of then)."""
    first = await first_record_at(settings, tp, offset)
    if first > offset:  # no record there: the broker confirms a gap
        books.add_gap(tp, offset, first)
    elif still_held(books, tp, offset, ends() if ends is not None else None):
        await rewind(consumer, tp, offset)
    else:
        log.info("commits of %s moved on from offset %d while the broker was asked", tp, offset)


async def first_record_at(settings: Settings, tp: TP, offset: int) -> int:
    """The offset of the first committed record at or after ``offset`` (the end if none).

    Asked of the broker with a consumer of its own: offsets before it hold no record
    (transaction markers, aborted or compacted records) and may be committed over.
    """
    consumer = reader(settings)
    await consumer.start()
    try:
        partition = TopicPartition(tp.topic, tp.partition)
        consumer.assign([partition])
        end = (await consumer.end_offsets([partition]))[partition]
        consumer.seek(partition, offset)
        for _ in range(30):  # a second each; then assume a record, to be fetched again
            if await consumer.position(partition) >= end:
                return int(end)
            batch = await consumer.getmany(partition, timeout_ms=1000, max_records=1)
            for record in batch.get(partition, ()):
                return int(record.offset)
        return offset
    finally:
        await consumer.stop()
