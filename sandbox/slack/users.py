"""Acting as users: how tests and `firefighter demo` drive the app through the sandbox.

Each action builds the payload Slack would send (see `payloads.py`), delivers it over Socket Mode and,
for interactions, waits for the ack and applies it as Slack's client would: a slash command ack with
`text`/`blocks` becomes an ephemeral message (or an `in_channel` one); a `view_submission` ack's
`response_action` (errors / update / push / clear, empty = close) changes the modal stack (SLACK_NOTES
§5.3). No ack within `ack_timeout` → the user sees "the app did not respond" (§6.7).
"""

# The waiting helpers take `timeout=` on purpose: it is their public, test-facing API.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sandbox.slack.methods.extras import reaction_event
from sandbox.slack.payloads import (
    PayloadError,
    action_item,
    element_state,
    event_callback,
    find_action,
    input_elements,
    team_ref,
    user_ref,
)
from sandbox.slack.state import (
    JSON,
    Channel,
    Ephemeral,
    File,
    Message,
    SlackError,
    User,
    View,
)
from sandbox.slack.workspace import ResponseUrl

if TYPE_CHECKING:
    from sandbox.slack.socket_mode import Delivery, SocketModeHub
    from sandbox.slack.workspace import Workspace

RESPONSE_URL_USES = 5
RESPONSE_URL_TTL = 30 * 60
APP_DID_NOT_RESPOND = "the app did not respond"


@dataclass
class Ack:
    """What came back for one envelope: acked in time or not, and the ack's payload."""

    envelope_id: str
    acked: bool
    payload: JSON | None = None
    errors: dict[str, str] = field(default_factory=dict)  # view errors shown to the user
    trigger_id: str | None = None


def _only_block(blocks: list[Any], block_id: str | None) -> list[Any]:
    """The blocks to look an action up in: all, or only the one with `block_id`."""
    if block_id is None:
        return blocks
    found = [b for b in blocks if isinstance(b, dict) and b.get("block_id") == block_id]
    if not found:
        raise PayloadError(f"no block {block_id!r}")
    return found


class ActingAsUsers:
    """Seeding helpers and user actions; mixed into `SlackSandbox`."""

    ws: Workspace
    hub: SocketModeHub
    ack_timeout: float

    # -- seeding ----------------------------------------------------------------------------------
    def add_user(
        self,
        name: str,
        real_name: str | None = None,
        email: str | None = None,
        *,
        is_bot: bool = False,
        tz: str = "Europe/Paris",
        tz_offset: int = 3600,
    ) -> str:
        user = User(
            id=self.ws.ids.make("U"),
            name=name,
            real_name=real_name or name.replace(".", " ").title(),
            email=email if email is not None else (None if is_bot else f"{name}@example.com"),
            is_bot=is_bot,
            tz=tz,
            tz_offset=tz_offset,
            bot_id=self.ws.ids.make("B") if is_bot else None,
        )
        self.ws.users[user.id] = user
        return user.id

    def add_channel(
        self,
        name: str,
        *,
        is_private: bool = False,
        members: tuple[str, ...] | list[str] = (),
        bot: bool = False,
    ) -> str:
        """A channel; the bot is a member only when `bot=True` or its id is in `members`."""
        creator = members[0] if members else self.ws.bot_user_id
        channel = self.ws.create_channel(
            name,
            is_private=is_private,
            creator=creator,
            members=[*members, *([self.ws.bot_user_id] if bot else [])],
        )
        return channel.id

    def add_usergroup(self, handle: str, users: list[str], name: str | None = None) -> str:
        """A user group with these members. Once the app has connected (it is installed and
        running), Slack tells it: `subteam_created`, then `subteam_updated` and
        `subteam_members_changed` for the members (when it subscribes to them); groups seeded
        before are the workspace the app was installed in."""
        emit = self.hub.total_connections > 0
        group = self.ws.create_usergroup(handle, name or handle, emit=emit)
        self.ws.set_usergroup_members(group, users, emit=emit)
        return group.id

    def set_usergroup_members(self, group: str, users: list[str]) -> None:
        """Replace a group's members (by id or handle), as an admin does in Slack: the app gets
        `subteam_updated` and `subteam_members_changed` when it subscribes to them."""
        found = self.ws.usergroups.get(group) or next(
            (g for g in self.ws.usergroups.values() if g.handle == group.removeprefix("@")), None
        )
        if found is None:
            raise PayloadError(f"unknown user group {group!r}")
        self.ws.set_usergroup_members(found, users, emit=self.hub.total_connections > 0)

    # -- delivery ---------------------------------------------------------------------------------
    async def send_event(self, event: JSON) -> Delivery:
        """Deliver one event in the `event_callback` wrapper (redelivered until acked)."""
        return await self.hub.deliver(
            "events_api", event_callback(self.ws, event), accepts_response_payload=False
        )

    async def redeliver(self, envelope_id: str, times: int = 1) -> list[Ack]:
        """Send an envelope's payload again, each time under a new envelope id, as Slack does
        when it retries, or when a person double-clicks (same payload). Returns the acks; what
        an ack says is not applied to the views (the first delivery's was)."""
        delivery = self.hub.deliveries[envelope_id]
        acks: list[Ack] = []
        for _ in range(times):
            again = await self.hub.deliver(
                delivery.type,
                copy.deepcopy(delivery.payload),
                accepts_response_payload=delivery.accepts_response_payload,
            )
            result = await self.hub.wait_ack(again, self.ack_timeout)
            acked = self.hub.is_ack(result)
            acks.append(Ack(again.envelope_id, acked=acked, payload=result if acked else None))
        return acks

    async def _interact(
        self, envelope_type: str, payload: JSON, *, accepts: bool, what: str
    ) -> Ack:
        delivery = await self.hub.deliver(envelope_type, payload, accepts_response_payload=accepts)
        result = await self.hub.wait_ack(delivery, self.ack_timeout)
        if not self.hub.is_ack(result):
            self.ws.user_errors.append(f"{what}: {APP_DID_NOT_RESPOND}")
            self.ws.report(
                "socket_mode", "ack_timeout", f"{what} not acked within {self.ack_timeout}s"
            )
            return Ack(delivery.envelope_id, acked=False, trigger_id=payload.get("trigger_id"))
        if result:
            self.ws.check_broadcast("socket_mode", result)
        return Ack(
            delivery.envelope_id, acked=True, payload=result, trigger_id=payload.get("trigger_id")
        )

    def _user(self, user_id: str) -> User:
        try:
            return self.ws.user(user_id)
        except SlackError:
            raise PayloadError(f"unknown user {user_id!r}") from None

    def _channel(self, channel_id: str) -> Channel:
        channel = self.ws.channels.get(channel_id)
        if channel is None:
            raise PayloadError(f"unknown channel {channel_id!r}")
        return channel

    def new_response_url(
        self,
        user_id: str,
        channel_id: str | None,
        ts: str | None = None,
        *,
        ephemeral: bool = False,
    ) -> str:
        token = self.ws.ids.hex(32)
        self.ws.response_urls[token] = ResponseUrl(token, user_id, channel_id, ts, ephemeral)
        return f"{self.ws.base_url}/response/{token}"

    # -- messages, reactions, membership ----------------------------------------------------------
    async def post_message(
        self, user_id: str, channel_id: str, text: str, thread_ts: str | None = None
    ) -> str:
        """A user posts; the app gets a `message` event if subscribed and in the channel. Returns ts."""
        self._user(user_id)
        channel = self._channel(channel_id)
        if user_id not in channel.members:
            raise PayloadError(f"{user_id} is not a member of {channel.name}")
        if channel.is_archived:
            raise PayloadError(f"{channel.name} is archived")
        if thread_ts and thread_ts not in channel.messages:
            raise PayloadError(f"no message {thread_ts} in {channel.name}")
        return self.ws.post(channel, user_id, text, thread_ts=thread_ts).ts

    async def share_file(
        self,
        user_id: str,
        channel_id: str,
        name: str,
        content: bytes,
        *,
        text: str = "",
        thread_ts: str | None = None,
    ) -> str:
        """A user uploads a file into a channel: Slack posts it as a message with `files` (and
        `upload: true`), which `conversations.history` returns with the file objects. Returns the
        message ts; the file is in `files` under the id of `message.files[0]`."""
        self._user(user_id)
        channel = self._channel(channel_id)
        if user_id not in channel.members:
            raise PayloadError(f"{user_id} is not a member of {channel.name}")
        if thread_ts and thread_ts not in channel.messages:
            raise PayloadError(f"no message {thread_ts} in {channel.name}")
        file = File(
            id=self.ws.ids.make("F"),
            name=name,
            length=len(content),
            content=content,
            channels=[channel.id],
            user=user_id,
            created=int(time.time()),
        )
        self.ws.files[file.id] = file
        return self.ws.post(channel, user_id, text, files=[file.id], thread_ts=thread_ts).ts

    async def add_reaction(self, user_id: str, channel_id: str, ts: str, name: str) -> None:
        channel = self._channel(channel_id)
        message = channel.messages[ts]
        users = message.reactions.setdefault(name, [])
        if user_id not in users:
            users.append(user_id)
            self.ws.emit_in(
                channel,
                "reaction_added",
                reaction_event(
                    self.ws,
                    "reaction_added",
                    user_id=user_id,
                    channel=channel,
                    ts=ts,
                    item_user=message.user,
                    name=name,
                ),
            )

    async def remove_reaction(self, user_id: str, channel_id: str, ts: str, name: str) -> None:
        channel = self._channel(channel_id)
        message = channel.messages[ts]
        users = message.reactions.get(name, [])
        if user_id in users:
            users.remove(user_id)
            if not users:
                del message.reactions[name]
            self.ws.emit_in(
                channel,
                "reaction_removed",
                reaction_event(
                    self.ws,
                    "reaction_removed",
                    user_id=user_id,
                    channel=channel,
                    ts=ts,
                    item_user=message.user,
                    name=name,
                ),
            )

    async def join_channel(self, user_id: str, channel_id: str) -> None:
        self.ws.add_member(self._channel(channel_id), user_id)

    async def leave_channel(self, user_id: str, channel_id: str) -> None:
        self.ws.remove_member(self._channel(channel_id), user_id)

    async def open_app_home(self, user_id: str) -> Delivery:
        self._user(user_id)
        dm = self.ws.dm_channel(user_id)
        event: JSON = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": dm.id,
            "tab": "home",
            "event_ts": self.ws.ids.ts(),
        }
        home = self.ws.views.get(self.ws.home_views.get(user_id, ""))
        if home is not None:
            event["view"] = self.ws.view_json(home)
        return await self.send_event(event)

    # -- slash commands and shortcuts -------------------------------------------------------------
    async def run_slash_command(
        self, user_id: str, command: str, text: str = "", channel_id: str | None = None
    ) -> Ack:
        """Send a `slash_commands` envelope; an ack payload becomes what Slack shows the user."""
        user = self._user(user_id)
        channel = self._channel(channel_id) if channel_id else self.ws.dm_channel(user_id)
        trigger_id = self.ws.new_trigger(user_id)
        payload: JSON = {
            "token": "sandbox-verification-token",
            "team_id": self.ws.team_id,
            "team_domain": self.ws.domain,
            "channel_id": channel.id,
            "channel_name": "directmessage" if channel.is_im else channel.name,
            "user_id": user.id,
            "user_name": user.name,
            "command": command,
            "text": text,
            "api_app_id": self.ws.app_id,
            "is_enterprise_install": "false",
            "response_url": self.new_response_url(user_id, channel.id),
            "trigger_id": trigger_id,
        }
        ack = await self._interact(
            "slash_commands", payload, accepts=True, what=f"{command} {text}".strip()
        )
        if ack.payload:
            self._show_response(user_id, channel, ack.payload, source=command)
        return ack

    def _show_response(self, user_id: str, channel: Channel, body: JSON, *, source: str) -> None:
        text = str(body.get("text") or "")
        blocks = body.get("blocks")
        if blocks is not None:
            try:
                self.ws.check_message_blocks(source, blocks)
            except SlackError:
                return
        if body.get("response_type") == "in_channel":
            self.ws.post(channel, self.ws.bot_user_id, text, blocks=blocks)
        else:
            self.ws.ephemerals.append(
                Ephemeral(
                    ts=self.ws.ids.ts(),
                    channel=channel.id,
                    user=user_id,
                    text=text,
                    blocks=blocks,
                    source=source,
                )
            )

    def interactive_payload(
        self, kind: str, user_id: str, *, trigger_id: str | None = None
    ) -> JSON:
        """The fields every interactive payload from ``user_id`` carries (a new trigger unless
        one is given), for a test that builds the rest itself: a forged or stale action."""
        trigger = trigger_id if trigger_id is not None else self.ws.new_trigger(user_id)
        return self._interactive_base(kind, self._user(user_id), trigger)

    def _interactive_base(self, kind: str, user: User, trigger_id: str) -> JSON:
        return {
            "type": kind,
            "team": team_ref(self.ws),
            "user": user_ref(self.ws, user),
            "api_app_id": self.ws.app_id,
            "token": "sandbox-verification-token",
            "trigger_id": trigger_id,
            "is_enterprise_install": False,
            "enterprise": None,
        }

    async def run_global_shortcut(self, user_id: str, callback_id: str) -> Ack:
        user = self._user(user_id)
        payload = self._interactive_base("shortcut", user, self.ws.new_trigger(user_id))
        payload.update({"callback_id": callback_id, "action_ts": f"{time.time():.6f}"})
        return await self._interact(
            "interactive", payload, accepts=False, what=f"shortcut {callback_id}"
        )

    async def run_message_shortcut(
        self, user_id: str, callback_id: str, channel_id: str, ts: str
    ) -> Ack:
        user = self._user(user_id)
        channel = self._channel(channel_id)
        message = channel.messages.get(ts)
        if message is None:
            raise PayloadError(f"no message {ts} in {channel.name}")
        payload = self._interactive_base("message_action", user, self.ws.new_trigger(user_id))
        payload.update(
            {
                "callback_id": callback_id,
                "action_ts": f"{time.time():.6f}",
                "channel": {"id": channel.id, "name": channel.name},
                "message_ts": ts,
                "message": self.ws.message_json(message),
                "response_url": self.new_response_url(user_id, channel.id, ts),
            }
        )
        return await self._interact(
            "interactive", payload, accepts=False, what=f"message shortcut {callback_id}"
        )

    # -- buttons and modals -----------------------------------------------------------------------
    def _state_of(
        self,
        blocks: list[Any],
        picked_block: JSON | None = None,
        picked: JSON | None = None,
        value: Any = None,
    ) -> JSON:
        values: JSON = {}
        for block_id, block, element in input_elements(blocks):
            chosen = value if block is picked_block and element is picked else None
            values.setdefault(block_id, {})[str(element.get("action_id"))] = element_state(
                element, chosen
            )
        return values

    async def click_button(
        self,
        user_id: str,
        action_id: str,
        *,
        view_id: str | None = None,
        channel_id: str | None = None,
        ts: str | None = None,
        value: Any = None,
        block_id: str | None = None,
    ) -> Ack:
        """Click (or pick `value` in) the element `action_id` of a view, or of a message (channel_id+ts).

        `block_id` picks one element when several blocks share the action id; a picked `value`
        shows in `state.values` too, as in Slack's client."""
        user = self._user(user_id)
        if view_id is not None:
            view = self.ws.views.get(view_id)
            if view is None or (view.closed and view.type != "home"):
                raise PayloadError(f"view {view_id} is not open")
            blocks = view.payload.get("blocks") or []
            block, element = find_action(_only_block(blocks, block_id), action_id)
            trigger_id = self.ws.new_trigger(user_id, view_id=view.id)
            payload = self._interactive_base("block_actions", user, trigger_id)
            view_body = self.ws.view_json(view)
            view_body["state"] = {"values": self._state_of(blocks, block, element, value)}
            payload.update({"container": {"type": "view", "view_id": view.id}, "view": view_body})
        elif channel_id is not None and ts is not None:
            channel = self._channel(channel_id)
            message: Message | Ephemeral | None = channel.messages.get(ts)
            ephemeral = False
            if message is None:
                message = next(
                    (e for e in self.ws.ephemerals if e.ts == ts and e.user == user_id), None
                )
                ephemeral = True
            if message is None:
                raise PayloadError(f"no message {ts} in {channel.name} visible to {user_id}")
            blocks = message.blocks or []
            block, element = find_action(_only_block(blocks, block_id), action_id)
            trigger_id = self.ws.new_trigger(user_id)
            payload = self._interactive_base("block_actions", user, trigger_id)
            message_body = (
                {"type": "message", "ts": message.ts, "text": message.text, "blocks": blocks}
                if isinstance(message, Ephemeral)
                else self.ws.message_json(message)
            )
            payload.update(
                {
                    "container": {
                        "type": "message",
                        "message_ts": ts,
                        "channel_id": channel.id,
                        "is_ephemeral": ephemeral,
                    },
                    "channel": {
                        "id": channel.id,
                        "name": "directmessage" if channel.is_im else channel.name,
                    },
                    "message": message_body,
                    "state": {"values": self._state_of(blocks, block, element, value)},
                    "response_url": self.new_response_url(
                        user_id, channel.id, ts, ephemeral=ephemeral
                    ),
                }
            )
        else:
            raise PayloadError("click_button needs view_id, or channel_id and ts")
        payload["actions"] = [action_item(block, element, value)]
        return await self._interact("interactive", payload, accepts=True, what=f"click {action_id}")

    def _visible_view(self, user_id: str, view_id: str) -> View:
        stack = self.ws.view_stacks.get(user_id, [])
        if not stack or stack[-1] != view_id:
            raise PayloadError(
                f"view {view_id} is not the visible modal of {user_id} (stack: {stack})"
            )
        return self.ws.views[view_id]

    async def submit_view(
        self, user_id: str, view_id: str, values: dict[str, dict[str, Any]] | None = None
    ) -> Ack:
        """Fill inputs (`{block_id: {action_id: value}}`) and press Submit; apply the ack's response_action."""
        user = self._user(user_id)
        view = self._visible_view(user_id, view_id)
        values = values or {}
        blocks = view.payload.get("blocks") or []
        state: JSON = {}
        known: set[tuple[str, str]] = set()
        required_missing: dict[str, str] = {}
        for block_id, block, element in input_elements(blocks):
            action_id = str(element.get("action_id"))
            known.add((block_id, action_id))
            element_value = element_state(element, values.get(block_id, {}).get(action_id))
            state.setdefault(block_id, {})[action_id] = element_value
            filled = [
                v for k, v in element_value.items() if k != "type" and v not in (None, [], "")
            ]
            if block.get("type") == "input" and not block.get("optional") and not filled:
                required_missing[block_id] = "Please complete this required field."
        unknown = [(b, a) for b, actions in values.items() for a in actions if (b, a) not in known]
        if unknown:
            raise PayloadError(f"the view has no input {unknown}; inputs: {sorted(known)}")
        if required_missing:
            view.errors = required_missing
            return Ack("", acked=False, errors=required_missing)
        view_body = self.ws.view_json(view)
        view_body["state"] = {"values": state}
        payload = self._interactive_base(
            "view_submission", user, self.ws.new_trigger(user_id, view_id=view.id)
        )
        payload.update({"view": view_body, "response_urls": []})
        callback = view.payload.get("callback_id", "")
        ack = await self._interact("interactive", payload, accepts=True, what=f"submit {callback}")
        if ack.acked:
            ack.errors = self._apply_submission_ack(user_id, view, ack.payload or {})
        return ack

    def _apply_submission_ack(self, user_id: str, view: View, body: JSON) -> dict[str, str]:
        action = body.get("response_action")
        stack = self.ws.user_stack(user_id)
        if not body:
            self.ws.close_views(user_id, all_views=False)
            return {}
        if action == "errors":
            errors = body.get("errors") or {}
            inputs = {
                str(b.get("block_id"))
                for b in view.payload.get("blocks") or []
                if b.get("type") == "input"
            }
            bad = sorted(set(errors) - inputs)
            if bad:
                self.ws.report(
                    "socket_mode", "bad_response_action", f"errors for non-input block ids {bad}"
                )
            view.errors = {str(k): str(v) for k, v in errors.items()}
            return view.errors
        if action == "clear":
            self.ws.close_views(user_id, all_views=True)
            return {}
        if action in {"update", "push"}:
            new_view = body.get("view")
            try:
                self.ws.check_view(f"view_submission.{action}", new_view)
            except SlackError:
                return {}
            if not isinstance(new_view, dict):
                self.ws.report("socket_mode", "bad_response_action", f"{action} without a view")
                return {}
            if action == "update":
                view.payload = new_view
                view.hash = self.ws.ids.view_hash()
                view.errors = {}
            elif len(stack) >= 3:
                self.ws.report(
                    "socket_mode", "push_limit_reached", "response_action push beyond 3 views"
                )
            else:
                pushed = View(
                    id=self.ws.ids.make("V"),
                    user_id=user_id,
                    payload=new_view,
                    hash=self.ws.ids.view_hash(),
                    root_view_id=stack[0],
                    previous_view_id=stack[-1],
                )
                self.ws.views[pushed.id] = pushed
                stack.append(pushed.id)
            return {}
        self.ws.report("socket_mode", "bad_response_action", f"unknown response_action {action!r}")
        return {}

    async def close_view(self, user_id: str, view_id: str | None = None) -> Ack | None:
        """Press the close button (x) of the visible modal; `view_closed` is sent when the view has `notify_on_close`."""
        stack = self.ws.view_stacks.get(user_id, [])
        if not stack:
            raise PayloadError(f"{user_id} has no open modal")
        view = self._visible_view(user_id, view_id or stack[-1])
        clear = bool(view.payload.get("clear_on_close"))
        closed = self.ws.close_views(user_id, all_views=clear)
        if not view.payload.get("notify_on_close"):
            return None
        user = self._user(user_id)
        payload = self._interactive_base("view_closed", user, "")
        payload.pop("trigger_id")
        payload.update({"view": self.ws.view_json(view), "is_cleared": clear and len(closed) > 1})
        return await self._interact("interactive", payload, accepts=False, what="close view")

    # -- response_url ------------------------------------------------------------------------------
    def use_response_url(self, token: str, body: JSON) -> tuple[int, str]:
        """Apply a POST to a `response_url` (5 uses in 30 minutes, [interactivity])."""
        target = self.ws.response_urls.get(token)
        if target is None:
            self.ws.report("response_url", "unknown_response_url", token)
            return 404, "invalid_token"
        if target.uses >= RESPONSE_URL_USES or time.monotonic() - target.issued > RESPONSE_URL_TTL:
            self.ws.report(
                "response_url", "response_url_exhausted", "used 5 times or older than 30 minutes"
            )
            return 404, "used_url"
        target.uses += 1
        self.ws.check_broadcast("response_url", body.get("text"), body.get("blocks"))
        blocks = body.get("blocks")
        if blocks is not None:
            problems = self.ws.blockkit.check_message_blocks(blocks)
            if problems:
                self.ws.report("response_url", "invalid_blocks", "; ".join(map(str, problems)))
                return 400, "invalid_blocks"
        channel = self.ws.channels.get(target.channel_id or "")
        if channel is None:
            return 404, "channel_not_found"
        original: Message | Ephemeral | None = None
        if target.message_ts:
            if target.ephemeral:
                original = next((e for e in self.ws.ephemerals if e.ts == target.message_ts), None)
            else:
                original = channel.messages.get(target.message_ts)
        if body.get("delete_original"):
            if isinstance(original, Ephemeral):
                self.ws.ephemerals.remove(original)
            elif isinstance(original, Message):
                del channel.messages[original.ts]
            return 200, "ok"
        if body.get("replace_original") and original is not None:
            original.text = str(body.get("text") or "")
            original.blocks = blocks
            return 200, "ok"
        text = str(body.get("text") or "")
        if body.get("response_type") == "in_channel":
            self.ws.post(
                channel, self.ws.bot_user_id, text, blocks=blocks, thread_ts=body.get("thread_ts")
            )
        else:
            self.ws.ephemerals.append(
                Ephemeral(
                    self.ws.ids.ts(),
                    channel.id,
                    target.user_id,
                    text,
                    blocks,
                    body.get("thread_ts"),
                    "response_url",
                )
            )
        return 200, "ok"

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        delivery = self.hub.deliveries[envelope_id]
        try:
            payload = await asyncio.wait_for(asyncio.shield(delivery.ack), timeout)
        except TimeoutError:
            return Ack(envelope_id, acked=False)
        return Ack(envelope_id, acked=True, payload=payload)
