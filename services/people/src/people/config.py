from __future__ import annotations

import json
from typing import ClassVar, Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from chassis.auth import TENANT_PATTERN
from chassis.settings import ServiceSettings, check_secret

# The demo tenant's SCIM token on a local installation (refused anywhere else: too short).
LOCAL_SCIM_TOKEN = "chorus-scim-local-token"
EmployeeIdSource = Literal["userName", "externalId"]


class PeopleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PEOPLE_", extra="ignore", populate_by_name=True)

    service: ClassVar[str] = "people"
    default_api_port: ClassVar[int] = 8085
    default_worker_port: ClassVar[int] = 9085

    # One SCIM bearer token per tenant, a JSON object {"<tenant>": "<token>"}: the token
    # decides the tenant. Empty on a local installation: {"demo": LOCAL_SCIM_TOKEN}.
    scim_tokens: str = ""
    # Which SCIM attribute is a person's Chorus employee id (the `sub` of their tokens), per
    # tenant, a JSON object {"<tenant>": "userName" | "externalId"}; userName by default.
    employee_id: str = ""
    # Most resources one list response holds (ServiceProviderConfig's filter.maxResults).
    scim_max_results: int = Field(200, ge=1, le=10_000)
    # How often the worker looks for group changes whose members were not all brought up to
    # date (the api died half-way), and how long it leaves them to the api first.
    group_sync_seconds: float = Field(1.0, gt=0)
    group_sync_lease_seconds: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _scim_settings(self) -> PeopleSettings:
        tokens = self.tenant_tokens
        for tenant in tokens:
            if not TENANT_PATTERN.fullmatch(tenant):
                raise ValueError("PEOPLE_SCIM_TOKENS names a tenant that is not a valid id")
        if len(set(tokens.values())) != len(tokens):
            raise ValueError("PEOPLE_SCIM_TOKENS gives two tenants the same token")
        if self.env != "local":
            for token in tokens.values():
                check_secret("PEOPLE_SCIM_TOKENS", token)
        self.employee_id_sources  # noqa: B018 (refuses a malformed value at start)
        return self

    @property
    def tenant_tokens(self) -> dict[str, str]:
        if not self.scim_tokens.strip():
            return {"demo": LOCAL_SCIM_TOKEN} if self.env == "local" else {}
        try:
            parsed = json.loads(self.scim_tokens)
        except ValueError:
            raise ValueError("PEOPLE_SCIM_TOKENS is not a JSON object") from None
        if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in parsed.items()
        ):
            raise ValueError("PEOPLE_SCIM_TOKENS must map each tenant to a token (strings)")
        return parsed

    @property
    def employee_id_sources(self) -> dict[str, EmployeeIdSource]:
        if not self.employee_id.strip():
            return {}
        try:
            parsed = json.loads(self.employee_id)
        except ValueError:
            raise ValueError("PEOPLE_EMPLOYEE_ID is not a JSON object") from None
        if not isinstance(parsed, dict) or not all(
            v in ("userName", "externalId") for v in parsed.values()
        ):
            raise ValueError('PEOPLE_EMPLOYEE_ID must map tenants to "userName" or "externalId"')
        return parsed
