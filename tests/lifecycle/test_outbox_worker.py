"""The outbox worker on its own: a job a crashed worker held is resumed once its lease expires,
and several workers on one PostgreSQL perform each side effect once."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from bot.clock import SystemClock
from bot.config import Catalog, Settings
from bot.domain.incident import Actor
from bot.service import IncidentService
from bot.wiring import build_service, build_web_client, build_worker, close_web_client
from bot.worker import OutboxWorker
from integrations.slack import SlackChat
from sandbox.slack import SlackSandbox
from storage import models, outbox
from tests.workspace import Workspace, outage, outbox_idle


async def wired(
    stack: AsyncExitStack, slack: SlackSandbox, catalog: Catalog, name: str
) -> tuple[IncidentService, OutboxWorker]:
    settings = Settings(
        slack_bot_token=slack.bot_token,
        slack_app_token=slack.app_token,
        slack_api_url=slack.base_url,
    )
    client = build_web_client(settings)
    stack.push_async_callback(close_web_client, client)
    identity = await client.auth_test()
    chat = SlackChat(client, str(identity["user_id"]))
    service = build_service(catalog, SystemClock(), chat=chat)
    worker, _ = build_worker(service, chat, worker_id=name, lease_seconds=0.5)
    return service, worker


async def test_a_job_held_by_a_dead_worker_is_resumed_after_its_lease(
    db: object, slack: SlackSandbox, ws: Workspace, catalog: Catalog
) -> None:
    async with AsyncExitStack() as stack:
        service, worker = await wired(stack, slack, catalog, "survivor")
        service.wake = lambda: None  # nobody performs it yet
        declared = await service.declare(outage(), by=Actor.user(ws.alice), intent_key="k")
        held = await outbox.claim("dead-worker", lease_seconds=0.5)
        assert [job.kind for job in held] == ["slack.sync"]

        assert await outbox.claim("survivor") == []  # leased: nobody else takes it
        await asyncio.sleep(0.6)  # the dead worker's lease runs out
        await worker.run_until_idle(10)

        job = await outbox.get(held[0].id)
        assert job is not None and job.status.value == "done" and job.attempts == 2
        incident = await service.require(declared.incident.id)
        assert incident.channel_id is not None
        assert len(slack.channels[incident.channel_id].pins) == 1


async def test_two_workers_on_one_database_perform_each_side_effect_once(
    db: object, slack: SlackSandbox, ws: Workspace, catalog: Catalog
) -> None:
    async with AsyncExitStack() as stack:
        service, first = await wired(stack, slack, catalog, "first")
        _, second = await wired(stack, slack, catalog, "second")
        service.wake = lambda: None
        for n in range(6):
            await service.declare(
                outage(title=f"Checkout outage number {n}"),
                by=Actor.user(ws.alice),
                intent_key=f"k{n}",
            )
        tasks = [asyncio.create_task(w.run()) for w in (first, second)]
        try:
            await outbox_idle(20)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        assert len(slack.calls("conversations.create")) == 6
        assert len(slack.messages(ws.incidents)) == 6
        channels = [i.channel_id for i in await models.Incident.all()]
        assert all(len(slack.channels[c].pins) == 1 for c in channels)
        performers = await models.OutboxItem.all().values_list("locked_by", flat=True)
        assert set(performers) == {None}


async def test_a_call_rate_limited_more_times_than_the_attempts_still_goes_out(
    db: object, slack: SlackSandbox, ws: Workspace, catalog: Catalog
) -> None:
    # Twice as many 429s as a job has attempts: a queue behind Slack's rate limit, not a failure.
    async with AsyncExitStack() as stack:
        service, worker = await wired(stack, slack, catalog, "patient")
        worker.max_attempts = 3
        slack.inject_rate_limit("conversations.create", retry_after=0, times=6)
        declared = await service.declare(outage(), by=Actor.user(ws.alice), intent_key="k")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        incident = await service.require(declared.incident.id)
        while incident.channel_id is None and loop.time() < deadline:
            await worker.run_until_idle(1)  # returns while the job waits out a Retry-After
            await asyncio.sleep(0.1)
            incident = await service.require(declared.incident.id)
        assert incident.channel_id is not None
        assert await models.OutboxItem.filter(status="failed").count() == 0
