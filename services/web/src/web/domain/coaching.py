"""The coaching pages' rules: reading the path editor's form (one language at a time) into
the steps the content service takes, a step in the reader's language, and areas typed as
one line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_TITLE = 200
MAX_BODY = 20_000


def text_of(step: Mapping[str, Any], language: str) -> tuple[str, str, str]:
    """(language, title, body) of a step in `language`, else English, else any."""
    titles = step.get("titles") or {}
    bodies = step.get("bodies") or {}
    for lang in (language, "en", *sorted(titles)):
        if titles.get(lang):
            return lang, str(titles[lang]), str(bodies.get(lang) or "")
    return "", "", ""


def split_areas(raw: str) -> list[str]:
    """Areas typed as one line, separated by commas or new lines."""
    return [part.strip() for part in raw.replace("\n", ",").split(",") if part.strip()]


@dataclass
class Edited:
    """The path as the editor's form left it, or the errors by field name."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def edit_path(
    current: Sequence[Mapping[str, Any]],
    form: Mapping[str, Any],
    language: str,
    messages: Mapping[str, str],
) -> Edited:
    """Apply the form's texts in `language` to `current`, in the positions given; steps
    ticked for removal leave, a new step joins when it has a title. Other languages'
    texts are kept as they are."""
    edited = Edited()
    # (position, 0 for a step moved there and 1 for one that was there, index, step): a
    # step moved to position 1 goes before the step that was first.
    placed: list[tuple[float, int, int, dict[str, Any]]] = []
    for index, step in enumerate(current):
        key = str(step["id"])
        if form.get(f"remove-{key}"):
            continue
        title = str(form.get(f"title-{key}", "")).strip()
        body = str(form.get(f"body-{key}", "")).strip()
        titles = {k: v for k, v in (step.get("titles") or {}).items() if k != language}
        bodies = {k: v for k, v in (step.get("bodies") or {}).items() if k != language}
        if title:
            titles[language] = title
            if body:
                bodies[language] = body
        elif body:
            edited.errors[f"title-{key}"] = messages["title_for_body"]
        if not titles:
            edited.errors[f"title-{key}"] = messages["title"]
        _check_lengths(edited, key, title, body, messages)
        position = _position(form.get(f"position-{key}"), index + 1)
        moved = 0 if position != index + 1 else 1
        placed.append((position, moved, index, {"id": key, "titles": titles, "bodies": bodies}))
    title = str(form.get("title-new", "")).strip()
    body = str(form.get("body-new", "")).strip()
    if title:
        _check_lengths(edited, "new", title, body, messages)
        new = {"titles": {language: title}, "bodies": {language: body} if body else {}}
        position = _position(form.get("position-new"), len(current) + 1)
        placed.append((position, 1, len(current), new))
    elif body:
        edited.errors["title-new"] = messages["title_for_body"]
    edited.steps = [step for *_, step in sorted(placed, key=lambda p: p[:3])]
    return edited


def _check_lengths(
    edited: Edited, key: str, title: str, body: str, messages: Mapping[str, str]
) -> None:
    if len(title) > MAX_TITLE:
        edited.errors[f"title-{key}"] = messages["title_long"]
    if len(body) > MAX_BODY:
        edited.errors[f"body-{key}"] = messages["body_long"]


def _position(raw: Any, default: int) -> float:
    try:
        return float(str(raw).strip())
    except ValueError:
        return float(default)
