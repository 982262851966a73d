"""``newsmon replay``: publish articles to the articles topic, keyed by article id."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from agents.kafka import ensure_topics, idempotent_producer
from agents.settings import Settings
from agents.topics import ARTICLES, all_topics, resolve
from monitor.text.article import Article, encode_article
from newsmon.sources import Record, read_records

log = logging.getLogger(__name__)
_PROGRESS_AFTER = 200


class Pacer:
    """When to send each article: at most ``rate`` a second, or at its publication time
    relative to the first dated article, ``speedup`` times faster; else at once.

    Under ``speedup`` an article without a publication time, or one dated before the
    replay's clock (a corpus out of order), is sent at once: file order is kept.
    """

    def __init__(
        self,
        rate: float | None = None,
        speedup: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate and speedup:
            raise ValueError("give a rate or a speed-up, not both")
        self.rate, self.speedup, self.clock = rate, speedup, clock
        self.started = clock()
        self._first: datetime | None = None

    def delay(self, index: int, article: Article) -> float:
        """Seconds to wait before sending the ``index``-th article."""
        now = self.clock()
        if self.rate:
            return max(0.0, self.started + index / self.rate - now)
        if not self.speedup or article.published_at is None:
            return 0.0
        if self._first is None:
            self._first, self.started = article.published_at, now
            return 0.0
        offset = (article.published_at - self._first).total_seconds() / self.speedup
        return max(0.0, self.started + offset - now)


@dataclass
class ReplaySummary:
    published: int = 0
    skipped: int = 0
    seconds: float = 0.0


def _articles(
    settings: Settings, paths: list[Path], loop: bool, console: Console, summary: ReplaySummary
) -> Iterator[Article]:
    for round_ in itertools.count():
        for record in read_records(paths, settings.max_article_bytes):
            if record.article is not None:
                yield record.article
            else:
                _skip(record, console, summary)
        if not loop:
            return
        log.debug("replay round %d done", round_ + 1)


def _skip(record: Record, console: Console, summary: ReplaySummary) -> None:
    summary.skipped += 1
    console.print(f"[yellow]skipped[/] {record.origin}: {record.problem}", highlight=False)


async def replay(
    settings: Settings,
    paths: list[Path],
    *,
    rate: float | None = None,
    speedup: float | None = None,
    loop: bool = False,
    limit: int | None = None,
    console: Console | None = None,
) -> ReplaySummary:
    """Publish every article (at most ``limit``, paced by :class:`Pacer`) with an
    idempotent producer."""
    console = console or Console(stderr=True)
    summary = ReplaySummary()
    await ensure_topics(settings, all_topics(settings))
    topic = resolve(ARTICLES, settings).name
    producer = idempotent_producer(settings)
    await producer.start()
    started = time.monotonic()
    pacer = Pacer(rate, speedup)
    try:
        articles = _articles(settings, paths, loop, console, summary)
        with Progress(
            console=console, transient=True, disable=limit is not None and limit < _PROGRESS_AFTER
        ) as progress:
            task = progress.add_task("replaying", total=limit)
            for index, article in enumerate(itertools.islice(articles, limit)):
                if wait := pacer.delay(index, article):
                    await asyncio.sleep(wait)
                await producer.send(topic, encode_article(article), key=article.id.encode())
                summary.published += 1
                progress.advance(task)
        await producer.flush()
    finally:
        await producer.stop()
    summary.seconds = time.monotonic() - started
    return summary
