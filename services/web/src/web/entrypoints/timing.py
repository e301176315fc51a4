"""`Server-Timing: app;dur=<ms>` on every response: the page's time in this process,
the number the browser's developer tools and `bench/web.py` show beside the network's."""

from __future__ import annotations

import time
from typing import Any


class ServerTiming:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_timed(message: Any) -> None:
            if message["type"] == "http.response.start":
                spent = (time.perf_counter() - started) * 1000
                message["headers"] = [
                    *message.get("headers", []),
                    (b"server-timing", f"app;dur={spent:.1f}".encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_timed)
