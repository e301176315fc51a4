from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from people.config import LOCAL_SCIM_TOKEN
from support import (
    SERVICES,
    ServiceProcess,
    keycloak_providers,
    ref,
    start_group_at_end,
    web_people,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests run last in a session: Playwright's synchronous API leaves an
    event loop running in the main thread, and an asyncio test after it fails with
    "Runner.run() cannot be called from a running event loop"."""
    items.sort(key=lambda item: item.path.parts[-3:-1] == ("e2e", "web"))


class Platform:
    """Every service's api and worker, on free ports, with databases of their own."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.suffix = ref("")
        self.web_tenant = f"web{self.suffix}"
        # The web tenant's SCIM token at the people api, beside tenant "demo"'s local one.
        self.web_scim_token = ref("scim-web-")
        self.processes: dict[tuple[str, str], ServiceProcess] = {}

    def env(self, service: str) -> dict[str, str]:
        return {
            f"{service.upper()}_DATABASE": f"chorus_{service}_{self.suffix}",
            # Workers of a group of their own: another test session or `make run` on the
            # same Kafka must not take over their partitions.
            f"{service.upper()}_CONSUMER_GROUP": f"{service}-{self.suffix}",
            "CONTENT_PREVIEW_ALLOWED_HOSTS": "127.0.0.1",
            # Engagement patterns are kept 10 minutes in production; tests look again sooner.
            "METRICS_MOMENTS_CACHE_SECONDS": "1",
            # The share api's short links point at the share api under test.
            "SHARE_PUBLIC_BASE_URL": self.processes[("share", "api")].links_url
            if ("share", "api") in self.processes
            else "",
            # Tenant "demo"'s people sign in with the local provider when it runs.
            "CHORUS_OIDC_PROVIDERS": keycloak_providers(),
            "PEOPLE_SCIM_TOKENS": json.dumps(
                {"demo": LOCAL_SCIM_TOKEN, self.web_tenant: self.web_scim_token}
            ),
        }

    def start(self) -> None:
        for service in SERVICES:
            consumes = importlib.import_module(f"{service}.bootstrap").DEFINITION.consumes
            if consumes:
                group = self.env(service)[f"{service.upper()}_CONSUMER_GROUP"]
                asyncio.run(start_group_at_end(group, consumes))
        for service in SERVICES:
            for role in ("api", "worker"):
                self.processes[(service, role)] = ServiceProcess(service, role)
        for (service, _role), process in self.processes.items():
            process.env = {k: v for k, v in self.env(service).items() if v}
            process.start(self.log_dir)
        for process in self.processes.values():
            process.wait_healthy()
        # The web app, in front of the five apis, with people of a tenant of its own for
        # the development sign-in.
        web = ServiceProcess("web", "api")
        web.env = {
            **self.web_env(f"chorus_web_{self.suffix}"),
            "WEB_DEV_PEOPLE": json.dumps(web_people(self.web_tenant)),
            "WEB_LIVE_INTERVAL_SECONDS": "1",
            "CHORUS_OIDC_PROVIDERS": keycloak_providers(),
            # The suite's two tiers share two cores, and an api busy beside them can take
            # longer than the 2 s a page waits in production; what a page says when a service
            # does not answer is tested with web apps of their own.
            "WEB_BACKEND_TIMEOUT_SECONDS": "8",
        }
        self.processes[("web", "api")] = web.start(self.log_dir)
        # Its worker signs out the people the directory deactivates or deletes.
        group = f"web-{self.suffix}"
        asyncio.run(
            start_group_at_end(group, importlib.import_module("web.bootstrap").PEOPLE_LEAVING)
        )
        worker = ServiceProcess("web", "worker")
        worker.env = {**web.env, "WEB_CONSUMER_GROUP": group}
        self.processes[("web", "worker")] = worker.start(self.log_dir)
        web.wait_healthy()
        worker.wait_healthy()

    def url(self, service: str, role: str = "api") -> str:
        return self.processes[(service, role)].url

    def web_env(self, database: str) -> dict[str, str]:
        """A web app's settings in front of the five apis, with a database of its own."""
        urls = {
            f"WEB_{s.upper()}_URL": self.url(s)
            for s in ("content", "share", "rewards", "metrics", "people")
        }
        return {"WEB_DATABASE": database, **urls}

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("logs"))
    try:
        running.start()
        yield running
    finally:
        running.stop()
