"""The rewards page's suggestion form and votes: what is wrong, by field, in plain words."""

from __future__ import annotations

from datetime import UTC, datetime

from web.adapters.backends import Reply
from web.entrypoints.rewards import (
    latest_decided,
    suggestion_errors,
    suggestion_refusal,
    vote_refusal,
)
from web.i18n import Texts

EN = Texts("en")


def test_a_suggestion_needs_a_name_that_fits_and_a_short_description() -> None:
    assert suggestion_errors({"title": "Team lunch"}, EN) == {}
    assert set(suggestion_errors({"title": "  "}, EN)) == {"suggestion_title"}
    assert set(suggestion_errors({"title": "x" * 121}, EN)) == {"suggestion_title"}
    assert suggestion_errors({"title": "x" * 120, "description": "y" * 500}, EN) == {}
    too_long = suggestion_errors({"title": "ok", "description": "y" * 501}, EN)
    assert set(too_long) == {"suggestion_description"}
    assert "500" in too_long["suggestion_description"]


def test_refusals_of_the_rewards_service_by_field() -> None:
    duplicate = Reply(status=409, problem={"title": "Already suggested", "detail": "title: x"})
    assert "already" in suggestion_refusal(duplicate, EN)["suggestion_title"]
    many = Reply(status=409, problem={"title": "Too many open suggestions"})
    assert set(suggestion_refusal(many, EN)) == {"suggestion_title"}
    invalid = Reply(status=422, problem={"errors": [{"field": "description", "message": "long"}]})
    assert set(suggestion_refusal(invalid, EN)) == {"suggestion_description"}
    assert set(suggestion_refusal(Reply(unavailable=True), EN)) == {"form"}
    assert "Nothing changed" in vote_refusal("unavailable", EN)
    assert "decided" in vote_refusal("decided", EN)


def test_the_latest_decisions_first() -> None:
    def decided(sid: str, day: int) -> dict[str, object]:
        return {"suggestion_id": sid, "decided_at": datetime(2026, 3, day, tzinfo=UTC).isoformat()}

    reply = Reply(
        status=200, data={"suggestions": [decided("a", 1), decided("b", 9), decided("c", 5)]}
    )
    assert [s["suggestion_id"] for s in latest_decided(reply, 2)] == ["b", "c"]
