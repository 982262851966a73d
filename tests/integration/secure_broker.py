"""Separate secured brokers for the secure-connection tests.

`deploy/kafka/kafka.sh` in a secure mode with its own state folder, ports and test CA
(keytool): SASL_SSL (KAFKA_SASL_SSL=1, SCRAM-SHA-512 users created at format time by
Kafka's StorageTool) or mutual TLS (KAFKA_MTLS=1, a client certificate of the test CA).
The shared PLAINTEXT broker on 127.0.0.1:9092 is never touched; only its resolved jars
(``<repo>/.kafka/lib-<version>``, git-ignored) are reused, read-only.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT, free_port, skip_or_fail

KAFKA_SH = ROOT / "deploy" / "kafka" / "kafka.sh"
LIB_CACHE = ROOT / ".kafka"


@dataclass(frozen=True)
class SecureBroker:
    """How a client reaches the broker: SASL_SSL, SCRAM-SHA-512, the test CA."""

    bootstrap: str
    cafile: Path
    username: str
    password: str
    log: Path


def _kafka_version() -> str:
    version = os.environ.get("KAFKA_VERSION")
    return version or (KAFKA_SH.parent / "VERSION").read_text().strip()


def _two_free_ports() -> tuple[int, int]:
    port = free_port()
    while (controller := free_port()) == port:
        pass
    return port, controller


def _kafka_sh(command: str, env: dict[str, str], timeout: float) -> None:
    done = subprocess.run(
        ["bash", str(KAFKA_SH), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"kafka.sh {command} failed:\n{done.stdout}{done.stderr}")


@dataclass(frozen=True)
class MtlsBroker:
    """How a client reaches the broker: SSL with a client certificate of the test CA."""

    bootstrap: str
    cafile: Path
    certfile: Path
    keyfile: Path
    log: Path


@contextmanager
def _running(state: Path, **mode: str) -> Iterator[int]:
    """Run kafka.sh in a secure mode with its state in ``state``; yield its port."""
    if not (shutil.which("java") and shutil.which("keytool") and shutil.which("openssl")):
        skip_or_fail("java/keytool/openssl not found: a secured broker needs a JDK 17 and openssl")
    port, controller = _two_free_ports()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    env.update(
        KAFKA_STATE_DIR=str(state),
        KAFKA_LIB_DIR=str(LIB_CACHE / f"lib-{_kafka_version()}"),
        KAFKA_PORT=str(port),
        KAFKA_CONTROLLER_PORT=str(controller),
        **mode,
    )
    try:
        _kafka_sh("up", env, timeout=300)
        yield port
    finally:
        _kafka_sh("down", env, timeout=120)


@contextmanager
def running_secure_broker(state: Path) -> Iterator[SecureBroker]:
    """Start a SASL_SSL broker with its state in ``state``; stop it afterwards."""
    password = f"pw-{secrets.token_hex(12)}"
    with _running(
        state,
        KAFKA_SASL_SSL="1",
        KAFKA_SASL_USER="newsmon",
        KAFKA_SASL_PASSWORD=password,
        KAFKA_SASL_ADMIN_PASSWORD=f"admin-{secrets.token_hex(12)}",
    ) as port:
        yield SecureBroker(
            bootstrap=f"127.0.0.1:{port}",
            cafile=state / "ssl" / "ca.pem",
            username="newsmon",
            password=password,
            log=state / "kafka.log",
        )


@contextmanager
def running_mtls_broker(state: Path) -> Iterator[MtlsBroker]:
    """Start a broker whose only client listener requires client certificates."""
    with _running(state, KAFKA_MTLS="1") as port:
        yield MtlsBroker(
            bootstrap=f"127.0.0.1:{port}",
            cafile=state / "ssl" / "ca.pem",
            certfile=state / "ssl" / "client.pem",
            keyfile=state / "ssl" / "client.key",
            log=state / "kafka.log",
        )
