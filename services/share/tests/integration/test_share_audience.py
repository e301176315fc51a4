"""The audience count a curator sees while composing: enrolled advocates it reaches."""

from __future__ import annotations

import httpx
from share_stack import ShareStack

from chassis.auth import issue_token
from chassis.settings import LOCAL_JWT_SECRET
from support import ref


def _headers(tenant: str, sub: str, **claims: object) -> dict[str, str]:
    jwt = issue_token(LOCAL_JWT_SECRET, sub=sub, tenant=tenant, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {jwt}"}


async def test_audience_count_matches_enrolled_advocates_by_group_location_language(
    share_stack: ShareStack,
) -> None:
    tenant = ref("aud")
    people = {
        "a1": {"groups": ["sales"], "location": "Oslo", "languages": ["nb", "en"]},
        "a2": {"groups": ["sales", "ops"], "location": "Helsinki", "languages": ["fi"]},
        "a3": {"groups": ["ops"], "location": "Oslo", "languages": ["en"]},
        "a4": {"groups": ["sales"], "location": "Oslo", "languages": ["nb"]},
        "a5": {"groups": ["hr"], "location": "Berlin", "languages": ["de-DE"]},
    }
    curator = _headers(tenant, "cur", roles=["curator"])
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        for sub, claims in people.items():
            joined = await http.post(
                "/api/v1/advocates/me",
                headers=_headers(tenant, sub, **claims),
                json={"accept": True},
            )
            assert joined.status_code == 201, joined.text
        # a4 leaves: only enrolled advocates count.
        left = await http.post(
            "/api/v1/advocates/me/opt-out", headers=_headers(tenant, "a4"), json={}
        )
        assert left.status_code == 200, left.text

        async def count(**params: str) -> int:
            reply = await http.get("/api/v1/audience/count", headers=curator, params=params)
            assert reply.status_code == 200, reply.text
            return int(reply.json()["enrolled"])

        assert await count() == 4
        assert await count(groups="sales") == 2
        assert await count(groups="sales, ops", locations="Oslo") == 2
        assert await count(groups="sales", locations="Oslo", languages="nb") == 1
        assert await count(languages="fi,nb") == 2
        assert await count(groups="nobody") == 0
        # The one targeting rule: languages compare by their primary subtag, both ways.
        assert await count(languages="de") == 1
        assert await count(languages="en-GB") == 2

        # Another tenant's advocates are not counted.
        other = _headers(ref("other"), "cur", roles=["curator"])
        elsewhere = await http.get("/api/v1/audience/count", headers=other)
        assert elsewhere.json()["enrolled"] == 0

        # For the program team only.
        employee = await http.get("/api/v1/audience/count", headers=_headers(tenant, "a1"))
        assert employee.status_code == 403
