"""How a process signs in to Kafka, from its settings."""

from __future__ import annotations

import ssl
from typing import ClassVar

import pytest
from faststream.kafka.security import parse_security
from faststream.security import SASLScram512
from pydantic import ValidationError

from chassis.kafka import kafka_security
from chassis.settings import ServiceSettings


class Sample(ServiceSettings):
    service: ClassVar[str] = "sample"
    default_api_port: ClassVar[int] = 8000
    default_worker_port: ClassVar[int] = 9000


def test_a_development_kafka_needs_no_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_SECURITY_PROTOCOL", raising=False)
    assert kafka_security(Sample()) is None
    assert parse_security(None) == {}


def test_scram_over_tls_with_the_cluster_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_USERNAME": "chorus-sample",
        "KAFKA_SASL_PASSWORD": "s3cret",
        "KAFKA_SSL_CAFILE": ssl.get_default_verify_paths().openssl_cafile,
    }.items():
        monkeypatch.setenv(name, value)
    security = kafka_security(Sample())
    assert isinstance(security, SASLScram512)
    options = parse_security(security)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "chorus-sample"
    assert options["sasl_plain_password"] == "s3cret"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize("missing", ["KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"])
def test_signing_in_needs_a_user_and_a_password(
    missing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "chorus-sample")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    monkeypatch.delenv(missing)
    with pytest.raises(ValidationError, match=missing):
        Sample()


def test_an_unknown_protocol_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL_SOMETIMES")
    with pytest.raises(ValidationError, match="KAFKA_SECURITY_PROTOCOL"):
        Sample()
