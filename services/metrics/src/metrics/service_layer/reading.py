"""Reading figures: the period and filters of a question, and every figure of a tenant,
computed from the api's facts in memory (`metrics.adapters.memory`).

Sums are vectorised over the facts a slice selects; Python only builds the rows a reply
holds. What the figures need whole (who the advocates are and in which groups, the content
catalog, growth histories) is built from the kept records once per change of them, and
kept in `Services.derived`. Who the advocates are and the names every share counts under
change with every share: they are brought up to date with the records added since
(`Figures._folded`), not built again from the year's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from chassis.domain_errors import Invalid
from metrics.adapters.memory import COUNTER_INDEX, NC, FactTable, Selection
from metrics.domain import figures as fig
from metrics.domain import growth
from metrics.domain.facts import COUNTERS
from metrics.domain.figures import ADVOCATE_TYPES, CONTENT_TYPES
from metrics.domain.program import Settings

if TYPE_CHECKING:
    from metrics.service_layer.handlers import Services

# The column a breakdown's rows are keyed by, where it is not the dimension itself.
KEYED_BY = {"group": "advocate", "location": "share", "topic": "share"}
GROWTH_TYPES = ("audience-measured", "followers-measured")
# The records who the advocates are (and their groups) is built from.
PEOPLE_TYPES = (*ADVOCATE_TYPES, "post-shared")
T = TypeVar("T")
Bools = npt.NDArray[np.bool_]
Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Slice:
    """Which facts a figure covers: a period and optional filters."""

    start: date
    end: date
    group: str | None = None
    network: str | None = None
    campaign: str | None = None
    content: str | None = None
    kind: str | None = None
    # The leaders' group, as the share service names it: their participation is a figure.
    leaders: str | None = None

    def shifted(self, start: date, end: date) -> Slice:
        return replace(self, start=start, end=end)

    def label(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    def equal(self) -> dict[str, str]:
        return {
            name: value
            for name in ("network", "campaign", "content", "kind")
            if (value := getattr(self, name)) is not None
        }


# What a goal may measure: every figure but the head counts.
GOAL_METRICS = sorted(
    {*fig.derive({}, 0, 0, 1), "earned_media_value", *growth.NAMES}
    - {"enrolled_advocates", "employees"}
)
# What a breakdown may be sorted by: the figures of its rows.
SORTS = frozenset(GOAL_METRICS) - {"earned_media_value"}


def check_sort(sort: str) -> None:
    """`Invalid` unless breakdown rows can be sorted by `sort`."""
    if sort not in SORTS:
        raise Invalid(
            f"sort: must be one of {', '.join(sorted(SORTS))}", errors=[("sort", "unknown figure")]
        )


@dataclass
class People:
    """The advocates of a tenant, with what is asked of them again and again kept. A
    change to an advocate makes a new `People` (the memos start again); a share that
    changes no one keeps it."""

    advocates: dict[str, fig.Advocate]
    # Each advocate's latest enrollment (`fig.add_advocates` keeps it between records).
    latest: dict[str, Any] = field(default_factory=dict)
    _members: dict[str, list[str]] = field(default_factory=dict)
    _enrolled: dict[tuple[date, str | None], int] = field(default_factory=dict)
    _memo: dict[Any, Any] = field(default_factory=dict)

    def memo(self, key: Any, build: Callable[[], T]) -> T:
        """What `build` makes of these advocates, made once."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]  # type: ignore[no-any-return]

    def members(self, group: str) -> list[str]:
        found = self._members.get(group)
        if found is None:
            found = self._members[group] = sorted(
                a.employee_id for a in self.advocates.values() if group in a.groups
            )
        return found

    def enrolled_on(self, day: date, group: str | None = None) -> int:
        found = self._enrolled.get((day, group))
        if found is None:
            found = self._enrolled[(day, group)] = sum(
                a.enrolled_on(day)
                for a in self.advocates.values()
                if group is None or group in a.groups
            )
        return found


@dataclass
class ShareNames:
    """The names every share counts under, per share dimension (`fig.SHARE_DIMENSIONS`),
    added share by share."""

    index: dict[str, dict[str, int]] = field(
        default_factory=lambda: {d: {} for d in fig.SHARE_DIMENSIONS}
    )
    names: dict[str, Names] = field(default_factory=dict)

    def add(self, table: FactTable, tenant: str, records: list[dict[str, Any]]) -> None:
        pairs: dict[str, list[tuple[int, int]]] = {d: [] for d in fig.SHARE_DIMENSIONS}
        for share, names in fig.shares(records).items():
            code = table.code("share", tenant, share)
            if code is None:
                continue
            for dimension, found in pairs.items():
                index = self.index[dimension]
                found.extend((code, index.setdefault(n, len(index))) for n in names[dimension] if n)
        for dimension, found in pairs.items():
            before = self.names.get(dimension)
            new = np.array(found, dtype=np.int64).reshape(-1, 2)
            key, name = new[:, 0], new[:, 1]
            if before is not None:
                key, name = np.concatenate([before.key, key]), np.concatenate([before.name, name])
            if len(key) > 1 and (np.diff(key) < 0).any():
                order = np.argsort(key, kind="stable")
                key, name = key[order], name[order]
            self.names[dimension] = Names(list(self.index[dimension]), key, name)


@dataclass
class Names:
    """How the codes of a dimension's keys map to the names a breakdown counts them
    under: (key code, name index) pairs, sorted by key code."""

    names: list[str]
    key: Ints
    name: Ints

    @classmethod
    def of(cls, pairs: list[tuple[int, str]]) -> Names:
        index: dict[str, int] = {}
        keys, names = [], []
        for key, name in sorted(pairs):
            if not name:
                continue
            keys.append(key)
            names.append(index.setdefault(name, len(index)))
        return cls(list(index), np.array(keys, dtype=np.int64), np.array(names, dtype=np.int64))

    def expand(self, keys: Ints) -> tuple[Ints, Ints]:
        """(position in `keys`, name index) of every name each key counts under."""
        lo = np.searchsorted(self.key, keys, "left")
        hi = np.searchsorted(self.key, keys, "right")
        counts = hi - lo
        position = np.repeat(np.arange(len(keys), dtype=np.int64), counts)
        starts = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        pair = np.arange(int(counts.sum()), dtype=np.int64) + starts
        return position, self.name[pair]


def _counters(row: Floats) -> dict[str, float]:
    # Counters are whole numbers; sums in floats are exact far beyond any program's size.
    return {name: round(value) for name, value in zip(COUNTERS, row.tolist(), strict=True)}


def _ratio(numerator: Floats, denominator: Floats) -> Floats:
    out = np.zeros(len(numerator), dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return np.round(out, 6)


def _sort_values(sums: Floats, active: Ints, sort: str) -> Floats:
    """The figure a breakdown is sorted by, per row, as `fig.derive` computes it (None
    counts as 0)."""
    if sort in COUNTER_INDEX:
        return sums[:, COUNTER_INDEX[sort]]

    def column(name: str) -> Floats:
        return sums[:, COUNTER_INDEX[name]]

    engagements: Floats = column("clicks") + column("reactions")
    engagements += column("comments") + column("reshares")
    values: dict[str, Callable[[], Floats]] = {
        "engagements": lambda: engagements,
        "engagement_rate": lambda: _ratio(engagements, column("reach")),
        "click_through_rate": lambda: _ratio(column("unique_clicks"), column("reach")),
        "conversion_rate": lambda: _ratio(column("conversions"), column("unique_clicks")),
        "active_advocates": lambda: active.astype(np.float64),
        "shares_per_active_advocate": lambda: _ratio(column("shares"), active.astype(float)),
    }
    found = values.get(sort)
    return found() if found is not None else np.zeros(len(sums), dtype=np.float64)


class Figures:
    """Every read of the figures of one tenant, from one state of the facts."""

    def __init__(self, services: Services, tenant: str, table: FactTable) -> None:
        self.repo = services.repo
        self.today = services.today()
        self.tenant = tenant
        self.table = table
        self.derived = services.derived
        self.selections = services.selections
        self.answers = services.answers
        self.config = services.live.config if services.live is not None else None
        self._settings: Settings | None = None

    @classmethod
    async def open(cls, services: Services, tenant: str) -> Figures:
        assert services.live is not None, "figures are read in the api"
        return cls(services, tenant, await services.live.fresh())

    def _kept(self, name: str, kinds: tuple[str, ...], build: Callable[[], T]) -> T:
        """What `build` makes of the tenant's records, made again when they change."""
        version = (self.table.serial, self.table.version(self.tenant, *kinds))
        found = self.derived.get((self.tenant, name))
        if found is None or found[0] != version:
            found = self.derived[(self.tenant, name)] = (version, build())
        return found[1]  # type: ignore[no-any-return,unused-ignore]

    def _folded(
        self,
        name: str,
        kinds: tuple[str, ...],
        fold: Callable[[T | None, list[dict[str, Any]]], T],
    ) -> T:
        """What `fold` made of the tenant's records of `kinds`, given the records added
        since it last did (None and every record at first, after a load or an erasure)."""
        key = (self.tenant, name)
        stamp = (self.table.serial, self.table.rewrites[self.tenant])
        found = self.derived.get(key)
        position, state = found[1] if found is not None and found[0] == stamp else (0, None)
        position, new = self.table.records_since(self.tenant, position, kinds)
        if new or state is None:
            state = fold(state, new)
        self.derived[key] = (stamp, (position, state))
        return state  # type: ignore[no-any-return,unused-ignore]

    async def people(self) -> People:
        def fold(people: People | None, records: list[dict[str, Any]]) -> People:
            if people is None:
                people = People({})
            changed = fig.add_advocates(people.advocates, people.latest, records)
            return People(people.advocates, people.latest) if changed else people

        return self._folded("people", PEOPLE_TYPES, fold)

    async def histories(self) -> tuple[dict[Any, growth.History], dict[Any, growth.History]]:
        """The company pages' and the advocates' audience histories, all time."""
        return self._kept(
            "histories",
            GROWTH_TYPES,
            lambda: growth.histories(self.table.records_of(self.tenant, GROWTH_TYPES)),
        )

    async def content_items(self) -> dict[str, fig.ContentItem]:
        return self._kept(
            "catalog",
            CONTENT_TYPES,
            lambda: fig.catalog(self.table.records_of(self.tenant, CONTENT_TYPES)),
        )

    async def settings(self) -> Settings:
        if self._settings is None:
            self._settings = await self._configured("settings", self.repo.tenant_settings)
        return self._settings

    async def _configured(self, name: str, read: Callable[[str], Awaitable[T]]) -> T:
        """The tenant's settings or goals, read again only once they changed (the counter
        every change raises, as the catch-up before this request read it)."""
        if self.config is None:  # not following the database: read every time
            return await read(self.tenant)
        return await _kept_in(
            self.derived, (self.tenant, name), self.config, lambda: read(self.tenant)
        )

    async def prices(self) -> fig.Prices:
        return (await self.settings()).prices

    # -- selections ----------------------------------------------------------------------

    def _members_mask(self, people: People, group: str) -> Bools:
        def build() -> Bools:
            codes = [self.table.code("advocate", self.tenant, a) for a in people.members(group)]
            mask = np.zeros(len(self.table.codes["advocate"]), dtype=bool)
            mask[[c for c in codes if c is not None]] = True
            return mask

        return people.memo(("members", group), build)

    async def select(self, where: Slice) -> Selection:
        """The facts of a slice; the page's calls ask for the same one, so the last few
        are kept until a fact comes in."""
        key = (self.tenant, where.start, where.end, tuple(where.equal().items()), where.group)
        version = (self.table.serial, self.table.version(self.tenant, "facts", *PEOPLE_TYPES))

        async def build() -> Selection:
            members = None
            if where.group is not None:
                members = self._members_mask(await self.people(), where.group)
            return self.table.select(self.tenant, where.start, where.end, where.equal(), members)

        return await _kept_in(self.selections, key, version, build)

    def _advocate_label(self, code: int) -> str:
        return self.table.label("advocate", code)

    # -- figures -------------------------------------------------------------------------

    async def _answer(self, key: tuple[Any, ...], build: Callable[[], Awaitable[T]]) -> T:
        """An answer as it was given for the same question since the last fact came in
        (the program team's pages ask the same questions, each page a dozen of them).
        Answers are shared: callers do not change them."""
        version = (self.table.serial, self.table.version(self.tenant, "facts"))
        return await _kept_in(self.answers, (self.tenant, *key), version, build)

    async def figures(self, where: Slice) -> dict[str, Any]:
        """Every figure of the slice."""
        # The head count and the prices are settings, read per request.
        settings = repr(await self.settings())
        return await self._answer(("figures", where, settings), lambda: self._figures(where))

    async def _figures(self, where: Slice) -> dict[str, Any]:
        selection = await self.select(where)
        totals = _counters(selection.totals())
        networks, by_network_sums = selection.sums(selection.columns["network"])
        by_network = {
            self.table.codes["network"].labels[code]: _counters(row)
            for code, row in zip(networks.tolist(), by_network_sums, strict=True)
        }
        sharing = selection.sharing()
        advocates = selection.columns["advocate"]
        active_codes = np.unique(advocates[sharing & (advocates != 0)])
        people = await self.people()
        employees = None if where.group else (await self.settings()).employees
        out = fig.derive(
            totals, len(active_codes), people.enrolled_on(where.end, where.group), employees
        )
        out["earned_media_value"] = fig.earned_media_value(await self.prices(), by_network, totals)[
            "value"
        ]
        if where.leaders is not None:
            leaders = set(people.members(where.leaders))
            enrolled = sum(
                people.advocates[a].enrolled_on(where.end)
                for a in leaders
                if where.group is None or where.group in people.advocates[a].groups
            )
            active = {self._advocate_label(c) for c in active_codes.tolist()}
            out.update(fig.leaders(active, leaders, enrolled))
        pages, audiences = await self.histories()
        members = set(people.members(where.group)) if where.group is not None else None
        shares = self._shares_per_advocate_network(selection) if audiences else {}
        out.update(
            growth.figures(pages, audiences, where.start, where.end, shares, where.network, members)
        )
        return out

    def _shares_per_advocate_network(self, selection: Selection) -> dict[tuple[str, str], float]:
        width = len(self.table.codes["network"])
        keys = selection.columns["advocate"] * width + selection.columns["network"]
        codes, sums = selection.sums(keys)
        out = {}
        for key, shares in zip(
            codes.tolist(), sums[:, COUNTER_INDEX["shares"]].tolist(), strict=True
        ):
            if shares:
                advocate, network = divmod(key, width)
                out[
                    (self._advocate_label(advocate), self.table.codes["network"].labels[network])
                ] = shares
        return out

    async def compare(self, where: Slice) -> dict[str, Any]:
        """The slice's figures beside those of the period just before it."""
        current = await self.figures(where)
        before = where.shifted(*fig.previous_period(where.start, where.end))
        previous = await self.figures(before)
        return {
            "tenant": self.tenant,
            "period": where.label(),
            "figures": current,
            "previous_period": before.label(),
            "previous": previous,
            "change": fig.change(current, previous),
            "formulas": {**fig.FORMULAS, **growth.FORMULAS},
        }

    # -- breakdowns ----------------------------------------------------------------------

    def group_names(self, people: People) -> Names:
        """Advocates' codes to the groups they count under."""

        def groups() -> Names:
            pairs: list[tuple[int, str]] = []
            for advocate in people.advocates.values():
                code = self.table.code("advocate", self.tenant, advocate.employee_id)
                if code is not None:
                    pairs.extend((code, group) for group in advocate.groups)
            return Names.of(pairs)

        return people.memo("names:group", groups)

    def share_names(self) -> ShareNames:
        """Shares' codes to their location and topics."""

        def add(names: ShareNames | None, records: list[dict[str, Any]]) -> ShareNames:
            names = names or ShareNames()
            names.add(self.table, self.tenant, records)
            return names

        return self._folded("names:shares", ("post-shared",), add)

    def _names(self, dimension: str, people: People, keys: Ints) -> Names:
        """How a dimension's keys (in its column, `KEYED_BY`) map to the names it counts
        them under."""
        table = self.table
        if dimension == "group":
            return self.group_names(people)
        if dimension in fig.SHARE_DIMENSIONS:
            return self.share_names().names[dimension]
        # A key is its own name (the empty one is left out, as `Names.of` does).
        present = keys[keys != 0]
        return Names(
            [table.label(dimension, code) for code in present.tolist()],
            present,
            np.arange(len(present), dtype=np.int64),
        )

    async def breakdown(
        self, where: Slice, dimension: str, sort: str = "shares", limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Figures per content item, advocate, group, network, campaign, location or topic,
        best first; `Invalid` unless `sort` names a figure of the rows."""
        check_sort(sort)
        if limit is None:  # a whole table, for a download: not kept
            return await self._breakdown(where, dimension, sort, limit)
        return await self._answer(
            ("breakdown", where, dimension, sort, limit),
            lambda: self._breakdown(where, dimension, sort, limit),
        )

    async def _breakdown(
        self, where: Slice, dimension: str, sort: str, limit: int | None
    ) -> list[dict[str, Any]]:
        people = await self.people()
        column = KEYED_BY.get(dimension, dimension)
        selection = await self.select(where)
        keys, sums = selection.sums(selection.columns[column])
        names = self._names(dimension, people, keys)
        position, name = names.expand(keys)
        count = len(names.names)
        totals = np.zeros((count, NC), dtype=np.float64)
        for counter in range(NC):
            totals[:, counter] = np.bincount(name, sums[position, counter], minlength=count)
        present = np.zeros(count, dtype=bool)
        present[name] = True
        active = self._active_per_name(selection, column, names, keys, position, name, count)
        order = _order(totals, active, sort, names.names, present, limit)
        items = await self.content_items() if dimension == "content" else {}
        table = []
        for index in order:
            label = names.names[index]
            row: dict[str, Any] = {dimension: label}
            if dimension == "content":
                item = items.get(label)
                row["title"] = item.title if item else ""
                row["kind"] = item.kind if item else ""
            row.update(fig.derive(_counters(totals[index]), int(active[index])))
            table.append(row)
        return table

    def _active_per_name(
        self,
        selection: Selection,
        column: str,
        names: Names,
        keys: Ints,
        position: Ints,
        name: Ints,
        count: int,
    ) -> Ints:
        """How many distinct advocates shared, per name."""
        advocates = selection.columns["advocate"]
        rows = selection.sharing() & (advocates != 0)
        if not rows.any():
            return np.zeros(count, dtype=np.int64)
        row_keys = np.searchsorted(keys, selection.columns[column][rows])
        row_advocates = advocates[rows]
        # Every (key, name) pair, as the positions in `keys` each name is reached from.
        lo = np.searchsorted(position, row_keys, "left")
        hi = np.searchsorted(position, row_keys, "right")
        counts = hi - lo
        pair = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(
            lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts
        )
        width = int(advocates.max()) + 1
        distinct = np.unique(name[pair] * width + np.repeat(row_advocates, counts))
        return np.bincount(distinct // width, minlength=count)

    async def series(self, where: Slice, granularity: fig.Granularity) -> list[dict[str, Any]]:
        """Figures per day, week, month or year."""
        return await self._answer(
            ("series", where, granularity), lambda: self._series(where, granularity)
        )

    async def _series(self, where: Slice, granularity: fig.Granularity) -> list[dict[str, Any]]:
        selection = await self.select(where)
        days, sums = selection.sums(selection.columns["day"])
        labels = [
            fig.period_of(date.fromordinal(d).isoformat(), granularity) for d in days.tolist()
        ]
        periods = sorted(set(labels))
        index = {label: i for i, label in enumerate(periods)}
        period_of_day = np.array([index[label] for label in labels], dtype=np.int64)
        totals = np.zeros((len(periods), NC), dtype=np.float64)
        for counter in range(NC):
            totals[:, counter] = np.bincount(period_of_day, sums[:, counter], len(periods))
        advocates = selection.columns["advocate"]
        rows = selection.sharing() & (advocates != 0)
        active = np.zeros(len(periods), dtype=np.int64)
        if rows.any():
            period = period_of_day[np.searchsorted(days, selection.columns["day"][rows])]
            width = int(advocates.max()) + 1
            distinct = np.unique(period * width + advocates[rows])
            active = np.bincount(distinct // width, minlength=len(periods))
        return [
            {"period": period, **fig.derive(_counters(totals[i]), int(active[i]))}
            for i, period in enumerate(periods)
        ]

    async def funnel(self, where: Slice) -> list[dict[str, Any]]:
        """The recruiting funnel of every job posting: reach, clicks, applications."""
        return await self._answer(("funnel", where), lambda: self._funnel(where))

    async def _funnel(self, where: Slice) -> list[dict[str, Any]]:
        items = await self.content_items()
        selection = await self.select(where)
        contents = selection.columns["content"]
        jobs = np.zeros(len(self.table.codes["content"]), dtype=bool)
        for content, item in items.items():
            code = self.table.code("content", self.tenant, content)
            if code is not None and item.kind == "job":
                jobs[code] = True
        job_kind = self.table.code("kind", self.tenant, "job")
        is_job = jobs[contents]
        if job_kind is not None:
            is_job |= selection.columns["kind"] == job_kind
        is_job &= contents != 0
        keys = np.where(is_job, contents, 0)
        codes, sums = selection.sums(keys)
        keep = codes != 0
        codes, sums = codes[keep], sums[keep]

        def column(name: str) -> list[int]:
            return [round(v) for v in sums[:, COUNTER_INDEX[name]].tolist()]

        def rate(numerator: str, denominator: str) -> list[float | None]:
            # As `fig.derive`: rounded to 6 places, None where nothing to divide by.
            return [
                round(n / d, 6) if d else None
                for n, d in zip(column(numerator), column(denominator), strict=True)
            ]

        labels = self.table.codes["content"].labels
        content_ids = [labels[code] for code in codes.tolist()]
        table = [
            {
                "content": content,
                "title": job.title if (job := items.get(content)) else "",
                "shares": shares,
                "reach": reach,
                "clicks": clicks,
                "unique_clicks": unique,
                "conversions": conversions,
                "click_through_rate": ctr,
                "conversion_rate": cr,
            }
            for content, shares, reach, clicks, unique, conversions, ctr, cr in zip(
                content_ids,
                column("shares"),
                column("reach"),
                column("clicks"),
                column("unique_clicks"),
                column("conversions"),
                rate("unique_clicks", "reach"),
                rate("conversions", "unique_clicks"),
                strict=True,
            )
        ]
        table.sort(key=lambda r: (-r["conversions"], -r["unique_clicks"], r["content"]))
        return table

    async def emv(self, where: Slice) -> dict[str, Any]:
        """Earned media value with its formula and terms."""
        settings = repr(await self.settings())
        return await self._answer(("emv", where, settings), lambda: self._emv(where))

    async def _emv(self, where: Slice) -> dict[str, Any]:
        selection = await self.select(where)
        networks, sums = selection.sums(selection.columns["network"])
        by_network = {
            self.table.codes["network"].labels[code]: _counters(row)
            for code, row in zip(networks.tolist(), sums, strict=True)
        }
        value = fig.earned_media_value(
            await self.prices(), by_network, _counters(selection.totals())
        )
        return {"period": where.label(), **value}

    async def goals(self) -> list[dict[str, Any]]:
        """Every goal of the tenant with its progress."""
        out = []
        for goal in await self._configured("goals", self.repo.list_goals):
            start, end = goal.start, goal.end
            where = Slice(start, min(end, max(self.today, start)), **goal.filters)
            value = (await self.figures(where)).get(goal.metric) or 0
            out.append(
                {
                    "id": goal.goal_id,
                    "name": goal.name,
                    "metric": goal.metric,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "filters": dict(goal.filters),
                    **fig.goal_progress(goal.target, value, start, end, self.today),
                }
            )
        return out

    async def report(self, where: Slice) -> dict[str, Any]:
        """What a program manager sends to leadership about a period."""
        compared = await self.compare(where)
        current = compared["figures"]
        emv = await self.emv(where)
        funnel = await self.funnel(where)
        goals = await self.goals()
        top_content = await self.breakdown(where, "content", "unique_clicks", 5)
        top_advocates = await self.breakdown(where, "advocate", "shares", 5)
        top_networks = await self.breakdown(where, "network", "reach", 5)
        return {
            **compared,
            "earned_media_value": emv,
            "top_content": top_content,
            "top_advocates": top_advocates,
            "top_networks": top_networks,
            "recruiting_funnel": funnel,
            "goals": goals,
            "highlights": _highlights(current, compared["change"], emv, goals),
        }


async def _kept_in(
    store: MutableMapping[Any, tuple[Any, Any]],
    key: Any,
    version: Any,
    build: Callable[[], Awaitable[T]],
) -> T:
    """What `build` made for `key` at `version`, kept in `store`; made again at another."""
    found = store.get(key)
    if found is not None and found[0] == version:
        return found[1]  # type: ignore[no-any-return,unused-ignore]
    value = await build()
    store[key] = (version, value)
    return value


async def warm(services: Services, table: FactTable) -> None:
    """Build what figures keep of every tenant's records (the advocates and their groups,
    the shares' names, the catalog, the histories), so that no request waits for it after
    a load."""
    for tenant in table.tenants.labels[1:]:
        figures = Figures(services, tenant, table)
        figures.group_names(await figures.people())
        figures.share_names()
        await figures.content_items()
        await figures.histories()


def _order(
    totals: Floats, active: Ints, sort: str, names: list[str], present: Bools, limit: int | None
) -> list[int]:
    """The names present, best first by `sort`, then by name; the first `limit`."""
    value = _sort_values(totals, active, sort)
    candidates = np.flatnonzero(present)
    if limit and len(candidates) > limit:
        # Only names at least as good as the limit-th can be among the first `limit`.
        threshold = np.partition(value[candidates], len(candidates) - limit)[-limit]
        candidates = candidates[value[candidates] >= threshold]
    values = value.tolist()
    ordered = sorted(candidates.tolist(), key=lambda i: (-values[i], names[i]))
    return ordered[:limit] if limit else ordered


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _highlights(
    current: Mapping[str, Any],
    change: Mapping[str, float | None],
    emv: Mapping[str, Any],
    goals: list[dict[str, Any]],
) -> list[str]:
    def moved(name: str) -> str:
        delta = change.get(name)
        if delta is None:
            return ""
        return f" ({'+' if delta >= 0 else ''}{delta * 100:.0f} % on the previous period)"

    lines = [
        f"{current['active_advocates']} active advocates shared {current['shares']} times"
        f"{moved('shares')}, reaching a potential audience of {current['reach']}{moved('reach')}.",
        f"{current['unique_clicks']} unique clicks (click-through rate "
        f"{_pct(current['click_through_rate'])}) and {current['conversions']} conversions"
        f"{moved('conversions')}.",
        f"Earned media value: {emv['value']:.2f} {emv['currency']} ({emv['computation']}).",
    ]
    if current.get("participation") is not None:
        lines.append(f"Participation: {_pct(current['participation'])} of enrolled advocates.")
    for goal in goals:
        state = "achieved" if goal["achieved"] else "on track" if goal["on_track"] else "behind"
        lines.append(
            f"Goal '{goal['name']}': {goal['value']} of {goal['target']} "
            f"({_pct(goal['progress'])}), {state}."
        )
    return lines


# What figures keep per (tenant, name): (the version it was built from, what was built).
Derived = MutableMapping[tuple[str, str], tuple[Any, Any]]
