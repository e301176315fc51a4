"""Request bodies on the real rewards api: the server answers on the headers alone."""

from __future__ import annotations

from early_answers import answer_before_body

from support import ref, token


def test_rules_without_a_token_are_a_401_and_of_10_mb_a_413(rewards_api) -> None:
    unauthenticated = answer_before_body(rewards_api.url, "/api/v1/rules", {})
    assert unauthenticated.status == 401
    assert unauthenticated.headers["content-type"] == "application/problem+json"
    admin = token(ref("lim"), roles=("admin",))
    too_large = answer_before_body(rewards_api.url, "/api/v1/rules", admin)
    assert too_large.status == 413
    assert too_large.problem["max_bytes"] == 64 * 1024
