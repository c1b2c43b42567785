"""`SlackSandbox`: the local Slack (Web API over HTTP, Socket Mode over WebSocket) used by the tests,
the benchmarks and `firefighter demo`.

The request pipeline reproduces SLACK_NOTES §3 (merged query/form/JSON arguments, both verbs, booleans
as 1/0/true/false, structured arguments as JSON values or JSON strings, Bearer tokens), §2.2/§3.3 (HTTP
200 `ok:false` errors, `missing_scope` with `needed`/`provided`), §8 (429 + `Retry-After`), and records
every call plus every contract violation (§12).
"""

# The waiting helpers take `timeout=` on purpose: it is their public, test-facing API.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import web

from sandbox.slack.contract import Violation, request_violations
from sandbox.slack.methods import load_all
from sandbox.slack.ratelimit import Faults, InjectedError, InjectedRateLimit, RateLimiter
from sandbox.slack.render import render_blocks as _render_blocks
from sandbox.slack.socket_mode import SocketModeHub
from sandbox.slack.spec import MethodSpec, method_spec
from sandbox.slack.state import JSON, Channel, Ephemeral, File, Message, SlackError, View
from sandbox.slack.users import ActingAsUsers
from sandbox.slack.workspace import Args, Workspace

DEFAULT_BOT_SCOPES: tuple[str, ...] = (
    "commands",
    "chat:write",
    "chat:write.public",
    "channels:manage",
    "channels:read",
    "channels:join",
    "channels:history",
    "groups:write",
    "groups:read",
    "groups:history",
    "im:write",
    "im:read",
    "im:history",
    "users:read",
    "users:read.email",
    "usergroups:read",
    "bookmarks:write",
    "bookmarks:read",
    "pins:write",
    "pins:read",
    "reactions:read",
    "reactions:write",
    "files:read",
    "files:write",
    "team:read",
)
#: Bot events of a typical incident bot (manifest `settings.event_subscriptions.bot_events`, §10.2).
DEFAULT_BOT_EVENTS: tuple[str, ...] = (
    "app_home_opened",
    "app_mention",
    "member_joined_channel",
    "member_left_channel",
    "message.channels",
    "message.groups",
    "message.im",
    "reaction_added",
    "reaction_removed",
    "channel_archive",
    "channel_rename",
    "subteam_created",
    "subteam_updated",
    "subteam_members_changed",
)
#: Scope an event needs besides the subscription (§10.2); events absent here need none.
EVENT_SCOPES: dict[str, str] = {
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
    "reaction_added": "reactions:read",
    "reaction_removed": "reactions:read",
    "pin_added": "pins:read",
    "channel_created": "channels:read",
    "channel_archive": "channels:read",
    "channel_rename": "channels:read",
    "group_archive": "groups:read",
    "app_mention": "app_mentions:read",
    "subteam_created": "usergroups:read",
    "subteam_updated": "usergroups:read",
    "subteam_members_changed": "usergroups:read",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One Web API call as the sandbox saw it."""

    method: str
    args: JSON
    verb: str
    at: float
    status: int
    ok: bool
    error: str | None
    json_body: bool


class SlackSandbox(ActingAsUsers):
    """A local Slack workspace. Start it, point `AsyncWebClient(base_url=sandbox.base_url)` at it.

    ```python
    async with SlackSandbox() as slack:
        alice = slack.add_user("alice", email="alice@example.com")
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.base_url)
        await client.conversations_create(name="inc-42")
        slack.assert_no_violations()
    ```
    """

    def __init__(
        self,
        *,
        team_id: str = "T0FIRE",
        team_name: str = "FireFighter Sandbox",
        app_id: str = "A0FIRE",
        bot_user_id: str = "U0FIREBOT",
        bot_id: str = "B0FIREBOT",
        bot_token: str = "xoxb-sandbox-0000000000-firefighter",
        app_token: str = "xapp-1-A0FIRE-0000000000-sandbox",
        bot_scopes: Iterable[str] = DEFAULT_BOT_SCOPES,
        bot_events: Iterable[str] = DEFAULT_BOT_EVENTS,
        seed: int = 0,
        ack_timeout: float = 3.0,
        trigger_ttl: float = 3.0,
        event_retry_delays: tuple[float, ...] = (0.0, 1.0, 5.0),
        disconnect_grace: float = 0.5,
        strict_block_kit: bool = True,
        enforce_rate_limits: bool = False,
        home_tab_enabled: bool = True,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.bot_events = frozenset(bot_events)
        self.enforce_rate_limits = enforce_rate_limits
        self.ack_timeout = ack_timeout
        self.ws = Workspace(
            team_id=team_id,
            team_name=team_name,
            app_id=app_id,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            bot_scopes=frozenset(bot_scopes),
            rng=random.Random(seed),
            strict_block_kit=strict_block_kit,
            trigger_ttl=trigger_ttl,
            home_tab_enabled=home_tab_enabled,
        )
        self.faults = Faults()
        self.rate_limiter = RateLimiter()
        self.hub = SocketModeHub(
            app_id=app_id,
            rng=random.Random(seed + 1),
            ack_timeout=ack_timeout,
            event_retry_delays=event_retry_delays,
            disconnect_grace=disconnect_grace,
            faults=self.faults,
            report=self.ws.report,
        )
        self.requests: list[RecordedRequest] = []
        self._handlers = load_all()
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.ws.event_sink = self._emit_event

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link/", self.hub.handle)
        app.router.add_get("/link", self.hub.handle)
        app.router.add_post("/upload/v1/{token}", self._upload)
        app.router.add_post("/response/{token}", self._response_url)
        app.router.add_get("/files/{file_id}/{name}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self.ws.base_url = f"http://127.0.0.1:{self._port}"
        self._loop = asyncio.get_running_loop()
        return self

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """What `AsyncWebClient(base_url=...)` takes."""
        return f"http://127.0.0.1:{self._port}/api/"

    @property
    def team_id(self) -> str:
        return self.ws.team_id

    @property
    def app_id(self) -> str:
        return self.ws.app_id

    @property
    def bot_user_id(self) -> str:
        return self.ws.bot_user_id

    @property
    def bot_id(self) -> str:
        return self.ws.bot_id

    # -- Web API ----------------------------------------------------------------------------------
    async def _merge_args(self, request: web.Request) -> tuple[JSON, bool, str | None]:
        args: JSON = dict(request.query)
        json_body = False
        problem: str | None = None
        if request.can_read_body:
            content_type = request.content_type
            if content_type == "application/json":
                json_body = True
                try:
                    body = await request.json()
                except ValueError:
                    return args, json_body, "invalid_json"
                if isinstance(body, dict):
                    args.update(body)
                else:
                    problem = "invalid_json"
            elif content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
                form = await request.post()
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
            elif content_type in {"", "application/octet-stream"}:
                raw = await request.read()
                if raw:
                    problem = "missing_post_type"
            else:
                problem = "invalid_post_type"
        return args, json_body, problem

    async def _api(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        args, json_body, problem = await self._merge_args(request)
        authorization = request.headers.get("Authorization", "")
        token = authorization[7:].strip() if authorization.startswith("Bearer ") else None
        has_bearer = token is not None
        token = token or (str(args["token"]) if args.get("token") else None)
        public_args = {k: v for k, v in args.items() if k != "token"}
        status, body, headers = await self._call(
            name,
            verb=request.method,
            args=args,
            json_body=json_body,
            problem=problem,
            token=token,
            has_bearer=has_bearer,
        )
        self.requests.append(
            RecordedRequest(
                method=name,
                args=public_args,
                verb=request.method,
                at=time.time(),
                status=status,
                ok=bool(body.get("ok")),
                error=body.get("error"),
                json_body=json_body,
            )
        )
        return web.json_response(body, status=status, headers=headers)

    async def _call(
        self,
        name: str,
        *,
        verb: str,
        args: JSON,
        json_body: bool,
        problem: str | None,
        token: str | None,
        has_bearer: bool,
    ) -> tuple[int, JSON, dict[str, str]]:
        spec = method_spec(name)
        if spec is None:
            self.ws.report(name, "unknown_method", "no such Slack Web API method")
            return 200, {"ok": False, "error": "unknown_method"}, {}
        headers: dict[str, str] = {}
        try:
            if problem:
                self.ws.report(name, "encoding", f"request body refused: {problem}")
                raise SlackError("invalid_form_data" if problem == "invalid_json" else problem)
            self._authenticate(spec, token)
            if token == self.bot_token:
                headers["X-OAuth-Scopes"] = ",".join(sorted(self.ws.bot_scopes))
                headers["X-Accepted-OAuth-Scopes"] = ",".join(spec.bot_scopes)
            violations = request_violations(
                spec, verb=verb, json_body=json_body, args=args, has_bearer=has_bearer
            )
            self.ws.violations.extend(violations)
            if name == "apps.connections.open" and verb != "POST":
                raise SlackError("insecure_request")
            missing = [v for v in violations if v.kind == "missing_argument"]
            if missing:
                error = (
                    "missing_argument" if "missing_argument" in spec.errors else "invalid_arguments"
                )
                raise SlackError(
                    error, response_metadata={"messages": [f"[ERROR] {missing[0].detail}"]}
                )
            self._check_scope(spec)
            delay = self.faults.latency_for(name)
            if delay:
                await asyncio.sleep(delay)
            retry_after = self.faults.take_rate_limit(name)
            if retry_after is None and self.enforce_rate_limits:
                retry_after = self.rate_limiter.check(
                    name, spec.tier, str(args.get("channel") or "")
                )
            if retry_after is not None:
                headers["Retry-After"] = str(int(retry_after))
                return 429, {"ok": False, "error": "ratelimited"}, headers
            injected = self.faults.take_error(name)
            if injected:
                raise SlackError(injected)
            result = self._dispatch(name, args)
            return 200, {"ok": True, **result}, headers
        except SlackError as error:
            if error.code not in spec.allowed_errors:
                self.ws.report(
                    name, "undocumented_error", f"sandbox answered {error.code!r}, not in the spec"
                )
            return 200, {"ok": False, "error": error.code, **error.extra}, headers

    def _authenticate(self, spec: MethodSpec, token: str | None) -> None:
        if not token:
            raise SlackError("not_authed")
        if token not in {self.bot_token, self.app_token}:
            raise SlackError("invalid_auth")
        wants_app_token = spec.name == "apps.connections.open"
        if (token == self.app_token) != wants_app_token:
            self.ws.report(
                spec.name,
                "wrong_token",
                "app-level token needed" if wants_app_token else "bot token needed",
            )
            raise SlackError("not_allowed_token_type")

    def _check_scope(self, spec: MethodSpec) -> None:
        if spec.bot_scopes and not set(spec.bot_scopes) & self.ws.bot_scopes:
            raise SlackError(
                "missing_scope",
                needed=",".join(spec.bot_scopes),
                provided=",".join(sorted(self.ws.bot_scopes)),
            )

    def _dispatch(self, name: str, args: JSON) -> JSON:
        if name == "apps.connections.open":
            return {"url": self.hub.issue_url(f"ws://127.0.0.1:{self._port}")}
        handler = self._handlers.get(name)
        if handler is None:
            self.ws.report(name, "not_implemented", "the sandbox does not implement this method")
            raise SlackError("unknown_method")
        return handler(self.ws, Args(args))

    # -- uploads and response_urls ----------------------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        file_id = self.ws.upload_tokens.pop(request.match_info["token"], None)
        if file_id is None:
            self.ws.report("files.upload", "bad_upload_url", "unknown or reused upload_url")
            return web.Response(status=404, text="not found")
        file = self.ws.files[file_id]
        if request.content_type == "multipart/form-data":
            form = await request.post()
            field = next(iter(form.values()), b"")
            content = field.file.read() if hasattr(field, "file") else str(field).encode()
        else:
            content = await request.read()
        if len(content) != file.length:
            self.ws.report(
                "files.upload",
                "length_mismatch",
                f"{file.name}: declared {file.length} bytes, sent {len(content)}",
            )
        file.content = content
        return web.Response(text=f"OK - {len(content)}")

    async def _download(self, request: web.Request) -> web.Response:
        file = self.ws.files.get(request.match_info["file_id"])
        if file is None or file.content is None:
            return web.Response(status=404)
        return web.Response(body=file.content, content_type=file.mimetype)

    async def _response_url(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            self.ws.report("response_url", "encoding", "response_url body is not JSON")
            return web.Response(status=400, text="invalid_payload")
        status, text = self.use_response_url(request.match_info["token"], body)
        return web.Response(status=status, text=text)

    # -- events -----------------------------------------------------------------------------------
    def _emit_event(self, subscription: str, event: JSON) -> None:
        """Deliver an event when the app subscribes to it and holds the scope it needs (§10.2)."""
        if subscription not in self.bot_events:
            return
        scope = EVENT_SCOPES.get(subscription)
        if scope and scope not in self.ws.bot_scopes:
            return
        self._spawn(self.send_event(event))

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        # Seeding helpers are synchronous, and may run outside the loop (a sync pytest fixture):
        # the task goes on the sandbox's own loop.
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine, loop=self._loop)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- faults -----------------------------------------------------------------------------------
    def inject_latency(self, seconds: float, methods: Iterable[str] | None = None) -> None:
        """Delay every matching call by `seconds` until `clear_faults()`."""
        self.faults.latency.append((seconds, frozenset(methods) if methods is not None else None))

    def inject_error(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with `error`, which must be documented for it."""
        spec = method_spec(method)
        if spec is None:
            raise ValueError(f"unknown Slack method {method!r}")
        if error not in spec.allowed_errors or error == "ratelimited":
            raise ValueError(
                f"{error!r} is not a documented error of {method} (use inject_rate_limit for 429)"
            )
        self.faults.errors.append(InjectedError(method, error, times))

    def inject_rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 429 and `Retry-After: retry_after`."""
        self.faults.rate_limits.append(InjectedRateLimit(method, int(retry_after), times))

    def fail_next_socket_ack(self, times: int = 1) -> None:
        """Lose the next `times` acks the app sends (events are then redelivered, interactions fail)."""
        self.faults.dropped_acks += times

    def clear_faults(self) -> None:
        self.faults.clear()

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Send `{"type":"disconnect","reason":reason}` to every Socket Mode connection (§6.5)."""
        await self.hub.disconnect(reason)

    def enable_socket_mode(self) -> None:
        """Turn Socket Mode back on after `disconnect("link_disabled")`."""
        self.hub.enabled = True

    async def wait_for_connection(self, timeout: float = 5.0, count: int = 1) -> None:
        await self.hub.wait_for_connection(timeout, count)

    @property
    def connected(self) -> bool:
        return bool(self.hub.connections)

    # -- reading state ----------------------------------------------------------------------------
    @property
    def violations(self) -> list[Violation]:
        return self.ws.violations

    @property
    def user_errors(self) -> list[str]:
        return self.ws.user_errors

    def assert_no_violations(self) -> None:
        if self.ws.violations:
            listing = "\n".join(f"  - {v}" for v in self.ws.violations)
            raise AssertionError(
                f"{len(self.ws.violations)} Slack contract violation(s):\n{listing}"
            )

    def calls(self, method: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method]

    @property
    def channels(self) -> dict[str, Channel]:
        return self.ws.channels

    @property
    def files(self) -> dict[str, File]:
        return self.ws.files

    def channel_named(self, name: str) -> Channel:
        for channel in self.ws.channels.values():
            if channel.name == name and not channel.is_im:
                return channel
        raise KeyError(
            f"no channel named {name!r}; channels: {[c.name for c in self.ws.channels.values()]}"
        )

    def messages(
        self, channel_id: str, *, include_system: bool = True, include_replies: bool = False
    ) -> list[Message]:
        """Messages of a channel, oldest first; system messages have a `subtype` (channel_join, ...)."""
        found = list(self.ws.channels[channel_id].messages.values())
        if not include_replies:
            found = [
                m for m in found if not m.thread_ts or m.thread_ts == m.ts or m.reply_broadcast
            ]
        if not include_system:
            found = [m for m in found if not m.subtype]
        return found

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        channel = self.ws.channels[channel_id]
        parent = channel.messages[ts]
        return [parent] + [channel.messages[r] for r in parent.replies if r in channel.messages]

    def ephemerals(self, user_id: str, channel_id: str | None = None) -> list[Ephemeral]:
        return [
            e
            for e in self.ws.ephemerals
            if e.user == user_id and (channel_id is None or e.channel == channel_id)
        ]

    def dms(self, user_id: str) -> list[Message]:
        """What the bot sent to (or received from) a user in their DM."""
        for channel in self.ws.channels.values():
            if channel.is_im and channel.im_user == user_id:
                return list(channel.messages.values())
        return []

    def views(self, user_id: str) -> list[View]:
        """The user's modal stack, bottom first (the last one is visible)."""
        return [self.ws.views[v] for v in self.ws.view_stacks.get(user_id, [])]

    def home_view(self, user_id: str) -> View | None:
        return self.ws.views.get(self.ws.home_views.get(user_id, ""))

    def render_blocks(self, blocks: list[Any] | None) -> str:
        names = {u.id: u.name for u in self.ws.users.values()}
        names.update({c.id: c.name for c in self.ws.channels.values() if not c.is_im})
        return _render_blocks(blocks, names)

    def render_message(self, message: Message | Ephemeral) -> str:
        text = self.render_blocks(message.blocks) if message.blocks else message.text
        return text

    async def wait_for(
        self,
        predicate: Callable[[], Any],
        timeout: float = 5.0,
        interval: float = 0.01,
    ) -> Any:
        """Poll `predicate` until it returns something truthy; return it or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(interval)

    def snapshot(self) -> JSON:
        """A JSON-serialisable picture of the workspace (for transcripts and reports)."""
        ws = self.ws
        return {
            "team": {"id": ws.team_id, "name": ws.team_name},
            "users": [
                {
                    "id": u.id,
                    "name": u.name,
                    "real_name": u.real_name,
                    "email": u.email,
                    "is_bot": u.is_bot,
                }
                for u in ws.users.values()
            ],
            "usergroups": [
                {"id": g.id, "handle": g.handle, "users": g.users} for g in ws.usergroups.values()
            ],
            "channels": [
                {
                    "id": c.id,
                    "name": c.name,
                    "is_private": c.is_private,
                    "is_im": c.is_im,
                    "is_archived": c.is_archived,
                    "members": list(c.members),
                    "topic": c.topic["value"],
                    "purpose": c.purpose["value"],
                    "bookmarks": [{"title": b.title, "link": b.link} for b in c.bookmarks.values()],
                    "pins": list(c.pins),
                    "messages": [ws.message_json(m) for m in c.messages.values()],
                }
                for c in ws.channels.values()
            ],
            "ephemerals": [
                {
                    "user": e.user,
                    "channel": e.channel,
                    "ts": e.ts,
                    "text": e.text,
                    "blocks": e.blocks,
                }
                for e in ws.ephemerals
            ],
            "views": {
                user: [ws.view_json(ws.views[v]) for v in stack]
                for user, stack in ws.view_stacks.items()
            },
            "home_views": {user: ws.view_json(ws.views[v]) for user, v in ws.home_views.items()},
            "files": [
                {
                    "id": f.id,
                    "name": f.name,
                    "title": f.title,
                    "size": len(f.content or b""),
                    "channels": f.channels,
                }
                for f in ws.files.values()
            ],
            "request_count": len(self.requests),
            "user_errors": list(ws.user_errors),
            "violations": [
                {"method": v.method, "kind": v.kind, "detail": v.detail} for v in ws.violations
            ],
        }

    def snapshot_json(self) -> str:
        return json.dumps(self.snapshot(), indent=2, sort_keys=True, default=str)
