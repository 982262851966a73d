"""The dead-letter edge: rejected messages keep their bytes and where they came from.

Every message that cannot be processed goes to ``news.deadletter`` with its original
key and value and headers naming the reason (a closed set, see monitor.errors), a short
detail, and the source topic, partition and offset. It is counted per reason and stage.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from agents.metrics import Metrics

log = logging.getLogger(__name__)
_DETAIL_CHARS = 300


class DeadLetter:
    """Sends rejected messages to the dead-letter topic and counts them."""

    def __init__(self, topic: Any, metrics: Metrics) -> None:
        self._topic = topic
        self._metrics = metrics

    async def send(self, message: Any, reason: str, detail: str, stage: str) -> None:
        """Dead-letter one consumed Faust message; waits until the broker has it."""
        headers = [
            ("newsmon-reason", reason.encode()),
            ("newsmon-detail", detail[:_DETAIL_CHARS].encode("utf-8", "replace")),
            ("newsmon-stage", stage.encode()),
            ("newsmon-source-topic", str(message.topic).encode()),
            ("newsmon-source-partition", str(message.partition).encode()),
            ("newsmon-source-offset", str(message.offset).encode()),
            ("newsmon-dead-at", f"{time.time():.3f}".encode()),
        ]
        future = await self._topic.send(key=message.key, value=message.value, headers=headers)
        await future
        self._metrics.deadlettered.labels(reason=reason, stage=stage).inc()
        log.info(
            "dead-lettered %s[%s]@%s: %s", message.topic, message.partition, message.offset, reason
        )
