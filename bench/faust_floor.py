"""Faust's floor: the benchmark's articles through a worker-shaped Faust app doing nothing.

``faust_floor_app.py`` has a newsmon worker's two batched stages and four sends per
article, and no analysis, rules or state. Its worker CPU seconds per article are what
Faust and aiokafka cost a worker of this shape on this machine, before any of newsmon's
work; with the offline pass's CPU seconds per article they bound what end to end /
offline can reach while one process does both on one core:
``offline / (offline + floor)``, each in CPU seconds per article.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import broker
from endtoend import CpuClock
from sample import Sample
from workers import cpu_seconds

from monitor.text.article import Article, encode_article

APP = Path(__file__).resolve().parent / "faust_floor_app.py"
PARTITIONS = 6
STARTS = 3


@dataclass
class _Process:
    process: subprocess.Popen[bytes]

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)


def _messages(articles: list[Article]) -> list[tuple[bytes, bytes]]:
    return [(a.id.encode(), encode_article(a)) for a in articles]


def floor(
    bootstrap: str,
    prefix: str,
    sample: Sample,
    workdir: Path,
    *,
    env: dict[str, str],
    keep_topics: bool = False,
) -> dict[str, Any]:
    """Articles per second and per CPU second of the app, publish to last alert record.

    ``env`` gives the worker settings to mirror (``FLOOR_BATCH_SIZE``,
    ``FLOOR_BATCH_WINDOW``, ``FLOOR_LINGER``).
    """
    warm, timed = sample.warm, sample.timed
    topics = [f"{prefix}{n}" for n in ("articles", "tagged", "candidates", "alerts", "route")]
    asyncio.run(broker.create(bootstrap, topics, partitions=PARTITIONS))
    own = {
        **os.environ,
        **env,
        "FLOOR_PREFIX": prefix,
        "FLOOR_BOOTSTRAP": bootstrap,
        "FLOOR_DATADIR": str(workdir / f"{prefix}data"),
    }
    source, alerts = topics[0], topics[3]
    log = (workdir / f"{prefix}floor.log").open("wb")
    process = None
    try:
        asyncio.run(broker.produce(bootstrap, source, _messages(warm)))
        # Unpatched Faust can start without its subscription when the broker is still
        # settling (aiokafka ignores a topic missing from its first metadata, and Faust's
        # later metadata does not bring it back; newsmon's worker patches this): start
        # again, a few times, until the warm-up articles come through.
        for _ in range(STARTS):
            process = subprocess.Popen(
                [sys.executable, str(APP), "worker", "--loglevel", "warn"],
                env=own,
                stdout=log,
                stderr=log,
            )
            done = asyncio.run(broker.wait_count(bootstrap, alerts, len(warm), stall=30))
            if done >= len(warm) and process.poll() is None:
                break
            _stop(process)
        else:
            raise RuntimeError(f"the floor app did not start in {STARTS} tries: {log.name}")
        time.sleep(2)
        with CpuClock([_Process(process)]) as clock:
            asyncio.run(broker.produce(bootstrap, source, _messages(timed)))
            asyncio.run(broker.wait_count(bootstrap, alerts, done + len(timed), stall=60))
        ids = {a.id.encode() for a in timed}
        published = asyncio.run(broker.read(bootstrap, source))
        first = min(r.timestamp for r in published if r.key in ids)
        last = max(r.timestamp for r in asyncio.run(broker.read(bootstrap, alerts)) if r.key in ids)
        cpu = clock.used(last)[0]
    finally:
        if process is not None:
            _stop(process)
        log.close()
        if not keep_topics:
            asyncio.run(broker.delete_prefixed(bootstrap, prefix))
    return {
        "articles": len(timed),
        "per_s": len(timed) / max(1e-9, last - first),
        "per_cpu_s": len(timed) / max(1e-9, cpu),
        "cpu_ms_per_article": 1000 * cpu / len(timed),
    }


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def bound(offline_per_cpu_s: float, floor_per_cpu_s: float) -> float:
    """The highest end to end / offline ratio one process on one core can reach: the
    offline pass's CPU per article over that plus the floor's."""
    offline_cost, floor_cost = 1 / offline_per_cpu_s, 1 / floor_per_cpu_s
    return offline_cost / (offline_cost + floor_cost)
