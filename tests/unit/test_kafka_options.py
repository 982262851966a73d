"""Kafka client security from the settings, without a broker: the TLS context and SASL
login of every aiokafka client and of the Faust worker, the words for a refused
handshake, and the password kept out of messages."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from agents.app import _broker_credentials
from agents.kafka import MASK, client_options, mask_secrets, refusal
from agents.settings import Settings, SettingsError, load_settings

# A throwaway self-signed CA (public certificate only; its key was never kept).
CA_PEM = """-----BEGIN CERTIFICATE-----
MIIDITCCAgmgAwIBAgIUROvOp2rPwSOmq2lQuRUM5dsFzywwDQYJKoZIhvcNAQEL
BQAwHzEdMBsGA1UEAwwUbmV3c21vbiB1bml0LXRlc3QgQ0EwIBcNMjYxMTI2MTcz
MjEyWhgPMjEyNjExMDIxNzMyMTJaMB8xHTAbBgNVBAMMFG5ld3Ntb24gdW5pdC10
ZXN0IENBMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA4HdsNwfiUajL
7+Uym67znGQVUWwSzTiCK9Y10c71EymT1NRmwF/4sKJoP/ifnEaXbk5KzfUY3dAa
btj1niLkF/R36/lTbmPVZu+NOqd1Y8qUFmZquAIocbHCmctiUzYsGGD+MNi951rX
L2b88d0ihW4jjpm47SQh8wvdZSLgcqHuF5Gbe3eCGinzhvguYfxzNwJN+Rw0celo
ac/Vn/RniU8hdWSig9X1hNDre05G1e/jBSFb7qoSHcTrM2oC3uOFZ7/Fg4CX6iKj
uazuqJBh/AvmE9D2LHyd2BLTKTwzNUsBWkuzV0koHVnWsoYrVFPb//vqK5J3yCGt
3CnyoDHyMwIDAQABo1MwUTAdBgNVHQ4EFgQUvSurlErY8LmVTtebM8M2cNKII40w
HwYDVR0jBBgwFoAUvSurlErY8LmVTtebM8M2cNKII40wDwYDVR0TAQH/BAUwAwEB
/zANBgkqhkiG9w0BAQsFAAOCAQEAn6DYrEEgr6ycHyKBNKlXgiWK+KeS94fZdnZ3
4Ej0CqL7o3OvZxBpz0WE4ECs9ZhJu6aMTw/LC3ZUKkWvRBVmn7XyxLLNniLbnH1f
/Dq8qP5DfoOPihPObAiBcEcecqYdoIWrxmIc7GzPXbEN6NllBu6Y4pbrzh2KyFdc
vvDV74rGTZrJnRt2yZNWX0XVbNj8CTlRxqkEgW37jG3E7u+19A3wpFHQ7U9jRHGY
HxRzqV4ox7IVewWkRp5ded8/1y+dKabV7fMf54mgSGoVL11csS+c6iCXVoMrk7Gr
bTLWjkLNjo5X0NF/sNC26ewNvY115+no12FSW6caJABCcTAgHw==
-----END CERTIFICATE-----
"""
PASSWORD = "s3cret-pw-9f2c"  # looked for in every output


@pytest.fixture
def cafile(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text(CA_PEM)
    return path


def _settings(protocol: str, cafile: Path | None = None) -> Settings:
    env = {
        "NEWSMON_KAFKA_BOOTSTRAP": "kafka-1:9093,kafka-2:9093",
        "NEWSMON_KAFKA_SECURITY_PROTOCOL": protocol,
        "NEWSMON_KAFKA_SASL_USERNAME": "newsmon",
        "NEWSMON_KAFKA_SASL_PASSWORD": PASSWORD,
    }
    if cafile:
        env["NEWSMON_KAFKA_SSL_CAFILE"] = str(cafile)
    return load_settings(env)


def _trusted_subjects(context: ssl.SSLContext) -> list[Any]:
    return [cert["subject"] for cert in context.get_ca_certs()]


def test_plaintext_has_neither_tls_nor_sasl() -> None:
    options = client_options(_settings("PLAINTEXT"))
    assert options == {
        "bootstrap_servers": "kafka-1:9093,kafka-2:9093",
        "security_protocol": "PLAINTEXT",
    }
    assert _broker_credentials(_settings("PLAINTEXT")) is None


def test_sasl_ssl_verifies_the_broker_against_the_ca_and_logs_in(cafile: Path) -> None:
    options = client_options(_settings("SASL_SSL", cafile))
    context = options.pop("ssl_context")
    assert options == {
        "bootstrap_servers": "kafka-1:9093,kafka-2:9093",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "newsmon",
        "sasl_plain_password": PASSWORD,
    }
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    # Only the configured CA: not the system's, so no other CA can vouch for a broker.
    assert _trusted_subjects(context) == [((("commonName", "newsmon unit-test CA"),),)]


@pytest.mark.parametrize(
    ("protocol", "tls", "sasl"),
    [("SSL", True, False), ("SASL_PLAINTEXT", False, True), ("SASL_SSL", True, True)],
)
def test_the_worker_connects_exactly_like_the_other_clients(
    cafile: Path, protocol: str, tls: bool, sasl: bool
) -> None:
    settings = _settings(protocol, cafile)
    worker = dict(credentials_to_aiokafka_auth(_broker_credentials(settings)))
    clients = client_options(settings)
    del clients["bootstrap_servers"]
    assert worker.pop("security_protocol") == clients.pop("security_protocol") == protocol
    assert (worker.pop("ssl_context", None) is not None) == tls
    assert (clients.pop("ssl_context", None) is not None) == tls
    assert ("sasl_plain_password" in worker) == sasl
    assert worker == clients


def test_the_worker_credentials_do_not_print_the_password(cafile: Path) -> None:
    credentials = _broker_credentials(_settings("SASL_SSL", cafile))
    assert isinstance(credentials, faust.SASLCredentials)
    assert PASSWORD not in repr(credentials)
    assert PASSWORD not in str(credentials)


@pytest.mark.parametrize("content", [None, "not a certificate\n"], ids=["missing", "not-pem"])
def test_an_unusable_ca_file_names_the_variable(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "ca.pem"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SettingsError, match=r"^NEWSMON_KAFKA_SSL_CAFILE: cannot load .*ca\.pem"):
        client_options(_settings("SASL_SSL", path))
    with pytest.raises(SettingsError, match=r"^NEWSMON_KAFKA_SSL_CAFILE: "):
        _broker_credentials(_settings("SSL", path))


def _untrusted() -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED]")
    exc.verify_message = "self-signed certificate in certificate chain"  # as ssl sets it
    return exc


def _dropped() -> KafkaConnectionError:
    exc = KafkaConnectionError("Connection at kafka-1:9093 closed")
    exc.__cause__ = asyncio.IncompleteReadError(b"\x15\x03\x03", 352518912)
    return exc


@pytest.mark.parametrize(
    ("protocol", "exc", "expected"),
    [
        (
            "SASL_SSL",
            SaslAuthenticationFailed("invalid credentials with SASL mechanism SCRAM-SHA-512"),
            "refused the credentials of user 'newsmon' (SASL SCRAM-SHA-512): check"
            " NEWSMON_KAFKA_SASL_USERNAME / NEWSMON_KAFKA_SASL_PASSWORD",
        ),
        (
            "SASL_SSL",
            UnsupportedSaslMechanismError("PLAIN only"),
            "does not offer SASL SCRAM-SHA-512: check NEWSMON_KAFKA_SASL_MECHANISM",
        ),
        (
            "SSL",
            _untrusted(),
            "sent a TLS certificate we do not trust (self-signed certificate in certificate"
            " chain): check NEWSMON_KAFKA_SSL_CAFILE",
        ),
        (
            "PLAINTEXT",
            _dropped(),
            "closed the connection during the handshake: check that"
            " NEWSMON_KAFKA_SECURITY_PROTOCOL (PLAINTEXT) fits the listener",
        ),
        (
            "SASL_SSL",
            ConnectionResetError(),
            "closed the connection during the handshake: check that"
            " NEWSMON_KAFKA_SECURITY_PROTOCOL (SASL_SSL) fits the listener",
        ),
        ("SASL_SSL", ConnectionRefusedError(), None),
        ("SASL_SSL", KafkaConnectionError("Unable to bootstrap"), None),
    ],
    ids=[
        "password",
        "mechanism",
        "untrusted",
        "plaintext-to-tls",
        "tls-to-plaintext",
        "down",
        "bare",
    ],
)
def test_a_refused_handshake_names_the_setting_to_check(
    protocol: str, exc: BaseException, expected: str | None
) -> None:
    reason = refusal(_settings(protocol), exc)
    assert reason == expected
    assert PASSWORD not in (reason or "")


def test_messages_never_carry_the_password() -> None:
    settings = _settings("SASL_PLAINTEXT")
    text = mask_secrets(f"login as newsmon:{PASSWORD} failed", settings)
    assert text == f"login as newsmon:{MASK} failed"
    assert mask_secrets("nothing secret", _settings("PLAINTEXT")) == "nothing secret"
