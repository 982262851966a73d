"""Secure connections on a real broker whose only client listener is SASL_SSL
(SCRAM-SHA-512 over TLS, a test CA): every Kafka client of newsmon logs in, a wrong
password or an untrusted certificate fails fast with one clear line, and the password
shows up in no output, log, /metrics page or `newsmon config show`."""

from __future__ import annotations

import json
import secrets
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.conftest import ROOT, free_port
from tests.integration.processes import newsmon_env, run_newsmon, running_worker
from tests.integration.secure_broker import SecureBroker, running_secure_broker

pytestmark = pytest.mark.broker
WATCHLISTS = ROOT / "monitor" / "data" / "watchlists.yaml"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    with running_secure_broker(tmp_path_factory.mktemp("sasl-ssl")) as secure:
        yield secure


def _env(broker: SecureBroker, password: str | None = None, **extra: str) -> dict[str, str]:
    prefix = f"sec{secrets.token_hex(4)}."
    return newsmon_env(
        broker.bootstrap,
        prefix,
        NEWSMON_KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        NEWSMON_KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        NEWSMON_KAFKA_SASL_USERNAME=broker.username,
        NEWSMON_KAFKA_SASL_PASSWORD=password or broker.password,
        NEWSMON_KAFKA_SSL_CAFILE=str(broker.cafile),
        NEWSMON_NER="false",
        NEWSMON_SPACY_MODEL="blank",
        NEWSMON_BATCH_WINDOW="0.1",
        **extra,
    )


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def test_worker_replay_rules_and_tail_run_over_sasl_ssl(
    broker: SecureBroker, tmp_path: Path, alert_schema: Draft202012Validator
) -> None:
    seen: list[str] = []
    with running_worker(_env(broker), free_port(), tmp_path) as worker:
        for args in (("replay", "seeds/"), ("rules", "push", str(WATCHLISTS))):
            done = run_newsmon(worker.env, *args)
            assert done.returncode == 0, done.stderr
            seen += [done.stdout, done.stderr]
        tail = run_newsmon(
            worker.env,
            *("alerts", "tail", "--from-beginning", "--max", "1", "--timeout", "120", "--json"),
            timeout=150,
        )
        assert tail.returncode == 0, tail.stderr
        alert = json.loads(tail.stdout.splitlines()[0])
        alert_schema.validate(alert)
        assert alert["matches"]
        metrics = _get(worker.metrics_url)
        assert "newsmon_alerts_raised_total{" in metrics
        seen.append(_get(f"http://127.0.0.1:{worker.port}/health"))
        shown = run_newsmon(worker.env, "config", "show")
        assert "NEWSMON_KAFKA_SASL_PASSWORD=********" in shown.stdout.splitlines()
        seen += [tail.stdout, tail.stderr, metrics, shown.stdout, shown.stderr]
    log = worker.log.read_text()
    # The broker has no other client listener: the alert alone proves that Faust's
    # consumers and transactional producers logged in; the log says as whom.
    assert "Authenticated as newsmon via SCRAM-SHA-512" in log
    for text in [*seen, log, broker.log.read_text()]:
        assert broker.password not in text


def test_the_password_can_come_from_a_file_and_still_shows_nowhere(
    broker: SecureBroker, tmp_path: Path
) -> None:
    secret = tmp_path / "sasl-password"
    secret.write_text(broker.password + "\n")  # as `docker secret` and editors leave it
    env = _env(broker)
    del env["NEWSMON_KAFKA_SASL_PASSWORD"]
    env["NEWSMON_KAFKA_SASL_PASSWORD_FILE"] = str(secret)
    replayed = run_newsmon(env, "replay", "seeds/")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1 articles" in replayed.stderr
    shown = run_newsmon(env, "config", "show")
    assert "NEWSMON_KAFKA_SASL_PASSWORD=********" in shown.stdout.splitlines()
    for text in (replayed.stdout, replayed.stderr, shown.stdout, shown.stderr):
        assert broker.password not in text


@pytest.mark.parametrize(
    "args",
    [
        ("replay", "seeds/"),
        ("worker",),
        ("rules", "push", str(WATCHLISTS)),
        ("alerts", "tail", "--timeout", "20"),
    ],
    ids=["replay", "worker", "rules-push", "alerts-tail"],
)
def test_a_wrong_password_fails_fast_with_one_clear_line(
    broker: SecureBroker, args: tuple[str, ...], tmp_path: Path
) -> None:
    wrong = f"wrong-{secrets.token_hex(8)}"
    env = _env(
        broker,
        password=wrong,
        NEWSMON_WEB_PORT=str(free_port()),
        NEWSMON_DATA_DIR=str(tmp_path / "data"),
    )
    started = time.monotonic()
    done = run_newsmon(env, *args, timeout=60)
    assert time.monotonic() - started < 60
    assert done.returncode == 3, done.stderr
    assert (
        f"newsmon: Kafka at {broker.bootstrap} refused the credentials of user 'newsmon'"
        " (SASL SCRAM-SHA-512): check NEWSMON_KAFKA_SASL_USERNAME / NEWSMON_KAFKA_SASL_PASSWORD"
    ) in done.stderr.splitlines()
    output = done.stdout + done.stderr
    assert wrong not in output
    assert broker.password not in output


def test_a_broker_certificate_from_another_ca_is_refused(broker: SecureBroker) -> None:
    env = _env(broker)
    del env["NEWSMON_KAFKA_SSL_CAFILE"]  # the system's CAs never signed the test CA
    done = run_newsmon(env, "replay", "seeds/", timeout=60)
    assert done.returncode == 3, done.stderr
    [line] = [x for x in done.stderr.splitlines() if x.startswith("newsmon: ")]
    assert line.startswith(f"newsmon: Kafka at {broker.bootstrap} sent a TLS certificate")
    assert line.endswith("check NEWSMON_KAFKA_SSL_CAFILE")
