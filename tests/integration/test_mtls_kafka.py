"""Client certificates (mutual TLS) on a real broker whose only client listener is SSL
with ``ssl.client.auth=required``: every Kafka client of newsmon presents the
certificate of NEWSMON_KAFKA_SSL_CERTFILE, an encrypted key opens with a password read
from a file, and each way of getting it wrong stops with one line naming the setting."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.conftest import ROOT, free_port
from tests.integration.processes import quick_env, run_newsmon, running_worker
from tests.integration.secure_broker import MtlsBroker, running_mtls_broker

pytestmark = pytest.mark.broker
WATCHLISTS = ROOT / "monitor" / "data" / "watchlists.yaml"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MtlsBroker]:
    with running_mtls_broker(tmp_path_factory.mktemp("mtls")) as secure:
        yield secure


def _env(broker: MtlsBroker, **settings: str) -> dict[str, str]:
    given = {
        "NEWSMON_KAFKA_SSL_CERTFILE": str(broker.certfile),
        "NEWSMON_KAFKA_SSL_KEYFILE": str(broker.keyfile),
        **settings,
    }
    return quick_env(
        broker.bootstrap,
        f"mtls{secrets.token_hex(4)}.",
        NEWSMON_KAFKA_SECURITY_PROTOCOL="SSL",
        NEWSMON_KAFKA_SSL_CAFILE=str(broker.cafile),
        **{k: v for k, v in given.items() if v},
    )


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _one_line(stderr: str) -> str:
    [line] = [x for x in stderr.splitlines() if x.startswith("newsmon: ")]
    return line


def test_worker_replay_rules_and_tail_present_the_client_certificate(
    broker: MtlsBroker, tmp_path: Path, alert_schema: Draft202012Validator
) -> None:
    with running_worker(_env(broker), free_port(), tmp_path) as worker:
        for args in (("replay", "seeds/"), ("rules", "push", str(WATCHLISTS))):
            done = run_newsmon(worker.env, *args)
            assert done.returncode == 0, done.stderr
        tail = run_newsmon(
            worker.env,
            *("alerts", "tail", "--from-beginning", "--max", "1", "--timeout", "120", "--json"),
            timeout=150,
        )
        assert tail.returncode == 0, tail.stderr
    # The broker has no other client listener, and it refuses a client without a
    # certificate (next test): the alert proves that Faust's consumers and
    # transactional producers, the replayer and the tail all presented it.
    alert = json.loads(tail.stdout.splitlines()[0])
    alert_schema.validate(alert)
    assert alert["matches"]


def test_an_encrypted_key_opens_with_a_password_from_a_file_shown_nowhere(
    broker: MtlsBroker, tmp_path: Path
) -> None:
    password = f"key-{secrets.token_hex(8)}"
    encrypted = tmp_path / "client-encrypted.key"
    _openssl(
        *("pkey", "-in", str(broker.keyfile), "-aes256", "-out", str(encrypted)),
        *("-passout", f"pass:{password}"),
    )
    assert b"ENCRYPTED" in encrypted.read_bytes()
    secret = tmp_path / "key-password"
    secret.write_text(password + "\n")
    env = _env(
        broker,
        NEWSMON_KAFKA_SSL_KEYFILE=str(encrypted),
        NEWSMON_KAFKA_SSL_KEY_PASSWORD_FILE=str(secret),
    )
    replayed = run_newsmon(env, "replay", "seeds/")
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 1 articles" in replayed.stderr
    shown = run_newsmon(env, "config", "show")
    assert "NEWSMON_KAFKA_SSL_KEY_PASSWORD=********" in shown.stdout.splitlines()
    wrong = f"wrong-{secrets.token_hex(8)}"
    env = _env(
        broker, NEWSMON_KAFKA_SSL_KEYFILE=str(encrypted), NEWSMON_KAFKA_SSL_KEY_PASSWORD=wrong
    )
    refused = run_newsmon(env, "replay", "seeds/")
    assert refused.returncode == 2, refused.stderr
    assert _one_line(refused.stderr) == (
        f"newsmon: NEWSMON_KAFKA_SSL_KEY_PASSWORD: not the password of the client key {encrypted}"
    )
    del env["NEWSMON_KAFKA_SSL_KEY_PASSWORD"]
    missing = run_newsmon(env, "replay", "seeds/")
    assert missing.returncode == 2, missing.stderr
    assert _one_line(missing.stderr) == (
        f"newsmon: NEWSMON_KAFKA_SSL_KEY_PASSWORD: the client key {encrypted} is encrypted;"
        " set its password"
    )
    for done in (replayed, shown, refused, missing):
        assert password not in done.stdout + done.stderr
        assert wrong not in done.stdout + done.stderr
    assert password not in broker.log.read_text()


@pytest.mark.parametrize("args", [("replay", "seeds/"), ("worker",)], ids=["replay", "worker"])
def test_no_client_certificate_fails_fast_with_one_clear_line(
    broker: MtlsBroker, args: tuple[str, ...], tmp_path: Path
) -> None:
    env = _env(
        broker,
        NEWSMON_KAFKA_SSL_CERTFILE="",
        NEWSMON_KAFKA_SSL_KEYFILE="",
        NEWSMON_WEB_PORT=str(free_port()),
        NEWSMON_DATA_DIR=str(tmp_path / "data"),
    )
    started = time.monotonic()
    done = run_newsmon(env, *args, timeout=60)
    assert time.monotonic() - started < 60
    assert done.returncode == 3, done.stderr
    assert _one_line(done.stderr).startswith(
        f"newsmon: Kafka at {broker.bootstrap} asks for a client certificate (TLS alert "
    )
    assert _one_line(done.stderr).endswith(
        "set NEWSMON_KAFKA_SSL_CERTFILE and NEWSMON_KAFKA_SSL_KEYFILE"
    )


def test_a_certificate_the_broker_does_not_trust_is_refused(
    broker: MtlsBroker, tmp_path: Path
) -> None:
    cert, key = tmp_path / "self.pem", tmp_path / "self.key"
    _openssl(
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
        *("-subj", "/CN=newsmon", "-keyout", str(key), "-out", str(cert)),
    )
    env = _env(broker, NEWSMON_KAFKA_SSL_CERTFILE=str(cert), NEWSMON_KAFKA_SSL_KEYFILE=str(key))
    done = run_newsmon(env, "replay", "seeds/", timeout=60)
    assert done.returncode == 3, done.stderr
    line = _one_line(done.stderr)
    assert line.startswith(
        f"newsmon: Kafka at {broker.bootstrap} refused the client certificate {cert} (TLS alert "
    )
    assert line.endswith(
        "check that NEWSMON_KAFKA_SSL_CERTFILE is signed by a CA the broker trusts"
    )


@pytest.mark.parametrize(
    ("certificate", "key", "said"),
    [
        ("missing", "client", "NEWSMON_KAFKA_SSL_CERTFILE: cannot read {cert}: No such file"),
        ("client", "missing", "NEWSMON_KAFKA_SSL_KEYFILE: cannot read {key}: No such file"),
        ("client", None, "NEWSMON_KAFKA_SSL_CERTFILE: no PEM private key in {cert}"),
        ("ca", "client", "NEWSMON_KAFKA_SSL_KEYFILE: the key in {key} does not belong to"),
    ],
    ids=["no-certificate-file", "no-key-file", "no-key", "key-of-another-certificate"],
)
def test_an_unusable_client_certificate_stops_before_kafka(
    broker: MtlsBroker, certificate: str, key: str | None, said: str, tmp_path: Path
) -> None:
    files = {
        "client": (broker.certfile, broker.keyfile),
        "ca": (broker.cafile, None),
        "missing": (tmp_path / "absent.pem", tmp_path / "absent.key"),
    }
    cert = files[certificate][0]
    key_path = files[key][1] if key else None
    env = _env(
        broker,
        NEWSMON_KAFKA_SSL_CERTFILE=str(cert),
        NEWSMON_KAFKA_SSL_KEYFILE=str(key_path or ""),
    )
    done = run_newsmon(env, "replay", "seeds/", timeout=60)
    assert done.returncode == 2, done.stderr
    assert _one_line(done.stderr).startswith("newsmon: " + said.format(cert=cert, key=key_path)), (
        done.stderr
    )
    assert "Traceback" not in done.stderr
