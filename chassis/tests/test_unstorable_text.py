"""The dependency every route gets that refuses text no storage keeps: JSON bodies are
checked, and a form's body, which FastAPI has read already, is left to the route."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form
from fastapi.testclient import TestClient

from chassis import errors


def _client() -> TestClient:
    app = FastAPI()
    errors.install(app)
    router = APIRouter()

    @router.post("/form")
    async def form(person: Annotated[str, Form()]) -> dict[str, str]:
        return {"person": person}

    @router.post("/json")
    async def json_body(body: dict[str, str]) -> dict[str, str]:
        return body

    app.include_router(router, dependencies=[Depends(errors.refuse_unstorable_text)])
    return TestClient(app, raise_server_exceptions=False)


def test_a_form_post_reaches_its_route() -> None:
    # The web app's sign-in and every other form: before, reading the consumed body was a 500.
    response = _client().post("/form", data={"person": "acme/admin"})
    assert response.status_code == 200, response.text
    assert response.json() == {"person": "acme/admin"}


def test_a_json_body_with_a_nul_is_a_422_naming_its_field() -> None:
    response = _client().post(
        "/json", content=b'{"title": "a\\u0000b"}', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "title"


def test_a_scim_body_is_checked_as_json() -> None:
    response = _client().post(
        "/json",
        content=b'{"userName": "\\ud800"}',
        headers={"Content-Type": "application/scim+json; charset=utf-8"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "userName"


def test_a_multipart_form_post_reaches_its_route() -> None:
    response = _client().post("/form", files={"person": (None, "acme/admin")})
    assert response.status_code == 200, response.text
