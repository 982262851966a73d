"""The digest agent: each watchlist's e-mail digests, one message per closed period.

One worker sends them: the one holding partition 0 of the alerts in the delivery group
(:attr:`agents.delivery.Delivery.leads`), so a rebalance hands the duty on with the
partition. A period is due ``GRACE`` seconds after it ends (alerts committed late are in);
the agent reads the period's alerts from ``news.alerts`` (committed only), sends the
message over SMTP (STARTTLS verified against NEWSMON_SMTP_CAFILE or the system's CAs,
then login when a user is set), and then records the period as done on the compacted
``newsmon.digests`` topic (one key per watchlist and digest, so the topic stays small).
A worker that dies between sending and recording sends the same message again (same
``Message-ID``): at least once. Only the latest closed period is considered: after
downtime, the periods missed are not sent late.
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import ssl
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from agents.context import Context
from agents.delivery import Delivery
from agents.feeds import read_all
from agents.internals import refresh_metadata
from agents.kafka import idempotent_producer, read_to_end, reader
from agents.settings import Settings
from agents.topics import ALERTS, DIGESTS, resolve
from monitor.alerting.digests import admits, compose, digest_id, last_closed
from monitor.rules.ruleset import Digest

log = logging.getLogger(__name__)
#: Seconds after a period's end before its digest is read and sent.
GRACE = 5.0
#: Seconds between looks at the clock, and the pause after a failed send.
TICK = 1.0
RETRY_AFTER = 30.0


class DigestAgent:
    def __init__(self, ctx: Context, delivery: Delivery) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.delivery = delivery
        self.done: dict[str, float] = {}  # "<watchlist>/<digest>" -> last period start done
        self.failed_at: dict[str, float] = {}

    async def run(self) -> None:
        topic = resolve(DIGESTS, self.settings).name
        for record in await read_all(self.settings, topic):
            try:
                self.done[record.key.decode()] = float(json.loads(record.value)["period_start"])
            except (AttributeError, ValueError, KeyError, TypeError):
                log.warning("ignoring an unreadable record on %s", topic)
        while True:
            await asyncio.sleep(TICK)
            if not self.delivery.leads:
                continue
            for watchlist, digests in self.ctx.rules.current.digests.items():
                for digest in digests:
                    try:
                        await self._maybe_send(watchlist, digest, time.time())
                    except KafkaError as exc:
                        log.warning("digest %s/%s: Kafka: %s", watchlist, digest.name, exc)

    async def _maybe_send(self, watchlist: str, digest: Digest, now: float) -> None:
        start, end = last_closed(now, digest.every, GRACE)
        key = f"{watchlist}/{digest.name}"
        if self.done.get(key, -1.0) >= start:
            return
        if now - self.failed_at.get(key, -RETRY_AFTER) < RETRY_AFTER:
            return
        alerts = [a for a in await self._alerts(start, end) if a["rule"]["watchlist"] == watchlist]
        alerts = [a for a in alerts if admits(digest, a, start, end)]
        outcome = "empty"
        if alerts:
            if not self.settings.smtp_host:
                log.error("digest %s/%s: NEWSMON_SMTP_HOST is not set", watchlist, digest.name)
                self.failed_at[key] = now
                return
            message = compose(
                watchlist, digest, alerts, period=(start, end), sender=self.settings.smtp_from
            )
            try:
                await asyncio.to_thread(send_mail, self.settings, message)
            except (OSError, smtplib.SMTPException) as exc:
                log.error("digest %s/%s: not sent: %s", watchlist, digest.name, exc)
                self.failed_at[key] = now
                self.ctx.metrics.digests.labels(
                    watchlist=watchlist, digest=digest.name, outcome="failed"
                ).inc()
                return
            outcome = "sent"
            log.info("digest %s/%s: %d alerts sent", watchlist, digest.name, len(alerts))
        await self._record(key, digest_id(watchlist, digest.name, start), start, len(alerts))
        self.done[key] = start
        self.ctx.metrics.digests.labels(
            watchlist=watchlist, digest=digest.name, outcome=outcome
        ).inc()

    async def _alerts(self, start: float, end: float) -> list[dict[str, Any]]:
        """The committed alerts produced from shortly before ``start`` to now."""
        topic = resolve(ALERTS, self.settings).name
        consumer = reader(self.settings)
        await consumer.start()
        try:
            await refresh_metadata(consumer)
            partitions = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))
            ]
            since = int((start - 60) * 1000)  # a record's time is when it was produced
            found = await consumer.offsets_for_times(dict.fromkeys(partitions, since))
            ends = await consumer.end_offsets(partitions)
            starts = {tp: (o.offset if o else ends[tp]) for tp, o in found.items()}
            alerts: dict[str, dict[str, Any]] = {}
            async for batch in read_to_end(consumer, partitions, starts):
                for record in batch:
                    alert = _decoded(record.value)
                    if alert is not None:
                        alerts[alert["alert_id"]] = alert
            return list(alerts.values())
        finally:
            await consumer.stop()

    async def _record(self, key: str, ident: str, start: float, count: int) -> None:
        producer = idempotent_producer(self.settings)
        await producer.start()
        try:
            value = {
                "digest_id": ident,
                "period_start": start,
                "period": datetime.fromtimestamp(start, UTC).isoformat(),
                "alerts": count,
                "sent_at": datetime.now(UTC).isoformat(),
            }
            await producer.send_and_wait(
                resolve(DIGESTS, self.settings).name,
                json.dumps(value).encode(),
                key=key.encode(),
            )
        finally:
            await producer.stop()


def _decoded(value: bytes | None) -> dict[str, Any] | None:
    """An alert record, or None for anything else."""
    try:
        alert = json.loads(value or b"")
    except ValueError:
        return None
    if not isinstance(alert, dict) or not isinstance(alert.get("rule"), dict):
        return None
    fields = (alert["rule"].get("watchlist"), alert.get("raised_at"), alert.get("alert_id"))
    return alert if all(isinstance(f, str) for f in fields) else None


def send_mail(settings: Settings, message: EmailMessage, timeout: float = 30) -> None:
    """Send ``message`` over SMTP as the settings say (blocking: run it in a thread)."""
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
        if settings.smtp_starttls:
            cafile = str(settings.smtp_cafile) if settings.smtp_cafile else None
            smtp.starttls(context=ssl.create_default_context(cafile=cafile))
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)
