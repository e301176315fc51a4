from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from chassis.auth import TENANT_PATTERN
from chassis.settings import (
    ServiceSettings,
    check_fernet_key,
    check_https,
    check_secret,
    local_fernet_key,
)
from web.adapters.oidc import CLIENTS, OidcClientSettings

# Where `npm ci` in services/web puts the front-end libraries of a source checkout; an
# image sets WEB_ASSETS_DIR to its own copy.
SOURCE_ASSETS = Path(__file__).resolve().parents[2] / "node_modules"
LOCAL_TOKEN_SECRET = "chorus-web-local-development-only"


class DevPerson(BaseModel):
    """Someone the development sign-in page offers (CHORUS_ENV=local only)."""

    id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    # The apis refuse a token whose tenant is outside this pattern.
    tenant: str = Field(pattern=rf"^{TENANT_PATTERN.pattern}$")
    roles: list[str] = Field(default_factory=lambda: ["employee"])
    groups: list[str] = Field(default_factory=list)
    location: str | None = None
    languages: list[str] = Field(default_factory=list)
    title: str = ""


DEMO_PEOPLE = [
    DevPerson(
        id="alice",
        name="Alice Andersson",
        tenant="demo",
        roles=["employee", "admin"],
        groups=["people", "leadership"],
        location="Stockholm",
        title="Head of People",
    ),
    DevPerson(
        id="bob",
        name="Bob Berg",
        tenant="demo",
        roles=["employee", "curator"],
        groups=["marketing"],
        location="Oslo",
        title="Communications",
    ),
    DevPerson(
        id="carol",
        name="Carol Christensen",
        tenant="demo",
        groups=["sales"],
        location="Copenhagen",
        title="Account executive",
    ),
    DevPerson(
        id="dave",
        name="Dave Dahl",
        tenant="demo",
        groups=["engineering"],
        location="Oslo",
        title="Platform engineer",
    ),
    DevPerson(
        id="erin",
        name="Erin Eskola",
        tenant="demo",
        groups=["engineering"],
        location="Helsinki",
        title="Designer",
    ),
]


class WebSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WEB_", extra="ignore", populate_by_name=True)

    service: ClassVar[str] = "web"
    default_api_port: ClassVar[int] = 8080
    default_worker_port: ClassVar[int] = 9080

    content_url: str = "http://127.0.0.1:8081"
    share_url: str = "http://127.0.0.1:8082"
    rewards_url: str = "http://127.0.0.1:8083"
    metrics_url: str = "http://127.0.0.1:8084"
    people_url: str = "http://127.0.0.1:8085"
    # How long a page waits for one service before it renders that panel as unavailable.
    backend_timeout_seconds: float = Field(2.0, gt=0, le=30)
    session_hours: float = Field(12.0, gt=0, le=24 * 30)
    # The development sign-in's people: a JSON list of DevPerson; the demo tenant if empty.
    dev_people: str = ""
    assets_dir: str = ""
    # How often the impact page asks for new clicks and points (seconds).
    live_interval_seconds: float = Field(3.0, ge=1, le=60)
    # How often the program's analytics page asks for new headline figures (seconds).
    analytics_interval_seconds: float = Field(1.0, ge=0.5, le=60)
    # This app's clients at the tenants' identity providers: a JSON list of
    # web.adapters.oidc.OidcClientSettings, each for a tenant in CHORUS_OIDC_PROVIDERS.
    oidc_clients: str = ""
    # The address people reach this app at, for the providers' redirects; empty: the
    # address of the request.
    public_url: str = ""
    # How often the worker purges expired sessions.
    purge_interval_seconds: float = Field(300.0, gt=0)
    # Fernet key (32 url-safe base64 bytes) that encrypts the tokens a session holds (the
    # access token, and the provider's refresh and ID tokens) in the database.
    token_key: str = Field(default_factory=lambda: local_fernet_key(LOCAL_TOKEN_SECRET))

    @field_validator("dev_people")
    @classmethod
    def _people_parse(cls, value: str) -> str:
        if value:
            [DevPerson.model_validate(p) for p in json.loads(value)]
        return value

    @model_validator(mode="after")
    def _no_dev_people_in_production(self) -> WebSettings:
        if self.env != "local" and self.dev_people:
            raise ValueError("WEB_DEV_PEOPLE is for CHORUS_ENV=local only")
        return self

    @model_validator(mode="after")
    def _token_key(self) -> WebSettings:
        if self.env != "local" and self.token_key == local_fernet_key(LOCAL_TOKEN_SECRET):
            raise ValueError("WEB_TOKEN_KEY must be set outside CHORUS_ENV=local")
        check_fernet_key("WEB_TOKEN_KEY", self.token_key)
        return self

    @model_validator(mode="after")
    def _clients_of_trusted_providers(self) -> WebSettings:
        trusted = {p.tenant for p in self.providers}
        for client in self.clients:
            if client.tenant not in trusted:
                raise ValueError(
                    f"WEB_OIDC_CLIENTS has a client for tenant {client.tenant!r}, which has "
                    "no provider in CHORUS_OIDC_PROVIDERS"
                )
            if self.env != "local":
                check_secret("WEB_OIDC_CLIENTS client_secret", client.client_secret)
        if self.public_url and self.env != "local":
            check_https("WEB_PUBLIC_URL", self.public_url)
        return self

    @property
    def clients(self) -> list[OidcClientSettings]:
        return CLIENTS.validate_json(self.oidc_clients) if self.oidc_clients.strip() else []

    @property
    def people(self) -> list[DevPerson]:
        if not self.dev_people:
            return list(DEMO_PEOPLE)
        raw: list[Any] = json.loads(self.dev_people)
        return [DevPerson.model_validate(p) for p in raw]

    @property
    def assets(self) -> Path:
        return Path(self.assets_dir) if self.assets_dir else SOURCE_ASSETS
