"""`newsmon desk` on the real broker: it loads and follows the alert topics, serves the
contract's API, streams new alerts, writes verdicts to news.feedback (read back by kcat),
serves an Atom feed, and refuses what it must (wrong type, foreign origin, no token)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import feedparser
import pytest
from aiokafka import AIOKafkaProducer
from jsonschema import Draft202012Validator

from tests.conftest import free_port
from tests.integration.processes import (
    NEWSMON,
    get_json,
    kcat_read,
    newsmon_env,
    quick_env,
    run_newsmon,
    running_desk,
    running_worker,
    wait_for,
)

pytestmark = pytest.mark.broker


def _text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def _post(url: str, body: Any, **headers: str) -> tuple[int, str]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if not isinstance(body, bytes) else body,
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


class EventReader(threading.Thread):
    """Collects the events of ``/api/events`` as (event, data) pairs."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.response = urllib.request.urlopen(url, timeout=120)
        self.events: list[tuple[str, dict[str, Any]]] = []

    def run(self) -> None:
        event = ""
        for raw in self.response:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                self.events.append((event, json.loads(line[len("data: ") :])))


def test_the_desk_shows_streams_judges_and_feeds_alerts(  # noqa: PLR0917 - fixtures
    bootstrap: str,
    prefix: str,
    tmp_path: Path,
    alert_schema: Draft202012Validator,
    feedback_schema: Draft202012Validator,
    triage_schema: Draft202012Validator,
) -> None:
    env = quick_env(bootstrap, prefix)
    with (
        running_worker(env, free_port(), tmp_path) as worker,
        running_desk(worker.env, tmp_path) as desk,
    ):
        assert get_json(f"{desk}/api/alerts") == []
        page = urllib.request.urlopen(f"{desk}/", timeout=5).read().decode()
        assert "<title>newsmon desk</title>" in page
        stream = EventReader(f"{desk}/api/events")
        stream.start()
        replayed = run_newsmon(worker.env, "replay", "seeds/")
        assert replayed.returncode == 0, replayed.stderr
        started = time.monotonic()
        alerts = wait_for(lambda: get_json(f"{desk}/api/alerts"), 60, "the seed's alerts")
        shown_after = time.monotonic() - started
        time.sleep(2)  # the seed raises several alerts (one per matching rule)
        alerts = get_json(f"{desk}/api/alerts")
        raised = [a["raised_at"] for a in alerts]
        assert raised == sorted(raised, reverse=True)
        for alert in alerts:
            alert_schema.validate(alert)
            for match in alert["matches"]:
                start, end = match["mark"]
                assert 0 <= start < end <= len(match["snippet"])
        wait_for(lambda: len(stream.events) == len(alerts), 10, "the alerts on the event stream")
        assert sorted(stream.events, key=lambda e: e[1]["alert_id"]) == sorted(
            (("alert", a) for a in alerts), key=lambda e: e[1]["alert_id"]
        )
        print(f"desk: the seed's first alert listed {shown_after:.1f} s after the replay ended")

        alert = alerts[-1]
        watchlist = alert["rule"]["watchlist"]
        same_list = [a for a in alerts if a["rule"]["watchlist"] == watchlist]
        assert get_json(f"{desk}/api/alerts?watchlist={watchlist}") == same_list
        assert get_json(f"{desk}/api/alerts?watchlist=no-such-list") == []
        assert get_json(f"{desk}/api/alerts?severity=info") == alerts
        assert get_json(f"{desk}/api/alerts?limit=1") == alerts[:1]
        rule_name = alert["rule"]["name"].split()[-1]
        assert alert in get_json(f"{desk}/api/alerts?q={urllib.parse.quote(rule_name)}")

        url = f"{desk}/api/alerts/{alert['alert_id']}/feedback"
        status, body = _post(url, {"verdict": "not_relevant", "note": "a seed, not news"})
        assert status == 202, body
        record = json.loads(body)
        feedback_schema.validate(record)
        assert (record["user"], record["verdict"]) == ("local", "not_relevant")
        on_topic = [json.loads(v) for v in kcat_read(bootstrap, f"{prefix}news.feedback")]
        assert on_topic == [record]
        wait_for(lambda: get_json(url), 10, "the verdict read back by the desk")
        assert get_json(url) == [record]
        wait_for(lambda: ("feedback", record) in stream.events, 10, "the verdict on the stream")
        judged = (
            f'newsmon_rule_precision{{rule="{alert["rule"]["id"]}",watchlist="{watchlist}"}} 0.0'
        )
        wait_for(
            lambda: judged in _text(worker.metrics_url), 30, "the rule's precision on /metrics"
        )
        # A topic verdict on another alert becomes a reading of the labelled data.
        other = alerts[0]
        status, body = _post(
            f"{desk}/api/alerts/{other['alert_id']}/feedback",
            {"verdict": "missed_topic", "topic": "ceasefire", "note": "talks are the news"},
        )
        assert status == 202, body
        topic_verdict = json.loads(body)
        exported = run_newsmon(worker.env, "feedback", "export")
        assert exported.returncode == 0, exported.stderr
        shown = {t["name"] for t in other["topics"]}
        readings = [json.loads(line) for line in exported.stdout.splitlines()]
        assert readings == [
            {
                "id": other["article"]["id"],
                "reader": "desk:local",
                "round": "desk",
                "labels": sorted(shown | {"ceasefire"}),
                "note": "missed topic: ceasefire; talks are the news",
                "alert_id": other["alert_id"],
                "at": topic_verdict["at"],
            }
        ], exported.stderr
        assert "1 topic readings from 2 verdicts" in exported.stderr

        # Triage: acknowledged, then assigned; the latest state stands.
        work = f"{desk}/api/alerts/{alert['alert_id']}/triage"
        status, body = _post(work, {"state": "acknowledged"})
        assert status == 202, body
        status, body = _post(work, {"state": "assigned", "assignee": "Dana", "note": "on it"})
        assert status == 202, body
        assigned = json.loads(body)
        triage_schema.validate(assigned)
        assert (assigned["state"], assigned["assignee"], assigned["by"]) == (
            "assigned",
            "Dana",
            "local",
        )
        on_triage = [json.loads(v) for v in kcat_read(bootstrap, f"{prefix}news.triage")]
        assert [r["state"] for r in on_triage] == ["acknowledged", "assigned"]
        wait_for(lambda: get_json(f"{desk}/api/triage") == [assigned], 10, "the triage")
        still_open = get_json(f"{desk}/api/alerts?state=open&limit=1000")
        assert alert not in still_open
        assert len(still_open) == len(alerts) - 1
        assert get_json(f"{desk}/api/alerts?state=assigned") == [alert]
        assert _post(work, {"state": "assigned"})[0] == 400  # assigned to nobody
        assert _post(work, {"state": "closed"})[0] == 400

        refusals = [
            _post(
                url, b"verdict=relevant", **{"Content-Type": "application/x-www-form-urlencoded"}
            ),
            _post(url, {"verdict": "relevant"}, Origin="https://elsewhere.example"),
            _post(f"{desk}/api/alerts/{'0' * 24}/feedback", {"verdict": "relevant"}),
            _post(url, {"verdict": "great"}),
            _post(url, {"verdict": "wrong_topic"}),
        ]
        assert [code for code, _ in refusals] == [415, 403, 404, 400, 400], refusals
        with pytest.raises(urllib.error.HTTPError) as bad:
            urllib.request.urlopen(f"{desk}/api/alerts?severity=urgent", timeout=5)
        assert bad.value.code == 400

        feed = urllib.request.urlopen(f"{desk}/feeds/{watchlist}.atom", timeout=5)
        assert feed.headers["Content-Type"].startswith("application/atom+xml")
        parsed = feedparser.parse(feed.read())  # as feed readers parse it
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert parsed.version == "atom10"
        assert parsed.feed.title == f"newsmon alerts: {watchlist}"
        assert [e.id for e in parsed.entries] == [
            f"urn:newsmon:alert:{a['alert_id']}" for a in same_list
        ]
        assert parsed.entries[-1].title == alert["article"]["title"]
        assert parsed.entries[-1].updated_parsed is not None

    # A new desk rebuilds the same view, verdict included, from the topics alone.
    with running_desk(env, tmp_path) as desk:
        assert get_json(f"{desk}/api/alerts") == alerts
        assert get_json(f"{desk}/api/feedback") == [record, topic_verdict]
        assert get_json(f"{desk}/api/triage") == [assigned]


def test_a_desk_off_loopback_needs_a_token(bootstrap: str, prefix: str, tmp_path: Path) -> None:
    env = newsmon_env(bootstrap, prefix, NEWSMON_DESK_HOST="0.0.0.0")
    refused = run_newsmon(env, "desk", timeout=60)
    assert refused.returncode == 2
    assert refused.stderr.startswith(
        "newsmon: bad setting: NEWSMON_DESK_TOKEN or NEWSMON_DESK_USERS_FILE is required when"
    )
    token = "t0ken-for-the-desk-test"
    with running_desk({**env, "NEWSMON_DESK_TOKEN": token}, tmp_path) as desk:
        with pytest.raises(urllib.error.HTTPError) as anonymous:
            urllib.request.urlopen(f"{desk}/api/alerts", timeout=5)
        assert anonymous.value.code == 401
        with pytest.raises(urllib.error.HTTPError) as wrong:
            urllib.request.urlopen(f"{desk}/?token=not-the-token", timeout=5)
        assert wrong.value.code == 401
        bearer = urllib.request.Request(
            f"{desk}/api/alerts", headers={"Authorization": f"Bearer {token}"}
        )
        assert json.loads(urllib.request.urlopen(bearer, timeout=5).read()) == []

        class Keep(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any) -> None:
                return None

        with pytest.raises(urllib.error.HTTPError) as login:
            urllib.request.build_opener(Keep).open(f"{desk}/?token={token}", timeout=5)
        assert login.value.code == 303
        cookie = login.value.headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        with_cookie = urllib.request.Request(
            f"{desk}/api/alerts", headers={"Cookie": cookie.split(";")[0]}
        )
        assert json.loads(urllib.request.urlopen(with_cookie, timeout=5).read()) == []
    assert token not in (tmp_path / next(p.name for p in tmp_path.glob("desk-*.log"))).read_text()


def test_desk_users_log_in_by_name_and_their_verdicts_carry_it(
    bootstrap: str, prefix: str, tmp_path: Path
) -> None:
    password = "a long enough password"
    users = tmp_path / "users"
    made = subprocess.run(
        [str(NEWSMON), "desk", "--hash-password", "dana"],
        input=password + "\n",
        env={k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    users.write_text("# the desk's users\n" + made.stdout)
    assert password not in users.read_text()
    alert = _an_alert()
    asyncio.run(_publish(bootstrap, f"{prefix}news.alerts", alert))
    env = newsmon_env(
        bootstrap, prefix, NEWSMON_DESK_HOST="0.0.0.0", NEWSMON_DESK_USERS_FILE=str(users)
    )
    with running_desk(env, tmp_path) as desk:
        wait_for(lambda: _as(f"{desk}/api/alerts", "dana", password)[0] == 200, 30, "a log-in")
        assert _as(f"{desk}/api/alerts", "dana", "not the password")[0] == 401
        assert _as(f"{desk}/api/alerts", "erin", password)[0] == 401
        status, body = _as(f"{desk}/api/alerts", "dana", password)
        assert json.loads(body) == [alert]
        status, body = _as(
            f"{desk}/api/alerts/{alert['alert_id']}/feedback",
            "dana",
            password,
            {"verdict": "relevant"},
        )
        assert status == 202, body
        assert json.loads(body)["user"] == "dana"
    broken = tmp_path / "broken-users"
    broken.write_text("dana:plaintext-password\n")
    refused = run_newsmon({**env, "NEWSMON_DESK_USERS_FILE": str(broken)}, "desk", timeout=60)
    assert refused.returncode == 2
    assert f"NEWSMON_DESK_USERS_FILE: {broken}:1: not 'name:scrypt$...'" in refused.stderr


def _as(url: str, user: str, password: str, body: Any = None) -> tuple[int, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def _an_alert() -> dict[str, Any]:
    return {
        "alert_id": "ab" * 12,
        "rule": {
            "id": "r1",
            "version": "0" * 12,
            "name": "A rule",
            "severity": "high",
            "watchlist": "w",
        },
        "article": {
            "id": "a1",
            "title": "A title",
            "url": "",
            "source": "",
            "published_at": None,
        },
        "matches": [],
        "topics": [],
        "entities": [],
        "story_id": "cd" * 8,
        "raised_at": "2026-12-07T12:00:00+00:00",
    }


async def _publish(bootstrap: str, topic: str, alert: dict[str, Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, json.dumps(alert).encode(), key=b"ab" * 12)
    finally:
        await producer.stop()
