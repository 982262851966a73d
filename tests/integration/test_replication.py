"""NEWSMON_REPLICATION_FACTOR on the real broker: topics created with it, fewer refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import NodeNotReadyError, NotControllerError, TopicAuthorizationFailedError

from agents.kafka import client_options, ensure_topics, min_insync_replicas, retrying
from agents.settings import SettingsError, load_settings
from agents.topics import all_topics
from tests.conftest import ROOT

NEWSMON = Path(sys.executable).parent / "newsmon"


def test_min_insync_replicas_keeps_writes_through_one_lost_broker() -> None:
    assert [min_insync_replicas(n) for n in (1, 2, 3, 5)] == [1, 1, 2, 2]


def test_a_replication_factor_out_of_range_stops_start_up() -> None:
    with pytest.raises(SettingsError, match="NEWSMON_REPLICATION_FACTOR"):
        load_settings({"NEWSMON_REPLICATION_FACTOR": "0"})


async def test_topics_get_the_factor_and_fewer_replicas_are_refused(
    bootstrap: str, prefix: str
) -> None:
    one = load_settings({"NEWSMON_KAFKA_BOOTSTRAP": bootstrap, "NEWSMON_TOPIC_PREFIX": prefix})
    topics = all_topics(one)
    created = await ensure_topics(one, topics)
    assert sorted(created) == sorted(t.name for t in topics)
    admin = AIOKafkaAdminClient(**client_options(one))
    await admin.start()
    try:
        described = await admin.describe_topics([topics[0].name])
        assert {len(p["replicas"]) for p in described[0]["partitions"]} == {1}
        [configs] = await admin.describe_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC, topics[0].name, {"min.insync.replicas": None}
                )
            ]
        )
        values = {entry[0]: entry[1] for resource in configs.resources for entry in resource[4]}
        assert values["min.insync.replicas"] == "1"
        # A topic made elsewhere with one replica, then a setting that asks for two.
        await admin.create_topics([NewTopic(f"{prefix}news.articles.extra", 1, 1)])
    finally:
        await admin.close()
    two = load_settings(
        {
            "NEWSMON_KAFKA_BOOTSTRAP": bootstrap,
            "NEWSMON_TOPIC_PREFIX": prefix,
            "NEWSMON_REPLICATION_FACTOR": "2",
        }
    )
    with pytest.raises(SettingsError, match=r"NEWSMON_REPLICATION_FACTOR is 2.*\(1\)"):
        await ensure_topics(two, all_topics(two))


def test_more_replicas_than_brokers_is_refused_and_nothing_is_said_created(
    bootstrap: str, prefix: str
) -> None:
    env = {
        "NEWSMON_KAFKA_BOOTSTRAP": bootstrap,
        "NEWSMON_TOPIC_PREFIX": prefix,
        "NEWSMON_REPLICATION_FACTOR": "3",
        "PATH": "/usr/bin:/bin",
    }
    made = subprocess.run(
        [str(NEWSMON), "topics", "create"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 2, made.stdout
    assert (
        f"NEWSMON_REPLICATION_FACTOR is 3, but Kafka cannot create {prefix}news.articles: "
        in made.stderr
    )
    assert "only 1 broker(s) are registered" in made.stderr
    assert "created" not in made.stdout
    assert "Traceback" not in made.stderr


async def test_an_admin_request_meeting_a_retriable_error_is_asked_again(
    bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings({"NEWSMON_KAFKA_BOOTSTRAP": bootstrap})
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    answers: list[object] = [NodeNotReadyError("node 7 is not ready"), NotControllerError()]
    stock = admin.list_topics

    async def flaky() -> list[str]:
        if answers:
            raise answers.pop(0)  # type: ignore[misc]
        return await stock()

    try:
        assert isinstance(await retrying(admin, flaky), list)
        assert answers == []
        answers.append(TopicAuthorizationFailedError("no"))  # not retriable: raised at once
        with pytest.raises(TopicAuthorizationFailedError):
            await retrying(admin, flaky)
        monkeypatch.setattr("agents.kafka.RETRY_FOR", 0.0)  # retriable, but out of time
        answers.append(NodeNotReadyError("node 7 is not ready"))
        with pytest.raises(NodeNotReadyError):
            await retrying(admin, flaky)
    finally:
        await admin.close()


def test_a_worker_refuses_to_start_on_topics_with_fewer_replicas(
    bootstrap: str, prefix: str
) -> None:
    env = {
        "NEWSMON_KAFKA_BOOTSTRAP": bootstrap,
        "NEWSMON_TOPIC_PREFIX": prefix,
        "NEWSMON_SPACY_MODEL": "blank",
        "PATH": "/usr/bin:/bin",
    }
    made = subprocess.run(
        [str(NEWSMON), "topics", "create"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    refused = subprocess.run(
        [str(NEWSMON), "worker"],
        env={**env, "NEWSMON_REPLICATION_FACTOR": "3"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2
    assert "NEWSMON_REPLICATION_FACTOR is 3, but these topics have fewer replicas" in refused.stderr
    assert "Traceback" not in refused.stderr
