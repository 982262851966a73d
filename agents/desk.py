"""``newsmon desk``: the analysts' web desk over the alert topics.

At start the desk reads ``news.alerts`` (committed records only) from
``NEWSMON_DESK_HISTORY`` seconds ago and ``news.feedback`` from its beginning, then
follows both. It serves (the contract in docs/desk.md):

- ``GET /``: the page (alerts live, filters, search, verdict buttons);
- ``GET /api/alerts?watchlist=&severity=&topic=&entity=&source=&q=&since=&until=&limit=``:
  alerts in the alert schema, newest first;
- ``GET /api/events``: a ``text/event-stream`` of new alerts (``event: alert``) and
  feedback (``event: feedback``);
- ``POST /api/alerts/{alert_id}/feedback``: a verdict, written to ``news.feedback`` keyed
  ``<alert_id>/<user>`` before the answer (202);
- ``GET /api/alerts/{alert_id}/feedback``: the latest verdict of each user;
- ``GET /api/feedback``: those of every alert the desk holds;
- ``POST /api/alerts/{alert_id}/triage``: ``{"state": "open" | "acknowledged" |
  "assigned" | "resolved", "assignee": …, "note": …}``, written to ``news.triage`` keyed by
  alert id (202); ``GET /api/triage``: the latest state of every alert held;
- ``GET /feeds/{watchlist}.atom``: an Atom feed of the watchlist's alerts.

``GET /health`` answers 200 once the history is loaded (503 before), to anyone.
On a loopback address without log-in the user is ``local``. Anywhere else the desk
needs NEWSMON_DESK_USERS_FILE (users with scrypt password hashes, by HTTP Basic: verdicts
carry their names) or NEWSMON_DESK_TOKEN (one shared token, the user ``analyst``: as
``Authorization: Bearer <token>``, or once as ``/?token=<token>``, which sets an HttpOnly,
SameSite=Strict cookie); settings refuse to start without one. A POST must be JSON (a
cross-site form cannot send that without a preflight) and, when the browser names an
Origin, come from the desk's own.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition

from agents.deskusers import load_users, matches
from agents.internals import refresh_metadata
from agents.kafka import ensure_topics, idempotent_producer, reader
from agents.settings import Settings
from agents.topics import ALERTS, FEEDBACK, TRIAGE, TopicSpec, resolve
from monitor import wirejson
from monitor.alerting.desk import (
    DeskView,
    FeedbackError,
    Filters,
    atom_feed,
    feedback_record,
    triage_record,
)

log = logging.getLogger(__name__)
_COOKIE = "newsmon_desk"
_KEEPALIVE = 15.0
_FEED_SIZE = 100


@dataclass
class Desk:
    """The desk's state: the view, the subscribers of live events, the Kafka clients."""

    settings: Settings
    view: DeskView = field(default_factory=DeskView)
    listeners: set[asyncio.Queue[tuple[str, dict[str, Any]]]] = field(default_factory=set)
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    producer: Any = None
    following: asyncio.Task[None] | None = None

    users: dict[str, str] = field(default_factory=dict)  # name -> scrypt hash
    _checked: dict[str, bool] = field(default_factory=dict)

    @property
    def guarded(self) -> bool:
        return bool(self.settings.desk_token.get_secret_value() or self.users)

    async def check(self, name: str, password: str) -> bool:
        """Whether ``password`` is ``name``'s; a right pair is remembered by its digest
        (scrypt costs about 50 ms; the page makes several requests)."""
        stored = self.users.get(name)
        if stored is None:
            return False
        seen = hashlib.sha256(f"{name}\x00{password}\x00{stored}".encode()).hexdigest()
        if seen not in self._checked:
            if not await asyncio.to_thread(matches, password, stored):
                return False
            self._checked[seen] = True
        return True

    def publish(self, event: str, record: dict[str, Any]) -> None:
        for queue in list(self.listeners):
            if queue.qsize() < 1000:  # a stalled browser does not hold the desk's memory
                queue.put_nowait((event, record))


async def follow(desk: Desk) -> None:
    """Load the history, then add every new alert and feedback record as it commits."""
    settings = desk.settings
    alerts, feedback = resolve(ALERTS, settings).name, resolve(FEEDBACK, settings).name
    triage = resolve(TRIAGE, settings).name
    consumer = reader(settings)
    await consumer.start()
    try:
        await refresh_metadata(consumer)
        partitions = [
            TopicPartition(topic, p)
            for topic in (alerts, feedback, triage)
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await _seek_history(consumer, [tp for tp in partitions if tp.topic == alerts], settings)
        ends = await consumer.end_offsets(partitions)
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            for tp, records in batches.items():
                kind = {alerts: "alert", feedback: "feedback"}.get(tp.topic, "triage")
                for record in records:
                    _take(desk, kind, record.value)
            if not desk.caught_up.is_set() and await _at_ends(consumer, ends):
                desk.caught_up.set()
                log.info("desk: %d alerts loaded; following the topics", len(desk.view))
    finally:
        await consumer.stop()


async def _at_ends(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


async def _seek_history(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], settings: Settings
) -> None:
    since_ms = int((datetime.now(UTC).timestamp() - settings.desk_history) * 1000)
    found = await consumer.offsets_for_times(dict.fromkeys(partitions, since_ms))
    ends = await consumer.end_offsets(partitions)
    for tp in partitions:
        offset = found.get(tp)
        consumer.seek(tp, offset.offset if offset is not None else ends[tp])


def _take(desk: Desk, kind: str, value: bytes | None) -> None:
    if value is None:  # a tombstone on a compacted topic
        return
    try:
        record = json.loads(value)
        if kind == "alert":
            if desk.view.add(record):
                desk.publish("alert", record)
        elif kind == "feedback":  # kept before its alert is read: topics are read side by side
            desk.view.add_feedback(record)
            desk.publish("feedback", record)
        else:
            desk.view.set_triage(record)
            desk.publish("triage", record)
    except (ValueError, KeyError, TypeError) as exc:  # not ours to fix: skip, say so
        log.warning("desk: skipped a record it cannot read: %s", exc)


# --- HTTP --------------------------------------------------------------------------


@web.middleware
async def _guard(request: web.Request, handler: Any) -> web.StreamResponse:
    desk: Desk = request.app["desk"]
    request["user"] = "local"
    if desk.guarded and request.path != "/health":
        user = await _who(desk, request)
        if user is None:
            _refuse(desk, request)
        request["user"] = user
    if request.method == "POST":
        if request.content_type != "application/json":
            raise web.HTTPUnsupportedMediaType(text="send application/json\n")
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            raise web.HTTPForbidden(text="cross-origin request refused\n")
    response: web.StreamResponse = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


async def _who(desk: Desk, request: web.Request) -> str | None:
    """The user a request authenticates as: a user of NEWSMON_DESK_USERS_FILE by HTTP
    Basic, or ``analyst`` by the token (Bearer header or the desk's cookie); else None."""
    token = desk.settings.desk_token.get_secret_value()
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme == "Basic" and desk.users:
        try:
            name, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return name if await desk.check(name, password) else None
    given = value if scheme == "Bearer" else request.cookies.get(_COOKIE, "")
    if token and given and hmac.compare_digest(given, token):
        return "analyst"
    return None


def _refuse(desk: Desk, request: web.Request) -> None:
    token = desk.settings.desk_token.get_secret_value()
    given = request.query.get("token", "")
    if token and request.path == "/" and given and hmac.compare_digest(given, token):
        to_page = web.HTTPSeeOther("/")
        to_page.set_cookie(_COOKIE, token, httponly=True, samesite="Strict")
        raise to_page
    challenges = []
    if desk.users:
        challenges.append('Basic realm="newsmon desk", charset="UTF-8"')
    if token:
        challenges.append('Bearer realm="newsmon desk"')
    raise web.HTTPUnauthorized(
        text="log in: a user of the desk (HTTP Basic), or the token "
        "(Authorization: Bearer <token>, or open /?token=<token>)\n",
        headers={"WWW-Authenticate": ", ".join(challenges)},
    )


async def _page(request: web.Request) -> web.Response:
    page = resources.files("agents").joinpath("static/desk.html").read_bytes()
    return web.Response(
        body=page,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
            "Cache-Control": "no-store",
        },
    )


async def _alerts(request: web.Request) -> web.Response:
    desk: Desk = request.app["desk"]
    try:
        filters = Filters.from_query(request.query)
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    return _json(desk.view.select(filters))


async def _events(request: web.Request) -> web.StreamResponse:
    desk: Desk = request.app["desk"]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await response.prepare(request)
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    desk.listeners.add(queue)
    try:
        await response.write(b": newsmon desk\n\n")
        while True:
            try:
                event, record = await asyncio.wait_for(queue.get(), _KEEPALIVE)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            data = wirejson.dumps(record, foreign=True)
            await response.write(b"event: " + event.encode() + b"\ndata: " + data + b"\n\n")
    except ConnectionResetError:
        pass  # the browser went away
    finally:
        desk.listeners.discard(queue)
    return response


async def _post_feedback(request: web.Request) -> web.Response:
    """A verdict, compacted by alert id and user on ``news.feedback``."""
    return await _post_record(request, FEEDBACK, feedback_record, ("alert_id", "user"))


async def _post_triage(request: web.Request) -> web.Response:
    """An acknowledgement, assignment or note, compacted by alert id on ``news.triage``."""
    return await _post_record(request, TRIAGE, triage_record, ("alert_id",))


async def _post_record(
    request: web.Request,
    spec: TopicSpec,
    make: Callable[[Mapping[str, Any], str, Mapping[str, Any], datetime], dict[str, Any]],
    key_fields: tuple[str, ...],
) -> web.Response:
    """Validate an analyst's JSON about a loaded alert, publish it keyed by ``key_fields``
    (joined by '/') and answer 202 with the record; 404 for an unknown alert, 400 for bad
    input."""
    desk: Desk = request.app["desk"]
    alert = desk.view.get(request.match_info["alert_id"])
    if alert is None:
        raise web.HTTPNotFound(text="no such alert on this desk\n")
    try:
        given = await request.json()
        if not isinstance(given, dict):
            raise FeedbackError("send a JSON object")
        record = make(alert, request["user"], given, datetime.now(UTC))
    except (FeedbackError, ValueError) as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    key = "/".join(str(record[field]) for field in key_fields).encode()
    topic = resolve(spec, desk.settings).name
    await (await desk.producer.send(topic, wirejson.dumps(record, foreign=True), key=key))
    return _json(record, status=202)


async def _all_triage(request: web.Request) -> web.Response:
    desk: Desk = request.app["desk"]
    return _json(desk.view.all_triage())


async def _get_feedback(request: web.Request) -> web.Response:
    desk: Desk = request.app["desk"]
    alert_id = request.match_info["alert_id"]
    if desk.view.get(alert_id) is None:
        raise web.HTTPNotFound(text="no such alert on this desk\n")
    return _json(desk.view.feedback(alert_id))


async def _all_feedback(request: web.Request) -> web.Response:
    desk: Desk = request.app["desk"]
    return _json(desk.view.all_feedback())


async def _feed(request: web.Request) -> web.Response:
    desk: Desk = request.app["desk"]
    watchlist = request.match_info["watchlist"]
    alerts = desk.view.select(Filters(watchlist=watchlist, limit=_FEED_SIZE))
    body = atom_feed(watchlist, alerts, str(request.url.with_query(None)))
    return web.Response(body=body, content_type="application/atom+xml", charset="utf-8")


async def _health(request: web.Request) -> web.Response:
    desk: Desk = request.app["desk"]
    ready = desk.caught_up.is_set()
    return _json({"status": "ok" if ready else "loading"}, status=200 if ready else 503)


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=wirejson.dumps(value, foreign=True), status=status, content_type="application/json"
    )


def build_app(desk: Desk) -> web.Application:
    app = web.Application(middlewares=[_guard], client_max_size=64 * 1024)
    app["desk"] = desk
    app.router.add_get("/", _page)
    app.router.add_get("/api/alerts", _alerts)
    app.router.add_get("/api/events", _events)
    app.router.add_post("/api/alerts/{alert_id}/feedback", _post_feedback)
    app.router.add_get("/api/alerts/{alert_id}/feedback", _get_feedback)
    app.router.add_get("/api/feedback", _all_feedback)
    app.router.add_post("/api/alerts/{alert_id}/triage", _post_triage)
    app.router.add_get("/api/triage", _all_triage)
    app.router.add_get("/feeds/{watchlist}.atom", _feed)
    app.router.add_get("/health", _health)
    return app


@contextlib.asynccontextmanager
async def running_desk(settings: Settings) -> AsyncIterator[Desk]:
    """The desk serving on NEWSMON_DESK_HOST:NEWSMON_DESK_PORT until the block ends."""
    desk = Desk(settings)
    if settings.desk_users_file is not None:  # a bad file stops start-up before Kafka
        desk.users = load_users(settings.desk_users_file)
    await ensure_topics(settings, [resolve(s, settings) for s in (ALERTS, FEEDBACK, TRIAGE)])
    desk.producer = idempotent_producer(settings)
    await desk.producer.start()
    runner = web.AppRunner(build_app(desk), access_log=None, shutdown_timeout=1)
    following = desk.following = asyncio.create_task(follow(desk))
    try:
        await runner.setup()
        await web.TCPSite(runner, settings.desk_host, settings.desk_port).start()
        yield desk
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
        await runner.cleanup()
        await desk.producer.stop()


async def serve(settings: Settings) -> None:
    """Run the desk until cancelled (Ctrl-C); a failure to follow the topics ends it."""
    async with running_desk(settings) as desk:
        how = (
            "users and token"
            if desk.users and desk.guarded
            else "a token"
            if desk.guarded
            else "none"
        )
        log.info("desk: http://%s:%d/ (log-in: %s)", settings.desk_host, settings.desk_port, how)
        if desk.following is not None:  # follows until cancelled; a Kafka failure ends it
            await desk.following
