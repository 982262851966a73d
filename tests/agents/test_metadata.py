"""The aiokafka client keeps tracking the topics it knew when a new one is added."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka.client import AIOKafkaClient

from agents import internals
from tests.conftest import restored_add_topic


@pytest.fixture
def stock() -> Iterator[None]:
    with restored_add_topic():
        AIOKafkaClient.add_topic = internals._stock_add_topic
        yield


def _client_knowing(*topics: str) -> Any:
    """A client whose metadata (from an all-topics request) lists ``topics``."""
    client = AIOKafkaClient(bootstrap_servers="127.0.0.1:1")
    client.cluster._partitions = {topic: {} for topic in topics}
    client.force_metadata_update = asyncio.get_running_loop().create_future
    return client


async def test_stock_aiokafka_narrows_its_metadata_to_the_new_topic(stock: None) -> None:
    # Why the patch exists: the next metadata request would name only "route".
    client = _client_knowing("news.alerts", "news.tagged")
    client.add_topic("route")
    assert client._topics == {"route"}


async def test_adding_a_topic_keeps_the_topics_already_known(metadata_fix: None) -> None:
    client = _client_knowing("news.alerts", "news.tagged")
    client.add_topic("route")
    assert client._topics == {"news.alerts", "news.tagged", "route"}


async def test_a_client_tracking_named_topics_adds_to_them(metadata_fix: None) -> None:
    client = _client_knowing("news.alerts", "news.tagged", "other")
    client.set_topics(["news.alerts"])
    client.add_topic("route")
    assert client._topics == {"news.alerts", "route"}
