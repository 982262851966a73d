"""Looking an alert up on its topics: did a send complete before a crash?

Used only when the notifier finds an alert it had started to send but not finished
(its ``pending`` record survived a crash): the alert topics are read from shortly before
that moment to their end, looking for the alert's key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition

from agents.internals import refresh_metadata
from agents.kafka import client_options
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
        consumer = AIOKafkaConsumer(
            **client_options(settings),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )
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
    consumer.assign(partitions)
    ends = await consumer.end_offsets(partitions)
    starts = await consumer.offsets_for_times(dict.fromkeys(partitions, since_ms))
    remaining = set()
    for tp in partitions:
        start = starts[tp].offset if starts[tp] is not None else ends[tp]
        consumer.seek(tp, start)
        if start < ends[tp]:
            remaining.add(tp)
    while remaining and found != keys:
        for messages in (await consumer.getmany(*remaining, timeout_ms=1000)).values():
            found.update(m.key for m in messages if m.key in keys)
        remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
    return found
