"""A person's own record in the directory, as their download gets it: the people api's
`GET /api/v1/me/export`, called with the person's token, on a real database."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from support import ServiceProcess, ref, token

SCIM_JSON = "application/scim+json"
PROBLEM_JSON = "application/problem+json"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
EXPORT = "/api/v1/me/export"
DOCUMENTED = [status_code_conformance, content_type_conformance, response_schema_conformance]


class People:
    """The people api, as HR's identity provider (SCIM) and as a person (their export)."""

    def __init__(self, api: ServiceProcess, tenant: str, scim_token: str) -> None:
        self.url = api.url
        self.tenant = tenant
        self.scim = {"Authorization": f"Bearer {scim_token}", "Content-Type": SCIM_JSON}
        self.document = schemathesis.openapi.from_url(f"{api.ops_url}/openapi.json")

    def provision(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        made = httpx.post(f"{self.url}/scim/v2{path}", json=body, headers=self.scim, timeout=30)
        assert made.status_code == 201, made.text
        found: dict[str, Any] = made.json()
        return found

    def export(self, headers: dict[str, str], **params: Any) -> httpx.Response:
        """The export as `headers` ask for it, its answer as the api's document describes it."""
        response = httpx.get(f"{self.url}{EXPORT}", params=params, headers=headers, timeout=30)
        operation = self.document.find_operation_by_path("GET", EXPORT)
        assert operation is not None
        operation.Case(query=params).validate_response(response, checks=DOCUMENTED)
        return response

    def mine(self, employee_id: str, tenant: str | None = None, **params: Any) -> dict[str, Any]:
        response = self.export(token(tenant or self.tenant, employee_id), **params)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found


@pytest.fixture(scope="module")
def people(people_api: ServiceProcess, scim_tenant: str, scim_token: str) -> People:
    return People(people_api, scim_tenant, scim_token)


def _user(user_name: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": user_name,
        "name": {"givenName": "Pat", "familyName": "Person"},
        "emails": [{"value": f"{user_name}@example.com", "type": "work", "primary": True}],
        "title": "Engineer",
        "active": True,
        ENTERPRISE: {"department": "Research"},
    }


def test_a_person_gets_their_user_and_their_groups_a_page_at_a_time(people: People) -> None:
    person, bystander = ref("pat-"), ref("sam-")
    user = people.provision("/Users", _user(person))
    other = people.provision("/Users", _user(bystander))
    groups = sorted(
        people.provision(
            "/Groups",
            {
                "displayName": ref("team-"),
                "members": [{"value": user["id"]}, {"value": other["id"]}],
            },
        )["id"]
        for _ in range(3)
    )
    people.provision(
        "/Groups", {"displayName": ref("not-mine-"), "members": [{"value": other["id"]}]}
    )

    whole = people.mine(person)
    assert whole["employee_id"] == person
    assert [g["id"] for g in whole["groups"]] == groups
    assert whole["next_cursor"] is None
    record = whole["records"]["user"]
    assert (record["id"], record["employee_id"]) == (user["id"], person)
    # The version SCIM gives it, each group a change of the person.
    now = httpx.get(f"{people.url}/scim/v2/Users/{user['id']}", headers=people.scim).json()
    assert now["meta"]["version"] == f'W/"{record["version"]}"'
    resource = record["resource"]
    assert (resource["userName"], resource["title"], resource["active"]) == (
        person,
        "Engineer",
        True,
    )
    assert resource["emails"][0]["value"] == f"{person}@example.com"
    assert resource[ENTERPRISE]["department"] == "Research"
    # The groups' other members are theirs, not the caller's.
    assert bystander not in str(whole) and other["id"] not in str(whole)

    first = people.mine(person, limit=2)
    assert [g["id"] for g in first["groups"]] == groups[:2]
    assert first["records"] == whole["records"]
    rest = people.mine(person, limit=2, cursor=first["next_cursor"])
    assert [g["id"] for g in rest["groups"]] == groups[2:]
    assert rest["records"] is None
    assert rest["next_cursor"] is None


def test_the_tenant_is_the_tokens(people: People) -> None:
    person = ref("pat-")
    people.provision("/Users", _user(person))
    elsewhere = people.mine(person, tenant="other")
    assert elsewhere == {
        "employee_id": person,
        "groups": [],
        "records": {"user": None},
        "next_cursor": None,
    }


def test_someone_the_directory_does_not_know_gets_an_empty_export(people: People) -> None:
    unknown = people.mine(ref("nobody-"))
    assert (unknown["groups"], unknown["records"], unknown["next_cursor"]) == (
        [],
        {"user": None},
        None,
    )


def test_a_person_hr_deleted_is_no_longer_in_it(people: People) -> None:
    person = ref("pat-")
    user = people.provision("/Users", _user(person))
    people.provision("/Groups", {"displayName": ref("team-"), "members": [{"value": user["id"]}]})
    deleted = httpx.delete(f"{people.url}/scim/v2/Users/{user['id']}", headers=people.scim)
    assert deleted.status_code == 204, deleted.text
    gone = people.mine(person)
    assert (gone["groups"], gone["records"]) == ([], {"user": None})
    assert person not in str(gone["records"])


@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        # HR's SCIM token is no person's.
        ("scim", {}, 401),
        ("none", {}, 401),
        ("person", {"cursor": "not-ours"}, 400),
        ("person", {"limit": 0}, 422),
        ("person", {"limit": 1001}, 422),
    ],
)
def test_refusals_are_problems(
    people: People, headers: str, params: dict[str, Any], status: int
) -> None:
    sent = {"scim": people.scim, "none": {}, "person": token(people.tenant, ref("pat-"))}[headers]
    refused = people.export(sent, **params)
    assert refused.status_code == status, refused.text
    assert refused.headers["content-type"] == PROBLEM_JSON
    assert refused.json()["status"] == status
