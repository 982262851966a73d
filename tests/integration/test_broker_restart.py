"""Crash safety when the Kafka broker itself stops and comes back mid-stream.

Runs on a broker of its own (its own state folder and ports; the jars are shared), so
stopping it disturbs no other test. A worker that dies while the broker is away is
started again, as a container's restart policy would.
"""

from __future__ import annotations

import json
import time
import urllib.error
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
    wait_for_commits,
    with_copies,
    write_feed,
)
from tests.integration.processes import (
    Worker,
    get_json,
    kafka_sh,
    own_kafka_env,
    quick_env,
    run_newsmon,
    start_worker,
    stop,
    wait_for,
    wait_healthy,
)

pytestmark = pytest.mark.broker
COUNT = size("NEWSMON_CHAOS_ARTICLES", 400) // 2


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    port = free_port()
    env = own_kafka_env(
        tmp_path / "kafka", KAFKA_PORT=str(port), KAFKA_CONTROLLER_PORT=str(free_port())
    )
    kafka_sh(env, "up")
    try:
        yield env, f"127.0.0.1:{port}"
    finally:
        kafka_sh(env, "down")


def _not_serving(worker: Worker) -> bool:
    if worker.process.poll() is not None:
        return True
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/health", timeout=5)
    except urllib.error.HTTPError as exc:
        return exc.code == 503 and json.loads(exc.read())["status"] == "kafka unreachable"
    return False


def _owns_partitions(worker: Worker) -> bool:
    return bool(get_json(f"http://127.0.0.1:{worker.port}/health")["partitions"])


def test_a_broker_restart_mid_stream_loses_and_doubles_nothing(
    own_broker: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    kafka_env, bootstrap = own_broker
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    env = quick_env(bootstrap, "restart.", rules)
    records = with_copies(articles(2 * COUNT, seed=13))
    before, after = records[:COUNT], records[COUNT:]
    port = free_port()
    workers: list[Worker] = [start_worker(env, port, tmp_path)]
    try:
        # Healthy is not enough: a worker still joining its group answers 200 as a standby,
        # and a broker stopped then finds no partitions of its to be unreachable.
        wait_for(lambda: _owns_partitions(workers[-1]), 60, "the worker owning its partitions")
        assert (
            run_newsmon(env, "replay", str(write_feed(tmp_path / "a.jsonl", before))).returncode
            == 0
        )
        time.sleep(1.0)  # mid-stream: the worker is still working through the backlog
        kafka_sh(kafka_env, "down")
        # /health stops answering 200 once the worker's question to the broker fails
        # (503, "kafka unreachable"), unless the worker has exited meanwhile.
        assert wait_for(
            lambda: _not_serving(workers[-1]), 30, "a 503 from /health while Kafka is down"
        )
        kafka_sh(kafka_env, "up")
        if workers[-1].process.poll() is not None:  # died while the broker was away
            workers.append(start_worker(env, port, tmp_path))
        wait_healthy(workers[-1])
        replayed = run_newsmon(env, "replay", str(write_feed(tmp_path / "b.jsonl", after)))
        assert replayed.returncode == 0, replayed.stderr
        # Commits first: a worker that stalls and exits meanwhile is restarted (as its
        # supervisor would) before the alerts are counted.
        wait_for_commits(bootstrap, "restart.", workers, tmp_path)
        counts = alerts_by_article(bootstrap, "restart.news.alerts", len(records))
        routed = alerts_by_article(bootstrap, "restart.alerts.chaos", len(records))
        wait_for(lambda: workers[-1].process.poll() is None, 5, "a live worker at the end")
    finally:
        codes = [stop(w) for w in workers]
    expected = expected_alerts(records)
    for topic, found in (("news.alerts", counts), ("alerts.chaos", routed)):
        assert expected - set(found) == set(), f"{topic}: alerts missing after the restart"
        assert [a for a, n in found.items() if n > 1] == [], f"{topic}: alerts doubled"
    assert codes[-1] == 0
