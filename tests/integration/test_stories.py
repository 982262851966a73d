"""Stories on the real broker: wire copies of the seed from three sources make one story
record on news.stories, one rule alert and one story update per threshold on
news.alerts, all read back by kcat."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from monitor.text.article import article_from_text
from tests.conftest import SEED, free_port
from tests.integration.processes import (
    kcat_read,
    quick_env,
    run_newsmon,
    running_worker,
    wait_for,
)

pytestmark = pytest.mark.broker
RULES = """\
watchlists:
  - name: desk
    story_updates:
      - sources: 2
      - {articles: 3, within: 1h}
    rules:
      - id: willing
        query: '"coalition of the willing"'
        severity: high
"""


def _records(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in kcat_read(bootstrap, topic)]


def _at_least(bootstrap: str, topic: str, count: int) -> list[dict[str, Any]] | None:
    found = _records(bootstrap, topic)
    return found if len(found) >= count else None


def _replay(env: dict[str, str], path: Path, *sources: str) -> None:
    seed = article_from_text(SEED.read_text(encoding="utf-8"))
    lines = [
        json.dumps(
            {"id": f"{seed.id}-{source}", "title": seed.title, "body": seed.body, "source": source}
        )
        for source in sources
    ]
    path.write_text("\n".join(lines) + "\n")
    replayed = run_newsmon(env, "replay", str(path))
    assert replayed.returncode == 0, replayed.stderr


def test_copies_from_three_sources_make_one_story_one_alert_and_two_updates(
    bootstrap: str, tmp_path: Path, alert_schema: Any
) -> None:
    prefix = f"stories{free_port()}."
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    env = quick_env(
        bootstrap,
        prefix,
        rules,
    )
    alerts_topic = f"{prefix}news.alerts"
    with running_worker(env, free_port(), tmp_path) as worker:
        _replay(worker.env, tmp_path / "a.jsonl", "wire-a")
        wait_for(partial(_at_least, bootstrap, alerts_topic, 1), 120, "the rule alert")
        _replay(worker.env, tmp_path / "b.jsonl", "wire-b")
        wait_for(partial(_at_least, bootstrap, alerts_topic, 2), 120, "the sources update")
        _replay(worker.env, tmp_path / "c.jsonl", "wire-c")
        alerts = wait_for(partial(_at_least, bootstrap, alerts_topic, 3), 120, "the second update")
        stories = wait_for(
            lambda: (
                [s for s in _records(bootstrap, f"{prefix}news.stories") if s["articles"] == 3]
                or None
            ),
            60,
            "the story record with three articles",
        )
    for alert in alerts:
        alert_schema.validate(alert)
    [first] = [a for a in alerts if a["kind"] == "rule"]
    assert first["story"]["sources"] == 1
    assert first["article"]["source"] == "wire-a"
    updates = sorted(
        (a["story"]["sources"], a["update"]["threshold"], a["article"]["source"])
        for a in alerts
        if a["kind"] == "story_update"
    )
    assert updates == [(2, "sources>=2", "wire-b"), (3, "articles>=3/1h", "wire-c")]
    assert {a["story_id"] for a in alerts} == {first["story_id"]}
    assert len({a["alert_id"] for a in alerts}) == 3
    routed = _records(bootstrap, f"{prefix}alerts.desk")
    assert sorted(a["alert_id"] for a in routed) == sorted(a["alert_id"] for a in alerts)
    story = stories[-1]
    assert story["story_id"] == first["story_id"]
    assert story["sources"] == ["wire-a", "wire-b", "wire-c"]
    assert len(story["member_ids"]) == 3
    keys = kcat_read(bootstrap, f"{prefix}news.stories", fmt="%k\n")
    assert set(keys) == {first["story_id"]}, "one story, keyed by its id"
