"""Live rule deployment over the compacted ``newsmon.rules`` topic.

``newsmon rules push`` publishes a validated rule set under one key, so compaction keeps
the latest. Every worker follows the topic (see :mod:`agents.feeds`) and swaps the rule
set in place: no restart, no rebalance.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from agents.feeds import follow, read_all
from agents.kafka import idempotent_producer
from agents.settings import Settings
from agents.topics import RULES, resolve
from monitor.errors import DefinitionError
from monitor.rules.files import RuleSet, parse_rules

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
    producer = idempotent_producer(settings)
    try:
        await producer.start()
        await producer.send_and_wait(
            resolve(RULES, settings).name, encode_ruleset(ruleset, origin, pushed_at), key=KEY
        )
    finally:
        await producer.stop()


def _latest(records: Sequence[Any], known_topics: Collection[str]) -> tuple[RuleSet, str] | None:
    for record in reversed(records):
        try:
            return decode_ruleset(record.value or b"", known_topics)
        except (DefinitionError, ValueError, KeyError) as exc:
            log.error("ignoring a deployed rule set that does not validate: %s", exc)
    return None


async def latest_ruleset(
    settings: Settings, known_topics: Collection[str]
) -> tuple[RuleSet, str] | None:
    """The rule set deployed last; None if none was pushed."""
    return _latest(await read_all(settings, resolve(RULES, settings).name), known_topics)


async def follow_rules(
    settings: Settings,
    known_topics: Collection[str],
    apply: Callable[[RuleSet, str], Awaitable[None]],
) -> None:
    """Apply every rule set pushed from now on (the latest one is applied first)."""

    async def handle(records: Sequence[Any]) -> None:
        if latest := _latest(records, known_topics):
            await apply(*latest)

    await follow(settings, resolve(RULES, settings).name, handle)
