"""The sandbox keeps Slack's state and answers with Slack's documented errors."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.slack import SlackSandbox
from sandbox.slack.methods import load_all
from sandbox.slack.spec import method_spec


async def error_of(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(SlackApiError) as caught:
        await call
    return str(caught.value.response["error"])


async def test_channel_names_follow_slack_rules(client: AsyncWebClient) -> None:
    assert await error_of(client.conversations_create(name="Inc-1")) == "invalid_name_specials"
    assert await error_of(client.conversations_create(name="x" * 81)) == "invalid_name_maxlength"
    assert await error_of(client.conversations_create(name="---")) == "invalid_name_punctuation"
    created = await client.conversations_create(name="inc-1")
    await client.conversations_archive(channel=created["channel"]["id"])
    assert await error_of(client.conversations_create(name="inc-1")) == "name_taken"
    assert (
        await error_of(client.conversations_archive(channel=created["channel"]["id"]))
        == "already_archived"
    )


async def test_invites_report_each_user(slack: SlackSandbox, client: AsyncWebClient) -> None:
    alice, bob = slack.add_user("alice"), slack.add_user("bob")
    channel = (await client.conversations_create(name="inc-2", is_private=True))["channel"]["id"]
    await client.conversations_invite(channel=channel, users=[alice])
    with pytest.raises(SlackApiError) as caught:
        await client.conversations_invite(
            channel=channel, users=[alice, bob, slack.bot_user_id, "UNOBODY"]
        )
    errors = {e["user"]: e["error"] for e in caught.value.response["errors"]}
    assert errors == {
        alice: "already_in_channel",
        slack.bot_user_id: "cant_invite_self",
        "UNOBODY": "user_not_found",
    }
    await client.conversations_invite(channel=channel, users=[alice, bob], force=True)
    assert set(slack.channels[channel].members) == {slack.bot_user_id, alice, bob}


async def test_a_private_channel_without_the_bot_is_out_of_reach(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    alice = slack.add_user("alice")
    secret = slack.add_channel("secret", is_private=True, members=[alice])
    public = slack.add_channel("public", members=[alice])
    assert await error_of(client.chat_postMessage(channel=secret, text="x")) == "channel_not_found"
    assert (
        await error_of(client.conversations_invite(channel=public, users=[alice]))
        == "not_in_channel"
    )
    assert (await client.chat_postMessage(channel=public, text="via chat:write.public"))["ok"]


async def test_topic_changes_post_a_deletable_notice(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    channel = (await client.conversations_create(name="inc-3"))["channel"]["id"]
    assert (
        await error_of(client.conversations_setTopic(channel=channel, topic="x" * 251))
        == "too_long"
    )
    await client.conversations_setTopic(channel=channel, topic="SEV1 database down")
    notice = slack.messages(channel)[-1]
    assert notice.subtype == "channel_topic"
    await client.chat_delete(channel=channel, ts=notice.ts)
    assert slack.channels[channel].topic["value"] == "SEV1 database down"
    assert slack.messages(channel) == []


async def test_threads_broadcasts_updates_and_deletes(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    alice = slack.add_user("alice")
    channel = slack.add_channel("general", members=[alice], bot=True)
    parent = (await client.chat_postMessage(channel=channel, text="parent"))["ts"]
    await client.chat_postMessage(channel=channel, text="reply", thread_ts=parent)
    await client.chat_postMessage(
        channel=channel, text="loud", thread_ts=parent, reply_broadcast=True
    )
    history = await client.conversations_history(channel=channel)
    assert [m["text"] for m in history["messages"]] == ["loud", "parent"]
    assert history["messages"][1]["reply_count"] == 2
    replies = await client.conversations_replies(channel=channel, ts=parent)
    assert [m["text"] for m in replies["messages"]] == ["parent", "reply", "loud"]
    assert (
        await error_of(client.chat_update(channel=channel, ts=parent, text="x" * 4001))
        == "msg_too_long"
    )
    assert (
        await error_of(client.chat_update(channel=channel, ts="1.000000", text="x"))
        == "message_not_found"
    )
    user_ts = await slack.post_message(alice, channel, "mine")
    assert (
        await error_of(client.chat_update(channel=channel, ts=user_ts, text="x"))
        == "cant_update_message"
    )
    await client.chat_update(channel=channel, ts=parent, text="edited")
    assert slack.channels[channel].messages[parent].text == "edited"
    link = await client.chat_getPermalink(channel=channel, message_ts=parent)
    assert link["permalink"].endswith(parent.replace(".", ""))


async def test_ephemerals_reach_members_only(slack: SlackSandbox, client: AsyncWebClient) -> None:
    alice, bob = slack.add_user("alice"), slack.add_user("bob")
    channel = slack.add_channel("general", members=[alice], bot=True)
    await client.chat_postEphemeral(channel=channel, user=alice, text="only you")
    assert (
        await error_of(client.chat_postEphemeral(channel=channel, user=bob, text="x"))
        == "user_not_in_channel"
    )
    assert [e.text for e in slack.ephemerals(alice, channel)] == ["only you"]


async def test_direct_messages_go_to_a_dm_channel(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    alice = slack.add_user("alice")
    opened = await client.conversations_open(users=alice)
    assert opened["channel"]["id"].startswith("D")
    await client.chat_postMessage(channel=alice, text="you are on call")
    assert [m.text for m in slack.dms(alice)] == ["you are on call"]


async def test_bookmarks_pins_and_reactions(slack: SlackSandbox, client: AsyncWebClient) -> None:
    channel = (await client.conversations_create(name="inc-4"))["channel"]["id"]
    ts = (await client.chat_postMessage(channel=channel, text="summary"))["ts"]
    bad = client.bookmarks_add(channel_id=channel, title="doc", type="link", link="ftp://x")
    assert await error_of(bad) == "invalid_link"
    bookmark = await client.bookmarks_add(
        channel_id=channel, title="Postmortem", type="link", link="https://d/1"
    )
    await client.bookmarks_edit(
        channel_id=channel, bookmark_id=bookmark["bookmark"]["id"], title="PM"
    )
    assert [b["title"] for b in (await client.bookmarks_list(channel_id=channel))["bookmarks"]] == [
        "PM"
    ]
    await client.pins_add(channel=channel, timestamp=ts)
    assert await error_of(client.pins_add(channel=channel, timestamp=ts)) == "already_pinned"
    await client.pins_remove(channel=channel, timestamp=ts)
    assert await error_of(client.pins_remove(channel=channel, timestamp=ts)) == "no_pin"
    await client.reactions_add(channel=channel, timestamp=ts, name="fire")
    assert (
        await error_of(client.reactions_add(channel=channel, timestamp=ts, name="fire"))
        == "already_reacted"
    )
    got = await client.reactions_get(channel=channel, timestamp=ts)
    assert got["message"]["reactions"] == [
        {"name": "fire", "users": [slack.bot_user_id], "count": 1}
    ]


async def test_people_and_groups(slack: SlackSandbox, client: AsyncWebClient) -> None:
    alice = slack.add_user("alice", "Alice Smith", "alice@corp.example")
    group = slack.add_usergroup("oncall", [alice])
    assert (await client.users_lookupByEmail(email="alice@corp.example"))["user"]["id"] == alice
    assert await error_of(client.users_lookupByEmail(email="nobody@x")) == "users_not_found"
    assert (await client.users_info(user=alice))["user"]["real_name"] == "Alice Smith"
    assert (await client.usergroups_users_list(usergroup=group))["users"] == [alice]
    listed = await client.usergroups_list(include_users=True)
    assert listed["usergroups"][0]["handle"] == "oncall"
    assert (await client.team_info())["team"]["id"] == slack.team_id


async def test_a_file_upload_round_trip_keeps_name_title_and_bytes(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    channel = (await client.conversations_create(name="inc-5"))["channel"]["id"]
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    done = await client.files_upload_v2(
        channel=channel,
        content=png,
        filename="timeline.png",
        title="Timeline",
        initial_comment="chart",
    )
    file = slack.files[done["file"]["id"]]
    assert (file.name, file.title, file.content) == ("timeline.png", "Timeline", png)
    message = slack.messages(channel)[-1]
    assert (message.text, message.files) == ("chart", [file.id])
    async with (
        aiohttp.ClientSession() as session,
        session.get(slack.ws.file_json(file)["url_private"]) as response,
    ):
        assert await response.read() == png


async def test_every_implemented_method_answers_only_documented_errors(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice], bot=True)
    archived = slack.add_channel("old", members=[alice], bot=True)
    slack.channels[archived].is_archived = True
    secret = slack.add_channel("secret", is_private=True, members=[alice])
    outside = slack.add_channel("outside", members=[alice])
    ts = (await client.chat_postMessage(channel=general, text="hello"))["ts"]
    modal = (
        '{"type":"modal","title":{"type":"plain_text","text":"t"},"blocks":[{"type":"divider"}]}'
    )
    # Values that drive the methods down their error paths: unknown ids, archived or hidden channels,
    # bad names, too-long texts, bad links, stale hashes, bad triggers.
    pools: dict[str, list[str]] = {
        "channel": ["CNOPE", general, archived, secret, outside],
        "user": ["UNOPE", alice, slack.bot_user_id],
        "ts": ["1.000001", ts],
        "name": ["Bad Name", "fire", "general"],
        "topic": ["ok", "x" * 300],
        "text": ["x" * 5000, "hi"],
        "view": ['{"type":"modal"}', modal, '{"type":"home","blocks":[{"type":"divider"}]}'],
        "trigger_id": ["bad", "1.2.abc"],
        "view_id": ["VNOPE"],
        "hash": ["stale"],
        "email": ["no@x"],
        "usergroup": ["SNOPE"],
        "files": ['[{"id":"FNOPE"}]', "[]"],
        "filename": ["a.txt"],
        "length": ["-1", "3"],
        "title": ["x" * 300, "t"],
        "type": ["file", "link"],
        "link": ["ftp://x", "https://x"],
        "bookmark_id": ["BkNOPE"],
    }
    aliases = {
        "channel_id": "channel",
        "users": "user",
        "user_id": "user",
        "timestamp": "ts",
        "message_ts": "ts",
        "thread_ts": "ts",
        "purpose": "topic",
    }
    errors: set[str] = set()
    destructive = {"conversations.archive", "conversations.leave", "conversations.kick"}
    for name in sorted(load_all(), key=lambda m: (m in destructive, m)):
        spec = method_spec(name)
        assert spec is not None, name
        for round_ in range(5):
            args = {
                arg: pools[aliases.get(arg, arg)][round_ % len(pools[aliases.get(arg, arg)])]
                for arg in spec.arg_names
                if aliases.get(arg, arg) in pools
            }
            try:
                await client.api_call(name, http_verb="POST", params=args)
            except SlackApiError as error:
                assert error.response.status_code == 200
                errors.add(error.response["error"])
    assert [v for v in slack.violations if v.kind == "undocumented_error"] == []
    assert {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "invalid_name_specials",
        "too_long",
    } <= errors
    slack.violations.clear()


async def test_a_file_a_user_shares_is_on_the_message_and_files_info_serves_its_bytes(
    slack: SlackSandbox, client: AsyncWebClient
) -> None:
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice], bot=True)
    secret = slack.add_channel("secret", is_private=True, members=[alice])
    ts = await slack.share_file(alice, general, "grafana.png", b"\x89PNG-graph", text="p99 here")
    hidden_ts = await slack.share_file(alice, secret, "plan.txt", b"not for bots")

    message = (await client.conversations_history(channel=general, latest=ts, inclusive=True))[
        "messages"
    ][0]
    [shared] = message["files"]
    assert (message["text"], message["user"], shared["name"]) == ("p99 here", alice, "grafana.png")
    info = (await client.files_info(file=shared["id"]))["file"]
    assert (info["id"], info["name"], info["user"], info["channels"]) == (
        shared["id"],
        "grafana.png",
        alice,
        [general],
    )
    async with (
        aiohttp.ClientSession() as session,
        session.get(info["url_private_download"]) as response,
    ):
        assert await response.read() == b"\x89PNG-graph"
    hidden = slack.channels[secret].messages[hidden_ts].files[0]
    assert await error_of(client.files_info(file=hidden)) == "file_not_found"
    assert await error_of(client.files_info(file="FNOPE")) == "file_not_found"
