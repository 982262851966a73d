"""Gaps in a log, as the broker tells them: what a held commit may pass over."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from faust.types import TP

from agents.offsets import first_record_at
from agents.settings import load_settings
from tests.conftest import free_port

pytestmark = pytest.mark.broker


async def _transactional_log(bootstrap: str, topic: str) -> None:
    """Offsets 0-1 records, 2 commit marker, 3 record, 4 marker, 5 aborted, 6 marker, 7."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=topic)
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, b"a", partition=0)
            await producer.send(topic, b"b", partition=0)
        async with producer.transaction():
            await producer.send(topic, b"c", partition=0)
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"aborted", partition=0)
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic, b"d", partition=0)
    finally:
        await producer.stop()


def test_the_first_record_at_an_offset_skips_markers_and_aborted_records(
    bootstrap: str,
) -> None:
    topic = f"gaps{free_port()}"
    asyncio.run(_transactional_log(bootstrap, topic))
    settings = load_settings({}, kafka_bootstrap=bootstrap)
    tp = TP(topic, 0)

    def first(offset: int) -> int:
        return asyncio.run(first_record_at(settings, tp, offset))

    assert first(0) == 0  # a record: to be fetched again, never committed over
    assert first(1) == 1
    assert first(2) == 3  # a commit marker: a gap
    assert first(4) == 7  # a marker, an aborted record and its marker
    assert first(8) == 9  # the last marker, up to the end of the log
