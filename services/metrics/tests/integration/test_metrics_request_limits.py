"""Request bodies on the real metrics api (it has no route that reads one)."""

from __future__ import annotations

from early_answers import answer_before_body
from metrics_program import start_metrics

from support import ref, token


async def test_a_10_mb_body_is_a_413_and_no_token_a_401_on_the_headers_alone(tmp_path) -> None:
    processes = await start_metrics(tmp_path, ref(""), roles=("api",))
    try:
        url = processes["api"].url
        too_large = answer_before_body(url, "/api/v1/summary", token(ref("lim")), method="GET")
        assert too_large.status == 413
        assert too_large.headers["content-type"] == "application/problem+json"
        unauthenticated = answer_before_body(
            url, "/api/v1/summary", {}, length=100, sent=10, method="GET"
        )
        assert unauthenticated.status == 401
        assert unauthenticated.headers["content-type"] == "application/problem+json"
    finally:
        for process in processes.values():
            process.stop()
