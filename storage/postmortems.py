"""Post-mortem pages of incidents (Confluence).

A ``Postmortem`` row is written once the page exists in Confluence (the outbox job that creates it
records it). ``version`` and ``digest`` are what the bot last wrote (the page version, and a digest
of the sections it generates), so a timeline change that leaves those sections as they were costs
no request. ``ready`` is the page's "ready" state as last read from Confluence (or Jira), which the
close gate checks without any vendor call inside its transaction.

A page deleted in Confluence is marked ``deleted_at``; a new page asked for afterwards replaces it
on the same row (one post-mortem per incident).
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Collection
from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from storage import models


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Postmortem:
    incident_id: int
    page_id: str
    space_key: str
    title: str
    url: str
    version: int = 1
    digest: str = ""
    ready: bool = False
    ready_at: datetime | None = None
    checked_at: datetime | None = None
    deleted_at: datetime | None = None

    @property
    def live(self) -> bool:
        """The page exists (it was not deleted in Confluence)."""
        return self.deleted_at is None


def _postmortem(row: models.Postmortem) -> Postmortem:
    return Postmortem(
        incident_id=row.incident_id,
        page_id=row.page_id,
        space_key=row.space_key,
        title=row.title,
        url=row.url,
        version=row.version,
        digest=row.digest,
        ready=row.ready,
        ready_at=row.ready_at,
        checked_at=row.checked_at,
        deleted_at=row.deleted_at,
    )


class PostmortemRepository:
    async def get(self, incident_id: int) -> Postmortem | None:
        row = await models.Postmortem.get_or_none(incident_id=incident_id)
        return _postmortem(row) if row else None

    async def links(self, incident_ids: Collection[int]) -> dict[int, str]:
        """``{incident_id: url}`` of the live post-mortem pages of these incidents."""
        if not incident_ids:
            return {}
        rows = await models.Postmortem.filter(
            incident_id__in=list(incident_ids), deleted_at__isnull=True
        ).values_list("incident_id", "url")
        return {int(i): str(u) for i, u in rows}

    async def of_open_incidents(self) -> builtins.list[Postmortem]:
        """The post-mortems of incidents not closed yet: those whose readiness still matters."""
        rows = await models.Postmortem.filter(incident__status__not="closed").order_by(
            "incident_id"
        )
        return [_postmortem(row) for row in rows]

    async def record(
        self,
        incident_id: int,
        *,
        page_id: str,
        space_key: str,
        title: str,
        url: str,
        version: int,
        digest: str,
        at: datetime,
    ) -> tuple[Postmortem, bool]:
        """Remember the incident's page. A live page already recorded wins (a retried job finds
        it); a deleted one is replaced. Returns the post-mortem and whether it was recorded now."""
        values: dict[str, Any] = {
            "page_id": page_id,
            "space_key": space_key,
            "title": title,
            "url": url,
            "version": version,
            "digest": digest,
            "ready": False,
            "ready_at": None,
            "checked_at": None,
            "deleted_at": None,
            "updated_at": at,
        }
        existing = await models.Postmortem.get_or_none(incident_id=incident_id)
        if existing is not None:
            if existing.deleted_at is None:
                return _postmortem(existing), False
            replaced = await models.Postmortem.filter(
                id=existing.id, deleted_at__isnull=False
            ).update(**values)
            row = await models.Postmortem.get(id=existing.id)
            return _postmortem(row), bool(replaced)
        try:
            row = await models.Postmortem.create(incident_id=incident_id, created_at=at, **values)
        except IntegrityError:
            return _postmortem(await models.Postmortem.get(incident_id=incident_id)), False
        return _postmortem(row), True

    async def remember_sync(
        self, incident_id: int, *, page_id: str, version: int, digest: str, at: datetime
    ) -> None:
        """What the bot just wrote to the page (only while it is still that page)."""
        await models.Postmortem.filter(incident_id=incident_id, page_id=page_id).update(
            version=version, digest=digest, updated_at=at
        )

    async def set_ready(self, incident_id: int, *, page_id: str, ready: bool, at: datetime) -> bool:
        """Record the page's readiness as just read; True when it changed."""
        await models.Postmortem.filter(incident_id=incident_id, page_id=page_id).update(
            checked_at=at
        )
        changed = await models.Postmortem.filter(
            incident_id=incident_id, page_id=page_id, ready=not ready
        ).update(ready=ready, ready_at=at if ready else None, updated_at=at)
        return bool(changed)

    async def mark_deleted(self, incident_id: int, *, page_id: str, at: datetime) -> bool:
        """The page is gone from Confluence; True the first time."""
        updated = await models.Postmortem.filter(
            incident_id=incident_id, page_id=page_id, deleted_at__isnull=True
        ).update(deleted_at=at, ready=False, ready_at=None, updated_at=at)
        return bool(updated)

    async def mark_restored(self, incident_id: int, *, page_id: str, at: datetime) -> bool:
        """The deleted page is back (restored from the space's trash); True the first time."""
        updated = await models.Postmortem.filter(
            incident_id=incident_id, page_id=page_id, deleted_at__isnull=False
        ).update(deleted_at=None, updated_at=at)
        return bool(updated)
