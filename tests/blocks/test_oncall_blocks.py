"""On-call and paging in Block Kit (``bot.blocks.oncall``): ``/incident oncall``, the declare modal's
on-call section, the answers of ``/incident page``; valid Block Kit, names from PagerDuty escaped,
people without a Slack account shown by name."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.blocks.declare import DeclarePrefill, declare_modal
from bot.blocks.oncall import (
    oncall_loading_blocks,
    oncall_message,
    oncall_modal_blocks,
    page_reply_message,
    unknown_service_message,
)
from bot.config import load_catalog
from bot.page import PageView, ServiceOnCall
from bot.ports import OnCall, OnCallShift, PagerUser
from sandbox.slack.blockkit import BlockKitChecker
from tests.domain.factories import incident

CATALOG = load_catalog(None)
TZ = ZoneInfo("Europe/Paris")
END = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
PAYMENTS = CATALOG.pagerduty.service("payments")
CHECKOUT = CATALOG.pagerduty.service("checkout")


def payments_on_call() -> ServiceOnCall:
    olive = PagerUser("P1", "Olive Oncall", "Oncall@Example.com")
    erin = PagerUser("P2", "Erin <Fox> & co", "erin@example.com")
    bob = PagerUser("P3", "Bob Nguyen", "bob@example.com")
    shifts = (
        OnCallShift(1, olive, "Primary", end=END),
        OnCallShift(2, bob, None),
        OnCallShift(2, erin, "Secondary", end=END + timedelta(days=1)),
    )
    return ServiceOnCall(
        PAYMENTS,
        OnCall("PESC001", "Payments on-call", shifts),
        {"oncall@example.com": "U1", "bob@example.com": "U3", "erin@example.com": None},
    )


def test_oncall_lists_levels_with_mentions_names_schedules_and_shift_ends() -> None:
    message = oncall_message(
        [
            payments_on_call(),
            ServiceOnCall(CHECKOUT, OnCall("PESC9", "Checkout", ())),
            ServiceOnCall(
                CATALOG.pagerduty.service("sre"), None, problem="PagerDuty is not answering"
            ),
        ],
        tz=TZ,
        heading="On call now for #42",
        command="/incident",
    )
    assert BlockKitChecker().check_message_blocks(message["blocks"]) == []
    texts = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert texts[1] == (
        "*Payments API* · escalation policy _Payments on-call_\n"
        "Level 1: <@U1> (Primary, until 2026-11-27 18:00 CET)\n"
        "Level 2: <@U3>, Erin &lt;Fox&gt; &amp; co _(no Slack account with their e-mail)_ "
        "(Secondary, until 2026-11-28 18:00 CET)"
    )
    assert "Nobody is on call right now" in texts[2]
    assert texts[3] == "*SRE primary*: :warning: PagerDuty is not answering."


def test_the_declare_modal_shows_on_call_under_the_priority_and_then_re_renders_on_category() -> (
    None
):
    prefill = DeclarePrefill(impacts={"business": "medium"}, category="payments")
    loading = declare_modal(
        CATALOG, prefill, oncall=oncall_loading_blocks([PAYMENTS], priority="P2")
    )
    filled = declare_modal(
        CATALOG,
        prefill,
        oncall=oncall_modal_blocks([payments_on_call()], priority="P2", category="Payments", tz=TZ),
    )
    off = declare_modal(CATALOG, prefill)
    checker = BlockKitChecker()
    assert checker.check_view(loading) == [] and checker.check_view(filled) == []
    ids = [b.get("block_id") for b in filled["blocks"]]
    assert ids.index("declare.oncall") == ids.index("declare.priority") + 1
    assert "asking PagerDuty who is on call" in json.dumps(loading["blocks"])
    assert "Level 1: <@U1>" in json.dumps(filled["blocks"])
    category = next(b for b in filled["blocks"] if b.get("block_id") == "declare.category")
    assert category["dispatch_action"] is True
    # Without PagerDuty, the modal is as it always was: no section, the category dispatches nothing.
    assert "declare.oncall" not in json.dumps(off)
    assert "dispatch_action" not in next(
        b for b in off["blocks"] if b.get("block_id") == "declare.category"
    )


def test_page_answers_say_what_is_sent_and_what_was_paged_already() -> None:
    reply = page_reply_message(
        incident(id=42),
        [
            PageView("Payments API", "requested", new=True),
            PageView(
                "SRE primary",
                "acknowledged",
                new=False,
                number=3,
                url="https://acme.pagerduty.com/incidents/PX",
                acknowledged_by="Bob",
            ),
            PageView("Checkout", "requested", new=False),
        ],
    )
    assert BlockKitChecker().check_message_blocks(reply["blocks"]) == []
    lines = reply["text"].splitlines()
    assert lines[0].startswith(":rotating_light: Paging *Payments API* for #42")
    assert (
        "(<https://acme.pagerduty.com/incidents/PX|PagerDuty #3>, acknowledged by Bob)" in lines[1]
    )
    assert "(PagerDuty, being sent): nothing was sent again" in lines[2]


def test_an_unknown_service_is_answered_with_the_known_ones_escaped() -> None:
    message = unknown_service_message("<!channel>", CATALOG.pagerduty.services, "/incident")
    assert BlockKitChecker().check_message_blocks(message["blocks"]) == []
    shown = message["blocks"][0]["text"]["text"]
    assert "`&lt;!channel&gt;` is not a PagerDuty service" in shown
    assert "• `checkout`: Checkout" in shown
    none = unknown_service_message("x", [], "/incident")
    assert "No PagerDuty service is configured" in none["blocks"][0]["text"]["text"]
