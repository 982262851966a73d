"""Webhook delivery on the real broker: a receiver that fails every delivery's first three
attempts, and one of two workers SIGKILLed mid-delivery (the other takes its partitions
once the delivery group drops it), still end with every alert delivered,
none twice once deduplicated by delivery id, every request signed; a webhook that
refuses (HTTP 400) dead-letters each alert with reason webhook_failed."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from monitor.alerting.delivery import verify
from tests.conftest import free_port
from tests.integration.chaos import articles, write_feed
from tests.integration.processes import (
    kcat_read,
    quick_env,
    run_newsmon,
    start_worker,
    stop,
    wait_for,
    wait_owning,
)

pytestmark = pytest.mark.broker
SECRET = "hook-secret-for-the-test-0123456789"
COUNT = 60
FAILS_FIRST = 3


@dataclass
class Receiver:
    """An HTTP receiver that verifies signatures and fails each delivery's first tries."""

    port: int
    attempts: dict[str, int] = field(default_factory=dict)
    delivered: dict[str, list[str]] = field(default_factory=dict)  # delivery id -> alert ids
    unsigned: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        delivery = request.headers["X-Newsmon-Delivery"]
        if not verify(
            SECRET.encode(), request.headers.get("X-Newsmon-Signature", ""), body, time.time()
        ):
            with self.lock:
                self.unsigned.append(delivery)
            return web.Response(status=401)
        with self.lock:
            self.attempts[delivery] = self.attempts.get(delivery, 0) + 1
            if self.attempts[delivery] <= FAILS_FIRST:
                return web.Response(status=503)
            alert = json.loads(body)["alert"]
            self.delivered.setdefault(delivery, []).append(alert["alert_id"])
        return web.Response(status=204)

    async def broken(self, request: web.Request) -> web.Response:
        return web.Response(status=400, text="no such channel")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(free_port())
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/hook", found.hook)
    app.router.add_post("/broken", found.broken)
    runner = web.AppRunner(app, access_log=None)

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", found.port).start())
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _rules(port: int) -> str:
    return f"""\
watchlists:
  - name: chaos
    route: alerts.chaos
    deliver:
      - webhook: ops
        url: http://127.0.0.1:{port}/hook
        secret_env: HOOK_SECRET_OPS
      - webhook: broken
        url: http://127.0.0.1:{port}/broken
        format: slack
    rules:
      - id: chaos-marker
        query: '"chaos marker"'
        severity: high
        must_match: ["A chaos marker in the text."]
        must_not_match: ["Nothing to see."]
"""


def test_every_alert_reaches_the_webhook_through_failures_and_a_kill(
    bootstrap: str, prefix: str, tmp_path: Path, receiver: Receiver
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(_rules(receiver.port))
    env = quick_env(
        bootstrap,
        prefix,
        rules,
        NEWSMON_DELIVERY_BACKOFF="0.05",
        NEWSMON_DELIVERY_BACKOFF_CAP="0.5",
        HOOK_SECRET_OPS=SECRET,
    )
    records = articles(COUNT, seed=23)
    # Two workers: the survivor's delivery consumer takes the killed one's partitions
    # once the group drops it (its session timeout), as in production.
    first = start_worker(env, free_port(), tmp_path)
    second = start_worker(env, free_port(), tmp_path)
    try:
        for worker in (first, second):  # one settled group before anything is killed
            wait_owning(worker)
        replayed = run_newsmon(env, "replay", str(write_feed(tmp_path / "feed.jsonl", records)))
        assert replayed.returncode == 0, replayed.stderr
        # Every alert raised first (so the kill hits delivery alone, not Faust's group),
        # then the kill while the deliveries are under way.
        wait_for(
            lambda: len(kcat_read(bootstrap, f"{prefix}news.alerts")) >= COUNT,
            60,
            "every alert on news.alerts",
        )
        wait_for(lambda: len(receiver.delivered) >= 5, 60, "the first deliveries")
        first.process.kill()  # mid-delivery: the rest are retried, or not yet taken
        first.process.wait(30)
        killed_after = len(receiver.delivered)
        wait_for(
            lambda: len(receiver.delivered) >= COUNT,
            120,
            lambda: f"{COUNT} deliveries; {len(receiver.delivered)} so far",
        )
        dead = wait_for(
            lambda: (
                (found := _dead_letters(bootstrap, f"{prefix}news.deadletter"))
                and len({alert["alert_id"] for _, alert in found}) >= COUNT
                and found
            ),
            60,
            "the broken webhook's dead letters",
        )
    finally:
        for worker in (first, second):
            if worker.process.poll() is None:
                stop(worker)
    alert_ids = [ids[0] for ids in receiver.delivered.values()]
    repeats = sum(len(ids) - 1 for ids in receiver.delivered.values())
    print(
        f"webhooks: {COUNT} alerts, {len(receiver.delivered)} delivery ids delivered "
        f"({killed_after} before the kill), {repeats} repeated deliveries dropped by id, "
        f"{sum(receiver.attempts.values())} attempts"
    )
    assert receiver.unsigned == []
    assert len(set(alert_ids)) == COUNT  # every alert, and one delivery id per alert
    assert all(len(set(ids)) == 1 for ids in receiver.delivered.values())
    assert all(n > FAILS_FIRST for n in receiver.attempts.values())
    assert {alert["alert_id"] for _, alert in dead} == set(alert_ids)
    for headers, _ in dead:
        assert headers["newsmon-reason"] == "webhook_failed"
        assert headers["newsmon-stage"] == "delivery"
        assert headers["newsmon-detail"] == "broken: HTTP 400 (not retried)"


def _dead_letters(bootstrap: str, topic: str) -> list[tuple[dict[str, str], dict[str, Any]]]:
    found = []
    for line in kcat_read(bootstrap, topic, fmt="%h\t%s\n"):
        raw, value = line.split("\t", 1)
        headers = dict(part.split("=", 1) for part in raw.split(",") if "=" in part)
        found.append((headers, json.loads(value)))
    return found
