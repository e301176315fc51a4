"""RFC 9457 problem details for every error an api returns.

Service layers and domain rules raise `chassis.domain_errors`; this module is the one place
that gives each kind its HTTP status. `Problem` stays for what only an entry point knows
(a token, a request's shape).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from chassis.domain_errors import (
    Conflict,
    DependencyFailed,
    DomainError,
    Forbidden,
    Invalid,
    LimitReached,
    NotFound,
)

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class Problem(Exception):
    """An error the client can act on, returned as problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.headers = headers or {}
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.extensions = extensions


def problem_response(
    status: int, title: str, detail: str = "", *, type_: str = "about:blank", **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


# The status of each kind of domain error; a subclass takes its nearest ancestor's.
STATUS_OF: dict[type[DomainError], int] = {
    DomainError: 400,
    Invalid: 422,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    LimitReached: 429,
    DependencyFailed: 424,
}


def status_of(error: DomainError) -> int:
    return next(STATUS_OF[kind] for kind in type(error).__mro__ if kind in STATUS_OF)


def domain_problem(error: DomainError) -> JSONResponse:
    """The problem+json answer to a refused use case: its title, detail and extensions,
    and for an `Invalid` the fields at fault in `errors`."""
    extra: dict[str, Any] = {}
    if isinstance(error, Invalid) and error.errors:
        extra["errors"] = [{"field": name, "message": message} for name, message in error.errors]
    extra.update(error.extensions)
    return problem_response(status_of(error), error.title, error.detail, **extra)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "audience", "groups", 0) -> "audience.groups[0]"; the location kind is dropped.
    parts = list(loc[1:]) if loc and loc[0] in {"body", "query", "path", "header"} else list(loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or str(loc[0] if loc else "")


# What MongoDB's wire protocol carries but the storage refuses: FerretDB's PostgreSQL takes
# no NUL in text, and BSON no unpaired surrogate (JSON's "\\ud800" decodes to one).
UNSTORABLE = "must not contain NUL characters or unpaired surrogates"


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unstorable(value: Any, field: str) -> str | None:
    """The first field of a decoded JSON body whose text cannot be stored, or None."""
    if isinstance(value, str):
        return None if _storable(value) else field
    if isinstance(value, list):
        items = (_unstorable(item, f"{field}[{i}]") for i, item in enumerate(value))
        return next((found for found in items if found is not None), None)
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{field}.{key}" if field else str(key)
            if not _storable(str(key)):
                return name
            if (found := _unstorable(item, name)) is not None:
                return found
    return None


async def refuse_unstorable_text(request: Request) -> None:
    """A dependency of every api route: text no storage takes is a 422 naming its field,
    not the storage's 500 after the use case ran halfway."""
    for name, value in [*request.query_params.multi_items(), *request.path_params.items()]:
        if not _storable(str(value)):
            raise Invalid(errors=[(name, UNSTORABLE)])
    if request.method not in {"POST", "PUT", "PATCH"}:
        return
    # A form's body was read by FastAPI's form parsing before this dependency runs, and reading
    # it again raises (every form of the web app was a 500); the web app sends what a form says
    # on to the apis as JSON, which check it there.
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        return
    body = await request.body()
    # JSON spells both as \u escapes; a body without one has neither, and is not parsed here.
    if b"\\u" not in body:
        return
    try:
        decoded = json.loads(body)
    except ValueError:
        return  # the route's own validation names what is wrong with it
    if (field := _unstorable(decoded, "")) is not None:
        raise Invalid(errors=[(field or "body", UNSTORABLE)])


def install(app: FastAPI) -> None:
    """Make every error the app raises a problem+json response."""

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        response = problem_response(
            exc.status, exc.title, exc.detail, type_=exc.type, **exc.extensions
        )
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(DomainError)
    async def _refused(_: Request, exc: DomainError) -> JSONResponse:
        return domain_problem(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(422, "Invalid request", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = exc.detail if isinstance(exc.detail, str) else "HTTP error"
        response = problem_response(exc.status_code, title)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(500, "Internal error", "the error was logged")
