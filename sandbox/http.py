"""What every spec-checked vendor sandbox (Jira, Confluence, PagerDuty) does the same way over HTTP.

`HttpSandbox` is the base of `SandboxJira`, `SandboxConfluence` and `SandboxPagerDuty`:

- its lifecycle: an aiohttp server on `127.0.0.1` (a free port, kept across `stop()`/`start()` so
  a restart is an outage that refuses connections), optionally over TLS with a throw-away
  `trustme` CA, `base_url`, `async with`;
- the fault book tests drive: `inject_status` (one-shot or N times, with `Retry-After`), an outage
  (`start_outage`/`end_outage`), slow answers and answers lost after the work is done. The sandbox
  decides where in its pipeline a fault applies and how the vendor words the answer;
- the violation log: every broken rule is a `Violation`, and `assert_no_violations()` fails a test
  that broke the contract (INTEGRATION_NOTES §7.3, §7.4); `requests` and `calls(operation_id)`.

A subclass implements `_respond(request, raw)`: it checks the call against the vendor's spec
(`sandbox.openapi`), answers it from its state, records it in `requests` and returns
`(status, payload, headers)`.
"""

from __future__ import annotations

import abc
import asyncio
import base64
import json
import re
import shutil
import ssl
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

import trustme
from aiohttp import web

if TYPE_CHECKING:
    from sandbox.openapi import Operation

Answer = tuple[int, Any, dict[str, str]]
"""What a sandbox answers: status, JSON payload (None: no body) and extra headers."""


@dataclass(frozen=True)
class Violation:
    """One broken rule: the operation (or path), the kind of rule, and the details."""

    operation: str
    kind: str
    detail: str
    at: float = field(default_factory=time.time, compare=False)

    def __str__(self) -> str:
        return f"{self.operation}: {self.kind}: {self.detail}"


@dataclass(eq=False)
class Fault:
    """One injected misbehaviour for the next `times` requests whose path matches `pattern` (and
    whose method is `method`, when given): a `status`, a delay of `seconds`, or a `lose`t answer.

    `arrived` is set when a delayed request has come in (and is waiting): a test can act on the
    vendor "while the request is in flight" without sleeping.
    """

    pattern: re.Pattern[str]
    method: str | None
    times: int
    status: int = 0
    retry_after: int | None = None
    seconds: float = 0.0
    lose: bool = False
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, method: str, path: str) -> bool:
        return (
            self.times > 0
            and (self.method is None or self.method == method)
            and bool(self.pattern.search(path))
        )


@dataclass(frozen=True)
class Refusal:
    """An injected error answer to give instead of the real one; the sandbox words it as its
    vendor does. `outage` tells an outage (every request) from a one-off `inject_status`."""

    status: int
    retry_after: int | None
    outage: bool


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    """One HTTP call as the sandbox saw it (a vendor's record adds what it knows of the caller)."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: Any
    operation_id: str | None
    status: int
    at: float = field(default_factory=time.time)
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @classmethod
    def of(
        cls, request: web.Request, body: Any, operation: Operation | None, status: int, **more: Any
    ) -> Self:
        """The record of `request` (`body` decoded, matched to `operation`), answered `status`;
        `more`: the vendor record's own fields."""
        return cls(
            method=request.method,
            path=request.path,
            query=tuple(request.query.items()),
            body=body,
            operation_id=operation.operation_id if operation else None,
            status=status,
            **more,
        )

    def header(self, name: str) -> str | None:
        """A recorded header's value (names are case-insensitive), or None."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


RecordT = TypeVar("RecordT", bound=RecordedRequest)


class HttpSandbox(abc.ABC, Generic[RecordT]):
    """The lifecycle, fault book and violation log shared by the vendor sandboxes (see the module).

    `RecordT` is the sandbox's `RecordedRequest` (a vendor's own adds what it knows of the caller).
    """

    vendor: ClassVar[str]
    """The name in `assert_no_violations()`'s message (`3 Jira contract violation(s)`)."""
    client_max_size: ClassVar[int] = 4 * 1024 * 1024
    """The largest request body aiohttp accepts (attachments need more on Jira)."""

    def __init__(self, *, tls: bool = False) -> None:
        self.requests: list[RecordT] = []
        self.violations: list[Violation] = []
        self._faults: list[Fault] = []
        self._outage: Refusal | None = None
        self._runner: web.AppRunner | None = None
        self._port = 0
        # TLS: a CA made once per sandbox, so a client context can be built before `start()`.
        self._ca = trustme.CA() if tls else None
        self._cert = self._ca.issue_cert("127.0.0.1", "localhost") if self._ca else None
        self._tmp: Path | None = None

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> Self:
        server_ssl: ssl.SSLContext | None = None
        if self._ca is not None and self._cert is not None:
            self._tmp = Path(tempfile.mkdtemp(prefix=f"sandbox-{self.vendor.lower()}-"))
            self._ca.cert_pem.write_to_path(str(self._tmp / "ca.pem"))
            server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._cert.configure_cert(server_ssl)
        app = web.Application(client_max_size=self.client_max_size)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port, ssl_context=server_ssl)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only through the server sockets
        assert server is not None
        self._port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        """Close the listening socket (a later `start()` reopens the same port: an outage that
        refuses connections)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """Where the sandbox listens: `http://127.0.0.1:<port>` (`https://` over TLS)."""
        scheme = "https" if self._ca is not None else "http"
        return f"{scheme}://127.0.0.1:{self._port}"

    @property
    def ca_pem_path(self) -> str:
        """The test CA's certificate (PEM) for `ssl.create_default_context(cafile=…)`; TLS only."""
        assert self._tmp is not None, "start the sandbox first (over TLS)"
        return str(self._tmp / "ca.pem")

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only the sandbox's CA (hostname checked: `127.0.0.1`)."""
        assert self._ca is not None, "the sandbox serves plain HTTP"
        context = ssl.create_default_context()
        self._ca.configure_trust(context)
        return context

    # -- HTTP -------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        await self._wait_if_delayed(request.method, request.path)
        status, payload, headers = self._respond(request, raw)
        if self._take(request.method, request.path, lambda f: f.lose) and request.transport:
            # The work is done; the answer never reaches the client (aiohttp drops the write).
            request.transport.abort()
        if status == 204 or payload is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(payload, status=status, headers=headers)

    @abc.abstractmethod
    def _respond(self, request: web.Request, raw: bytes) -> Answer:
        """Check, answer and record one request (`raw`: its body)."""

    # -- faults -----------------------------------------------------------------------------------
    def inject_status(
        self,
        path_pattern: str,
        status: int,
        *,
        retry_after: int | None = None,
        times: int = 1,
        method: str | None = None,
    ) -> None:
        """The next `times` requests whose path matches the regex answer `status` (429, 5xx, ...),
        with `Retry-After` when given."""
        fault = Fault(re.compile(path_pattern), method, times, status, retry_after)
        self._faults.append(fault)

    def start_outage(self, status: int = 503, *, retry_after: int | None = None) -> None:
        """Every request answers `status` until `end_outage()`: 503 for an outage, 429 with
        `retry_after` for a rate-limit storm."""
        self._outage = Refusal(status, retry_after, outage=True)

    def end_outage(self) -> None:
        self._outage = None

    def _add_delay(
        self, seconds: float, path_pattern: str, *, method: str | None, times: int
    ) -> Fault:
        """The next `times` matching requests wait `seconds` before being handled."""
        fault = Fault(re.compile(path_pattern), method, times, seconds=seconds)
        self._faults.append(fault)
        return fault

    def _add_lost_answer(self, path_pattern: str, *, method: str | None, times: int) -> Fault:
        """The next `times` matching requests are carried out, then the connection is dropped."""
        fault = Fault(re.compile(path_pattern), method, times, lose=True)
        self._faults.append(fault)
        return fault

    def _take(self, method: str, path: str, kind: Callable[[Fault], bool]) -> Fault | None:
        """Use up the first fault of `kind` (a predicate) matching the request, if any."""
        for fault in self._faults:
            if kind(fault) and fault.matches(method, path):
                fault.times -= 1
                return fault
        return None

    async def _wait_if_delayed(self, method: str, path: str) -> None:
        delay = self._take(method, path, lambda f: f.seconds > 0)
        if delay is not None:
            delay.arrived.set()
            await asyncio.sleep(delay.seconds)

    def _take_refusal(self, method: str, path: str) -> Refusal | None:
        """The outage's answer, or the first matching `inject_status` (used up), or None."""
        if self._outage is not None:
            return self._outage
        fault = self._take(method, path, lambda f: f.status > 0)
        if fault is None:
            return None
        return Refusal(fault.status, fault.retry_after, outage=False)

    # -- contract ---------------------------------------------------------------------------------
    def assert_no_violations(self) -> None:
        if self.violations:
            listing = "\n".join(f"  - {v}" for v in self.violations)
            raise AssertionError(
                f"{len(self.violations)} {self.vendor} contract violation(s):\n{listing}"
            )

    def calls(self, operation_id: str) -> list[RecordT]:
        return [r for r in self.requests if r.operation_id == operation_id]

    def _report(self, operation: str, kind: str, detail: str) -> None:
        self.violations.append(Violation(operation, kind, detail))


def decoded_body(raw: bytes) -> Any:
    """A request body as recorded: its JSON value, else its text (None when empty)."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def basic_credentials(header: str) -> tuple[str, str] | None:
    """`(user, secret)` of an `Authorization: Basic …` header, or None (another scheme, or bad
    base64 / UTF-8)."""
    if not header.startswith("Basic "):
        return None
    try:
        user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return None
    return user, secret
