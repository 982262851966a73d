"""End to end on real parts: Kafka broker, `newsmon worker`, `newsmon replay`, kcat, Prometheus.

The seed article goes in through the CLI; its alert is read back by kcat, a client we
did not write, and checked against the alert JSON Schema; Prometheus scrapes the worker.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from monitor.text.article import article_from_text
from tests.conftest import CORPUS, ROOT, SEED, free_port, skip_or_fail
from tests.integration.dashboard import dashboard_queries
from tests.integration.processes import (
    Worker,
    get_json,
    kcat_read,
    newsmon_env,
    prom_query,
    run_newsmon,
    running_prometheus,
    running_worker,
    stop,
    wait_for,
)

pytestmark = [pytest.mark.broker, pytest.mark.e2e]
BAD_INPUT = [b"{broken json", b"\xff\xfe\xfa", b'{"title": 42}']
#: The seed's alerts under the default watchlists, rule id -> route topic (the offline path,
#: `newsmon rules test monitor/data/watchlists.yaml --against seeds/`, gives the same four).
SEED_ALERTS = {
    "us-air-defence-pause": "alerts.air-defence",
    "ceasefire-talks-stall": "alerts.ceasefire-talks",
    "coalition-summit": "alerts.coalition",
    "coalition-reassurance-force": "alerts.coalition",
}


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory, bootstrap: str) -> Iterator[tuple[Worker, str]]:
    """One worker that has taken the seed (through `newsmon replay`) and three bad messages
    (straight onto the articles topic): every test of the module reads what that left, in
    any order."""
    for tool in ("kcat", "prometheus"):
        if shutil.which(tool) is None:
            skip_or_fail(f"{tool} is not installed (make system-deps)")
    prefix = f"e2e{free_port()}."
    env = newsmon_env(bootstrap, prefix, NEWSMON_BATCH_WINDOW="0.1")
    with running_worker(env, free_port(), tmp_path_factory.mktemp("e2e")) as worker:
        replayed = run_newsmon(worker.env, "replay", "seeds/")
        assert replayed.returncode == 0, replayed.stderr
        assert "replayed 1 articles" in replayed.stderr
        asyncio.run(_publish(bootstrap, f"{prefix}news.articles", BAD_INPUT))
        wait_for(
            partial(_at_least, bootstrap, f"{prefix}news.alerts", len(SEED_ALERTS)),
            120,
            "the seed's four alerts on news.alerts",
        )
        yield worker, prefix


async def _publish(bootstrap: str, topic: str, values: list[bytes], key: bytes = b"bad") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def _alerts(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in kcat_read(bootstrap, topic)]


def _of_article(
    bootstrap: str, topic: str, article_id: str, count: int
) -> list[dict[str, Any]] | None:
    """The alerts of one article on ``topic`` once there are ``count`` (more fail the caller)."""
    found = [a for a in _alerts(bootstrap, topic) if a["article"]["id"] == article_id]
    return found if len(found) >= count else None


def _at_least(bootstrap: str, topic: str, count: int) -> list[dict[str, Any]] | None:
    """The alerts on ``topic`` once there are ``count`` of them (more fail the caller)."""
    found = _alerts(bootstrap, topic)
    return found if len(found) >= count else None


def test_seed_article_raises_an_alert_read_by_kcat(
    e2e: tuple[Worker, str], bootstrap: str, alert_schema: Any
) -> None:
    _, prefix = e2e
    seed = article_from_text(SEED.read_text(encoding="utf-8"))
    alerts = wait_for(
        partial(_of_article, bootstrap, f"{prefix}news.alerts", seed.id, len(SEED_ALERTS)),
        120,
        "the seed's four alerts on news.alerts",
    )
    # Exactly the alerts the offline path gives (`newsmon rules test`), each once, and each
    # once more on its watchlist's route topic. (Other tests replay other articles.)
    assert sorted(a["rule"]["id"] for a in alerts) == sorted(SEED_ALERTS)
    for route in sorted(set(SEED_ALERTS.values())):
        wanted = sorted(rule for rule, to in SEED_ALERTS.items() if to == route)
        copies = wait_for(
            partial(_of_article, bootstrap, prefix + route, seed.id, len(wanted)),
            60,
            f"the seed's alerts on {route}",
        )
        assert sorted(a["rule"]["id"] for a in copies) == wanted, route
        assert {a["alert_id"] for a in copies} <= {a["alert_id"] for a in alerts}
    for alert in alerts:
        alert_schema.validate(alert)
        assert alert["article"]["id"] == seed.id
        assert {t["name"] for t in alert["topics"]} == {"air_defence", "coalition"}
        assert all(0 < t["confidence"] <= 1 for t in alert["topics"])
        for match in alert["matches"]:
            text = seed.title if match["field"] == "title" else seed.body
            found = text[match["start"] : match["end"]]
            assert found, match
            assert " ".join(found.split()) in match["snippet"]
    canonical = {e["canonical"] for e in alerts[0]["entities"]}
    assert {"Emmanuel Macron", "Keir Starmer", "Volodymyr Zelenskyy", "Donald Trump"} <= canonical
    assert {"Rome", "Moscow", "London"} <= canonical  # not in the alias table: NER ran

    rule_routes = {a["rule"]["watchlist"] for a in alerts}
    assert rule_routes, "alerts name their watchlist"


def test_prometheus_scrapes_the_worker(e2e: tuple[Worker, str], tmp_path: Path) -> None:
    worker, _ = e2e
    wait_for(
        lambda: b"newsmon_alerts_raised_total{" in _fetch(worker.metrics_url),
        120,
        "an alert counted on /metrics",
    )
    with running_prometheus([f"127.0.0.1:{worker.port}"], tmp_path, free_port()) as url:
        result = wait_for(
            lambda: prom_query(url, "sum(newsmon_alerts_raised_total) >= 1"),
            60,
            "newsmon_alerts_raised_total >= 1 in Prometheus",
        )
        assert float(result[0]["value"][1]) >= 1
        faust = prom_query(url, '{__name__=~"newsmon_.*", job="newsmon"}')
        assert len({s["metric"]["__name__"] for s in faust}) > 10


def _fetch(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as response:
        return bytes(response.read())


async def _dead_letters(bootstrap: str, topic: str, want: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Any] = []
    try:
        for _ in range(120):
            batch = await consumer.getmany(timeout_ms=1000)
            found.extend(m for messages in batch.values() for m in messages)
            if len(found) >= want:
                break
    finally:
        await consumer.stop()
    return found


def test_bad_input_reaches_the_dead_letter_topic(e2e: tuple[Worker, str], bootstrap: str) -> None:
    worker, prefix = e2e
    letters = asyncio.run(_dead_letters(bootstrap, f"{prefix}news.deadletter", len(BAD_INPUT)))
    assert sorted(m.value for m in letters) == sorted(BAD_INPUT)
    reasons = {m.value: dict(m.headers)["newsmon-reason"].decode() for m in letters}
    assert reasons == {
        BAD_INPUT[0]: "bad_json",
        BAD_INPUT[1]: "bad_encoding",
        BAD_INPUT[2]: "schema:title",
    }
    for message in letters:
        headers = dict(message.headers)
        assert headers["newsmon-source-topic"] == f"{prefix}news.articles".encode()
        assert int(headers["newsmon-source-offset"]) >= 0
    assert worker.process.poll() is None, "bad input must not stop the worker"


def _corpus_sample(limit: int) -> list[dict[str, Any]]:
    """Real articles from ../shared/corpus (RUWA: short, on the monitored topics), if present."""
    if not CORPUS.exists():
        return []
    sample = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            if record["corpus"] == "RUWA" and (record["title"] or record["text"]):
                sample.append(record)
                if len(sample) == limit:
                    break
    return sample


def test_every_panel_and_recording_rule_returns_data(
    e2e: tuple[Worker, str], tmp_path: Path
) -> None:
    worker, prefix = e2e
    # An analyst's verdict on a seed alert, as the desk writes it: the precision panel's data.
    [alert, *_] = _alerts(worker.env["NEWSMON_KAFKA_BOOTSTRAP"], f"{prefix}news.alerts")
    verdict = {
        "alert_id": alert["alert_id"],
        "user": "local",
        "verdict": "relevant",
        "topic": None,
        "note": "",
        "at": datetime.now(UTC).isoformat(),
        "rule": {k: alert["rule"][k] for k in ("id", "version", "watchlist")},
        "article_id": alert["article"]["id"],
        "story_id": alert["story_id"],
    }
    asyncio.run(
        _publish(
            worker.env["NEWSMON_KAFKA_BOOTSTRAP"],
            f"{prefix}news.feedback",
            [json.dumps(verdict).encode()],
            key=f"{alert['alert_id']}/local".encode(),
        )
    )
    seed = article_from_text(SEED.read_text(encoding="utf-8"))
    copy = {
        "id": "seed-wire-copy",
        "title": seed.title,
        "body": "LONDON - " + seed.body,
        "published_at": datetime.now(UTC).isoformat(),
        "source": "wire.example",
    }
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps(r) + "\n" for r in [copy, *_corpus_sample(150)]))
    rules = ROOT / "deploy" / "prometheus" / "rules" / "newsmon.rules.yml"
    port = free_port()
    with running_prometheus([f"127.0.0.1:{worker.port}"], tmp_path, port, [rules]) as url:
        wait_for(lambda: prom_query(url, 'up{job="newsmon"} == 1'), 60, "a first scrape")
        replayed = run_newsmon(worker.env, "replay", str(feed))
        assert replayed.returncode == 0, replayed.stderr
        wait_for(
            lambda: prom_query(url, "sum(newsmon_alerts_suppressed_total) > 0"),
            120,
            "the wire copy counted as suppressed",
        )
        wait_for(
            lambda: prom_query(url, "newsmon:articles_received:rate1m > 0"),
            60,
            "recording rules evaluated",
        )
        wait_for(lambda: prom_query(url, "newsmon_rule_precision"), 30, "the verdict scraped")
        empty = [title for title, expr in dashboard_queries() if not prom_query(url, expr)]
        assert not empty, f"panels without data: {empty}"
        records = re.findall(r"^\s*- record: (\S+)$", rules.read_text(), re.MULTILINE)
        assert records
        # A rate needs two samples of a series: give the newest series a few evaluations.
        wait_for(
            lambda: all(prom_query(url, name) for name in records),
            30,
            "every recording rule to return data",
        )
        silent = [name for name in records if not prom_query(url, name)]
        assert not silent, f"recording rules without data: {silent}"


def test_worker_stops_cleanly_on_sigterm(bootstrap: str, tmp_path: Path) -> None:
    """A worker of its own (the module's worker serves the other tests), stopped after work."""
    prefix = f"stop{free_port()}."
    env = newsmon_env(
        bootstrap,
        prefix,
        NEWSMON_BATCH_WINDOW="0.1",
        NEWSMON_SPACY_MODEL="blank",
        NEWSMON_NER="false",
    )
    with running_worker(env, free_port(), tmp_path) as worker:
        replayed = run_newsmon(worker.env, "replay", "seeds/")
        assert replayed.returncode == 0, replayed.stderr
        wait_for(
            partial(_at_least, bootstrap, f"{prefix}news.alerts", 1),
            120,
            "an alert from the worker to stop",
        )
        assert stop(worker) == 0, worker.log.read_text()[-3000:]


def test_the_worker_serves_only_metrics_and_health(e2e: tuple[Worker, str]) -> None:
    worker, _ = e2e
    base = f"http://127.0.0.1:{worker.port}"
    health = wait_for(
        lambda: (h := get_json(f"{base}/health"))["kafka"]["last_answer_s_ago"] is not None and h,
        30,
        "the worker's first question to Kafka",
    )
    assert health["status"] == "ok"
    assert health["partitions"] > 0
    assert health["kafka"]["error"] is None
    assert health["last_batch_s_ago"] is not None
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
        assert b"newsmon_articles_received_total" in response.read()
    # Faust's own pages would show the story table and the partition routing, and its
    # index at / would answer "OK" whatever the worker's state.
    for path in ("/", "/table/stories/", "/router/", "/graph/", "/stats/", "/performance/"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}{path}", timeout=5)
        assert refused.value.code == 404, path
