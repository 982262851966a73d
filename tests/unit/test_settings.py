"""Settings: resolved once, bad values name their variable, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.settings import SettingsError, load_settings


def test_defaults_without_environment() -> None:
    settings = load_settings({})
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.web_port == 6066
    assert settings.max_article_bytes == 1024 * 1024


def test_environment_values_are_parsed() -> None:
    settings = load_settings(
        {"NEWSMON_WEB_PORT": "7000", "NEWSMON_NER": "false", "NEWSMON_TOPIC_PREFIX": "test."}
    )
    assert (settings.web_port, settings.ner, settings.topic_prefix) == (7000, False, "test.")


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"NEWSMON_WEB_PORT": "abc"}, "NEWSMON_WEB_PORT"),
        ({"NEWSMON_WEB_PORT": "70000"}, "NEWSMON_WEB_PORT"),
        ({"NEWSMON_PARTITIONS": "0"}, "NEWSMON_PARTITIONS"),
        ({"NEWSMON_KAFKA_SECURITY_PROTOCOL": "TLS"}, "NEWSMON_KAFKA_SECURITY_PROTOCOL"),
        ({"NEWSMON_BATCH_WINDOW": "-1"}, "NEWSMON_BATCH_WINDOW"),
        ({"NEWSMON_PRODUCER_LINGER": "2"}, "NEWSMON_PRODUCER_LINGER"),
        ({"NEWSMON_WEBPORT": "1"}, "NEWSMON_WEBPORT"),
    ],
)
def test_bad_setting_names_the_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(SettingsError, match=f"^{name}: "):
        load_settings(env)


def test_sasl_without_user_is_refused() -> None:
    with pytest.raises(SettingsError, match="NEWSMON_KAFKA_SASL_USERNAME is required"):
        load_settings({"NEWSMON_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})


@pytest.mark.parametrize(
    ("env", "said"),
    [
        (
            {"NEWSMON_KAFKA_SSL_KEYFILE": "client.key"},
            "NEWSMON_KAFKA_SSL_KEYFILE needs NEWSMON_KAFKA_SSL_CERTFILE",
        ),
        (
            {"NEWSMON_KAFKA_SSL_KEY_PASSWORD": "x"},
            "NEWSMON_KAFKA_SSL_KEY_PASSWORD needs NEWSMON_KAFKA_SSL_CERTFILE",
        ),
        (
            {"NEWSMON_KAFKA_SSL_CERTFILE": "client.pem"},
            "NEWSMON_KAFKA_SSL_CERTFILE needs NEWSMON_KAFKA_SECURITY_PROTOCOL SSL or SASL_SSL, "
            "not PLAINTEXT",
        ),
    ],
)
def test_a_client_key_without_its_certificate_or_tls_is_refused(
    env: dict[str, str], said: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(env)
    assert str(refused.value) == said


def test_secrets_are_masked_when_shown() -> None:
    settings = load_settings(
        {
            "NEWSMON_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "NEWSMON_KAFKA_SASL_USERNAME": "analyst",
            "NEWSMON_KAFKA_SASL_PASSWORD": "hunter2-secret",
        }
    )
    shown = settings.masked()
    assert shown["NEWSMON_KAFKA_SASL_PASSWORD"] == "********"
    assert "hunter2-secret" not in repr(settings)
    assert "hunter2-secret" not in str(shown)
    assert settings.kafka_sasl_password.get_secret_value() == "hunter2-secret"


def test_a_secret_can_come_from_a_file_as_docker_and_kubernetes_mount_them(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "sasl-password"
    secret.write_text("s3cr3t value\n")
    settings = load_settings({"NEWSMON_KAFKA_SASL_PASSWORD_FILE": str(secret)})
    assert settings.kafka_sasl_password.get_secret_value() == "s3cr3t value"
    assert "s3cr3t" not in str(settings.masked())


def test_a_secret_file_that_cannot_be_read_or_doubles_the_variable_stops_start_up(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "absent"
    with pytest.raises(SettingsError, match=r"^NEWSMON_KAFKA_SASL_PASSWORD_FILE: cannot read"):
        load_settings({"NEWSMON_KAFKA_SASL_PASSWORD_FILE": str(missing)})
    secret = tmp_path / "pw"
    secret.write_text("x")
    with pytest.raises(SettingsError, match=r"^NEWSMON_KAFKA_SASL_PASSWORD_FILE: .* is set too"):
        load_settings(
            {"NEWSMON_KAFKA_SASL_PASSWORD_FILE": str(secret), "NEWSMON_KAFKA_SASL_PASSWORD": "y"}
        )
    with pytest.raises(SettingsError, match=r"^NEWSMON_PARTITIONS_FILE: unknown setting"):
        load_settings({"NEWSMON_PARTITIONS_FILE": str(secret)})
