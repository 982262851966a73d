"""End to end through the real broker: worker processes, replay, timestamps read back.

A run starts the worker(s) under its own topic prefix and consumer group, replays warm-up
articles until every worker consumes, then replays the timed articles as fast as
possible. Throughput and freshness come from the Kafka message timestamps: the replay's
article records, the tagged records and the alerts (matched by article id).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import broker
from sample import write_jsonl
from workers import Worker, newsmon_env, replay, running_workers

from agents.settings import load_settings
from monitor.text.article import Article

ARTICLES, TAGGED, ALERTS = "news.articles", "news.tagged", "news.alerts"
CANDIDATES = "news.candidates"
DEFAULT_SETTINGS = load_settings({})


@dataclass
class Run:
    """One worker configuration: where it runs and what it is fed."""

    bootstrap: str
    prefix: str
    model: str
    workers: int
    rules: Path
    workdir: Path
    keep_topics: bool = False
    env: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.env = newsmon_env(self.bootstrap, self.prefix, self.model, self.rules)

    def topic(self, name: str) -> str:
        return self.prefix + name

    def clean_up(self) -> None:
        """Delete the run's topics (some 60 partitions), so that later runs do not share
        the broker with every earlier run's."""
        if not self.keep_topics:
            asyncio.run(broker.delete_prefixed(self.bootstrap, self.prefix))


def _timestamps(records: list[broker.Record]) -> dict[str, float]:
    """Earliest timestamp per message key (an article id)."""
    found: dict[str, float] = {}
    for r in records:
        key = r.key.decode()
        found[key] = min(found.get(key, r.timestamp), r.timestamp)
    return found


def _alert_times(records: list[broker.Record]) -> dict[str, float]:
    """Earliest alert timestamp per article id."""
    found: dict[str, float] = {}
    for r in records:
        article = json.loads(r.value)["article"]["id"]
        found[article] = min(found.get(article, r.timestamp), r.timestamp)
    return found


def _drain(run: Run, expected_tagged: int, stall: float) -> None:
    """Wait for every tagged record, then for the alerts to stop growing."""
    asyncio.run(broker.wait_count(run.bootstrap, run.topic(TAGGED), expected_tagged, stall))
    asyncio.run(broker.wait_count(run.bootstrap, run.topic(ALERTS), 10**9, 4.0))


def _read(run: Run, name: str) -> list[broker.Record]:
    return asyncio.run(broker.read(run.bootstrap, run.topic(name)))


def _warm_up(run: Run, workers: list[Worker], warm: list[Article]) -> int:
    """Replay warm-up articles (again) until every worker has consumed some."""
    path = write_jsonl(warm, run.workdir / f"{run.prefix}warm.jsonl")
    replayed = 0
    for _ in range(5):
        replay(run.env, path)
        replayed += len(warm)
        _drain(run, replayed, stall=60)
        if all(w.received() > 0 for w in workers):
            break
    time.sleep(2)
    return replayed


class CpuClock:
    """The workers' CPU time, sampled in the background against the wall clock.

    The run's end is known only afterwards (the last alert's Kafka timestamp), after
    seconds of waiting for stragglers: the samples give each worker's CPU time at that
    moment, without the idle time spent waiting.
    """

    def __init__(self, workers: Sequence[Any], every: float = 0.05) -> None:
        """``workers``: anything with ``cpu_seconds()`` (a :class:`Worker`)."""
        self.workers, self.every = workers, every
        self.samples: list[tuple[float, list[float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> CpuClock:
        self._take()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _take(self) -> None:
        self.samples.append((time.time(), [w.cpu_seconds() for w in self.workers]))

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            self._take()

    def used(self, until: float) -> list[float]:
        """CPU seconds each worker used from the start to the last sample at or before
        ``until`` (seconds since the epoch)."""
        start = self.samples[0][1]
        at = max((s for s in self.samples if s[0] <= until), key=lambda s: s[0])[1]
        return [end - begin for begin, end in zip(start, at, strict=True)]


def throughput(run: Run, sample_warm: list[Article], timed: list[Article]) -> dict[str, Any]:
    """Sustained articles/s through the pipeline, per wall-clock and per worker CPU second;
    peak RSS of each worker; how the run's candidates spread over their partitions."""
    with running_workers(run.env, run.workdir, run.workers) as workers:
        done = _warm_up(run, workers, sample_warm)
        path = write_jsonl(timed, run.workdir / f"{run.prefix}timed.jsonl")
        before = asyncio.run(broker.partition_sizes(run.bootstrap, run.topic(CANDIDATES)))
        with CpuClock(workers) as clock:
            replay(run.env, path)
            _drain(run, done + len(timed), stall=120)
        result = _throughput_figures(run, timed)
        cpu = clock.used(result["first_published"] + result["to_last_alert_s"])
        result["worker_cpu_s"] = [round(c, 3) for c in cpu]
        result["alerted_per_cpu_s"] = len(timed) / max(1e-9, sum(cpu))
        after = asyncio.run(broker.partition_sizes(run.bootstrap, run.topic(CANDIDATES)))
        result["candidates_per_partition"] = [b - a for a, b in zip(before, after, strict=True)]
        result["peak_rss_mib"] = [round(w.peak_rss_mib(), 1) for w in workers]
    run.clean_up()
    return result


def paired_summary(
    repeats: list[tuple[dict[str, Any], dict[str, float]]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Runs each paired with the offline pass just before it: the median run's figures,
    and the median of the per-pair ratios (end to end / offline) with their spread, in
    articles per wall-clock second and per CPU second (the worker's against the pass's)."""
    ordered = sorted(repeats, key=lambda pair: pair[0]["alerted_per_s"])
    median_run = ordered[len(ordered) // 2][0]
    ratios = sorted(result["alerted_per_s"] / ref["per_s"] for result, ref in repeats)
    cpu_ratios = [result["alerted_per_cpu_s"] / ref["per_cpu_s"] for result, ref in repeats]
    return median_run, {
        "subject_per_s": statistics.median(r["alerted_per_s"] for r, _ in repeats),
        "reference_per_s": statistics.median(ref["per_s"] for _, ref in repeats),
        "ratio": statistics.median(ratios),
        "ratio_min": ratios[0],
        "ratio_max": ratios[-1],
        "cpu_ratio": statistics.median(cpu_ratios),
        "repeats": len(repeats),
        "runs_per_s": [round(r["alerted_per_s"], 1) for r, _ in repeats],
        "runs_per_cpu_s": [round(r["alerted_per_cpu_s"], 1) for r, _ in repeats],
    }


def rules_summary(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """Pairs of runs (many rules, few rules): the median of the per-pair ratios with their
    spread, to the last alert and to the last tagged record, per wall-clock and per worker
    CPU second; and the median pair's runs themselves."""

    def ratios(key: str) -> list[float]:
        return sorted(many[key] / few[key] for many, few in pairs)

    alerts = ratios("alerted_per_s")
    median = sorted(pairs, key=lambda pair: pair[0]["alerted_per_s"] / pair[1]["alerted_per_s"])
    many, few = median[len(median) // 2]
    return {
        "ratio": statistics.median(alerts),
        "ratio_min": alerts[0],
        "ratio_max": alerts[-1],
        "cpu_ratio": statistics.median(ratios("alerted_per_cpu_s")),
        "tagged_ratio": statistics.median(ratios("tagged_per_s")),
        "pairs": len(pairs),
        "10000": many,
        "10": few,
    }


def _throughput_figures(run: Run, timed: list[Article]) -> dict[str, Any]:
    ids = {a.id for a in timed}
    published = {k: t for k, t in _timestamps(_read(run, ARTICLES)).items() if k in ids}
    tagged = {k: t for k, t in _timestamps(_read(run, TAGGED)).items() if k in ids}
    alerts = {k: t for k, t in _alert_times(_read(run, ALERTS)).items() if k in ids}
    first = min(published.values())
    last_tagged = max(tagged.values())
    last_alert = max(alerts.values()) if alerts else last_tagged
    return {
        "articles": len(timed),
        "tagged": len(tagged),
        "alerted": len(alerts),
        "replay_per_s": len(published) / max(1e-9, max(published.values()) - first),
        "to_last_tagged_s": last_tagged - first,
        "to_last_alert_s": last_alert - first,
        "tagged_per_s": len(tagged) / max(1e-9, last_tagged - first),
        "alerted_per_s": len(timed) / max(1e-9, last_alert - first),
        "first_published": first,
    }


def freshness(
    run: Run, warm: list[Article], fresh: list[Article], rate: float, seconds: float
) -> dict[str, Any]:
    """Replay-publish -> alert-produced latency at a fixed replay rate."""
    count = min(len(fresh), max(20, int(rate * seconds)))
    articles = fresh[:count]
    with running_workers(run.env, run.workdir, run.workers) as workers:
        done = _warm_up(run, workers, warm)
        path = write_jsonl(articles, run.workdir / f"{run.prefix}fresh.jsonl")
        replay(run.env, path, rate=rate)
        _drain(run, done + count, stall=120)
        ids = {a.id for a in articles}
        published = _timestamps(_read(run, ARTICLES))
        alerts = _alert_times(_read(run, ALERTS))
    run.clean_up()
    latencies = sorted(alerts[i] - published[i] for i in ids if i in alerts and i in published)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else []
    return {
        "rate_per_s": rate,
        "articles": count,
        "alerts": len(latencies),
        "p50_s": statistics.median(latencies) if latencies else None,
        "p95_s": cuts[94] if cuts else None,
        "p99_s": cuts[98] if cuts else None,
        "max_s": latencies[-1] if latencies else None,
        "batch_window_s": float(run.env.get("NEWSMON_BATCH_WINDOW", DEFAULT_SETTINGS.batch_window)),
        "batch_size": int(run.env.get("NEWSMON_BATCH_SIZE", DEFAULT_SETTINGS.batch_size)),
    }
