"""Buddy pairs, their people, drafts and cheers in MongoDB.

`buddy_people` has one document per person who ever asked for a buddy or was paired,
`_id` "<tenant>:<employee>". Its `pair_id` names the person's pending or active pair (null
otherwise), and claiming it is a conditional upsert: of two pairs proposed for one person
at the same moment only one gets them (the other's upsert meets the unique `_id`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chassis import outbox
from chassis.outbox import DocumentWrite, Outbox
from contracts import Network
from share.domain.buddies import (
    BuddyPerson,
    BuddyRecords,
    BuddyShare,
    Cheer,
    Comment,
    Draft,
    DraftReaction,
    DraftStatus,
    Pair,
    PairStatus,
    Reaction,
)

HIDDEN = {outbox.PENDING: 0, outbox.COUNT: 0, outbox.LEASE: 0}
# Who a draft was sent to, or who ended a pair, once that person was erased.
ERASED = "erased"


class BuddyRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.people = db["buddy_people"]
        self.pairs = db["buddy_pairs"]
        self.drafts = db["buddy_drafts"]
        self.cheers = db["buddy_cheers"]
        self.shares = db["shares"]

    async def ensure_indexes(self) -> None:
        await self.people.create_index([("tenant", ASCENDING), ("requested_at", ASCENDING)])
        await self.pairs.create_index([("tenant", ASCENDING), ("status", ASCENDING)])
        await self.drafts.create_index(
            [("tenant", ASCENDING), ("author_id", ASCENDING), ("created_at", DESCENDING)]
        )
        await self.drafts.create_index(
            [("tenant", ASCENDING), ("buddy_id", ASCENDING), ("created_at", DESCENDING)]
        )
        await self.cheers.create_index([("tenant", ASCENDING), ("share_id", ASCENDING)])
        for collection in (self.drafts, self.cheers):
            await outbox.ensure_index(collection)

    # -- people ---------------------------------------------------------------------------

    async def person(self, tenant: str, employee_id: str) -> BuddyPerson | None:
        doc = await self.people.find_one({"_id": f"{tenant}:{employee_id}"})
        return _person_of(doc) if doc is not None else None

    async def save_person(self, tenant: str, employee_id: str, fields: dict[str, Any]) -> None:
        await self.people.update_one(
            {"_id": f"{tenant}:{employee_id}"},
            {"$set": fields, "$setOnInsert": {"tenant": tenant, "employee_id": employee_id}},
            upsert=True,
        )

    async def claim(
        self, tenant: str, employee_id: str, pair_id: str, fields: dict[str, Any]
    ) -> bool:
        """Make `pair_id` the person's pair unless they already have one."""
        try:
            done = await self.people.find_one_and_update(
                {"_id": f"{tenant}:{employee_id}", "pair_id": None},
                {
                    "$set": {"pair_id": pair_id, "requested": None, **fields},
                    "$setOnInsert": {"tenant": tenant, "employee_id": employee_id},
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            return False
        return done is not None and done.get("pair_id") == pair_id

    async def release(self, tenant: str, employee_id: str, pair_id: str) -> None:
        await self.people.update_one(
            {"_id": f"{tenant}:{employee_id}", "pair_id": pair_id}, {"$set": {"pair_id": None}}
        )

    async def waiting(self, tenant: str, limit: int = 200) -> list[BuddyPerson]:
        """People who asked for a buddy and have none yet, longest waiting first."""
        found = self.people.find({"tenant": tenant, "requested": {"$ne": None}, "pair_id": None})
        return [_person_of(doc) async for doc in found.sort("requested_at", ASCENDING).limit(limit)]

    # -- pairs ----------------------------------------------------------------------------

    async def pair(self, tenant: str, pair_id: str) -> Pair | None:
        doc = await self.pairs.find_one({"_id": pair_id, "tenant": tenant})
        return _pair_of(doc) if doc is not None else None

    async def insert_pair(self, tenant: str, pair: Pair) -> None:
        await self.pairs.insert_one(
            {
                "_id": pair.id,
                "tenant": tenant,
                "members": list(pair.members),
                "accepted": list(pair.accepted),
                "status": pair.status.value,
                "proposed_by": pair.proposed_by,
                "team": pair.team,
                "created_at": pair.created_at,
            }
        )

    async def change_pair(
        self, tenant: str, pair_id: str, status: str, fields: dict[str, Any]
    ) -> Pair | None:
        """Set `fields` of a pair that is still in `status`; None if it changed meanwhile."""
        doc = await self.pairs.find_one_and_update(
            {"_id": pair_id, "tenant": tenant, "status": status},
            {"$set": fields},
            return_document=ReturnDocument.AFTER,
        )
        return _pair_of(doc) if doc is not None else None

    async def pairs_of(self, tenant: str, statuses: list[str], limit: int) -> list[Pair]:
        found = self.pairs.find({"tenant": tenant, "status": {"$in": statuses}})
        return [_pair_of(doc) async for doc in found.sort("created_at", DESCENDING).limit(limit)]

    # -- drafts ---------------------------------------------------------------------------

    async def draft(self, tenant: str, draft_id: str) -> Draft | None:
        doc = await self.drafts.find_one({"_id": draft_id, "tenant": tenant}, HIDDEN)
        return _draft_of(doc) if doc is not None else None

    async def drafts_of(
        self, tenant: str, field: str, employee_id: str, pair_id: str | None, limit: int
    ) -> list[Draft]:
        query: dict[str, Any] = {"tenant": tenant, field: employee_id}
        if pair_id is not None:
            query["pair_id"] = pair_id
        found = self.drafts.find(query, HIDDEN).sort("created_at", DESCENDING).limit(limit)
        return [_draft_of(doc) async for doc in found]

    async def insert_draft(self, tenant: str, draft: Draft) -> None:
        await self.drafts.insert_one(
            {
                "_id": draft.id,
                "tenant": tenant,
                "pair_id": draft.pair_id,
                "author_id": draft.author_id,
                "buddy_id": draft.buddy_id,
                "network": draft.network.value,
                "text": draft.text,
                "url": draft.url,
                "title": draft.title,
                "comments": [_comment_doc(c) for c in draft.comments],
                "reaction": None,
                "status": draft.status.value,
                "created_at": draft.created_at,
            }
        )

    def _open_draft(self, tenant: str, draft_id: str) -> dict[str, Any]:
        return {"_id": draft_id, "tenant": tenant, "status": DraftStatus.OPEN.value}

    def draft_commented(
        self, box: Outbox, tenant: str, draft_id: str, comment: Comment
    ) -> DocumentWrite:
        """A comment added to a draft that is still open."""
        return DocumentWrite(
            box,
            draft_id,
            where=self._open_draft(tenant, draft_id),
            update={"$push": {"comments": _comment_doc(comment)}},
            conflict="the draft is already posted",
        )

    def draft_reacted(
        self, box: Outbox, tenant: str, draft_id: str, reaction: DraftReaction | None
    ) -> DocumentWrite:
        """The reaction on a draft that is still open (and, for one given, that one was)."""
        fields: dict[str, Any] = {"reaction": None}
        if reaction is not None:
            fields["reaction"] = {
                "name": reaction.name.value,
                "employee_id": reaction.employee_id,
                "at": reaction.at,
            }
            fields["reacted"] = True
        return DocumentWrite(
            box,
            draft_id,
            where=self._open_draft(tenant, draft_id),
            update={"$set": fields},
            conflict="the draft is already posted",
        )

    async def mark_draft_posted(
        self, tenant: str, draft_id: str, author_id: str, share_id: str, at: datetime
    ) -> None:
        await self.drafts.update_one(
            {"_id": draft_id, "tenant": tenant, "author_id": author_id},
            {"$set": {"status": DraftStatus.POSTED.value, "share_id": share_id, "posted_at": at}},
        )

    # -- a buddy's shares and the cheers on them ------------------------------------------

    async def shares_of(
        self, tenant: str, employee_id: str, since: datetime, limit: int
    ) -> list[BuddyShare]:
        """The person's shares made since `since`, newest first."""
        found = self.shares.find(
            {
                "tenant": tenant,
                "employee_id": employee_id,
                "status": "shared",
                "shared_at": {"$gte": since},
            },
            {
                "text": 1,
                "title": 1,
                "network": 1,
                "shared_at": 1,
                "content_id": 1,
                "employee_id": 1,
            },
        )
        return [
            BuddyShare(
                id=doc["_id"],
                network=Network(doc["network"]),
                shared_at=doc["shared_at"],
                title=doc.get("title") or "",
                text=doc.get("text") or "",
                content_id=doc.get("content_id"),
            )
            async for doc in found.sort("shared_at", DESCENDING).limit(limit)
        ]

    async def cheered(self, tenant: str, employee_id: str, share_ids: list[str]) -> set[str]:
        ids = [f"{tenant}:{s}:{employee_id}" for s in share_ids]
        found = self.cheers.find({"_id": {"$in": ids}}, {"share_id": 1})
        return {doc["share_id"] async for doc in found}

    async def share_owner(self, tenant: str, share_id: str) -> str | None:
        """Who made a share of the tenant, if it exists."""
        share = await self.shares.find_one({"_id": share_id, "tenant": tenant}, {"employee_id": 1})
        return str(share["employee_id"]) if share else None

    def cheer_given(self, box: Outbox, doc: dict[str, Any]) -> DocumentWrite:
        """A cheer, once: a second one of the same person on the same share does not land."""
        return DocumentWrite(box, doc["_id"], new=doc, must_land=False)

    # -- one person's data ------------------------------------------------------------------

    async def held_about(self, tenant: str, employee_id: str) -> BuddyRecords:
        """What buddies keep about a person, for their download."""
        person = await self.person(tenant, employee_id)
        pairs = self.pairs.find({"tenant": tenant, "members": employee_id})
        drafts = self.drafts.find({"tenant": tenant, "author_id": employee_id}, HIDDEN)
        commented = self.drafts.find(
            {"tenant": tenant, "comments.employee_id": employee_id}, {"comments": 1}
        )
        cheers = self.cheers.find({"tenant": tenant, "employee_id": employee_id}, HIDDEN)
        return BuddyRecords(
            person=person,
            pairs=[_pair_of(p) async for p in pairs],
            drafts=[_draft_of(d) async for d in drafts],
            comments_given=[
                (d["_id"], _comment_of(c))
                async for d in commented
                for c in d.get("comments") or []
                if c.get("employee_id") == employee_id
            ],
            cheers_given=[Cheer(c["share_id"], c["at"]) async for c in cheers],
        )

    async def forget(self, tenant: str, employee_id: str) -> None:
        """Erase what buddies keep of a person: their pairs end, their words go."""
        await self.people.delete_one({"_id": f"{tenant}:{employee_id}"})
        await self.drafts.delete_many({"tenant": tenant, "author_id": employee_id})
        # Their comments on others' drafts, one draft at a time (`$pull` is not in our subset).
        found = self.drafts.find({"tenant": tenant, "comments.employee_id": employee_id})
        async for doc in found:
            kept = [c for c in doc.get("comments") or [] if c.get("employee_id") != employee_id]
            await self.drafts.update_one({"_id": doc["_id"]}, {"$set": {"comments": kept}})
        await self.drafts.update_many(
            {"tenant": tenant, "reaction.employee_id": employee_id}, {"$set": {"reaction": None}}
        )
        await self.cheers.delete_many({"tenant": tenant, "employee_id": employee_id})
        # What others keep names them no more: cheers on their shares, drafts sent to them,
        # pairs they were in (ended by now).
        await self.cheers.delete_many({"tenant": tenant, "buddy_id": employee_id})
        await self.drafts.update_many(
            {"tenant": tenant, "buddy_id": employee_id}, {"$set": {"buddy_id": ERASED}}
        )
        await self.pairs.delete_many(
            {"tenant": tenant, "members": employee_id, "status": {"$in": ["ended", "declined"]}}
        )
        # Others' pairs they ended as the program team.
        await self.pairs.update_many(
            {"tenant": tenant, "ended_by": employee_id}, {"$set": {"ended_by": ERASED}}
        )


# -- documents <-> domain objects --------------------------------------------------------


def _person_of(doc: dict[str, Any]) -> BuddyPerson:
    requested = doc.get("requested")
    return BuddyPerson(
        employee_id=doc["employee_id"],
        name=doc.get("name"),
        pair_id=doc.get("pair_id"),
        requested=bool(requested),
        requested_team=(requested or {}).get("team"),
        requested_at=doc.get("requested_at"),
        groups=tuple(doc.get("groups") or ()),
        notify_shares=bool(doc.get("notify_shares", True)),
        seen_until=doc.get("seen_until"),
    )


def _pair_of(doc: dict[str, Any]) -> Pair:
    return Pair(
        id=doc["_id"],
        members=tuple(doc["members"]),
        status=PairStatus(doc["status"]),
        created_at=doc["created_at"],
        accepted=tuple(doc.get("accepted") or ()),
        proposed_by=doc.get("proposed_by") or "program",
        team=doc.get("team"),
        accepted_at=doc.get("accepted_at"),
        ended_at=doc.get("ended_at"),
        ended_by=doc.get("ended_by"),
    )


def _comment_of(doc: dict[str, Any]) -> Comment:
    return Comment(doc["id"], doc["employee_id"], doc["text"], doc["at"])


def _comment_doc(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "employee_id": comment.employee_id,
        "text": comment.text,
        "at": comment.at,
    }


def _draft_of(doc: dict[str, Any]) -> Draft:
    reaction = doc.get("reaction")
    return Draft(
        id=doc["_id"],
        pair_id=doc["pair_id"],
        author_id=doc["author_id"],
        buddy_id=doc["buddy_id"],
        network=Network(doc["network"]),
        text=doc["text"],
        created_at=doc["created_at"],
        url=doc.get("url"),
        title=doc.get("title") or "",
        comments=tuple(_comment_of(c) for c in doc.get("comments") or ()),
        reaction=DraftReaction(Reaction(reaction["name"]), reaction["employee_id"], reaction["at"])
        if reaction
        else None,
        reacted=bool(doc.get("reacted")),
        status=DraftStatus(doc["status"]),
        share_id=doc.get("share_id"),
        posted_at=doc.get("posted_at"),
    )
