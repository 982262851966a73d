"""The notifier's flush is a barrier: every buffered changelog write is out before alerts."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.transport.producer import ProducerBuffer

from agents.app import drained

SLOW_SEND = 0.15  # longer than the 0.1 s after which Faust's buffer flush gives up


class _Channel:
    def __init__(self, sent: list[int]) -> None:
        self.sent = sent

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await asyncio.sleep(SLOW_SEND)
        self.sent.append(fut.n)


class _Producer:
    def __init__(self, buffer: ProducerBuffer) -> None:
        self.buffer = buffer
        self.flushed = 0

    async def flush(self) -> None:
        self.flushed += 1


async def _buffer_with(count: int, sent: list[int]) -> ProducerBuffer:
    buffer = ProducerBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    await buffer.start()
    channel = _Channel(sent)
    for n in range(count):
        buffer.put(SimpleNamespace(n=n, message=SimpleNamespace(channel=channel)))
    return buffer


async def test_faust_buffer_flush_alone_returns_with_writes_still_buffered() -> None:
    sent: list[int] = []
    buffer = await _buffer_with(4, sent)
    try:
        await buffer.flush()
        assert len(sent) < 4
    finally:
        await drained(_Producer(buffer))
        await buffer.stop()


async def test_drained_waits_for_every_buffered_write_then_flushes_the_client() -> None:
    sent: list[int] = []
    buffer = await _buffer_with(4, sent)
    producer = _Producer(buffer)
    try:
        await drained(producer)
        assert sent == [0, 1, 2, 3]
        assert producer.flushed == 1
    finally:
        await buffer.stop()
