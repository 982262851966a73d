"""Fuzzing a live worker: bad input never crashes it and is never silently dropped.

Thousands of generated bad messages (tests/integration/fuzzgen.py) go to the articles
topic interleaved with valid articles, through the real broker to a real `newsmon worker`.
Every valid article must come out on news.tagged exactly once; every bad one must land
on news.deadletter exactly once, with its original bytes, the promised reason and
headers pointing at where it was read; the metrics must agree; the worker must neither
restart nor lose an agent, and must stop cleanly.

Size: ``NEWSMON_FUZZ_BAD`` bad messages (default 2,000; `make chaos` runs 10,000) and
``NEWSMON_FUZZ_VALID`` valid ones (default a quarter of the bad ones).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from monitor.errors import REASONS, SCHEMA_PREFIX
from tests.conftest import free_port
from tests.integration.fuzzgen import LIMIT, Case, generate, lone_surrogates
from tests.integration.processes import Worker, get_json, newsmon_env, running_worker, stop

pytestmark = pytest.mark.broker

BAD = int(os.environ.get("NEWSMON_FUZZ_BAD", "2000"))
VALID = int(os.environ.get("NEWSMON_FUZZ_VALID", str(max(1, BAD // 4))))
#: Log lines of a Faust agent that raised and was restarted by its supervisor.
CRASH_MARKS = ("Crashed reason", "Restarting dead", "Giving up on crashed")


@dataclass
class Fuzzed:
    """One fuzzing run of a worker, observed as it ended (the tests judge it in any order)."""

    worker: Worker
    prefix: str
    pid: int
    cases: list[Case]
    positions: list[tuple[int, int]]
    tagged: list[Any]
    dead: list[Any]
    counted: Counter[tuple[str, str]]
    totals: dict[tuple[str, tuple[tuple[str, str], ...]], float]
    health: dict[str, Any]
    alive: bool
    seconds: tuple[float, float]  # generating, publishing + processing


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, bootstrap: str) -> Iterator[Fuzzed]:
    """A worker fed ``BAD`` bad and ``VALID`` valid messages, with what came out."""
    prefix = f"fuzz{free_port()}."
    env = newsmon_env(
        bootstrap,
        prefix,
        NEWSMON_SPACY_MODEL="blank",
        NEWSMON_NER="false",
        NEWSMON_MAX_ARTICLE_BYTES=str(LIMIT),
        NEWSMON_BATCH_WINDOW="0.1",
        NEWSMON_LOG_LEVEL="WARNING",
    )
    with running_worker(env, free_port(), tmp_path_factory.mktemp("fuzz")) as worker:
        pid = worker.process.pid
        started = time.monotonic()
        cases = generate(BAD, VALID)
        generated = time.monotonic()
        valid = sum(case.reason is None for case in cases)
        positions, tagged, dead = _run(
            bootstrap,
            prefix,
            cases,
            # distinct ids: an article tagged twice must not end the reading early
            lambda tagged, dead: (
                len(_tagged_ids(tagged)) >= valid and len(dead) >= len(cases) - valid
            ),
            timeout=120 + len(cases) / 20,
        )
        processed = time.monotonic()
        reasons = Counter((case.reason, "tag") for case in cases if case.reason is not None)
        yield Fuzzed(
            worker=worker,
            prefix=prefix,
            pid=pid,
            cases=cases,
            positions=positions,
            tagged=tagged,
            dead=dead,
            counted=_wait_for_counts(worker, reasons),
            totals=_samples(worker),
            health=get_json(f"http://127.0.0.1:{worker.port}/health"),
            alive=worker.process.poll() is None,
            seconds=(generated - started, processed - generated),
        )


async def _publish(bootstrap: str, topic: str, cases: list[Case]) -> list[tuple[int, int]]:
    """Send every case without waiting for each; return (partition, offset) per case."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=20)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, case.value, key=f"k{index}".encode())
            for index, case in enumerate(cases)
        ]
        await producer.flush()
        return [((meta := await future).partition, meta.offset) for future in futures]
    finally:
        await producer.stop()


Done = Callable[[list[Any], list[Any]], bool]


async def _read(bootstrap: str, prefix: str, done: Done, timeout: float) -> tuple[list[Any], ...]:
    """Read news.tagged and news.deadletter from the start until ``done``, then 3 s more."""
    topics = (f"{prefix}news.tagged", f"{prefix}news.deadletter")
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    found: dict[str, list[Any]] = {topic: [] for topic in topics}
    deadline = time.monotonic() + timeout
    try:
        extra = 3  # anything beyond the expected count is a failure too: look for it
        while extra and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for partition, messages in batch.items():
                found[partition.topic].extend(messages)
            if done(*found.values()):
                extra -= 1
    finally:
        await consumer.stop()
    return tuple(found.values())


def _run(
    bootstrap: str, prefix: str, cases: list[Case], done: Done, timeout: float
) -> tuple[list[tuple[int, int]], list[Any], list[Any]]:
    async def go() -> tuple[list[tuple[int, int]], list[Any], list[Any]]:
        positions = await _publish(bootstrap, f"{prefix}news.articles", cases)
        tagged, dead = await _read(bootstrap, prefix, done, timeout)
        return positions, tagged, dead

    return asyncio.run(go())


def _samples(worker: Worker) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    import urllib.request

    with urllib.request.urlopen(worker.metrics_url, timeout=5) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("newsmon_") and s.name.endswith("_total")
    }


def _dead_letter_counts(worker: Worker) -> Counter[tuple[str, str]]:
    return Counter(
        {
            (dict(labels)["reason"], dict(labels)["stage"]): int(value)
            for (name, labels), value in _samples(worker).items()
            if name == "newsmon_deadletter_total" and value
        }
    )


def _crashes(worker: Worker) -> list[str]:
    lines = worker.log.read_text(errors="replace").splitlines()
    return [line for line in lines if any(mark in line for mark in CRASH_MARKS)]


def _tagged_ids(tagged: list[Any]) -> Counter[str]:
    return Counter(json.loads(m.value)["id"] for m in tagged)


def _check_tagged(tagged: list[Any], cases: list[Case], tagged_schema: Any) -> None:
    ids = _tagged_ids(tagged)
    expected = {case.article_id for case in cases if case.reason is None}
    assert len(expected) == sum(case.reason is None for case in cases), "valid ids are unique"
    assert set(ids) - expected == set(), "tagged something that was not a valid article"
    assert expected - set(ids) == set(), "valid articles were not tagged"
    assert [i for i, n in ids.items() if n > 1] == [], "tagged more than once"
    for message in tagged:
        record = json.loads(message.value)
        assert message.key == record["id"].encode()
        tagged_schema.validate(record)


def _check_dead_letters(
    dead: list[Any], cases: list[Case], positions: list[tuple[int, int]], topic: str
) -> None:
    by_position = {position: index for index, position in enumerate(positions)}
    seen: Counter[int] = Counter()
    for message in dead:
        headers = {k: v.decode() for k, v in message.headers}
        assert headers["newsmon-source-topic"] == topic
        assert headers["newsmon-stage"] == "tag"
        index = by_position[
            int(headers["newsmon-source-partition"]),
            int(headers["newsmon-source-offset"]),
        ]
        case = cases[index]
        assert case.reason is not None, f"valid {case.category} article dead-lettered: {headers}"
        assert headers["newsmon-reason"] == case.reason, (case.category, headers)
        assert message.value == case.value, f"{case.category}: bytes changed"
        assert message.key == f"k{index}".encode()
        seen[index] += 1
    bad = {index for index, case in enumerate(cases) if case.reason is not None}
    missing = sorted(cases[i].category for i in bad - set(seen))
    assert missing == [], f"bad messages not dead-lettered: {Counter(missing)}"
    assert [i for i, n in seen.items() if n > 1] == [], "dead-lettered more than once"


def test_fuzzed_input_is_tagged_or_dead_lettered_exactly_once(
    fuzzed: Fuzzed, tagged_schema: Any
) -> None:
    cases = fuzzed.cases
    _check_tagged(fuzzed.tagged, cases, tagged_schema)
    _check_dead_letters(fuzzed.dead, cases, fuzzed.positions, f"{fuzzed.prefix}news.articles")
    reasons = Counter((case.reason, "tag") for case in cases if case.reason is not None)
    assert Counter(dict(m.headers)["newsmon-reason"].decode() for m in fuzzed.dead) == Counter(
        {reason: n for (reason, _), n in reasons.items()}
    )
    assert fuzzed.counted == reasons
    assert fuzzed.totals[("newsmon_articles_received_total", ())] == len(cases)
    assert fuzzed.totals[("newsmon_articles_tagged_total", ())] == VALID
    per_reason = dict(sorted(Counter(r for r, _ in fuzzed.counted.elements()).items()))
    print(
        f"\nfuzz: {len(cases)} messages ({BAD} bad, {VALID} valid); tagged "
        f"{len(fuzzed.tagged)}, dead-lettered {len(fuzzed.dead)} {per_reason}; generate "
        f"{fuzzed.seconds[0]:.1f}s, publish+process {fuzzed.seconds[1]:.1f}s"
    )


def test_the_fuzzed_worker_neither_restarted_nor_lost_an_agent(fuzzed: Fuzzed) -> None:
    assert fuzzed.alive, "the worker exited"
    assert fuzzed.worker.process.pid == fuzzed.pid
    assert fuzzed.health["status"] == "ok"
    assert _crashes(fuzzed.worker) == [], "an agent crashed and was restarted"
    # No rebalance and no kill: nothing was dropped, so nothing may be fetched again (a
    # rewind here processes records twice; records waiting in a buffer looked dropped).
    log = fuzzed.worker.log.read_text(errors="replace")
    assert "fetching again" not in log, "the stall watch fetched records again"


def _wait_for_counts(
    worker: Worker, want: Counter[tuple[str, str]], timeout: float = 15
) -> Counter[tuple[str, str]]:
    """The dead-letter counter moves just after the broker acks: give it a moment."""
    deadline = time.monotonic() + timeout
    while (counted := _dead_letter_counts(worker)) != want and time.monotonic() < deadline:
        time.sleep(0.5)
    return counted


def test_the_worker_stops_cleanly_after_the_fuzzing(fuzzed: Fuzzed) -> None:
    assert stop(fuzzed.worker) == 0, fuzzed.worker.log.read_text()[-3000:]


def test_lone_surrogates_are_tagged_or_dead_lettered(
    bootstrap: str, tmp_path: Path, tagged_schema: Any
) -> None:
    """JSON may escape a lone surrogate ("\\ud800"); Python decodes it, UTF-8 cannot encode it.

    Either outcome keeps the contract: tagged (the output still encodes) or dead-lettered
    with a reason. A crash of the analyser agent, or a lost message, does not.
    """
    prefix = f"sur{free_port()}."
    env = newsmon_env(bootstrap, prefix, NEWSMON_SPACY_MODEL="blank", NEWSMON_NER="false")
    cases = lone_surrogates()
    with running_worker(env, free_port(), tmp_path) as worker:
        positions, tagged, dead = _run(
            bootstrap, prefix, cases, lambda t, d: len(t) + len(d) >= len(cases), timeout=30
        )
        tagged_ids = {json.loads(m.value)["id"] for m in tagged}
        for message in tagged:
            tagged_schema.validate(json.loads(message.value))
        dead_at = {
            (
                int(dict(m.headers)["newsmon-source-partition"]),
                int(dict(m.headers)["newsmon-source-offset"]),
            )
            for m in dead
        }
        lost = [
            case.category
            for case, position in zip(cases, positions, strict=True)
            if case.article_id not in tagged_ids and position not in dead_at
        ]
        assert lost == [], f"silently dropped: {lost}"
        for message in dead:
            reason = dict(message.headers)["newsmon-reason"].decode()
            assert reason in REASONS or reason.startswith(SCHEMA_PREFIX), reason
        assert _crashes(worker) == [], "the analyser agent crashed on a lone surrogate"
        assert stop(worker) == 0
