"""/readyz follows Kafka: 503 with the reason while it is down, 200 again once it is back."""

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

        down = _wait_status(api.url + "/readyz", 503)
        assert down.headers["content-type"] == "application/problem+json"
        problem = down.json()
        assert "kafka" in problem["checks"], problem
        assert "mongodb" not in problem["checks"], problem
        assert "kafka" in problem["detail"]
        assert httpx.get(api.url + "/healthz", timeout=5).status_code == 200  # alive, not ready

        kafka.start()
        ready = _wait_status(api.url + "/readyz", 200)
        assert ready.json() == {"status": "ready"}
    finally:
        api.stop()
        kafka.stop()
