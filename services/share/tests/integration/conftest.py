"""Share's api and worker as real processes against the real Kafka and MongoDB server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from share_stack import FakeLinkedIn, ShareStack

from support import ServiceProcess, free_port, ref


@pytest.fixture(scope="session")
def linkedin() -> Iterator[FakeLinkedIn]:
    fake = FakeLinkedIn()
    server = fake.start()
    yield fake
    server.shutdown()


@pytest.fixture(scope="session")
def share_stack(
    tmp_path_factory: pytest.TempPathFactory, linkedin: FakeLinkedIn
) -> Iterator[ShareStack]:
    suffix = ref("")
    links_port = free_port()
    env = {
        "SHARE_DATABASE": f"chorus_share_it_{suffix}",
        "SHARE_CONSUMER_GROUP": f"share-it-{suffix}",
        "SHARE_PUBLIC_BASE_URL": f"http://127.0.0.1:{links_port}",
        "SHARE_LINKEDIN_API_URL": linkedin.url,
        "SHARE_SCHEDULE_INTERVAL_SECONDS": "0.3",
    }
    logs = tmp_path_factory.mktemp("share-logs")
    api = ServiceProcess("share", "api", env=env, links_port=links_port).start(logs)
    worker = ServiceProcess("share", "worker", env=env).start(logs)
    try:
        api.wait_healthy()
        worker.wait_healthy()
        yield ShareStack(api, worker, linkedin)
    finally:
        api.stop()
        worker.stop()
