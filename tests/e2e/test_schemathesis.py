"""Every api against its own OpenAPI document: schemathesis generates requests from it
(at least MIN_CASES per service, with an admin's token of a tenant of its own) and no
answer is a server error or breaks the schema the document gives for its status.

A failure names the operation and schemathesis' reproduction (a curl command); keep the
case that found it as a regression test next to the route.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chassis.errors import UNSTORABLE
from support import ServiceProcess, ref, token

pytestmark = pytest.mark.long

# The same cases every run, so that the gate holds or fails on the code, never by luck;
# another seed (CHORUS_FUZZ_SEED=<n>) explores new ones.
SEED = int(os.environ.get("CHORUS_FUZZ_SEED", "0"))

APIS = ("content", "share", "rewards", "metrics", "people")
MIN_CASES = 1000
SCIM_TOKEN = ref("scim-") + "s" * 40
# A body is checked against the schema its status and media type document, so the status
# and the media type must be documented too.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(params=APIS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServiceProcess, str]]:
    """An api of its own database, and the tenant its callers are in."""
    service: str = request.param
    tenant = ref("fuzz")
    env = {f"{service.upper()}_DATABASE": ref(f"chorus_{service}_fuzz_")}
    if service == "people":
        env["PEOPLE_SCIM_TOKENS"] = json.dumps({tenant: SCIM_TOKEN})
    process = ServiceProcess(service, "api", env=env).start(tmp_path)
    try:
        process.wait_healthy()
        yield process, tenant
    finally:
        process.stop()


def test_generated_requests_get_no_server_error_and_documented_answers(
    api: tuple[ServiceProcess, str],
) -> None:
    process, tenant = api
    schema = schemathesis.openapi.from_url(process.ops_url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    person = token(tenant, "admin", roles=("employee", "admin", "curator"))
    # People's SCIM routes take its identity provider's token, not a person's.
    scim = {"Authorization": f"Bearer {SCIM_TOKEN}"}
    callers = {
        operation.label: scim if operation.path.startswith("/scim/") else person
        for operation in operations
    }
    per_operation = math.ceil(MIN_CASES / len(operations))
    cases = 0
    failures: dict[str, str] = {}
    # An operation with few inputs (no parameters) runs out of new cases early: more passes
    # over the rest, each with other data (its own seed), until the service had its MIN_CASES.
    for attempt in range(5):
        for operation in operations:
            if operation.label in failures:
                continue

            # No shrinking: the first failing case is reported as found, in far less time.
            @seed(SEED * 10 + attempt)
            @settings(
                max_examples=per_operation,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def run(case: schemathesis.Case) -> None:
                nonlocal cases
                cases += 1
                case.call_and_validate(
                    base_url=process.url, headers=callers[case.operation.label], checks=CHECKS
                )

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup
                failures[operation.label] = str(exc)
        if cases >= MIN_CASES or failures:
            break
    report = "\n\n".join(f"{label}: {why}" for label, why in failures.items())
    assert failures == {}, report + "\n\n" + process.log_tail(60)
    assert cases >= MIN_CASES


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # What schemathesis found first: FerretDB's PostgreSQL refused the NUL with a 500.
        ('{"areas": ["\\u00fe_l \\u0000x", "\\u0010"]}', "areas[0]"),
        ('{"areas": ["ok", "\\ud8bf"]}', "areas[1]"),
    ],
)
def test_text_no_storage_takes_is_a_422_naming_its_field(
    body: str, field: str, tmp_path: Path
) -> None:
    content = ServiceProcess(
        "content", "api", env={"CONTENT_DATABASE": ref("chorus_content_fuzz_")}
    ).start(tmp_path)
    try:
        content.wait_healthy()
        headers = {**token(ref("fuzz")), "Content-Type": "application/json"}
        made = httpx.put(f"{content.url}/api/v1/me/expertise", content=body, headers=headers)
        listed = httpx.get(f"{content.url}/api/v1/feed?topic=a%00b", headers=headers)
    finally:
        content.stop()
    assert made.status_code == 422, made.text
    assert made.headers["content-type"] == "application/problem+json"
    assert made.json()["errors"] == [{"field": field, "message": UNSTORABLE}]
    assert listed.status_code == 422, listed.text
