"""Crash safety on the real broker: SIGKILLed workers, a restarted broker, a rebalance.

Articles built to raise known alerts are replayed while workers are killed and
restarted; a read_committed consumer must then find exactly one alert per article, and
one story update per story copied from a second source: none missing, none twice. Sizes
are reduced in `make test`; `make chaos` runs the full 5,000 articles
(NEWSMON_CHAOS_ARTICLES).
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.integration.chaos import (
    RULES,
    alerts_by_article,
    articles,
    expected_alerts,
    size,
    uncommitted,
    wait_for_commits,
    where_lost,
    with_copies,
    write_feed,
)
from tests.integration.processes import (
    NEWSMON,
    ROOT,
    Worker,
    newsmon_env,
    start_worker,
    stop,
    wait_for,
    wait_healthy,
    wait_owning,
)

pytestmark = pytest.mark.broker
COUNT = size("NEWSMON_CHAOS_ARTICLES", 400)
RATE = size("NEWSMON_CHAOS_RATE", 40)
KILLS = size("NEWSMON_CHAOS_KILLS", 3)  # make chaos: 5


@pytest.fixture
def chaos_env(tmp_path: Path, bootstrap: str) -> dict[str, str]:
    rules = tmp_path / "chaos-rules.yaml"
    rules.write_text(RULES)
    prefix = f"chaos{free_port()}."
    return newsmon_env(
        bootstrap,
        prefix,
        NEWSMON_RULES=str(rules),
        NEWSMON_SPACY_MODEL="blank",
        NEWSMON_NER="false",
        NEWSMON_BATCH_WINDOW="0.1",
        NEWSMON_BATCH_SIZE="16",
        # A worker whose offsets stop moving exits to be restarted (`supervise`): soon
        # enough for the restart to finish within the test's waits.
        NEWSMON_STALL_TIMEOUT="60",
        # A killed worker's partitions move after this many seconds without a heartbeat.
        NEWSMON_SESSION_TIMEOUT="10",
    )


def _replay(env: dict[str, str], feed: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(NEWSMON), "replay", str(feed), "--rate", str(RATE)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _assert_exactly_once(
    env: dict[str, str], expected: set[str], workers: list[Worker], workdir: Path
) -> None:
    bootstrap, prefix = env["NEWSMON_KAFKA_BOOTSTRAP"], env["NEWSMON_TOPIC_PREFIX"]
    # Nothing is held back: the commits reach the end of every input topic (a killed
    # member holds its partitions until its session expires, 60 s). Waited for first: a
    # worker that stalls and exits meanwhile is restarted, as its supervisor would.
    wait_for_commits(bootstrap, prefix, workers, workdir)
    # Every alert once on news.alerts and once on its watchlist's route topic.
    for topic in ("news.alerts", "alerts.chaos"):
        counts = alerts_by_article(bootstrap, prefix + topic, len(expected))
        missing = expected - set(counts)
        doubled = {article: n for article, n in counts.items() if n > 1}
        if missing:
            lost = where_lost(bootstrap, prefix, missing)
            raise AssertionError(
                f"{topic}: {len(missing)} alerts missing, e.g. {sorted(missing)[:5]}; {lost}"
            )
        assert not doubled, f"{topic}: {len(doubled)} raised more than once: {list(doubled)[:5]}"
        assert set(counts) == expected, topic


def _received(worker: Worker) -> float:
    """Articles this worker process has taken from the articles topic (its /metrics)."""
    with urllib.request.urlopen(worker.metrics_url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("newsmon_articles_received_total "):
                return float(line.split()[1])
    return 0.0


def _all_done(env: dict[str, str], replay: subprocess.Popen[bytes]) -> bool:
    bootstrap, prefix = env["NEWSMON_KAFKA_BOOTSTRAP"], env["NEWSMON_TOPIC_PREFIX"]
    return replay.poll() is not None and not any(uncommitted(bootstrap, prefix).values())


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        stop(worker)


def test_sigkilled_workers_lose_and_double_nothing(
    chaos_env: dict[str, str], tmp_path: Path, workers: list[Worker]
) -> None:
    records = with_copies(articles(COUNT, seed=11))
    port, rng = free_port(), random.Random(5)
    workers.append(start_worker(chaos_env, port, tmp_path))
    replay = _replay(chaos_env, write_feed(tmp_path / "feed.jsonl", records))
    duration = COUNT / RATE
    left_behind = []  # per kill: records on the killed worker's partitions not committed
    for kill in range(KILLS):
        # A kill lands once the worker has taken articles (or has nothing left to take).
        wait_for(
            lambda: _received(workers[-1]) > 0 or _all_done(chaos_env, replay),
            180,
            "a worker processing articles",
        )
        time.sleep(rng.uniform(0.15, 0.8) * duration / KILLS)
        workers[-1].process.send_signal(signal.SIGKILL)
        workers[-1].process.wait(30)
        # The only member is dead: what its group has not committed now, it left undone.
        bootstrap, prefix = chaos_env["NEWSMON_KAFKA_BOOTSTRAP"], chaos_env["NEWSMON_TOPIC_PREFIX"]
        left_behind.append(sum(uncommitted(bootstrap, prefix).values()))
        workers.append(start_worker(chaos_env, port, tmp_path, wait=False))
        wait_healthy(workers[-1])
        assert replay.poll() in (None, 0), f"replay failed after kill {kill + 1}"
    assert replay.wait(600) == 0
    assert any(left_behind), f"no kill landed on uncommitted work: {left_behind}"
    _assert_exactly_once(chaos_env, expected_alerts(records), workers, tmp_path)
    # A SIGTERM that lands while the worker still waits for its group to rebalance (the
    # killed member's session must expire first) blocks in the client until the join
    # ends; stop the last worker once it owns its partitions.
    wait_owning(workers[-1])
    assert stop(workers[-1]) == 0


def test_a_worker_joining_and_one_leaving_lose_and_double_nothing(
    chaos_env: dict[str, str], tmp_path: Path, workers: list[Worker]
) -> None:
    records = with_copies(articles(COUNT, seed=12))
    workers.append(start_worker(chaos_env, free_port(), tmp_path))
    replay = _replay(chaos_env, write_feed(tmp_path / "feed.jsonl", records))
    time.sleep(COUNT / RATE / 4)
    workers.append(start_worker(chaos_env, free_port(), tmp_path))  # rebalance: join
    wait_owning(workers[-1])  # the joiner is shown to take a share of the partitions
    time.sleep(COUNT / RATE / 4)
    assert stop(workers[0]) == 0  # rebalance: leave, gracefully
    assert replay.wait(600) == 0
    _assert_exactly_once(chaos_env, expected_alerts(records), workers, tmp_path)
