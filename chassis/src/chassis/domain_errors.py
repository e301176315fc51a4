"""Why a use case refused: the errors service layers and domain rules raise.

They say what went wrong in the product's terms and know nothing of HTTP; the one mapper
in `chassis.errors.install` turns each kind into its status and problem+json body. Each
error carries a `title` (the kind's own unless given), a `detail` for people, optionally
the request `field` at fault, and extension members for the body (`current_version=3`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar


class DomainError(Exception):
    """A use case refused; subclasses say why."""

    default_title: ClassVar[str] = "Refused"

    def __init__(
        self,
        detail: str = "",
        *,
        title: str | None = None,
        field: str | None = None,
        **extensions: Any,
    ) -> None:
        self.title = title or self.default_title
        super().__init__(detail or self.title)
        self.detail = detail
        self.field = field
        self.extensions = extensions


class Invalid(DomainError):
    """A value the caller sent is wrong. `errors` pairs each field with what is wrong with
    it; the detail, unless given, lists them as `field: message; ...`."""

    default_title = "Invalid request"

    def __init__(
        self,
        detail: str = "",
        *,
        errors: Iterable[tuple[str, str]] = (),
        title: str | None = None,
        field: str | None = None,
        **extensions: Any,
    ) -> None:
        self.errors = tuple(errors)
        super().__init__(
            detail or "; ".join(f"{name}: {message}" for name, message in self.errors),
            title=title,
            field=field or (self.errors[0][0] if self.errors else None),
            **extensions,
        )


class Forbidden(DomainError):
    """The caller may not do this (their role, or what they own)."""

    default_title = "Forbidden"


class NotFound(DomainError):
    """What the request names does not exist, or not for this caller."""

    default_title = "Not found"


class Conflict(DomainError):
    """The current state does not allow it: already decided, changed meanwhile, sold out."""

    default_title = "Conflict"


class LimitReached(DomainError):
    """The caller used up an allowance (a daily cap); asking again later may succeed."""

    default_title = "Limit reached"


class DependencyFailed(DomainError):
    """A system the use case depends on (a social network) refused or failed the request."""

    default_title = "Dependency failed"
