"""``PagerDutyPager``: the ``Pager`` port on the ``pagerduty`` library (REST API v2).

Paging uses the REST API (``POST /incidents`` with an ``incident_key``), not the Events API:
PagerDuty recommends the incidents API for tools that open incidents on people's behalf, and it
answers with the incident itself (id, link, status, assignees) where Events gives back only a
dedup key, and it needs no per-service integration key. The key is deterministic per (incident,
service); PagerDuty refuses a second open incident with the same service and key, and the adapter
looks the key up before creating and again after a refusal, so a retry after a lost answer or two
pages at once leave one PagerDuty incident.

``pagerduty`` 7.2.0 is synchronous (httpx2), so every call runs in this adapter's own small
thread pool, one client per worker thread (no shared connection pool between threads), with
explicit timeouts and the library's own retrying switched off:

- a 429 is retried by the library *without limit* unless ``retry[429]`` is set, and
  ``retry[429] = 0`` means "default behaviour", i.e. still without limit; with ``retry[429] = 1``
  it checks ``sum(attempts) > max_http_attempts`` before sleeping, so ``max_http_attempts = -1``
  hands back the first 429 at once (``0`` would still allow one retry after a 3 s sleep);
- ``max_network_attempts = 0``: a connection error is raised at once (the library would sleep
  1.5·2ⁿ s between attempts, and would re-send a POST whose answer was lost).

Backoff belongs to the outbox: 429s, 5xx and network errors become transient ``PagerError``s, a
429 carrying ``retry_after`` from ``Retry-After`` (or PagerDuty's ``ratelimit-reset``), which the
library itself never reads.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx2
import pagerduty

from bot.ports import (
    OnCall,
    OnCallShift,
    PagerAck,
    PageRequest,
    PagerError,
    PagerEvent,
    PagerIncident,
    PagerUser,
)

JSON = dict[str, Any]
_T = TypeVar("_T")

#: Log entry types the pull reads, and what they mean for the bot; other types are skipped.
EVENT_KINDS = {
    "trigger_log_entry": "triggered",
    "assign_log_entry": "assigned",
    "acknowledge_log_entry": "acknowledged",
    "unacknowledge_log_entry": "unacknowledged",
    "escalate_log_entry": "escalated",
    "annotate_log_entry": "note",
    "resolve_log_entry": "resolved",
}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _pd_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _retry_after(response: httpx2.Response) -> float | None:
    """``Retry-After`` (seconds, or an HTTP date relative to the answer's own ``Date``), else
    PagerDuty's ``ratelimit-reset`` (seconds until the window resets)."""
    headers = response.headers
    raw = headers.get("Retry-After")
    if raw is not None:
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        try:
            until = parsedate_to_datetime(raw)
            sent = parsedate_to_datetime(headers["Date"])
            return max(0.0, (until - sent).total_seconds())
        except (KeyError, TypeError, ValueError):
            pass
    reset = headers.get("ratelimit-reset")
    if reset is not None:
        try:
            return max(0.0, float(reset))
        except ValueError:
            return None
    return None


def _detail(response: httpx2.Response) -> str:
    """PagerDuty's words from an error body: ``error.message`` and ``error.errors``."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return response.text[:300]
    parts = [str(error.get("message", ""))]
    parts += [str(e) for e in error.get("errors") or []]
    return "; ".join(p for p in parts if p)


def _error(operation: str, exc: Exception) -> PagerError:
    response = getattr(exc, "response", None)
    if response is None:
        cause = exc.__cause__ or exc
        return PagerError("network", method=operation, transient=True, detail=str(cause))
    status = response.status_code
    detail = _detail(response)
    if status == 429:
        return PagerError(
            "ratelimited",
            method=operation,
            transient=True,
            retry_after=_retry_after(response),
            detail=detail,
        )
    if status >= 500 or response.is_success:  # 5xx, or a 2xx whose body is not PagerDuty's
        return PagerError("unavailable", method=operation, transient=True, detail=str(exc))
    if status in {401, 402, 403}:
        return PagerError("forbidden", method=operation, transient=False, detail=detail)
    if status == 404:
        return PagerError("not_found", method=operation, transient=False, detail=detail)
    return PagerError("invalid", method=operation, transient=False, detail=detail)


def _status(exc: pagerduty.Error) -> int | None:
    response = exc.response
    return None if response is None else int(response.status_code)


class PagerDutyPager:
    """The ``Pager`` port for PagerDuty. No I/O at construction: clients are made on first use,
    one per worker thread."""

    def __init__(
        self,
        api_url: str = "https://api.pagerduty.com",
        *,
        token: str,
        from_email: str,
        verify: str | ssl.SSLContext | bool = True,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        workers: int = 4,
    ) -> None:
        """``api_url`` must be https (the library refuses anything else). ``from_email`` is the
        bot's PagerDuty user: the ``From`` of every write, and how the pull recognises the bot's
        own acknowledgements. ``verify``: True (system CAs), a CA bundle path, or an SSL context."""
        if not api_url.startswith("https://"):
            # The library's own rule (its `url` setter raises); said here, before any call.
            raise ValueError(f"PagerDuty's API URL must use https://, not {api_url!r}")
        self._api_url = api_url.rstrip("/")
        self._token = token
        self.from_email = from_email
        self._verify = verify
        self._timeout = httpx2.Timeout(timeout, connect=min(connect_timeout, timeout))
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pagerduty")
        self._local = threading.local()
        self._clients: list[pagerduty.RestApiV2Client] = []
        self._lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None

    # -- plumbing ---------------------------------------------------------------------------------
    def _ssl_verify(self) -> ssl.SSLContext | bool:
        # httpx2 deprecates `verify=<path>`: build the context from the bundle once, on first use.
        if not isinstance(self._verify, str):
            return self._verify
        with self._lock:
            if self._ssl is None:
                self._ssl = ssl.create_default_context(cafile=self._verify)
            return self._ssl

    def _client(self) -> pagerduty.RestApiV2Client:
        client: pagerduty.RestApiV2Client | None = getattr(self._local, "client", None)
        if client is None:
            client = pagerduty.RestApiV2Client(
                self._token,
                default_from=self.from_email,
                base_url=self._api_url,
                verify=self._ssl_verify(),
            )
            # Sent with every request (the library's default is 60 s); typed int there, but it is
            # handed to httpx2 as is, which takes a Timeout.
            client.timeout = self._timeout  # type: ignore[assignment]
            client.retry = {429: 1}  # see the module docstring: hand the first 429 back
            client.max_http_attempts = -1
            client.max_network_attempts = 0
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    async def _run(self, operation: str, work: Callable[[pagerduty.RestApiV2Client], _T]) -> _T:
        def call() -> _T:
            try:
                return work(self._client())
            except PagerError:
                raise
            except pagerduty.Error as exc:
                raise _error(operation, exc) from exc
            except pagerduty.UrlError as exc:  # a path the library does not know: our bug
                raise PagerError(
                    "invalid", method=operation, transient=False, detail=str(exc)
                ) from exc

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    @staticmethod
    def _get_or_none(client: pagerduty.RestApiV2Client, path: str) -> Any:
        try:
            return client.rget(path)
        except pagerduty.Error as exc:
            if _status(exc) == 404:
                return None
            raise

    @staticmethod
    def _user(
        client: pagerduty.RestApiV2Client, user_id: str, seen: dict[str, PagerUser]
    ) -> PagerUser:
        if user_id not in seen:
            user = client.rget(f"/users/{quote(user_id, safe='')}")
            seen[user_id] = PagerUser(str(user["id"]), str(user["name"]), str(user["email"]))
        return seen[user_id]

    @staticmethod
    def _incident(data: JSON) -> PagerIncident:
        created = _time(data.get("created_at")) or datetime.min.replace(tzinfo=UTC)
        return PagerIncident(
            id=str(data["id"]),
            number=int(data.get("incident_number") or 0),
            url=str(data.get("html_url") or ""),
            status=str(data["status"]),
            key=data.get("incident_key"),
            service_id=str((data.get("service") or {}).get("id", "")),
            title=str(data.get("title") or data.get("summary") or ""),
            urgency=str(data.get("urgency") or ""),
            created_at=created,
            last_status_change_at=_time(data.get("last_status_change_at")) or created,
            assignees=tuple(
                str(a["assignee"]["id"]) for a in data.get("assignments") or [] if a.get("assignee")
            ),
            acknowledgements=tuple(
                PagerAck(
                    at=_time(a.get("at")) or created,
                    user_id=(
                        str(a["acknowledger"]["id"])
                        if str(a["acknowledger"].get("type", "")).startswith("user")
                        else None
                    ),
                    name=str(a["acknowledger"].get("summary") or ""),
                )
                for a in data.get("acknowledgements") or []
                if a.get("acknowledger")
            ),
        )

    def _find(
        self, client: pagerduty.RestApiV2Client, key: str, service_id: str | None
    ) -> PagerIncident | None:
        params: JSON = {"incident_key": key, "date_range": "all"}
        if service_id is not None:
            params["service_ids[]"] = [service_id]
        found = [self._incident(i) for i in client.rget("/incidents", params=params)]
        found = [i for i in found if i.key in {key, None}]  # keyless: alerts matched the key
        return min(found, key=lambda i: i.number, default=None)

    # -- the port ---------------------------------------------------------------------------------
    async def on_call(
        self, *, service_id: str | None = None, escalation_policy_id: str | None = None
    ) -> OnCall:
        if (service_id is None) == (escalation_policy_id is None):
            raise ValueError("on_call takes a service_id or an escalation_policy_id")

        def work(client: pagerduty.RestApiV2Client) -> OnCall:
            if service_id is not None:
                service = self._get_or_none(client, f"/services/{quote(service_id, safe='')}")
                if service is None:
                    raise PagerError(
                        "unknown_service", method="on_call", transient=False, detail=service_id
                    )
                policy_id = str(service["escalation_policy"]["id"])
                policy_name = str(service["escalation_policy"].get("summary") or "")
            else:
                assert escalation_policy_id is not None
                policy = client.rget(f"/escalation_policies/{quote(escalation_policy_id, safe='')}")
                policy_id, policy_name = str(policy["id"]), str(policy.get("name") or "")
            # No since/until: PagerDuty answers who is on call now; `earliest` drops repeats of
            # the same person at the same level (several shifts overlapping now).
            entries = client.list_all(
                "/oncalls", params={"escalation_policy_ids[]": [policy_id], "earliest": True}
            )
            users: dict[str, PagerUser] = {}
            shifts = [
                OnCallShift(
                    level=int(entry["escalation_level"]),
                    user=self._user(client, str(entry["user"]["id"]), users),
                    schedule=(entry.get("schedule") or {}).get("summary"),
                    start=_time(entry.get("start")),
                    end=_time(entry.get("end")),
                )
                for entry in entries
            ]
            shifts.sort(key=lambda s: (s.level, s.user.name.lower(), s.user.id))
            return OnCall(policy_id, policy_name, tuple(shifts))

        return await self._run("on_call", work)

    async def trigger(self, page: PageRequest) -> PagerIncident:
        body: JSON = {
            "type": "incident",
            "title": page.title,
            "service": {"id": page.service_id, "type": "service_reference"},
            "urgency": page.urgency,
            "incident_key": page.key,
            "body": {
                "type": "incident_body",
                "details": f"{page.details}\n\nSlack channel: {page.channel_url}".strip(),
            },
        }
        if page.escalation_policy_id is not None:
            body["escalation_policy"] = {
                "id": page.escalation_policy_id,
                "type": "escalation_policy_reference",
            }

        def work(client: pagerduty.RestApiV2Client) -> PagerIncident:
            existing = self._find(client, page.key, page.service_id)
            if existing is not None:
                return existing
            try:
                return self._incident(client.rpost("/incidents", json=body))
            except pagerduty.Error as exc:
                if _status(exc) != 400:
                    raise
                # Refused: either another call opened it meanwhile (PagerDuty refuses a second
                # open incident with this service and key), or the request is wrong.
                existing = self._find(client, page.key, page.service_id)
                if existing is not None:
                    return existing
                if (
                    self._get_or_none(client, f"/services/{quote(page.service_id, safe='')}")
                    is None
                ):
                    raise PagerError(
                        "unknown_service", method="trigger", transient=False, detail=page.service_id
                    ) from exc
                raise

        return await self._run("trigger", work)

    async def find_incident(
        self, key: str, *, service_id: str | None = None
    ) -> PagerIncident | None:
        return await self._run("find_incident", lambda client: self._find(client, key, service_id))

    async def incident(self, incident_id: str) -> PagerIncident | None:
        def work(client: pagerduty.RestApiV2Client) -> PagerIncident | None:
            data = self._get_or_none(client, f"/incidents/{quote(incident_id, safe='')}")
            return None if data is None else self._incident(data)

        return await self._run("incident", work)

    async def add_note(self, incident_id: str, text: str) -> None:
        path = f"/incidents/{quote(incident_id, safe='')}/notes"
        await self._run("add_note", lambda client: client.rpost(path, json={"content": text}))

    async def _set_status(self, operation: str, incident_id: str, fields: JSON) -> PagerIncident:
        path = f"/incidents/{quote(incident_id, safe='')}"
        body = {"type": "incident_reference", **fields}
        return await self._run(
            operation, lambda client: self._incident(client.rput(path, json=body))
        )

    async def acknowledge(self, incident_id: str) -> PagerIncident:
        return await self._set_status("acknowledge", incident_id, {"status": "acknowledged"})

    async def resolve(self, incident_id: str, *, resolution: str | None = None) -> PagerIncident:
        fields: JSON = {"status": "resolved"}
        if resolution:
            fields["resolution"] = resolution
        return await self._set_status("resolve", incident_id, fields)

    async def events_since(self, incident_ids: Sequence[str], since: datetime) -> list[PagerEvent]:
        def work(client: pagerduty.RestApiV2Client) -> list[PagerEvent]:
            users: dict[str, PagerUser] = {}
            events: list[PagerEvent] = []
            for incident_id in dict.fromkeys(incident_ids):
                path = f"/incidents/{quote(incident_id, safe='')}/log_entries"
                for entry in client.iter_all(path, params={"since": _pd_time(since)}):
                    kind = EVENT_KINDS.get(str(entry.get("type")))
                    at = _time(entry.get("created_at"))
                    if kind is None or at is None:
                        continue
                    agent = entry.get("agent") or {}
                    by = None
                    if str(agent.get("type", "")).startswith("user") and agent.get("id"):
                        by = self._user(client, str(agent["id"]), users)
                    events.append(
                        PagerEvent(
                            id=str(entry["id"]),
                            incident_id=incident_id,
                            kind=kind,
                            at=at,
                            by=by,
                            by_bot=by is not None and by.email.lower() == self.from_email.lower(),
                            text=str(entry.get("note") or entry.get("summary") or ""),
                        )
                    )
            events.sort(key=lambda e: e.at)
            return events

        return await self._run("events_since", work)

    async def user_by_email(self, email: str) -> PagerUser | None:
        def work(client: pagerduty.RestApiV2Client) -> PagerUser | None:
            # GET /users?query= matches names and e-mails by substring; `find` keeps the exact
            # (case-insensitive) e-mail match.
            user = client.find("users", email, attribute="email")
            if user is None:
                return None
            return PagerUser(str(user["id"]), str(user["name"]), str(user["email"]))

        return await self._run("user_by_email", work)

    async def close(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()
