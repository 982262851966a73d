"""Reading alerts back from the broker, as the notifier does after a crash."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaProducer

from agents.alert_lookup import keys_held, topics_holding
from agents.settings import load_settings
from tests.conftest import free_port

pytestmark = pytest.mark.broker


def test_every_topic_holding_the_key_is_found_in_any_order(bootstrap: str) -> None:
    prefix = f"log{free_port()}."
    topics = [f"{prefix}news.alerts", f"{prefix}alerts.route", f"{prefix}alerts.other"]
    since = time.time()

    async def produce() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
        await producer.start()
        try:
            for topic in topics[:2]:
                for i in range(50):
                    await producer.send(topic, b"{}", key=f"other-{i}".encode())
                await producer.send_and_wait(topic, b"{}", key=b"the-alert")
            await producer.send_and_wait(topics[2], b"{}", key=b"another-alert")
        finally:
            await producer.stop()

    asyncio.run(produce())
    settings = load_settings({"NEWSMON_KAFKA_BOOTSTRAP": bootstrap})
    for order in (topics, topics[::-1]):
        found = asyncio.run(topics_holding(settings, order, b"the-alert", since))
        assert found == set(topics[:2])
    assert asyncio.run(topics_holding(settings, topics, b"never-sent", since)) == set()
    wanted = {topics[0]: {b"the-alert", b"other-3", b"never-sent"}, topics[2]: {b"the-alert"}}
    held = asyncio.run(keys_held(settings, wanted, since))
    assert held == {topics[0]: {b"the-alert", b"other-3"}, topics[2]: set()}
