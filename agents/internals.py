"""Every reach into the private parts of faust-streaming and aiokafka, in one module.

newsmon's delivery guarantees need a few things these libraries do not offer publicly.
Each is written against the exact versions in :data:`SUPPORTED` (the pins of
``pyproject.toml``); :func:`check_versions` refuses any other with a message that says
what to install, so an upgrade is a deliberate act: re-read each item below against the
new source, run ``make chaos``, then move the pins.

Patches (applied by :func:`install` and :func:`install_client_fix`, both idempotent):

- **Commits only past finished work.** Faust's ``Consumer._new_offset`` and
  ``Consumer._add_gap`` are replaced; the rule they follow is
  :func:`agents.offsets.next_commit` (why: that module's docstring).
- **Uncommitted partitions start again from their beginning after a rebalance.** Faust
  drops records it fetched while a rebalance or table recovery is under way (a
  generation change cuts ``getmany`` short; partitions paused for recovery are skipped)
  and then seeks every partition back to its committed offset, which re-fetches them.
  A partition without a commit is not moved (aiokafka's ``seek_to_committed`` skips it),
  so records dropped before a partition's first commit were never fetched again: the
  partition stalled, or, with later records processed, a commit over them lost them (a
  broker kill before the group's first commits, in the cluster test).
  ``Consumer.perform_seek`` is wrapped to seek those partitions of the agents' topics to
  their beginning (:func:`_perform_seek`).
- **Idempotent produces.** Faust's aiokafka transport gets a producer whose private
  ``_settings_extra`` turns idempotence on (Faust does so only with ``exactly_once``; a
  produce retried across a broker restart otherwise doubled an alert).
- **A livelock check that does not crash on a partition awaiting its reset.** Faust's
  livelock detector (every 2.5 commit intervals) reads each assigned partition's
  ``position`` from aiokafka's fetch state once a high-water mark is known; aiokafka
  asserts that the position is set, and it is not between a seek to the beginning (ours
  above, or aiokafka's own reset) and the fetcher's reset of it. While a broker is down
  that window lasts, and the failed assertion crashed the worker (once in the cluster
  test). ``AIOKafkaConsumerThread.verify_event_path`` is wrapped to skip such a partition:
  there is no position to judge progress by yet (:func:`_verify_event_path`).
- **Metadata that keeps its topics.** aiokafka's ``AIOKafkaClient.add_topic`` keeps the
  topics the client knows when it meets a new one. An aiokafka client asks for every
  topic's metadata while its tracked set is empty; the first send to an unknown topic
  narrows the set to that one topic, the next metadata answer replaces the client's view
  of the cluster, and a record already queued for a partition of another topic is never
  sent (seen as a notifier hang after a live rule push declared a new route topic;
  ``tests/integration/test_producer_metadata.py`` reproduces it with a plain producer).

Reads and writes of private state (each used by one caller, named there):

- :class:`ConsumerBooks`: Faust consumer's acknowledged, committed and read offsets, its
  unacknowledged messages and its log gaps (offset rules, the stall watch, liveness), and
  the records waiting in the streams' buffers (the conductor's partition index and each
  channel's queue: the stall watch).
- :func:`producer_buffer_idle`: whether Faust's producer-buffer task waits for work
  (the notifier's flush barrier).
- :func:`act_for`: Faust's current event, which decides a table write's changelog
  partition (the notifier's batch writes).
- :func:`producer_state` and :func:`consumer_state`: what the producer holds back (nodes
  in flight, muted partitions, queued batches, the metadata task) and each assigned
  partition's fetch state with the consumer thread's tasks (the stall report).
- :func:`refresh_metadata`: aiokafka's forced metadata refresh, for the partitions of a
  topic a consumer does not subscribe to (reading topics to their end), and for an admin
  client whose metadata still names a broker just killed (creating topics).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import weakref
from collections.abc import Mapping, MutableSequence
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient

if TYPE_CHECKING:  # Faust loads only where a worker runs: the CLI's clients need aiokafka
    from faust.types import TP

#: The versions every reach below was written and tested against (pyproject's exact pins).
SUPPORTED = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}

_stock_add_topic = AIOKafkaClient.add_topic
_stock: dict[str, Any] = {}  # Faust's own methods that a patch calls


class UnsupportedVersion(RuntimeError):
    """A faust-streaming or aiokafka other than the pinned one is installed."""


def check_versions(installed: Mapping[str, str] | None = None) -> None:
    """Refuse to patch libraries whose versions this module was not written for."""
    found = installed if installed is not None else _installed()
    wrong = {
        name: found.get(name) for name, version in SUPPORTED.items() if found.get(name) != version
    }
    if wrong:
        have = ", ".join(f"{name} {version or '(missing)'}" for name, version in wrong.items())
        want = " and ".join(f"{name}=={version}" for name, version in SUPPORTED.items())
        raise UnsupportedVersion(
            f"newsmon's delivery code is written for {want}, found {have}: install with "
            "`pip install -c constraints.txt .` (make install does)"
        )


def _installed() -> dict[str, str]:
    versions = {}
    for name in SUPPORTED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def install() -> None:
    """Every patch, for a worker: safe commits, livelock check, idempotent produces, metadata."""
    check_versions()
    from faust.transport.consumer import Consumer
    from faust.transport.drivers import aiokafka as faust_aiokafka

    for name in ("_new_offset", "_add_gap", "perform_seek"):
        if not callable(getattr(Consumer, name, None)):
            raise UnsupportedVersion(f"faust-streaming: Consumer.{name} is missing")
    setattr(Consumer, "_new_offset", _new_offset)  # noqa: B010 - a patch, not an assignment
    setattr(Consumer, "_add_gap", _add_gap)  # noqa: B010
    if Consumer.perform_seek is not _perform_seek:
        _stock["perform_seek"] = Consumer.perform_seek
        setattr(Consumer, "perform_seek", _perform_seek)  # noqa: B010
    thread = faust_aiokafka.AIOKafkaConsumerThread
    if not callable(getattr(thread, "verify_event_path", None)):
        raise UnsupportedVersion("faust-streaming: AIOKafkaConsumerThread.verify_event_path")
    if thread.verify_event_path is not _verify_event_path:
        _stock["verify_event_path"] = thread.verify_event_path
        setattr(thread, "verify_event_path", _verify_event_path)  # noqa: B010
    if not issubclass(faust_aiokafka.Transport.Producer, _IdempotentProducerMixin):
        base = faust_aiokafka.Transport.Producer
        faust_aiokafka.Transport.Producer = type(
            "IdempotentProducer", (_IdempotentProducerMixin, base), {}
        )
    install_client_fix()


def install_client_fix() -> None:
    """The metadata patch alone, for newsmon's own aiokafka clients (no Faust needed)."""
    check_versions()
    if not callable(getattr(AIOKafkaClient, "add_topic", None)):
        raise UnsupportedVersion("aiokafka: AIOKafkaClient.add_topic is missing")
    setattr(AIOKafkaClient, "add_topic", _add_topic_keeping_known)  # noqa: B010 - a patch


def _add_topic_keeping_known(self: Any, topic: str) -> Any:
    if not self._topics:  # tracking every topic: name the ones known, not only the new one
        self._topics = set(self.cluster.topics())
    return _stock_add_topic(self, topic)


class _IdempotentProducerMixin:
    def _settings_extra(self) -> dict[str, Any]:
        return {"acks": "all", "enable_idempotence": True}


def _new_offset(self: Any, tp: TP) -> int | None:
    from agents.offsets import next_commit  # offsets builds clients with agents.kafka: no cycle

    acked: MutableSequence[int] = self._acked[tp]
    offset = next_commit(self._committed_offset[tp], acked, self._gap[tp])
    if offset is not None:
        acked[:] = sorted(o for o in acked if o >= offset)
        index: set[int] = self._acked_index[tp]
        index.difference_update([o for o in index if o < offset])
        self._gap[tp].chop(0, offset)
    return offset


async def _perform_seek(self: Any) -> None:
    """Faust's seek to the committed offsets, then the partitions of the agents' topics
    that have no commit to their beginning (changelogs are left to table recovery)."""
    await _stock["perform_seek"](self)
    uncommitted = [
        tp
        for tp in self.assignment()
        if self.app.topics.acks_enabled_for(tp.topic) and self._committed_offset.get(tp) is None
    ]
    if uncommitted:
        # Faust's own seek_to_beginning is abstract on the consumer; its thread has one,
        # which hands aiokafka the partitions as they are (aiokafka's type, not Faust's).
        await self._thread.seek_to_beginning(
            *(TopicPartition(tp.topic, tp.partition) for tp in uncommitted)
        )
        for tp in uncommitted:
            self._read_offset[tp] = None


def _verify_event_path(self: Any, now: float, tp: TP) -> None:
    """Faust's livelock check of one partition, unless the partition awaits its reset."""
    subscription = self._ensure_consumer()._fetcher._subscriptions.subscription
    assignment = subscription.assignment if subscription is not None else None
    if assignment is not None:
        state = assignment.state_value(TopicPartition(tp.topic, tp.partition))
        if state is not None and not state.has_valid_position:
            return  # aiokafka's position would assert; nothing fetched to judge yet
    _stock["verify_event_path"](self, now, tp)


async def _add_gap(self: Any, tp: TP, offset_from: int, offset_to: int) -> None:
    """Ignore Faust's guess: a jump in the offsets it delivered is not proof of a gap.

    Gaps are only taken from the broker (:func:`agents.offsets.release`).
    """


class ConsumerBooks:
    """Faust consumer's offset bookkeeping, as the offset rules and liveness read it."""

    def __init__(self, consumer: Any) -> None:
        self._consumer = consumer

    @property
    def acked(self) -> Mapping[TP, MutableSequence[int]]:
        """Acknowledged offsets not yet committed, per partition."""
        acked: Mapping[TP, MutableSequence[int]] = self._consumer._acked
        return acked

    @property
    def committed(self) -> Mapping[TP, int | None]:
        """The committed offset (the next to read after a restart), per partition."""
        committed: Mapping[TP, int | None] = self._consumer._committed_offset
        return committed

    @property
    def read(self) -> Mapping[TP, int | None]:
        """The last offset read, per partition."""
        read: Mapping[TP, int | None] = self._consumer._read_offset
        return read

    def in_flight_below(self, tp: TP, offset: int | None) -> bool:
        """Whether a message of ``tp`` before ``offset`` (None: any) is delivered but not
        acknowledged."""
        return any(
            m.tp == tp and (offset is None or m.offset < offset) and not m.acked
            for m in list(self._consumer._unacked_messages)
        )

    def queued(self, tp: TP) -> bool:
        """Whether a record of ``tp`` waits in a stream's buffer, or a buffer that ``tp``
        feeds is full (the consumer may be waiting to put one there).

        Faust tracks a message as in flight only when a stream takes it from its buffer:
        records delivered by the consumer but not yet taken are neither acknowledged nor
        in flight, and are not lost either.
        """
        for channel in list(self._consumer.app.topics._tp_index.get(tp, ())):
            queue = getattr(channel, "_queue", None)
            if queue is None:
                continue
            if queue.full():
                return True
            if any(
                getattr(event, "message", None) is not None and event.message.tp == tp
                for event in list(queue._queue)
            ):
                return True
        return False

    def add_gap(self, tp: TP, start: int, end: int) -> None:
        """Record offsets ``start``..``end - 1`` as holding no record (commits pass them)."""
        self._consumer._gap[tp].addi(start, end)


def producer_buffer_idle(buffer: Any) -> bool:
    """Whether the task draining Faust's producer buffer waits for more (nothing in hand)."""
    return bool(buffer.pending._getters)


def act_for(event: Any) -> None:
    """Make ``event`` Faust's current event: table writes go to its changelog partition."""
    from faust.streams import _current_event

    _current_event.set(weakref.ref(event))


async def refresh_metadata(client: AIOKafkaConsumer | AIOKafkaAdminClient) -> None:
    """Fetch fresh cluster metadata: a consumer's ``partitions_for_topic`` then sees any
    topic, and an admin client stops choosing brokers that have left the cluster."""
    await client._client.force_metadata_update()


def producer_state(producer: Any) -> str:
    """What Faust's Kafka producer holds back, for the log of a worker stopping as stalled:
    nodes with a produce request in flight, partitions muted meanwhile, queued batches
    per partition, and whether the client's metadata task still runs."""
    kafka = getattr(producer, "_producer", None)
    if kafka is None:
        return "no Kafka producer started"
    sender, client = kafka._sender, kafka.client
    queued = {str(tp): len(q) for tp, q in kafka._message_accumulator._batches.items() if q}
    sync = client._sync_task
    return (
        f"in flight to nodes {sorted(sender._in_flight)}; muted "
        f"{sorted(str(tp) for tp in sender._muted_partitions)}; queued batches {queued}; "
        f"metadata update awaited: {client._md_update_fut is not None}; metadata task "
        f"{'stopped: ' + repr(sync.exception()) if sync and sync.done() else 'running'}"
    )


def consumer_state(consumer: Any) -> str:
    """Faust's Kafka consumer as a worker stopping as stalled logs it: per assigned
    partition its fetch status and position, and where each task of the consumer's
    own thread waits."""
    from agents.liveness import task_stacks

    thread: Any = getattr(consumer, "_thread", None)
    kafka = getattr(thread, "_consumer", None)
    if kafka is None:
        return "no Kafka consumer started"
    assignment = kafka._subscription.subscription
    states = []
    if assignment is not None and assignment.assignment is not None:
        for tp in sorted(assignment.assignment.tps):
            state = assignment.assignment.state_value(tp)
            states.append(
                f"{tp.topic}[{tp.partition}] {state._status.name} at {state._position}"
                f"{' paused' if state.paused else ''}"
            )
    try:  # another thread's loop: its task set may change while read
        tasks = task_stacks(asyncio.all_tasks(thread.thread_loop))
    except RuntimeError as exc:
        tasks = f"(not read: {exc})"
    return "; ".join(states) + "\nconsumer thread tasks:\n" + tasks
