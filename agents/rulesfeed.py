"""Live rule deployment over the compacted ``newsmon.rules`` topic.

``newsmon rules push`` publishes a validated rule set under one key, so compaction keeps
the latest. Every worker reads the topic from the beginning with its own group-less
consumer (each worker must see every rule set, not a share of them) and swaps the rule
set in place: no restart, no rebalance.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from agents.kafka import client_options
from agents.settings import Settings
from agents.topics import RULES, resolve
from monitor.errors import DefinitionError
from monitor.rules import RuleSet, parse_rules

log = logging.getLogger(__name__)
KEY = b"ruleset"


def encode_ruleset(ruleset: RuleSet, origin: str, pushed_at: datetime) -> bytes:
    """The message that deploys a rule set: its source text, version and provenance."""
    record = {
        "version": ruleset.version,
        "origin": origin,
        "pushed_at": pushed_at.isoformat(),
        "rules": len(ruleset.rules),
        "source": ruleset.source,
    }
    return json.dumps(record, ensure_ascii=False).encode()


def decode_ruleset(value: bytes, known_topics: Collection[str]) -> tuple[RuleSet, str]:
    """The rule set in a deployment message and where it came from (re-validated)."""
    record = json.loads(value)
    origin = f"{record.get('origin', '?')}@{record.get('version', '?')}"
    return parse_rules(record["source"], origin, known_topics), origin


async def push_ruleset(
    settings: Settings, ruleset: RuleSet, origin: str, pushed_at: datetime
) -> None:
    """Publish a rule set to the rules topic and wait until the broker has it."""
    producer = AIOKafkaProducer(**client_options(settings), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            resolve(RULES, settings).name, encode_ruleset(ruleset, origin, pushed_at), key=KEY
        )
    finally:
        await producer.stop()


def _consumer(settings: Settings) -> tuple[AIOKafkaConsumer, TopicPartition]:
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    return consumer, TopicPartition(resolve(RULES, settings).name, 0)


async def latest_ruleset(
    settings: Settings, known_topics: Collection[str]
) -> tuple[RuleSet, str] | None:
    """The rule set deployed last, read to the end of the topic; None if none was pushed."""
    consumer, partition = _consumer(settings)
    await consumer.start()
    try:
        consumer.assign([partition])
        end = (await consumer.end_offsets([partition]))[partition]
        await consumer.seek_to_beginning(partition)
        latest: tuple[RuleSet, str] | None = None
        while await consumer.position(partition) < end:
            for message in (await consumer.getmany(partition, timeout_ms=1000)).get(partition, []):
                latest = _decoded(message.value, known_topics) or latest
        return latest
    finally:
        await consumer.stop()


def _decoded(value: bytes | None, known_topics: Collection[str]) -> tuple[RuleSet, str] | None:
    try:
        return decode_ruleset(value or b"", known_topics)
    except (DefinitionError, ValueError, KeyError) as exc:
        log.error("ignoring a deployed rule set that does not validate: %s", exc)
        return None


async def follow_rules(
    settings: Settings, known_topics: Collection[str], apply: Callable[[RuleSet, str], Any]
) -> None:
    """Apply every rule set pushed from now on (the latest one is applied first)."""
    consumer, partition = _consumer(settings)
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        while True:
            batch = await consumer.getmany(partition, timeout_ms=1000)
            decoded = [_decoded(m.value, known_topics) for m in batch.get(partition, [])]
            if latest := next((d for d in reversed(decoded) if d is not None), None):
                result = apply(*latest)
                if asyncio.iscoroutine(result):
                    await result
    finally:
        await consumer.stop()
