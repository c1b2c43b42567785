"""Socket Mode over a real aiohttp WebSocket, as SLACK_NOTES §6 describes the wire protocol.

* `apps.connections.open` → `ws://127.0.0.1:PORT/link/?ticket=…&app_id=…` (§6.1); `hello` on connect (§6.2).
* Envelopes `{"envelope_id","type","accepts_response_payload","retry_attempt","retry_reason","payload"}`
  (§6.3), each sent to a random live connection (seeded, §6.6); acks `{"envelope_id","payload"?}` collected
  by envelope id (§6.4), possibly out of order.
* An `events_api` envelope not acked within `ack_timeout` is redelivered up to 3 times with
  `retry_attempt` 1..3 and `retry_reason` "timeout" (§6.7; Slack's 0 s / 1 min / 5 min schedule is
  compressed into `event_retry_delays`). Interactions are not retried: the user sees an error (§6.7).
* `disconnect` with `refresh_requested` / `warning` / `link_disabled` (§6.5): the connections are closed
  `disconnect_grace` later, or `warning_lead` (Slack: "about 10 seconds") after a `warning`; at most 10
  connections, an 11th gets `too_many_websockets` (§6.6); un-acked envelopes of a closed connection
  (closed by either side) are sent again, same envelope id, on a live one (or the next to connect).
* PINGs are answered by aiohttp's autoping (§6.7).
"""

# The waiting helpers take `timeout=` on purpose: it is their public, test-facing API.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from sandbox.slack.ratelimit import Faults
from sandbox.slack.state import JSON

MAX_CONNECTIONS = 10
MAX_EVENT_RETRIES = 3
WARNING_LEAD_SECONDS = 10.0
_NO_ACK = object()


@dataclass
class Connection:
    id: str
    ws: web.WebSocketResponse
    opened: float = field(default_factory=time.time)
    received: int = 0


@dataclass
class AckRecord:
    envelope_id: str
    payload: JSON | None
    at: float
    connection: str


@dataclass
class Delivery:
    """One envelope and its redeliveries; `ack` resolves with the ack payload (None for an empty ack)."""

    type: str
    payload: JSON
    accepts_response_payload: bool
    envelope_ids: list[str]
    ack: asyncio.Future[JSON | None]
    retry_attempt: int = 0
    retry_reason: str = ""
    connection: str | None = None
    sent: list[tuple[str, float]] = field(default_factory=list)  # (connection id, time) per send

    @property
    def envelope_id(self) -> str:
        return self.envelope_ids[-1]

    def wire(self) -> JSON:
        return {
            "envelope_id": self.envelope_id,
            "type": self.type,
            "accepts_response_payload": self.accepts_response_payload,
            "retry_attempt": self.retry_attempt,
            "retry_reason": self.retry_reason,
            "payload": self.payload,
        }


Reporter = Callable[[str, str, str], None]


class SocketModeHub:
    """Connections, envelope delivery, acks, redelivery and disconnects."""

    def __init__(
        self,
        *,
        app_id: str,
        rng: random.Random,
        ack_timeout: float,
        event_retry_delays: tuple[float, ...],
        disconnect_grace: float,
        faults: Faults,
        report: Reporter,
    ) -> None:
        self.app_id = app_id
        self.rng = rng
        self.ack_timeout = ack_timeout
        self.event_retry_delays = event_retry_delays
        self.disconnect_grace = disconnect_grace
        self.warning_lead = WARNING_LEAD_SECONDS
        self.faults = faults
        self.report = report
        self.connections: dict[str, Connection] = {}
        self.deliveries: dict[str, Delivery] = {}  # every envelope id ever sent → its delivery
        self.acks: list[AckRecord] = []
        self.tickets: set[str] = set()
        self.enabled = True
        self.total_connections = 0
        self._unsent: list[Delivery] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._changed = asyncio.Event()

    # -- connections ------------------------------------------------------------------------------
    def issue_url(self, base_ws_url: str) -> str:
        ticket = f"{self.rng.randrange(10**8, 10**9)}-{self.rng.getrandbits(64):016x}"
        self.tickets.add(ticket)
        return f"{base_ws_url}/link/?ticket={ticket}&app_id={self.app_id}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("ticket") not in self.tickets:
            return web.Response(status=401, text="invalid ticket")
        if not self.enabled:  # after `link_disabled`: Socket Mode is off for the app
            return web.Response(status=403, text="socket mode disabled")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if len(self.connections) >= MAX_CONNECTIONS:
            await ws.send_json(
                {
                    "type": "disconnect",
                    "reason": "too_many_websockets",
                    "num_connections": len(self.connections),
                    "debug_info": {"host": "applink-sandbox"},
                }
            )
            await ws.close()
            return ws
        self.total_connections += 1
        connection = Connection(id=f"conn-{self.total_connections}", ws=ws)
        self.connections[connection.id] = connection
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.connections),
                "debug_info": {
                    "host": "applink-sandbox",
                    "started": time.strftime("%Y-%m-%d %H:%M:%S.000", time.gmtime()),
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": self.app_id},
            }
        )
        self._notify()
        await self._flush_unsent()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_text(connection, message.data)
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self.connections.pop(connection.id, None)
            self._notify()
            await self._redeliver_from(connection.id)
        return ws

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for_connection(self, timeout: float = 5.0, count: int = 1) -> None:
        """Wait until at least `count` connections are live."""
        deadline = time.monotonic() + timeout
        while len(self.connections) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no Socket Mode connection after {timeout}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_for_new_connection(self, after: int, timeout: float = 5.0) -> None:
        """Wait until a connection newer than the `after`-th one is live (used after a refresh)."""
        deadline = time.monotonic() + timeout
        while not any(int(c.id.split("-")[1]) > after for c in self.connections.values()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no new Socket Mode connection after {timeout}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Send `disconnect` to every connection and close them after a grace period (after
        `warning_lead` for a `warning`, unless the client reconnects first, as slack_sdk does)."""
        message = {
            "type": "disconnect",
            "reason": reason,
            "debug_info": {"host": "applink-sandbox"},
        }
        targets = list(self.connections.values())
        for connection in targets:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await connection.ws.send_json(message)
        if reason == "link_disabled":
            self.enabled = False
        delay = self.warning_lead if reason == "warning" else self.disconnect_grace
        self._spawn(self._close_later([c.id for c in targets], delay))

    async def _close_later(self, ids: list[str], delay: float) -> None:
        await asyncio.sleep(delay)
        for connection_id in ids:
            connection = self.connections.get(connection_id)
            if connection is not None:
                await connection.ws.close()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for connection in list(self.connections.values()):
            with contextlib.suppress(Exception):
                await connection.ws.close()
        for delivery in self.deliveries.values():
            if not delivery.ack.done():
                delivery.ack.cancel()

    # -- delivery ---------------------------------------------------------------------------------
    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _new_envelope_id(self) -> str:
        value = self.rng.getrandbits(128)
        text = f"{value:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    async def deliver(
        self, envelope_type: str, payload: JSON, *, accepts_response_payload: bool
    ) -> Delivery:
        """Send an envelope; `events_api` envelopes are retried in the background until acked."""
        delivery = Delivery(
            type=envelope_type,
            payload=payload,
            accepts_response_payload=accepts_response_payload,
            envelope_ids=[self._new_envelope_id()],
            ack=asyncio.get_running_loop().create_future(),
        )
        self.deliveries[delivery.envelope_id] = delivery
        await self._send(delivery)
        if envelope_type == "events_api":
            self._spawn(self._retry_until_acked(delivery))
        return delivery

    async def _send(self, delivery: Delivery) -> None:
        live = sorted(self.connections)
        if not live or not self.enabled:
            delivery.connection = None
            if delivery not in self._unsent:
                self._unsent.append(delivery)
            return
        connection = self.connections[self.rng.choice(live)]
        delivery.connection = connection.id
        delivery.sent.append((connection.id, time.time()))
        connection.received += 1
        try:
            await connection.ws.send_str(json.dumps(delivery.wire()))
        except (ConnectionError, RuntimeError):
            delivery.connection = None
            self._unsent.append(delivery)

    async def _flush_unsent(self) -> None:
        pending, self._unsent = self._unsent, []
        for delivery in pending:
            if not delivery.ack.done():
                await self._send(delivery)

    async def _redeliver_from(self, connection_id: str) -> None:
        for delivery in list(self.deliveries.values()):
            if delivery.connection == connection_id and not delivery.ack.done():
                delivery.connection = None
                await self._send(delivery)

    async def _retry_until_acked(self, delivery: Delivery) -> None:
        for attempt in range(1, MAX_EVENT_RETRIES + 1):
            if await self.wait_ack(delivery, self.ack_timeout) is not _NO_ACK:
                return
            delay = self.event_retry_delays[min(attempt - 1, len(self.event_retry_delays) - 1)]
            if delay:
                await asyncio.sleep(delay)
            if delivery.ack.done():
                return
            delivery.retry_attempt = attempt
            delivery.retry_reason = "timeout"
            delivery.envelope_ids.append(self._new_envelope_id())
            self.deliveries[delivery.envelope_id] = delivery
            await self._send(delivery)

    async def wait_ack(self, delivery: Delivery, seconds: float) -> Any:
        """The ack payload (None for an empty ack), or `_NO_ACK` after `seconds`."""
        try:
            return await asyncio.wait_for(asyncio.shield(delivery.ack), seconds)
        except TimeoutError:
            return _NO_ACK

    @staticmethod
    def is_ack(value: Any) -> bool:
        return value is not _NO_ACK

    def _on_text(self, connection: Connection, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            self.report("socket_mode", "bad_frame", f"not JSON: {data[:200]}")
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        delivery = self.deliveries.get(str(envelope_id))
        if delivery is None:
            self.report("socket_mode", "unknown_ack", f"ack for unknown envelope {envelope_id!r}")
            return
        if self.faults.dropped_acks > 0:
            self.faults.dropped_acks -= 1
            return
        payload = message.get("payload")
        unknown_keys = set(message) - {"envelope_id", "payload"}
        if unknown_keys:
            self.report("socket_mode", "bad_ack", f"unexpected ack fields {sorted(unknown_keys)}")
        if payload and not delivery.accepts_response_payload:
            self.report(
                "socket_mode",
                "bad_ack",
                f"payload in the ack of a {delivery.type} envelope that accepts none",
            )
        self.acks.append(AckRecord(str(envelope_id), payload, time.time(), connection.id))
        if not delivery.ack.done():
            delivery.ack.set_result(payload or None)
