"""One thin flow through all four services, against real Kafka and the real Mongo server."""

from __future__ import annotations

import httpx

from support import eventually, ref, token


async def test_content_to_share_to_points_to_figures(platform) -> None:
    tenant = ref("acme")
    curator = token(tenant, "curator-1", roles=("curator",))
    employee = token(tenant, "emp-1", groups=("sales",))
    async with httpx.AsyncClient(timeout=10) as http:
        created = await http.post(
            f"{platform.url('content')}/api/v1/content",
            headers=curator,
            json={
                "title": "We are hiring platform engineers",
                "kind": "job",
                "url": "https://careers.example.com/jobs/42",
                "suggested_texts": {"linkedin": "Join my team!"},
                "topics": ["engineering"],
            },
        )
        assert created.status_code == 201, created.text
        content_id = created.json()["id"]
        assert created.json()["status"] == "published"

        # sharing is opt-in: the employee joins the advocacy program
        joined = await http.post(
            f"{platform.url('share')}/api/v1/advocates/me", headers=employee, json={"accept": True}
        )
        assert joined.status_code == 201, joined.text

        # share learns of the content from ContentPublished, then the employee shares it
        async def share() -> httpx.Response:
            return await http.post(
                f"{platform.url('share')}/api/v1/shares",
                headers=employee,
                json={"content_id": content_id, "network": "linkedin"},
            )

        shared = await eventually(share, lambda r: r.status_code == 201)
        body = shared.json()
        assert body["tracked_url"].endswith(f"/l/{body['short_code']}")

        # rewards awards points for the PostShared
        async def points() -> httpx.Response:
            return await http.get(f"{platform.url('rewards')}/api/v1/me/points", headers=employee)

        mine = await eventually(
            points, lambda r: r.status_code == 200 and r.json()["balance"] == 10
        )
        entry = mine.json()["recent"][0]
        assert entry["rule_id"] == "share"
        assert entry["source_event_type"] == "io.chorus.post-shared.v1"

        # metrics counts the share and the points
        async def summary() -> httpx.Response:
            return await http.get(f"{platform.url('metrics')}/api/v1/summary", headers=employee)

        figures = await eventually(
            summary,
            lambda r: r.status_code == 200 and r.json()["figures"].get("points") == 10,
        )
        assert figures.json()["figures"]["shares"] == 1
        assert figures.json()["figures"]["content_published"] == 1


async def test_every_process_serves_health_readiness_and_metrics_on_its_ops_port(platform) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for process in platform.processes.values():
            assert (await http.get(process.ops_url + "/healthz")).status_code == 200
            ready = await http.get(process.ops_url + "/readyz")
            assert ready.status_code == 200, (process.service, process.role, ready.text)
            metrics = await http.get(process.ops_url + "/metrics")
            assert metrics.status_code == 200
            assert "chorus_http_requests_total" in metrics.text
            if process.role == "api":
                # Tenants and their volumes are for Prometheus only, not on the api's port.
                assert (await http.get(process.url + "/metrics")).status_code == 404
