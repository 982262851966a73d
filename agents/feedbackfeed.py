"""Analysts' verdicts as metrics: every worker follows the compacted ``news.feedback``
topic (written by the desk) and exports each judged rule's precision.

The same gauges come from every worker: aggregate them with ``max by (watchlist, rule)``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from agents.feeds import follow
from agents.metrics import Metrics
from agents.settings import Settings
from agents.topics import FEEDBACK, resolve
from monitor.alerting.feedback import judgements

log = logging.getLogger(__name__)


async def follow_feedback(settings: Settings, metrics: Metrics) -> None:
    """Keep the precision gauges up to date with the topic, forever."""
    latest: dict[bytes, dict[str, Any]] = {}

    def handle(records: Sequence[Any]) -> None:
        for record in records:
            if record.value is None:  # a tombstone: that verdict was withdrawn
                latest.pop(record.key, None)
                continue
            try:
                found = json.loads(record.value)
                rule = found["rule"]
                if not (isinstance(rule["watchlist"], str) and isinstance(rule["id"], str)):
                    raise TypeError("rule watchlist and id must be strings")
                if not isinstance(found["verdict"], str):
                    raise TypeError("verdict must be a string")
            except (ValueError, KeyError, TypeError) as exc:
                log.error("ignoring an unreadable feedback record: %s", exc)
                continue
            latest[record.key] = found
        metrics.rule_precision.clear()
        metrics.rule_verdicts.clear()
        for judged in judgements(latest.values()):
            labels = {"watchlist": judged.watchlist, "rule": judged.rule}
            metrics.rule_precision.labels(**labels).set(judged.precision)
            metrics.rule_verdicts.labels(**labels, verdict="relevant").set(judged.relevant)
            metrics.rule_verdicts.labels(**labels, verdict="not_relevant").set(judged.not_relevant)

    await follow(settings, resolve(FEEDBACK, settings).name, handle)
