"""Engagement connectors: the systems that report a tenant's engagement, each with a key.

A connector's secret is never stored. It is derived from the installation's webhook key
(`SHARE_WEBHOOK_SECRET`), the tenant, the connector's id and its version, so:
- a secret signs for its own tenant and connector only: another tenant's, or another
  connector's, is a different key;
- rotating bumps the version, and the old secret no longer matches anything;
- deleting the connector's record leaves nothing from which its secret still verifies;
- a copy of the database alone (a backup) gives away no secret.
Changing `SHARE_WEBHOOK_SECRET` changes every connector's secret at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

# Enough for every network and system a program reports from, small enough to list whole.
MAX_CONNECTORS = 20
MAX_NAME_LENGTH = 100
# What `chassis.ids.new_id` makes; the header is refused before a lookup when it is not.
CONNECTOR_ID = re.compile(r"[0-9a-f]{24}")


@dataclass(frozen=True, slots=True)
class Connector:
    id: str
    tenant: str
    name: str
    version: int  # bumped by each rotation; part of the secret
    created_at: datetime
    rotated_at: datetime | None = None


def connector_secret(installation_key: bytes, tenant: str, connector_id: str, version: int) -> str:
    """The secret a connector signs its reports with (64 hex characters)."""
    # NUL between the parts: neither a tenant nor an id contains one, so no two triples
    # run together into the same message.
    message = f"{tenant}\x00{connector_id}\x00{version}".encode()
    return hmac.new(installation_key, message, hashlib.sha256).hexdigest()
