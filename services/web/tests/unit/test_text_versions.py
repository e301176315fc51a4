"""Versions of a suggested text: the composer's fields, and the variant the panel offers."""

from __future__ import annotations

from contracts.events import Network
from web.adapters.backends import Reply
from web.domain import networks
from web.entrypoints.program_content import FIELDS, body_of, service_errors, values_of
from web.i18n import Texts


def _values(**typed: str) -> dict[str, str]:
    values = {name: "" for name in FIELDS}
    values.update(kind="article", when="now", tz="UTC", title="T", **typed)
    return values


def test_the_first_version_written_is_the_suggested_text() -> None:
    body = body_of(
        _values(text_linkedin="", text_linkedin_2="  Two ", text_linkedin_4="Four", text_x="X"),
        patch=True,
    )
    assert body["suggested_texts"] == {"linkedin": "Two", "x": "X"}
    assert body["text_variants"] == {"linkedin": ["Four"]}


def test_an_items_variants_fill_the_version_fields() -> None:
    values = values_of(
        {
            "title": "T",
            "suggested_texts": {"linkedin": "One"},
            "text_variants": {"linkedin": ["Two", "Three"]},
        }
    )
    assert values["text_linkedin"] == "One"
    assert (values["text_linkedin_2"], values["text_linkedin_3"]) == ("Two", "Three")
    assert values["text_linkedin_4"] == values["text_x_2"] == ""


def test_a_refused_variant_is_shown_at_its_field() -> None:
    reply = Reply(
        422, problem={"errors": [{"field": "text_variants.linkedin.1", "message": "too long"}]}
    )
    values = _values(text_linkedin="One", text_linkedin_3="Two", text_linkedin_5="Three")
    errors = service_errors(reply, Texts("en"), values)
    assert list(errors) == ["text_linkedin_5"]


def test_the_panel_offers_the_persons_variant() -> None:
    choices = networks.choices(
        {},
        {"linkedin": "One", "x": "Short"},
        "The title",
        {"linkedin": {"variant": 2, "variants": 3, "text": "Three", "shared": False}},
    )
    linkedin = next(c for c in choices if c.network is Network.LINKEDIN)
    x = next(c for c in choices if c.network is Network.X)
    facebook = next(c for c in choices if c.network is Network.FACEBOOK)
    assert (linkedin.text, linkedin.variant, linkedin.variants) == ("Three", 2, 3)
    assert (x.text, x.variant) == ("Short", 0)
    assert (facebook.text, facebook.variant) == ("The title", None)
    assert networks.variant_of("2") == 2
    assert networks.variant_of("x") is None and networks.variant_of("") is None
