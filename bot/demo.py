"""``firefighter demo``: the real bot against the local Slack sandbox, played as users would.

It starts the sandbox, runs ``bot.main.run`` (the same code as ``firefighter run``: database,
migrations, Socket Mode, scheduler, health server), drives a scripted incident lifecycle through
Socket Mode (declare from a message, on-call paged through PagerDuty and acknowledging there, timeline,
roles, broadcast, status, the close gate and its fixes,
an update reminder on a sped-up clock and its Snooze, a timeline correction, a cost, a private
P1, a P4 without a channel, the stats and their chart, App Home), prints what each person sees in Slack, and can write
a JSON report of the session: requests and contract violations, the transcript, the Slack state and
the incidents as stored in the database."""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.blocks.ids import ActionId, BlockId, CallbackId
from bot.config import Catalog, Settings
from bot.domain.incident import Incident, Milestone, Status, TimelineEntry
from bot.domain.milestones import MILESTONE_LABELS
from bot.main import run
from sandbox.confluence import SandboxConfluence
from sandbox.jira import SandboxJira
from sandbox.jira.seed import seed_site
from sandbox.pagerduty import SandboxPagerDuty
from sandbox.pagerduty.seed import add_people, seed_account
from sandbox.slack import SlackSandbox
from sandbox.slack.render import readable
from sandbox.slack.state import Ephemeral, Message, User, View
from storage.pages import PageRepository
from storage.postmortems import PostmortemRepository
from storage.repository import IncidentRepository, TimelineRepository
from storage.tickets import TicketRepository

STEP_TIMEOUT = 10.0
SPEEDUP = 720.0
"""While the demo waits for an update reminder, one real second is twelve minutes of the bot's."""
JIRA_PULL_SECONDS = 0.5
"""The bot pulls Jira this often in the demo (real seconds; the catalog's minimum is 15 s)."""
CONFLUENCE_PULL_SECONDS = 0.5
"""The bot reads the post-mortems' labels back this often in the demo (real seconds)."""
PAGERDUTY_PULL_SECONDS = 0.5
"""The bot pulls PagerDuty acknowledgements this often in the demo (real seconds)."""
REMINDER_SWEEP_SECONDS = 0.25
"""The bot looks for due reminders this often (real seconds) so that one shows up at once."""
TITLE = "Card payments failing at checkout"
QUIET_PERIOD = 0.15
"""Slack is considered settled when no API call arrived for this long and every envelope is acked."""


class DemoClock:
    """The bot's clock: real time, except while the demo makes time fly (``fast``), after which it
    stays ahead by the time that flew. Never goes backwards."""

    def __init__(self) -> None:
        self._ahead = timedelta(0)
        self._fast_since: datetime | None = None
        self.speedup = 1.0

    def now(self) -> datetime:
        real = datetime.now(UTC)
        return real + self._ahead + self._flown(real)

    def _flown(self, real: datetime) -> timedelta:
        if self._fast_since is None:
            return timedelta(0)
        return (real - self._fast_since) * (self.speedup - 1)

    def fast(self, speedup: float) -> None:
        self.normal()
        self._fast_since, self.speedup = datetime.now(UTC), speedup

    def normal(self) -> None:
        real = datetime.now(UTC)
        self._ahead += self._flown(real)
        self._fast_since, self.speedup = None, 1.0

    @property
    def ahead(self) -> timedelta:
        return self._ahead + self._flown(datetime.now(UTC))


class DemoStepFailed(RuntimeError):
    """What the script waited for never showed up in Slack."""


@dataclass
class Step:
    """One thing a user did, and what Slack showed afterwards."""

    actor: str
    action: str
    shown: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"actor": self.actor, "action": self.action, "shown": self.shown}


@dataclass
class Transcript:
    steps: list[Step] = field(default_factory=list)
    quiet: bool = False

    def scene(self, title: str) -> None:
        if not self.quiet:
            print(f"\n\n══ {title} " + "═" * max(3, 96 - len(title)))

    def record(self, step: Step) -> None:
        self.steps.append(step)
        if self.quiet:
            return
        print(f"\n▶ {step.actor} {step.action}")
        for index, block in enumerate(step.shown):
            if index:
                print("   │")
            for line in block.splitlines() or [""]:
                print(f"   │ {line}")


async def run_demo(
    settings: Settings, catalog: Catalog, *, report: Path | None, quiet: bool
) -> int:
    transcript = Transcript(quiet=quiet)
    with tempfile.TemporaryDirectory(prefix="firefighter-demo-") as tmp:
        async with (
            SlackSandbox() as slack,
            SandboxJira(mode="cloud") as jira,
            SandboxConfluence(space_key=catalog.confluence.space_key or "PM") as confluence,
            SandboxPagerDuty() as pagerduty,
        ):
            database_url = (
                settings.database_url
                if settings.model_fields_set.intersection({"database_url"})
                else f"sqlite://{Path(tmp) / 'demo.sqlite3'}"
            )
            bot_settings = settings.model_copy(
                update={
                    "slack_bot_token": SecretStr(slack.bot_token),
                    "slack_app_token": SecretStr(slack.app_token),
                    "slack_api_url": slack.base_url,
                    "database_url": database_url,
                    "http_host": "127.0.0.1",
                    "http_port": 0,
                    "reminder_sweep_seconds": REMINDER_SWEEP_SECONDS,
                    "jira_url": jira.base_url,
                    "jira_user": jira.bot.email,
                    "jira_api_token": SecretStr(jira.bot.api_token),
                    "jira_cloud": True,
                    "jira_pull_seconds": JIRA_PULL_SECONDS,
                    "confluence_url": confluence.base_url,
                    "confluence_user": confluence.bot.email,
                    "confluence_api_token": SecretStr(confluence.bot.api_token),
                    "confluence_pull_seconds": CONFLUENCE_PULL_SECONDS,
                    "pagerduty_api_url": pagerduty.base_url,
                    "pagerduty_api_token": SecretStr(pagerduty.api_token),
                    "pagerduty_from_email": pagerduty.bot.email,
                    "pagerduty_ca_bundle": Path(pagerduty.ca_pem_path),
                    "pagerduty_pull_seconds": PAGERDUTY_PULL_SECONDS,
                }
            )
            catalog = _jira_site(jira, catalog)
            catalog = _confluence_site(confluence, catalog)
            _pagerduty_account(pagerduty, catalog)
            _print(quiet, f"Slack sandbox on {slack.base_url} · database {_safe_url(database_url)}")
            # The people and channels exist before the bot starts (it looks the catalog's up).
            clock = DemoClock()
            chart = (
                report.with_name(f"{report.stem}-stats.png")
                if report is not None
                else Path.cwd() / "firefighter-demo-stats.png"
            )
            postmortem_file = (
                report.with_name(f"{report.stem}-postmortem.html")
                if report is not None
                else Path.cwd() / "firefighter-demo-postmortem.html"
            )
            demo = _Demo(
                slack,
                catalog,
                transcript,
                clock=clock,
                chart=chart,
                jira=jira,
                confluence=confluence,
                postmortem_file=postmortem_file,
                pagerduty=pagerduty,
            )
            stop, ready = asyncio.Event(), asyncio.Event()
            bot_task = asyncio.create_task(
                run(bot_settings, catalog, stop=stop, ready=ready, clock=clock)
            )
            incidents: list[dict[str, Any]] = []
            failure: str | None = None
            try:
                await _wait_until_ready(ready, bot_task)
                await slack.wait_for_connection(timeout=STEP_TIMEOUT)
                _print(quiet, "FireFighter is connected over Socket Mode.")
                try:
                    await _play(demo)
                except DemoStepFailed as failed:
                    failure = str(failed)
                finally:
                    clock.normal()
                # Read while the bot (and its database) still runs.
                incidents = await _stored_incidents()
            finally:
                stop.set()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(bot_task, timeout=STEP_TIMEOUT)
            violations = [
                {"method": v.method, "kind": v.kind, "detail": v.detail} for v in slack.violations
            ]
            jira_violations = [
                {"operation": v.operation, "kind": v.kind, "detail": v.detail}
                for v in jira.violations
            ]
            confluence_violations = [
                {"operation": v.operation, "kind": v.kind, "detail": v.detail}
                for v in confluence.violations
            ]
            pagerduty_violations = [
                {"operation": v.operation, "kind": v.kind, "detail": v.detail}
                for v in pagerduty.violations
            ]
            if report is not None:
                text = json.dumps(
                    {
                        "servers": {
                            "slack": {
                                "requests": len(slack.requests),
                                "violations": violations,
                            },
                            "jira": {
                                "requests": len(jira.requests),
                                "violations": jira_violations,
                            },
                            "confluence": {
                                "requests": len(confluence.requests),
                                "violations": confluence_violations,
                            },
                            "pagerduty": {
                                "requests": len(pagerduty.requests),
                                "violations": pagerduty_violations,
                            },
                        },
                        "postmortem": str(demo.postmortem_saved) if demo.postmortem_saved else None,
                        "transcript": [step.as_json() for step in transcript.steps],
                        "failure": failure,
                        "chart": str(demo.chart_saved) if demo.chart_saved else None,
                        "state": {"slack": slack.snapshot(), "incidents": incidents},
                    },
                    indent=2,
                    default=str,
                )
                await asyncio.to_thread(report.write_text, text)
            if not quiet:
                transcript.scene("The incidents, as stored in the database")
                print(_incident_table(incidents))
                if report is not None:
                    print(f"\nReport written to {report}")
                if demo.chart_saved is not None:
                    print(f"Stats chart saved to {demo.chart_saved}")
                if demo.postmortem_saved is not None:
                    print(f"Post-mortem page saved to {demo.postmortem_saved}")
            _print(
                quiet,
                f"\nSlack sandbox: {len(slack.requests)} requests, {len(violations)} contract violations.",
            )
            _print(
                quiet,
                f"Jira sandbox: {len(jira.requests)} requests, "
                f"{len(jira_violations)} contract violations.",
            )
            _print(
                quiet,
                f"Confluence sandbox: {len(confluence.requests)} requests, "
                f"{len(confluence_violations)} contract violations.",
            )
            _print(
                quiet,
                f"PagerDuty sandbox: {len(pagerduty.requests)} requests, "
                f"{len(pagerduty_violations)} contract violations.",
            )
            for violation in [
                *violations,
                *jira_violations,
                *confluence_violations,
                *pagerduty_violations,
            ]:
                print(f"  violation: {violation}")
            if failure:
                print(f"\nThe demo stopped early: {failure}")
            broken = (
                violations
                or jira_violations
                or confluence_violations
                or pagerduty_violations
                or failure
            )
            return 1 if broken else 0


# --------------------------------------------------------------------------------------------------
# The script
# --------------------------------------------------------------------------------------------------


async def _play(demo: _Demo) -> None:
    await demo.introduction()
    incident = await demo.declare_from_message()
    await demo.jira_ticket(incident)
    await demo.page_on_call(incident)
    await demo.build_the_timeline(incident)
    await demo.hand_over_communications(incident)
    await demo.update_reminder(incident)
    await demo.broadcast_and_mitigate(incident)
    await demo.page_resolved(incident)
    await demo.postmortem_page(incident)
    await demo.correct_the_timeline(incident)
    await demo.close_through_the_gate(incident)
    await demo.save_postmortem(incident)
    await demo.private_p1()
    await demo.p4_without_channel()
    await demo.stats()
    await demo.app_home()


@dataclass
class _Channels:
    general: str
    alerts: str
    security: str
    incidents: str
    major: str
    deployments: str
    private_digest: str


class _Demo:
    """The people, their channels and the script's moves, each recorded as a Step."""

    def __init__(
        self,
        slack: SlackSandbox,
        catalog: Catalog,
        transcript: Transcript,
        *,
        clock: DemoClock,
        chart: Path,
        jira: SandboxJira,
        confluence: SandboxConfluence,
        postmortem_file: Path,
        pagerduty: SandboxPagerDuty,
    ) -> None:
        self.slack = slack
        self.pagerduty = pagerduty
        self.jira = jira
        self.confluence = confluence
        self.postmortem_file = postmortem_file
        self.postmortem_saved: Path | None = None
        self.ready_label = catalog.confluence.ready_label
        self.clock = clock
        self.chart = chart
        self.chart_saved: Path | None = None
        self.command = catalog.slack.command
        self.tz = catalog.reminders.tz
        self.transcript = transcript
        self.alice = slack.add_user("alice", real_name="Alice Martin")
        self.bob = slack.add_user("bob", real_name="Bob Nguyen")
        self.carol = slack.add_user("carol", real_name="Carol Diaz")
        self.dave = slack.add_user("dave", real_name="Dave Okafor")
        # The example catalog names two more people: the payments lead (by id) and the back-office
        # lead (by e-mail).
        self.pat = "U0PAYLEAD1"
        slack.ws.users[self.pat] = User(self.pat, "pat", "Pat Keller", "pat@example.com")
        slack.add_user("ops.lead", real_name="Olga Lind")
        self.names = {
            self.alice: "Alice",
            self.bob: "Bob",
            self.carol: "Carol",
            self.dave: "Dave",
            self.pat: "Pat",
        }
        slack.add_usergroup("payments-oncall", [self.bob], "Payments on-call")
        slack.add_usergroup("security-team", [self.dave], "Security team")
        slack.add_usergroup("incident-managers", [], "Incident managers")
        slack.add_usergroup("engineering-managers", [], "Engineering managers")
        everyone = [self.alice, self.bob, self.carol, self.dave]
        self.channels = _Channels(
            general=slack.add_channel("general", members=everyone),
            alerts=slack.add_channel("checkout-alerts", members=[self.bob, self.alice], bot=True),
            security=slack.add_channel("security", members=[self.dave], bot=True),
            incidents=slack.add_channel("incidents", members=everyone, bot=True),
            major=slack.add_channel("incidents-major", members=everyone, bot=True),
            deployments=slack.add_channel("deployments", members=everyone, bot=True),
            private_digest=slack.add_channel(
                "incidents-private", is_private=True, members=[self.dave], bot=True
            ),
        )

    # -- scenes ------------------------------------------------------------------------------------

    async def introduction(self) -> None:
        self.transcript.scene("0 · A quiet morning")
        await self.slash(self.alice, "", self.channels.general)
        await self.home(self.alice)

    async def declare_from_message(self) -> Incident:
        slack, alice, bob = self.slack, self.alice, self.bob
        self.transcript.scene("1 · Bob reports a problem, Alice declares an incident from it")
        report_text = (
            "Card payments fail with 502 since 14:02, about 40% of checkouts are refused. "
            "Wallets still work."
        )
        source_ts = await slack.post_message(bob, self.channels.alerts, report_text)
        await self.quiet()
        self.record(bob, "posts in #checkout-alerts", [report_text])
        self.source_ts = source_ts

        await slack.run_message_shortcut(
            alice, CallbackId.DECLARE_FROM_MESSAGE.value, self.channels.alerts, source_ts
        )
        view = await self.modal(alice, CallbackId.DECLARE_MODAL)
        await self.quiet()  # the link to the message arrives with a views.update
        self.record(
            alice,
            "uses the message shortcut “Declare incident from message” on Bob's message",
            [self.render_view(view)],
        )

        business = f"{BlockId.DECLARE_IMPACT_PREFIX}business"
        await slack.click_button(
            alice,
            ActionId.DECLARE_IMPACT.value,
            view_id=view.id,
            block_id=business,
            value="medium",
        )
        await self.need(
            lambda: "P2" in self.priority_preview(view), "the live priority of the declare modal"
        )
        self.record(
            alice,
            "sets the Business impact to Medium (the modal updates the priority as she picks)",
            [self.priority_preview(view)],
        )

        before = self.channel_ids()
        values: dict[str, dict[str, Any]] = {
            business: {ActionId.DECLARE_IMPACT.value: "medium"},
            BlockId.DECLARE_TITLE.value: {BlockId.DECLARE_TITLE.value: TITLE},
            BlockId.DECLARE_CATEGORY.value: {ActionId.DECLARE_CATEGORY.value: "payments"},
        }
        await slack.submit_view(alice, view.id, values)
        confirmation = await self.told(alice, "Declared")
        incident = await self.incident_with_channel(before)
        channel = incident.channel_id
        assert channel is not None
        await self.need(
            lambda: (
                slack.channels[channel].pins
                and slack.messages(self.channels.incidents)
                and len(slack.thread(self.channels.alerts, source_ts)) > 1
            ),
            "the new channel's pinned summary, the announcement and the reply in the thread",
        )
        await self.quiet()
        self.incident_channel = channel
        self.announcement = slack.messages(self.channels.incidents)[-1]
        self.record(
            alice,
            f"shortens the title to “{TITLE}”, chooses the category Payments and presses Declare",
            [
                confirmation,
                self.describe_channel(channel),
                "Pinned in the channel:\n" + self.pinned_summary(channel),
                "In #incidents:\n" + self.render(self.announcement),
                "In #checkout-alerts, in the thread of Bob's message:\n"
                + "\n".join(
                    self.render(m) for m in slack.thread(self.channels.alerts, source_ts)[1:]
                ),
            ],
        )
        return incident

    async def jira_ticket(self, incident: Incident) -> None:
        jira, channel = self.jira, self.incident_channel
        self.transcript.scene("1b · The Jira ticket, and a change made in Jira")
        tickets = TicketRepository()
        found = None
        for _ in range(int(STEP_TIMEOUT / 0.05)):
            found = await tickets.get(incident.id)
            if found is not None:
                break
            await asyncio.sleep(0.05)
        if found is None:
            raise DemoStepFailed(f"the Jira ticket was not opened within {STEP_TIMEOUT:.0f} s")
        key = found.key
        await self.need(
            lambda: (
                any(b.link == found.url for b in self.slack.channels[channel].bookmarks.values())
                and key in self.pinned_summary(channel)
            ),
            "the ticket's bookmark and its link on the pinned summary",
        )
        await self.quiet()
        issue = jira.issue(key)
        self.transcript.record(
            Step(
                "(FireFighter)",
                f"opens the Jira ticket {key} in the background (Slack never waits for Jira)",
                [
                    f"In Jira, {key}: “{issue.values['summary']}” · priority "
                    f"{jira.priorities[str(issue.values['priority'])].name} · status "
                    f"{jira.status_name(issue)} · labels {', '.join(issue.values['labels'])}",
                    f"Bookmarked in #{self.name(channel)}: Jira {key} → {found.url}",
                    "Pinned summary, now with the link:\n" + self.pinned_summary(channel),
                ],
            )
        )
        carol = next(a for a in jira.accounts.values() if a.email.startswith("carol"))
        bot_writes = self.jira_writes(key)
        jira.edit_as(carol, key, {"priority": {"name": "Highest"}})
        await self.need_incident(
            incident.id,
            lambda i: i.priority.label == "P1",
            "the priority changed in Jira",
            # A pull, a search and the change applied: seconds on a busy machine, not one.
            within=3 * STEP_TIMEOUT,
        )
        replies = await self.need(
            lambda: [
                m
                for m in self.slack.messages(channel)
                if "in Jira" in self.render(m) and "Priority" in self.render(m)
            ],
            "the change told in the incident channel",
        )
        await asyncio.sleep(2 * JIRA_PULL_SECONDS)  # two more pulls: an echo would show now
        await self.quiet()
        entries = [
            e
            for e in await TimelineRepository().list(incident.id, limit=10_000)
            if e.kind.value == "priority_change"
        ]
        echo = (
            "no echo: Jira already said Highest, so FireFighter wrote nothing back "
            f"({self.jira_writes(key) - bot_writes} writes to {key}, "
            f"{len(entries)} priority change on the timeline)"
        )
        self.transcript.record(
            Step(
                "Carol (in Jira)",
                f"raises the priority of {key} to Highest; FireFighter pulls it within a second",
                [
                    f"In #{self.name(channel)}:\n" + "\n".join(self.render(m) for m in replies),
                    echo,
                ],
            )
        )

    def jira_writes(self, key: str) -> int:
        """Edits and transitions the bot sent to an issue."""
        issue = self.jira.issue(key)
        return sum(
            1
            for r in self.jira.requests
            if r.method in ("PUT", "POST")
            and r.account_id == self.jira.bot.account_id
            and (f"/issue/{issue.key}" in r.path or f"/issue/{issue.id}" in r.path)
            and "remotelink" not in r.path
        )

    async def build_the_timeline(self, incident: Incident) -> None:
        slack, alice, bob, channel = self.slack, self.alice, self.bob, self.incident_channel
        self.transcript.scene("2 · Findings go on the timeline")
        findings = [
            "The payment gateway returns 502 for every Visa and Mastercard request.",
            "Gateway pods were redeployed at 13:58 with a new TLS certificate bundle.",
        ]
        posted = []
        for finding in findings:
            posted.append(await slack.post_message(bob, channel, finding))
        await self.quiet()
        self.record(bob, f"posts two findings in #{self.name(channel)}", findings)
        for ts in posted:
            await slack.add_reaction(alice, channel, ts, "pushpin")
        await self.quiet()
        self.record(
            alice,
            "reacts :pushpin: to both findings",
            [self.render(e) for e in self.slack.ephemerals(alice, channel)]
            or ["(no reply: they go on the timeline quietly)"],
        )
        await self.slash(alice, "timeline", channel)

    async def hand_over_communications(self, incident: Incident) -> None:
        slack, alice, carol, channel = self.slack, self.alice, self.carol, self.incident_channel
        self.transcript.scene("3 · Carol becomes communications lead")
        await slack.run_slash_command(alice, self.command, "roles", channel)
        view = await self.modal(alice, CallbackId.ROLES_MODAL)
        self.record(alice, f"types `{self.command} roles`", [self.render_view(view)])
        block = f"{BlockId.ROLE_PREFIX}communications_lead"
        await slack.submit_view(alice, view.id, {block: {block: carol}})
        duties = await self.need(
            lambda: [m for m in slack.dms(carol) if "Communications lead" in self.render(m)],
            "Carol's DM with her duties",
        )
        await self.need(lambda: carol in slack.channels[channel].members, "Carol's invitation")
        await self.quiet()
        self.record(
            alice,
            "picks Carol as Communications lead and saves",
            [f"Carol's DM from FireFighter:\n{self.render(duties[0])}"],
        )

    async def update_reminder(self, incident: Incident) -> None:
        slack, alice, channel = self.slack, self.alice, self.incident_channel
        self.transcript.scene("4 · An hour without an update: FireFighter reminds the channel")
        before = len(self.update_reminders(channel))
        self.clock.fast(SPEEDUP)
        try:
            reminders = await self.need(
                lambda: self.update_reminders(channel)[before:], "the update reminder"
            )
        finally:
            self.clock.normal()
        await self.quiet()
        flown = int(self.clock.ahead.total_seconds() // 60)
        self.transcript.record(
            Step(
                "(The demo)",
                f"makes the bot's clock run {SPEEDUP:.0f} times faster (one second is "
                f"{SPEEDUP / 60:.0f} minutes) until FireFighter reminds the channel, then back to "
                f"normal: {flown} minutes flew by",
                [f"In #{self.name(channel)}:\n{self.render(m)}" for m in reminders],
            )
        )
        reminder = reminders[-1]
        await slack.click_button(
            alice, ActionId.REMINDER_SNOOZE.value, channel_id=channel, ts=reminder.ts
        )
        told = await self.told(alice, "snoozed until")
        await self.quiet()
        self.record(alice, "clicks [Snooze 1 h] on the reminder", [told])

    async def broadcast_and_mitigate(self, incident: Incident) -> None:
        slack, alice, carol, channel = self.slack, self.alice, self.carol, self.incident_channel
        announcement = self.announcement
        self.transcript.scene("5 · Carol broadcasts an update, Alice mitigates")
        update = (
            "Update: we rolled the payment gateway back to yesterday's release; "
            "card payments are recovering (80% success)."
        )
        ts = await slack.post_message(carol, channel, update)
        before = len(slack.thread(self.channels.incidents, announcement.ts))
        await slack.add_reaction(carol, channel, ts, "mega")
        await self.need(
            lambda: len(slack.thread(self.channels.incidents, announcement.ts)) > before,
            "the broadcast in the thread of the announcement",
        )
        await self.quiet()
        self.record(
            carol,
            f"posts an update in #{self.name(channel)} and reacts :mega: to it",
            [update, "In #incidents, the announcement's thread:\n" + self.announcement_thread()],
        )
        await self.change_status(alice, Status.MITIGATING, whole_summary=False)
        await self.change_status(alice, Status.MITIGATED, whole_summary=True)

    async def correct_the_timeline(self, incident: Incident) -> None:
        slack, alice, channel = self.slack, self.alice, self.incident_channel
        self.transcript.scene("6 · Alice corrects the timeline and records what the outage cost")
        entries = await TimelineRepository().list(incident.id, limit=10_000)
        entry = next((e for e in entries if "rolled the payment gateway back" in e.text), None)
        if entry is None:
            raise DemoStepFailed("Carol's update is not on the timeline")
        before = len(slack.ephemerals(alice, channel))
        await slack.run_slash_command(alice, self.command, "timeline", channel)
        shown = await self.need(
            lambda: slack.ephemerals(alice, channel)[before:], "the timeline with its menus"
        )
        await slack.click_button(
            alice,
            ActionId.TIMELINE_ENTRY.value,
            channel_id=channel,
            ts=shown[-1].ts,
            block_id=f"{BlockId.TIMELINE_ENTRY_PREFIX}{entry.id}",
            value=f"edit:{entry.id}",
        )
        view = await self.modal(alice, CallbackId.TIMELINE_EDIT_MODAL)
        self.record(
            alice,
            f"types `{self.command} timeline` and picks Edit… in the menu of Carol's update",
            [self.render_view(view), self.picker_initial(view, BlockId.TIMELINE_EDIT_TIME)],
        )
        corrected = (
            "Update: we rolled the payment gateway back to yesterday's release; "
            "card payments are recovering (60% success)."
        )
        reason = "The rollback finished 10 minutes earlier; 60% is the gateway's own figure"
        at = (entry.happened_at - timedelta(minutes=10)).replace(microsecond=0)
        await slack.submit_view(
            alice,
            view.id,
            {
                BlockId.TIMELINE_EDIT_TEXT.value: {BlockId.TIMELINE_EDIT_TEXT.value: corrected},
                BlockId.TIMELINE_EDIT_TIME.value: {
                    BlockId.TIMELINE_EDIT_TIME.value: int(at.timestamp())
                },
                BlockId.TIMELINE_EDIT_REASON.value: {BlockId.TIMELINE_EDIT_REASON.value: reason},
            },
        )
        edited = await self.need_entry(entry.id, lambda e: e.edited, "the corrected entry")
        await self.quiet()
        local = edited.happened_at.astimezone(self.tz)
        self.record(
            alice,
            f"changes 80% to 60%, moves it 10 minutes back (to {local:%H:%M:%S}) and gives the "
            f"reason “{reason}”",
            ["(the modal closes; the previous text and time are kept on the entry for audit)"],
        )
        await self.slash(alice, "timeline", channel)
        await self.slash(alice, "cost 12000 EUR lost_revenue card checkouts refused", channel)

    async def close_through_the_gate(self, incident: Incident) -> None:
        slack, alice, channel = self.slack, self.alice, self.incident_channel
        self.transcript.scene("7 · Closing: the gate says what is missing, Alice fixes it")
        await slack.run_slash_command(alice, self.command, "close", channel)
        close = await self.modal(alice, CallbackId.CLOSE_MODAL)
        self.record(
            alice,
            f"types `{self.command} close`: the modal lists what is missing (Close needs an "
            "early-closure reason while anything is)",
            [self.render_view(close)],
        )
        await slack.close_view(alice, close.id)
        refusals_before = len(self.refusals(alice))
        await slack.run_slash_command(alice, self.command, "status", channel)
        view = await self.modal(alice, CallbackId.STATUS_MODAL)
        await slack.submit_view(alice, view.id, {BlockId.STATUS: {BlockId.STATUS: "closed"}})
        refusals = await self.need(
            lambda: self.refusals(alice)[refusals_before:], "the DM refusing to close"
        )
        await self.quiet()
        refusal = refusals[-1]
        self.record(
            alice,
            f"cancels it, types `{self.command} status` and picks Closed anyway",
            [f"Alice's DM from FireFighter:\n{self.render(refusal)}"],
        )
        fixes = self.fix_buttons(refusal)

        # Fix: the Detected time (when Bob reported it), through the milestone modal.
        detected = fixes.get(f"set_milestone:{Milestone.DETECTED.value}")
        if detected is not None:
            await slack.click_button(alice, detected, channel_id=refusal.channel, ts=refusal.ts)
            milestone = await self.modal(alice, CallbackId.MILESTONE_MODAL)
            reported_at = int(float(self.source_ts))
            await slack.submit_view(
                alice, milestone.id, {BlockId.MILESTONE: {BlockId.MILESTONE: reported_at}}
            )
            await self.need_incident(
                incident.id, lambda i: i.milestones.detected_at is not None, "the Detected time"
            )
            await self.quiet()
            fixed = await IncidentRepository().require(incident.id)
            self.record(
                alice,
                "clicks [Set Detected] and enters the time of Bob's report (the impact start, "
                "which defaulted to the declaration, moves back with it)",
                [
                    self.render_view(milestone),
                    "Milestones now: " + _milestones_line(fixed, self.tz),
                ],
            )

        # Fix: move to Post-mortem (the status modal opens from the button).
        move = fixes.get("move_to_postmortem")
        if move is not None:
            await slack.click_button(alice, move, channel_id=refusal.channel, ts=refusal.ts)
            view = await self.modal(alice, CallbackId.STATUS_MODAL)
            await slack.submit_view(
                alice, view.id, {BlockId.STATUS: {BlockId.STATUS: "postmortem"}}
            )
            await self.need_incident(
                incident.id, lambda i: i.status is Status.POSTMORTEM, "the Post-mortem status"
            )
            await self.quiet()
            self.record(
                alice,
                "clicks [Move to Post-mortem] and confirms in the status modal",
                ["The pinned summary now says:\n" + self.summary_field(channel, "Status")],
            )

        # Fix: the post-mortem is ready — a label on its Confluence page says so.
        ready = fixes.get("mark_postmortem_ready")
        if ready is not None:
            await self.mark_postmortem_ready(incident, ready, refusal)

        await slack.run_slash_command(alice, self.command, "close", channel)
        close = await self.modal(alice, CallbackId.CLOSE_MODAL)
        self.record(alice, f"types `{self.command} close` again", [self.render_view(close)])
        await slack.submit_view(alice, close.id, {})
        await self.need_incident(incident.id, lambda i: i.status is Status.CLOSED, "the closure")
        closing = await self.need(
            lambda: [m for m in slack.messages(channel) if "will be archived" in self.render(m)],
            "the closing summary in the channel",
        )
        await self.quiet()
        self.record(
            alice,
            "presses Close",
            [
                f"In #{self.name(channel)}:\n{self.render(closing[-1])}",
                "In #incidents, the announcement's thread:\n" + self.announcement_thread(),
            ],
        )

    async def private_p1(self) -> None:
        slack, dave = self.slack, self.dave
        self.transcript.scene("8 · In #security, Dave declares a private P1")
        public_before = {
            c: len(slack.messages(c)) for c in (self.channels.incidents, self.channels.major)
        }
        digest_before = len(slack.messages(self.channels.private_digest))
        await slack.run_slash_command(dave, self.command, "open", self.channels.security)
        view = await self.modal(dave, CallbackId.DECLARE_MODAL)
        before = self.channel_ids()
        values: dict[str, dict[str, Any]] = {
            f"{BlockId.DECLARE_IMPACT_PREFIX}customers": {ActionId.DECLARE_IMPACT.value: "high"},
            BlockId.DECLARE_TITLE.value: {
                BlockId.DECLARE_TITLE.value: "Leaked API key for the customer accounts service"
            },
            BlockId.DECLARE_SUMMARY.value: {
                BlockId.DECLARE_SUMMARY.value: (
                    "An API key with read access to customer accounts was pushed to a public "
                    "repository 20 minutes ago."
                )
            },
            BlockId.DECLARE_CATEGORY.value: {ActionId.DECLARE_CATEGORY.value: "security"},
            BlockId.DECLARE_PRIVATE.value: {BlockId.DECLARE_PRIVATE.value: ["private"]},
        }
        await slack.submit_view(dave, view.id, values)
        confirmation = await self.told(dave, "Declared")
        incident = await self.incident_with_channel(before)
        channel = incident.channel_id
        assert channel is not None
        await self.need(lambda: slack.channels[channel].pins, "the private channel's summary")
        await self.need(
            lambda: len(slack.messages(self.channels.private_digest)) > digest_before,
            "the line in #incidents-private",
        )
        await self.quiet()
        untouched = all(len(slack.messages(c)) == n for c, n in public_before.items())
        digest = slack.messages(self.channels.private_digest)[-1]
        self.record(
            dave,
            f"types `{self.command} open` in #security: Customers High, category Security, "
            "Private checked, and presses Declare",
            [
                confirmation,
                self.describe_channel(channel),
                "In #incidents and #incidents-major: "
                + ("nothing new." if untouched else "NEW MESSAGES (a private incident leaked!)"),
                f"In #incidents-private:\n{self.render(digest)}",
            ],
        )

    async def p4_without_channel(self) -> None:
        slack, alice = self.slack, self.alice
        self.transcript.scene("9 · A minor issue: tracked, announced, no channel")
        announced_before = len(slack.messages(self.channels.incidents))
        created_before = len(slack.calls("conversations.create"))
        await slack.run_slash_command(alice, self.command, "open", self.channels.general)
        view = await self.modal(alice, CallbackId.DECLARE_MODAL)
        values: dict[str, dict[str, Any]] = {
            f"{BlockId.DECLARE_IMPACT_PREFIX}customers": {ActionId.DECLARE_IMPACT.value: "low"},
            BlockId.DECLARE_TITLE.value: {
                BlockId.DECLARE_TITLE.value: "Order confirmation e-mails show the wrong currency"
            },
            BlockId.DECLARE_SUMMARY.value: {
                BlockId.DECLARE_SUMMARY.value: (
                    "Swiss customers see EUR instead of CHF in the confirmation e-mail; "
                    "the amount charged is right."
                )
            },
            BlockId.DECLARE_CATEGORY.value: {ActionId.DECLARE_CATEGORY.value: "checkout"},
        }
        self.record(alice, f"types `{self.command} open` in #general", [self.render_view(view)])
        await slack.submit_view(alice, view.id, values)
        confirmation = await self.told(alice, "without a channel")
        await self.need(
            lambda: len(slack.messages(self.channels.incidents)) > announced_before,
            "the P4's announcement",
        )
        await self.quiet()
        created = len(slack.calls("conversations.create")) - created_before
        self.record(
            alice,
            "types a title and a summary, sets Customers to Low, category Checkout, and presses Declare",
            [
                confirmation,
                "In #incidents:\n" + self.render(slack.messages(self.channels.incidents)[-1]),
                f"Channels created: {created}.",
            ],
        )

    async def stats(self) -> None:
        slack, alice, channel = self.slack, self.alice, self.channels.incidents
        self.transcript.scene("10 · Alice looks at the last 30 days")
        files_before = set(slack.files)
        await slack.run_slash_command(alice, self.command, "stats 30d", channel)
        told = await self.told(alice, "Incident stats")
        charts = await self.need(
            lambda: [
                f
                for key, f in slack.files.items()
                if key not in files_before and f.name.endswith(".png") and f.content
            ],
            "the stats chart",
        )
        await self.quiet()
        chart = charts[-1]
        assert chart.content is not None
        await asyncio.to_thread(self.chart.write_bytes, chart.content)
        self.chart_saved = self.chart
        shared = ", ".join(self.where(c) for c in chart.channels) or "nowhere"
        self.record(
            alice,
            f"types `{self.command} stats 30d` in #{self.name(channel)}",
            [
                told,
                f"The chart {chart.name} ({len(chart.content):,} bytes) is shared in {shared}; "
                f"the demo saved it to {self.chart}",
            ],
        )

    async def app_home(self) -> None:
        self.transcript.scene("11 · The App Home, for Alice and for Dave")
        await self.home(self.alice)
        await self.home(self.dave)

    # -- on-call (PagerDuty) -------------------------------------------------------------------------

    async def page_on_call(self, incident: Incident) -> None:
        """The P2 paged Payments' on-call at declaration; Alice looks who is on call; Bob
        acknowledges in PagerDuty and the channel shows it (the pull, every half second here)."""
        pagerduty, channel = self.pagerduty, self.incident_channel
        self.transcript.scene("1c · PagerDuty pages on-call; Bob acknowledges in PagerDuty")
        lines = await self.need(
            lambda: [m for m in self.slack.messages(channel) if "Paged Payments API" in m.text],
            "the page told in the incident channel",
        )
        page = (await PageRepository().list(incident.id))[0]
        paged = pagerduty.incidents[page.pd_incident_id or ""]
        await self.quiet()
        assigned = ", ".join(pagerduty.users[u].name for u, _ in paged.assignments) or "nobody"
        self.transcript.record(
            Step(
                "(FireFighter)",
                "pages the category's PagerDuty service as the P2 is declared (P1/P2 page "
                "automatically; Slack never waits for PagerDuty)",
                [
                    f"In PagerDuty, #{paged.number} “{paged.title}” · "
                    f"{pagerduty.services[paged.service_id].name} · {paged.urgency} urgency · "
                    f"{paged.status} · assigned to {assigned} · key {paged.incident_key}",
                    f"In #{self.name(channel)}:\n" + "\n".join(self.render(m) for m in lines),
                    self.describe_channel(channel).split("\n", 1)[1],
                ],
            )
        )
        await self.slash(self.alice, "oncall", channel)
        bob = pagerduty.user_by_email("bob@example.com")
        assert bob is not None
        pagerduty.acknowledge_as(bob, paged.id)
        acked = await self.need(
            lambda: [m for m in self.slack.messages(channel) if "acknowledged the page" in m.text],
            "the acknowledgement told in the incident channel",
        )
        stored = await self.need_incident(
            incident.id,
            lambda i: i.milestones.acknowledged_at is not None,
            "the acknowledgement's milestone",
        )
        await self.quiet()
        self.transcript.record(
            Step(
                "Bob (in PagerDuty)",
                f"acknowledges #{paged.number}; FireFighter pulls it within a second",
                [
                    f"In #{self.name(channel)}:\n" + "\n".join(self.render(m) for m in acked),
                    "Milestones now: " + _milestones_line(stored, self.tz),
                ],
            )
        )

    async def page_resolved(self, incident: Incident) -> None:
        """Mitigated: FireFighter resolves the PagerDuty incident it opened."""
        pagerduty, channel = self.pagerduty, self.incident_channel
        self.transcript.scene("5a · Mitigated: the page is resolved in PagerDuty")
        lines = await self.need(
            lambda: [m for m in self.slack.messages(channel) if "Resolved the page" in m.text],
            "the page's resolution told in the incident channel",
        )
        page = (await PageRepository().list(incident.id))[0]
        paged = pagerduty.incidents[page.pd_incident_id or ""]
        await self.quiet()
        self.transcript.record(
            Step(
                "(FireFighter)",
                "resolves the PagerDuty incident it opened, as the incident reaches Mitigated",
                [
                    f"In PagerDuty, #{paged.number}: {paged.status}",
                    f"In #{self.name(channel)}:\n" + "\n".join(self.render(m) for m in lines),
                ],
            )
        )

    # -- the post-mortem (Confluence) ---------------------------------------------------------------

    async def postmortem_page(self, incident: Incident) -> None:
        """Mitigated, the incident needs a post-mortem: FireFighter writes its page; Carol writes
        the root cause in Confluence (the bot's later updates leave it alone)."""
        confluence, channel = self.confluence, self.incident_channel
        self.transcript.scene("5b · The post-mortem page, written in Confluence by FireFighter")
        repository = PostmortemRepository()
        written = None
        for _ in range(int(STEP_TIMEOUT / 0.05)):
            written = await repository.get(incident.id)
            if written is not None:
                break
            await asyncio.sleep(0.05)
        if written is None:
            raise DemoStepFailed(
                f"the post-mortem page was not written within {STEP_TIMEOUT:.0f} s"
            )
        url = written.url
        told = await self.need(
            lambda: [m for m in self.slack.messages(channel) if url in self.render(m)],
            "the post-mortem's line in the channel",
        )
        await self.need(
            lambda: any(b.link == url for b in self.slack.channels[channel].bookmarks.values()),
            "the post-mortem's bookmark",
        )
        await self.quiet()
        page = confluence.page(written.page_id)
        space = confluence.spaces[page.space_id]
        parent = confluence.page(page.parent_id or "")
        self.transcript.record(
            Step(
                "(FireFighter)",
                "writes the post-mortem page in Confluence as the incident reaches Mitigated "
                "(a P1 in production needs one)",
                [
                    f"In Confluence, space {space.key}, under “{parent.title}”: “{page.title}”\n"
                    + _page_outline(page.body),
                    f"In #{self.name(channel)}:\n{self.render(told[-1])}",
                    f"Bookmarked in #{self.name(channel)}: Post-mortem → {url}",
                ],
            )
        )
        placeholder = "<p><em>What happened, and why?"
        start = page.body.find(placeholder)
        if start < 0:
            return  # a catalog whose template has no such paragraph: nothing to show here
        end = page.body.find("</p>", start) + len("</p>")
        cause = (
            "<p>The gateway's new TLS certificate bundle lacked the intermediate CA, so the "
            "card networks refused the handshake.</p>"
        )
        confluence.edit_as(
            self._confluence_person("carol"),
            page.id,
            body=page.body[:start] + cause + page.body[end:],
            message="Root cause",
        )
        self.transcript.record(
            Step(
                "Carol (in Confluence)",
                "writes the root cause on the page and publishes it (FireFighter's later updates "
                "of the timeline leave it alone)",
                [f"Root cause: {_plain_text(cause)}"],
            )
        )

    async def mark_postmortem_ready(self, incident: Incident, button: str, refusal: Any) -> None:
        """The gate's "Mark post-mortem ready": the bot reads the page; only its label counts."""
        slack, alice = self.slack, self.alice
        written = await PostmortemRepository().get(incident.id)
        if written is None:
            raise DemoStepFailed("the post-mortem page is not recorded")
        await slack.click_button(alice, button, channel_id=refusal.channel, ts=refusal.ts)
        not_yet = await self.told(alice, "not ready yet")
        await self.quiet()
        self.record(
            alice, "clicks [Mark post-mortem ready] before anyone marked the page", [not_yet]
        )
        self.confluence.add_label_as(
            self._confluence_person("carol"), written.page_id, self.ready_label
        )
        self.transcript.record(
            Step(
                "Carol (in Confluence)",
                f"adds the label {self.ready_label} to the post-mortem page: its authors say "
                "it is done",
                [f"Labels of “{written.title}”: {self.ready_label}"],
            )
        )
        await slack.click_button(alice, button, channel_id=refusal.channel, ts=refusal.ts)
        told = await self.told(alice, "Post-mortem marked ready")
        await self.quiet()
        entry = next(
            (
                e.text
                for e in await TimelineRepository().list(incident.id, limit=10_000)
                if e.text.startswith("Post-mortem marked ready")
            ),
            "(no timeline entry)",
        )
        self.record(
            alice,
            "clicks [Mark post-mortem ready] again: FireFighter reads the page and finds the label",
            [told, f"On the timeline: {entry}"],
        )

    async def save_postmortem(self, incident: Incident) -> None:
        """The page as Confluence has it at the end, saved as an HTML file to open in a browser."""
        written = await PostmortemRepository().get(incident.id)
        if written is None:
            raise DemoStepFailed("the post-mortem page is not recorded")
        page = self.confluence.page(written.page_id)
        title = html.escape(page.title)
        document = (
            f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"/><title>{title}</title>'
            f"<style>{_PAGE_STYLE}</style></head><body>\n<h1>{title}</h1>\n"
            f'<p class="source">{html.escape(written.url)} · version {page.version.number} · '
            f"labels: {html.escape(', '.join(lab.name for lab in page.labels) or 'none')}</p>\n"
            f"{_viewable(page.body)}\n</body></html>\n"
        )
        await asyncio.to_thread(self.postmortem_file.write_text, document, encoding="utf-8")
        self.postmortem_saved = self.postmortem_file
        authors = dict.fromkeys(
            self.confluence.accounts[v.author_id].display_name for v in page.versions
        )
        self.transcript.record(
            Step(
                "(The demo)",
                f"saves the post-mortem page as Confluence has it to {self.postmortem_file}",
                [
                    f"“{page.title}”, version {page.version.number} (by {', '.join(authors)}), "
                    f"labels {', '.join(label.name for label in page.labels) or 'none'}\n"
                    + _page_outline(page.body)
                ],
            )
        )

    def _confluence_person(self, name: str) -> Any:
        return next(a for a in self.confluence.accounts.values() if a.email.startswith(name))

    # -- moves -------------------------------------------------------------------------------------

    async def slash(self, user: str, text: str, channel: str) -> None:
        before = len(self.slack.ephemerals(user, channel))
        await self.slack.run_slash_command(user, self.command, text, channel)
        shown = await _settle(lambda: self.slack.ephemerals(user, channel)[before:])
        self.record(
            user,
            f"types `{f'{self.command} {text}'.strip()}` in #{self.name(channel)}",
            [f"(only visible to {self.names[user]})\n{self.render(e)}" for e in shown]
            or ["(nothing was shown)"],
        )

    async def home(self, user: str) -> None:
        previous = self.slack.home_view(user)
        previous_hash = previous.hash if previous else None
        await self.slack.open_app_home(user)
        await _settle(
            lambda: (v := self.slack.home_view(user)) is not None and v.hash != previous_hash
        )
        view = self.slack.home_view(user)
        self.record(
            user,
            "opens the FireFighter Home tab",
            [
                self.slack.render_blocks(view.payload["blocks"])
                if view
                else "(nothing was published)"
            ],
        )

    async def change_status(self, user: str, status: Status, *, whole_summary: bool) -> None:
        slack, channel, announcement = self.slack, self.incident_channel, self.announcement
        replies_before = len(slack.thread(self.channels.incidents, announcement.ts))
        await slack.run_slash_command(user, self.command, "status", channel)
        view = await self.modal(user, CallbackId.STATUS_MODAL)
        await slack.submit_view(user, view.id, {BlockId.STATUS: {BlockId.STATUS: status.value}})
        await self.need(
            lambda: (
                status.label in self.pinned_summary(channel)
                and len(slack.thread(self.channels.incidents, announcement.ts)) > replies_before
            ),
            f"the summary and the announcement's thread showing {status.label}",
        )
        await self.quiet()
        replies = slack.thread(self.channels.incidents, announcement.ts)[replies_before:]
        self.record(
            user,
            f"types `{self.command} status` and picks {status.label}",
            [
                "The pinned summary, edited in place:\n"
                + (
                    self.pinned_summary(channel)
                    if whole_summary
                    else self.summary_field(channel, "Status") + "\n(…)"
                ),
                "New in the announcement's thread in #incidents:\n"
                + "\n".join(self.render(m) for m in replies),
            ],
        )

    # -- what Slack shows --------------------------------------------------------------------------

    def record(self, user: str, action: str, shown: list[str]) -> None:
        self.transcript.record(Step(self.names[user], action, shown))

    def render(self, message: Message | Ephemeral) -> str:
        return self.readable(self.slack.render_message(message))

    def readable(self, text: str) -> str:
        """Mentions as Slack shows them (``<@U1>`` → ``@alice``, ``<#C1>`` → ``#name``)."""
        names = {u.id: u.name for u in self.slack.ws.users.values()}
        names.update({c.id: c.name for c in self.slack.channels.values() if not c.is_im})
        return readable(text, names)

    def render_view(self, view: View) -> str:
        title = view.payload.get("title", {}).get("text", "")
        return f"┌ modal “{title}”\n{self.slack.render_blocks(view.payload.get('blocks'))}"

    def priority_preview(self, view: View) -> str:
        blocks = [
            b
            for b in view.payload.get("blocks") or []
            if b.get("block_id") == BlockId.DECLARE_PRIORITY
        ]
        return self.slack.render_blocks(blocks)

    def picker_initial(self, view: View, block_id: str) -> str:
        """The time a date-time picker opens on (the rendering above shows only its placeholder)."""
        for block in view.payload.get("blocks") or []:
            initial = (block.get("element") or {}).get("initial_date_time")
            if block.get("block_id") == block_id and initial is not None:
                local = datetime.fromtimestamp(int(initial), self.tz)
                return f"(the time picker opens on {local:%Y-%m-%d %H:%M:%S %Z})"
        return "(the time picker opens empty)"

    def name(self, channel: str) -> str:
        return self.slack.channels[channel].name

    def where(self, channel_id: str) -> str:
        channel = self.slack.channels[channel_id]
        return "their DM with FireFighter" if channel.is_im else f"#{channel.name}"

    def channel_ids(self) -> set[str]:
        return set(self.slack.channels)

    def describe_channel(self, channel_id: str) -> str:
        channel = self.slack.channels[channel_id]
        members = ", ".join(
            sorted(
                self.names.get(m, "FireFighter" if m == self.slack.bot_user_id else m)
                for m in channel.members
            )
        )
        kind = "private channel" if channel.is_private else "channel"
        return (
            f"New {kind} #{channel.name}\n"
            f"  members: {members}\n"
            f"  topic:   {self.readable(channel.topic['value']) or '(none)'}"
        )

    def pinned_summary(self, channel_id: str) -> str:
        channel = self.slack.channels[channel_id]
        return "\n".join(
            self.render(channel.messages[ts]) for ts in channel.pins if ts in channel.messages
        )

    def summary_field(self, channel_id: str, name: str) -> str:
        """One field of the pinned summary: its ``*Name*`` line and the value under it."""
        lines = self.pinned_summary(channel_id).splitlines()
        for index, line in enumerate(lines):
            if line.strip() == f"*{name}*":
                return "\n".join(lines[index : index + 2])
        return "\n".join(lines)

    def announcement_thread(self) -> str:
        thread = self.slack.thread(self.channels.incidents, self.announcement.ts)
        return "\n".join(f"↳ {self.render(m)}" for m in thread[1:])

    def update_reminders(self, channel_id: str) -> list[Message]:
        """The channel's update reminders (the messages with a Snooze button)."""
        return [
            m
            for m in self.slack.messages(channel_id)
            if any(
                element.get("action_id") == ActionId.REMINDER_SNOOZE.value
                for block in m.blocks or []
                for element in [block.get("accessory") or {}, *(block.get("elements") or [])]
            )
        ]

    def refusals(self, user: str) -> list[Message]:
        return [m for m in self.slack.dms(user) if "cannot be closed yet" in self.render(m)]

    @staticmethod
    def fix_buttons(message: Message) -> dict[str, str]:
        """The refusal's fix buttons: fix (``move_to_postmortem``, ``set_milestone:…``) → action id."""
        found = {}
        for block in message.blocks or []:
            accessory = block.get("accessory") or {}
            elements = [accessory, *(block.get("elements") or [])]
            for element in elements:
                if element.get("type") == "button" and str(element.get("action_id", "")).startswith(
                    ActionId.FIX.value
                ):
                    found[str(element["value"]).split(":", 1)[1]] = str(element["action_id"])
        return found

    # -- waiting -----------------------------------------------------------------------------------

    async def quiet(self) -> None:
        """Wait until Slack is settled: every envelope acked, no API call for a moment."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STEP_TIMEOUT
        seen, since = len(self.slack.requests), loop.time()
        while loop.time() < deadline:
            await asyncio.sleep(0.02)
            acked = all(d.ack.done() for d in self.slack.hub.deliveries.values())
            if len(self.slack.requests) != seen or not acked:
                seen, since = len(self.slack.requests), loop.time()
            elif loop.time() - since >= QUIET_PERIOD:
                return

    async def need(self, probe: Callable[[], Any], what: str) -> Any:
        value = await _settle(probe)
        if not value:
            raise DemoStepFailed(f"{what} did not show up within {STEP_TIMEOUT:.0f} s")
        return value

    async def modal(self, user: str, callback: CallbackId) -> View:
        def visible() -> View | None:
            views = self.slack.views(user)
            top = views[-1] if views else None
            return top if top and top.payload.get("callback_id") == callback.value else None

        view: View = await self.need(visible, f"the modal {callback.value} for {self.names[user]}")
        return view

    async def told(self, user: str, needle: str) -> str:
        """What the bot told ``user`` (ephemerally anywhere, or by DM) containing ``needle``,
        headed by where it was shown."""
        who = self.names[user]

        def find() -> str | None:
            texts = [
                f"(only visible to {who}, in {self.where(e.channel)})\n{self.render(e)}"
                for e in self.slack.ephemerals(user)
            ]
            texts += [
                f"{who}'s DM from FireFighter:\n{self.render(m)}" for m in self.slack.dms(user)
            ]
            return next((t for t in reversed(texts) if needle in t), None)

        found: str = await self.need(find, f"a message to {self.names[user]} saying “{needle}”")
        return found

    async def incident_with_channel(self, channels_before: set[str]) -> Incident:
        """The incident whose channel was just created."""
        new = await self.need(
            lambda: set(self.slack.channels) - channels_before, "the incident's channel"
        )
        repository = IncidentRepository()
        for _ in range(int(STEP_TIMEOUT / 0.05)):
            for channel in new:
                incident = await repository.get_by_channel(channel)
                if incident is not None:
                    return incident
            await asyncio.sleep(0.05)
        raise DemoStepFailed("the new channel is not recorded on any incident")

    async def need_incident(
        self,
        incident_id: int,
        check: Callable[[Incident], bool],
        what: str,
        *,
        within: float = STEP_TIMEOUT,
    ) -> Incident:
        repository = IncidentRepository()
        for _ in range(int(within / 0.05)):
            incident = await repository.require(incident_id)
            if check(incident):
                return incident
            await asyncio.sleep(0.05)
        raise DemoStepFailed(f"{what} was not stored within {within:.0f} s")

    async def need_entry(
        self, entry_id: int, check: Callable[[TimelineEntry], bool], what: str
    ) -> TimelineEntry:
        repository = TimelineRepository()
        for _ in range(int(STEP_TIMEOUT / 0.05)):
            entry = await repository.get(entry_id)
            if entry is not None and check(entry):
                return entry
            await asyncio.sleep(0.05)
        raise DemoStepFailed(f"{what} was not stored within {STEP_TIMEOUT:.0f} s")


def _jira_site(jira: SandboxJira, catalog: Catalog) -> Catalog:
    """Shape the sandbox Jira like the catalog (projects, workflows, the demo's people, the mapped
    custom fields, whose sandbox ids the returned catalog uses)."""
    return seed_site(
        jira,
        catalog,
        people=[
            ("Alice Martin", "alice@example.com"),
            ("Bob Nguyen", "bob@example.com"),
            ("Carol Diaz", "carol@example.com"),
            ("Dave Okafor", "dave@example.com"),
        ],
    )


def _confluence_site(confluence: SandboxConfluence, catalog: Catalog) -> Catalog:
    """The sandbox Confluence with the demo's people and a page to file post-mortems under (the
    returned catalog's ``confluence.parent_page_id``)."""
    for name, email in (("Alice Martin", "alice@example.com"), ("Carol Diaz", "carol@example.com")):
        confluence.add_user(name, email=email)
    parent = confluence.create_page_as(
        confluence.bot,
        confluence.space.key,
        "Incident post-mortems",
        "<p>One page per incident, written by FireFighter.</p>",
    )
    section = catalog.confluence.model_copy(update={"parent_page_id": parent.id})
    return catalog.model_copy(update={"confluence": section})


_PAGE_STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:2em auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
    ".panel{border:1px solid #9ab;border-radius:4px;padding:0 8px;margin:4px 0}"
    ".panel-title,.source{color:#678;font-size:small}"
)


def _viewable(storage: str) -> str:
    """The page's storage format as a browser shows it: FireFighter's panels as boxes (their
    anchor as the box's id), nothing else changed."""

    def panel(match: re.Match[str]) -> str:
        anchor = re.search(r'<ac:parameter ac:name="">([^<]*)</ac:parameter>', match.group(2))
        ident = f' id="{anchor.group(1)}"' if anchor else ""
        return f'<div class="panel"{ident}><p class="panel-title">{match.group(1) or ""}</p>'

    shown = re.sub(
        r'<ac:structured-macro ac:name="panel"[^>]*>'
        r'(?:<ac:parameter ac:name="title">(.*?)</ac:parameter>)?<ac:rich-text-body>'
        r'(<ac:structured-macro ac:name="anchor"[^>]*>.*?</ac:structured-macro>)?',
        panel,
        storage,
    )
    return shown.replace("</ac:rich-text-body></ac:structured-macro>", "</div>")


def _plain_text(body: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", body)).split())


def _page_outline(body: str) -> str:
    """A page as a reader skims it: its headings, and the timeline's rows (time and what)."""
    lines = []
    for heading in re.findall(r"<h[12]>(.*?)</h[12]>", body):
        lines.append(f"  ▸ {_plain_text(heading)}")
        if _plain_text(heading) == "Timeline":
            start = body.find("firefighter-timeline")
            table = body[start : body.find("</table>", start)] if start >= 0 else ""
            for row in re.findall(r"<tr>(.*?)</tr>", table)[1:]:
                cells = [_plain_text(c) for c in re.findall(r"<td>(.*?)</td>", row)]
                if len(cells) == 3:
                    lines.append(f"      {cells[0][11:19]}  {cells[2][:90]}")
    return "\n".join(lines)


def _pagerduty_account(pagerduty: SandboxPagerDuty, catalog: Catalog) -> None:
    """The sandbox PagerDuty with the catalog's services under their ids: Payments' level 1 is
    Bob, level 2 Pat and Erin (who has no Slack account: shown by name); SRE is Dave."""
    people = add_people(
        pagerduty,
        [
            ("Bob Nguyen", "bob@example.com"),
            ("Pat Keller", "pat@example.com"),
            ("Erin Fox", "erin@example.com"),
            ("Dave Okafor", "dave@example.com"),
        ],
    )
    bob, pat, erin, dave = people.values()
    seed_account(pagerduty, catalog, {"payments": [[bob], [pat, erin]], "sre": [[dave]]})


# --------------------------------------------------------------------------------------------------
# The database side
# --------------------------------------------------------------------------------------------------


async def _stored_incidents() -> list[dict[str, Any]]:
    """Every incident as stored, oldest first (for the report and the final table)."""
    repository, timeline = IncidentRepository(), TimelineRepository()
    found = {i.id: i for i in await repository.list_open(limit=1000)}
    found.update({i.id: i for i in await repository.list_recent_closed(limit=1000)})
    rows = []
    for incident in sorted(found.values(), key=lambda i: i.id):
        entries = await timeline.list(incident.id, limit=10_000)
        rows.append(
            {
                "id": incident.id,
                "title": incident.title,
                "priority": incident.priority.name,
                "status": incident.status.value,
                "private": incident.private,
                "channel_name": incident.channel_name,
                "milestones": {m.value: _iso(incident.milestones.get(m)) for m in Milestone},
                "timeline_entries": len(entries),
            }
        )
    return rows


def _incident_table(incidents: list[dict[str, Any]]) -> str:
    if not incidents:
        return "(no incident)"
    header = ("#", "Prio", "Status", "Private", "Channel", "Milestones", "Timeline", "Title")
    rows = [
        (
            f"#{i['id']}",
            i["priority"],
            i["status"],
            "yes" if i["private"] else "no",
            f"#{i['channel_name']}" if i["channel_name"] else "(none)",
            f"{sum(1 for v in i['milestones'].values() if v)}/{len(i['milestones'])}",
            f"{i['timeline_entries']} " + ("entry" if i["timeline_entries"] == 1 else "entries"),
            i["title"],
        )
        for i in incidents
    ]
    widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header) - 1)]

    def line(row: tuple[str, ...]) -> str:
        return (
            "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=False)) + "  " + row[-1]
        )

    return "\n".join([line(header), *(line(r) for r in rows)])


def _milestones_line(incident: Incident, tz: tzinfo) -> str:
    """``Impact started 21:35:12, Detected 21:35:12, …`` in the catalog's time zone."""
    parts = []
    for milestone in Milestone:
        value = incident.milestones.get(milestone)
        if value is not None:
            local = value.astimezone(tz)
            parts.append(f"{MILESTONE_LABELS[milestone]} {local:%H:%M:%S}")
    return ", ".join(parts) + f" ({datetime.now(tz):%Z})"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --------------------------------------------------------------------------------------------------
# Plumbing
# --------------------------------------------------------------------------------------------------


async def _settle(probe: Callable[[], Any]) -> Any:
    """Poll until ``probe`` returns something truthy (what Slack shows arrives after the ack)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_TIMEOUT
    while True:
        value = probe()
        if value or loop.time() > deadline:
            return value
        await asyncio.sleep(0.02)


async def _wait_until_ready(ready: asyncio.Event, task: Awaitable[None]) -> None:
    waiter = asyncio.ensure_future(ready.wait())
    done, _ = await asyncio.wait(
        {waiter, asyncio.ensure_future(task)}, timeout=30, return_when=asyncio.FIRST_COMPLETED
    )
    if waiter not in done:
        waiter.cancel()
        for finished in done:
            finished.result()  # re-raise why the bot stopped
        raise RuntimeError("the bot did not start within 30 s")


def _safe_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


def _print(quiet: bool, text: str) -> None:
    if not quiet:
        print(text)
