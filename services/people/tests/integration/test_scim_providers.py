"""The request sequences Microsoft Entra ID and Okta document, replayed against the people
api, with every answer checked against RFC 7644 and the api's OpenAPI document, and every
event read back from Kafka.

The bodies follow the forms Microsoft documents for Entra ID's provisioning ("Tutorial:
Develop and plan provisioning for a SCIM endpoint", "Known issues and resolutions with SCIM
2.0 protocol compliance") and Okta documents in its "SCIM 2.0 protocol reference": the
capitalised operations and string booleans of Entra ID, Okta's replace without a path and
its group push. Ids and names are unique per test.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import schemathesis
from bson import json_util
from pymongo import AsyncMongoClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from contracts.topics import PERSON_DEACTIVATED, PERSON_DELETED, PERSON_UPSERTED
from support import MONGODB_URL, ServiceProcess, read_topic, ref

SCIM_JSON = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DOCUMENTED = [status_code_conformance, content_type_conformance, response_schema_conformance]


class Scim:
    def __init__(self, api: ServiceProcess, token: str) -> None:
        self.base = f"{api.url}/scim/v2"
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": SCIM_JSON}
        self.document = schemathesis.openapi.from_url(f"{api.ops_url}/openapi.json")

    def documented(self, response: httpx.Response) -> httpx.Response:
        """`response`, whose status, media type and body the api's document describes."""
        method, path = response.request.method, response.request.url.path
        operation = self.document.find_operation_by_path(method, path)
        assert operation is not None, f"{method} {path} is not documented"
        segments = zip(operation.path.split("/"), path.split("/"), strict=True)
        named = {template[1:-1]: value for template, value in segments if template[:1] == "{"}
        operation.Case(path_parameters=named).validate_response(response, checks=DOCUMENTED)
        return response

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> httpx.Response:
        content = json.dumps(body) if body is not None else None
        response = httpx.request(
            method,
            self.base + path,
            content=content,
            headers={**self.headers, **headers},
            timeout=30,
        )
        if response.status_code != 204:
            assert response.headers["content-type"].startswith(SCIM_JSON), response.text
        return self.documented(response)


def check_resource(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    """RFC 7644 §3.1, §3.14: the resource with its meta, its ETag the meta's version."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    meta = body["meta"]
    assert meta["resourceType"] == kind
    assert meta["created"] and meta["lastModified"]
    assert meta["location"].endswith(f"/{kind}s/{body['id']}")
    assert meta["version"].startswith('W/"')
    assert response.headers["ETag"] == meta["version"]
    if status == 201:
        assert response.headers["Location"] == meta["location"]
    return body


def check_error(response: httpx.Response, status: int, scim_type: str | None) -> None:
    """RFC 7644 §3.12."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert body["detail"]


def check_list(response: httpx.Response, total: int) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["schemas"] == [LIST]
    assert body["totalResults"] == total
    assert body["startIndex"] >= 1
    assert body["itemsPerPage"] == len(body["Resources"])
    resources: list[dict[str, Any]] = body["Resources"]
    return resources


def version(body: dict[str, Any]) -> int:
    return int(body["meta"]["version"][3:-1])


async def events_of(
    topic: str, tenant: str, employee: str, count: int, timeout: float = 30.0
) -> list[dict[str, Any]]:
    def mine(records: list[Any]) -> list[dict[str, Any]]:
        found = []
        for record in records:
            event = json.loads(record.value)
            if event["tenantid"] == tenant and event["data"]["employee_id"] == employee:
                found.append(event)
        return found

    records = await read_topic(topic, lambda rs: len(mine(rs)) >= count, timeout=timeout)
    return mine(records)


@pytest.fixture
def client(people_api: ServiceProcess, scim_token: str) -> Scim:
    return Scim(people_api, scim_token)


async def test_entra_user_lifecycle(client: Scim, scim_tenant: str) -> None:
    user_name = f"Test_User_{ref('')}"
    # Entra's "Create User" request.
    created = check_resource(
        client.call(
            "POST",
            "/Users",
            {
                "schemas": [
                    "urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                ],
                "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                "userName": user_name,
                "active": True,
                "emails": [
                    {
                        "primary": True,
                        "type": "work",
                        "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com",
                    }
                ],
                "meta": {"resourceType": "User"},
                "name": {
                    "formatted": "givenName familyName",
                    "familyName": "familyName",
                    "givenName": "givenName",
                },
                "roles": [],
            },
        ),
        201,
        "User",
    )
    user_id = created["id"]
    assert created["userName"] == user_name and created["active"] is True
    assert version(created) == 1

    # "Get User by query": userName compares case-insensitively (RFC 7643 §4.1.1).
    found = check_list(client.call("GET", f'/Users?filter=userName eq "{user_name.upper()}"'), 1)
    assert found[0]["id"] == user_id
    assert check_list(client.call("GET", '/Users?filter=userName eq "nobody-at-all"'), 0) == []

    # "Update User [Multi-valued properties]".
    patched = check_resource(
        client.call(
            "PATCH",
            f"/Users/{user_id}",
            {
                "schemas": [PATCH_OP],
                "Operations": [
                    {
                        "op": "Replace",
                        "path": 'emails[type eq "work"].value',
                        "value": "updatedEmail@microsoft.com",
                    },
                    {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
                ],
            },
        ),
        200,
        "User",
    )
    assert patched["emails"][0]["value"] == "updatedEmail@microsoft.com"
    assert patched["name"]["familyName"] == "updatedFamilyName"

    # The enterprise extension by its URN path, and a title.
    patched = check_resource(
        client.call(
            "PATCH",
            f"/Users/{user_id}",
            {
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Marketing"},
                    {"op": "Replace", "path": "title", "value": "Writer"},
                    {"op": "Add", "path": "preferredLanguage", "value": "de-DE"},
                    {
                        "op": "Add",
                        "path": "addresses",
                        "value": [{"type": "work", "locality": "Oslo", "primary": True}],
                    },
                ],
            },
        ),
        200,
        "User",
    )
    assert patched[ENTERPRISE]["department"] == "Marketing"

    # "Known issues": Entra sends booleans as strings.
    disabled = check_resource(
        client.call(
            "PATCH",
            f"/Users/{user_id}",
            {
                "schemas": [PATCH_OP],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            },
        ),
        200,
        "User",
    )
    assert disabled["active"] is False
    # A filter on the disabled user still returns it, with `active` (Entra's validator).
    again = check_list(client.call("GET", f'/Users?filter=userName eq "{user_name}"'), 1)
    assert again[0]["active"] is False

    upserts = await events_of(PERSON_UPSERTED, scim_tenant, user_name, 2)
    first, second = upserts[0]["data"], upserts[1]["data"]
    assert first["version"] == 1 and first["user_name"] == user_name and first["active"]
    assert first["display_name"] == "givenName familyName"
    # The email and family name changes concern no other service: no event for them.
    assert second["version"] == 3
    assert second["department"] == "Marketing" and second["title"] == "Writer"
    assert second["languages"] == ["de-DE"] and second["location"] == "Oslo"
    deactivated = await events_of(PERSON_DEACTIVATED, scim_tenant, user_name, 1)
    assert deactivated[0]["data"]["version"] == version(disabled) == 4
    assert deactivated[0]["type"] == "io.chorus.person-deactivated.v1"

    # Reactivation is a PersonUpserted with active true.
    enabled = client.call(
        "PATCH",
        f"/Users/{user_id}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": True}]},
    ).json()
    upserts = await events_of(PERSON_UPSERTED, scim_tenant, user_name, 3)
    assert upserts[2]["data"]["active"] is True
    assert upserts[2]["data"]["version"] == version(enabled) == 5

    # "Delete User".
    assert client.call("DELETE", f"/Users/{user_id}").status_code == 204
    check_error(client.call("GET", f"/Users/{user_id}"), 404, None)
    deleted = await events_of(PERSON_DELETED, scim_tenant, user_name, 1)
    assert deleted[0]["data"]["version"] == 6


async def test_a_deleted_user_leaves_no_trace(
    people_api: ServiceProcess, client: Scim, scim_tenant: str
) -> None:
    user_name = ref("leaver-")
    user_id = client.call("POST", "/Users", {"schemas": [], "userName": user_name}).json()["id"]
    group = client.call(
        "POST", "/Groups", {"displayName": ref("Leavers "), "members": [{"value": user_id}]}
    ).json()
    assert client.call("DELETE", f"/Users/{user_id}").status_code == 204

    # Out of their group (a new version of it), and nothing stored names them: the
    # tombstone that keeps their version is found by a hash of their employee id only.
    after = check_resource(client.call("GET", f"/Groups/{group['id']}"), 200, "Group")
    assert after["members"] == [] and after["meta"]["version"] != group["meta"]["version"]
    db: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL)
    try:
        people = db[people_api.env["PEOPLE_DATABASE"]]
        for name in await people.list_collection_names():
            async for doc in people[name].find({}):
                assert user_name not in json_util.dumps(doc), (name, doc)
                assert user_id not in json_util.dumps(doc), (name, doc)
    finally:
        await db.close()

    # Created again under the same employee id, the person goes on from their last version.
    again = client.call("POST", "/Users", {"schemas": [], "userName": user_name})
    assert check_resource(again, 201, "User")["id"] != user_id
    # (1 created, 2 in the group, 3 deleted)
    upserts = await events_of(PERSON_UPSERTED, scim_tenant, user_name, 3)
    assert [e["data"]["version"] for e in upserts] == [1, 2, 4]


async def test_entra_groups(client: Scim, scim_tenant: str) -> None:
    names = [ref("entra-member-"), ref("entra-member-")]
    ids = [
        client.call("POST", "/Users", {"schemas": [], "userName": n}).json()["id"] for n in names
    ]
    group_name = ref("Group ")
    # Entra's "Create Group" request, with the schema URN of its own.
    group = check_resource(
        client.call(
            "POST",
            "/Groups",
            {
                "schemas": [
                    "urn:ietf:params:scim:schemas:core:2.0:Group",
                    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
                ],
                "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                "displayName": group_name,
                "meta": {"resourceType": "Group"},
            },
        ),
        201,
        "Group",
    )
    group_id = group["id"]
    assert group["members"] == []
    found = check_list(client.call("GET", f'/Groups?filter=displayName eq "{group_name}"'), 1)
    assert found[0]["id"] == group_id

    # "Update Group [Add Members]".
    add = {
        "schemas": [PATCH_OP],
        "Operations": [
            {
                "name": "addMember",
                "op": "Add",
                "path": "members",
                "value": [{"$ref": None, "value": i} for i in ids],
            }
        ],
    }
    group = check_resource(client.call("PATCH", f"/Groups/{group_id}", add), 200, "Group")
    assert sorted(m["value"] for m in group["members"]) == sorted(ids)
    user = client.call("GET", f"/Users/{ids[0]}").json()
    assert user["groups"][0]["value"] == group_id
    for name in names:
        upserts = await events_of(PERSON_UPSERTED, scim_tenant, name, 2)
        assert upserts[1]["data"]["groups"] == [group_name]
        assert upserts[1]["data"]["version"] == 2

    # "Update Group [Remove Members]": Entra names the member in `value`, not in the path.
    remove = {
        "schemas": [PATCH_OP],
        "Operations": [
            {
                "name": "removeMember",
                "op": "Remove",
                "path": "members",
                "value": [{"$ref": None, "value": ids[0]}],
            }
        ],
    }
    group = check_resource(client.call("PATCH", f"/Groups/{group_id}", remove), 200, "Group")
    assert [m["value"] for m in group["members"]] == [ids[1]]
    upserts = await events_of(PERSON_UPSERTED, scim_tenant, names[0], 3)
    assert upserts[2]["data"]["groups"] == [] and upserts[2]["data"]["version"] == 3

    # "Delete Group": its remaining member leaves it.
    assert client.call("DELETE", f"/Groups/{group_id}").status_code == 204
    check_error(client.call("GET", f"/Groups/{group_id}"), 404, None)
    upserts = await events_of(PERSON_UPSERTED, scim_tenant, names[1], 3)
    assert upserts[2]["data"]["groups"] == [] and upserts[2]["data"]["version"] == 3


async def test_okta_user_and_group_push(client: Scim, scim_tenant: str) -> None:
    user_name = f"{ref('test.user')}@okta.local"
    # Okta first looks the user up.
    lookup = client.call("GET", f'/Users?filter=userName eq "{user_name}"&startIndex=1&count=100')
    assert check_list(lookup, 0) == []
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }
    created = check_resource(client.call("POST", "/Users", body), 201, "User")
    user_id = created["id"]
    assert "password" not in created
    # Creating the same userName again is a uniqueness conflict.
    check_error(client.call("POST", "/Users", body), 409, "uniqueness")

    # PUT with the whole user, as Okta updates a profile.
    replaced = check_resource(
        client.call(
            "PUT",
            f"/Users/{user_id}",
            {
                **body,
                "id": user_id,
                "name": {"givenName": "Another", "familyName": "User"},
                "displayName": "Another User",
            },
            **{"If-Match": created["meta"]["version"]},
        ),
        200,
        "User",
    )
    assert replaced["displayName"] == "Another User" and version(replaced) == 2
    # A stale ETag is refused.
    check_error(
        client.call("PUT", f"/Users/{user_id}", body, **{"If-Match": created["meta"]["version"]}),
        412,
        "invalidVers",
    )

    # Okta deactivates with a replace without path.
    deactivated = check_resource(
        client.call(
            "PATCH",
            f"/Users/{user_id}",
            {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]},
        ),
        200,
        "User",
    )
    assert deactivated["active"] is False
    events = await events_of(PERSON_DEACTIVATED, scim_tenant, user_name, 1)
    assert events[0]["data"]["version"] == 3
    upserts = await events_of(PERSON_UPSERTED, scim_tenant, user_name, 2)
    assert [e["data"]["version"] for e in upserts] == [1, 2]
    assert upserts[1]["data"]["display_name"] == "Another User"

    # Group push: create, rename (Okta repeats the id), add, remove, replace members.
    group = check_resource(
        client.call(
            "POST",
            "/Groups",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Test SCIMv2",
                "members": [],
            },
        ),
        201,
        "Group",
    )
    group_id = group["id"]
    renamed = client.call(
        "PATCH",
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "replace", "value": {"id": group_id, "displayName": "Okta Group"}}
            ],
        },
    )
    assert check_resource(renamed, 200, "Group")["displayName"] == "Okta Group"
    added = client.call(
        "PATCH",
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {
                    "op": "add",
                    "path": "members",
                    "value": [{"value": user_id, "display": user_name}],
                }
            ],
        },
    )
    assert [m["value"] for m in check_resource(added, 200, "Group")["members"]] == [user_id]
    upserts = await events_of(PERSON_UPSERTED, scim_tenant, user_name, 3)
    assert upserts[2]["data"]["groups"] == ["Okta Group"]
    assert upserts[2]["data"]["active"] is False and upserts[2]["data"]["version"] == 4

    removed = client.call(
        "PATCH",
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "remove", "path": f'members[value eq "{user_id}"]'}],
        },
    )
    assert check_resource(removed, 200, "Group")["members"] == []
    replaced_members = client.call(
        "PATCH",
        f"/Groups/{group_id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "members", "value": [{"value": user_id}]}],
        },
    )
    assert len(check_resource(replaced_members, 200, "Group")["members"]) == 1
    upserts = await events_of(PERSON_UPSERTED, scim_tenant, user_name, 5)
    assert [e["data"]["groups"] for e in upserts[3:]] == [[], ["Okta Group"]]
    assert [e["data"]["version"] for e in upserts] == [1, 2, 4, 5, 6]


async def test_bad_input_changes_nothing(client: Scim, scim_tenant: str) -> None:
    user_name = ref("careful-")
    created = client.call("POST", "/Users", {"schemas": [], "userName": user_name}).json()
    user_id = created["id"]

    check_error(
        client.call("POST", "/Users", {"userName": ref("x"), "favouriteColour": "blue"}),
        400,
        "invalidValue",
    )
    check_error(client.call("GET", '/Users?filter=userName eq "x" and ('), 400, "invalidFilter")
    check_error(client.call("GET", '/Users?filter=shoeSize eq "42"'), 400, "invalidFilter")
    bad_patches = [
        ({"op": "replace", "path": "shoeSize", "value": "42"}, "invalidPath"),
        ({"op": "replace", "path": 'emails[type eq "work"', "value": "x"}, "invalidPath"),
        ({"op": "remove"}, "noTarget"),
        ({"op": "replace", "path": "id", "value": "mine"}, "mutability"),
    ]
    for operation, scim_type in bad_patches:
        # A good operation first: nothing of the request may be applied.
        response = client.call(
            "PATCH",
            f"/Users/{user_id}",
            {
                "schemas": [PATCH_OP],
                "Operations": [
                    {"op": "replace", "path": "title", "value": "Should not stay"},
                    operation,
                ],
            },
        )
        check_error(response, 400, scim_type)
    response = httpx.patch(
        f"{client.base}/Users/{user_id}", content=b"{not json", headers=client.headers, timeout=30
    )
    check_error(client.documented(response), 400, "invalidSyntax")
    unchanged = client.call("GET", f"/Users/{user_id}").json()
    assert "title" not in unchanged and version(unchanged) == 1

    check_error(client.call("GET", "/Users/no-such-id"), 404, None)
    check_error(client.call("POST", "/Users", {"userName": user_name.upper()}), 409, "uniqueness")
    anonymous = httpx.get(f"{client.base}/Users", timeout=30)
    check_error(client.documented(anonymous), 401, None)
    wrong = httpx.get(
        f"{client.base}/Users", headers={"Authorization": "Bearer " + "w" * 40}, timeout=30
    )
    check_error(client.documented(wrong), 401, None)

    # Then a good change: its event is version 2, right after the creation's.
    client.call(
        "PATCH",
        f"/Users/{user_id}",
        {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "title", "value": "Ok"}]},
    )
    upserts = await events_of(PERSON_UPSERTED, scim_tenant, user_name, 2)
    assert [(e["data"]["version"], e["data"]["title"]) for e in upserts] == [(1, None), (2, "Ok")]


def test_tenants_are_apart(people_api: ServiceProcess, client: Scim) -> None:
    user_id = client.call("POST", "/Users", {"userName": ref("mine-")}).json()["id"]
    other = Scim(people_api, "o" * 40)
    check_error(other.call("GET", f"/Users/{user_id}"), 404, None)
    assert check_list(other.call("GET", "/Users"), 0) == []


def test_discovery(client: Scim) -> None:
    config = client.call("GET", "/ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True
    assert config["bulk"]["supported"] is False and config["sort"]["supported"] is False
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["etag"]["supported"] is True
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    schemas = check_list(client.call("GET", "/Schemas"), 3)
    assert {s["id"] for s in schemas} == {
        "urn:ietf:params:scim:schemas:core:2.0:User",
        ENTERPRISE,
        "urn:ietf:params:scim:schemas:core:2.0:Group",
    }
    types = check_list(client.call("GET", "/ResourceTypes"), 2)
    assert {t["endpoint"] for t in types} == {"/Users", "/Groups"}
