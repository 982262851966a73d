"""The delivery agent: every alert to the webhooks its watchlist declares, at least once.

Each worker runs one Kafka consumer of ``news.alerts`` in the group
``<NEWSMON_APP_ID>-delivery`` (read_committed: an alert of an aborted transaction is never
sent). An offset is committed only after every webhook of the alerts before it answered
2xx or was given up on, so a worker killed mid-delivery leaves the alert to the next owner
of the partition, which sends it again under the same delivery id (the receiver's dedupe
key). A failed attempt (connection error, timeout, 5xx, 408, 425, 429) is tried again
after an exponential, jittered pause, at most NEWSMON_DELIVERY_ATTEMPTS times; another 4xx
or the last failure dead-letters the alert with reason ``webhook_failed`` and the webhook
named. A group met for the first time starts at the alerts raised from five minutes
before the worker started, not at the topic's 30 days of history.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import ConsumerRecord

from agents.context import Context
from agents.deadletter import DeadLetter
from agents.kafka import client_options
from agents.topics import ALERTS, resolve
from monitor import wirejson
from monitor.alerting.delivery import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    backoff,
    delivery_id,
    payload,
    retriable,
    signature,
)
from monitor.rules.ruleset import Webhook, at_least

log = logging.getLogger(__name__)
REASON = "webhook_failed"
STAGE = "delivery"
#: A new delivery group starts this many seconds before the worker did.
FIRST_START_MARGIN = 300.0


class GiveUp(Exception):
    """A webhook that will not take the alert; the message says why."""


class Delivery:
    """Posts alerts to webhooks; one per worker."""

    def __init__(self, ctx: Context, deadletter: DeadLetter, started: float) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.deadletter = deadletter
        self.started = started
        self.rnd = random.Random()
        #: Whether this worker holds partition 0 of the alerts in the delivery group: the
        #: one worker that sends e-mail digests (agents.digests).
        self.leads = False

    async def run(self) -> None:
        """Deliver until cancelled; a Kafka failure restarts the consumer after a pause
        (what it had not committed is delivered again, under the same ids)."""
        while True:
            try:
                await self._consume()
            except KafkaError as exc:
                log.warning("delivery: %s; the consumer starts again in 5 s", exc)
                await asyncio.sleep(5)

    async def _consume(self) -> None:
        settings = self.settings
        topic = resolve(ALERTS, settings).name
        consumer = AIOKafkaConsumer(
            **client_options(settings),
            group_id=f"{settings.app_id}-delivery",
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            max_poll_records=100,
            # Retries of one alert may take minutes; the group must not drop us meanwhile.
            max_poll_interval_ms=int(max(300.0, 2 * self._longest_delivery()) * 1000),
        )
        consumer.subscribe([topic], listener=_StartRecent(consumer, self.started, self._lead))
        timeout = aiohttp.ClientTimeout(total=settings.delivery_timeout)
        await consumer.start()
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                while True:
                    batches = await consumer.getmany(timeout_ms=1000)
                    for tp, records in batches.items():
                        for record in records:
                            await self.deliver(session, record)
                        try:
                            await consumer.commit({tp: records[-1].offset + 1})
                        except (CommitFailedError, IllegalStateError) as exc:
                            # The partition moved on during the deliveries: its new owner
                            # sends them again under the same ids.
                            log.info("delivery: not committed (%s)", type(exc).__name__)
        finally:
            await consumer.stop()

    def _lead(self, assigned: set[TopicPartition]) -> None:
        self.leads = any(tp.partition == 0 for tp in assigned)

    def _longest_delivery(self) -> float:
        settings = self.settings
        waits = sum(
            min(settings.delivery_backoff_cap, settings.delivery_backoff * 2.0**n)
            for n in range(settings.delivery_attempts)
        )
        return float(waits + settings.delivery_attempts * settings.delivery_timeout)

    async def deliver(
        self, session: aiohttp.ClientSession, record: ConsumerRecord[Any, Any]
    ) -> None:
        """Send one alert record to each webhook of its watchlist (concurrently)."""
        try:
            alert = json.loads(record.value)
            watchlist, severity = alert["rule"]["watchlist"], alert["rule"]["severity"]
        except (ValueError, KeyError, TypeError):
            return  # not an alert record: news.alerts holds only what the notifier wrote
        hooks = [
            h
            for h in self.ctx.rules.current.webhooks.get(watchlist, ())
            if at_least(severity, h.min_severity)
        ]
        failures = await asyncio.gather(*(self._send(session, alert, h) for h in hooks))
        for hook, failure in zip(hooks, failures, strict=True):
            outcome = "delivered" if failure is None else "failed"
            self.ctx.metrics.webhook_deliveries.labels(
                watchlist=watchlist, webhook=hook.name, outcome=outcome
            ).inc()
            if failure is not None:
                await self.deadletter.send(record, REASON, f"{hook.name}: {failure}", STAGE)

    async def _send(
        self, session: aiohttp.ClientSession, alert: dict[str, Any], hook: Webhook
    ) -> str | None:
        """None once the webhook took the alert, else why it was given up on."""
        delivery = delivery_id(alert["alert_id"], alert["rule"]["watchlist"], hook.name)
        body = wirejson.dumps(payload(alert, hook, delivery), foreign=True)
        try:
            secret = _secret(hook)
        except GiveUp as exc:
            log.error("webhook %s: %s", hook.name, exc)
            return str(exc)
        attempts = self.settings.delivery_attempts
        for attempt in range(attempts):
            headers = {"Content-Type": "application/json", DELIVERY_HEADER: delivery}
            if secret is not None:
                headers[SIGNATURE_HEADER] = signature(secret, int(time.time()), body)
            try:
                async with session.post(hook.url, data=body, headers=headers) as answer:
                    if 200 <= answer.status < 300:
                        return None
                    problem = f"HTTP {answer.status}"
                    if not retriable(answer.status):
                        return f"{problem} (not retried)"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if attempt + 1 < attempts:
                pause = backoff(
                    attempt,
                    self.settings.delivery_backoff,
                    self.settings.delivery_backoff_cap,
                    self.rnd,
                )
                log.info(
                    "webhook %s: %s for delivery %s; attempt %d of %d in %.1f s",
                    hook.name, problem, delivery, attempt + 2, attempts, pause,
                )  # fmt: skip
                await asyncio.sleep(pause)
        return f"{problem} after {attempts} attempts"


def _secret(hook: Webhook) -> bytes | None:
    """The HMAC key of ``hook`` from the worker's environment or a file; None if it has none."""
    if hook.secret_env:
        value = os.environ.get(hook.secret_env, "")
        if not value:
            raise GiveUp(f"its secret variable {hook.secret_env} is not set on this worker")
        return value.encode()
    if hook.secret_file:
        try:
            text = Path(hook.secret_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise GiveUp(
                f"cannot read its secret file {hook.secret_file}: {exc.strerror}"
            ) from None
        if not text:
            raise GiveUp(f"its secret file {hook.secret_file} is empty")
        return text.encode()
    return None


class _StartRecent(ConsumerRebalanceListener):  # type: ignore[misc]
    """Partitions the group never committed start at alerts raised since shortly before
    the worker started, not at the beginning of the topic; ``told`` hears each new
    assignment (an empty one while the group rebalances)."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        started: float,
        told: Callable[[set[TopicPartition]], None],
    ) -> None:
        self.consumer = consumer
        self.since_ms = int((started - FIRST_START_MARGIN) * 1000)
        self.told = told

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        self.told(set())

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self.told(set(assigned))
        fresh = [tp for tp in assigned if await self.consumer.committed(tp) is None]
        if not fresh:
            return
        found = await self.consumer.offsets_for_times(dict.fromkeys(fresh, self.since_ms))
        ends = await self.consumer.end_offsets(fresh)
        for tp in fresh:
            offset = found.get(tp)
            self.consumer.seek(tp, offset.offset if offset is not None else ends[tp])
