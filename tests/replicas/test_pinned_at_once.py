"""Two people pinning one message at the same moment (each 📌 handled by another replica) put it on
the timeline once (found by the replicas' scripted day: both handlers found no entry for the
message, and both added one); pinned again after being struck out, it gets a new entry."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.domain.declaration import SourceMessage
from bot.domain.incident import Actor, TimelineKind
from storage.repository import TimelineRepository
from tests.workspace import Workspace, declare_and_wait, seed_workspace


async def pinned(incident_id: int) -> list[Any]:
    entries = await TimelineRepository().list(incident_id, limit=100)
    return [e for e in entries if e.kind is TimelineKind.PINNED_MESSAGE]


async def test_one_message_pinned_by_two_people_at_once_is_on_the_timeline_once(
    bot: Any, slack: Any
) -> None:
    ws: Workspace = seed_workspace(slack)
    incident = await declare_and_wait(bot, ws)
    source = SourceMessage(
        channel_id=incident.channel_id or "", ts="1764300000.000100", text="Rolled back to v41"
    )

    for _ in range(5):  # a race: give it a few chances
        added = await asyncio.gather(
            *(
                bot.service.pin_message(
                    incident.id, source, by=Actor.user(user), intent_key=f"{user}-{attempt}"
                )
                for attempt in range(3)
                for user in (ws.alice, ws.manager)
            )
        )
        assert len([entry for entry in added if entry is not None]) <= 1
    assert len(await pinned(incident.id)) == 1

    # Unpinned (struck out), then pinned again: a new entry.
    await bot.service.unpin_message(source.channel_id, source.ts, by=Actor.user(ws.alice))
    again = await bot.service.pin_message(
        incident.id, source, by=Actor.user(ws.alice), intent_key="again"
    )
    assert again is not None
    entries = await pinned(incident.id)
    assert [e.struck_out for e in entries] == [True, False]
