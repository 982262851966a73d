"""Fakes for our own ports: a Faust-like event and a topic that records what it is sent."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FakeMessage:
    value: bytes
    key: bytes | None = None
    topic: str = "news.articles"
    partition: int = 0
    offset: int = 0
    timestamp: float = 1_750_000_000.0
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class FakeEvent:
    message: FakeMessage


@dataclass
class Sent:
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


class FakeTopic:
    """Records every send; ``send`` returns a future that is already done, as Faust's does."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[Sent] = []

    async def send(
        self, *, key: bytes | None = None, value: bytes = b"", headers: Any = None
    ) -> asyncio.Future[None]:
        self.sent.append(Sent(key, value, dict(headers or [])))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


class FakeSinks:
    """The notifier's port: alert topics that record sends, a flush that counts."""

    def __init__(self) -> None:
        self.alerts = FakeTopic("news.alerts")
        self.routes: dict[str, FakeTopic] = {}
        self.flushes = 0
        self.read_backs = 0

    def route(self, name: str) -> FakeTopic:
        return self.routes.setdefault(name, FakeTopic(name))

    async def send_many(
        self, alerts: list[tuple[dict[str, Any], str]], only: set[str] | None = None
    ) -> None:
        for record, route in alerts:
            value = json.dumps(record).encode()
            for topic in (self.alerts, self.route(route)):
                if only is None or topic.name in only:
                    await topic.send(key=record["alert_id"].encode(), value=value)

    async def flush(self) -> None:
        self.flushes += 1

    async def missing(self, alerts: dict[str, str], since: float) -> dict[str, set[str]]:
        self.read_backs += 1
        return {
            alert_id: {
                topic.name
                for topic in (self.alerts, self.route(route))
                if not any(s.key == alert_id.encode() for s in topic.sent)
            }
            for alert_id, route in alerts.items()
        }


class ChangelogTable(dict[str, Any]):
    """A table that keeps its changelog: every write and delete, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.changelog: list[tuple[str, Any]] = []

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.changelog.append((key, value))

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.changelog.append((key, None))


def events(*values: bytes, topic: str = "news.articles") -> list[FakeEvent]:
    return [FakeEvent(FakeMessage(v, topic=topic, offset=i)) for i, v in enumerate(values)]
