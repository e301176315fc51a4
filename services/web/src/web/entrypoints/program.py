"""The program team's area: who may enter, and its home.

Curators compose and approve; admins also run the program. Someone without the role who
opens a program page gets a 403 page in their language, never a blank screen. The pages
themselves live in modules of their own (`program_content`, `program_admin`, `analytics`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from web.adapters.sessions import Session
from web.entrypoints.common import Language, Person, render

router = APIRouter(include_in_schema=False)


class NotAllowed(Exception):
    """The person lacks the role a program page needs."""


async def _curator(session: Person) -> Session:
    if not session.has_role("curator", "admin"):
        raise NotAllowed
    return session


async def _admin(session: Person) -> Session:
    if not session.has_role("admin"):
        raise NotAllowed
    return session


Curator = Annotated[Session, Depends(_curator)]
Admin = Annotated[Session, Depends(_admin)]


@router.get("/program")
async def program_home(request: Request, session: Curator, texts: Language) -> Response:
    """Where the program team starts: what there is to do, by role."""
    return render(
        request,
        "program/home.html",
        texts,
        session,
        title=texts.gettext("Program"),
        section="program",
        program_section="home",
    )
