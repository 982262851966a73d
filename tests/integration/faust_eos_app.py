"""The smallest Faust app under ``processing_guarantee="exactly_once"``: one agent that
forwards each record of a source topic to a sink topic the app does not consume.

Run by tests/integration/test_faust_exactly_once.py as ``python faust_eos_app.py worker``;
everything it needs comes from ``EOS_*`` environment variables. Plain Faust: none of
newsmon's code or patches.
"""

from __future__ import annotations

import os
from typing import Any

import faust

app = faust.App(
    os.environ["EOS_APP_ID"],
    broker=f"kafka://{os.environ['EOS_BOOTSTRAP']}",
    processing_guarantee="exactly_once",
    broker_commit_interval=600.0,  # no transaction commits while the test looks
    datadir=os.environ["EOS_DATADIR"],
    web_port=int(os.environ["EOS_WEB_PORT"]),
    web_host="127.0.0.1",
    web_bind="127.0.0.1",
    key_serializer="raw",
    value_serializer="raw",
    topic_partitions=1,
    consumer_auto_offset_reset="earliest",
)
source = app.topic(os.environ["EOS_SOURCE"], partitions=1)
sink = app.topic(os.environ["EOS_SINK"], partitions=1)


@app.agent(source)
async def forward(stream: Any) -> None:
    async for event in stream.events():
        await sink.send(key=event.message.key, value=event.message.value)


if __name__ == "__main__":
    app.main()
