"""A scripted day for several real bot processes (``tests/replicas/test_scripted_day.py``, and by
hand, longer, ``bench/replicas_soak.py``): the processes on one PostgreSQL, one Slack (which hands
each envelope to one of their Socket Mode connections at random), one Jira and one PagerDuty, time
running 360 times faster (a P1's 30-minute update cadence is 5 s). The day: declarations,
updates, notes, reactions, status changes, reminders and changes made in Jira and PagerDuty.

Afterwards, from what the sandboxes recorded and the database: every effect happened exactly once
(one channel, announcement, pinned summary, Jira issue and page per incident; one timeline entry
per action; one message per reminder due time; no message twice) and none was lost (each action
shows, each reminder due was sent). From the processes' logs: every scheduled job ran, and no two
turns of one job ever overlapped, whichever process ran them."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot import ticket
from bot.blocks.ids import ActionId, BlockId, CallbackId
from bot.blocks.manage import CONFLICT_TEXT
from bot.clock import AcceleratedClock
from bot.config import Catalog
from bot.domain.incident import ClosureReason, Incident, Priority, Status, TimelineKind
from sandbox.jira import SandboxJira
from sandbox.jira.seed import seed_site
from sandbox.pagerduty import SandboxPagerDuty
from sandbox.slack import SlackSandbox
from sandbox.slack.state import Ephemeral, Message, View
from storage import db, models
from storage.repository import IncidentRepository, TimelineRepository
from tests.conftest import bot_process_env, free_port
from tests.replicas.conftest import (
    SPEEDUP,
    Replica,
    catalog_file,
    overlapping,
    start_replica,
    stop_replicas,
)
from tests.workspace import seed_workspace

REPLICAS = 3
P1_CADENCE = timedelta(minutes=30)  # the example catalog's P1 update reminder cadence
SCHEDULED_JOBS = {
    "send_update_reminders",
    "send_role_gap_reminders",
    "send_stale_mitigated_reminders",
    "send_postmortem_due_reminders",
    "pull_jira_changes",
    "pull_pagerduty_changes",
}
"""The jobs that run every few real seconds here (the clean-up runs every 6 hours and the digest
on Mondays, of real time: they are leased the same way)."""


# --- Slack surfaces ------------------------------------------------------------------------------


def declaration(title: str, summary: str, category: str, impact: tuple[str, str]) -> dict[str, Any]:
    """The declare modal's values, with one impact: (its type, its level)."""
    kind, level = impact
    return {
        f"{BlockId.DECLARE_IMPACT_PREFIX}{kind}": {ActionId.DECLARE_IMPACT.value: level},
        BlockId.DECLARE_TITLE.value: {BlockId.DECLARE_TITLE.value: title},
        BlockId.DECLARE_SUMMARY.value: {BlockId.DECLARE_SUMMARY.value: summary},
        BlockId.DECLARE_CATEGORY.value: {ActionId.DECLARE_CATEGORY.value: category},
        BlockId.DECLARE_ENVIRONMENTS.value: {BlockId.DECLARE_ENVIRONMENTS.value: ["PRD"]},
    }


async def modal(slack: SlackSandbox, user: str, callback: CallbackId) -> View:
    def visible() -> View | None:
        views = slack.views(user)
        return views[-1] if views and views[-1].payload.get("callback_id") == callback else None

    found: View = await slack.wait_for(visible, timeout=20)
    return found


async def submit(slack: SlackSandbox, user: str, view: View, values: dict[str, Any]) -> None:
    """Submit, and submit again when told the incident changed meanwhile (another replica may
    apply someone else's change between the form's opening and its submission: a person reads
    the warning and submits again)."""
    for _ in range(3):
        ack = await slack.submit_view(user, view.id, values)
        assert ack.acked and not ack.errors, ack.errors
        if not ack.payload:
            return
        shown = slack.render_blocks(ack.payload.get("view", {}).get("blocks"))
        assert CONFLICT_TEXT in shown, shown
    raise AssertionError(f"the form stayed stale: {shown}")


async def declare_from_the_shortcut(slack: SlackSandbox, user: str, values: dict[str, Any]) -> None:
    ack = await slack.run_global_shortcut(user, CallbackId.DECLARE_SHORTCUT)
    assert ack.acked
    await submit(slack, user, await modal(slack, user, CallbackId.DECLARE_MODAL), values)


async def declare_from_the_command(
    slack: SlackSandbox, user: str, channel: str, title: str, values: dict[str, Any]
) -> None:
    ack = await slack.run_slash_command(user, "/incident", f"open {title}", channel)
    assert ack.acked
    await submit(slack, user, await modal(slack, user, CallbackId.DECLARE_MODAL), values)


async def command(slack: SlackSandbox, user: str, channel: str, text: str) -> None:
    ack = await slack.run_slash_command(user, "/incident", text, channel)
    assert ack.acked


STALE_AFTER_ACK = "changed while you were editing it"
"""What a person is told when their form passed the check before its ack but the incident changed
before it was applied (another replica applied someone else's change in between): the form is
closed by then, so they open it again."""


def told(slack: SlackSandbox, user: str, needle: str) -> list[str]:
    """What the bot showed ``user`` (ephemerals and DMs) containing ``needle``."""
    shown: list[Message | Ephemeral] = [*slack.ephemerals(user), *slack.dms(user)]
    return [text for text in map(slack.render_message, shown) if needle in text]


async def through_form(
    slack: SlackSandbox,
    user: str,
    incident: Incident,
    subcommand: str,
    callback: CallbackId,
    values: dict[str, Any],
    applied: Callable[[Incident], bool],
) -> None:
    """``/incident <subcommand>`` in the incident's channel, its modal submitted with ``values``;
    returns once ``applied`` holds for the incident (opening the modal again when told the incident
    changed meanwhile, as a person would)."""
    for _ in range(3):
        stale = len(told(slack, user, STALE_AFTER_ACK))
        await command(slack, user, incident.channel_id or "", subcommand)
        await submit(slack, user, await modal(slack, user, callback), values)

        async def outcome(stale: int = stale) -> str | None:
            if applied(await IncidentRepository().require(incident.id)):
                return "applied"
            return "stale" if len(told(slack, user, STALE_AFTER_ACK)) > stale else None

        outcome.__name__ = f"#{incident.id} {subcommand} {values}"
        if await eventually_in_db(outcome) == "applied":
            return
    raise AssertionError(f"#{incident.id}: {subcommand} {values} never applied")


async def change_status(slack: SlackSandbox, user: str, incident: Incident, to: Status) -> None:
    values = {BlockId.STATUS.value: {BlockId.STATUS.value: to.value}}
    await through_form(
        slack, user, incident, "status", CallbackId.STATUS_MODAL, values, lambda i: i.status is to
    )


def submissions(slack: SlackSandbox) -> list[str]:
    """Each form submitted: by whom, which form, to which connections, and the ack."""
    shown = []
    for delivery in {id(d): d for d in slack.hub.deliveries.values()}.values():
        payload = delivery.payload
        if payload.get("type") != "view_submission":
            continue
        view = payload["view"]
        ack = delivery.ack.result() if delivery.ack.done() else "(no ack)"
        shown.append(
            f"{payload['user']['id']} {view['callback_id']} {view['id']} "
            f"{view.get('private_metadata')} sent={[c for c, _ in delivery.sent]} "
            f"ack={str(ack)[:120]}"
        )
    return shown


def bot_messages(slack: SlackSandbox, channel: str) -> list[Message]:
    return [
        m
        for m in slack.channels[channel].messages.values()
        if m.user == slack.bot_user_id and not m.subtype
    ]


def with_metadata(slack: SlackSandbox, prefix: str) -> list[Message]:
    """Every bot message (any channel, threads included) whose metadata type starts so."""
    return [
        m
        for channel in slack.channels
        for m in bot_messages(slack, channel)
        if str((m.metadata or {}).get("event_type", "")).startswith(prefix)
    ]


def incident_of(message: Message) -> int:
    return int((message.metadata or {})["event_payload"]["incident_id"])


# --- the database the processes share -------------------------------------------------------------


async def incidents() -> dict[str, Incident]:
    """Every incident, by title."""
    repository = IncidentRepository()
    return {
        incident.title: incident
        for incident in [await repository.require(row.id) for row in await models.Incident.all()]
    }


async def eventually_in_db(check: Any, within: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await check()
        if found:
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{check.__name__} not met within {within}s")
        await asyncio.sleep(0.1)


async def entries(incident_id: int, kind: TimelineKind) -> list[Any]:
    listed = await TimelineRepository().list(incident_id, limit=1000)
    return [e for e in listed if e.kind is kind]


# --- the day ---------------------------------------------------------------------------------------

CHECKOUT = "Checkout is down for everyone"
REFUNDS = "Card refunds are delayed"
SEARCH = "Search results are stale"


async def scripted_day(
    slack: SlackSandbox,
    process_database: str,
    jira: SandboxJira,
    pagerduty: SandboxPagerDuty,
    clock: AcceleratedClock,
    catalog: Catalog,
    tmp_path: Path,
    *,
    replicas_count: int = REPLICAS,
) -> list[Replica]:
    """Start ``replicas_count`` bot processes on the sandboxes (empty) and ``process_database``
    (empty), run the day, stop them and check what happened; returns the stopped replicas (their
    logs). On a failure, each replica's log is written to ``tmp_path`` and what the users were
    told is printed."""
    ws = seed_workspace(slack)
    slack.add_usergroup("search-team", [ws.bob])
    general = slack.add_channel("general", members=[ws.alice, ws.bob, ws.manager], bot=True)
    shaped = seed_site(
        jira,
        catalog,
        people=[("Alice Martin", "alice@example.com"), ("Bob Nguyen", "bob@example.com")],
    )
    config = catalog_file(tmp_path, catalog, shaped)

    def env() -> dict[str, str]:
        return bot_process_env(
            slack,
            process_database,
            free_port(),
            LOG_LEVEL="INFO",
            FIREFIGHTER_CONFIG=str(config),
            FIREFIGHTER_CLOCK_SPEEDUP=str(SPEEDUP),
            FIREFIGHTER_CLOCK_EPOCH=clock.epoch.isoformat(),
            REMINDER_SWEEP_SECONDS="0.2",
            OUTBOX_LEASE_SECONDS="3600",  # clock seconds: 10 real seconds
            JIRA_URL=jira.base_url,
            JIRA_USER=jira.bot.email,
            JIRA_API_TOKEN=jira.bot.api_token,
            JIRA_CLOUD="true",
            JIRA_PULL_SECONDS="1",
            PAGERDUTY_API_URL=pagerduty.base_url,
            PAGERDUTY_API_TOKEN=pagerduty.api_token,
            PAGERDUTY_FROM_EMAIL=pagerduty.bot.email,
            PAGERDUTY_CA_BUNDLE=str(pagerduty.ca_pem_path),
            PAGERDUTY_PULL_SECONDS="1",
        )

    # The first one migrates the database; the others start once it has.
    replicas: list[Replica] = [await start_replica(env())]
    try:
        await slack.wait_for_connection(timeout=60)
        replicas += [await start_replica(env()) for _ in range(replicas_count - 1)]
        await slack.wait_for_connection(timeout=60, count=replicas_count)
        async with db.database(process_database):
            await run_the_day(slack, jira, pagerduty, ws, general, clock)
            stopped_at = clock.now()
            await stop_replicas(replicas)
            await check_the_effects(slack, jira, pagerduty, stopped_at)
        check_the_jobs(replicas)
    except BaseException:
        await stop_replicas(replicas)
        for replica in replicas:  # shown by pytest with the failure
            log = tmp_path / f"replica-{replica.pid}.log"
            log.write_text("\n".join(replica.lines))
            print(f"--- replica {replica.pid} ({log}): errors", *replica.problems()[-20:], sep="\n")  # noqa: T201
        for user in (ws.alice, ws.bob, ws.manager):
            print(f"--- told {user}", *told(slack, user, ""), sep="\n")  # noqa: T201
        print("--- form submissions", *submissions(slack), sep="\n")  # noqa: T201
        raise
    finally:
        await stop_replicas(replicas)
    return replicas


async def run_the_day(
    slack: SlackSandbox,
    jira: SandboxJira,
    pagerduty: SandboxPagerDuty,
    ws: Any,
    general: str,
    clock: AcceleratedClock,
) -> None:
    # Three declarations: the shortcut (P1), and `/incident open` twice (P2, P3).
    await declare_from_the_shortcut(
        slack,
        ws.alice,
        declaration(
            CHECKOUT, "Orders cannot be placed since 10:02.", "payments", ("business", "high")
        ),
    )
    for user, title, summary, category, impact in (
        (ws.bob, REFUNDS, "Refunds queue since this morning.", "payments", ("business", "medium")),
        (
            ws.manager,
            SEARCH,
            "Results lag the catalogue by an hour.",
            "search",
            ("employees", "medium"),
        ),
    ):
        values = declaration(title, summary, category, impact)
        await declare_from_the_command(slack, user, general, title, values)

    async def all_ready() -> dict[str, Incident] | None:
        found = await incidents()
        ready = len(found) == 3 and all(
            i.channel_id and slack.channels[i.channel_id].pins for i in found.values()
        )
        return found if ready else None

    found: dict[str, Incident] = await eventually_in_db(all_ready)
    checkout, refunds, search = found[CHECKOUT], found[REFUNDS], found[SEARCH]
    assert (checkout.priority, refunds.priority, search.priority) == (
        Priority.P1,
        Priority.P2,
        Priority.P3,
    )
    channels = {title: i.channel_id or "" for title, i in found.items()}

    # Reactions: 📌 puts a message on the timeline, 📣 broadcasts it.
    await slack.join_channel(ws.bob, channels[CHECKOUT])
    rolled_back = await slack.post_message(ws.alice, channels[CHECKOUT], "Rolled back to v41")
    error_rate = await slack.post_message(ws.bob, channels[CHECKOUT], "Error rate back at 2%")
    queue = await slack.post_message(ws.bob, channels[REFUNDS], "Refund worker restarted")
    await slack.add_reaction(ws.alice, channels[CHECKOUT], rolled_back, "pushpin")
    await slack.add_reaction(ws.bob, channels[CHECKOUT], error_rate, "pushpin")
    await slack.add_reaction(ws.alice, channels[CHECKOUT], error_rate, "pushpin")  # a second 📌
    await slack.add_reaction(ws.bob, channels[REFUNDS], queue, "pushpin")
    await slack.add_reaction(ws.bob, channels[REFUNDS], queue, "mega")

    # Updates: the update modal, a note, status changes.
    summary = "Rolled back; watching."
    await through_form(
        slack,
        ws.alice,
        checkout,
        "update",
        CallbackId.UPDATE_MODAL,
        {BlockId.UPDATE_SUMMARY.value: {BlockId.UPDATE_SUMMARY.value: summary}},
        lambda i: i.summary == summary,
    )
    await command(slack, ws.bob, channels[REFUNDS], "note Refunds are flowing again")
    await change_status(slack, ws.bob, refunds, Status.MITIGATING)
    await change_status(slack, ws.manager, search, Status.MITIGATED)

    # People elsewhere: the P2's priority raised in Jira, the P1's page acknowledged in PagerDuty.
    async def tickets() -> bool:
        return all(_issues_of(jira, i.id) for i in found.values())

    await eventually_in_db(tickets)
    (refunds_issue,) = _issues_of(jira, refunds.id)
    alice_in_jira = next(a for a in jira.accounts.values() if a.email == "alice@example.com")
    jira.edit_as(alice_in_jira, refunds_issue.key, {"priority": {"name": "Highest"}})
    page = await slack.wait_for(lambda: _pages_of(pagerduty, checkout.id), timeout=30)
    olive = next(u for u in pagerduty.users.values() if u.email == "oncall@example.com")
    pagerduty.acknowledge_as(olive, page[0].id)

    async def raised() -> bool:
        return (await IncidentRepository().require(refunds.id)).priority is Priority.P1

    await eventually_in_db(raised)
    await slack.wait_for(
        lambda: any(
            "acknowledged the page" in m.text for m in bot_messages(slack, channels[CHECKOUT])
        ),
        timeout=30,
    )

    # The search incident turns out a false alarm: closed early from the close modal.
    await through_form(
        slack,
        ws.manager,
        search,
        "close",
        CallbackId.CLOSE_MODAL,
        {
            BlockId.CLOSURE_REASON.value: {
                BlockId.CLOSURE_REASON.value: ClosureReason.FALSE_ALARM.value
            }
        },
        lambda i: i.status is Status.CLOSED,
    )

    # A quiet stretch: the P1 gets an update reminder every 30 minutes (5 real seconds).
    async def reminded_thrice() -> bool:
        reminders = with_metadata(slack, "firefighter_reminder_update_")
        return sum(incident_of(m) == checkout.id for m in reminders) >= 3

    await eventually_in_db(reminded_thrice, within=40)
    await change_status(slack, ws.bob, refunds, Status.MITIGATED)
    await outbox_settled(clock)


async def outbox_settled(clock: AcceleratedClock, within: float = 30.0) -> None:
    """Every side effect due within the next real seconds is done (a channel's archive, due a
    day after the close, may wait)."""

    async def settled() -> bool:
        soon = clock.now() + timedelta(minutes=10)
        return not await models.OutboxItem.filter(
            status__in=["pending", "in_progress"], next_attempt_at__lte=soon
        ).exists()

    await eventually_in_db(settled, within=within)


def _issues_of(jira: SandboxJira, incident_id: int) -> list[Any]:
    marker = ticket.marker(incident_id)
    return [i for i in jira.issues.values() if marker in (i.values.get("labels") or [])]


def _pages_of(pagerduty: SandboxPagerDuty, incident_id: int) -> list[Any]:
    prefix = f"firefighter-{incident_id}-"
    return [i for i in pagerduty.incidents.values() if (i.incident_key or "").startswith(prefix)]


# --- what happened ---------------------------------------------------------------------------------


async def check_the_effects(
    slack: SlackSandbox, jira: SandboxJira, pagerduty: SandboxPagerDuty, stopped_at: datetime
) -> None:
    found = await incidents()
    assert len(found) == 3
    checkout, refunds, search = found[CHECKOUT], found[REFUNDS], found[SEARCH]

    # One channel, one pinned summary, one announcement per incident.
    created = [c for c in slack.channels.values() if c.name.startswith("inc-")]
    assert len(created) == 3
    assert len(slack.calls("conversations.create")) == 3
    for incident in found.values():
        channel = slack.channels[incident.channel_id or ""]
        assert len(channel.pins) == 1, channel.name
        summaries = [
            m
            for m in bot_messages(slack, channel.id)
            if (m.metadata or {}).get("event_type") == "firefighter_summary"
        ]
        assert len(summaries) == 1, channel.name
    announced = Counter(map(incident_of, with_metadata(slack, "firefighter_announcement")))
    assert announced == {i.id: 1 for i in found.values()}

    # One timeline entry per action, and each action shows.
    pinned = await entries(checkout.id, TimelineKind.PINNED_MESSAGE)
    assert sorted(e.text for e in pinned) == ["Error rate back at 2%", "Rolled back to v41"]
    assert [e.text for e in await entries(refunds.id, TimelineKind.PINNED_MESSAGE)] == [
        "Refund worker restarted"
    ]
    assert [e.text for e in await entries(refunds.id, TimelineKind.NOTE)] == [
        "Refunds are flowing again"
    ]
    broadcasts = [
        m
        for channel in slack.channels
        for m in bot_messages(slack, channel)
        if m.text.startswith("Status update on #") and "Refund worker restarted" in m.text
    ]
    assert len(broadcasts) == 1  # the 📣, in the announcement channel
    assert checkout.summary == "Rolled back; watching."
    summary_ts = next(iter(slack.channels[checkout.channel_id or ""].pins))
    assert "Rolled back; watching." in slack.render_message(
        slack.channels[checkout.channel_id or ""].messages[summary_ts]
    )
    assert refunds.status is Status.MITIGATED and search.status is Status.CLOSED
    statuses = [e.data.get("to") for e in await entries(refunds.id, TimelineKind.STATUS_CHANGE)]
    assert statuses == [Status.MITIGATING.value, Status.MITIGATED.value], statuses
    priority_changes = await entries(refunds.id, TimelineKind.PRIORITY_CHANGE)
    assert len(priority_changes) == 1 and refunds.priority is Priority.P1
    acknowledged = [
        m
        for m in bot_messages(slack, checkout.channel_id or "")
        if "acknowledged the page" in m.text
    ]
    assert len(acknowledged) == 1

    # One Jira issue per incident, one PagerDuty incident per P1/P2 (search is a P3: no page).
    for incident in found.values():
        assert len(_issues_of(jira, incident.id)) == 1, incident.title
    created_issues = [
        r for r in jira.requests if r.method == "POST" and r.path.rstrip("/").endswith("/issue")
    ]
    assert len(created_issues) == 3
    assert len(_pages_of(pagerduty, checkout.id)) == 1
    assert len(_pages_of(pagerduty, refunds.id)) == 1
    assert not _pages_of(pagerduty, search.id)

    # One message per reminder due time, and every due time sent.
    reminders = with_metadata(slack, "firefighter_reminder_")
    kinds = Counter((incident_of(m), str((m.metadata or {})["event_type"])) for m in reminders)
    assert all(count == 1 for count in kinds.values()), kinds
    for row in await models.Reminder.all():
        sent = [
            m
            for m in reminders
            if incident_of(m) == row.incident_id
            and str((m.metadata or {})["event_type"]).startswith(
                f"firefighter_reminder_{row.kind}_"
            )
        ]
        assert len(sent) == row.sent_count, (row.kind, row.incident_id, len(sent))
        if row.due_at is not None:
            # Each due time is sent within a sweep (0.2 real s: 72 clock s) and its post.
            assert row.due_at > stopped_at - timedelta(minutes=5), (row.kind, row.due_at)
    update_times = sorted(
        datetime.fromisoformat(m.metadata["event_payload"]["due_at"])  # type: ignore[index]
        for m in reminders
        if incident_of(m) == checkout.id
        and str((m.metadata or {})["event_type"]).startswith("firefighter_reminder_update_")
    )
    assert len(update_times) >= 3
    # After the last update of the P1, one reminder every cadence, none skipped.
    gaps = [later - earlier for earlier, later in itertools.pairwise(update_times[-3:])]
    assert all(gap == P1_CADENCE for gap in gaps), update_times
    role_gaps = [m for m in reminders if str((m.metadata or {})["event_type"]).find("role_gap") > 0]
    assert Counter(map(incident_of, role_gaps)) == {checkout.id: 1, refunds.id: 1}

    # No bot message twice (same place, same words, same metadata).
    for channel_id, place in slack.channels.items():
        said = Counter(
            (m.thread_ts, m.text, str(m.blocks), str(m.metadata))
            for m in bot_messages(slack, channel_id)
        )
        repeated = [key for key, count in said.items() if count > 1]
        assert not repeated, (place.name, repeated)
    assert not await models.OutboxItem.filter(status="failed").exists()
    assert slack.user_errors == []


def check_the_jobs(replicas: list[Replica]) -> None:
    runs = [run for replica in replicas for run in replica.job_runs()]
    ran = {run.job for run in runs}
    assert ran >= SCHEDULED_JOBS, f"never ran: {SCHEDULED_JOBS - ran}"
    # "cancelled": a turn the SIGTERM at the end interrupted.
    failed = [run for run in runs if run.outcome not in ("done", "cancelled")]
    assert not failed, failed
    assert overlapping(runs) == []
    for replica in replicas:
        assert replica.process.returncode == 0, "\n".join(replica.lines[-30:])
        # (Shutdown is the fault tests' subject; here, the day itself must log no error.)
        problems = replica.problems(until_shutdown=True)
        assert not problems, "\n".join(problems[:10])
