"""A worker that stops taking the records it was assigned stops itself, to be restarted.

After some rebalance sequences (workers killed during start-up, their successors
restoring tables from the changelog) Faust's consumer can end up fetching nothing while
its partitions hold unprocessed records, with the worker otherwise healthy. A crashed
worker is restarted by its supervisor and rejoins cleanly; a silent one is not. So a
worker with pending records whose read and committed offsets have not moved for
``NEWSMON_STALL_TIMEOUT`` seconds (outside a rebalance) logs why and exits non-zero.

A rebalance can hang the same way: Faust's table recovery waiting for changelog records
that never arrive ("No event received for active tp ... since recovery start"), the
worker consuming nothing meanwhile. A rebalance or recovery that lasts
``NEWSMON_STALL_TIMEOUT`` seconds (the story table's changelog holds one record per story
of the dedupe window and is read in seconds) is a stall too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from faust.types import TP

Offsets = Mapping[TP, int | None]


class Progress:
    """Tracks whether the worker's offsets move while work is pending."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._seen: tuple[tuple[TP, int | None], ...] | None = None
        self._since = 0.0

    def stalled(
        self,
        now: float,
        partitions: Iterable[TP],
        read: Offsets,
        committed: Offsets,
        ends: Mapping[TP, int],
    ) -> bool:
        """True when records are pending and no offset moved for ``timeout`` seconds."""
        tps = sorted(partitions)
        pending = any(ends.get(tp, 0) > (committed.get(tp) or 0) for tp in tps)
        seen = tuple((tp, read.get(tp)) for tp in tps) + tuple(
            (tp, committed.get(tp)) for tp in tps
        )
        if not pending or seen != self._seen:
            self._seen, self._since = seen, now
            return False
        return now - self._since >= self.timeout

    def describe(self, committed: Offsets, ends: Mapping[TP, int]) -> str:
        behind = {
            f"{tp.topic}[{tp.partition}]": ends[tp] - (committed.get(tp) or 0)
            for tp in sorted(ends)
            if ends[tp] > (committed.get(tp) or 0)
        }
        return f"no progress for {self.timeout:.0f} s with records pending: {behind}"


class Rebalance:
    """Tracks how long the worker has been rebalancing or recovering without a break."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._since: float | None = None

    def stuck(self, now: float, busy: bool) -> bool:
        """True once ``busy`` has held for ``timeout`` seconds in a row."""
        if not busy:
            self._since = None
            return False
        if self._since is None:
            self._since = now
        return now - self._since >= self.timeout

    def describe(self) -> str:
        return f"rebalance or table recovery unfinished after {self.timeout:.0f} s"


@dataclass
class Serving:
    """What ``/health`` answers: whether the worker is serving, and what it last saw.

    A worker serves when it is not rebalancing or recovering its tables and, if it owns
    partitions, Kafka's last answer is at most ``stale_after`` seconds old and its last
    question did not fail. A worker that owns no partitions (more workers than
    partitions) is a healthy standby.
    """

    stale_after: float
    kafka_ok_at: float | None = None
    kafka_error: str = ""
    batch_at: float | None = None

    def kafka_answered(self, now: float) -> None:
        self.kafka_ok_at, self.kafka_error = now, ""

    def kafka_failed(self, error: BaseException) -> None:
        self.kafka_error = f"{type(error).__name__}: {error}"[:300]

    def report(
        self, now: float, *, rebalancing: bool, partitions: int
    ) -> tuple[bool, dict[str, Any]]:
        """(serving, the facts behind it) for the health page."""
        kafka_age = None if self.kafka_ok_at is None else round(now - self.kafka_ok_at, 1)
        facts: dict[str, Any] = {
            "partitions": partitions,
            "rebalancing": rebalancing,
            "kafka": {"last_answer_s_ago": kafka_age, "error": self.kafka_error or None},
            "last_batch_s_ago": None if self.batch_at is None else round(now - self.batch_at, 1),
        }
        if rebalancing:
            return False, {**facts, "status": "rebalancing"}
        # Not asked yet: the group coordinator has just assigned the partitions.
        stale = kafka_age is not None and kafka_age > self.stale_after
        if partitions and (self.kafka_error or stale):
            return False, {**facts, "status": "kafka unreachable"}
        return True, {**facts, "status": "ok" if partitions else "standby"}


def task_stacks(tasks: Iterable[asyncio.Task[Any]]) -> str:
    """Where each asyncio task waits, innermost await last: logged when a worker stops
    itself as stalled, so that the log names the await that held the work."""
    lines = []
    for task in sorted(tasks, key=lambda t: t.get_name()):
        lines.append(f"  {task.get_name()}: {' -> '.join(_awaits(task.get_coro()))}")
    return "\n".join(lines)


def _awaits(coro: Any, depth: int = 40) -> list[str]:
    """The chain of coroutines (and the future at its end) that ``coro`` waits on."""
    chain: list[str] = []
    while coro is not None and len(chain) < depth:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is None:
            chain.append(type(coro).__name__)
            break
        name = frame.f_code.co_filename.rpartition("/")[2]
        chain.append(f"{frame.f_code.co_name} ({name}:{frame.f_lineno})")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return chain
