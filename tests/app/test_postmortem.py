"""The post-mortem page end to end: the wired bot, the real Confluence adapter and the sandbox
Confluence (every request checked against Confluence's specs: a test fails at teardown on any
violation), the Slack sandbox, PostgreSQL. The page body is parsed back as XML in every test that
reads it.

Incident → Confluence happens in outbox jobs after each change; Confluence → incident (the "ready"
label) in the pull, which these tests run by hand (``postmortem_pull.pull()``), or in the close
gate's fresh read."""

from __future__ import annotations

import html.entities
import xml.etree.ElementTree as ET
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import postmortem
from bot.blocks.text import localize_times
from bot.config import Catalog, load_catalog
from bot.domain.incident import Actor, Milestone, Status, TimelineKind
from bot.domain.lifecycle import Fix, TransitionRefused
from bot.postmortem_check import confluence_problems
from bot.postmortem_effects import SYNC_MESSAGE
from bot.service import AlreadyDone
from bot.wiring import CONFLUENCE_ATTEMPTS
from sandbox.confluence import SandboxConfluence
from sandbox.confluence.state import Account
from sandbox.slack import SlackSandbox
from storage import models
from storage.postmortems import Postmortem, PostmortemRepository
from storage.repository import IncidentRepository, TimelineRepository
from tests.cli.test_operator_commands import firefighter
from tests.conftest import confluence_settings
from tests.workspace import Workspace, declare_and_wait, eventually, outage, outbox_idle

AC = "{http://atlassian.com/content}"
TZ = ZoneInfo("Europe/Paris")
EXAMPLE = Path(__file__).resolve().parents[2] / "bot" / "firefighter.example.yaml"

# -------------------------------------------------------------------------------------------------
# Reading a storage-format body back, independently of the bot's own parser
# -------------------------------------------------------------------------------------------------

_ENTITIES = "".join(
    f'<!ENTITY {n} "&#{c};">'
    for n, c in html.entities.name2codepoint.items()
    if n not in {"amp", "lt", "gt", "quot", "apos"}
)


def parse(body: str) -> ET.Element:
    """The body as an XML tree (it must be well-formed storage format, or this raises)."""
    return ET.fromstring(
        f"<!DOCTYPE r [{_ENTITIES}]>"
        '<r xmlns:ac="http://atlassian.com/content" '
        'xmlns:ri="http://atlassian.com/resource/identifier">'
        f"{body}</r>"
    )


def text(element: ET.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def panels(root: ET.Element) -> dict[str, list[ET.Element]]:
    """The generated sections by name: the panels whose body starts with a FireFighter anchor."""
    found: dict[str, list[ET.Element]] = {}
    for macro in root.iter(f"{AC}structured-macro"):
        body = macro.find(f"{AC}rich-text-body")
        if body is None:
            continue
        for anchor in body.findall(f"{AC}structured-macro"):
            parameter = anchor.find(f"{AC}parameter")
            name = text(parameter) if parameter is not None else ""
            if anchor.get(f"{AC}name") == "anchor" and name.startswith("firefighter-"):
                found.setdefault(name.removeprefix("firefighter-"), []).append(body)
    return found


def rows(root: ET.Element, section: str) -> list[list[str]]:
    """The data rows of a generated section's table (the header row left out)."""
    (body,) = panels(root)[section]
    return [[text(cell) for cell in row.findall("td")] for row in body.iter("tr")][1:]


def items(root: ET.Element, section: str) -> list[str]:
    (body,) = panels(root)[section]
    return [text(li) for li in body.iter("li")]


def readable(entry: Any, emails: dict[str, str]) -> str:
    """What the page should say of an entry: people's words labelled, Slack mentions named, times
    in the catalog's zone."""
    shown = localize_times(entry.text, TZ)
    for user_id, email in emails.items():
        shown = shown.replace(f"<@{user_id}>", email)
    label = {"note": "Note: ", "status_update": "Status update: ", "pinned_message": "Message: "}
    return label.get(entry.kind.value, "") + shown


def local(moment: datetime) -> str:
    moment = moment.astimezone(TZ)
    return f"{moment:%Y-%m-%d %H:%M:%S} {moment.tzname()}"


# -------------------------------------------------------------------------------------------------
# Helpers
# -------------------------------------------------------------------------------------------------


def person(confluence: SandboxConfluence, email: str = "carol@example.com") -> Account:
    return next(a for a in confluence.accounts.values() if a.email == email)


async def written(incident_id: int, seconds: float = 5.0) -> Postmortem:
    found: Postmortem = await eventually(
        lambda: PostmortemRepository().get(incident_id), seconds=seconds
    )
    return found


async def mitigated(bot: Any, ws: Workspace, **changes: Any) -> tuple[Any, Postmortem]:
    """A P2 in production (it needs a post-mortem), declared then mitigated; its page written."""
    incident = await declare_and_wait(bot, ws, outage(**changes))
    await bot.service.change_status(incident.id, Status.MITIGATED, by=Actor.user(ws.alice))
    await outbox_idle()
    return incident, await written(incident.id)


async def shown_timeline(incident_id: int) -> list[Any]:
    return postmortem.shown_entries(await TimelineRepository().list(incident_id, limit=1000))


async def entries(incident_id: int, kind: TimelineKind) -> list[Any]:
    return [e for e in await TimelineRepository().list(incident_id, limit=1000) if e.kind is kind]


def said(slack: SlackSandbox, channel_id: str | None, needle: str) -> list[str]:
    channel = slack.ws.channels[channel_id or ""]
    return [m.text for m in channel.messages.values() if needle in m.text]


async def ready_to_close(bot: Any, ws: Workspace, incident_id: int) -> None:
    """Everything the gate asks of a P2 but the post-mortem: Post-mortem status, Detected set."""
    alice = Actor.user(ws.alice)
    current = await IncidentRepository().require(incident_id)
    await bot.service.set_milestone(
        incident_id, Milestone.DETECTED, current.milestones.declared_at, by=alice
    )
    await bot.service.change_status(incident_id, Status.POSTMORTEM, by=alice)
    await outbox_idle()


def calls(confluence: SandboxConfluence, *operations: str) -> int:
    return sum(len(confluence.calls(op)) for op in operations)


# -------------------------------------------------------------------------------------------------
# The page, written with the real incident
# -------------------------------------------------------------------------------------------------


async def test_an_incident_that_needs_one_gets_its_page_at_mitigation_with_the_real_incident(
    confluence_bot: Any, confluence: SandboxConfluence, slack: SlackSandbox, ws: Workspace
) -> None:
    service = confluence_bot.service
    incident = await declare_and_wait(confluence_bot, ws)
    alice = Actor.user(ws.alice)
    await service.add_note(incident.id, "Gateway returns 502 for Visa", by=alice, intent_key="n1")
    await service.assign_roles(
        incident.id, {"communications_lead": ws.bob}, by=alice, intent_key="r1"
    )
    await service.change_status(incident.id, Status.MITIGATING, by=alice)
    await outbox_idle()
    assert await PostmortemRepository().get(incident.id) is None  # not before Mitigated

    await service.change_status(incident.id, Status.MITIGATED, by=alice)
    await outbox_idle()

    current = await written(incident.id)
    page = confluence.page(current.page_id)
    assert page.title == f"Post-mortem #{incident.id}: {incident.title}"
    assert page.parent_id == service.catalog.confluence.parent_page_id
    assert confluence.spaces[page.space_id].key == "PM"
    root = parse(page.body)
    # The timeline: every entry, in the order it happened, times in the catalog's zone.
    expected = await shown_timeline(incident.id)
    shown = rows(root, "timeline")
    emails = {ws.alice: "alice@example.com", ws.bob: "bob@example.com"}
    assert [row[0] for row in shown] == [local(e.happened_at) for e in expected]
    assert [row[2] for row in shown] == [readable(e, emails) for e in expected]
    assert "Note: Gateway returns 502 for Visa" in [row[2] for row in shown]
    assert "Communications lead: bob@example.com" in [row[2] for row in shown]
    assert shown[-1][2] == "Status: Mitigating → Mitigated"
    assert {row[1] for row in shown} == {"alice@example.com"}
    # Summary, impact, roles, milestones, metrics, links; the authors' sections left empty.
    assert incident.summary in text(root)
    assert rows(root, "impacts") == [["Business", "Medium"], ["Customers", "Medium"]]
    assert items(root, "roles") == [
        "Incident commander: alice@example.com",
        "Communications lead: bob@example.com",
    ]
    milestones = dict(map(tuple, rows(root, "milestones")))  # type: ignore[arg-type]
    stored = await IncidentRepository().require(incident.id)
    assert milestones["Mitigated"] == local(stored.milestones.mitigated_at)  # type: ignore[arg-type]
    assert milestones["Closed"] == "—"
    metrics = dict(map(tuple, rows(root, "metrics")))  # type: ignore[arg-type]
    assert metrics["Time to mitigate"].endswith(("s", "min"))
    assert metrics["Time to close"] == "— (Closed not set yet)"
    assert items(root, "links") == [f"Slack channel #{incident.channel_name}"]
    assert "No follow-up yet" in text(panels(root)["followups"][0])
    assert "Root cause" in text(root) and "What went well" in text(root)
    # Linked from the channel (bookmark and a line) and the timeline.
    channel = slack.ws.channels[incident.channel_id or ""]
    assert current.url in [b.link for b in channel.bookmarks.values()]
    assert len(said(slack, incident.channel_id, current.url)) == 1
    (created,) = await entries(incident.id, TimelineKind.POSTMORTEM_CREATED)
    assert created.data["url"] == current.url
    # Written once: its own creation on the timeline does not rewrite it.
    assert len(page.versions) == 1


async def test_every_value_is_escaped_for_the_storage_format_and_never_read_as_a_placeholder(
    confluence_bot: Any, confluence: SandboxConfluence, ws: Workspace
) -> None:
    title = 'Checkout <b>down</b> & "fast" {timeline}'
    summary = "Cards refused ]]> <script>alert(1)</script> {summary} {links} \x07 & co"
    incident, current = await mitigated(confluence_bot, ws, title=title, summary=summary)
    note = "Rolled back <v41> & checked: 'ok' {roles}"
    await confluence_bot.service.add_note(
        incident.id, note, by=Actor.user(ws.alice), intent_key="n1"
    )
    await outbox_idle()

    page = confluence.page(current.page_id)
    root = parse(page.body)  # well-formed, whatever people typed
    assert page.title == f"Post-mortem #{incident.id}: {title}"
    assert "Cards refused ]]> <script>alert(1)</script> {summary} {links} & co" in text(root)
    assert root.find(".//script") is None and root.find(".//b") is None
    assert {name: len(found) for name, found in panels(root).items()} == dict.fromkeys(
        postmortem.BLOCKS, 1
    )
    assert any(row[2] == f"Note: {note}" for row in rows(root, "timeline"))


# -------------------------------------------------------------------------------------------------
# Keeping it up to date, never over people's words
# -------------------------------------------------------------------------------------------------


async def test_the_timeline_section_follows_the_timeline_and_peoples_edits_elsewhere_stay(
    confluence_bot: Any, confluence: SandboxConfluence, ws: Workspace
) -> None:
    incident, current = await mitigated(confluence_bot, ws)
    carol = person(confluence)
    page = confluence.page(current.page_id)
    placeholder = (
        '<p><em>What happened, and why? Ask "why" until the answer is a decision, '
        "not a person.</em></p>"
    )
    assert placeholder.replace('"', "&quot;") in page.body or placeholder in page.body
    cause = "<p>The TLS bundle shipped without the intermediate CA &amp; nobody noticed.</p>"
    edited = page.body.replace(placeholder, cause).replace(
        placeholder.replace('"', "&quot;"), cause
    )
    confluence.edit_as(carol, page.id, body=edited)

    await confluence_bot.service.add_note(
        incident.id, "Intermediate CA added back", by=Actor.user(ws.alice), intent_key="n1"
    )
    await outbox_idle()

    root = parse(page.body)
    assert "The TLS bundle shipped without the intermediate CA & nobody noticed." in text(root)
    assert rows(root, "timeline")[-1][2] == "Note: Intermediate CA added back"
    assert [v.author_id for v in page.versions] == [
        confluence.bot.account_id,
        carol.account_id,
        confluence.bot.account_id,
    ]
    assert page.versions[-1].message == SYNC_MESSAGE
    # The same timeline again costs no request at all (the digest of what was written matches).
    before = len(confluence.requests)
    await confluence_bot.service.resync_postmortem(incident.id, token="again")
    await outbox_idle()
    assert len(confluence.requests) == before


async def test_a_person_publishing_while_the_bot_writes_keeps_their_edit(
    confluence_bot: Any, confluence: SandboxConfluence, ws: Workspace
) -> None:
    incident, current = await mitigated(confluence_bot, ws)
    carol = person(confluence)
    page = confluence.page(current.page_id)
    slow = confluence.delay(0.3, r"/wiki/api/v2/pages/\d+$", method="PUT")
    await confluence_bot.service.add_note(
        incident.id, "Second rollback done", by=Actor.user(ws.alice), intent_key="n1"
    )
    await slow.arrived.wait()
    # Carol publishes while the bot's write is on its way: its version is stale now (409).
    confluence.edit_as(carol, page.id, body=page.body + "<p>Carol's draft of the root cause</p>")
    await outbox_idle()

    root = parse(page.body)
    assert "Carol's draft of the root cause" in text(root)
    assert rows(root, "timeline")[-1][2] == "Note: Second rollback done"
    assert [r.status for r in confluence.calls("updatePage")] == [409, 200]
    assert await models.OutboxItem.filter(status="failed").count() == 0


async def test_a_generated_section_people_deleted_is_not_put_back(
    confluence_bot: Any, confluence: SandboxConfluence, ws: Workspace
) -> None:
    incident, current = await mitigated(confluence_bot, ws)
    page = confluence.page(current.page_id)
    root = parse(page.body)
    links_panel = ET.tostring(root, encoding="unicode")  # the whole body, to find the panel's text
    assert "firefighter-links" in links_panel
    start = page.body.index('<ac:structured-macro ac:name="panel"', page.body.index("<h2>Links"))
    confluence.edit_as(person(confluence), page.id, body=page.body[:start])

    await confluence_bot.service.add_note(
        incident.id, "Links are not needed here", by=Actor.user(ws.alice), intent_key="n1"
    )
    await outbox_idle()

    root = parse(page.body)
    assert "links" not in panels(root)
    assert rows(root, "timeline")[-1][2] == "Note: Links are not needed here"


# -------------------------------------------------------------------------------------------------
# "Ready": the label on the page, and the close gate
# -------------------------------------------------------------------------------------------------


async def test_the_gate_says_to_add_the_label_and_closes_once_a_person_added_it(
    confluence_bot: Any, confluence: SandboxConfluence, slack: SlackSandbox, ws: Workspace
) -> None:
    service = confluence_bot.service
    incident, current = await mitigated(confluence_bot, ws)
    await ready_to_close(confluence_bot, ws, incident.id)
    alice = Actor.user(ws.alice)

    with pytest.raises(TransitionRefused) as refused:
        await service.change_status(incident.id, Status.CLOSED, by=alice)
    (reason,) = refused.value.reasons
    assert reason.fix == Fix.MARK_POSTMORTEM_READY
    assert f"Add the label postmortem-ready to the post-mortem page {current.url}" in reason.text

    confluence.add_label_as(person(confluence), current.page_id, "postmortem-ready")
    # No pull ran: the close itself reads the page first.
    closed = await service.change_status(incident.id, Status.CLOSED, by=alice)
    assert closed.status is Status.CLOSED
    ready = [e.text for e in await entries(incident.id, TimelineKind.EXTERNAL_EVENT)]
    assert "Post-mortem marked ready: the page has the label postmortem-ready" in ready
    await outbox_idle()
    assert len(said(slack, incident.channel_id, "Post-mortem marked ready")) == 1


async def test_the_pull_records_the_label_once_and_a_removed_label_closes_the_gate_again(
    confluence_bot: Any, confluence: SandboxConfluence, ws: Workspace
) -> None:
    service, pull = confluence_bot.service, confluence_bot.postmortem_pull
    incident, current = await mitigated(confluence_bot, ws)
    carol = person(confluence)
    confluence.add_label_as(carol, current.page_id, "postmortem-ready")

    first = await pull.pull()
    again = await pull.pull()
    await outbox_idle()

    assert (first.changed, again.changed) == (1, 0)
    assert await service.postmortem_ready(incident.id)
    marked = [
        e for e in await entries(incident.id, TimelineKind.EXTERNAL_EVENT) if "ready" in e.text
    ]
    assert len(marked) == 1 and marked[0].actor.id == "confluence"
    # Ready: the page is the authors' now, a new entry does not rewrite it.
    updates = calls(confluence, "updatePage")
    await service.add_note(incident.id, "After the fact", by=Actor.user(ws.alice), intent_key="n1")
    await outbox_idle()
    assert calls(confluence, "updatePage") == updates

    confluence.remove_label_as(carol, current.page_id, "postmortem-ready")
    await pull.pull()
    assert not await service.postmortem_ready(incident.id)
    blockers = await service.close_blockers(await IncidentRepository().require(incident.id))
    assert any("postmortem-ready" in b.text for b in blockers)


async def test_the_mark_ready_button_reads_the_page_and_says_what_is_missing(
    confluence_bot: Any, confluence: SandboxConfluence, ws: Workspace
) -> None:
    from bot.domain.errors import UserFacingError

    service = confluence_bot.service
    incident, current = await mitigated(confluence_bot, ws)
    alice = Actor.user(ws.alice)

    with pytest.raises(UserFacingError) as missing:
        await service.mark_postmortem_ready(incident.id, by=alice)
    assert "not ready yet" in missing.value.message
    assert "postmortem-ready" in missing.value.message and current.url in missing.value.message

    confluence.add_label_as(person(confluence), current.page_id, "postmortem-ready")
    await service.mark_postmortem_ready(incident.id, by=alice)
    assert await service.postmortem_ready(incident.id)
    with pytest.raises(AlreadyDone):
        await service.mark_postmortem_ready(incident.id, by=alice)


# -------------------------------------------------------------------------------------------------
# On demand, and the incidents that get none
# -------------------------------------------------------------------------------------------------


async def test_slash_postmortem_writes_the_page_on_demand_then_shows_it(
    confluence_bot: Any, confluence: SandboxConfluence, slack: SlackSandbox, ws: Workspace
) -> None:
    # Out of production no post-mortem is required: none is written at mitigation, but one can
    # be asked for.
    incident = await declare_and_wait(confluence_bot, ws, outage(environments=("STG",)))
    channel = incident.channel_id or ""
    await confluence_bot.service.change_status(
        incident.id, Status.MITIGATED, by=Actor.user(ws.alice)
    )
    await outbox_idle()
    assert await PostmortemRepository().get(incident.id) is None

    await slack.run_slash_command(ws.alice, "/incident", "postmortem", channel)
    await outbox_idle()
    current = await written(incident.id)
    assert confluence.page(current.page_id).title.startswith(f"Post-mortem #{incident.id}")

    await slack.run_slash_command(ws.alice, "/incident", "postmortem", channel)
    shown = await eventually(
        lambda: _async([e for e in slack.ephemerals(ws.alice) if current.url in str(e.blocks)])
    )
    assert "Not ready yet" in str(shown[-1].blocks)
    assert len(confluence.pages_titled(current.title)) == 1


async def _async(value: Any) -> Any:
    return value


async def test_a_private_incident_never_gets_a_page_in_the_shared_space(
    confluence_bot: Any, confluence: SandboxConfluence, ws: Workspace
) -> None:
    incident, _ = await _private_mitigated(confluence_bot, ws)
    assert await PostmortemRepository().get(incident.id) is None
    blockers = await confluence_bot.service.close_blockers(incident)
    assert "Mark the post-mortem document as ready." in [b.text for b in blockers]
    assert not [p for p in confluence.pages.values() if f"#{incident.id}" in p.title]


async def _private_mitigated(bot: Any, ws: Workspace) -> tuple[Any, None]:
    incident = await declare_and_wait(bot, ws, outage(private=True))
    await bot.service.change_status(incident.id, Status.MITIGATED, by=Actor.user(ws.alice))
    await outbox_idle()
    return await IncidentRepository().require(incident.id), None


# -------------------------------------------------------------------------------------------------
# Faults: Confluence down, a page deleted
# -------------------------------------------------------------------------------------------------


async def test_while_confluence_is_down_the_page_waits_and_is_written_after(
    confluence_bot: Any, confluence: SandboxConfluence, ws: Workspace
) -> None:
    confluence.start_outage()
    incident = await declare_and_wait(confluence_bot, ws)
    await confluence_bot.service.change_status(
        incident.id, Status.MITIGATED, by=Actor.user(ws.alice)
    )
    await outbox_idle()
    assert await PostmortemRepository().get(incident.id) is None
    assert (await IncidentRepository().require(incident.id)).status is Status.MITIGATED
    confluence.end_outage()
    # Skip the backoff's wait rather than sleep through it.
    await models.OutboxItem.filter(kind=postmortem.CREATE, status="pending").update(
        next_attempt_at=datetime.now(UTC)
    )
    confluence_bot.worker.wake()
    current = await written(incident.id)
    assert rows(parse(confluence.page(current.page_id).body), "timeline")
    assert await models.OutboxItem.filter(status="failed").count() == 0


async def test_a_page_still_unwritten_after_the_last_attempt_is_reported_and_can_be_asked_again(
    confluence_bot: Any, confluence: SandboxConfluence, slack: SlackSandbox, ws: Workspace
) -> None:
    confluence.start_outage()
    incident = await declare_and_wait(confluence_bot, ws)
    await confluence_bot.service.change_status(
        incident.id, Status.MITIGATED, by=Actor.user(ws.alice)
    )
    await outbox_idle()
    # The job's last attempt, now.
    await models.OutboxItem.filter(kind=postmortem.CREATE).update(
        attempts=CONFLUENCE_ATTEMPTS - 1, next_attempt_at=datetime.now(UTC)
    )
    confluence_bot.worker.wake()
    await eventually(lambda: models.OutboxItem.filter(status="failed").count())
    await outbox_idle()
    (failure,) = await entries(incident.id, TimelineKind.SIDE_EFFECT_FAILED)
    assert failure.text.startswith("Could not write the post-mortem page in Confluence")
    assert said(slack, incident.channel_id, "write the post-mortem page in Confluence")
    # Nothing is lost: once Confluence is back, asking again writes it.
    confluence.end_outage()
    await confluence_bot.service.request_postmortem(
        incident.id, by=Actor.user(ws.alice), intent_key="again"
    )
    await outbox_idle()
    assert (await written(incident.id)).live


async def test_a_deleted_page_is_told_once_and_a_new_one_is_written_on_request(
    confluence_bot: Any, confluence: SandboxConfluence, slack: SlackSandbox, ws: Workspace
) -> None:
    service = confluence_bot.service
    incident, current = await mitigated(confluence_bot, ws)
    confluence.delete_as(person(confluence), current.page_id)
    alice = Actor.user(ws.alice)
    await service.add_note(incident.id, "Still investigating", by=alice, intent_key="n1")
    await outbox_idle()
    await confluence_bot.postmortem_pull.pull()
    await service.add_note(incident.id, "And more", by=alice, intent_key="n2")
    await outbox_idle()

    assert len(said(slack, incident.channel_id, "was deleted in Confluence")) == 1
    assert not (await PostmortemRepository().get(incident.id)).live  # type: ignore[union-attr]
    blockers = await service.close_blockers(await IncidentRepository().require(incident.id))
    assert any("deleted in Confluence" in b.text for b in blockers)

    # Restored from the trash: the pull notices, and the page is kept up to date again.
    confluence.page(current.page_id).status = "current"
    await confluence_bot.postmortem_pull.pull()
    await outbox_idle()
    assert (await PostmortemRepository().get(incident.id)).live  # type: ignore[union-attr]
    restored = [row[2] for row in rows(parse(confluence.page(current.page_id).body), "timeline")]
    assert "Note: And more" in restored
    confluence.delete_as(person(confluence), current.page_id)
    await confluence_bot.postmortem_pull.pull()

    await service.request_postmortem(incident.id, by=alice, intent_key="new")
    await outbox_idle()
    replaced = await written(incident.id)
    assert replaced.live and replaced.page_id != current.page_id
    assert confluence.page(replaced.page_id).title == current.title
    texts = [row[2] for row in rows(parse(confluence.page(replaced.page_id).body), "timeline")]
    assert "Note: And more" in texts


# -------------------------------------------------------------------------------------------------
# With Jira: the ticket links the page; or the ticket's status says "ready"
# -------------------------------------------------------------------------------------------------


async def _bot_with_jira(
    stack: AsyncExitStack,
    slack: SlackSandbox,
    confluence: SandboxConfluence,
    catalog: Catalog,
    jira: Any,
) -> Any:
    from bot.main import start_bot

    settings = confluence_settings(
        slack,
        confluence,
        jira_url=jira.base_url,
        jira_user=jira.bot.email,
        jira_api_token=jira.bot.api_token,
        jira_cloud=True,
        jira_pull_seconds=3600,
    )
    bot = await start_bot(settings, catalog, stack)  # type: ignore[arg-type]
    await slack.wait_for_connection()
    return bot


async def test_the_jira_ticket_links_the_page_and_the_page_links_the_ticket(
    db: object,
    slack: SlackSandbox,
    confluence: SandboxConfluence,
    confluence_catalog: Catalog,
    ws: Workspace,
) -> None:
    from sandbox.jira import SandboxJira
    from sandbox.jira.seed import seed_site
    from storage.tickets import TicketRepository

    async with SandboxJira(mode="cloud") as jira, AsyncExitStack() as stack:
        catalog = seed_site(jira, confluence_catalog, people=[("Alice", "alice@example.com")])
        bot = await _bot_with_jira(stack, slack, confluence, catalog, jira)
        incident, current = await mitigated(bot, ws)
        issue = await TicketRepository().get(incident.id)
        assert issue is not None
        await outbox_idle()
        remote = [link.object.get("url") for link in jira.issue(issue.key).remote_links]
        assert current.url in remote
        # A follow-up is listed with its key once Jira has it (the pull sees the page behind).
        await bot.service.add_followup(
            incident.id, "Alert on TLS chain errors", by=Actor.user(ws.alice), intent_key="f1"
        )
        await outbox_idle()
        await bot.postmortem_pull.pull()
        await outbox_idle()
        (followup,) = await bot.service.followups.list(incident.id)
        assert followup.key is not None
        listed = items(parse(confluence.page(current.page_id).body), "followups")
        assert listed[0].startswith(f"{followup.key}: Alert on TLS chain errors — To Do, due ")
        assert f"Jira ticket {issue.key}" in items(
            parse(confluence.page(current.page_id).body), "links"
        )
        jira.assert_no_violations()


async def test_with_ready_via_jira_status_the_tickets_status_is_what_makes_it_ready(
    db: object,
    slack: SlackSandbox,
    confluence: SandboxConfluence,
    confluence_catalog: Catalog,
    ws: Workspace,
) -> None:
    from sandbox.jira import SandboxJira
    from sandbox.jira.seed import seed_site
    from storage.tickets import TicketRepository

    async with SandboxJira(mode="cloud") as jira, AsyncExitStack() as stack:
        ready_status = confluence_catalog.jira.status_mapping["postmortem"]
        section = confluence_catalog.confluence.model_copy(
            update={"ready_via": "jira_status", "ready_jira_status": "Done"}
        )
        catalog = seed_site(
            jira,
            confluence_catalog.model_copy(update={"confluence": section}),
            people=[("Alice", "alice@example.com")],
        )
        bot = await _bot_with_jira(stack, slack, confluence, catalog, jira)
        incident, current = await mitigated(bot, ws)
        await ready_to_close(bot, ws, incident.id)
        issue = await TicketRepository().get(incident.id)
        assert issue is not None and jira.status_name(jira.issue(issue.key)) == ready_status
        blockers = await bot.service.close_blockers(await IncidentRepository().require(incident.id))
        assert [b.text for b in blockers] == [
            f"Move the Jira ticket {issue.key} to Done when the post-mortem {current.url} is "
            "ready, then close again."
        ]
        # The label does nothing in this mode; the ticket's status does.
        confluence.add_label_as(person(confluence), current.page_id, "postmortem-ready")
        await bot.postmortem_pull.pull()
        assert not await bot.service.postmortem_ready(incident.id)
        human = next(a for a in jira.accounts.values() if a.email == "alice@example.com")
        jira.transition_as(human, issue.key, "Close")
        await bot.postmortem_pull.pull()
        assert await bot.service.postmortem_ready(incident.id)
        jira.assert_no_violations()


# -------------------------------------------------------------------------------------------------
# Configuration: the template at load, the site with `firefighter check`
# -------------------------------------------------------------------------------------------------


def test_an_unknown_placeholder_is_refused_at_load_naming_the_file_line_and_field(
    tmp_path: Path,
) -> None:
    from bot.config import CatalogError

    config = tmp_path / "firefighter.yaml"
    config.write_text(EXAMPLE.read_text().replace("{metrics}", "{mttr}"))
    with pytest.raises(CatalogError) as refused:
        load_catalog(config)
    (problem,) = refused.value.problems
    template_line = next(
        n for n, line in enumerate(config.read_text().splitlines(), 1) if "  template: |" in line
    )
    assert (problem.file, problem.line, problem.path) == (
        str(config),
        template_line,
        "confluence.template",
    )
    assert "unknown placeholder {mttr} on line 9 of the template" in problem.message


def test_a_page_body_that_does_not_parse_is_left_alone() -> None:
    wanted = {"timeline": postmortem.section("timeline", "<p>new</p>")}
    assert postmortem.replace_sections("<p>unclosed <b>bold</p>", wanted) is None
    # An anchor someone moved out of its panel: no longer a section the bot owns.
    moved = (
        '<ac:structured-macro ac:name="anchor" ac:schema-version="1">'
        '<ac:parameter ac:name="">firefighter-timeline</ac:parameter></ac:structured-macro>'
    )
    splice = postmortem.replace_sections(f"<p>mine</p>{moved}", wanted)
    assert splice is not None and splice.found == frozenset() and not splice.changed


def test_a_template_confluence_would_refuse_is_refused_at_load() -> None:
    from bot.postmortem import template_problems

    assert template_problems("<h1>Timeline</h2>\n{timeline}") == [
        "not well-formed storage format (XHTML) on line 1 of the template: mismatched tag"
    ]
    assert template_problems("<p>a { b } {1x} {timeline}</p>") == []


async def test_check_names_a_space_and_a_parent_page_confluence_does_not_have(
    tmp_path: Path, confluence: SandboxConfluence
) -> None:
    config = tmp_path / "firefighter.yaml"
    config.write_text(
        EXAMPLE.read_text()
        .replace("space_key: PM", "space_key: NOPE")
        .replace('parent_page_id: "123456"', 'parent_page_id: "999"')
    )
    code, out = await firefighter(
        "check",
        FIREFIGHTER_CONFIG=str(config),
        CONFLUENCE_URL=confluence.base_url,
        CONFLUENCE_USER=confluence.bot.email,
        CONFLUENCE_API_TOKEN=confluence.bot.api_token,
    )
    assert code == 1, out
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if "NOPE" in text)
    assert f"confluence: {config}:{line}:" in out
    assert "Confluence has no space NOPE" in out
    assert confluence.bot.api_token not in out

    good = load_catalog(None)
    from integrations.confluence import ConfluenceDocs

    docs = ConfluenceDocs(confluence.base_url, confluence.bot.email, confluence.bot.api_token)
    section = good.confluence.model_copy(update={"parent_page_id": "999"})
    try:
        problems = dict(
            await confluence_problems(
                good.model_copy(update={"confluence": section}), docs, jira_enabled=False
            )
        )
    finally:
        await docs.close()
    assert "Confluence has no page 999" in problems[("confluence", "parent_page_id")]
