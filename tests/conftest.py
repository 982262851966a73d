"""Shared fixtures: the real broker, throwaway topic prefixes, the JSON Schemas, and
newsmon's patch of the aiokafka client."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiokafka.client import AIOKafkaClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from agents import internals

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "monitor" / "schemas"
SEED = ROOT / "seeds" / "000_db2a84df3f0e9d80.txt"
CORPUS = ROOT.parent / "shared" / "corpus" / "news_articles.jsonl.gz"
BOOTSTRAP = os.environ.get("NEWSMON_TEST_BOOTSTRAP", "127.0.0.1:9092")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",", maxsplit=1)[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def skip_or_fail(reason: str) -> None:
    """Skip on a developer laptop; under CI=true a missing service is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: real-service tests may not skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def bootstrap() -> str:
    """The real local Kafka broker (`make kafka-up`)."""
    if not _reachable(BOOTSTRAP):
        skip_or_fail(f"no Kafka broker at {BOOTSTRAP}; run `make kafka-up`")
    return BOOTSTRAP


@pytest.fixture
def prefix() -> str:
    """A throwaway topic prefix, so every test has its own topics."""
    return f"t{uuid.uuid4().hex[:10]}."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _validator(name: str) -> Draft202012Validator:
    resources = [
        (json.loads(p.read_text())["$id"], Resource.from_contents(json.loads(p.read_text())))
        for p in SCHEMAS.glob("*.schema.json")
    ]
    registry: Registry[Any] = Registry().with_resources(resources)
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return Draft202012Validator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


@pytest.fixture(scope="session")
def alert_schema() -> Draft202012Validator:
    return _validator("alert")


@pytest.fixture(scope="session")
def tagged_schema() -> Draft202012Validator:
    return _validator("tagged")


@pytest.fixture(scope="session")
def article_schema() -> Draft202012Validator:
    return _validator("article")


@pytest.fixture(scope="session")
def feedback_schema() -> Draft202012Validator:
    return _validator("feedback")


@pytest.fixture(scope="session")
def triage_schema() -> Draft202012Validator:
    return _validator("triage")


@contextmanager
def restored_add_topic() -> Iterator[None]:
    """Put aiokafka's ``AIOKafkaClient.add_topic`` back as it was when the block ends."""
    before = vars(AIOKafkaClient)["add_topic"]
    try:
        yield
    finally:
        AIOKafkaClient.add_topic = before


@pytest.fixture
def metadata_fix() -> Iterator[None]:
    """aiokafka's client with newsmon's patch (agents/internals.py), for this test only."""
    with restored_add_topic():
        internals.install_client_fix()
        yield
