"""Request bodies on the real share api: the server answers on the headers alone."""

from __future__ import annotations

import time

from early_answers import answer_before_body

from support import ref, token


def test_a_webhook_without_its_signature_headers_is_a_401_before_the_body(share_stack) -> None:
    answer = answer_before_body(share_stack.url, "/api/v1/engagements", {})
    assert answer.status == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.problem["detail"] == (
        "X-Chorus-Tenant and X-Chorus-Connector and X-Chorus-Timestamp and "
        "X-Chorus-Signature headers are required"
    )


def test_a_signed_webhook_of_10_mb_is_a_413_before_the_body(share_stack) -> None:
    signed = {
        "X-Chorus-Tenant": "acme",
        "X-Chorus-Connector": "0" * 24,
        "X-Chorus-Timestamp": str(int(time.time())),
        "X-Chorus-Signature": "sha256=00",
    }
    answer = answer_before_body(share_stack.url, "/api/v1/engagements", signed)
    assert answer.status == 413
    assert answer.problem["max_bytes"] == 64 * 1024


def test_a_share_without_a_token_is_a_401_and_of_10_mb_a_413(share_stack) -> None:
    unauthenticated = answer_before_body(share_stack.url, "/api/v1/shares", {})
    assert unauthenticated.status == 401
    assert unauthenticated.headers["www-authenticate"] == "Bearer"
    too_large = answer_before_body(share_stack.url, "/api/v1/shares", token(ref("lim")))
    assert too_large.status == 413
    assert too_large.headers["content-type"] == "application/problem+json"
