"""The path editor's form, one language at a time, and areas typed on one line."""

from __future__ import annotations

from web.domain import coaching

MESSAGES = {
    "title": "title needed",
    "title_for_body": "title for body",
    "title_long": "title long",
    "body_long": "body long",
}
CURRENT = [
    {"id": "a", "titles": {"en": "Why", "sv": "Varför"}, "bodies": {"en": "Because"}},
    {"id": "b", "titles": {"en": "What"}, "bodies": {}},
    {"id": "c", "titles": {"en": "Bragging?"}, "bodies": {}},
]


def _form(**fields: str) -> dict[str, str]:
    base = {
        "title-a": "Varför",
        "title-b": "",
        "title-c": "",
        "position-a": "1",
        "position-b": "2",
        "position-c": "3",
    }
    return {**base, **fields}


def test_a_language_is_edited_without_touching_the_others() -> None:
    edited = coaching.edit_path(CURRENT, _form(**{"body-a": "För att"}), "sv", MESSAGES)
    assert not edited.errors
    assert edited.steps[0] == {
        "id": "a",
        "titles": {"en": "Why", "sv": "Varför"},
        "bodies": {"en": "Because", "sv": "För att"},
    }
    # Steps not written in Swedish keep their English and stay untranslated.
    assert edited.steps[1] == {"id": "b", "titles": {"en": "What"}, "bodies": {}}


def test_a_step_moved_to_the_front_goes_before_the_one_that_was_there() -> None:
    edited = coaching.edit_path(CURRENT, _form(**{"position-c": "1"}), "sv", MESSAGES)
    assert [s["id"] for s in edited.steps] == ["c", "a", "b"]


def test_removal_and_a_new_step_in_place() -> None:
    form = _form(**{"remove-b": "1", "title-new": "Din profil", "position-new": "2"})
    edited = coaching.edit_path(CURRENT, form, "sv", MESSAGES)
    assert [s.get("id") for s in edited.steps] == ["a", None, "c"]
    assert edited.steps[1] == {"titles": {"sv": "Din profil"}, "bodies": {}}


def test_a_step_left_without_any_title_or_a_text_without_title_is_refused() -> None:
    only_english = [{"id": "x", "titles": {"en": "Why"}, "bodies": {}}]
    edited = coaching.edit_path(only_english, {"title-x": ""}, "en", MESSAGES)
    assert edited.errors == {"title-x": "title needed"}
    edited = coaching.edit_path(only_english, {"title-x": "", "body-x": "Text"}, "sv", MESSAGES)
    assert edited.errors == {"title-x": "title for body"}
    edited = coaching.edit_path([], {"body-new": "Text"}, "en", MESSAGES)
    assert edited.errors == {"title-new": "title for body"}
    edited = coaching.edit_path([], {"title-new": "x" * 201}, "en", MESSAGES)
    assert edited.errors == {"title-new": "title long"}


def test_a_step_speaks_my_language_or_english() -> None:
    assert coaching.text_of(CURRENT[0], "sv") == ("sv", "Varför", "")
    assert coaching.text_of(CURRENT[0], "fi") == ("en", "Why", "Because")


def test_areas_typed_on_one_line() -> None:
    assert coaching.split_areas("data science, hiring,\n, AI ") == ["data science", "hiring", "AI"]
