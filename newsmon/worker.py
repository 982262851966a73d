"""``newsmon worker``: create the topics, then run the Faust worker until signalled."""

from __future__ import annotations

import asyncio
import logging

import faust

from agents.app import create_app
from agents.kafka import ensure_topics
from agents.rulesfeed import latest_ruleset
from agents.settings import Settings
from agents.topics import all_topics
from monitor.rules.files import load_rules
from monitor.tagging.taxonomy import load_taxonomy

log = logging.getLogger(__name__)


def create_topics(settings: Settings) -> list[str]:
    """Create every topic of the table and the rule file's routes; returns those created."""
    routes = load_rules(settings.rules, load_taxonomy(settings.taxonomy).names).route_topics()
    return asyncio.run(ensure_topics(settings, all_topics(settings, routes)))


def faust_worker(app: faust.App, settings: Settings) -> faust.Worker:
    """Faust's worker for ``app``, logging at ``NEWSMON_LOG_LEVEL`` and no lower."""
    worker = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    # At WARNING and above Faust's start-up spinner lowers the root logger to DEBUG, so
    # every debug call of Faust and aiokafka builds a log record: ~6% of a busy worker.
    worker.spinner = None
    return worker


def run_worker(settings: Settings) -> int:
    """Run a worker in the foreground; SIGTERM/SIGINT stop it cleanly (exit status 0)."""
    create_topics(settings)
    known = load_taxonomy(settings.taxonomy).names
    deployed = asyncio.run(latest_ruleset(settings, known))
    app = create_app(settings, deployed=deployed)
    log.info(
        "worker %s: metrics at http://%s:%d/metrics",
        settings.app_id,
        settings.web_host,
        settings.web_port,
    )
    worker = faust_worker(app, settings)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
