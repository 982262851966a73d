"""A Kafka client keeps the leaders of the topics it already knew when it meets a new one.

An aiokafka client asks the broker for the metadata of every topic while the set of
topics it tracks is empty, and of the tracked topics only once it is not. The first
send to a topic missing from its metadata adds that one topic to the empty set, so the
next metadata response covers that topic alone and replaces the client's view of the
cluster: every partition it knew from the all-topics answer loses its leader. A record
already queued for such a partition is never sent, and its future never resolves,
unless a later send to the same topic puts the topic back in the set.

In a worker this stopped the notifier after a live rule push declared a new route
topic: the batch sent an alert to ``news.alerts`` (known from the all-topics metadata)
and to the new route, and waited forever for the first. With a 5 ms producer linger it
happened on most pushes; without linger only when the record had to wait for an earlier
request. ``tests/integration/test_producer_metadata.py`` reproduces it with a plain
aiokafka producer.

:func:`install` makes the first added topic keep the others: the tracked set becomes
the topics the client knows plus the new one, so its next metadata request names them
all (the new topic by name, which also lets the broker create it when auto-creation is
on).
"""

from __future__ import annotations

from typing import Any

from aiokafka.client import AIOKafkaClient

_add_topic = AIOKafkaClient.add_topic


def _add_topic_keeping_known(self: Any, topic: str) -> Any:
    if not self._topics:  # tracking every topic: name the ones known, not only the new one
        self._topics = set(self.cluster.topics())
    return _add_topic(self, topic)


def install() -> None:
    """Patch aiokafka's client (idempotent)."""
    if not callable(getattr(AIOKafkaClient, "add_topic", None)):
        raise RuntimeError("unsupported aiokafka version: AIOKafkaClient.add_topic is missing")
    setattr(AIOKafkaClient, "add_topic", _add_topic_keeping_known)  # noqa: B010 - a patch
