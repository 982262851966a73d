"""What a stalled worker logs about its Kafka clients, read from real aiokafka clients."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from agents.internals import consumer_state, producer_state

pytestmark = pytest.mark.broker


def test_the_producer_report_names_in_flight_nodes_queues_and_the_metadata_task(
    bootstrap: str, prefix: str
) -> None:
    async def main() -> tuple[str, str]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
        before = producer_state(SimpleNamespace(_producer=None))
        await producer.start()
        try:
            await producer.send_and_wait(f"{prefix}report", b"v")
            return before, producer_state(SimpleNamespace(_producer=producer))
        finally:
            await producer.stop()

    before, after = asyncio.run(main())
    assert before == "no Kafka producer started"
    assert after == (
        "in flight to nodes []; muted []; queued batches {}; metadata update awaited: "
        "False; metadata task running"
    )


def test_the_consumer_report_names_each_partition_state_and_the_thread_tasks(
    bootstrap: str, prefix: str
) -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(30)  # type: ignore[arg-type]

    async def make() -> AIOKafkaConsumer:
        topic = f"{prefix}report"
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        await producer.send_and_wait(topic, b"v", partition=0)
        await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.getmany(timeout_ms=5000)
        return consumer

    consumer: AIOKafkaConsumer = run(make())  # type: ignore[assignment]
    try:
        faust_like = SimpleNamespace(_thread=SimpleNamespace(_consumer=consumer, thread_loop=loop))
        report = consumer_state(faust_like)
    finally:
        run(consumer.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    states, _, tasks = report.partition("\nconsumer thread tasks:\n")
    assert states == f"{prefix}report[0] CONSUMING at 1"
    assert "_fetch_requests_routine (fetcher.py:" in tasks
