"""Settings read from the environment; every service subclasses `ServiceSettings`."""

from __future__ import annotations

import base64
import hashlib
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chassis.auth import OidcProvider, parse_providers
from contracts.erasure import LOCAL_PSEUDONYM_KEY

LOCAL_JWT_SECRET = "chorus-local-development-only-secret"
# Outside CHORUS_ENV=local every secret (HMAC keys, signing keys) needs at least this many
# bytes: HS256 and our HMACs are only as strong as their key, and 32 bytes is SHA-256's.
MIN_SECRET_BYTES = 32


def check_secret(variable: str, value: str) -> None:
    """Refuse a secret shorter than MIN_SECRET_BYTES, in one line naming the variable and
    not the value."""
    size = len(value.encode())
    if size < MIN_SECRET_BYTES:
        raise ValueError(
            f"{variable} is {size} bytes long; outside CHORUS_ENV=local a secret needs at "
            f"least {MIN_SECRET_BYTES} bytes"
        )


FERNET_KEY_BYTES = 32
# How far below its api port an api's operations port is by default.
API_OPS_PORT_BELOW = 1000


def local_fernet_key(local_secret: str) -> str:
    """The Fernet key a local installation derives from a development-only string."""
    return base64.urlsafe_b64encode(hashlib.sha256(local_secret.encode()).digest()).decode()


def check_fernet_key(variable: str, value: str) -> None:
    """Refuse anything but a Fernet key (32 bytes, url-safe base64), which would otherwise
    fail only at the first value encrypted or read."""
    try:
        key = base64.urlsafe_b64decode(value.encode())
    except ValueError:
        key = b""
    if len(key) != FERNET_KEY_BYTES:
        raise ValueError(
            f"{variable} must be {FERNET_KEY_BYTES} bytes in url-safe base64 (a Fernet key)"
        )


def check_https(variable: str, url: str) -> None:
    """Refuse a URL that is not https (keys fetched over http can be swapped on the way)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"{variable} must be an https:// URL outside CHORUS_ENV=local")


def _comma_separated(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


# A setting given as comma-separated values (`a, b,c`), read as a tuple of the non-empty
# ones; as the environment gives it, not as JSON.
CommaSeparated = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_separated)]


def _shared(name: str) -> AliasChoices:
    """A variable every service reads under the same name, without its prefix."""
    return AliasChoices(name)


class ServiceSettings(BaseSettings):
    """Settings every Chorus process needs. Subclasses set `service` and an env prefix."""

    # A refused setting is reported by its name, never echoed with the secrets beside it.
    model_config = SettingsConfigDict(
        extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    service: ClassVar[str]
    default_api_port: ClassVar[int]
    default_worker_port: ClassVar[int]

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=_shared("KAFKA_BOOTSTRAP_SERVERS")
    )
    # How the process signs in to Kafka: as its service's own user (SCRAM), over TLS in
    # production, whose access control list allows only its topics and groups
    # (contracts.catalogue.access). PLAINTEXT: no sign-in, for a development Kafka.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", validation_alias=_shared("KAFKA_SECURITY_PROTOCOL")
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = Field(
        "SCRAM-SHA-512", validation_alias=_shared("KAFKA_SASL_MECHANISM")
    )
    kafka_sasl_username: str = Field("", validation_alias=_shared("KAFKA_SASL_USERNAME"))
    kafka_sasl_password: str = Field("", validation_alias=_shared("KAFKA_SASL_PASSWORD"))
    # The CA bundle that signs Kafka's certificate (SASL_SSL); the system's when empty.
    kafka_ssl_cafile: str = Field("", validation_alias=_shared("KAFKA_SSL_CAFILE"))
    mongodb_url: str = Field("mongodb://127.0.0.1:27017", validation_alias=_shared("MONGODB_URL"))
    env: Literal["local", "production"] = Field("local", validation_alias=_shared("CHORUS_ENV"))
    jwt_secret: str = Field(LOCAL_JWT_SECRET, validation_alias=_shared("CHORUS_JWT_SECRET"))
    # The key of `contracts.erasure.person_key`, what services remember erased people by:
    # the same in every process of an installation. Replacing it forgets who was erased
    # (docs/operations.md, "The pseudonym key").
    pseudonym_key: str = Field(
        LOCAL_PSEUDONYM_KEY, min_length=1, validation_alias=_shared("CHORUS_PSEUDONYM_KEY")
    )
    # The tenants' identity providers, a JSON list of chassis.auth.OidcProvider.
    oidc_providers: str = Field("", validation_alias=_shared("CHORUS_OIDC_PROVIDERS"))
    topic_partitions: int = Field(6, ge=1, validation_alias=_shared("CHORUS_TOPIC_PARTITIONS"))
    topic_replication: int = Field(1, ge=1, validation_alias=_shared("CHORUS_TOPIC_REPLICATION"))
    host: str = Field("0.0.0.0", validation_alias=_shared("CHORUS_HOST"))
    log_level: str = Field("INFO", validation_alias=_shared("CHORUS_LOG_LEVEL"))
    otlp_endpoint: str = Field("", validation_alias=_shared("OTEL_EXPORTER_OTLP_ENDPOINT"))
    # How long a freshly written outbox entry is left to the api's own publish before the
    # worker's relay takes it over (the api died, or Kafka was unreachable).
    outbox_lease_seconds: float = Field(
        10.0, gt=0, validation_alias=_shared("CHORUS_OUTBOX_LEASE_SECONDS")
    )
    # After SIGTERM: how long the process goes on serving while /readyz says it is
    # draining, so that whatever routes to it by readiness stops first; then it stops
    # accepting and finishes what is in flight. Kubernetes' preStop sleep does this before
    # the signal, so 0 there.
    shutdown_delay_seconds: float = Field(
        0.0, ge=0, le=60, validation_alias=_shared("CHORUS_SHUTDOWN_DELAY_SECONDS")
    )

    database: str = ""
    # The Kafka consumer group; the service name unless a test isolates its own workers.
    consumer_group: str = ""
    api_port: int = 0
    # The api's operations port: /healthz, /readyz, /metrics, /docs, for Prometheus and
    # the kubelet only. The worker's port serves nothing else, so it is the worker's.
    api_ops_port: int = 0
    worker_port: int = 0

    @model_validator(mode="after")
    def _defaults_and_safety(self) -> ServiceSettings:
        self.database = self.database or f"chorus_{self.service}"
        self.consumer_group = self.consumer_group or self.service
        self.api_port = self.api_port or self.default_api_port
        # 7080-7085 beside the apis' 8080-8085: no two services or roles on one machine
        # share a default port.
        self.api_ops_port = self.api_ops_port or self.default_api_port - API_OPS_PORT_BELOW
        self.worker_port = self.worker_port or self.default_worker_port
        if self.kafka_security_protocol != "PLAINTEXT":
            for variable, value in (
                ("KAFKA_SASL_USERNAME", self.kafka_sasl_username),
                ("KAFKA_SASL_PASSWORD", self.kafka_sasl_password),
            ):
                if not value:
                    raise ValueError(
                        f"{variable} is needed with "
                        f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol}"
                    )
        providers = self.providers
        issuers = [p.issuer for p in providers]
        if len(set(issuers)) != len(issuers):
            raise ValueError("CHORUS_OIDC_PROVIDERS names an issuer more than once")
        if self.env == "local":
            return self
        for provider in providers:
            check_https("CHORUS_OIDC_PROVIDERS issuer", provider.issuer)
            if provider.jwks_url:
                check_https("CHORUS_OIDC_PROVIDERS jwks_url", provider.jwks_url)
        if not providers and self.jwt_secret == LOCAL_JWT_SECRET:
            raise ValueError(
                "CHORUS_JWT_SECRET is the local development secret; outside CHORUS_ENV=local "
                "set CHORUS_OIDC_PROVIDERS or a real secret"
            )
        # With providers the secret may stay unset, but one that is set must still be a
        # real one: a short value is a mistake, not an unused setting.
        if self.jwt_secret != LOCAL_JWT_SECRET:
            check_secret("CHORUS_JWT_SECRET", self.jwt_secret)
        if self.pseudonym_key == LOCAL_PSEUDONYM_KEY:
            raise ValueError("CHORUS_PSEUDONYM_KEY must be set outside CHORUS_ENV=local")
        check_secret("CHORUS_PSEUDONYM_KEY", self.pseudonym_key)
        return self

    @property
    def providers(self) -> list[OidcProvider]:
        return parse_providers(self.oidc_providers)

    @property
    def development_secret(self) -> str:
        """The secret development tokens are checked with; none outside CHORUS_ENV=local
        unless one was set."""
        if self.env != "local" and self.jwt_secret == LOCAL_JWT_SECRET:
            return ""
        return self.jwt_secret

    @classmethod
    def env_var_names(cls) -> set[str]:
        """Every environment variable these settings read (for deployment checks)."""
        prefix = cls.model_config.get("env_prefix", "")
        names: set[str] = set()
        for name, field in cls.model_fields.items():
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):
                names.update(str(choice) for choice in alias.choices)
            else:
                names.add(f"{prefix}{name}".upper())
        return names
