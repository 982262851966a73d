"""The tagger agent: news.articles -> news.tagged (bad input -> news.deadletter)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from agents.context import Context
from agents.deadletter import DeadLetter
from monitor.article import Article, decode_article
from monitor.errors import InvalidArticle
from monitor.tagged import TaggedArticle, tag_analyzed

log = logging.getLogger(__name__)
INGESTED_AT = "newsmon-ingested-at"


async def process_articles(
    events: Sequence[Any], ctx: Context, sink: Any, deadletter: DeadLetter
) -> None:
    """Decode, analyse in one batch, tag, publish; each bad message is dead-lettered."""
    decoded: list[tuple[Article, Any]] = []
    with ctx.metrics.stage("decode").time():
        for event in events:
            ctx.metrics.articles_received.inc()
            try:
                decoded.append(
                    (
                        decode_article(event.message.value or b"", ctx.settings.max_article_bytes),
                        event,
                    )
                )
            except InvalidArticle as exc:
                await deadletter.send(event.message, exc.reason, exc.detail, stage="tag")
    sent = []
    for (_, event), tagged in zip(decoded, await _tag_all(decoded, ctx, deadletter), strict=True):
        if tagged is not None and (future := await _publish(tagged, event, sink, ctx, deadletter)):
            sent.append(future)
    # The batch's offsets are acknowledged when this returns: its records must be durable.
    await wait_all(sent)


async def wait_all(futures: list[Any]) -> None:
    """Wait until the broker acknowledged every send of a batch."""
    for future in futures:
        await future


async def _tag_all(
    decoded: list[tuple[Article, Any]], ctx: Context, deadletter: DeadLetter
) -> list[TaggedArticle | None]:
    articles = [article for article, _ in decoded]
    try:
        return list(_tag_batch(articles, ctx))
    except Exception:
        log.exception("batch failed; tagging one by one")
    results: list[TaggedArticle | None] = []
    for article, event in decoded:
        try:
            results.append(_tag_batch([article], ctx)[0])
        except Exception as exc:
            await deadletter.send(event.message, "unhandled", repr(exc), stage="tag")
            results.append(None)
    return results


def _tag_batch(articles: list[Article], ctx: Context) -> list[TaggedArticle | None]:
    with ctx.metrics.stage("nlp").time():
        analyzed = ctx.pipeline.analyze(articles, batch_size=ctx.settings.batch_size)
    with ctx.metrics.stage("tag").time():
        return [tag_analyzed(item, ctx.tagger) for item in analyzed]


def _encoded(tagged: TaggedArticle) -> tuple[bytes, bytes]:
    value = json.dumps(tagged.to_json(), ensure_ascii=False, separators=(",", ":")).encode()
    return tagged.article.id.encode(), value


async def _publish(
    tagged: TaggedArticle, event: Any, sink: Any, ctx: Context, deadletter: DeadLetter
) -> Any:
    """Send one tagged record; returns the send's future (None if it was dead-lettered)."""
    try:
        key, value = _encoded(tagged)
    except (UnicodeEncodeError, ValueError) as exc:  # never let one record stop the agent
        await deadletter.send(event.message, "unhandled", repr(exc), stage="tag")
        return None
    ingested = f"{event.message.timestamp:.3f}".encode()
    with ctx.metrics.stage("produce").time():
        future = await sink.send(key=key, value=value, headers=[(INGESTED_AT, ingested)])
    ctx.metrics.articles_tagged.inc()
    for name in tagged.topic_names:
        ctx.metrics.topic_tags.labels(topic=name).inc()
    return future
