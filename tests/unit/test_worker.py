"""The worker process: Faust's worker keeps the configured log level."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import faust
import pytest

from agents.settings import load_settings
from newsmon.worker import faust_worker


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    logger = logging.getLogger("newsmon-test-root")
    logger.addHandler(logging.NullHandler())
    yield logger
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)


@pytest.mark.parametrize("level", ["WARNING", "ERROR", "INFO"])
def test_faust_worker_leaves_the_root_logger_at_the_configured_level(
    root: logging.Logger, level: str
) -> None:
    settings = load_settings({"NEWSMON_LOG_LEVEL": level})
    worker = faust_worker(faust.App("newsmon-test", autodiscover=False), settings)
    root.setLevel(level)
    worker.on_setup_root_logger(root, logging.getLevelName(level))
    assert root.level == logging.getLevelName(level)
    assert not root.isEnabledFor(logging.DEBUG)
