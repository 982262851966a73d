"""Kafka helpers of the benchmark: read a topic, count it, the raw pass-through reference."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


@dataclass(frozen=True, slots=True)
class Record:
    key: bytes
    value: bytes
    timestamp: float  # seconds since the epoch, as the broker stamped it (CreateTime)


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    found = consumer.partitions_for_topic(topic)
    if not found:
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(found)]


async def count(bootstrap: str, topic: str) -> int:
    """Messages in a topic (sum of end offsets: none of these topics is compacted)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        if not partitions:
            return 0
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def partition_sizes(bootstrap: str, topic: str) -> list[int]:
    """Messages in each partition of a topic (end offsets: it is not compacted)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = await _partitions(consumer, topic)
        ends = await consumer.end_offsets(partitions) if partitions else {}
        return [ends[tp] for tp in partitions]
    finally:
        await consumer.stop()


async def read(bootstrap: str, topic: str) -> list[Record]:
    """Every message of a topic up to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[Record] = []
    try:
        partitions = await _partitions(consumer, topic)
        if not partitions:
            return records
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        left = {tp for tp in partitions if ends[tp] > 0}
        while left:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for tp, messages in batches.items():
                records.extend(
                    Record(m.key or b"", m.value or b"", m.timestamp / 1000) for m in messages
                )
                if messages and messages[-1].offset + 1 >= ends[tp]:
                    left.discard(tp)
    finally:
        await consumer.stop()
    return records


async def wait_count(bootstrap: str, topic: str, wanted: int, stall: float) -> int:
    """Poll a topic's size until it reaches ``wanted`` or stops growing for ``stall`` s."""
    last, moved = -1, time.monotonic()
    while True:
        now = await count(bootstrap, topic)
        if now >= wanted:
            return now
        if now != last:
            last, moved = now, time.monotonic()
        elif time.monotonic() - moved > stall:
            return now
        await asyncio.sleep(0.5)


async def create(bootstrap: str, topics: Sequence[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
    finally:
        await admin.close()


async def delete_prefixed(bootstrap: str, prefix: str) -> int:
    """Delete every topic whose name starts with ``prefix`` (the benchmark's own)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if mine:
            await admin.delete_topics(mine)
        return len(mine)
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def pass_through(bootstrap: str, source: str, sink: str, total: int) -> float:
    """Consume ``total`` messages of ``source`` and produce each to ``sink``: msgs/s.

    No processing: the floor any consume-process-produce service pays on this broker.
    acks=all as newsmon's producers; the clock runs from the first message read to the
    last acknowledgement.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        partitions = await _partitions(consumer, source)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        started, futures = 0.0, list[Any]()
        while len(futures) < total:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            for messages in batches.values():
                started = started or time.perf_counter()
                for m in messages:
                    futures.append(await producer.send(sink, m.value, key=m.key))
        await asyncio.gather(*futures)
        return total / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()
