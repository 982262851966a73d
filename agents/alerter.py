"""The alerter agent: news.tagged -> rule matches -> news.candidates (keyed by rule id).

Matching runs where the tagged article lands; the once-per-story decision runs in the
notifier, where every candidate of one rule meets in one partition.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from agents.context import Context
from agents.deadletter import DeadLetter
from agents.tagger import INGESTED_AT, wait_all
from monitor.alerts import candidate
from monitor.nlp import Analyzed
from monitor.tagged import TaggedArticle, tagged_from_json

log = logging.getLogger(__name__)


async def process_tagged(
    events: Sequence[Any], ctx: Context, sink: Any, deadletter: DeadLetter
) -> None:
    """Match each tagged article against the rule set; publish one candidate per match."""
    decoded: list[tuple[TaggedArticle, Any]] = []
    for event in events:
        try:
            decoded.append((tagged_from_json(json.loads(event.message.value)), event))
        except (ValueError, KeyError, TypeError) as exc:
            await deadletter.send(event.message, "bad_json", repr(exc), stage="alert")
    if not decoded:
        return
    ruleset = ctx.rules.current
    sent = []
    for (tagged, event), item in zip(decoded, _analyzed(decoded, ctx), strict=True):
        started = time.perf_counter()
        matches = ruleset.match(item, tagged.topics)
        ctx.metrics.match_seconds.observe(time.perf_counter() - started)
        ingested = dict(event.message.headers or ()).get(INGESTED_AT, b"")
        for match in matches:
            found = candidate(match, tagged, ingested_at=float(ingested or 0) or None)
            value = json.dumps(found.to_json(), ensure_ascii=False, separators=(",", ":"))
            with ctx.metrics.stage("produce").time():
                sent.append(await sink.send(key=found.rule_id.encode(), value=value.encode()))
    await wait_all(sent)  # acknowledged offsets only for durable candidates


def _analyzed(decoded: list[tuple[TaggedArticle, Any]], ctx: Context) -> list[Analyzed]:
    """Each article as the tagger analysed it; tokenised again only for records without words."""
    unanalyzed = [t.article for t, _ in decoded if t.fields is None]
    again = iter(ctx.matcher_pipeline.analyze(unanalyzed) if unanalyzed else ())
    return [t.analyzed() or replace(next(again), entities=t.entities) for t, _ in decoded]
