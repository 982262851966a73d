"""Looking an alert up on its topics: did a send complete before a crash?

Used only when the notifier finds an alert it had started to send but not finished
(its ``pending`` record survived a crash): the alert topics are read from shortly before
that moment to their end, looking for the alert's key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import aclosing

from aiokafka import AIOKafkaConsumer, TopicPartition

from agents.internals import refresh_metadata
from agents.kafka import read_to_end, reader
from agents.settings import Settings

_MARGIN_MS = 60_000  # clock skew between the worker and the broker's timestamps


async def topics_holding(
    settings: Settings, topics: Iterable[str], key: bytes, since: float
) -> set[str]:
    """Which of ``topics`` hold a committed message keyed ``key`` written after ``since``."""
    held = await keys_held(settings, {topic: {key} for topic in topics}, since)
    return {topic for topic, keys in held.items() if key in keys}


async def keys_held(
    settings: Settings, wanted: Mapping[str, set[bytes]], since: float
) -> dict[str, set[bytes]]:
    """Per topic, which of the wanted keys it holds in committed messages after ``since``.

    One scan per topic for all its keys, stopping early once every key is found.
    """
    held: dict[str, set[bytes]] = {}
    for topic, keys in wanted.items():  # one consumer per topic: a re-assigned one missed records
        consumer = reader(settings)
        await consumer.start()
        try:
            held[topic] = await _scan(consumer, topic, set(keys), int(since * 1000) - _MARGIN_MS)
        finally:
            await consumer.stop()
    return held


async def _scan(
    consumer: AIOKafkaConsumer, topic: str, keys: set[bytes], since_ms: int
) -> set[bytes]:
    await refresh_metadata(consumer)  # partitions of a topic not subscribed to
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    found: set[bytes] = set()
    if not partitions:
        return found
    ends = await consumer.end_offsets(partitions)
    times = await consumer.offsets_for_times(dict.fromkeys(partitions, since_ms))
    starts = {tp: ends[tp] if at is None else at.offset for tp, at in times.items()}
    async with aclosing(read_to_end(consumer, partitions, starts)) as batches:
        async for batch in batches:
            found.update(m.key for m in batch if m.key in keys)
            if found == keys:
                break
    return found
