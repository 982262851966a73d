"""Reading a topic's articles once, from the beginning to its current end."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from queue import Queue

from aiokafka import AIOKafkaConsumer, TopicPartition

from agents.internals import refresh_metadata
from agents.kafka import read_to_end, reader
from agents.settings import Settings
from monitor.errors import InvalidArticle
from monitor.text.article import Article, decode_article

log = logging.getLogger(__name__)
_Item = Article | Exception | None


class TopicMissing(Exception):
    """The topic to read does not exist on the cluster."""


async def _read(settings: Settings, topic: str, out: Queue[_Item]) -> None:
    consumer = reader(settings)
    try:
        await consumer.start()
        async for batch in read_to_end(consumer, await _partitions(consumer, topic)):
            for message in batch:
                _put(message.value or b"", settings, out)
    except Exception as exc:
        out.put(exc)
    finally:
        await consumer.stop()
        out.put(None)


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    if topic not in await consumer.topics():
        raise TopicMissing(f"no topic {topic!r} on the cluster")
    # topics() fetches a separate metadata snapshot; refresh the one partitions_for_topic reads.
    await refresh_metadata(consumer)
    found = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(found)]


def _put(raw: bytes, settings: Settings, out: Queue[_Item]) -> None:
    try:
        out.put(decode_article(raw, settings.max_article_bytes))
    except InvalidArticle as exc:
        log.warning("skipping a bad article on the topic: %s", exc)


def read_topic(settings: Settings, topic: str) -> Iterator[Article]:
    """Every valid article now on ``topic``; bad ones are logged and skipped."""
    queue: Queue[_Item] = Queue(maxsize=1000)
    thread = threading.Thread(
        target=lambda: asyncio.run(_read(settings, topic, queue)), daemon=True
    )
    thread.start()
    while (item := queue.get()) is not None:
        if isinstance(item, Exception):
            raise item
        yield item
    thread.join()
