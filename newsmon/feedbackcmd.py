"""``newsmon feedback export``: the analysts' topic verdicts as labelled examples."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition

from agents.internals import refresh_metadata
from agents.kafka import read_to_end, reader
from agents.settings import Settings
from agents.topics import ALERTS, FEEDBACK, resolve
from monitor.alerting.feedback import topic_readings


def add_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    feedback = commands.add_parser("feedback", help="analysts' verdicts from the desk")
    sub = feedback.add_subparsers(dest="feedback_command", required=True)
    export = sub.add_parser(
        "export", help="topic verdicts as readings of the labelled data (JSON lines)"
    )
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")


def run_feedback(args: argparse.Namespace, settings: Settings) -> int:
    latest, alerts = asyncio.run(_read(settings))
    readings, orphans = topic_readings(latest, alerts)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in readings)
    if args.out:
        args.out.write_text(lines, encoding="utf-8")
    else:
        sys.stdout.write(lines)
    print(
        f"{len(readings)} topic readings from {len(latest)} verdicts"
        + (f"; {orphans} on alerts no longer on the topic" if orphans else ""),
        file=sys.stderr,
    )
    return 0


async def _read(settings: Settings) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Each (alert, user)'s latest verdict, and the alerts still on news.alerts by id."""
    verdicts: dict[bytes, dict[str, Any]] = {}
    alerts: dict[str, dict[str, Any]] = {}
    feedback, alerts_topic = resolve(FEEDBACK, settings).name, resolve(ALERTS, settings).name
    consumer = reader(settings)
    await consumer.start()
    try:
        await refresh_metadata(consumer)
        partitions = [
            TopicPartition(topic, p)
            for topic in (feedback, alerts_topic)
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        async for batch in read_to_end(consumer, partitions):
            for record in batch:
                if record.topic == feedback:
                    if record.value is None:
                        verdicts.pop(record.key, None)
                    else:
                        verdicts[record.key] = json.loads(record.value)
                else:
                    alert = json.loads(record.value)
                    alerts[alert["alert_id"]] = alert
    finally:
        await consumer.stop()
    return list(verdicts.values()), alerts
