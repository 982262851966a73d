"""Settings: the only reader of the environment.

Every setting is a ``NEWSMON_*`` variable (table in docs/configuration.md, same names in
docker-compose.yml). :func:`load_settings` resolves them once into a frozen object;
a bad value stops start-up with the variable's name. Secrets are masked when printed.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.rules.files import DEFAULT_WATCHLISTS
from monitor.tagging.taxonomy import DEFAULT_TAXONOMY

PREFIX = "NEWSMON_"
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class SettingsError(Exception):
    """A setting that stops start-up; the message names the variable."""


class Settings(BaseModel):
    """The effective configuration of a newsmon process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma-separated"
    )
    kafka_security_protocol: SecurityProtocol = Field(
        "PLAINTEXT", description="Kafka security protocol"
    )
    kafka_sasl_mechanism: SaslMechanism = Field("SCRAM-SHA-512", description="SASL mechanism")
    kafka_sasl_username: str = Field("", description="SASL user name")
    kafka_sasl_password: SecretStr = Field(SecretStr(""), description="SASL password (secret)")
    kafka_ssl_cafile: Path | None = Field(
        None, description="CA certificate (PEM) to verify the brokers"
    )
    kafka_ssl_certfile: Path | None = Field(
        None,
        description="Client certificate (PEM, with its chain; may hold the key too) for brokers "
        "that require client authentication (mTLS)",
    )
    kafka_ssl_keyfile: Path | None = Field(
        None, description="Private key (PEM) of the client certificate, if not in that file"
    )
    kafka_ssl_key_password: SecretStr = Field(
        SecretStr(""), description="Password of an encrypted client key (secret)"
    )
    app_id: str = Field("newsmon", description="Faust app id: the consumer group of the workers")
    topic_prefix: str = Field("", description="Prefix for every topic name (isolates test runs)")
    partitions: int = Field(6, ge=1, le=1024, description="Partitions of the data topics")
    replication_factor: int = Field(
        1,
        ge=1,
        le=16,
        description="Replicas of every topic newsmon creates (3 on a cluster); "
        "min.insync.replicas is 2 from 3 replicas on, else 1",
    )
    web_host: str = Field("127.0.0.1", description="Address of the worker's metrics/health server")
    web_port: int = Field(
        6066, ge=1, le=65535, description="Port of the worker's metrics/health server"
    )
    desk_host: str = Field(
        "127.0.0.1",
        description="Address of the analysts' desk (newsmon desk); any other than a loopback "
        "address needs NEWSMON_DESK_TOKEN",
    )
    desk_port: int = Field(8080, ge=1, le=65535, description="Port of the analysts' desk")
    desk_history: float = Field(
        7 * 86_400, gt=0, description="Seconds of alerts the desk loads from the topics at start"
    )
    desk_token: SecretStr = Field(
        SecretStr(""), description="Token a desk off the loopback address asks for (secret)"
    )
    desk_users_file: Path | None = Field(
        None,
        description="Users of the desk with scrypt password hashes, one 'name:scrypt$...' "
        "line each (newsmon desk --hash-password NAME)",
    )
    delivery_attempts: int = Field(
        8, ge=1, le=100, description="Attempts to post an alert to a webhook before giving up"
    )
    delivery_backoff: float = Field(
        1.0, gt=0, le=3600, description="Seconds before a webhook's second attempt (doubling)"
    )
    delivery_backoff_cap: float = Field(
        60.0, gt=0, le=3600, description="Longest pause between a webhook's attempts"
    )
    delivery_timeout: float = Field(
        10.0, gt=0, le=300, description="Seconds one webhook request may take"
    )
    smtp_host: str = Field("", description="SMTP server of the e-mail digests (empty: none)")
    smtp_port: int = Field(587, ge=1, le=65535, description="Port of the SMTP server")
    smtp_starttls: bool = Field(
        True, description="Upgrade the SMTP connection with STARTTLS (verified) before login"
    )
    smtp_cafile: Path | None = Field(
        None, description="CA certificate (PEM) of the SMTP server; empty: the system's CAs"
    )
    smtp_username: str = Field("", description="SMTP login (empty: no login)")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password (secret)")
    smtp_from: str = Field("newsmon@localhost", description="Sender of the e-mail digests")
    spacy_model: str = Field("en_core_web_sm", description="spaCy pipeline name, or 'blank'")
    ner: bool = Field(True, description="Run named-entity recognition")
    taxonomy: Path = Field(DEFAULT_TAXONOMY, description="Taxonomy YAML file")
    topic_model: str = Field(
        "",
        description="Topic model JSON of the learned second stage; empty: the shipped one "
        "when it was trained for the taxonomy; 'none': the taxonomy decides alone",
    )
    rules: Path = Field(DEFAULT_WATCHLISTS, description="Watchlist/rule YAML file loaded at start")
    max_article_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest accepted article message"
    )
    batch_size: int = Field(32, ge=1, le=10_000, description="Articles per NLP batch")
    batch_window: float = Field(
        0.01,
        gt=0,
        le=60,
        description="Seconds a stage gathers records before it takes them as a batch",
    )
    producer_linger: float = Field(
        0.005,
        ge=0,
        le=1,
        description="Seconds the worker's producer waits to gather records into one request",
    )
    commit_interval: float = Field(
        0.5, gt=0, le=60, description="Seconds between commits (and transactions)"
    )
    tagged_words: bool = Field(
        False,
        description="Publish each word's offsets on news.tagged (for subscribers that "
        "rebuild the analysed fields; newsmon itself does not read them)",
    )
    dedupe_window: float = Field(
        86_400,
        gt=0,
        description="Seconds a story takes articles after it was founded, and alerts once per rule",
    )
    spikes: bool = Field(True, description="Detect spikes in the stream (spike alerts)")
    spike_window: float = Field(
        3600, ge=1, description="Seconds per spike window (event time: published_at, else ingest)"
    )
    spike_lateness: float = Field(
        600, ge=0, description="Seconds an article may come after its spike window ended"
    )
    spike_warmup: int = Field(
        7, ge=1, le=10_000, description="Windows of history a series needs before it can spike"
    )
    spike_min_count: int = Field(
        5, ge=1, description="Fewest articles in a window that can make a spike"
    )
    spike_alpha: float = Field(
        0.01, gt=0, lt=1, description="Expected false spikes per window when nothing happens"
    )
    spike_max_entities: int = Field(
        200, ge=1, le=100_000, description="Entity series followed (the most frequent K)"
    )
    spike_watchlist: str = Field(
        "spikes",
        pattern=r"^[a-z0-9][a-z0-9.-]*$",
        description="Watchlist (and route alerts.<name>) of topic and entity spike alerts",
    )
    session_timeout: float = Field(
        60,
        ge=6,
        le=1800,
        description="Seconds a worker may send its group no heartbeat before its partitions "
        "go to the others (a killed worker's work waits this long)",
    )
    stall_timeout: float = Field(
        120,
        ge=0,
        description="Seconds without progress (records pending, or in one rebalance) before a "
        "worker exits to be restarted (0: never)",
    )
    data_dir: Path = Field(
        Path(".newsmon-data"), description="Worker state directory (Faust tables)"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level")

    @field_validator("topic_model")
    @classmethod
    def _model_file_exists(cls, value: str) -> str:
        if value not in ("", "none") and not Path(value).is_file():
            raise ValueError(f"no topic model file at {value!r} (or '' / 'none')")
        return value

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL") and not self.kafka_sasl_username:
            raise ValueError(
                "NEWSMON_KAFKA_SASL_USERNAME is required with a SASL security protocol"
            )
        return self

    @model_validator(mode="after")
    def _desk_off_loopback_needs_a_token(self) -> Settings:
        guarded = self.desk_token.get_secret_value() or self.desk_users_file is not None
        if not _loopback(self.desk_host) and not guarded:
            raise ValueError(
                f"NEWSMON_DESK_TOKEN or NEWSMON_DESK_USERS_FILE is required when "
                f"NEWSMON_DESK_HOST ({self.desk_host}) is not a loopback address: anyone who "
                "reaches the desk could read and judge alerts"
            )
        if 0 < len(self.desk_token.get_secret_value()) < 16:
            raise ValueError("NEWSMON_DESK_TOKEN must be at least 16 characters")
        return self

    @model_validator(mode="after")
    def _client_certificate_needs_tls(self) -> Settings:
        if self.kafka_ssl_certfile is None:
            if self.kafka_ssl_keyfile is not None:
                raise ValueError("NEWSMON_KAFKA_SSL_KEYFILE needs NEWSMON_KAFKA_SSL_CERTFILE")
            if self.kafka_ssl_key_password.get_secret_value():
                raise ValueError("NEWSMON_KAFKA_SSL_KEY_PASSWORD needs NEWSMON_KAFKA_SSL_CERTFILE")
        elif self.kafka_security_protocol not in ("SSL", "SASL_SSL"):
            raise ValueError(
                "NEWSMON_KAFKA_SSL_CERTFILE needs NEWSMON_KAFKA_SECURITY_PROTOCOL SSL or "
                f"SASL_SSL, not {self.kafka_security_protocol}"
            )
        return self

    def masked(self) -> dict[str, str]:
        """Every setting as ``NEWSMON_NAME -> value``, secrets masked."""
        shown = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********" if value.get_secret_value() else ""
            shown[PREFIX + name.upper()] = "" if value is None else str(value)
        return shown


#: Settings that are secrets: each may also be read from a file named by ``<VARIABLE>_FILE``,
#: as Docker and Kubernetes mount secrets.
SECRETS = tuple(
    name for name, field in Settings.model_fields.items() if field.annotation is SecretStr
)


def _secret_files(
    env: Mapping[str, str], files: Mapping[str, str], values: Mapping[str, Any]
) -> dict[str, str]:
    """The secrets given as files (their text without the final line break)."""
    found = {}
    for variable, name in files.items():
        path = env.get(variable, "")
        if not path:
            continue
        if name in values:
            raise SettingsError(f"{variable}: {variable[:-5]} is set too; give one of them")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise SettingsError(f"{variable}: cannot read {path}: {reason}") from None
        found[name] = text.removesuffix("\n").removesuffix("\r")
    return found


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Resolve the settings once; a bad value raises SettingsError naming the variable."""
    env = os.environ if environ is None else environ
    known = {PREFIX + name.upper() for name in Settings.model_fields}
    files = {PREFIX + name.upper() + "_FILE": name for name in SECRETS}
    unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in known and k not in files)
    if unknown:
        raise SettingsError(f"{unknown[0]}: unknown setting (known: see `newsmon config show`)")
    # An empty variable means "not set": the default applies (e.g. the system's CAs).
    values = {k[len(PREFIX) :].lower(): v for k, v in env.items() if k in known and v != ""}
    values.update(_secret_files(env, files, values))
    values.update(overrides)
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        if not error["loc"]:  # a rule across settings: its message names them
            raise SettingsError(str(error["msg"]).removeprefix("Value error, ")) from None
        name = PREFIX + str(error["loc"][0]).upper()
        raise SettingsError(f"{name}: {error['msg']}") from None
