"""Direct posting through the networks' APIs, and the advocates' tokens for it.

`NetworkPoster` is the port; `LinkedInPoster` speaks LinkedIn's Posts API
(`POST /rest/posts`, versioned with the `LinkedIn-Version` header, Rest.li protocol 2.0.0).
Tokens are stored encrypted (Fernet) with a key from settings, one per advocate and network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from cryptography.fernet import Fernet, InvalidToken

from share.adapters.mongo import ShareRepository


@dataclass(frozen=True)
class Post:
    """What to post: the advocate's text and the tracked link with its card."""

    text: str
    link: str
    title: str = ""
    description: str = ""


@dataclass(frozen=True)
class Credentials:
    access_token: str
    # The network's id of the member, e.g. LinkedIn's `urn:li:person:<id>`.
    author: str


class PostingError(Exception):
    """The network refused the post, or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NetworkPoster(Protocol):
    network: str

    async def post(self, credentials: Credentials, post: Post) -> str:
        """Publish `post` as the member; returns the network's id of the new post."""
        ...


class LinkedInPoster:
    network = "linkedin"

    def __init__(self, base_url: str, version: str, timeout: float = 10.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._version = version
        self._timeout = timeout

    def request_body(self, credentials: Credentials, post: Post) -> dict[str, Any]:
        body: dict[str, Any] = {
            "author": credentials.author,
            "commentary": post.text,
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        # An article post: LinkedIn does not scrape the link, the card is given here.
        article: dict[str, Any] = {"source": post.link, "title": post.title or post.link}
        if post.description:
            article["description"] = post.description
        body["content"] = {"article": article}
        return body

    async def post(self, credentials: Credentials, post: Post) -> str:
        headers = {
            "Authorization": f"Bearer {credentials.access_token}",
            "LinkedIn-Version": self._version,
            "X-Restli-Protocol-Version": "2.0.0",
            "Content-Type": "application/json",
        }
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                response = await http.post(
                    f"{self._base_url}/rest/posts",
                    headers=headers,
                    json=self.request_body(credentials, post),
                )
        except httpx.HTTPError as exc:
            raise PostingError(f"linkedin unreachable: {exc!r}") from exc
        if response.status_code != 201:
            raise PostingError(
                f"linkedin answered {response.status_code}: {response.text[:300]}",
                status=response.status_code,
            )
        post_id: str = response.headers.get("x-restli-id", "")
        if not post_id:
            raise PostingError("linkedin answered 201 without an x-restli-id header")
        return post_id


class TokenVault:
    """Advocates' network tokens, encrypted at rest."""

    def __init__(self, repo: ShareRepository, key: str) -> None:
        self._repo = repo
        self._fernet = Fernet(key.encode())

    @staticmethod
    def _id(tenant: str, employee_id: str, network: str) -> str:
        return f"{tenant}:{employee_id}:{network}"

    async def store(
        self,
        tenant: str,
        employee_id: str,
        network: str,
        credentials: Credentials,
        expires_at: datetime | None,
    ) -> None:
        await self._repo.tokens.replace_one(
            {"_id": self._id(tenant, employee_id, network)},
            {
                "tenant": tenant,
                "employee_id": employee_id,
                "token": self._fernet.encrypt(credentials.access_token.encode()).decode(),
                "author": credentials.author,
                "expires_at": expires_at,
            },
            upsert=True,
        )

    async def load(self, tenant: str, employee_id: str, network: str) -> Credentials | None:
        doc = await self._repo.tokens.find_one({"_id": self._id(tenant, employee_id, network)})
        if doc is None:
            return None
        expires_at = doc.get("expires_at")
        if expires_at is not None and expires_at <= datetime.now(UTC):
            return None
        try:
            token = self._fernet.decrypt(doc["token"].encode()).decode()
        except InvalidToken:
            # Encrypted under a key that is no longer configured: the advocate reconnects.
            return None
        return Credentials(access_token=token, author=doc["author"])

    async def forget(self, tenant: str, employee_id: str, network: str | None = None) -> None:
        if network is None:
            await self._repo.tokens.delete_many({"tenant": tenant, "employee_id": employee_id})
        else:
            await self._repo.tokens.delete_one({"_id": self._id(tenant, employee_id, network)})
