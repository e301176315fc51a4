"""The pure rules of measurement: facts, figures, periods, advocates, EMV and goals."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from contracts import (
    AdvocateEnrolled,
    AdvocateEnrolledData,
    AdvocateOptedOut,
    AdvocateOptedOutData,
    EngagementObserved,
    EngagementObservedData,
    PostShared,
    PostSharedData,
)
from contracts.erasure import person_key
from contracts.erasure import pseudonym as platform_pseudonym
from metrics.domain import figures as fig
from metrics.domain.facts import (
    erasure_key,
    erasure_of,
    fact_id,
    fact_of,
    names_erased,
    pseudonymized,
)

AT = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)


def _share(audience: int = 500, groups: tuple[str, ...] = ("sales",)) -> PostShared:
    return PostShared.create(
        tenant_id="acme",
        subject="s1",
        time=datetime(2026, 3, 3, 1, tzinfo=UTC),
        data=PostSharedData(
            share_id="s1",
            content_id="c1",
            employee_id="e1",
            employee_groups=list(groups),
            network="linkedin",
            short_code="abcd1234",
            tracked_url="https://go.example.com/l/abcd1234",
            shared_at=AT,
            audience_size=audience,
            method="intent",
            campaign_id="spring",
            content_kind="job",
        ),
    )


def _click(unique: bool, count: int = 1, kind: str = "click") -> EngagementObserved:
    return EngagementObserved.create(
        tenant_id="acme",
        subject="s1",
        data=EngagementObservedData(
            engagement_id="g1",
            share_id="s1",
            content_id="c1",
            employee_id="e1",
            network="x",
            kind=kind,
            count=count,
            observed_at=AT,
            source="redirect",
            unique=unique,
        ),
    )


def test_a_share_counts_once_with_its_reach_on_the_day_it_was_shared() -> None:
    fact = fact_of(_share(audience=1200))
    assert fact["day"] == "2026-03-02"  # the share's own time, not the envelope's
    assert fact["shares"] == 1 and fact["reach"] == 1200
    assert fact["advocate"] == "e1" and fact["network"] == "linkedin"
    assert fact["campaign"] == "spring" and fact["kind"] == "job"
    assert fact["groups"] == ["sales"]


def test_only_unique_clicks_count_as_unique() -> None:
    assert fact_of(_click(unique=True, count=2))["unique_clicks"] == 2
    assert "unique_clicks" not in fact_of(_click(unique=False))
    impression = fact_of(_click(unique=True, count=300, kind="impression"))
    assert impression["impressions"] == 300 and "unique_clicks" not in impression


def test_fact_ids_follow_the_event_so_a_redelivery_is_a_duplicate() -> None:
    share = _share()
    again = PostShared.from_json(share.to_json())
    assert fact_id(share) == fact_id(again)
    assert fact_id(share) != fact_id(_share())


def test_rates_and_participation() -> None:
    counters = {"shares": 30, "reach": 10_000, "clicks": 200, "unique_clicks": 150}
    counters |= {"reactions": 40, "comments": 5, "reshares": 5, "conversions": 6}
    out = fig.derive(counters, active_advocates=10, enrolled_advocates=40, employees=1000)
    assert out["engagements"] == 250
    assert out["engagement_rate"] == pytest.approx(0.025)
    assert out["click_through_rate"] == pytest.approx(0.015)
    assert out["conversion_rate"] == pytest.approx(0.04)
    assert out["participation"] == pytest.approx(0.25)
    assert out["participation_of_employees"] == pytest.approx(0.01)
    assert out["shares_per_active_advocate"] == pytest.approx(3)


def test_rates_without_a_denominator_are_absent_not_zero() -> None:
    out = fig.derive({}, active_advocates=0, enrolled_advocates=0)
    assert out["engagement_rate"] is None and out["participation"] is None
    assert "participation_of_employees" not in out


def test_previous_period_and_change() -> None:
    assert fig.previous_period(date(2026, 3, 1), date(2026, 3, 31)) == (
        date(2026, 1, 29),
        date(2026, 2, 28),
    )
    assert fig.change({"shares": 15, "reach": 5}, {"shares": 10, "reach": 0}) == {
        "shares": 0.5,
        "reach": None,
    }


def test_days_roll_up_to_iso_weeks_months_and_years() -> None:
    days = {"2025-12-29": {"shares": 1}, "2026-01-04": {"shares": 2}, "2026-01-05": {"shares": 4}}
    weeks = dict(fig.roll_up(days, "week"))
    assert weeks["2026-W01"]["shares"] == 3 and weeks["2026-W02"]["shares"] == 4
    assert [p for p, _ in fig.roll_up(days, "month")] == ["2025-12", "2026-01"]
    assert dict(fig.roll_up(days, "year"))["2026"]["shares"] == 6


def test_enrollment_status_is_the_latest_change_whatever_the_order() -> None:
    enrolled = {"type": "advocate-enrolled", "advocate": "e1", "time": AT, "groups": ["hr"]}
    gone = {
        "type": "advocate-opted-out",
        "advocate": "e1",
        "time": datetime(2026, 3, 10, tzinfo=UTC),
    }
    back = {**enrolled, "time": datetime(2026, 3, 20, tzinfo=UTC)}
    for order in ([enrolled, gone, back], [back, gone, enrolled]):
        advocate = fig.advocates(order)["e1"]
        assert advocate.enrolled_on(date(2026, 3, 5))
        assert not advocate.enrolled_on(date(2026, 3, 15))
        assert advocate.enrolled_on(date(2026, 3, 25))
        assert advocate.groups == {"hr"}
    assert not fig.advocates([enrolled])["e1"].enrolled_on(date(2026, 3, 1))


def test_advocates_learn_groups_from_enrollments_and_shares() -> None:
    enrolled = fact_of(
        AdvocateEnrolled.create(
            tenant_id="acme",
            subject="e1",
            data=AdvocateEnrolledData(employee_id="e1", employee_groups=["hr"], consent_at=AT),
        )
    )
    share = fact_of(_share(groups=("sales",)))
    assert fig.advocates([share, enrolled])["e1"].groups == {"hr", "sales"}


def test_earned_media_value_shows_each_term() -> None:
    prices = fig.Prices(currency="USD", cpm={"linkedin": 10.0}, cpc=2.0, per_engagement=0.5)
    by_network = {"linkedin": {"reach": 5000}, "x": {"reach": 1000}}
    totals = {"reach": 6000, "clicks": 10, "reactions": 4, "comments": 2, "reshares": 0}
    emv = fig.earned_media_value(prices, by_network, totals)
    assert emv["value"] == 50 + 20 + 3
    assert emv["computation"] == "5000/1000 x 10 + 10 x 2 + 6 x 0.5 = 73.00"
    assert [t["network"] for t in emv["terms"]["reach"]] == ["linkedin"]


def test_goal_progress_and_pace() -> None:
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    midyear = fig.goal_progress(200, 120, start, end, date(2026, 7, 2))
    assert midyear["progress"] == pytest.approx(0.6)
    assert midyear["on_track"] and not midyear["achieved"]
    behind = fig.goal_progress(200, 50, start, end, date(2026, 7, 2))
    assert not behind["on_track"]
    assert fig.goal_progress(200, 210, start, end, date(2026, 3, 1))["achieved"]


def test_content_catalog_keeps_the_latest_state() -> None:
    published = {
        "type": "content-published",
        "content": "c1",
        "time": AT,
        "title": "Old",
        "kind": "job",
    }
    updated = {
        **published,
        "type": "content-updated",
        "title": "New",
        "time": datetime(2026, 3, 5, tzinfo=UTC),
    }
    retired = {"type": "content-retired", "content": "c1", "time": datetime(2026, 3, 9, tzinfo=UTC)}
    item = fig.catalog([retired, updated, published])["c1"]
    assert item.title == "New" and item.kind == "job" and item.status == "retired"


def _opt_out(erase: bool, member: bool = True) -> AdvocateOptedOut:
    return AdvocateOptedOut.create(
        tenant_id="acme",
        subject="e1",
        data=AdvocateOptedOutData(employee_id="e1", opted_out_at=AT, erase=erase, member=member),
    )


def test_an_erasure_of_someone_outside_the_program_is_no_opt_out() -> None:
    assert fact_of(_opt_out(erase=False)).get("opt_outs") == 1
    assert fact_of(_opt_out(erase=True)).get("opt_outs") == 1
    assert not fact_of(_opt_out(erase=True, member=False)).get("opt_outs")


def test_only_an_opt_out_with_erase_erases_with_a_pseudonym_of_its_event() -> None:
    assert erasure_of(_opt_out(erase=False)) is None
    assert erasure_of(_share()) is None
    opt_out = _opt_out(erase=True)
    tenant, employee, pseudonym = erasure_of(opt_out) or ("", "", "")
    assert (tenant, employee) == ("acme", "e1")
    # 16 hex digits of the event's id: nothing in it comes from the employee's id (a
    # different opt-out of the same person gives another pseudonym, below).
    assert re.fullmatch(r"erased-[0-9a-f]{16}", pseudonym)
    # A replay reads the same event: the same pseudonym.
    assert erasure_of(AdvocateOptedOut.from_json(opt_out.to_json())) == (
        tenant,
        employee,
        pseudonym,
    )
    assert erasure_of(_opt_out(erase=True)) != (tenant, employee, pseudonym)


def test_metrics_names_the_erased_as_every_service_does() -> None:
    opt_out = _opt_out(erase=True)
    assert erasure_of(opt_out) == ("acme", "e1", platform_pseudonym(opt_out.id))
    assert erasure_key("acme", "e1") == person_key("acme", "e1")
    assert re.fullmatch(r"[0-9a-f]{64}", erasure_key("acme", "e1"))


def test_a_fact_key_names_the_event_not_the_advocate() -> None:
    # A rewritten log entry holds the same keys: a fact read before and after counts once.
    share, opt_out = _share(), _opt_out(erase=True)
    assert fact_id(share) == f"post-shared:{share.id}"
    assert fact_id(opt_out) == f"advocate-opted-out:{opt_out.id}"


def test_facts_still_naming_an_erased_advocate_are_found() -> None:
    share, click = fact_of(_share()), fact_of(_click(unique=True))
    erased = {erasure_key("acme", "e1"): "erased-abc"}
    assert names_erased([fact_of(_opt_out(erase=False)), click], erased)
    assert not names_erased([share], {})
    assert not names_erased([share], {erasure_key("acme", "e2"): "erased-x"})
    assert not names_erased([{**share, "advocate": "erased-abc"}], erased)
    assert not names_erased(pseudonymized([share, click], erased), erased)
    assert not names_erased([{"tenant": "acme", "type": "followers-measured"}], erased)


def test_erased_facts_keep_counters_groups_and_networks_but_not_the_person() -> None:
    enrolled = fact_of(
        AdvocateEnrolled.create(
            tenant_id="acme",
            subject="e1",
            data=AdvocateEnrolledData(
                employee_id="e1",
                employee_groups=["hr"],
                consent_at=AT,
                department="Finance",
                location="Lyon",
            ),
        )
    )
    share, click = fact_of(_share()), fact_of(_click(unique=True))
    other = {**share, "advocate": "e2"}
    erased = {erasure_key("acme", "e1"): "erased-abc"}
    out = pseudonymized([enrolled, share, click, other], erased)
    assert [f["advocate"] for f in out] == ["erased-abc", "erased-abc", "erased-abc", "e2"]
    assert "department" not in out[0] and "location" not in out[0]
    assert out[0]["groups"] == ["hr"]
    assert {k: v for k, v in out[1].items() if k != "advocate"} == {
        k: v for k, v in share.items() if k != "advocate"
    }
    assert pseudonymized([share], {erasure_key("other-tenant", "e1"): "erased-x"}) == [share]
    assert enrolled["advocate"] == "e1"  # the input is left as it was
