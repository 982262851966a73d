"""Watch rules on the real broker: live deployment without a restart, once per story,
and backtests read from a topic.

The tests that change what the worker does (a pushed rule set, a silence) run a worker of
their own; the others share one and each replays articles no other test replays, so no
test's stories are another's duplicates and the tests run in any order.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.rules.files import load_rules
from monitor.tagging.tagger import Tagger
from monitor.tagging.taxonomy import load_taxonomy
from monitor.text.article import Article, article_from_text
from monitor.text.nlp import load_pipeline
from tests.conftest import SEED, free_port
from tests.integration.processes import (
    Worker,
    get_json,
    kcat_read,
    newsmon_env,
    run_newsmon,
    running_worker,
    wait_for,
)

pytestmark = pytest.mark.broker
DEFAULT_RULES = Path(__file__).resolve().parents[2] / "monitor" / "data" / "watchlists.yaml"


def _worker(tmp: Path, bootstrap: str, name: str) -> Iterator[Worker]:
    prefix = f"{name}{free_port()}."
    env = newsmon_env(
        bootstrap,
        prefix,
        NEWSMON_BATCH_WINDOW="0.1",
        NEWSMON_NER="false",
        NEWSMON_SPACY_MODEL="blank",
    )
    with running_worker(env, free_port(), tmp) as worker:
        yield worker


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, bootstrap: str) -> Iterator[Worker]:
    """A worker shared by the tests that only replay their own articles."""
    yield from _worker(tmp_path_factory.mktemp("live"), bootstrap, "live")


@pytest.fixture
def own(tmp_path_factory: pytest.TempPathFactory, bootstrap: str) -> Iterator[Worker]:
    """A worker of the test's own, for a test that changes its rules or silences."""
    yield from _worker(tmp_path_factory.mktemp("own"), bootstrap, "own")


def _replay(worker: Worker, path: Path, *articles: dict[str, str]) -> None:
    path.write_text("".join(json.dumps(a) + "\n" for a in articles))
    assert run_newsmon(worker.env, "replay", str(path)).returncode == 0


#: An air-defence pause story (not the seed's): it raises us-air-defence-pause (high).
PAUSE = {
    "title": "Pentagon halts air defence shipments to Ukraine",
    "body": "The Pentagon has halted shipments of Patriot interceptors and other air "
    "defence missiles to Ukraine, officials said, pending a review of stocks held by the "
    "United States.",
}


def _alerts(worker: Worker, route: str = "news.alerts") -> list[dict[str, Any]]:
    prefix = worker.env["NEWSMON_TOPIC_PREFIX"]
    return [json.loads(v) for v in kcat_read(worker.env["NEWSMON_KAFKA_BOOTSTRAP"], prefix + route)]


def _suppressed(worker: Worker) -> float:
    text = _metrics(worker)
    pattern = r'^newsmon_alerts_suppressed_total\{[^}]*reason="duplicate_story"[^}]*\} (\S+)$'
    return sum(float(v) for v in re.findall(pattern, text, re.MULTILINE))


def _metrics(worker: Worker) -> str:
    import urllib.request

    with urllib.request.urlopen(worker.metrics_url, timeout=5) as response:
        return str(response.read().decode())


def test_three_outlets_of_one_story_raise_one_alert_per_rule(live: Worker, tmp_path: Path) -> None:
    seed = article_from_text(SEED.read_text(encoding="utf-8"))
    paragraphs = seed.body.split("\n")
    outlets = [
        {"id": "outlet-a-1", "source": "outlet-a.example", "title": seed.title, "body": seed.body},
        {
            "id": "outlet-b-7",
            "source": "outlet-b.example",
            "title": seed.title,
            "body": "LONDON (Reuters) - " + seed.body,
        },
        {
            "id": "outlet-c-3",
            "source": "outlet-c.example",
            "title": "UK to host coalition of the willing as Pentagon pauses air defence shipments",
            "body": "\n".join(paragraphs[:-1]),
        },
    ]
    feed = tmp_path / "outlets.jsonl"
    feed.write_text("".join(json.dumps(o) + "\n" for o in outlets))
    expected = _rules_matching(outlets[0])
    before = _suppressed(live)
    assert run_newsmon(live.env, "replay", str(feed)).returncode == 0

    ids = {o["id"] for o in outlets}

    def ours() -> list[dict[str, Any]]:
        return [a for a in _alerts(live) if a["article"]["id"] in ids]

    # Candidates of different rules travel in different partitions: wait for all of them.
    wait_for(
        lambda: {a["rule"]["id"] for a in ours()} >= expected,
        90,
        "an alert of every matching rule",
    )
    wait_for(lambda: _suppressed(live) - before >= 2 * len(expected), 60, "the suppressed copies")
    alerts = ours()
    per_rule = Counter(a["rule"]["id"] for a in alerts)
    assert set(per_rule) == expected
    assert set(per_rule.values()) == {1}, per_rule
    assert {a["article"]["id"] for a in alerts} == {"outlet-a-1"}
    assert _suppressed(live) - before == 2 * len(expected)


def _rules_matching(record: dict[str, str]) -> set[str]:
    """The rules the stream's own code raises on an article (blank pipeline, as the worker)."""
    pipeline = load_pipeline("blank", ner=False)
    tagger = Tagger(load_taxonomy())
    analyzed = pipeline.analyze_one(Article(record["id"], record["title"], record["body"]))
    ruleset = load_rules(DEFAULT_RULES, tagger.taxonomy.names)
    return {m.rule.id for m in ruleset.match(analyzed, tagger.tag(analyzed))}


def test_pushed_rules_apply_without_a_restart(own: Worker, tmp_path: Path) -> None:
    _replay(own, tmp_path / "before.jsonl", {"id": "pause-1", **PAUSE})
    before_push = wait_for(
        lambda: [a for a in _alerts(own) if a["rule"]["id"] == "us-air-defence-pause"],
        90,
        "an alert of the rule before the push",
    )
    assert before_push[0]["rule"]["severity"] == "high"
    changed = DEFAULT_RULES.read_text().replace("severity: high", "severity: critical", 1)
    changed += """
  - name: seed-watch
    route: alerts.seed-watch
    rules:
      - id: downing-street-silent
        query: '"Downing Street" NEAR/4 comment*'
        must_match: ["Downing Street has not yet commented publicly."]
        must_not_match: ["Downing Street was closed."]
"""
    rules = tmp_path / "rules.yaml"
    rules.write_text(changed)
    pid = own.process.pid
    before = get_json(f"http://127.0.0.1:{own.port}/health")["ruleset_version"]
    pushed = run_newsmon(own.env, "rules", "push", str(rules))
    assert pushed.returncode == 0, pushed.stderr
    version = re.search(r"pushed rule set (\w+)", pushed.stdout)
    assert version
    assert version.group(1) != before
    wait_for(
        lambda: (
            get_json(f"http://127.0.0.1:{own.port}/health")["ruleset_version"] == version.group(1)
        ),
        30,
        "the worker to apply the pushed rule set",
    )

    # A new story: an edited rule keeps its story state, so only new stories alert again.
    _replay(
        own,
        tmp_path / "fresh.jsonl",
        {"id": "pause-1-copy", **PAUSE},
        {
            "id": "pentagon-halt-2",
            "title": "Pentagon pauses air defence deliveries as Downing Street stays silent",
            "body": "The United States has paused deliveries of air defence systems to "
            "Kyiv, the Pentagon confirmed on Tuesday. Downing Street has not commented on "
            "the pause, which Ukrainian officials called a blow to the country's defences.",
        },
    )
    routed = wait_for(lambda: _alerts(own, "alerts.seed-watch"), 90, "the new rule's alert")
    assert routed[0]["rule"]["id"] == "downing-street-silent"
    pause = wait_for(
        lambda: [
            a
            for a in _alerts(own)
            if a["rule"]["id"] == "us-air-defence-pause" and a["rule"]["severity"] == "critical"
        ],
        60,
        "the changed rule",
    )
    assert [a["article"]["id"] for a in pause] == ["pentagon-halt-2"], "the copy is a duplicate"
    assert pause[0]["rule"]["version"] != before_push[0]["rule"]["version"]
    assert own.process.poll() is None, "no restart"
    assert own.process.pid == pid


def test_backtest_reads_the_articles_topic(live: Worker, tmp_path: Path) -> None:
    _replay(live, tmp_path / "backtest.jsonl", {"id": "backtest-1", **PAUSE})
    result = run_newsmon(
        live.env,
        "rules",
        "test",
        str(DEFAULT_RULES),
        "--topic",
        "news.articles",
        "--json",
        "--no-ner",
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_id = {line["id"]: line for line in lines}
    assert {m["rule_id"] for m in by_id["backtest-1"]["matches"]} >= {"us-air-defence-pause"}
    for match in by_id["backtest-1"]["matches"]:
        assert match["matches"], "every rule match explains itself"


def test_a_silence_suppresses_alerts_of_its_watchlist(own: Worker, tmp_path: Path) -> None:
    added = run_newsmon(
        own.env,
        "silence",
        "add",
        "--watchlist",
        "ceasefire-talks",
        "--for",
        "1h",
        "--comment",
        "test",
    )
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.split()[1]
    listed = run_newsmon(own.env, "silence", "list")
    assert silence_id[:6] in listed.stdout
    time.sleep(3)  # the worker follows the silences topic once a second
    story = tmp_path / "truce.json"
    story.write_text(
        json.dumps(
            {
                "id": "truce-talks-stall-9",
                "title": "Ceasefire talks with Moscow stall again",
                "body": "Ceasefire negotiations between Kyiv and Moscow stalled on Friday "
                "after Russia refused a truce along the front line, Ukraine's foreign "
                "ministry said.",
            }
        )
    )
    assert run_newsmon(own.env, "replay", str(story)).returncode == 0
    rule = "ceasefire-talks/ceasefire-talks-stall"  # <watchlist>/<rule id>
    pattern = rf'newsmon_rule_outcomes_total\{{outcome="silenced",rule="{rule}"\}}'
    wait_for(lambda: re.search(pattern, _metrics(own)), 60, "the silenced outcome")
    assert not [a for a in _alerts(own) if a["article"]["id"] == "truce-talks-stall-9"]


def test_tail_follows_a_route_filtered_by_severity(live: Worker, tmp_path: Path) -> None:
    _replay(
        live,
        tmp_path / "tail.jsonl",
        {
            "id": "tail-1",
            "title": "Washington suspends air defence aid to Kyiv",
            "body": "The United States will suspend air defence aid to Ukraine for a month, "
            "the Pentagon said, as it checks its own stocks of interceptor missiles.",
        },
    )
    args = (
        "alerts",
        "tail",
        "--route",
        "alerts.air-defence",
        "--from-beginning",
        "--max",
        "1",
        "--timeout",
        "60",
    )
    shown = run_newsmon(live.env, *args, "--severity", "high")
    assert shown.returncode == 0, shown.stderr
    assert "us-air-defence-pause" in shown.stdout
    assert "[HIGH]" in shown.stdout or "[CRITICAL]" in shown.stdout
    as_json = run_newsmon(live.env, *args, "--json")
    assert json.loads(as_json.stdout.splitlines()[0])["rule"]["watchlist"] == "ukraine-air-defence"
    none = run_newsmon(
        live.env,
        "alerts",
        "tail",
        "--route",
        "alerts.air-defence",
        "--severity",
        "critical",
        "--from-beginning",
        "--timeout",
        "5",
        "--max",
        "1000",
    )
    assert none.returncode == 1, "fewer alerts than --max within --timeout"
