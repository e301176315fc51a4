"""/readyz follows Kafka: 503 with the reason while it is down, 200 again once it is back;
it and the other operations endpoints answer on the operations port only."""

from __future__ import annotations

import time

import httpx
import pytest

from stack.servers import KafkaServer
from support import ServiceProcess, free_port


def _wait_status(url: str, status: int, timeout: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=10)
            if last.status_code == status:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer {status}; last: {last and last.text}")


@pytest.mark.infra
def test_readyz_reports_kafka_down_and_recovers(tmp_path) -> None:
    # A Kafka of this test's own, so stopping it disturbs no other test.
    kafka = KafkaServer(port=free_port(), controller_port=free_port(), data_dir=tmp_path / "kafka")
    kafka.start()
    api = ServiceProcess(
        "share", "api", env={"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers}
    ).start(tmp_path)
    try:
        api.wait_healthy(timeout=90)
        kafka.stop()

        down = _wait_status(api.ops_url + "/readyz", 503)
        assert down.headers["content-type"] == "application/problem+json"
        problem = down.json()
        assert "kafka" in problem["checks"], problem
        assert "mongodb" not in problem["checks"], problem
        assert "kafka" in problem["detail"]
        # A generic reason; the exception behind it is in the process's log only.
        assert problem["checks"]["kafka"] in (
            "check failed, see the process's log",
            "no answer within 4 s",
        ), problem
        assert httpx.get(api.ops_url + "/healthz", timeout=5).status_code == 200  # alive

        kafka.start()
        ready = _wait_status(api.ops_url + "/readyz", 200)
        assert ready.json() == {"status": "ready"}
    finally:
        api.stop()
        kafka.stop()


@pytest.mark.parametrize("service", ["content", "share"])
def test_operations_endpoints_answer_on_the_operations_port_only(tmp_path, service) -> None:
    api = ServiceProcess(service, "api").start(tmp_path)
    worker = ServiceProcess(service, "worker").start(tmp_path)
    try:
        api.wait_healthy(timeout=90)
        worker.wait_healthy(timeout=90)
        for path in ("/readyz", "/metrics", "/docs", "/openapi.json"):
            assert httpx.get(api.url + path, timeout=10).status_code == 404, path
        # Liveness stays on the api's port, for a load balancer that checks it.
        assert httpx.get(api.url + "/healthz", timeout=10).json() == {"status": "ok"}

        assert httpx.get(api.ops_url + "/readyz", timeout=10).json() == {"status": "ready"}
        assert httpx.get(api.ops_url + "/healthz", timeout=10).status_code == 200
        assert "chorus_http_requests_total" in httpx.get(api.ops_url + "/metrics", timeout=10).text
        document = httpx.get(api.ops_url + "/openapi.json", timeout=10).json()
        assert any(path.startswith("/api/v1/") for path in document["paths"])
        assert "swagger" in httpx.get(api.ops_url + "/docs", timeout=10).text.lower()

        assert httpx.get(worker.ops_url + "/metrics", timeout=10).status_code == 200
        if service == "share":
            # The short links' listener serves /l/<code> and nothing else.
            for path in ("/readyz", "/metrics", "/healthz", "/docs"):
                assert httpx.get(api.links_url + path, timeout=10).status_code == 404, path
    finally:
        api.stop()
        worker.stop()
