"""A CSV export is safe to open in a spreadsheet: an item titled like a formula comes out
as text, and the figures next to it stay numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from metrics_program import publish, start_metrics, wait_for

from contracts import ContentPublished, ContentPublishedData, PostShared, PostSharedData
from support import ref, token

FORMULA = '=HYPERLINK("http://evil.example","x")'


@pytest.mark.timeout(600)
async def test_a_title_that_looks_like_a_formula_is_neutralised_in_the_content_csv(
    tmp_path,
) -> None:
    suffix = ref("")
    tenant = ref("csv")
    content_id = ref("c-")
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    published = ContentPublished.create(
        tenant_id=tenant,
        subject=content_id,
        data=ContentPublishedData(
            content_id=content_id,
            title=FORMULA,
            kind="article",
            publish_at=at,
            published_by="cur",
        ),
    )
    share_id = ref("s-")
    shared = PostShared.create(
        tenant_id=tenant,
        subject=share_id,
        data=PostSharedData(
            share_id=share_id,
            content_id=content_id,
            employee_id="e1",
            employee_groups=["sales"],
            network="linkedin",
            short_code=share_id[-8:],
            tracked_url=f"https://go.example.com/{share_id[-8:]}",
            shared_at=at,
            audience_size=100,
            method="intent",
        ),
    )
    processes = await start_metrics(tmp_path, suffix)
    api = processes["api"].url
    curator = token(tenant, "cur", roles=("curator",))
    period = {
        "start": str(at.date() - timedelta(days=1)),
        "end": str(at.date() + timedelta(days=1)),
    }
    try:
        async with httpx.AsyncClient(timeout=120) as http:

            async def rows() -> list[dict[str, str]]:
                response = await http.get(
                    f"{api}/api/v1/export/content.csv", headers=curator, params=period
                )
                assert response.status_code == 200, response.text
                return list(csv.DictReader(io.StringIO(response.text)))

            await publish([published, shared])
            # The item and its share are two events on two topics: wait for both.
            got = await wait_for(
                rows, lambda got: any(r["title"] and r["shares"] != "0" for r in got)
            )
            assert [(r["content"], r["title"], r["shares"]) for r in got] == [
                (content_id, "'" + FORMULA, "1")
            ]
    finally:
        for process in processes.values():
            process.stop()
