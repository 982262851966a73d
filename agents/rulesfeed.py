"""Live rule deployment over the compacted ``newsmon.rules`` topic, one key per watchlist.

``newsmon rules push FILE`` publishes each watchlist of the file under its own key,
``watchlist/<name>`` (the record carries the file's text and names the watchlist it
deploys), so two analysts who push different watchlists never replace each other's, and
compaction keeps the latest of each. ``newsmon rules remove NAME`` publishes a tombstone.
Every worker follows the topic (see :mod:`agents.feeds`) and applies the union of the
watchlists deployed, in place: no restart, no rebalance.

A rule set pushed before watchlists had keys of their own sits under the single key
``ruleset``. It still counts (each of its watchlists that has no key of its own), and the
next push or remove migrates it: its other watchlists are published under their own keys,
then ``ruleset`` gets a tombstone. Nothing deployed is lost.

Rule ids are unique per watchlist: two watchlists may both hold a rule ``urgent``, and
the workers keep their candidates, stories and alerts apart by ``<watchlist>/<rule id>``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agents.feeds import follow, read_all
from agents.kafka import idempotent_producer
from agents.settings import Settings
from agents.topics import RULES, resolve
from monitor.errors import DefinitionError
from monitor.rules.files import RuleSet, parse_rules

log = logging.getLogger(__name__)
LEGACY_KEY = b"ruleset"
_PREFIX = b"watchlist/"


def key_of(watchlist: str) -> bytes:
    return _PREFIX + watchlist.encode()


def encode_watchlist(
    ruleset: RuleSet, watchlist: str | None, origin: str, pushed_at: datetime
) -> bytes:
    """The message that deploys one watchlist of a rule file (every one, for None)."""
    deployed = ruleset if watchlist is None else ruleset.only({watchlist})
    record = {
        "watchlist": watchlist,
        "version": deployed.version,
        "origin": origin,
        "pushed_at": pushed_at.isoformat(),
        "rules": len(deployed.rules),
        "source": ruleset.source,
    }
    return json.dumps(record, ensure_ascii=False).encode()


def decode_watchlist(value: bytes, known_topics: Collection[str]) -> tuple[RuleSet, str]:
    """What a deployment message deploys (re-validated) and where it came from."""
    record = json.loads(value)
    origin = f"{record.get('origin', '?')}@{record.get('version', '?')}"
    ruleset = parse_rules(record["source"], origin, known_topics)
    watchlist = record.get("watchlist")
    return (ruleset if watchlist is None else ruleset.only({watchlist})), origin


@dataclass
class Deployed:
    """The deployment records read so far: the latest per key, each decoded."""

    known_topics: Collection[str]
    parts: dict[bytes, tuple[RuleSet, str]] = field(default_factory=dict)

    def take(self, records: Iterable[Any]) -> None:
        for record in records:
            if record.key is None:
                continue
            if record.value is None:  # a tombstone: the watchlist was removed
                self.parts.pop(record.key, None)
                continue
            try:
                self.parts[record.key] = decode_watchlist(record.value, self.known_topics)
            except (DefinitionError, ValueError, KeyError) as exc:
                log.error("ignoring a deployed rule set that does not validate: %s", exc)

    def by_watchlist(self) -> dict[str, tuple[RuleSet, str]]:
        """Each deployed watchlist's rules and origin; own keys win over the legacy one."""
        found: dict[str, tuple[RuleSet, str]] = {}
        legacy = self.parts.get(LEGACY_KEY)
        if legacy is not None:
            for name in legacy[0].watchlists():
                found[name] = (legacy[0].only({name}), legacy[1])
        for key, (ruleset, origin) in self.parts.items():
            if key.startswith(_PREFIX):
                found[key[len(_PREFIX) :].decode()] = (ruleset, origin)
        return found

    def union(self) -> tuple[RuleSet, str] | None:
        """The rule set the workers apply; None when nothing was deployed."""
        parts = self.by_watchlist()
        if not parts:
            return None
        union = RuleSet.union([parts[name][0] for name in sorted(parts)])
        origins = sorted({origin for _, origin in parts.values()})
        return union, ", ".join(origins)


async def deployed(settings: Settings, known_topics: Collection[str]) -> Deployed:
    state = Deployed(known_topics)
    state.take(await read_all(settings, resolve(RULES, settings).name))
    return state


async def latest_ruleset(
    settings: Settings, known_topics: Collection[str]
) -> tuple[RuleSet, str] | None:
    """The union of the deployed watchlists; None if none was pushed."""
    return (await deployed(settings, known_topics)).union()


async def push_ruleset(
    settings: Settings, ruleset: RuleSet, origin: str, pushed_at: datetime, state: Deployed
) -> None:
    """Publish each watchlist of ``ruleset`` under its own key (migrating a legacy rule set
    first) and wait until the broker has them."""
    records = _migration(state, set(ruleset.watchlists()), pushed_at)
    records += [
        (key_of(name), encode_watchlist(ruleset, name, origin, pushed_at))
        for name in ruleset.watchlists()
    ]
    await _publish(settings, records)


async def remove_watchlist(settings: Settings, name: str, state: Deployed) -> bool:
    """Publish a tombstone for ``name`` (migrating a legacy rule set first); False if it
    is not deployed."""
    if name not in state.by_watchlist():
        return False
    records = _migration(state, {name}, datetime.now().astimezone())
    await _publish(settings, [*records, (key_of(name), None)])
    return True


def _migration(
    state: Deployed, replaced: set[str], pushed_at: datetime
) -> list[tuple[bytes, bytes | None]]:
    """Records that move a legacy rule set's other watchlists under their own keys, then
    retire the legacy key."""
    legacy = state.parts.get(LEGACY_KEY)
    if legacy is None:
        return []
    ruleset, origin = legacy
    own = {key[len(_PREFIX) :].decode() for key in state.parts if key.startswith(_PREFIX)}
    records: list[tuple[bytes, bytes | None]] = [
        (key_of(name), encode_watchlist(ruleset, name, origin.split("@")[0], pushed_at))
        for name in ruleset.watchlists()
        if name not in own and name not in replaced
    ]
    return [*records, (LEGACY_KEY, None)]


async def _publish(settings: Settings, records: Sequence[tuple[bytes, bytes | None]]) -> None:
    producer = idempotent_producer(settings)
    try:
        await producer.start()
        topic = resolve(RULES, settings).name
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def follow_rules(
    settings: Settings,
    known_topics: Collection[str],
    apply: Callable[[RuleSet, str], Awaitable[None]],
) -> None:
    """Apply the union of the deployed watchlists whenever a push or remove changes it."""
    state = Deployed(known_topics)

    async def handle(records: Sequence[Any]) -> None:
        state.take(records)
        if union := state.union():
            await apply(*union)
        elif any(r.key is not None for r in records):  # every watchlist removed
            await apply(RuleSet([]), "no watchlist deployed")

    await follow(settings, resolve(RULES, settings).name, handle)
