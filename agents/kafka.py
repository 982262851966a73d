"""Kafka clients built from the settings: connection options, the one reader and writer
factories, reading partitions to their end, and topic creation.

Also the words for a refused connection: when the broker rejects our TLS or SASL
handshake, :func:`probe_refusal` names the setting to check, never a secret.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import create_conn
from aiokafka.errors import (
    InvalidReplicationFactorError,
    KafkaConnectionError,
    KafkaError,
    NoError,
    SaslAuthenticationFailed,
    TopicAlreadyExistsError,
    UnsupportedSaslMechanismError,
    for_code,
)
from aiokafka.helpers import create_ssl_context
from pydantic import SecretStr

from agents.internals import install_client_fix, refresh_metadata
from agents.settings import SECRETS, Settings, SettingsError
from agents.topics import MAX_MESSAGE_BYTES, ResolvedTopic

log = logging.getLogger(__name__)
MASK = "********"
_T = TypeVar("_T")
#: How long an admin request is asked again after retriable errors (aiokafka's own
#: request timeout).
RETRY_FOR = 40.0


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL (brokers verified, host names checked), else None.

    Trusts NEWSMON_KAFKA_SSL_CAFILE when set, the system's CAs otherwise, and presents
    the client certificate of NEWSMON_KAFKA_SSL_CERTFILE (mTLS) when set. A file that
    cannot be read or used raises SettingsError naming its variable.
    """
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    cafile = settings.kafka_ssl_cafile
    try:
        context: ssl.SSLContext = create_ssl_context(cafile=str(cafile) if cafile else None)
    except OSError as exc:  # ssl.SSLError included: not a PEM certificate
        reason = exc.strerror or str(exc)
        raise SettingsError(f"NEWSMON_KAFKA_SSL_CAFILE: cannot load {cafile}: {reason}") from None
    if settings.kafka_ssl_certfile is not None:
        _load_client_certificate(context, settings, settings.kafka_ssl_certfile)
    return context


def _load_client_certificate(context: ssl.SSLContext, settings: Settings, certfile: Path) -> None:
    keyfile = settings.kafka_ssl_keyfile
    for variable, path in (("CERTFILE", certfile), ("KEYFILE", keyfile)):
        if path is None:
            continue
        try:
            path.open("rb").close()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise SettingsError(
                f"NEWSMON_KAFKA_SSL_{variable}: cannot read {path}: {reason}"
            ) from None
    password = settings.kafka_ssl_key_password.get_secret_value()
    try:
        context.load_cert_chain(str(certfile), str(keyfile) if keyfile else None, password)
    except ssl.SSLError as exc:
        raise SettingsError(_certificate_problem(settings, certfile, exc)) from None


def _certificate_problem(settings: Settings, certfile: Path, exc: ssl.SSLError) -> str:
    """Which client-certificate setting to check, from why OpenSSL could not load it."""
    keyfile = settings.kafka_ssl_keyfile
    keyed = keyfile or certfile
    key_text = keyed.read_bytes()
    if exc.reason == "KEY_VALUES_MISMATCH":
        return (
            f"NEWSMON_KAFKA_SSL_KEYFILE: the key in {keyed} does not belong to the certificate "
            f"in {certfile} (NEWSMON_KAFKA_SSL_CERTFILE)"
        )
    if b"ENCRYPTED" in key_text:  # PKCS#8 "ENCRYPTED PRIVATE KEY" or a Proc-Type header
        if settings.kafka_ssl_key_password.get_secret_value():
            return f"NEWSMON_KAFKA_SSL_KEY_PASSWORD: not the password of the client key {keyed}"
        return (
            f"NEWSMON_KAFKA_SSL_KEY_PASSWORD: the client key {keyed} is encrypted; set its password"
        )
    if b"PRIVATE KEY-----" not in key_text:
        variable = "NEWSMON_KAFKA_SSL_KEYFILE" if keyfile else "NEWSMON_KAFKA_SSL_CERTFILE"
        return f"{variable}: no PEM private key in {keyed}" + (
            "" if keyfile else " (name the key's file in NEWSMON_KAFKA_SSL_KEYFILE)"
        )
    return f"NEWSMON_KAFKA_SSL_CERTFILE: cannot use {certfile}: {exc.reason or exc}"


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options shared by every aiokafka client (bootstrap, TLS, SASL)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if context := ssl_context(settings):
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def mask_secrets(text: str, settings: Settings) -> str:
    """``text`` with every secret setting replaced by a mask (for messages built from errors)."""
    for name in SECRETS:
        secret: SecretStr = getattr(settings, name)
        if value := secret.get_secret_value():
            text = text.replace(value, MASK)
    return text


def refusal(settings: Settings, exc: BaseException) -> str | None:
    """What the broker refused, as the rest of "Kafka at HOST:PORT ...", or None."""
    return _login_refusal(settings, exc) or _tls_refusal(settings, exc)


def _login_refusal(settings: Settings, exc: BaseException) -> str | None:
    mechanism = settings.kafka_sasl_mechanism
    if isinstance(exc, SaslAuthenticationFailed):
        return (
            f"refused the credentials of user {settings.kafka_sasl_username!r} (SASL {mechanism}):"
            " check NEWSMON_KAFKA_SASL_USERNAME / NEWSMON_KAFKA_SASL_PASSWORD"
        )
    if isinstance(exc, UnsupportedSaslMechanismError):
        return f"does not offer SASL {mechanism}: check NEWSMON_KAFKA_SASL_MECHANISM"
    return None


def _tls_refusal(settings: Settings, exc: BaseException) -> str | None:
    protocol = settings.kafka_security_protocol
    check_protocol = f"check that NEWSMON_KAFKA_SECURITY_PROTOCOL ({protocol}) fits the listener"
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = getattr(exc, "verify_message", None) or exc.reason or exc
        return f"sent a TLS certificate we do not trust ({detail}): check NEWSMON_KAFKA_SSL_CAFILE"
    if (alert := _client_certificate_alert(exc)) is not None:
        if (certfile := settings.kafka_ssl_certfile) is None:
            return (
                f"asks for a client certificate (TLS alert {alert}): set "
                "NEWSMON_KAFKA_SSL_CERTFILE and NEWSMON_KAFKA_SSL_KEYFILE"
            )
        return (
            f"refused the client certificate {certfile} (TLS alert {alert}): check that "
            "NEWSMON_KAFKA_SSL_CERTFILE is signed by a CA the broker trusts"
        )
    if isinstance(exc, ssl.SSLError):
        return f"failed the TLS handshake ({exc.reason or exc}): {check_protocol}"
    # A TLS listener drops a plaintext request at once (aiokafka reads a short frame),
    # and a plaintext listener resets a TLS hello.
    tls = protocol in ("SSL", "SASL_SSL")
    dropped = isinstance(exc, KafkaConnectionError) and isinstance(
        exc.__cause__, asyncio.IncompleteReadError
    )
    if (dropped and not tls) or (tls and isinstance(exc, ConnectionResetError)):
        return f"closed the connection during the handshake: {check_protocol}"
    return None


#: TLS alerts a broker sends when client authentication fails (TLS 1.2 and 1.3 wording).
_CLIENT_CERTIFICATE_ALERTS = (
    "SSLV3_ALERT_BAD_CERTIFICATE",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    "TLSV1_ALERT_UNKNOWN_CA",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
)


def _client_certificate_alert(exc: BaseException) -> str | None:
    """The alert's name if the broker rejected (or missed) our client certificate."""
    for error in (exc, exc.__cause__):
        reason = getattr(error, "reason", None) if isinstance(error, ssl.SSLError) else None
        if reason in _CLIENT_CERTIFICATE_ALERTS:
            return str(reason).rsplit("ALERT_", 1)[-1].replace("_", " ").lower()
    return None


async def probe_refusal(settings: Settings, timeout: float = 10) -> tuple[str, str] | None:
    """After a failed bootstrap: connect once to the first server to name a TLS/SASL refusal.

    aiokafka logs the cause and raises only "Unable to bootstrap"; this one extra
    handshake returns ``(host:port, refusal)``, or None when the cause lies elsewhere.
    """
    server = settings.kafka_bootstrap.split(",")[0].strip()
    host, _, port = server.rpartition(":")
    if not port.isdigit():
        return None
    options = client_options(settings)
    del options["bootstrap_servers"]
    try:
        conn = await asyncio.wait_for(create_conn(host.strip("[]"), int(port), **options), timeout)
    except (KafkaError, OSError, TimeoutError) as exc:
        reason = refusal(settings, exc)
        return (server, reason) if reason else None
    conn.close()
    return None


def reader(
    settings: Settings,
    *topics: str,
    from_beginning: bool = True,
    committed_only: bool = True,
) -> AIOKafkaConsumer:
    """A consumer outside every group (each reader sees every record; nothing committed).

    ``committed_only`` reads with ``read_committed``: records of aborted or open
    transactions are never seen. With ``topics`` it subscribes; without, the caller assigns.
    """
    install_client_fix()
    return AIOKafkaConsumer(
        *topics,
        **client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        isolation_level="read_committed" if committed_only else "read_uncommitted",
    )


async def read_to_end(
    consumer: AIOKafkaConsumer,
    partitions: Iterable[TopicPartition],
    starts: Mapping[TopicPartition, int] | None = None,
) -> AsyncGenerator[list[Any], None]:
    """Batches of records of ``partitions``, from ``starts`` (else the beginning) to their
    end offsets as they were when reading began; stop iterating to stop early.

    The end is checked on every partition after each fetch, not only on those that
    returned records, so a partition whose last offsets hold no record (transaction
    markers) does not keep the reading going.
    """
    wanted = list(partitions)
    consumer.assign(wanted)
    ends = await consumer.end_offsets(wanted)
    for tp in wanted:
        if starts is not None and tp in starts:
            consumer.seek(tp, starts[tp])
        else:
            await consumer.seek_to_beginning(tp)
    remaining = {tp for tp in wanted if await consumer.position(tp) < ends[tp]}
    while remaining:
        fetched = await consumer.getmany(*remaining, timeout_ms=1000)
        for tp, records in fetched.items():
            yield [r for r in records if r.offset < ends[tp]]
        remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}


def _check_replicas(described: Iterable[dict[str, Any]], factor: int) -> None:
    """Refuse topics that hold fewer replicas per partition than ``factor``."""
    short = []
    for topic in described:
        fewest = min((len(p["replicas"]) for p in topic["partitions"]), default=factor)
        if fewest < factor:
            short.append(f"{topic['topic']} ({fewest})")
    if short:
        raise SettingsError(
            f"NEWSMON_REPLICATION_FACTOR is {factor}, but these topics have fewer replicas: "
            f"{', '.join(sorted(short))}; raise their replication (kafka-reassign-partitions) "
            "or lower the setting"
        )


def idempotent_producer(settings: Settings, **extra: Any) -> AIOKafkaProducer:
    """A producer with idempotence on (acks=all): retries never duplicate a message."""
    install_client_fix()
    return AIOKafkaProducer(
        **client_options(settings),
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_request_size=MAX_MESSAGE_BYTES,
        **extra,
    )


def min_insync_replicas(replication_factor: int) -> int:
    """Acknowledged writes survive one broker's loss from three replicas on (2 of 3)."""
    return 2 if replication_factor >= 3 else 1


async def ensure_topics(settings: Settings, topics: Iterable[ResolvedTopic]) -> list[str]:
    """Create the topics that do not exist yet, with ``NEWSMON_REPLICATION_FACTOR``
    replicas; returns the names created. An existing topic with fewer replicas than that
    is refused (SettingsError): its data would not survive what the setting promises.

    A request that fails for a reason Kafka calls retriable (a broker just killed is
    still in the metadata, a leader moving) is asked again, of a fresh metadata, until
    the client's request timeout; a topic the cluster refuses to create raises
    SettingsError with the broker's reason.
    """
    factor = settings.replication_factor
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        wanted = list(topics)
        existing = set(await retrying(admin, admin.list_topics))
        named = [t.name for t in wanted if t.name in existing]
        _check_replicas(await retrying(admin, lambda: admin.describe_topics(named)), factor)
        created = []
        for topic in (t for t in wanted if t.name not in existing):
            configs = {**topic.configs, "min.insync.replicas": str(min_insync_replicas(factor))}
            new = NewTopic(topic.name, topic.partitions, factor, topic_configs=configs)
            response = await retrying(admin, functools.partial(admin.create_topics, [new]))
            if _created(response.to_object(), factor):
                created.append(topic.name)
        if created:
            log.info("created topics: %s", ", ".join(created))
        return created
    finally:
        await admin.close()


def _created(response: Mapping[str, Any], factor: int) -> bool:
    """True if the CreateTopics answer created the topic, False if it existed already.

    Too few brokers for the replication factor raises SettingsError naming the setting;
    any other refusal raises the broker's error with its reason.
    """
    for answer in response["topic_errors"]:
        error, topic = for_code(answer["error_code"]), answer["topic"]
        reason = answer.get("error_message") or error.description
        if error is NoError:
            continue
        if error is TopicAlreadyExistsError:
            return False  # another worker or replayer created it first
        if error is InvalidReplicationFactorError:
            raise SettingsError(
                f"NEWSMON_REPLICATION_FACTOR is {factor}, but Kafka cannot create {topic}: {reason}"
            )
        raise error(f"cannot create topic {topic}: {reason}")
    return True


async def retrying(admin: AIOKafkaAdminClient, call: Callable[[], Awaitable[_T]]) -> _T:
    """``call()``, asked again on fresh metadata after a retriable Kafka error, for
    :data:`RETRY_FOR` seconds."""
    deadline = time.monotonic() + RETRY_FOR
    while True:
        try:
            return await call()
        except KafkaError as exc:
            if not exc.retriable or time.monotonic() >= deadline:
                raise
            log.info("Kafka answered %s; asking again", type(exc).__name__)
            await asyncio.sleep(0.5)
            await refresh_metadata(admin)
