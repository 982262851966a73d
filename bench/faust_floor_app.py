"""The smallest Faust app with a newsmon worker's shape, doing no work of its own.

Two agents, as in the worker: the first reads articles in batches and sends each record
on to a "tagged" and a "candidates" topic, the second reads the candidates in batches and
sends each to two alert topics (``news.alerts`` and a route). Each batch waits for the
broker's acknowledgements before the next is taken, as the worker's do. Plain Faust, with
the worker's batch, linger and acks settings and none of newsmon's code or patches: what
it costs per record is the floor that Faust and aiokafka put under any worker of this
shape (``bench/faust_floor.py``).

Run as ``python bench/faust_floor_app.py worker``; configured by ``FLOOR_*`` variables.
"""

from __future__ import annotations

import os
from typing import Any

import faust

PARTITIONS = 6
_PREFIX = os.environ.get("FLOOR_PREFIX", "floor.")
_BATCH = int(os.environ.get("FLOOR_BATCH_SIZE", "32"))
_WINDOW = float(os.environ.get("FLOOR_BATCH_WINDOW", "0.01"))

app = faust.App(
    f"{_PREFIX}app",
    broker=f"kafka://{os.environ.get('FLOOR_BOOTSTRAP', '127.0.0.1:9092')}",
    datadir=os.environ["FLOOR_DATADIR"],
    web_enabled=False,
    key_serializer="raw",
    value_serializer="raw",
    topic_partitions=PARTITIONS,
    producer_acks=-1,
    producer_linger=float(os.environ.get("FLOOR_LINGER", "0.005")),
    consumer_auto_offset_reset="earliest",
)


def _topic(name: str) -> Any:
    return app.topic(_PREFIX + name, partitions=PARTITIONS)


articles, tagged, candidates = _topic("articles"), _topic("tagged"), _topic("candidates")
alerts, route = _topic("alerts"), _topic("route")


async def _forward(stream: Any, *sinks: Any) -> None:
    """Send each record of each batch to every sink; wait for the batch's acks."""
    async for events in stream.take_events(_BATCH, _WINDOW):
        sent = []
        for event in events:
            key, value = event.message.key, event.message.value
            for sink in sinks:
                sent.append(await sink.send(key=key, value=value))
        for future in sent:
            await future


@app.agent(articles)
async def analyse(stream: Any) -> None:
    await _forward(stream, tagged, candidates)


@app.agent(candidates)
async def notify(stream: Any) -> None:
    await _forward(stream, alerts, route)


if __name__ == "__main__":
    app.main()
