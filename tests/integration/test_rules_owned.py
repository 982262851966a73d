"""Rule sets each analyst owns, on the real broker: two pushes of different watchlists
both stay applied on the worker, a rule set pushed under the old single key is migrated
and keeps alerting, two watchlists' rules of one id both alert on a story (alert ids of
their own), and `rules remove` withdraws one watchlist only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from tests.conftest import free_port
from tests.integration.processes import (
    Worker,
    get_json,
    kcat_read,
    quick_env,
    run_newsmon,
    running_worker,
    wait_for,
)

pytestmark = pytest.mark.broker


def _watchlist(name: str, rule: str, marker: str) -> str:
    return f"""\
  - name: {name}
    rules:
      - id: {rule}
        query: '"{marker}"'
        severity: high
        must_match: ["A {marker} in the text."]
        must_not_match: ["Nothing to see."]
"""


@pytest.fixture
def workers(bootstrap: str, prefix: str, tmp_path: Path) -> Iterator[tuple[Worker, Worker]]:
    env = quick_env(bootstrap, prefix)
    with (
        running_worker(env, free_port(), tmp_path) as one,
        running_worker(env, free_port(), tmp_path) as two,
    ):
        yield one, two


async def _publish_legacy(bootstrap: str, topic: str, source: str) -> None:
    """A rule set as `rules push` published it before watchlists had keys of their own."""
    record = {
        "version": "0" * 12,
        "origin": "old-rules.yaml",
        "pushed_at": datetime.now(UTC).isoformat(),
        "rules": 1,
        "source": source,
    }
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, json.dumps(record).encode(), key=b"ruleset")
    finally:
        await producer.stop()


def _push(worker: Worker, path: Path, text: str) -> str:
    path.write_text("watchlists:\n" + text)
    pushed = run_newsmon(worker.env, "rules", "push", str(path))
    assert pushed.returncode == 0, pushed.stderr
    return pushed.stdout


def _applied(workers: tuple[Worker, Worker], pushed: str, what: str) -> str:
    """The version a `rules push` printed, once every worker's /health reports it."""
    version = pushed.split("pushed rule set ", 1)[1].split(maxsplit=1)[0]
    wait_for(
        lambda: all(
            get_json(f"http://127.0.0.1:{w.port}/health")["ruleset_version"] == version
            for w in workers
        ),
        30,
        what,
    )
    return version


def _alerts(bootstrap: str, prefix: str) -> list[dict[str, Any]]:
    return [json.loads(v) for v in kcat_read(bootstrap, f"{prefix}news.alerts")]


STORIES = {
    "one": "Fishermen found a {} near the harbour wall on Monday morning.",
    "three": "A {} washed up on the northern beach, far from any shipping lane, say coast "
    "guards who closed the shore to walkers until the weekend.",
    "two": "Inspectors say the {} was moved overnight to a depot outside the city, "
    "where engineers will examine it after the holiday weekend.",
}


def _replay(worker: Worker, path: Path, *markers: str) -> None:
    """One article per marker; each file tells a story of its own (no near-duplicates)."""
    lines = [
        {"id": f"{m}-{i}-{path.stem}", "title": f"Report {i}", "body": STORIES[path.stem].format(m)}
        for i, m in enumerate(markers)
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    replayed = run_newsmon(worker.env, "replay", str(path))
    assert replayed.returncode == 0, replayed.stderr


def test_analysts_own_their_watchlists(
    workers: tuple[Worker, Worker], bootstrap: str, prefix: str, tmp_path: Path
) -> None:
    import asyncio

    worker = workers[0]

    legacy = "watchlists:\n" + _watchlist("legacy", "legacy-rule", "legacy marker")
    asyncio.run(_publish_legacy(bootstrap, f"{prefix}newsmon.rules", legacy))
    first = _push(
        worker, tmp_path / "alpha.yaml", _watchlist("alpha", "alpha-rule", "alpha marker")
    )
    assert "alpha: new watchlist, 1 rules" in first
    assert "other watchlists deployed, untouched: legacy" in first
    second = _push(
        worker, tmp_path / "bravo.yaml", _watchlist("bravo", "bravo-rule", "bravo marker")
    )
    assert "untouched: alpha, legacy" in second
    version = _applied(workers, second, "every worker to apply the union")
    _replay(worker, tmp_path / "one.jsonl", "alpha marker", "bravo marker", "legacy marker")
    raised = wait_for(
        lambda: {a["rule"]["watchlist"] for a in _alerts(bootstrap, prefix)} >= {
            "alpha", "bravo", "legacy"
        },
        90,
        "an alert of each watchlist",
    )  # fmt: skip
    assert raised
    # The topic's state: each watchlist under its own key, the legacy key retired.
    latest = dict(
        line.split("\t") for line in kcat_read(bootstrap, f"{prefix}newsmon.rules", fmt="%k\t%S\n")
    )
    assert latest.pop("ruleset") == "-1"  # a tombstone
    assert sorted(latest) == ["watchlist/alpha", "watchlist/bravo", "watchlist/legacy"]
    assert all(int(size) > 0 for size in latest.values())

    # Rule ids are unique per watchlist: bravo may hold a rule named like alpha's, and
    # both alert on the same story, each with an alert id of its own.
    third = _push(
        worker,
        tmp_path / "bravo.yaml",
        _watchlist("bravo", "bravo-rule", "bravo marker")
        + _watchlist("bravo", "alpha-rule", "alpha marker").split("    rules:\n", 1)[1],
    )
    assert "bravo: added alpha-rule" in third
    version = _applied(workers, third, "every worker to apply bravo's second rule")
    _replay(worker, tmp_path / "three.jsonl", "alpha marker")

    def shared() -> list[dict[str, Any]]:
        return [a for a in _alerts(bootstrap, prefix) if a["article"]["id"].endswith("-three")]

    wait_for(lambda: len(shared()) >= 2, 90, "alpha's and bravo's alpha-rule alerts")
    assert sorted((a["rule"]["watchlist"], a["rule"]["id"]) for a in shared()) == [
        ("alpha", "alpha-rule"),
        ("bravo", "alpha-rule"),
    ]
    assert len({a["alert_id"] for a in shared()}) == 2

    removed = run_newsmon(worker.env, "rules", "remove", "alpha")
    assert removed.returncode == 0, removed.stderr
    assert run_newsmon(worker.env, "rules", "remove", "alpha").returncode == 2
    wait_for(
        lambda: all(
            get_json(f"http://127.0.0.1:{w.port}/health")["ruleset_version"] != version
            for w in workers
        ),
        30,
        "every worker to drop alpha",
    )
    _replay(worker, tmp_path / "two.jsonl", "alpha marker", "bravo marker")
    wait_for(
        lambda: sum(a["article"]["id"].endswith("-two") for a in _alerts(bootstrap, prefix)) >= 2,
        90,
        "bravo's alerts after the removal",
    )
    after = [a for a in _alerts(bootstrap, prefix) if a["article"]["id"].endswith("-two")]
    assert sorted((a["rule"]["watchlist"], a["rule"]["id"]) for a in after) == [
        ("bravo", "alpha-rule"),
        ("bravo", "bravo-rule"),
    ]
