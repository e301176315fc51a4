"""Wins told back: the program's milestones, drafted from its figures, for a storyteller
to tell in their own words (then in everyone's feed) or discard; admins appoint the
storytellers."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from babel import dates
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from web.adapters.backends import Reply
from web.adapters.sessions import Session
from web.entrypoints.common import (
    Form,
    Language,
    Person,
    Services,
    WebServices,
    error_page,
    redirect,
    render,
    update_metrics_settings,
)
from web.entrypoints.program import Admin
from web.i18n import Texts

router = APIRouter(include_in_schema=False)
PATH = "/program/wins"
WinId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:-]+$")]
TEXT_LIMIT = 600


def worded(texts: Texts, draft: dict[str, Any], today: date) -> str:
    """A drafted milestone in the storyteller's language, for them to make their own."""
    _ = texts.gettext
    values = draft.get("values") or {}
    milestone = draft.get("milestone")
    if milestone == "reach":
        return _(
            "Our posts have now reached more than %(count)s people. Thank you to everyone who "
            "shares!",
            count=texts.number(int(values.get("reach") or 0)),
        )
    if milestone == "shares":
        return _(
            "Together we have shared %(count)s posts. Every one of them counts.",
            count=texts.number(int(values.get("shares") or 0)),
        )
    if milestone == "applications":
        count = int(values.get("applications") or 0)
        title = str(values.get("title") or "")
        month = str(values.get("month") or "")
        if month == today.strftime("%Y-%m"):
            return texts.ngettext(
                "This month your posts brought %(count)s application to the %(title)s job.",
                "This month your posts brought %(count)s applications to the %(title)s job.",
                count,
                title=title,
            )
        try:
            first = date.fromisoformat(f"{month}-01")
            name = dates.format_skeleton("MMMM", first, locale=texts.language)
        except ValueError:
            name = month
        return texts.ngettext(
            "In %(month)s your posts brought %(count)s application to the %(title)s job.",
            "In %(month)s your posts brought %(count)s applications to the %(title)s job.",
            count,
            month=name,
            title=title,
        )
    return ""


def milestone_label(texts: Texts, milestone: str) -> str:
    _ = texts.gettext
    return {
        "reach": _("Reach"),
        "shares": _("Shares"),
        "applications": _("Job applications"),
    }.get(milestone, milestone)


async def _page(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    _ = texts.gettext
    found, settings = await _wins_and_settings(services, session)
    if found.status == 403:
        return error_page(
            request,
            texts,
            session,
            403,
            _("Only the program team and its storytellers tell wins"),
            _("An admin can appoint you as a storyteller."),
        )
    data = found.data or {} if found.ok else {}
    today = datetime.now(UTC).date()
    drafts = [
        {
            **d,
            "label": milestone_label(texts, str(d.get("milestone"))),
            "text": (values or {}).get(str(d.get("id")), worded(texts, d, today)),
        }
        for d in data.get("drafts") or []
    ]
    decided = [
        {
            **d,
            "label": milestone_label(texts, str(d.get("milestone"))),
            "when": datetime.fromisoformat(str(d["decided_at"])) if d.get("decided_at") else None,
        }
        for d in data.get("decided") or []
    ]
    stored = (settings.data or {}).get("storytellers") if settings.ok else None
    return render(
        request,
        "program/wins.html",
        texts,
        session,
        status=status,
        title=_("Wins to tell"),
        section="program",
        program_section="wins",
        unavailable=not found.ok,
        drafts=drafts,
        told=[d for d in decided if d.get("status") == "told"],
        discarded=[d for d in decided if d.get("status") == "discarded"],
        errors=errors or {},
        limit=TEXT_LIMIT,
        storytellers=(values or {}).get("storytellers", ", ".join(stored or [])),
        settings_unavailable=not settings.ok,
        notice={
            "told": _("Told. The win is in everyone's feed in a moment."),
            "discarded": _("Discarded. It will not be drafted again."),
            "storytellers": _("Saved. The storytellers can tell wins now."),
        }.get(request.query_params.get("done", ""), ""),
    )


async def _wins_and_settings(services: WebServices, session: Session) -> tuple[Reply, Reply]:
    found = await services.backends.metrics.call("GET", "/api/v1/wins", session.token)
    if not session.has_role("admin"):
        return found, Reply(unavailable=True)
    settings = await services.backends.metrics.call("GET", "/api/v1/settings", session.token)
    return found, settings


@router.get(PATH)
async def wins_page(
    request: Request, services: Services, session: Person, texts: Language
) -> Response:
    """The program's milestones to tell, and what was told."""
    return await _page(request, services, session, texts)


@router.post(PATH + "/{win_id}/tell")
async def tell(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    form: Form,
    win_id: WinId,
) -> Response:
    """Tell a win in the storyteller's words."""
    _ = texts.gettext
    text = str(form.get("text", ""))[: TEXT_LIMIT * 4].strip()
    error = ""
    if not text:
        error = _("Write the win in a sentence or two first.")
    elif len(text) > TEXT_LIMIT:
        error = _(
            "A win can be at most %(limit)s characters; this one has %(count)s.",
            limit=texts.number(TEXT_LIMIT),
            count=texts.number(len(text)),
        )
    else:
        reply = await services.backends.metrics.call(
            "POST", f"/api/v1/wins/{win_id}/tell", session.token, json={"text": text}
        )
        if reply.ok or reply.status == 409:
            return redirect(f"{PATH}?done=told#told", request)
        error = (
            _("It could not be saved right now. Nothing changed: try again in a minute.")
            if reply.unavailable
            else _("This win is no longer drafted. Nothing changed.")
        )
    return await _page(
        request,
        services,
        session,
        texts,
        values={win_id: text},
        errors={win_id: error},
        status=422,
    )


@router.post(PATH + "/{win_id}/discard")
async def discard(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    form: Form,
    win_id: WinId,
) -> Response:
    """Leave a win untold."""
    reply = await services.backends.metrics.call(
        "POST", f"/api/v1/wins/{win_id}/discard", session.token
    )
    if reply.ok or reply.status in (404, 409):
        return redirect(f"{PATH}?done=discarded", request)
    return await _page(
        request,
        services,
        session,
        texts,
        errors={win_id: texts.gettext("It could not be saved right now. Try again in a minute.")},
        status=503 if reply.unavailable else 422,
    )


@router.post(PATH + "/storytellers")
async def appoint(
    request: Request, services: Services, session: Admin, texts: Language, form: Form
) -> Response:
    """Who, besides the program team, tells the program's wins."""
    _ = texts.gettext
    raw = str(form.get("storytellers", ""))[:2000]
    names = [n for n in (part.strip() for part in re.split(r"[,\s]+", raw)) if n]
    error = ""
    if len(names) > 20:
        error = _("Appoint at most 20 storytellers.")
    elif any(not re.fullmatch(r"[A-Za-z0-9._@:-]{1,200}", n) for n in names):
        error = _("Enter the people's ids, separated by commas, like anna.berg, ola.nordmann.")
    else:
        saved = await update_metrics_settings(services, session, storytellers=names)
        if saved.ok:
            return redirect(f"{PATH}?done=storytellers#appoint", request)
        error = _("It could not be saved right now. Nothing changed: try again in a minute.")
    return await _page(
        request,
        services,
        session,
        texts,
        values={"storytellers": raw},
        errors={"storytellers": error},
        status=422,
    )
