"""Looking an alert up on its topics: did a send complete before a crash?

Used only when the notifier finds an alert it had started to send but not finished
(its ``pending`` record survived a crash): the alert topics are read from shortly before
that moment to their end, looking for the alert's key.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

from agents.kafka import client_options
from agents.settings import Settings

_MARGIN_MS = 60_000  # clock skew between the worker and the broker's timestamps


async def topics_holding(
    settings: Settings, topics: Iterable[str], key: bytes, since: float
) -> set[str]:
    """Which of ``topics`` hold a committed message keyed ``key`` written after ``since``."""
    found: set[str] = set()
    for topic in topics:  # one consumer per topic: a re-assigned consumer missed records
        consumer = AIOKafkaConsumer(
            **client_options(settings),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
        await consumer.start()
        try:
            if await _holds(consumer, topic, key, int(since * 1000) - _MARGIN_MS):
                found.add(topic)
        finally:
            await consumer.stop()
    return found


async def _holds(consumer: AIOKafkaConsumer, topic: str, key: bytes, since_ms: int) -> bool:
    await consumer._client.force_metadata_update()  # partitions of a topic not subscribed to
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    if not partitions:
        return False
    consumer.assign(partitions)
    ends = await consumer.end_offsets(partitions)
    starts = await consumer.offsets_for_times(dict.fromkeys(partitions, since_ms))
    remaining = set()
    for tp in partitions:
        start = starts[tp].offset if starts[tp] is not None else ends[tp]
        consumer.seek(tp, start)
        if start < ends[tp]:
            remaining.add(tp)
    while remaining:
        for messages in (await consumer.getmany(*remaining, timeout_ms=1000)).values():
            if any(message.key == key for message in messages):
                return True
        remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
    return False
