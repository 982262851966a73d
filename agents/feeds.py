"""Following a small control topic (rules, silences) on every worker.

Control topics are compacted and read whole by every worker with its own group-less
consumer: each worker must see every record, not a share of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import TopicPartition

from agents.kafka import read_to_end, reader
from agents.settings import Settings

Handler = Callable[[Sequence[Any]], Awaitable[None] | None]


async def read_all(settings: Settings, topic: str) -> list[Any]:
    """Every record now on partition 0 of ``topic``, oldest first."""
    consumer = reader(settings, committed_only=False)
    await consumer.start()
    try:
        records: list[Any] = []
        async for batch in read_to_end(consumer, [TopicPartition(topic, 0)]):
            records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def follow(settings: Settings, topic: str, handle: Handler) -> None:
    """Hand every batch of records of ``topic`` to ``handle``, from the beginning, forever."""
    consumer, partition = reader(settings, committed_only=False), TopicPartition(topic, 0)
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
