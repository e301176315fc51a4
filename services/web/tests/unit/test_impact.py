"""My impact: the figures, the chart, the streak, the live announcements, and the pages
rendering every state, with the services stubbed (one answering, one down)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from web.adapters.backends import Reply
from web.adapters.sessions import Session
from web.config import WebSettings
from web.domain import impact
from web.entrypoints import impact as pages
from web.entrypoints.common import CsrfRejected, WebServices, optional_session, services_of
from web.i18n import Texts

TODAY = date(2025, 5, 14)  # a Wednesday


def share(
    shared_at: str, clicks: int = 0, status: str = "shared", **engagement: int
) -> dict[str, Any]:
    return {
        "id": f"s-{shared_at}-{clicks}",
        "network": "linkedin",
        "text": "Look at this",
        "status": status,
        "shared_at": shared_at if status == "shared" else None,
        "tracked_url": "http://links.example/l/abc",
        "engagement": {"click": clicks, **engagement},
    }


# -- pure functions ------------------------------------------------------------------------


def test_totals_count_shared_posts_clicks_and_engagement_without_impressions() -> None:
    shares = [
        share(
            "2025-05-14T09:00:00+00:00", 3, reaction=2, comment=1, impression=400, unique_click=2
        ),
        share("2025-05-10T09:00:00+00:00", 1, reshare=1),
        share("2025-05-20T09:00:00+00:00", 0, status="scheduled"),
    ]
    assert impact.totals(shares) == impact.Totals(shares=2, clicks=4, unique_clicks=2, engagement=4)
    assert impact.totals([]) == impact.Totals()


def test_daily_has_ninety_utc_days_with_clicks_on_the_day_of_the_share() -> None:
    days = impact.daily(
        [
            share("2025-05-14T23:30:00-02:00", 5),  # 15 May in UTC: tomorrow, left out
            share("2025-05-14T01:00:00+02:00", 2),  # 13 May 23:00 UTC
            share("2025-05-13T08:00:00Z", 1),
            share("2025-01-01T08:00:00Z", 9),  # before the window
        ],
        TODAY,
    )
    assert len(days) == 90
    assert days[0].day == TODAY - timedelta(days=89) and days[-1].day == TODAY
    assert days[-2] == impact.Day(date(2025, 5, 13), shares=2, clicks=3)
    assert sum(d.shares for d in days) == 2


@pytest.mark.parametrize(
    ("shared", "expected"),
    [
        ([], 0),
        (["2025-05-12"], 1),  # this week's Monday
        (["2025-05-14", "2025-05-05", "2025-04-28"], 3),
        # nothing yet this week: the streak that ended last week still stands
        (["2025-05-11", "2025-05-04"], 2),
        # a week without a share ends it
        (["2025-05-13", "2025-04-29"], 1),
        (["2025-04-30"], 0),
        # several shares in one week count once
        (["2025-05-13", "2025-05-12", "2025-05-06", "2025-05-05"], 2),
    ],
)
def test_streak_counts_consecutive_weeks_with_a_share(shared: list[str], expected: int) -> None:
    times = [datetime.fromisoformat(d).replace(hour=12, tzinfo=UTC) for d in shared]
    assert impact.streak([*times, None], TODAY) == expected


def test_streak_weeks_run_across_the_new_year() -> None:
    times = [datetime(2024, 12, 30, tzinfo=UTC), datetime(2024, 12, 27, tzinfo=UTC)]
    assert impact.streak(times, date(2025, 1, 2)) == 2


def test_bar_chart_scales_to_the_largest_value_and_keeps_small_ones_visible() -> None:
    values = [(TODAY - timedelta(days=2), 0), (TODAY - timedelta(days=1), 1000), (TODAY, 1)]
    chart = impact.bar_chart(values, width=300, height=100)
    assert chart.top == 1000
    empty, full, tiny = chart.bars
    assert empty.height == 0 and full.height == 100 and full.y == 0
    assert tiny.height == 1 and tiny.y == 99
    assert full.x == pytest.approx(115) and full.width == pytest.approx(70)
    assert impact.bar_chart([]).bars == []


def test_changes_are_growth_since_the_figures_shown() -> None:
    before = {"clicks": 3, "points": 10, "shares": 1, "engagement": None}
    now = {"clicks": 5, "points": 12, "shares": 1, "engagement": 4}
    assert impact.changes(before, now) == impact.Changes(clicks=2, points=2)
    assert not impact.changes(now, now)
    assert not impact.changes({"points": 12}, {"points": 2})  # a clawback is no news


def test_period_start_and_own_points_in_a_period() -> None:
    now = datetime(2025, 5, 14, 15, 30, tzinfo=UTC)
    assert impact.period_start("week", now) == datetime(2025, 5, 12, tzinfo=UTC)
    assert impact.period_start("month", now) == datetime(2025, 5, 1, tzinfo=UTC)
    assert impact.period_start("all", now) is None
    entries = [
        {"points": 10, "awarded_at": "2025-05-13T10:00:00+00:00"},
        {"points": -1, "awarded_at": "2025-05-12T00:00:00+00:00"},
        {"points": 5, "awarded_at": "2025-05-02T10:00:00+00:00"},
    ]
    week = impact.period_start("week", now)
    assert impact.points_since(entries, week, complete=False) == (9, True)
    assert impact.points_since(entries[:2], week, complete=False) == (9, False)
    assert impact.points_since(entries[:2], week, complete=True) == (9, True)


def test_reasons_and_badges_in_words() -> None:
    texts = Texts("en")
    assert pages.reason_text(texts, {"rule_id": "click"}, {}) == "A unique click on a shared link"
    bonus = {"rule_id": "challenge:jobs", "reason": "completed the challenge 'Share 3 jobs'"}
    assert pages.reason_text(texts, bonus, {}) == "You completed the challenge “Share 3 jobs”"
    assert pages.reason_text(texts, bonus, {"jobs": "Jobs week"}).endswith("“Jobs week”")
    clawback = {"rule_id": "clawback", "reason": "reversed: clicks from a script"}
    assert pages.reason_text(texts, clawback, {}).endswith(": clicks from a script")
    assert pages.reason_text(texts, {"rule_id": "new-rule", "reason": "why"}, {}) == "why"
    assert pages.badge_text(texts, {"badge": "shares-10", "name": "10 shares"}) == "10 shares"
    assert pages.badge_text(texts, {"badge": "streak-4"}) == "4 weeks in a row with a share"
    top = {"badge": "top-10-percent", "name": "Top 10% of 2025-04", "month": "2025-04"}
    assert pages.badge_text(texts, top) == "Top 10% of April 2025"
    assert pages.badge_text(texts, {"badge": "new", "name": "Shiny"}) == "Shiny"


def test_announcement_names_what_grew() -> None:
    texts = Texts("en")
    assert pages.announcement(texts, impact.Changes(clicks=2, points=1)) == (
        "2 new clicks, 1 more point"
    )
    assert pages.announcement(texts, impact.Changes()) == ""


# -- the pages, with the services stubbed ----------------------------------------------------

NOW = datetime.now(UTC)


class Stub:
    """One service's API: answers by path, or unavailable when down."""

    def __init__(self, answers: dict[str, Any] | None = None) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, Any]] = []

    async def call(self, method: str, path: str, token: str, **kwargs: Any) -> Reply:
        self.calls.append((method, path, kwargs.get("params") or kwargs.get("json")))
        if self.answers is None:
            return Reply(unavailable=True)
        if path not in self.answers:
            return Reply(status=404, problem={"detail": "not found"})
        return Reply(status=200, data=self.answers[path])


def _backends(share: Stub, rewards: Stub) -> Any:
    class Backends:
        pass

    backends = Backends()
    backends.content = Stub()  # type: ignore[attr-defined]
    backends.share = share  # type: ignore[attr-defined]
    backends.rewards = rewards  # type: ignore[attr-defined]
    backends.metrics = Stub()  # type: ignore[attr-defined]
    return backends


def app_with(share: Stub, rewards: Stub, **session: Any) -> TestClient:
    app = FastAPI()
    app.include_router(pages.router)
    services = WebServices(
        settings=WebSettings(),
        backends=_backends(share, rewards),
        sessions=None,  # type: ignore[arg-type]
    )
    person = Session(
        id_hash="h",
        tenant="acme",
        employee_id="e1",
        name="Eve Example",
        roles=["employee"],
        groups=session.get("groups", ["team-1"]),
        token="token",
        csrf="csrf-token",
        expires_at=NOW + timedelta(hours=1),
        created_at=NOW,
        location=session.get("location", "Oslo"),
    )

    async def signed_in() -> Session:
        return person

    app.dependency_overrides[services_of] = lambda: services
    app.dependency_overrides[optional_session] = signed_in
    return TestClient(app)


SHARES = {
    "/api/v1/shares": {
        "items": [
            {**share(NOW.isoformat(), 3, reaction=1, unique_click=2), "id": "s1"},
            {**share((NOW - timedelta(days=8)).isoformat(), 1), "id": "s2"},
        ],
        "next_cursor": None,
    }
}
REWARDS = {
    "/api/v1/me/points": {
        "employee_id": "e1",
        "balance": 14,
        "earned": 14,
        "clawed_back": 0,
        "spent": 0,
        "recent": [
            {
                "award_id": "a2",
                "points": 1,
                "rule_id": "click",
                "reason": "a unique click on a shared link",
                "awarded_at": NOW.isoformat(),
            },
            {
                "award_id": "a1",
                "points": 10,
                "rule_id": "share",
                "reason": "shared a post",
                "awarded_at": NOW.isoformat(),
            },
        ],
    },
    "/api/v1/me/badges": {
        "badges": [{"badge": "first-share", "name": "First share", "earned_at": NOW.isoformat()}]
    },
    "/api/v1/me/challenges": {
        "challenges": [
            {
                "challenge_id": "jobs",
                "name": "Share three jobs",
                "action": "share",
                "target": 3,
                "progress": 1,
                "bonus": 25,
                "starts_at": (NOW - timedelta(days=1)).isoformat(),
                "ends_at": (NOW + timedelta(days=20)).isoformat(),
            }
        ]
    },
    "/api/v1/me/leaderboard-visibility": {"hidden": False},
    "/api/v1/leaderboards": {
        "period": "week",
        "scope": "tenant",
        "size": 12,
        "top": [
            {"rank": 1, "employee_id": "e7", "points": 40},
            {"rank": 2, "employee_id": "e1", "points": 14},
        ],
        "me": {"rank": 2, "employee_id": "e1", "points": 14, "neighbours": []},
    },
}


@pytest.fixture
def client() -> Iterator[TestClient]:
    with app_with(Stub(SHARES), Stub(REWARDS)) as running:
        yield running


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_my_impact_shows_figures_shares_points_badges_and_challenges(client: TestClient) -> None:
    page = client.get("/impact")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Shares 2 Clicks 4 Engagement 1 Points 14" in words
    assert "3 clicks" in words and "1 interaction" in words
    assert re.search(r"A unique click on a shared link [^+]* \+1 point Shared a post", words)
    assert "First share" in words and "Share three jobs" in words and "1 of 3" in words
    assert "2 weeks in a row with a share" in words
    assert page.text.count("<h1") == 1
    assert 'hx-trigger="every 3s"' in page.text and "/impact/live?v=" in page.text
    assert "style=" not in page.text and "<script>" not in page.text


def test_live_region_answers_204_when_nothing_changed_and_announces_growth(
    client: TestClient,
) -> None:
    page = client.get("/impact")
    live_url = re.search(r'hx-get="([^"]+)"', page.text)
    assert live_url is not None
    url = live_url.group(1).replace("&amp;", "&")
    same = client.get(url, headers={"HX-Request": "true"})
    assert same.status_code == 204
    older = re.sub(r"clicks=\d+", "clicks=1", re.sub(r"v=\w+", "v=old", url))
    grown = client.get(older, headers={"HX-Request": "true"})
    assert grown.status_code == 200
    assert 'id="impact-status" hx-swap-oob="innerHTML">3 new clicks<' in grown.text
    assert 'id="impact-live"' in grown.text and "<html" not in grown.text


def test_every_panel_says_what_is_unavailable_when_the_services_are_down() -> None:
    with app_with(Stub(None), Stub(None)) as down:
        page = down.get("/impact")
        assert page.status_code == 200
        words = text_of(page.text)
        assert "Your shares and clicks are unavailable right now." in words
        assert "Your points are unavailable right now." in words
        assert "Your badges are unavailable right now." in words
        assert "Challenges are unavailable right now." in words
        board = down.get("/leaderboard")
        assert board.status_code == 200
        assert "The leaderboard is unavailable right now." in text_of(board.text)


def test_leaderboard_highlights_my_row_and_passes_the_scope(client: TestClient) -> None:
    page = client.get("/leaderboard?scope=location&period=month")
    assert page.status_code == 200
    mine = re.search(r'<tr class="me" aria-current="true">(.*?)</tr>', page.text)
    assert mine is not None and "Eve Example" in mine.group(1) and "you" in mine.group(1)
    assert "You are number 2 of 12, with 14 points." in text_of(page.text)
    rewards: Stub = client.app.dependency_overrides[services_of]().backends.rewards  # type: ignore[attr-defined]
    params = next(p for m, path, p in rewards.calls if path == "/api/v1/leaderboards")
    assert params["scope"] == "location" and params["scope_id"] == "Oslo"
    assert params["period"] == "month" and params["limit"] == 50 and params["neighbours"] == 2


def test_leaderboard_shows_my_own_row_when_i_am_hidden() -> None:
    board = {
        **REWARDS["/api/v1/leaderboards"],
        "me": None,
        "top": [{"rank": 1, "employee_id": "e7", "points": 40}],
    }
    answers = {
        **REWARDS,
        "/api/v1/leaderboards": board,
        "/api/v1/me/leaderboard-visibility": {"hidden": True},
    }
    with app_with(Stub(SHARES), Stub(answers)) as hidden:
        page = hidden.get("/leaderboard?period=all")
        words = text_of(page.text)
        assert "You are not shown on this leaderboard. You chose to be hidden" in words
        assert re.search(r'<tr class="me" aria-current="true">.*?You.*?14', page.text, re.S)
        assert 'value="true" checked' in page.text


def test_a_team_of_several_is_chosen_and_an_unknown_location_says_so() -> None:
    with app_with(Stub(SHARES), Stub(REWARDS), groups=["b-team", "a-team"], location=None) as c:
        team = c.get("/leaderboard?scope=team&team=b-team")
        assert '<option value="b-team" selected>' in team.text
        nowhere = c.get("/leaderboard?scope=location")
        assert "We do not know your location yet" in nowhere.text


def test_visibility_needs_the_form_token_and_goes_back_to_the_board(client: TestClient) -> None:
    with pytest.raises(CsrfRejected):
        client.post("/leaderboard/visibility", data={"hidden": "true"}, follow_redirects=False)
    sent = client.post(
        "/leaderboard/visibility",
        data={
            "csrf": "csrf-token",
            "hidden": "true",
            "next": "/leaderboard?scope=team&saved=shown",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == "/leaderboard?scope=team&saved=hidden"
    elsewhere = client.post(
        "/leaderboard/visibility",
        data={"csrf": "csrf-token", "hidden": "false", "next": "https://evil.example/"},
        follow_redirects=False,
    )
    assert elsewhere.headers["location"].startswith("/leaderboard?saved=")
