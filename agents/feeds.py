"""Following a small control topic (rules, silences) on every worker.

Control topics are compacted and read whole by every worker with its own group-less
consumer: each worker must see every record, not a share of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from agents.kafka import client_options
from agents.settings import Settings

Handler = Callable[[Sequence[Any]], Awaitable[None] | None]


def _consumer(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def read_all(settings: Settings, topic: str) -> list[Any]:
    """Every record now on partition 0 of ``topic``, oldest first."""
    consumer, partition = _consumer(settings), TopicPartition(topic, 0)
    await consumer.start()
    try:
        consumer.assign([partition])
        end = (await consumer.end_offsets([partition]))[partition]
        await consumer.seek_to_beginning(partition)
        records: list[Any] = []
        while await consumer.position(partition) < end:
            batch = await consumer.getmany(partition, timeout_ms=1000)
            records.extend(batch.get(partition, []))
        return records
    finally:
        await consumer.stop()


async def follow(settings: Settings, topic: str, handle: Handler) -> None:
    """Hand every batch of records of ``topic`` to ``handle``, from the beginning, forever."""
    consumer, partition = _consumer(settings), TopicPartition(topic, 0)
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        while True:
            records = (await consumer.getmany(partition, timeout_ms=1000)).get(partition, [])
            if records and asyncio.iscoroutine(result := handle(records)):
                await result
    finally:
        await consumer.stop()
