"""Kafka clients built from the settings: connection options and topic creation."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from agents.settings import Settings
from agents.topics import ResolvedTopic

log = logging.getLogger(__name__)


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options shared by every aiokafka client (bootstrap, TLS, SASL)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        options["ssl_context"] = create_ssl_context(cafile=cafile)
    if settings.kafka_security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def idempotent_producer(settings: Settings, **extra: Any) -> AIOKafkaProducer:
    """A producer with idempotence on (acks=all): retries never duplicate a message."""
    return AIOKafkaProducer(
        **client_options(settings), enable_idempotence=True, acks="all", linger_ms=5, **extra
    )


async def ensure_topics(settings: Settings, topics: Iterable[ResolvedTopic]) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        created = []
        for topic in missing:
            new = NewTopic(topic.name, topic.partitions, 1, topic_configs=topic.configs)
            try:
                await admin.create_topics([new])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                continue  # another worker created it first
        if created:
            log.info("created topics: %s", ", ".join(created))
        return created
    finally:
        await admin.close()
