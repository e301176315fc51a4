"""People's OpenAPI document says what SCIM's routes take and answer: SCIM's media type and
error body for each status a route can answer, and what chassis answers before them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from chassis.errors import PROBLEM_JSON
from chassis.process import create_app
from people.bootstrap import DEFINITION
from people.config import PeopleSettings
from people.domain.scim import ENTERPRISE_SCHEMA, ERROR_SCHEMA

SCIM_JSON = "application/scim+json"
TOKEN = "t" * 40
ERROR = {"$ref": "#/components/schemas/ScimError"}
PROBLEM = {"$ref": "#/components/schemas/Problem"}
# Every SCIM operation: what it answers on success, and the statuses of its errors.
OPERATIONS = {
    ("get", "/scim/v2/Users"): ("200", "ScimUserList", {400, 401}),
    ("post", "/scim/v2/Users"): ("201", "ScimUser", {400, 401, 409, 413}),
    ("get", "/scim/v2/Users/{user_id}"): ("200", "ScimUser", {400, 401, 404}),
    ("put", "/scim/v2/Users/{user_id}"): ("200", "ScimUser", {400, 401, 404, 409, 412, 413}),
    ("patch", "/scim/v2/Users/{user_id}"): ("200", "ScimUser", {400, 401, 404, 409, 412, 413}),
    ("delete", "/scim/v2/Users/{user_id}"): ("204", None, {400, 401, 404, 409, 412}),
    ("get", "/scim/v2/Groups"): ("200", "ScimGroupList", {400, 401}),
    ("post", "/scim/v2/Groups"): ("201", "ScimGroup", {400, 401, 409, 413}),
    ("get", "/scim/v2/Groups/{group_id}"): ("200", "ScimGroup", {400, 401, 404}),
    ("put", "/scim/v2/Groups/{group_id}"): ("200", "ScimGroup", {400, 401, 404, 409, 412, 413}),
    ("patch", "/scim/v2/Groups/{group_id}"): (
        "200",
        "ScimGroup",
        {400, 401, 404, 409, 412, 413},
    ),
    ("delete", "/scim/v2/Groups/{group_id}"): ("204", None, {400, 401, 404, 409, 412}),
    ("get", "/scim/v2/ServiceProviderConfig"): ("200", "ScimServiceProviderConfig", {400, 401}),
    ("get", "/scim/v2/Schemas"): ("200", "ScimSchemaList", {400, 401}),
    ("get", "/scim/v2/Schemas/{schema_id}"): ("200", "ScimSchema", {400, 401, 404}),
    ("get", "/scim/v2/ResourceTypes"): ("200", "ScimResourceTypeList", {400, 401}),
    ("get", "/scim/v2/ResourceTypes/{type_id}"): ("200", "ScimResourceType", {400, 401, 404}),
}


def _app() -> FastAPI:
    return create_app(
        DEFINITION, "api", PeopleSettings(env="local", scim_tokens=f'{{"t1": "{TOKEN}"}}')
    )


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return _app().openapi()


def test_every_scim_operation_documents_its_answers_and_errors(document: dict[str, Any]) -> None:
    found = {
        (method, path)
        for path, operations in document["paths"].items()
        if path.startswith("/scim/v2")
        for method in operations
    }
    assert found == set(OPERATIONS)
    for (method, path), (success, schema, errors) in OPERATIONS.items():
        responses = document["paths"][path][method]["responses"]
        assert set(responses) == {success, *map(str, errors)}, (method, path)
        answer = responses[success].get("content")
        if schema is None:
            assert answer is None
        else:
            assert answer == {SCIM_JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
        for status in errors:
            content = responses[str(status)]["content"]
            # The body limits answer before the route runs, as chassis does for every api.
            expected = (
                {PROBLEM_JSON: {"schema": PROBLEM}}
                if status == 413
                else {SCIM_JSON: {"schema": ERROR}}
            )
            assert content == expected, (method, path, status)
    # FastAPI's own 422, which no SCIM route answers.
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_the_writes_document_their_bodies_and_if_match(document: dict[str, Any]) -> None:
    for (method, path), _ in OPERATIONS.items():
        operation = document["paths"][path][method]
        takes = {"post": "Request", "put": "Request", "patch": "PatchOp"}.get(method)
        if takes is None:
            assert "requestBody" not in operation
        else:
            body = operation["requestBody"]
            assert body["required"] is True
            assert set(body["content"]) == {SCIM_JSON, "application/json"}
            assert body["content"][SCIM_JSON]["schema"]["$ref"].endswith(takes)
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert headers == (["If-Match"] if method in {"put", "patch", "delete"} else [])


def test_the_user_schemas_are_scim2_models_own(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    user, request = schemas["ScimUser"], schemas["ScimUserRequest"]
    assert user["required"] == ["schemas", "id", "userName", "meta"]
    assert request["required"] == ["userName"]
    # Never returned, and read-only: each only where it belongs.
    assert "password" not in user["properties"] and "password" in request["properties"]
    assert {"groups", "id", "meta"} <= set(user["properties"])
    assert not {"groups", "id", "meta"} & set(request["properties"])
    assert request["additionalProperties"] is False
    emails = user["properties"]["emails"]
    assert emails["type"] == "array"
    assert set(emails["items"]["properties"]) == {"value", "display", "type", "primary"}
    manager = user["properties"][ENTERPRISE_SCHEMA]["properties"]["manager"]
    assert set(manager["properties"]) == {"value", "$ref", "displayName"}
    assert schemas["ScimGroup"]["required"] == ["schemas", "id", "displayName", "meta"]
    error = schemas["ScimError"]
    assert error["properties"]["status"]["type"] == "string"
    assert error["required"] == ["schemas", "status", "detail"]


@pytest.fixture
def client() -> TestClient:
    # No lifespan: what is checked here is refused before a route reads the directory.
    return TestClient(_app(), raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        # What schemathesis' text reaches: chassis refuses it before the route, with a 422
        # problem until SCIM's routes answered it as SCIM does.
        ("GET", "/scim/v2/Users?filter=a%00b", None),
        ("GET", "/scim/v2/Groups/a%00b", None),
        ("POST", "/scim/v2/Users", '{"userName": "a\\u0000b"}'),
    ],
)
def test_text_no_storage_takes_is_a_scim_400(
    client: TestClient, method: str, url: str, body: str | None
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": SCIM_JSON}
    response = client.request(method, url, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == SCIM_JSON
    assert response.json()["schemas"] == [ERROR_SCHEMA]
    assert response.json()["status"] == "400"
    assert response.json()["scimType"] == "invalidValue"
    assert "NUL" in response.json()["detail"]


def test_a_path_no_route_serves_is_a_scim_404(client: TestClient) -> None:
    # An id holding a "/" (schemathesis sends it as %2F, which the server decodes).
    response = client.get("/scim/v2/Users/a%2Fb", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == SCIM_JSON
    assert response.json() == {"schemas": [ERROR_SCHEMA], "status": "404", "detail": "Not Found"}
