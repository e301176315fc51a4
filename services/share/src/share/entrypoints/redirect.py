"""`GET /l/{code}`: the public short link. Answers from memory and MongoDB, never Kafka."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from html import escape

from fastapi import APIRouter
from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from share.domain.clicks import cookie_advocate, is_bot, visitor_hash
from share.domain.links import SHORT_CODE
from share.service_layer.handlers import Services

log = logging.getLogger(__name__)

ADVOCATE_COOKIE = "chorus_advocate"

REDIRECTS = Counter(
    "chorus_share_redirects_total",
    "Requests to short links, by outcome; only `click` becomes an engagement event",
    ["outcome"],
)
_OUTCOMES = ("click", "bot", "head", "self", "stopped", "unknown", "unrecorded")
for _outcome in _OUTCOMES:
    REDIRECTS.labels(_outcome)

_NOT_FOUND = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Link not found</title></head>
<body><h1>Link not found</h1><p>There is no link <code>/l/{code}</code>. Check the address
you followed.</p></body></html>
"""


async def follow(request: Request) -> Response:
    """Redirect to the shared content with its UTM parameters; count human clicks."""
    code: str = request.path_params["code"]
    services: Services = request.app.state.services
    share = await services.links_cache.get(code) if SHORT_CODE.match(code) else None
    if share is None:
        REDIRECTS.labels("unknown").inc()
        return HTMLResponse(_NOT_FOUND.format(code=escape(code[:64])), status_code=404)
    # Always the stored target: nothing in the request can change where this goes.
    response = Response(
        status_code=302,
        headers={"Location": share["target_url"], "Cache-Control": "private, no-store"},
    )
    user_agent = request.headers.get("user-agent", "")
    if request.method == "HEAD":
        outcome = "head"
    elif is_bot(user_agent):
        outcome = "bot"
    elif share.get("stopped"):
        outcome = "stopped"
    elif _is_advocate(request, services, share):
        outcome = "self"
    else:
        outcome = "click"
        now = datetime.now(UTC)
        ip = request.client.host if request.client else ""
        try:
            await services.clicks.record(
                share, visitor_hash(services.salts.today(now), ip, user_agent), now
            )
        except Exception as exc:
            # The visitor still gets where they were going; the loss is logged and counted.
            outcome = "unrecorded"
            log.error("click not recorded", extra={"code": code, "error": repr(exc)})
    REDIRECTS.labels(outcome).inc()
    return response


def _is_advocate(request: Request, services: Services, share: dict[str, object]) -> bool:
    cookie = request.cookies.get(ADVOCATE_COOKIE)
    if not cookie:
        return False
    who = cookie_advocate(services.link_secret, cookie)
    return who == (share["tenant"], share["employee_id"])


router = APIRouter(tags=["links"])
# A plain Starlette route: the hottest path skips FastAPI's dependency resolution.
router.add_route("/l/{code}", follow, methods=["GET", "HEAD"], include_in_schema=False)
