"""Every page router of the web app, in one list for the bootstrap."""

from __future__ import annotations

from web.entrypoints import feed, impact, share

routers = [feed.router, share.router, impact.router]
