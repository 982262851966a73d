"""The analyser agent: news.articles -> news.tagged and news.story-input, in one stage.

Each batch is decoded, analysed once (one spaCy pass), tagged, and matched against the
rule set on the same analysis, so no later stage tokenises again or reads ``news.tagged``
back. ``news.tagged`` is still published for subscribers (keyed by article id), lean by
default: the per-word offsets only with ``NEWSMON_TAGGED_WORDS``. Every tagged article
also goes to ``news.story-input`` (keyed by article id) with the candidates of its rule
matches: the story agent (:mod:`agents.stories`) puts it in its story and forwards the
candidates to ``news.candidates``, where the notifier makes the once-per-story decision.
Bad input goes to ``news.deadletter`` with its reason (stage ``tag``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from agents.context import Context
from agents.deadletter import DeadLetter
from monitor import wirejson
from monitor.alerting.records import candidate
from monitor.alerting.stories import arrival_record
from monitor.errors import InvalidArticle
from monitor.rules.files import RuleSet
from monitor.tagging.tagged_article import TaggedArticle, tag_analyzed
from monitor.text.article import Article, decode_article
from monitor.text.nlp import Analyzed

log = logging.getLogger(__name__)
INGESTED_AT = "newsmon-ingested-at"
STAGE = "tag"  # the dead-letter stage label of this agent (dashboards count by it)


async def process_articles(
    events: Sequence[Any], ctx: Context, tagged_sink: Any, story_input: Any, deadletter: DeadLetter
) -> None:
    """Decode, analyse and tag in one batch, match, publish; bad messages are dead-lettered.

    Returns once the broker has acknowledged every record of the batch: its input offsets
    are committed only after that.
    """
    decoded: list[tuple[Article, Any]] = []
    with ctx.metrics.stage("decode").time():
        for event in events:
            ctx.metrics.articles_received.inc()
            try:
                article = decode_article(event.message.value or b"", ctx.settings.max_article_bytes)
            except InvalidArticle as exc:
                await deadletter.send(event.message, exc.reason, exc.detail, stage=STAGE)
            else:
                decoded.append((article, event))
    ruleset = ctx.rules.current  # read once: a batch is matched against one rule set
    sent = []
    for (_, event), done in zip(decoded, await _analyse_all(decoded, ctx, deadletter), strict=True):
        if done is None:
            continue
        analyzed, tagged = done
        try:
            records = _records(analyzed, tagged, event, ctx, ruleset)
        except (UnicodeEncodeError, ValueError) as exc:  # never let one record stop the agent
            await deadletter.send(event.message, "unhandled", repr(exc), stage=STAGE)
            continue
        (key, value, headers), arrival = records
        with ctx.metrics.stage("produce").time():
            sent.append(await tagged_sink.send(key=key, value=value, headers=headers))
            sent.append(await story_input.send(key=key, value=arrival))
        ctx.metrics.articles_tagged.inc()
        for name in tagged.topic_names:
            ctx.metrics.topic_tags.labels(topic=name).inc()
    await wait_all(sent)


async def wait_all(futures: list[Any]) -> None:
    """Wait until the broker acknowledged every send of a batch."""
    for future in futures:
        await future


async def _analyse_all(
    decoded: list[tuple[Article, Any]], ctx: Context, deadletter: DeadLetter
) -> list[tuple[Analyzed, TaggedArticle] | None]:
    articles = [article for article, _ in decoded]
    try:
        return list(_analyse_batch(articles, ctx))
    except Exception:
        log.exception("batch failed; analysing one by one")
    results: list[tuple[Analyzed, TaggedArticle] | None] = []
    for article, event in decoded:
        try:
            results.append(_analyse_batch([article], ctx)[0])
        except Exception as exc:
            await deadletter.send(event.message, "unhandled", repr(exc), stage=STAGE)
            results.append(None)
    return results


def _analyse_batch(articles: list[Article], ctx: Context) -> list[tuple[Analyzed, TaggedArticle]]:
    with ctx.metrics.stage("nlp").time():
        analyzed = ctx.pipeline.analyze(articles, batch_size=ctx.settings.batch_size)
    with ctx.metrics.stage("tag").time():
        return [(item, tag_analyzed(item, ctx.tagger)) for item in analyzed]


Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def _records(
    analyzed: Analyzed, tagged: TaggedArticle, event: Any, ctx: Context, ruleset: RuleSet
) -> tuple[Record, bytes]:
    """The ``news.tagged`` record and the ``news.story-input`` record (with a candidate
    per rule match)."""
    ingested = event.message.timestamp
    record = tagged.to_json(words=ctx.settings.tagged_words)
    value = wirejson.dumps(record, foreign=bool(tagged.article.extra))
    headers = [(INGESTED_AT, f"{ingested:.3f}".encode())]
    started = time.perf_counter()
    matches = ruleset.match(analyzed, tagged.topics)
    ctx.metrics.match_seconds.observe(time.perf_counter() - started)
    # Candidates carry the article message's time as ingest time, rounded as the header
    # is, so freshness reads the same from either.
    at = round(ingested, 3)
    found = [candidate(match, tagged, ingested_at=at or None).to_json() for match in matches]
    arrival = wirejson.dumps(arrival_record(tagged, at, found))
    return (tagged.article.id.encode(), value, headers), arrival
