"""Every page router of the web app, in one list for the bootstrap."""

from __future__ import annotations

from web.entrypoints import feed, share

routers = [feed.router, share.router]
