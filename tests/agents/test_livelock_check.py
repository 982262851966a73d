"""Faust's livelock check, as patched, on aiokafka's real fetch state.

A partition that awaits its reset (after a seek to the beginning, until the fetcher sets
its position) has no position; aiokafka asserts when asked for one, and Faust's check asks
once a high-water mark is known, which crashed a worker while a broker was down.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.consumer.subscription_state import SubscriptionState
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP

from agents import internals

TOPIC = "news.raw"


class _Log:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, message: str, *args: Any) -> None:
        self.errors.append(message % args if args else message)


def _thread(subscriptions: SubscriptionState, inbound: dict[TP, float]) -> Any:
    """Faust's consumer thread around a real aiokafka subscription state, nothing started."""
    thread: Any = object.__new__(AIOKafkaConsumerThread)
    thread._consumer = SimpleNamespace(_fetcher=SimpleNamespace(_subscriptions=subscriptions))
    thread.time_started = time.monotonic() - 600
    thread.tp_fetch_request_timeout_secs = 60.0
    thread.tp_stream_timeout_secs = 60.0
    thread.tp_commit_timeout_secs = 60.0
    thread.tp_last_committed_at = {}
    conf = SimpleNamespace(stream_processing_timeout=60.0, broker_commit_livelock_soft_timeout=60.0)
    app = SimpleNamespace(
        monitor=SimpleNamespace(stream_inbound_time=inbound),
        topics=SimpleNamespace(acks_enabled_for=lambda topic: True),
        conf=conf,
    )
    thread.consumer = SimpleNamespace(app=app)
    thread.log = _Log()
    return thread


def _assigned(highwater: int, position: int | None) -> SubscriptionState:
    subscriptions = SubscriptionState()
    subscriptions.assign_from_user([TopicPartition(TOPIC, 0)])
    state = subscriptions.subscription.assignment.state_value(TopicPartition(TOPIC, 0))
    state.timestamp = time.time() * 1000  # fetched just now
    state.highwater = highwater
    if position is not None:
        state.seek(position)
    else:
        state.await_reset(0)  # a seek to the beginning, not yet carried out by the fetcher
    return subscriptions


@pytest.fixture(autouse=True)
def _patched() -> None:
    internals.install()


async def test_the_stock_check_asserts_on_a_partition_awaiting_its_reset() -> None:
    thread = _thread(_assigned(highwater=120, position=None), {})
    with pytest.raises(AssertionError):
        internals._stock["verify_event_path"](thread, time.monotonic(), TP(TOPIC, 0))


async def test_the_patched_check_passes_over_a_partition_awaiting_its_reset() -> None:
    thread = _thread(_assigned(highwater=120, position=None), {})
    AIOKafkaConsumerThread.verify_event_path(thread, time.monotonic(), TP(TOPIC, 0))
    assert thread.log.errors == []


async def test_the_patched_check_still_reports_a_stream_that_stopped() -> None:
    tp = TP(TOPIC, 0)
    # Fetched to 120, read to 40, nothing taken by the stream for ten minutes.
    thread = _thread(_assigned(highwater=120, position=40), {tp: time.monotonic() - 600})
    AIOKafkaConsumerThread.verify_event_path(thread, time.monotonic(), tp)
    assert len(thread.log.errors) == 1
    assert thread.log.errors[0].startswith("Stream stopped processing, or is slow for")
