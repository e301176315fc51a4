"""Coaching: the onboarding path (employees follow it, the program team writes it in each
language and sees how far people are) and areas of expertise (employees name theirs, the
program team sees where people have no content to share).

Everything is read from and written to the content service with the person's token;
metrics gives the number of enrolled advocates beside the completion count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from web.adapters.backends import Reply
from web.adapters.sessions import Session
from web.domain import coaching
from web.entrypoints.common import Form, Language, Person, Services, WebServices, redirect, render
from web.entrypoints.program import Curator
from web.i18n import LANGUAGES, NATIVE_NAMES, Texts

router = APIRouter(include_in_schema=False)
StepId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Flag = Annotated[str | None, Query(max_length=40)]


def _unavailable(texts: Texts) -> str:
    return texts.gettext(
        "The content service did not answer. Nothing changed: please try again in a minute."
    )


# -- employees: the path --------------------------------------------------------------------


def path_steps(path: Mapping[str, Any], language: str) -> list[dict[str, Any]]:
    """The steps as the reader sees them: in their language where written."""
    steps = []
    for number, step in enumerate(path.get("steps") or [], start=1):
        lang, title, body = coaching.text_of(step, language)
        steps.append(
            {
                "id": step["id"],
                "number": number,
                "lang": lang,
                "title": title,
                "paragraphs": [p for p in body.split("\n\n") if p.strip()],
                "done": step.get("done_at") is not None,
            }
        )
    return steps


async def _onboarding(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    *,
    error: str = "",
    done: str | None = None,
    status: int = 200,
) -> Response:
    reply = await services.backends.content.call("GET", "/api/v1/onboarding", session.token)
    path = reply.data or {} if reply.ok else {}
    steps = path_steps(path, texts.language)
    following = next((s for s in steps if not s["done"]), None)
    return render(
        request,
        "onboarding.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Your onboarding path"),
        section="me",
        reply=reply,
        steps=steps,
        done=int(path.get("done") or 0),
        total=int(path.get("total") or 0),
        complete=bool(path.get("complete")),
        following=following,
        just_done=done,
        error=error,
    )


@router.get("/onboarding")
async def onboarding_page(
    request: Request, services: Services, session: Person, texts: Language, done: Flag = None
) -> Response:
    """The onboarding path in my language, with my progress."""
    return await _onboarding(request, services, session, texts, done=done)


@router.post("/onboarding/steps/{step_id}")
async def complete_step(
    request: Request,
    services: Services,
    session: Person,
    texts: Language,
    form: Form,
    step_id: StepId,
) -> Response:
    """Mark a step done; back to the path at the next step."""
    reply = await services.backends.content.call(
        "POST", f"/api/v1/onboarding/steps/{step_id}/completion", session.token
    )
    if reply.ok:
        return redirect(f"/onboarding?done={step_id}#step-{step_id}", request)
    if reply.status == 404:
        error = texts.gettext(
            "That step is no longer on the path: the program team changed it. Here it is as it "
            "is now."
        )
        return await _onboarding(request, services, session, texts, error=error, status=404)
    return await _onboarding(
        request, services, session, texts, error=_unavailable(texts), status=503
    )


# -- employees: areas of expertise ---------------------------------------------------------


async def _expertise(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    *,
    value: str | None = None,
    error: str = "",
    saved: bool = False,
    status: int = 200,
) -> Response:
    content = services.backends.content
    mine, topics = await asyncio.gather(
        content.call("GET", "/api/v1/me/expertise", session.token),
        content.call("GET", "/api/v1/topics", session.token),
    )
    areas = list((mine.data or {}).get("areas") or []) if mine.ok else []
    return render(
        request,
        "expertise.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Your areas of expertise"),
        section="me",
        mine=mine,
        areas=areas,
        value=", ".join(areas) if value is None else value,
        topics=list((topics.data or {}).get("topics") or []) if topics.ok else [],
        error=error,
        saved=saved,
    )


@router.get("/me/expertise")
async def expertise_page(
    request: Request, services: Services, session: Person, texts: Language, saved: Flag = None
) -> Response:
    """Name what I know about, so that the feed shows it first."""
    return await _expertise(request, services, session, texts, saved=saved == "1")


@router.post("/me/expertise")
async def save_expertise(
    request: Request, services: Services, session: Person, texts: Language, form: Form
) -> Response:
    """Save my areas; back with what is wrong next to the field."""
    raw = str(form.get("areas", ""))
    areas = coaching.split_areas(raw)
    error = ""
    if len(areas) > 10:
        error = texts.gettext("Name at most 10 areas.")
    elif any(len(a) > 60 for a in areas):
        error = texts.gettext("Keep each area to 60 characters or fewer.")
    if not error:
        reply = await services.backends.content.call(
            "PUT", "/api/v1/me/expertise", session.token, json={"areas": areas}
        )
        if reply.ok:
            return redirect("/me/expertise?saved=1", request)
        error = (
            _unavailable(texts)
            if reply.unavailable or reply.status >= 500
            else texts.gettext("Name at most 10 areas, each 60 characters or fewer.")
        )
    status = 503 if "did not answer" in error else 422
    return await _expertise(
        request, services, session, texts, value=raw, error=error, status=status
    )


# -- the program team: writing the path -------------------------------------------------------


def _messages(texts: Texts) -> dict[str, str]:
    return {
        "title": texts.gettext("Give the step a title, or tick it for removal."),
        "title_for_body": texts.gettext("Give the step a title in this language too."),
        "title_long": texts.gettext("Keep the title to 200 characters or fewer."),
        "body_long": texts.gettext("Keep the text to 20,000 characters or fewer."),
    }


async def _program_onboarding(
    request: Request,
    services: WebServices,
    session: Session,
    texts: Texts,
    language: str,
    *,
    form: Mapping[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    status: int = 200,
) -> Response:
    content, metrics = services.backends.content, services.backends.metrics
    path, figures, overview = await asyncio.gather(
        content.call("GET", "/api/v1/onboarding", session.token),
        content.call("GET", "/api/v1/onboarding/figures", session.token),
        metrics.call("GET", "/api/v1/figures", session.token),
    )
    data = path.data or {} if path.ok else {}
    counts = {s["id"]: s["done"] for s in (figures.data or {}).get("steps", [])}
    rows = []
    for number, step in enumerate(data.get("steps") or [], start=1):
        key = step["id"]
        titles = step.get("titles") or {}
        elsewhere = coaching.text_of({**step, "titles": {**titles, language: ""}}, language)
        rows.append(
            {
                "id": key,
                "number": number,
                "title": form.get(f"title-{key}", "") if form else titles.get(language, ""),
                "body": form.get(f"body-{key}", "")
                if form
                else (step.get("bodies") or {}).get(language, ""),
                "position": form.get(f"position-{key}", number) if form else number,
                "remove": bool(form and form.get(f"remove-{key}")),
                "elsewhere": elsewhere,
                "elsewhere_name": NATIVE_NAMES.get(elsewhere[0], elsewhere[0]),
                "languages": [NATIVE_NAMES[code] for code in LANGUAGES if titles.get(code)],
                "done": counts.get(key, 0),
            }
        )
    enrolled = ((overview.data or {}).get("figures") or {}).get("enrolled_advocates")
    started = (figures.data or {}).get("started")
    completed = (figures.data or {}).get("completed")
    share = None
    if isinstance(enrolled, int) and enrolled > 0 and isinstance(completed, int):
        share = completed / enrolled
    return render(
        request,
        "program/onboarding.html",
        texts,
        session,
        status=status,
        title=texts.gettext("Onboarding path"),
        section="program",
        program_section="content",
        content_tab="onboarding",
        path=path,
        figures=figures,
        version=int(data.get("version") or 0),
        rows=rows,
        language=language,
        language_name=NATIVE_NAMES[language],
        editions=[
            (
                code,
                NATIVE_NAMES[code],
                sum(1 for s in data.get("steps") or [] if (s.get("titles") or {}).get(code)),
            )
            for code in LANGUAGES
        ],
        total=len(rows),
        new={
            "title": (form or {}).get("title-new", ""),
            "body": (form or {}).get("body-new", ""),
            "position": (form or {}).get("position-new", len(rows) + 1),
        },
        errors=errors or {},
        saved=saved,
        started=started,
        completed=completed,
        enrolled=enrolled if isinstance(enrolled, int) else None,
        share=share,
    )


def _language(raw: str | None, texts: Texts) -> str:
    return raw if raw in LANGUAGES else texts.language


@router.get("/program/onboarding")
async def program_onboarding(
    request: Request,
    services: Services,
    session: Curator,
    texts: Language,
    lang: Annotated[str | None, Query(max_length=10)] = None,
    saved: Flag = None,
) -> Response:
    """Write the onboarding path in one language; how far people are."""
    language = _language(lang, texts)
    return await _program_onboarding(
        request, services, session, texts, language, saved=saved == "1"
    )


@router.post("/program/onboarding")
async def save_onboarding(
    request: Request, services: Services, session: Curator, texts: Language, form: Form
) -> Response:
    """Save the path's steps in one language: edits, order, removals and a new step."""
    language = _language(str(form.get("lang", "")), texts)
    content = services.backends.content
    current = await content.call("GET", "/api/v1/onboarding", session.token)
    if not current.ok:
        return await _program_onboarding(
            request,
            services,
            session,
            texts,
            language,
            form=form,
            errors={"form": _unavailable(texts)},
            status=503,
        )
    data = current.data or {}
    version = int(data.get("version") or 0)
    if str(form.get("version", "")) != str(version):
        errors = {
            "form": texts.gettext(
                "Someone changed the path while you were editing. Here it is as it is now: "
                "please make your change again."
            )
        }
        return await _program_onboarding(
            request, services, session, texts, language, errors=errors, status=409
        )
    edited = coaching.edit_path(data.get("steps") or [], form, language, _messages(texts))
    if edited.errors:
        return await _program_onboarding(
            request,
            services,
            session,
            texts,
            language,
            form=form,
            errors=edited.errors,
            status=422,
        )
    reply = await content.call(
        "PUT",
        "/api/v1/onboarding",
        session.token,
        json={"version": version, "steps": edited.steps},
    )
    if reply.ok:
        return redirect(f"/program/onboarding?lang={language}&saved=1", request)
    if reply.status == 409:
        errors = {
            "form": texts.gettext(
                "Someone changed the path while you were editing. Here it is as it is now: "
                "please make your change again."
            )
        }
        return await _program_onboarding(
            request, services, session, texts, language, errors=errors, status=409
        )
    return await _program_onboarding(
        request,
        services,
        session,
        texts,
        language,
        form=form,
        errors={"form": _unavailable(texts)},
        status=503 if reply.unavailable or reply.status >= 500 else 422,
    )


# -- the program team: where people have no content --------------------------------------------


@router.get("/program/expertise")
async def program_expertise(
    request: Request, services: Services, session: Curator, texts: Language
) -> Response:
    """Each area people named: how many name it, how many live items are on it."""
    reply: Reply = await services.backends.content.call("GET", "/api/v1/expertise", session.token)
    rows = list((reply.data or {}).get("areas") or []) if reply.ok else []
    return render(
        request,
        "program/expertise.html",
        texts,
        session,
        title=texts.gettext("Expertise and content"),
        section="program",
        program_section="content",
        content_tab="expertise",
        reply=reply,
        rows=rows,
        uncovered=sum(1 for r in rows if r.get("uncovered")),
    )
