"""A private P1 through its whole life (declared, updated, mitigated, closed) never shows its title,
summary or channel name to someone who is not a member (PRODUCT.md §5): not in any public channel
(announcements, the deploy warning, threads), not in the outsider's DMs, ephemerals, App Home,
`/incident list`, `/incident stats` or CSV export. The surfaces one by one have their own tests
(tests/app/test_app_home.py, tests/reports/test_reports_in_slack.py, tests/lifecycle/
test_side_effects.py); this one sweeps the whole workspace after a full lifecycle."""

from __future__ import annotations

import json
from typing import Any

from bot.domain.declaration import IncidentChanges
from bot.domain.incident import Actor, ClosureReason, Priority, Status
from sandbox.slack import SlackSandbox
from tests.workspace import Workspace, declare_and_wait, outage, outbox_idle

TITLE = "Payroll export leaked to a partner bucket"
SUMMARY = "Salaries of 40 employees readable by the logistics partner since Monday."
LATER = "Bucket policy reverted, access logs under review."


def _seen(slack: SlackSandbox, message: Any) -> str:
    """A message as people read it, and as clients receive it (blocks, attachments, metadata)."""
    return slack.render_message(message) + json.dumps(message.__dict__, default=str)


async def test_a_private_p1_never_reaches_an_outsider_anywhere_in_the_workspace(
    bot: Any, slack: SlackSandbox, ws: Workspace
) -> None:
    alice = Actor.user(ws.alice)
    general = slack.add_channel("general", members=[ws.alice, ws.bob])
    public = await declare_and_wait(bot, ws, outage(title="Search is slow everywhere"), key="pub")
    secret = await declare_and_wait(
        bot,
        ws,
        outage(
            title=TITLE,
            summary=SUMMARY,
            private=True,
            priority_override=Priority.P1,
            override_reason="payroll data",
        ),
        key="secret",
    )
    assert secret.private and secret.priority is Priority.P1 and secret.channel_name
    await bot.service.update(secret.id, IncidentChanges(summary=LATER), by=alice)
    await bot.service.change_status(secret.id, Status.MITIGATED, by=alice)
    await outbox_idle()
    await bot.service.change_status(
        secret.id, Status.CLOSED, by=alice, closure_reason=ClosureReason.FALSE_ALARM
    )
    await outbox_idle()

    # What the outsider asks for.
    for command in ("list", "list closed", "stats", "export 7d"):
        await slack.run_slash_command(ws.bob, "/incident", command, general)
    await slack.open_app_home(ws.bob)

    def answered() -> bool:
        files = {f for m in slack.dms(ws.bob) for f in m.files}
        home = slack.home_view(ws.bob)
        return (
            len(slack.ephemerals(ws.bob)) >= 4
            and any(slack.files[f].name.endswith(".csv") for f in files if f in slack.files)
            and home is not None
            and public.title in slack.render_blocks(home.payload["blocks"])
        )

    await slack.wait_for(answered)
    await outbox_idle()

    seen: list[tuple[str, str]] = []
    for channel in slack.channels.values():
        # The private digest is where private incidents go by design (its audience is the
        # operator's choice; the test workspace seeds it as a plain channel).
        if channel.is_private or channel.is_im or channel.id == ws.private_digest:
            continue
        for message in channel.messages.values():
            seen.append((f"#{channel.name}", _seen(slack, message)))
        seen.append((f"#{channel.name} topic", json.dumps([channel.topic, channel.purpose])))
    seen += [("bob's DMs", _seen(slack, m)) for m in slack.dms(ws.bob)]
    seen += [("bob's ephemerals", _seen(slack, e)) for e in slack.ephemerals(ws.bob)]
    home = slack.home_view(ws.bob)
    assert home is not None
    seen.append(("bob's App Home", json.dumps(home.payload)))
    bobs_files = {f for m in slack.dms(ws.bob) for f in m.files}
    exported = [f for f in slack.files.values() if f.id in bobs_files and f.content]
    assert [f for f in exported if f.name.endswith(".csv")]
    seen += [(f"bob's file {f.name}", f.content.decode("utf-8", "replace")) for f in exported]
    # The public incident is in these places: the sweep reads the right things.
    assert any(public.title in text for _, text in seen)

    leaks = [
        (where, leak)
        for where, text in seen
        for leak in (TITLE, SUMMARY, LATER, secret.channel_name)
        if leak in text
    ]
    assert not leaks, leaks
