"""The composition root: settings + core + metrics -> a Faust app with its agents."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import faust
from aiokafka.errors import KafkaError
from faust.sensors.prometheus import setup_prometheus_sensors
from mode import CrashingSupervisor
from prometheus_client import REGISTRY, CollectorRegistry

from agents import internals, webserver
from agents.alert_lookup import keys_held
from agents.analyser import process_articles
from agents.context import Context, RulesHolder
from agents.deadletter import DeadLetter
from agents.delivery import Delivery
from agents.digests import DigestAgent
from agents.feedbackfeed import follow_feedback
from agents.internals import (
    ConsumerBooks,
    consumer_state,
    producer_buffer_idle,
    producer_state,
)
from agents.kafka import ensure_topics, ssl_context
from agents.liveness import Progress, Rebalance, Serving, task_stacks
from agents.metrics import Metrics
from agents.notifier import StoryTable, process_candidates
from agents.offsets import StallWatch, release, withheld_unless_done
from agents.rulesfeed import follow_rules
from agents.settings import Settings
from agents.silencefeed import follow_silences
from agents.spikes import TICK_KEY, TICK_VALUE, SpikeState
from agents.stories import StoryPorts, StoryState, process_arrivals
from agents.topics import (
    ALERTS,
    ARTICLES,
    CANDIDATES,
    DEADLETTER,
    MAX_MESSAGE_BYTES,
    ROUTE,
    STORIES,
    STORY_INPUT,
    TAGGED,
    resolve,
    route_topics,
    spike_route,
)
from monitor import wirejson
from monitor.rules.files import RuleSet, load_rules
from monitor.tagging.model import model_for, tagging_description
from monitor.tagging.tagger import Tagger
from monitor.tagging.taxonomy import load_taxonomy
from monitor.text.nlp import load_pipeline

if TYPE_CHECKING:
    from faust.types import TP

log = logging.getLogger(__name__)
DRAIN_TIMEOUT = 60.0
STALL_AFTER = 10.0  # seconds a commit may be held at one offset before the broker is asked
KAFKA_CHECK_EVERY = 5.0  # seconds between /health's questions to the broker
PRODUCER_REQUEST_TIMEOUT = 30.0
TICK_EVERY = 5.0  # seconds between ticks to the story agent (spike windows close on time)


@dataclass
class Sinks:
    """Where alerts go: the all-alerts topic and one topic per route, declared lazily."""

    app: Any
    settings: Settings
    alerts: Any
    routes: dict[str, Any] = field(default_factory=dict)

    def route(self, name: str) -> Any:
        if name not in self.routes:
            topic = resolve(ROUTE, self.settings, name)
            self.routes[name] = self.app.topic(
                topic.name,
                partitions=topic.partitions,
                key_serializer="raw",
                value_serializer="raw",
            )
        return self.routes[name]

    def _topics(self, route: str) -> dict[str, Any]:
        return {t.get_topic_name(): t for t in (self.alerts, self.route(route))}

    async def send_many(
        self, alerts: list[tuple[dict[str, Any], str]], only: set[str] | None = None
    ) -> None:
        """Send alerts to news.alerts and their routes (or only to ``only``); wait for acks."""
        futures = []
        for record, route in alerts:
            value = wirejson.dumps(record)
            key = record["alert_id"].encode()
            for name, topic in self._topics(route).items():
                if only is None or name in only:
                    futures.append(await topic.send(key=key, value=value))
        for future in futures:
            await future

    async def flush(self) -> None:
        await drained(self.app.producer)

    async def missing(self, alerts: Mapping[str, str], since: float) -> dict[str, set[str]]:
        """Per alert id (mapped to its route), the alert topics that do not hold it.

        Read back from the broker: one scan per topic for all the alerts.
        """
        wanted: dict[str, set[bytes]] = {}
        for alert_id, route in alerts.items():
            for name in self._topics(route):
                wanted.setdefault(name, set()).add(alert_id.encode())
        held = await keys_held(self.settings, wanted, since)
        return {
            alert_id: {n for n in self._topics(route) if alert_id.encode() not in held[n]}
            for alert_id, route in alerts.items()
        }


def build_context(
    settings: Settings,
    registry: CollectorRegistry = REGISTRY,
    deployed: tuple[RuleSet, str] | None = None,
) -> Context:
    """Load the taxonomy, rules and NLP pipeline once, for the agents to share.

    ``deployed`` is the rule set last pushed to the rules topic; it wins over the file.
    """
    taxonomy = load_taxonomy(settings.taxonomy)
    rules, origin = deployed or (load_rules(settings.rules, taxonomy.names), str(settings.rules))
    metrics = Metrics(registry)
    model = model_for(taxonomy, settings.topic_model)
    log.info("topic tagging: %s", tagging_description(model))
    pipeline = load_pipeline(settings.spacy_model, ner=settings.ner)
    ctx = Context(
        settings=settings,
        metrics=metrics,
        pipeline=pipeline,
        tagger=Tagger(taxonomy, model),
        rules=RulesHolder(rules, origin=origin),
    )
    publish_ruleset_metrics(ctx)
    metrics.model.info({"name": pipeline.name, "description": pipeline.description})
    return ctx


def publish_ruleset_metrics(ctx: Context) -> None:
    ruleset = ctx.rules.current
    ctx.metrics.ruleset.info({"version": ruleset.version, "origin": ctx.rules.origin})
    ctx.metrics.rules_loaded.clear()
    counts: dict[str, int] = {}
    for rule in ruleset.rules:
        counts[rule.watchlist] = counts.get(rule.watchlist, 0) + 1
    for watchlist, count in counts.items():
        ctx.metrics.rules_loaded.labels(watchlist=watchlist).set(count)


def _broker_credentials(settings: Settings) -> Any:
    """Faust's form of client_options: the same TLS context and SASL login."""
    context = ssl_context(settings)
    if not settings.kafka_security_protocol.startswith("SASL"):
        return faust.SSLCredentials(context) if context else None
    # SASLCredentials infers SASL_SSL from the context and SASL_PLAINTEXT without one.
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        mechanism=settings.kafka_sasl_mechanism,
        ssl_context=context,
    )


async def apply_ruleset(ctx: Context, sinks: Sinks, ruleset: RuleSet, origin: str) -> None:
    """Swap in a newly deployed rule set (creating its route topics first)."""
    if ruleset.version == ctx.rules.current.version:
        return
    await ensure_topics(ctx.settings, route_topics(ctx.settings, ruleset.route_topics()))
    for route in ruleset.route_topics():
        sinks.route(route)
    ctx.rules.current, ctx.rules.origin = ruleset, origin
    publish_ruleset_metrics(ctx)
    log.info("applied rule set %s (%d rules) from %s", ruleset.version, len(ruleset.rules), origin)


async def drained(producer: Any) -> None:
    """Wait until every message handed to Faust's producer is acknowledged by the broker.

    Table changelog writes wait in Faust's producer buffer, which a background task
    hands to the Kafka client one at a time; ``producer.flush()`` returns once the
    buffer has been idle for 0.1 s, even with messages still in it or one on its way.
    """
    buffer, deadline = producer.buffer, time.monotonic() + DRAIN_TIMEOUT
    while buffer.size or not producer_buffer_idle(buffer):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Faust's producer buffer did not drain in {DRAIN_TIMEOUT:.0f} s")
        await buffer.flush()
        await asyncio.sleep(0.001)
    await producer.flush()


def create_app(
    settings: Settings,
    registry: CollectorRegistry = REGISTRY,
    deployed: tuple[RuleSet, str] | None = None,
) -> faust.App:
    """The Faust app of a newsmon worker: analyser, story and notifier agents, metrics,
    health."""
    ctx = build_context(settings, registry, deployed)
    internals.install()  # safe commits, idempotent produces, metadata fix (checks versions)
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        broker_credentials=_broker_credentials(settings),
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        # Only /metrics and /health: no index page, no table contents, routing or
        # statistics pages.
        web=webserver.DRIVER,
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        producer_acks=-1,
        # Faust's default is 20 minutes: a request a broker never answers (one restarting
        # after a kill) held every later send of its partitions that long. Batches of the
        # idempotent producer never expire, so a timed-out request is only sent again.
        producer_request_timeout=PRODUCER_REQUEST_TIMEOUT,
        producer_linger=settings.producer_linger,
        producer_max_request_size=MAX_MESSAGE_BYTES,
        # An agent that raised would be restarted by Faust but consume nothing more; a
        # crash of the whole worker is visible and its uncommitted work is redone.
        agent_supervisor=CrashingSupervisor,
        broker_commit_interval=settings.commit_interval,
        broker_session_timeout=settings.session_timeout,
        # Kafka wants heartbeats at most a third of the session apart.
        broker_heartbeat_interval=min(3.0, settings.session_timeout / 3),
        consumer_auto_offset_reset="earliest",
        # No standby copies of the tables: a partition that turned from standby to active
        # on one worker was never read again from its changelog (recovery waited for
        # events that never came, until the stall watch restarted the worker). A new
        # owner reads the changelog instead; the tables hold a window of stories.
        table_standby_replicas=0,
        key_serializer="raw",
        value_serializer="raw",
        autodiscover=False,
    )
    setup_prometheus_sensors(app, pattern="/metrics", registry=registry, name_prefix="newsmon")
    _wire(app, ctx)
    return app


def _topic(app: Any, settings: Settings, spec: Any) -> Any:
    resolved = resolve(spec, settings)
    return app.topic(
        resolved.name, partitions=resolved.partitions, key_serializer="raw", value_serializer="raw"
    )


def _notifier_stories(app: Any, settings: Settings) -> StoryTable:
    """The notifier's table: each rule's stories and pending marks."""
    # JSON keys and values: Faust picks JSON when key_type/value_type are not models.
    table = app.Table("stories", default=None, partitions=resolve(CANDIDATES, settings).partitions)
    stories = StoryTable(table)
    table.on_recover(stories.on_recover)  # a recovered table: rebuild the story indexes
    return stories


def _story_parts(
    app: Any, settings: Settings, candidates: Any, deadletter: DeadLetter, sinks: Sinks
) -> tuple[Any, StoryState, StoryPorts]:
    """The story agent's input topic, its tables (live stories; spike windows) and where
    it writes."""
    story_input = _topic(app, settings, STORY_INPUT)
    partitions = resolve(STORY_INPUT, settings).partitions
    book = app.Table("story-book", default=None, partitions=partitions)
    state = StoryState(book, settings.dedupe_window)
    book.on_recover(state.on_recover)  # a recovered table: rebuild the story book
    spikes = None
    if settings.spikes:
        table = app.Table("spikes", default=None, partitions=partitions)
        spikes = SpikeState(table, settings)
        table.on_recover(spikes.on_recover)
        sinks.route(spike_route(settings))

        @app.timer(interval=TICK_EVERY)
        async def tick() -> None:
            """Run the story agent when no article comes, so spike windows close on time."""
            if not app.rebalancing:
                await story_input.send(key=TICK_KEY, value=TICK_VALUE)

    ports = StoryPorts(
        _topic(app, settings, STORIES),
        candidates,
        deadletter,
        lambda: drained(app.producer),
        spikes=spikes,
        alerts=sinks,
    )
    return story_input, state, ports


def _wire(app: Any, ctx: Context) -> None:
    settings = ctx.settings
    articles, tagged = _topic(app, settings, ARTICLES), _topic(app, settings, TAGGED)
    candidates = _topic(app, settings, CANDIDATES)
    stories = _notifier_stories(app, settings)
    deadletter = DeadLetter(_topic(app, settings, DEADLETTER), ctx.metrics)
    sinks = Sinks(app, settings, _topic(app, settings, ALERTS))
    story_input, story_state, story_ports = _story_parts(
        app, settings, candidates, deadletter, sinks
    )
    for route in ctx.rules.current.route_topics():
        sinks.route(route)

    serving = Serving(stale_after=3 * KAFKA_CHECK_EVERY)

    async def in_batches(stream: Any, process: Callable[[Any], Awaitable[None]]) -> None:
        async for events in stream.take_events(settings.batch_size, settings.batch_window):
            async with withheld_unless_done(events):
                await process(events)
            serving.batch_at = time.monotonic()

    @app.timer(interval=KAFKA_CHECK_EVERY)
    async def check_kafka() -> None:
        """Ask the broker for the high watermarks of the assigned partitions (/health)."""
        assigned = app.consumer.assignment()
        if app.rebalancing or not assigned:
            return
        try:
            await asyncio.wait_for(app.consumer.highwaters(*assigned), KAFKA_CHECK_EVERY)
        except (KafkaError, TimeoutError, OSError) as exc:
            serving.kafka_failed(exc)
        else:
            serving.kafka_answered(time.monotonic())

    @app.agent(articles, name="newsmon.analyser")
    async def analyse_articles(stream: Any) -> None:
        await in_batches(
            stream,
            lambda events: process_articles(events, ctx, tagged, story_input, deadletter),
        )

    @app.agent(story_input, name="newsmon.stories")
    async def assign_stories(stream: Any) -> None:
        await in_batches(
            stream, lambda events: process_arrivals(events, ctx, story_state, story_ports)
        )

    @app.agent(candidates, name="newsmon.notifier")
    async def notify(stream: Any) -> None:
        await in_batches(
            stream, lambda events: process_candidates(events, ctx, stories, sinks, deadletter)
        )

    held = StallWatch(after=max(STALL_AFTER, 3 * settings.commit_interval))
    inputs = {t.get_topic_name() for t in (articles, story_input, candidates)}

    @app.timer(interval=STALL_AFTER / 3)
    async def release_held_commits() -> None:
        if app.rebalancing:
            return
        assigned = app.consumer.assignment()
        books = ConsumerBooks(app.consumer)

        def ends() -> dict[TP, int]:
            """As of the last fetch: records Faust fetched and dropped count as pending."""
            return {
                tp: end
                for tp in app.consumer.assignment()
                if tp.topic in inputs and (end := app.consumer.highwater(tp)) is not None
            }

        for tp, offset in held.stalled(books, time.monotonic(), ends()).items():
            if tp not in assigned:
                continue
            try:
                await release(app.consumer, books, tp, offset, settings, ends=ends)
            except (KafkaError, OSError, TimeoutError) as exc:  # the broker is away: ask later
                log.warning("could not ask the broker about %s at %d: %s", tp, offset, exc)

    if settings.stall_timeout:
        _stop_when_stalled(app, settings, inputs)

    _wire_feeds(app, ctx, sinks, deadletter)

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        """200 while the worker serves, 503 while it rebalances or Kafka does not answer."""
        ok, facts = serving.report(
            time.monotonic(),
            rebalancing=bool(app.rebalancing or app.in_recovery),
            # Partitions this worker owns now: 0 while it is (re-)joining its group.
            partitions=len(app.consumer.assignment()),
        )
        status = {
            **facts,
            "pipeline": ctx.pipeline.description,
            "topic_tagging": tagging_description(ctx.tagger.model),
            "ruleset_version": ctx.rules.current.version,
            "rules": len(ctx.rules.current.rules),
        }
        return web.json(json.loads(json.dumps(status)), status=200 if ok else 503)


def _wire_feeds(app: Any, ctx: Context, sinks: Sinks, deadletter: DeadLetter) -> None:
    """The tasks every worker runs beside its agents: the rule, silence and feedback
    feeds, webhook delivery and (on one worker at a time) e-mail digests."""
    settings = ctx.settings

    @app.task
    async def deploy_rules() -> None:
        await follow_rules(
            settings,
            ctx.tagger.taxonomy.names,
            lambda ruleset, origin: apply_ruleset(ctx, sinks, ruleset, origin),
        )

    @app.task
    async def follow_silences_task() -> None:
        await follow_silences(settings, ctx.silences)

    @app.task
    async def follow_feedback_task() -> None:
        await follow_feedback(settings, ctx.metrics)

    delivery = Delivery(ctx, deadletter, started=time.time())

    @app.task
    async def deliver_alerts() -> None:
        await delivery.run()

    @app.task
    async def send_digests() -> None:
        await DigestAgent(ctx, delivery).run()


def _log_where_stuck(app: Any) -> None:
    """The stall report; it never keeps a stalled worker from exiting."""
    try:
        log.critical("where each task waits:\n%s", task_stacks(asyncio.all_tasks()))
        log.critical("producer: %s", producer_state(app.producer))
        log.critical("consumer: %s", consumer_state(app.consumer))
    except Exception:
        log.exception("the stall report failed")


def _stop_when_stalled(app: Any, settings: Settings, inputs: set[str]) -> None:
    """Crash the worker (to be restarted) when its assigned records stop moving."""
    progress, rebalance = Progress(settings.stall_timeout), Rebalance(settings.stall_timeout)

    @app.timer(interval=min(10.0, settings.stall_timeout / 3))
    async def stop_when_stalled() -> None:
        if rebalance.stuck(time.monotonic(), app.rebalancing or app.in_recovery):
            log.critical(
                "worker stalled: %s; exiting so that it is restarted", rebalance.describe()
            )
            _log_where_stuck(app)
            await app.crash(RuntimeError(f"worker stalled: {rebalance.describe()}"))
            return
        if app.rebalancing:
            return
        consumer = app.consumer
        tps = {tp for tp in consumer.assignment() if tp.topic in inputs}
        if not tps:
            return
        ends = await consumer.highwaters(*tps)
        books = ConsumerBooks(consumer)
        committed = books.committed
        if progress.stalled(time.monotonic(), tps, books.read, committed, ends):
            reason = progress.describe(committed, ends)
            log.critical("worker stalled: %s; exiting so that it is restarted", reason)
            _log_where_stuck(app)
            await app.crash(RuntimeError(f"worker stalled: {reason}"))
