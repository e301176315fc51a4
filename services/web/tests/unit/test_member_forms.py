"""Pure rules of the member's pages: audience sizes, offers, refusals, the export, forms."""

from __future__ import annotations

import pytest

from web.adapters.backends import Reply
from web.entrypoints.contribute import own_post_errors, suggestion_errors, web_address
from web.entrypoints.join import chosen_networks, is_member, parse_audience
from web.entrypoints.me import export_section, service_section
from web.entrypoints.rewards import offer, redeem_error
from web.i18n import Texts

EN = Texts("en")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("", 0), (" 250 ", 250), ("1 250", 1250), ("1,250", 1250), ("12.000", 12000)],
)
def test_audience_sizes_as_people_type_them(typed: str, expected: int) -> None:
    assert parse_audience(typed) == expected


@pytest.mark.parametrize("typed", ["-5", "lots", "1e6", "٣٣", "2000000000"])
def test_what_is_not_an_audience_size(typed: str) -> None:
    assert parse_audience(typed) is None


def test_only_ticked_networks_count_and_a_bad_size_is_an_error_by_its_field() -> None:
    form = {"audience_linkedin": "300", "audience_x": "-1", "audience_xing": "99"}
    sizes, errors = chosen_networks(form, ["linkedin", "x", "myspace"], EN)
    assert sizes == {"linkedin": 300}
    assert list(errors) == ["audience_x"]
    assert "X" in errors["audience_x"]


def test_a_member_is_an_enrolled_advocate() -> None:
    assert is_member(Reply(status=200, data={"status": "enrolled"}))
    assert not is_member(Reply(status=200, data={"status": "opted_out"}))
    assert not is_member(Reply(status=404))
    assert not is_member(Reply(unavailable=True))


def test_an_offer_says_what_is_missing_and_what_is_left_after() -> None:
    mug = {"item_id": "mug", "name": "Mug", "price": 40, "stock": 3}
    enough = offer(mug, 100)
    assert (enough["affordable"], enough["after"], enough["missing"]) == (True, 60, 0)
    assert offer(mug, 10)["missing"] == 30
    assert offer(mug, None)["affordable"] is False
    assert offer({**mug, "stock": 0}, 100)["in_stock"] is False


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply(unavailable=True), "unavailable"),
        (Reply(status=404, problem={"title": "No such item"}), "no longer in the catalog"),
        (Reply(status=409, problem={"title": "Out of stock"}), "run out"),
        (Reply(status=409, problem={"title": "Not enough points"}), "does not cover"),
    ],
)
def test_a_refused_redemption_in_plain_words(reply: Reply, words: str) -> None:
    message = redeem_error(reply, EN)
    assert words in message
    assert "No points were spent" in message


def test_an_export_section_notes_what_a_service_did_not_answer() -> None:
    section = export_section(
        "rewards",
        {
            "points": Reply(status=200, data={"balance": 5}),
            "badges": Reply(unavailable=True),
            "missing": Reply(status=404),
        },
        EN,
    )
    assert section["points"] == {"balance": 5}
    assert section["badges"] is None and section["missing"] is None
    assert len(section["unavailable"]) == 1
    assert "badges" in section["unavailable"][0]
    assert "unavailable" not in export_section("share", {"a": Reply(status=200, data=[])}, EN)


def test_the_people_section_is_the_directory_record_and_the_groups() -> None:
    answered = Reply(
        status=200,
        data={
            "employee_id": "e1",
            "groups": [{"id": "g1", "display_name": "sales", "external_id": None}],
            "records": {"user": {"id": "u1", "employee_id": "e1", "resource": {"title": "CEO"}}},
            "next_cursor": None,
        },
    )
    section = service_section("people", answered, EN)
    assert section["groups"] == [{"id": "g1", "display_name": "sales", "external_id": None}]
    assert section["user"]["resource"] == {"title": "CEO"}
    assert "unavailable" not in section
    down = service_section("people", Reply(unavailable=True), EN)
    assert (down["groups"], down["user"]) == (None, None)
    assert "the people service did not answer" in down["unavailable"][0]


def test_addresses_of_pages() -> None:
    assert web_address("https://www.example.com/x")
    assert not web_address("www.example.com")
    assert not web_address("javascript:alert(1)")
    assert not web_address("https://exa mple.com")


def test_an_own_post_needs_a_link_and_a_network_and_fits_it() -> None:
    errors = own_post_errors({"url": "nope", "network": "", "text": ""}, EN)
    assert set(errors) == {"url", "network"}
    long = own_post_errors({"url": "https://a.example", "network": "x", "text": "a" * 300}, EN)
    assert set(long) == {"text"}


def test_a_suggestion_needs_a_title_and_a_link_for_articles_and_jobs() -> None:
    assert set(suggestion_errors({"kind": "article"}, EN)) == {"title", "url"}
    assert suggestion_errors({"kind": "event", "title": "Meetup"}, EN) == {}
    assert set(suggestion_errors({"kind": "poem", "title": "x"}, EN)) == {"kind"}
