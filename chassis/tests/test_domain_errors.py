"""The one mapper from domain errors to problem+json: each kind's status, and the body
(title, detail, extension members, the fields at fault) from a table."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from chassis import errors
from chassis.domain_errors import (
    Conflict,
    DependencyFailed,
    DomainError,
    Forbidden,
    Invalid,
    LimitReached,
    NotFound,
)

# The error a use case raises, then the status and whole body the API answers with.
TABLE: list[tuple[DomainError, int, dict[str, Any]]] = [
    (
        NotFound("no content item c1"),
        404,
        {
            "type": "about:blank",
            "title": "Not found",
            "status": 404,
            "detail": "no content item c1",
        },
    ),
    (
        NotFound("item_id: no item i1 in the catalog", title="No such item"),
        404,
        {
            "type": "about:blank",
            "title": "No such item",
            "status": 404,
            "detail": "item_id: no item i1 in the catalog",
        },
    ),
    (
        Forbidden("only curators publish items"),
        403,
        {
            "type": "about:blank",
            "title": "Forbidden",
            "status": 403,
            "detail": "only curators publish items",
        },
    ),
    (
        Conflict("version 2 is superseded by 3", current_version=3),
        409,
        {
            "type": "about:blank",
            "title": "Conflict",
            "status": 409,
            "detail": "version 2 is superseded by 3",
            "current_version": 3,
        },
    ),
    (
        Conflict("item_id: i1 is out of stock", title="Out of stock"),
        409,
        {
            "type": "about:blank",
            "title": "Out of stock",
            "status": 409,
            "detail": "item_id: i1 is out of stock",
        },
    ),
    (
        Invalid(errors=[("title", "must not be empty"), ("body", "too long")]),
        422,
        {
            "type": "about:blank",
            "title": "Invalid request",
            "status": 422,
            "detail": "title: must not be empty; body: too long",
            "errors": [
                {"field": "title", "message": "must not be empty"},
                {"field": "body", "message": "too long"},
            ],
        },
    ),
    (
        Invalid("url: an own post needs the link it shares", errors=[("url", "required")]),
        422,
        {
            "type": "about:blank",
            "title": "Invalid request",
            "status": 422,
            "detail": "url: an own post needs the link it shares",
            "errors": [{"field": "url", "message": "required"}],
        },
    ),
    (
        Invalid("item_id: no item i1 in the catalog"),
        422,
        {
            "type": "about:blank",
            "title": "Invalid request",
            "status": 422,
            "detail": "item_id: no item i1 in the catalog",
        },
    ),
    (
        LimitReached("at most 5 shares a day", title="Daily share cap reached", cap=5),
        429,
        {
            "type": "about:blank",
            "title": "Daily share cap reached",
            "status": 429,
            "detail": "at most 5 shares a day",
            "cap": 5,
        },
    ),
    (
        DependencyFailed("rate limited", title="The network refused the post", network="x"),
        424,
        {
            "type": "about:blank",
            "title": "The network refused the post",
            "status": 424,
            "detail": "rate limited",
            "network": "x",
        },
    ),
    (
        DependencyFailed(""),
        424,
        {"type": "about:blank", "title": "Dependency failed", "status": 424},
    ),
    (
        DomainError("not allowed now"),
        400,
        {"type": "about:blank", "title": "Refused", "status": 400, "detail": "not allowed now"},
    ),
]


class _Sold(Conflict):
    default_title = "Sold out"


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.get("/raise/{index}")
    def refuse(index: int) -> None:
        raise TABLE[index][0]

    @app.get("/sold")
    def sold() -> None:
        raise _Sold("the last one went a minute ago")

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("index", "status", "body"),
    [(index, status, body) for index, (_, status, body) in enumerate(TABLE)],
    ids=[f"{type(error).__name__}-{index}" for index, (error, _, _) in enumerate(TABLE)],
)
def test_a_domain_error_is_answered_as_its_problem(
    client: TestClient, index: int, status: int, body: dict[str, Any]
) -> None:
    response = client.get(f"/raise/{index}")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == body


def test_every_kind_of_domain_error_has_a_status() -> None:
    kinds = {Conflict, DependencyFailed, DomainError, Forbidden, Invalid, LimitReached, NotFound}
    assert set(errors.STATUS_OF) == kinds
    assert {type(error) for error, _, _ in TABLE} == kinds


def test_a_subclass_takes_its_ancestors_status(client: TestClient) -> None:
    response = client.get("/sold")
    assert response.status_code == 409
    assert response.json()["title"] == "Sold out"


def test_an_invalid_names_its_first_field() -> None:
    assert Invalid(errors=[("url", "required"), ("title", "empty")]).field == "url"
    assert Invalid("no field named").field is None
    assert NotFound("item_id: no item i1", field="item_id").field == "item_id"
