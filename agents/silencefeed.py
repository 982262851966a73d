"""Silences over the compacted ``newsmon.silences`` topic, keyed by silence id.

``newsmon silence add`` publishes a silence; ``newsmon silence expire`` publishes it
again ending now (compaction keeps the latest per id). Every worker follows the topic.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from agents.feeds import follow, read_all
from agents.kafka import idempotent_producer
from agents.settings import Settings
from agents.topics import SILENCES, resolve
from monitor.alerting.silences import Silence, silence_from_json

log = logging.getLogger(__name__)


def _decode(records: Sequence[Any]) -> dict[str, Silence]:
    found: dict[str, Silence] = {}
    for record in records:
        try:
            silence = silence_from_json(json.loads(record.value))
        except (ValueError, TypeError) as exc:
            log.error("ignoring an unreadable silence: %s", exc)
            continue
        found[silence.id] = silence
    return found


async def publish_silence(settings: Settings, silence: Silence) -> None:
    producer = idempotent_producer(settings)
    try:
        await producer.start()
        await producer.send_and_wait(
            resolve(SILENCES, settings).name,
            json.dumps(silence.to_json()).encode(),
            key=silence.id.encode(),
        )
    finally:
        await producer.stop()


async def all_silences(settings: Settings) -> dict[str, Silence]:
    """Every silence ever published (latest version of each), by id."""
    return _decode(await read_all(settings, resolve(SILENCES, settings).name))


async def follow_silences(settings: Settings, silences: dict[str, Silence]) -> None:
    """Keep ``silences`` up to date with the topic (updated in place)."""

    def handle(records: Sequence[Any]) -> None:
        silences.update(_decode(records))

    await follow(settings, resolve(SILENCES, settings).name, handle)
