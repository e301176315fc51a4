"""Every page router of the web app, in one list for the bootstrap."""

from __future__ import annotations

from web.entrypoints import (
    analytics,
    buddy,
    coaching,
    contribute,
    feed,
    growth,
    impact,
    join,
    me,
    moments,
    program,
    program_admin,
    program_buddies,
    program_content,
    program_erasures,
    program_leaders,
    rewards,
    share,
    wins,
)

# contribute before share: /share/own is not an item's share panel.
routers = [feed.router, contribute.router, share.router, impact.router]
routers += [join.router, rewards.router, me.router]
routers += [buddy.router]
# The program team's area; each part adds its router on a line of its own.
routers += [program.router]
routers += [program_content.router]
routers += [analytics.router]
routers += [moments.router]
routers += [growth.router]
routers += [wins.router]
routers += [program_admin.router]
routers += [coaching.router]
routers += [program_buddies.router, program_leaders.router]
routers += [program_erasures.router]
