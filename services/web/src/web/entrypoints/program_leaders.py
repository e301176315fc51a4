"""Leaders go first: the program team names the leaders' group, whose own posts colleagues
are shown, and sees how many of its leaders take part."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from web.adapters.sessions import Session
from web.entrypoints.common import Form, Language, Services, WebServices, redirect, render
from web.entrypoints.program import Admin
from web.i18n import Texts

router = APIRouter(include_in_schema=False)
Saved = Annotated[str | None, Query(max_length=40)]
GROUP = re.compile(r"[A-Za-z0-9._:@/-]{1,200}")


async def _page(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    *,
    saved: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    backends = services.backends
    setting = await backends.share.call("GET", "/api/v1/settings/leaders", session.token)
    group = str((setting.data or {}).get("leaders_group") or "") if setting.ok else ""
    figures: dict[str, object] = {}
    if group:
        reply = await backends.metrics.call(
            "GET", "/api/v1/figures", session.token, params={"leaders_group": group}
        )
        figures = dict((reply.data or {}).get("figures") or {}) if reply.ok else {}
    return render(
        request,
        "program/leaders.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Leaders"),
        section="program",
        program_section="run",
        run="leaders",
        unavailable=not setting.ok,
        group=group,
        figures=figures,
        values={"leaders_group": group, **(values or {})},
        errors=errors or {},
        saved=saved,
    )


@router.get("/program/run/leaders")
async def leaders_page(
    request: Request, services: Services, session: Admin, texts: Language, saved: Saved = None
) -> Response:
    """The leaders' group, and how many of its leaders shared in the last 30 days."""
    message = {
        "named": texts.gettext(
            "Saved. From now on, the own posts its members share are shown to every colleague."
        ),
        "none": texts.gettext("Saved. No group counts as the leaders now."),
    }.get(saved or "")
    return await _page(request, services, session, texts, saved=message)


@router.post("/program/run/leaders")
async def name_leaders(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """Name the leaders' group, or none."""
    raw = str(form.get("leaders_group", "")).strip()[:300]
    errors: dict[str, str] = {}
    if raw and not GROUP.fullmatch(raw):
        errors["leaders_group"] = texts.gettext(
            "Enter the group's name as the directory gives it: letters, digits and . _ : @ / - "
            "without spaces, or leave it empty for none."
        )
    else:
        reply = await services.backends.share.call(
            "PUT", "/api/v1/settings/leaders", session.token, json={"leaders_group": raw or None}
        )
        if reply.ok:
            services.leaders.pop(session.tenant, None)
            return redirect(f"/program/run/leaders?saved={'named' if raw else 'none'}", request)
        errors["form" if reply.unavailable else "leaders_group"] = (
            texts.gettext(
                "The setting is unavailable right now. Nothing changed: try again in a minute."
            )
            if reply.unavailable
            else texts.gettext("The group was not saved. Check its name and try again.")
        )
    return await _page(
        request,
        services,
        session,
        texts,
        errors=errors,
        values={"leaders_group": raw},
        status=422,
    )
