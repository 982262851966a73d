"""On the real broker: a send to a new topic does not strand records for known topics.

Stock aiokafka loses the leaders of every topic it knew from an all-topics metadata
answer when it first sends to a new topic (agents/internals.py); a record lingering for
one of those topics then never leaves. This is the sequence of a notifier batch after a
rule push declared a new route topic.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

pytestmark = pytest.mark.broker


async def test_a_record_for_a_known_topic_leaves_after_a_send_to_a_new_topic(
    bootstrap: str, metadata_fix: None
) -> None:
    known, new = f"m{uuid.uuid4().hex[:8]}.alerts", f"m{uuid.uuid4().hex[:8]}.route"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, acks="all")
    try:
        await admin.create_topics([NewTopic(known, 1, 1)])
        await producer.start()
        # Learn `known` from an all-topics answer (the new topic may take a moment to
        # show), so that it is not in the tracked set.
        for _ in range(50):
            await producer.client.force_metadata_update()
            if known in producer.client.cluster.topics():
                break
            await asyncio.sleep(0.1)
        await (await producer.send(known, b"first"))
        assert not producer.client._topics
        await admin.create_topics([NewTopic(new, 1, 1)])
        lingering = await producer.send(known, b"alert")  # waits 50 ms in a batch
        routed = await producer.send(new, b"alert")  # unknown topic: metadata is refreshed
        sent = await asyncio.wait_for(asyncio.gather(lingering, routed), 30)
        assert [record.topic for record in sent] == [known, new]
        assert known in producer.client._topics
    finally:
        await asyncio.wait_for(producer.stop(), 10)
        await admin.close()
