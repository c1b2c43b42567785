"""`SandboxPagerDuty`: a local PagerDuty (REST API v2 and Events API v2) over real TLS.

One aiohttp server on `https://127.0.0.1:<port>` answers both APIs: REST at `/…` and Events at
`/v2/enqueue` (the REST spec has no `/v2/` path, so the prefix tells them apart). The `pagerduty`
library refuses `http://` base URLs, so the server presents a certificate issued by a throw-away
`trustme` CA; clients trust it through `ca_pem_path` or `client_ssl_context()`.

Every request is matched to an operation of `pagerduty_rest_v2.json` / `pagerduty_events_v2.json`
and validated with openapi-core (path, query, headers, body), plus the rules the schemas cannot
express: `Accept: application/vnd.pagerduty+json;version=2`, `Authorization: Token token=…`, a
`From:` that is the e-mail of a known user, and the Events `dedup_key` rule (E1). Every answer the
sandbox gives is validated too. Violations are recorded; `assert_no_violations()` fails a test that
broke the contract (INTEGRATION_NOTES §7.3).
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web

from sandbox.http import Answer, Fault, HttpSandbox, RecordedRequest, Refusal, decoded_body
from sandbox.openapi import Call, Operation
from sandbox.pagerduty.contract import api_of, is_email, spec_of
from sandbox.pagerduty.state import (
    JSON,
    Agent,
    EscalationPolicy,
    Incident,
    LogEntry,
    Note,
    PagerDutyError,
    Rule,
    Schedule,
    Service,
    Shift,
    Target,
    User,
    invalid,
    not_found,
)

__all__ = ["ACCEPT", "RecordedRequest", "SandboxPagerDuty", "parse_time", "pd_time"]

ACCEPT = "application/vnd.pagerduty+json;version=2"
_TOKEN = re.compile(r"^Token token=(?P<token>\S+)$")
_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")
_T = TypeVar("_T")
DUPLICATE_KEY = "Open incident with matching dedup key already exists on this service"
#: PagerDuty's list endpoints answer 25 items unless asked; /incidents caps `limit` at 100.
DEFAULT_LIMIT = 25
MAX_LIMIT = 100


def pd_time(moment: datetime) -> str:
    """PagerDuty's timestamp form: seconds and `Z` (`2015-10-06T21:30:42Z`)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    """An ISO 8601 time as clients send it (`Z`, `+00:00` or `+0000`); naive means UTC."""
    text = value.strip().replace(" ", "+")  # a `+` left unescaped in a query string reads as space
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    text = _OFFSET.sub(r"\1:\2", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise invalid(f"Invalid time: {value}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SandboxPagerDuty(HttpSandbox[RecordedRequest]):
    """A local PagerDuty. Start it, point the `pagerduty` library at `base_url` with the test CA.

    ```python
    async with SandboxPagerDuty() as pd:
        client = pagerduty.RestApiV2Client(
            pd.api_token, default_from=pd.bot.email, base_url=pd.base_url,
            verify=pd.client_ssl_context(),
        )
        ...
        pd.assert_no_violations()
    ```
    """

    vendor = "PagerDuty"

    def __init__(
        self,
        *,
        reject_invalid_requests: bool = True,
        clock: Callable[[], datetime] | None = None,
        subdomain: str = "firefighter-sandbox",
    ) -> None:
        # The `pagerduty` library refuses `http://` base URLs: TLS with a throw-away CA.
        super().__init__(tls=True)
        self.reject_invalid_requests = reject_invalid_requests
        self._clock = clock or (lambda: datetime.now(UTC))
        self.subdomain = subdomain
        self.api_token = "sandbox-pagerduty-api-token"
        self._ids = itertools.count(1)
        self._numbers = itertools.count(1)
        self.users: dict[str, User] = {}
        self.schedules: dict[str, Schedule] = {}
        self.escalation_policies: dict[str, EscalationPolicy] = {}
        self.services: dict[str, Service] = {}
        self.incidents: dict[str, Incident] = {}
        self.bot = self.add_user("FireFighter Bot", email="firefighter-bot@example.com")

    # -- lifecycle (`HttpSandbox`'s: `base_url` answers both APIs; `ca_pem_path`,
    # `client_ssl_context()` trust the sandbox's CA) ----------------------------------------------
    def now(self) -> datetime:
        """The sandbox's clock (injected, or real time)."""
        return self._clock()

    # -- set-up -----------------------------------------------------------------------------------
    def _new_id(self) -> str:
        """PagerDuty ids look like `PXPGF42`: `P` and six upper-case letters or digits."""
        n = next(self._ids)
        digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        text = ""
        while n:
            n, rest = divmod(n, 36)
            text = digits[rest] + text
        return "P" + text.rjust(6, "0")

    def add_user(self, name: str, *, email: str) -> User:
        user = User(self._new_id(), name, email)
        self.users[user.id] = user
        return user

    def add_schedule(
        self,
        name: str,
        *,
        on_call: Sequence[User] = (),
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Schedule:
        """A schedule whose `on_call` users have a shift from `start` (default: a day ago) to `end`
        (default: open-ended). More shifts can be added to `schedule.shifts`."""
        begin = start or self._clock() - timedelta(days=1)
        schedule = Schedule(self._new_id(), name)
        schedule.shifts = [Shift(user.id, begin, end) for user in on_call]
        self.schedules[schedule.id] = schedule
        return schedule

    def add_escalation_policy(
        self, name: str, levels: Sequence[Sequence[User | Schedule]], *, delay_minutes: int = 30
    ) -> EscalationPolicy:
        """Level n (from 1) notifies the users and schedules of `levels[n - 1]`."""
        rules = [
            Rule(
                self._new_id(),
                delay_minutes,
                [Target("user" if isinstance(t, User) else "schedule", t.id) for t in targets],
            )
            for targets in levels
        ]
        policy = EscalationPolicy(self._new_id(), name, rules)
        self.escalation_policies[policy.id] = policy
        return policy

    def add_service(self, name: str, escalation_policy: EscalationPolicy) -> Service:
        service = Service(self._new_id(), name, escalation_policy.id, uuid.uuid4().hex)
        self.services[service.id] = service
        return service

    def user_by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if u.email.lower() == email.lower()), None)

    def incidents_with_key(self, key: str) -> list[Incident]:
        return [i for i in self.incidents.values() if i.incident_key == key]

    # -- people acting in PagerDuty's UI ----------------------------------------------------------
    def acknowledge_as(self, user: User, incident_id: str) -> Incident:
        """A responder acknowledges in PagerDuty (web UI): the log entry is theirs."""
        incident = self.incidents[incident_id]
        self._acknowledge(incident, _user_agent(user), {"type": "website"})
        return incident

    def resolve_as(
        self, user: User, incident_id: str, *, resolution: str | None = None
    ) -> Incident:
        incident = self.incidents[incident_id]
        self._resolve(incident, _user_agent(user), {"type": "website"}, resolution)
        return incident

    def add_note_as(self, user: User, incident_id: str, content: str) -> Note:
        return self._add_note(self.incidents[incident_id], user, content)

    # -- faults (and `HttpSandbox`'s inject_status, start_outage, end_outage) -------------------
    def slow_down(
        self, seconds: float, *, path_pattern: str = "", times: int = 1, method: str | None = None
    ) -> Fault:
        """The next `times` matching requests are answered after `seconds` (a slow PagerDuty); the
        fault's `arrived` is set once such a request is in flight."""
        return self._add_delay(seconds, path_pattern, method=method, times=times)

    def lose_answer(self, path_pattern: str, *, method: str | None = None, times: int = 1) -> None:
        """The next `times` matching requests are carried out, then the connection is dropped
        before the answer is sent: the client cannot know whether its write happened."""
        self._add_lost_answer(path_pattern, method=method, times=times)

    # -- HTTP -------------------------------------------------------------------------------------
    def _respond(self, request: web.Request, raw: bytes) -> Answer:
        method, path = request.method, request.path
        query = list(request.query.items())
        headers = list(request.headers.items())
        body = decoded_body(raw)
        operation = spec_of(path).find(method, path)
        status, payload, extra = self._answer(request, operation, query, headers, raw, body)
        record = RecordedRequest.of(request, body, operation, status, headers=tuple(headers))
        self.requests.append(record)
        return status, payload, extra

    def _answer(  # noqa: PLR0917 - one request's parts, passed along once
        self,
        request: web.Request,
        operation: Operation | None,
        query: list[tuple[str, str]],
        headers: list[tuple[str, str]],
        raw: bytes,
        body: Any,
    ) -> Answer:
        method, path = request.method, request.path
        if operation is None:
            self._report(
                f"{method} {path}", "unknown-path", "not an operation of the PagerDuty specs"
            )
            if path.startswith("/v2/"):
                return 404, {"status": "Not found", "message": "Not found"}, {}
            return 404, not_found().body(), {}
        if api_of(path) == "events":
            return self._answer_events(operation, method, path, query, headers, raw, body)
        op_id = operation.operation_id
        if operation.deprecated:
            self._report(op_id, "deprecated", f"{method} {path} is deprecated")
        accept = request.headers.get("Accept", "")
        if accept != ACCEPT:
            self._report(op_id, "accept", f"Accept must be {ACCEPT!r} (versioning), got {accept!r}")
        authorization = request.headers.get("Authorization", "")
        token = _TOKEN.match(authorization)
        if token is None:
            self._report(op_id, "authorization", "Authorization must be `Token token=<API key>`")
        call = Call(method, path, query, raw, request.content_type, headers)
        problem = spec_of(path).request_problem(call)
        if problem:
            self._report(op_id, "request", problem)
        requester: User | None = None
        sender = request.headers.get("From")
        if "from" in operation.headers and sender is not None:
            requester = self.user_by_email(sender) if is_email(sender) else None
            if requester is None:
                self._report(op_id, "from-header", f"From: {sender!r} is not a known user's e-mail")
        refusal = self._take_refusal(method, path)
        if refusal is not None:
            # Injected answers are outside the documented responses: not validated.
            return _refusal_answer(refusal, rest=True)
        if token is None or token["token"] != self.api_token:
            return 401, PagerDutyError(401, "Unauthenticated", 2006).body(), {}
        if problem and self.reject_invalid_requests:
            return 400, invalid(problem).body(), {}
        if "from" in operation.headers and requester is None:
            return 400, invalid("Requester User Not Found").body(), {}
        try:
            status, payload = self._dispatch(op_id, path, query, body, requester)
        except PagerDutyError as error:
            status, payload = error.status, error.body()
        if str(status) in operation.statuses and status != 204:
            out = json.dumps(payload).encode()
            problem = spec_of(path).response_problem(call, status, out)
            if problem:
                self._report(op_id, "sandbox-response", problem)
        return status, payload, {}

    # -- Events API v2 ----------------------------------------------------------------------------
    def _answer_events(  # noqa: PLR0917
        self,
        operation: Operation,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: list[tuple[str, str]],
        raw: bytes,
        body: Any,
    ) -> Answer:
        op_id = operation.operation_id
        content_type = dict((k.lower(), v) for k, v in headers).get("content-type", "")
        call = Call(method, path, query, raw, content_type.split(";")[0], headers)
        problem = spec_of(path).request_problem(call)
        if problem:
            self._report(op_id, "request", problem)
        event = body if isinstance(body, dict) else {}
        if (
            op_id == "createV2Event"
            and event.get("event_action") in {"acknowledge", "resolve"}
            and not event.get("dedup_key")
        ):
            # E1: "Required unless the event_type is trigger" exists only in prose.
            problem = problem or "dedup_key is required unless event_action is trigger"
            self._report(op_id, "dedup_key", "dedup_key is required unless event_action is trigger")
        refusal = self._take_refusal(method, path)
        if refusal is not None:
            return _refusal_answer(refusal, rest=False)
        if problem:
            # E1: the 400 has no schema in the spec; PagerDuty's documented body shape.
            return 400, _event_error(problem), {}
        if op_id != "createV2Event":
            return 202, {"status": "success", "message": "Change event processed"}, {}
        service = next(
            (s for s in self.services.values() if s.integration_key == event["routing_key"]), None
        )
        if service is None:
            return 400, _event_error("Invalid routing key"), {}
        dedup_key = self._event(service, event)
        payload = {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
        out = json.dumps(payload).encode()
        problem = spec_of(path).response_problem(call, 202, out)
        if problem:
            self._report(op_id, "sandbox-response", problem)
        return 202, payload, {}

    def _event(self, service: Service, event: JSON) -> str:
        action = event["event_action"]
        dedup_key = str(event.get("dedup_key") or uuid.uuid4().hex)
        agent = Agent("integration", service.integration_key[:7].upper(), "Events API v2")
        channel = {"type": "api", "summary": str((event.get("payload") or {}).get("summary", ""))}
        open_one = next(
            (
                i
                for i in self.incidents.values()
                if i.is_open and i.service_id == service.id and i.incident_key == dedup_key
            ),
            None,
        )
        if action == "trigger" and open_one is None:
            payload = event["payload"]
            self._open_incident(
                service=service,
                title=str(payload["summary"]),
                urgency="high" if payload["severity"] in {"critical", "error"} else "low",
                key=dedup_key,
                details=payload.get("custom_details"),
                agent=agent,
                channel=channel,
                policy=self.escalation_policies[service.escalation_policy_id],
                assignees=None,
            )
        elif action == "acknowledge" and open_one is not None:
            self._acknowledge(open_one, agent, channel)
        elif action == "resolve" and open_one is not None:
            self._resolve(open_one, agent, channel, None)
        # A trigger matching an open incident is de-duplicated into it; an acknowledge or resolve
        # matching nothing open is accepted and ignored, as PagerDuty does.
        return dedup_key

    # -- REST API v2 ------------------------------------------------------------------------------
    def _dispatch(
        self,
        op_id: str,
        path: str,
        query: list[tuple[str, str]],
        body: Any,
        requester: User | None,
    ) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        item = parts[1] if len(parts) > 1 else ""
        handlers: dict[str, Callable[[], tuple[int, Any]]] = {
            "listUsers": lambda: (200, self._list_users(query)),
            "getUser": lambda: (200, {"user": self._user(self._get(self.users, item))}),
            "listServices": lambda: (200, self._list_services(query)),
            "getService": lambda: (200, {"service": self._service(self._get(self.services, item))}),
            "listEscalationPolicies": lambda: (200, self._list_policies(query)),
            "getEscalationPolicy": lambda: (
                200,
                {"escalation_policy": self._policy(self._get(self.escalation_policies, item))},
            ),
            "listSchedules": lambda: (200, self._list_schedules(query)),
            "getSchedule": lambda: (
                200,
                {"schedule": self._schedule(self._get(self.schedules, item))},
            ),
            "listOnCalls": lambda: (200, self._list_oncalls(query)),
            "listIncidents": lambda: (200, self._list_incidents(query)),
            "getIncident": lambda: (
                200,
                {"incident": self._incident(self._get(self.incidents, item))},
            ),
            "createIncident": lambda: (
                201,
                {"incident": self._incident(self._create(body, requester))},
            ),
            "updateIncident": lambda: (
                200,
                {"incident": self._incident(self._update(item, body, requester))},
            ),
            "listIncidentNotes": lambda: (
                200,
                {"notes": [self._note(n) for n in self._get(self.incidents, item).notes]},
            ),
            "createIncidentNote": lambda: (
                200,
                {"note": self._note(self._post_note(item, body, requester))},
            ),
            "listIncidentLogEntries": lambda: (200, self._list_log_entries(item, query)),
        }
        handler = handlers.get(op_id)
        if handler is None:
            self._report(op_id, "unimplemented", f"the sandbox does not implement {op_id}")
            raise PagerDutyError(501, f"the sandbox does not implement {op_id}", 2000)
        return handler()

    @staticmethod
    def _get(table: dict[str, _T], key: str) -> _T:
        if key not in table:
            raise not_found()
        return table[key]

    # -- lists and pagination ---------------------------------------------------------------------
    @staticmethod
    def _values(query: list[tuple[str, str]], name: str) -> list[str]:
        return [v for k, v in query if k == name]

    @staticmethod
    def _one(query: list[tuple[str, str]], name: str) -> str | None:
        return next((v for k, v in query if k == name), None)

    def _paginate(self, key: str, items: list[JSON], query: list[tuple[str, str]]) -> JSON:
        try:
            offset = int(self._one(query, "offset") or 0)
            limit = int(self._one(query, "limit") or DEFAULT_LIMIT)
        except ValueError as exc:
            raise invalid("offset and limit must be integers") from exc
        if offset < 0 or limit < 1:
            raise invalid("offset must be >= 0 and limit >= 1")
        limit = min(limit, MAX_LIMIT)
        total = (self._one(query, "total") or "false").lower() == "true"
        return {
            key: items[offset : offset + limit],
            "limit": limit,
            "offset": offset,
            "more": offset + limit < len(items),
            "total": len(items) if total else None,
        }

    def _list_users(self, query: list[tuple[str, str]]) -> JSON:
        text = (self._one(query, "query") or "").lower()
        users = [
            self._user(u)
            for u in self.users.values()
            if text in u.name.lower() or text in u.email.lower()
        ]
        return self._paginate("users", users, query)

    def _list_services(self, query: list[tuple[str, str]]) -> JSON:
        text = (self._one(query, "query") or "").lower()
        found = [self._service(s) for s in self.services.values() if text in s.name.lower()]
        return self._paginate("services", found, query)

    def _list_policies(self, query: list[tuple[str, str]]) -> JSON:
        text = (self._one(query, "query") or "").lower()
        found = [
            self._policy(p) for p in self.escalation_policies.values() if text in p.name.lower()
        ]
        return self._paginate("escalation_policies", found, query)

    def _list_schedules(self, query: list[tuple[str, str]]) -> JSON:
        text = (self._one(query, "query") or "").lower()
        found = [self._schedule(s) for s in self.schedules.values() if text in s.name.lower()]
        return self._paginate("schedules", found, query)

    def _list_oncalls(self, query: list[tuple[str, str]]) -> JSON:
        """On-calls overlapping [since, until] (both default to now) per policy, level and user.
        `include[]` is not honoured: it would expand `user` into a full user object, which the
        spec's `Oncall.user` (a `UserReference`) does not allow."""
        now = self._clock()
        since = parse_time(s) if (s := self._one(query, "since")) else now
        until = parse_time(u) if (u := self._one(query, "until")) else now
        if until < since:
            raise invalid("The until time cannot be before the since time")
        policy_ids = set(self._values(query, "escalation_policy_ids[]"))
        schedule_ids = set(self._values(query, "schedule_ids[]"))
        user_ids = set(self._values(query, "user_ids[]"))
        earliest = (self._one(query, "earliest") or "false").lower() == "true"
        entries: list[JSON] = []
        seen: set[tuple[str, int, str]] = set()
        for policy in self.escalation_policies.values():
            if policy_ids and policy.id not in policy_ids:
                continue
            for level, rule in enumerate(policy.rules, start=1):
                for target in rule.targets:
                    for user_id, schedule, shift in self._targets_on_call(target, since, until):
                        if (
                            schedule_ids and (schedule is None or schedule.id not in schedule_ids)
                        ) or (user_ids and user_id not in user_ids):
                            continue
                        if earliest and (policy.id, level, user_id) in seen:
                            continue
                        seen.add((policy.id, level, user_id))
                        entry: JSON = {
                            "escalation_policy": self._ref("escalation_policy", policy.id),
                            "escalation_level": level,
                            "user": self._ref("user", user_id),
                        }
                        if schedule is not None and shift is not None:
                            entry["schedule"] = self._ref("schedule", schedule.id)
                            entry["start"] = pd_time(shift.start)
                            if shift.end is not None:
                                entry["end"] = pd_time(shift.end)
                        entries.append(entry)
        return self._paginate("oncalls", entries, query)

    def _targets_on_call(
        self, target: Target, since: datetime, until: datetime
    ) -> Iterable[tuple[str, Schedule | None, Shift | None]]:
        if target.kind == "user":
            yield target.id, None, None  # a user target is on call permanently
            return
        schedule = self.schedules[target.id]
        for shift in schedule.shifts:
            if shift.start <= until and (shift.end is None or since < shift.end):
                yield shift.user_id, schedule, shift

    def _list_incidents(self, query: list[tuple[str, str]]) -> JSON:
        found = list(self.incidents.values())
        if self._one(query, "date_range") != "all":
            # "Maximum range is 6 months and default is 1 month" (listIncidents `since`/`until`).
            now = self._clock()
            until = parse_time(u) if (u := self._one(query, "until")) else now
            since = (
                parse_time(s) if (s := self._one(query, "since")) else until - timedelta(days=30)
            )
            if until - since > timedelta(days=183):
                raise invalid("The date range cannot exceed 6 months")
            found = [i for i in found if since <= i.created_at < until or i.created_at == until]
        if (key := self._one(query, "incident_key")) is not None:
            found = [i for i in found if i.incident_key == key]
        if statuses := set(self._values(query, "statuses[]")):
            found = [i for i in found if i.status in statuses]
        if service_ids := set(self._values(query, "service_ids[]")):
            found = [i for i in found if i.service_id in service_ids]
        if urgencies := set(self._values(query, "urgencies[]")):
            found = [i for i in found if i.urgency in urgencies]
        found.sort(key=lambda i: i.number)
        return self._paginate("incidents", [self._incident(i) for i in found], query)

    def _list_log_entries(self, incident_id: str, query: list[tuple[str, str]]) -> JSON:
        incident = self._get(self.incidents, incident_id)
        entries = incident.log
        if since := self._one(query, "since"):
            start = parse_time(since)
            entries = [e for e in entries if e.created_at >= start]
        if until := self._one(query, "until"):
            end = parse_time(until)
            entries = [e for e in entries if e.created_at < end]
        if (self._one(query, "is_overview") or "false").lower() == "true":
            overview = {"trigger_log_entry", "acknowledge_log_entry", "resolve_log_entry"}
            entries = [e for e in entries if e.type in overview]
        return self._paginate("log_entries", [self._log_entry(incident, e) for e in entries], query)

    # -- incidents --------------------------------------------------------------------------------
    def _now(self) -> datetime:
        # PagerDuty times have whole seconds; keep state at the precision clients can see.
        return self._clock().astimezone(UTC).replace(microsecond=0)

    def _create(self, body: Any, requester: User | None) -> Incident:
        assert requester is not None  # From was checked before dispatching
        fields = body["incident"]
        service = self.services.get(str(fields["service"].get("id")))
        if service is None:
            raise invalid("Service not found")
        key = fields.get("incident_key")
        if key is not None and any(
            i.is_open and i.service_id == service.id and i.incident_key == key
            for i in self.incidents.values()
        ):
            # createIncident: "subsequent requests referencing the same service and with the same
            # incident_key will result in those requests being rejected if an open incident
            # matches that incident_key".
            raise invalid(DUPLICATE_KEY)
        if fields.get("escalation_policy") and fields.get("assignments"):
            # createIncident `assignments`: "Cannot be specified if an escalation policy is given."
            raise invalid("Assignments cannot be given together with an escalation policy")
        policy_id = (fields.get("escalation_policy") or {}).get(
            "id"
        ) or service.escalation_policy_id
        policy = self.escalation_policies.get(str(policy_id))
        if policy is None:
            raise invalid("Escalation Policy not found")
        assignees: list[str] | None = None
        if fields.get("assignments"):
            assignees = [str(a["assignee"]["id"]) for a in fields["assignments"]]
            if any(a not in self.users for a in assignees):
                raise invalid("Assignee not found")
        return self._open_incident(
            service=service,
            title=str(fields["title"]),
            urgency=str(fields.get("urgency", "high")),
            key=key,
            details=(fields.get("body") or {}).get("details"),
            agent=_user_agent(requester),
            channel={"type": "web_trigger", "summary": str(fields["title"])},
            policy=policy,
            assignees=assignees,
        )

    def _open_incident(
        self,
        *,
        service: Service,
        title: str,
        urgency: str,
        key: str | None,
        details: Any,
        agent: Agent,
        channel: JSON,
        policy: EscalationPolicy,
        assignees: list[str] | None,
    ) -> Incident:
        now = self._now()
        direct = assignees is not None
        if assignees is None:
            assignees = self._first_level_on_call(policy, now)
        incident = Incident(
            id=self._new_id(),
            number=next(self._numbers),
            title=title,
            service_id=service.id,
            escalation_policy_id=policy.id,
            urgency=urgency,
            status="triggered",
            incident_key=key,
            details=details,
            created_at=now,
            created_by=agent,
            last_status_change_at=now,
            last_status_change_by=agent,
            assigned_via="direct_assignment" if direct else "escalation_policy",
            assignments=[(user_id, now) for user_id in assignees],
            updated_at=now,
        )
        self.incidents[incident.id] = incident
        self._log(
            incident,
            "trigger_log_entry",
            agent,
            channel,
            f"Triggered through the {channel['type']}",
        )
        if assignees:
            names = ", ".join(self.users[u].name for u in assignees)
            self._log(
                incident,
                "assign_log_entry",
                Agent("service", service.id, service.name),
                {"type": "auto"},
                f"Assigned to {names}.",
                assignees=tuple(assignees),
            )
        return incident

    def _first_level_on_call(self, policy: EscalationPolicy, at: datetime) -> list[str]:
        """The users of the first level with anyone on call (an empty level escalates at once)."""
        for rule in policy.rules:
            users: list[str] = []
            for target in rule.targets:
                for user_id, _, _ in self._targets_on_call(target, at, at):
                    if user_id not in users:
                        users.append(user_id)
            if users:
                return users
        return []

    def _update(self, incident_id: str, body: Any, requester: User | None) -> Incident:
        assert requester is not None
        incident = self._get(self.incidents, incident_id)
        fields = body["incident"]
        agent = _user_agent(requester)
        channel = {"type": "api"}
        status = fields.get("status")
        if status == "acknowledged":
            self._acknowledge(incident, agent, channel)
        elif status == "resolved":
            self._resolve(incident, agent, channel, fields.get("resolution"))
        elif status == "triggered" and incident.status != "triggered":
            self._retrigger(incident, agent, channel)
        if "title" in fields:
            incident.title = str(fields["title"])
        if "urgency" in fields:
            incident.urgency = str(fields["urgency"])
        incident.updated_at = self._now()
        return incident

    def _acknowledge(self, incident: Incident, agent: Agent, channel: JSON) -> None:
        now = self._now()
        if incident.status == "resolved":
            # updateIncident: reopening to "acknowledged" assigns the current user.
            incident.resolved_at = None
            incident.assignments = [(agent.id, now)] if agent.kind == "user" else []
        if any(a == agent for a, _ in incident.acknowledgements):
            return
        incident.status = "acknowledged"
        incident.acknowledgements.append((agent, now))
        incident.last_status_change_at, incident.last_status_change_by = now, agent
        incident.updated_at = now
        self._log(
            incident, "acknowledge_log_entry", agent, channel, f"Acknowledged by {agent.summary}."
        )

    def _resolve(self, incident: Incident, agent: Agent, channel: JSON, resolution: Any) -> None:
        if incident.status == "resolved":
            return
        now = self._now()
        incident.status = "resolved"
        incident.resolved_at = now
        incident.assignments = []
        incident.acknowledgements = []
        incident.last_status_change_at, incident.last_status_change_by = now, agent
        incident.updated_at = now
        self._log(
            incident,
            "resolve_log_entry",
            agent,
            channel,
            f"Resolved by {agent.summary}.",
            note=str(resolution) if resolution else None,
        )

    def _retrigger(self, incident: Incident, agent: Agent, channel: JSON) -> None:
        now = self._now()
        kind = (
            "unacknowledge_log_entry" if incident.status == "acknowledged" else "trigger_log_entry"
        )
        if incident.status == "resolved":
            policy = self.escalation_policies[incident.escalation_policy_id]
            incident.assignments = [(u, now) for u in self._first_level_on_call(policy, now)]
            incident.resolved_at = None
        incident.status = "triggered"
        incident.acknowledgements = []
        incident.last_status_change_at, incident.last_status_change_by = now, agent
        self._log(incident, kind, agent, channel, f"Set to triggered by {agent.summary}.")

    def _post_note(self, incident_id: str, body: Any, requester: User | None) -> Note:
        assert requester is not None
        return self._add_note(
            self._get(self.incidents, incident_id), requester, body["note"]["content"]
        )

    def _add_note(self, incident: Incident, user: User, content: str) -> Note:
        note = Note(self._new_id(), user.id, str(content), self._now())
        incident.notes.append(note)
        self._log(
            incident,
            "annotate_log_entry",
            _user_agent(user),
            {"type": "note", "summary": str(content)},
            f"Note added by {user.name}.",
            note=str(content),
        )
        return note

    def _log(
        self,
        incident: Incident,
        kind: str,
        agent: Agent | None,
        channel: JSON,
        summary: str,
        *,
        assignees: tuple[str, ...] = (),
        note: str | None = None,
    ) -> None:
        entry = LogEntry(
            id="R" + uuid.uuid4().hex[:13].upper(),
            type=kind,
            created_at=self._now(),
            agent=agent,
            channel=channel,
            summary=summary,
            assignees=assignees,
            note=note,
        )
        incident.log.append(entry)

    # -- rendering --------------------------------------------------------------------------------
    _PLURAL = {
        "user": "users",
        "service": "services",
        "escalation_policy": "escalation_policies",
        "schedule": "schedules",
        "incident": "incidents",
        "integration": "integrations",
    }

    def _summary(self, kind: str, id_: str) -> str:
        if kind == "user":
            return self.users[id_].name
        if kind == "service":
            return self.services[id_].name
        if kind == "escalation_policy":
            return self.escalation_policies[id_].name
        if kind == "schedule":
            return self.schedules[id_].name
        if kind == "incident":
            incident = self.incidents[id_]
            return f"[#{incident.number}] {incident.title}"
        return id_

    def _urls(self, kind: str, id_: str) -> JSON:
        plural = self._PLURAL[kind]
        page = "service-directory" if kind == "service" else plural
        return {
            "self": f"{self.base_url}/{plural}/{id_}",
            "html_url": f"https://{self.subdomain}.pagerduty.com/{page}/{id_}",
        }

    def _ref(self, kind: str, id_: str, summary: str | None = None) -> JSON:
        return {
            "id": id_,
            "type": f"{kind}_reference",
            "summary": summary if summary is not None else self._summary(kind, id_),
            **self._urls(kind, id_),
        }

    def _agent_ref(self, agent: Agent) -> JSON:
        return self._ref(agent.kind, agent.id, agent.summary)

    def _user(self, user: User) -> JSON:
        return {
            "id": user.id,
            "type": "user",
            "summary": user.name,
            **self._urls("user", user.id),
            "name": user.name,
            "email": user.email,
            "time_zone": user.time_zone,
            "role": user.role,
            "color": "purple",
            "job_title": "",
            "teams": [],
            "contact_methods": [],
            "notification_rules": [],
        }

    def _service(self, service: Service) -> JSON:
        return {
            "id": service.id,
            "type": "service",
            "summary": service.name,
            **self._urls("service", service.id),
            "name": service.name,
            "status": service.status,
            "escalation_policy": self._ref("escalation_policy", service.escalation_policy_id),
            "auto_resolve_timeout": 14400,
            "acknowledgement_timeout": 1800,
            "teams": [],
            "integrations": [],
            "incident_urgency_rule": {"type": "constant", "urgency": "high"},
        }

    def _policy(self, policy: EscalationPolicy) -> JSON:
        return {
            "id": policy.id,
            "type": "escalation_policy",
            "summary": policy.name,
            **self._urls("escalation_policy", policy.id),
            "name": policy.name,
            "num_loops": policy.num_loops,
            "escalation_rules": [
                {
                    "id": rule.id,
                    "escalation_delay_in_minutes": rule.delay_minutes,
                    "targets": [self._ref(t.kind, t.id) for t in rule.targets],
                }
                for rule in policy.rules
            ],
            "services": [
                self._ref("service", s.id)
                for s in self.services.values()
                if s.escalation_policy_id == policy.id
            ],
            "teams": [],
        }

    def _schedule(self, schedule: Schedule) -> JSON:
        user_ids = list(dict.fromkeys(s.user_id for s in schedule.shifts))
        return {
            "id": schedule.id,
            "type": "schedule",
            "summary": schedule.name,
            **self._urls("schedule", schedule.id),
            "name": schedule.name,
            "time_zone": schedule.time_zone,
            "users": [self._ref("user", u) for u in user_ids],
            "escalation_policies": [
                self._ref("escalation_policy", p.id)
                for p in self.escalation_policies.values()
                if any(t.id == schedule.id for r in p.rules for t in r.targets)
            ],
            "teams": [],
        }

    def _incident(self, incident: Incident) -> JSON:
        trigger = incident.log[0]
        out: JSON = {
            "id": incident.id,
            "type": "incident",
            "summary": f"[#{incident.number}] {incident.title}",
            **self._urls("incident", incident.id),
            "incident_number": incident.number,
            "title": incident.title,
            "created_at": pd_time(incident.created_at),
            "updated_at": pd_time(incident.updated_at or incident.created_at),
            "status": incident.status,
            "service": self._ref("service", incident.service_id),
            "assignments": [
                {"at": pd_time(at), "assignee": self._ref("user", user_id)}
                for user_id, at in incident.assignments
            ],
            "assigned_via": incident.assigned_via,
            "last_status_change_at": pd_time(incident.last_status_change_at),
            "last_status_change_by": self._agent_ref(incident.last_status_change_by),
            "resolved_at": pd_time(incident.resolved_at) if incident.resolved_at else None,
            "first_trigger_log_entry": {
                "id": trigger.id,
                "type": "trigger_log_entry_reference",
                "summary": trigger.summary,
                "self": f"{self.base_url}/log_entries/{trigger.id}",
                "html_url": f"https://{self.subdomain}.pagerduty.com/incidents/{incident.id}/log_entries/{trigger.id}",
            },
            "alert_counts": {"all": 0, "triggered": 0, "resolved": 0},
            "is_mergeable": True,
            "escalation_policy": self._ref("escalation_policy", incident.escalation_policy_id),
            "teams": [],
            "pending_actions": [],
            "acknowledgements": [
                {"at": pd_time(at), "acknowledger": self._agent_ref(agent)}
                for agent, at in incident.acknowledgements
            ],
            "urgency": incident.urgency,
        }
        if incident.incident_key is not None:
            out["incident_key"] = incident.incident_key
        return out

    def _note(self, note: Note) -> JSON:
        return {
            "id": note.id,
            "user": self._ref("user", note.user_id),
            "channel": {"summary": "The PagerDuty website or APIs"},
            "content": note.content,
            "created_at": pd_time(note.created_at),
        }

    def _log_entry(self, incident: Incident, entry: LogEntry) -> JSON:
        out: JSON = {
            "id": entry.id,
            "type": entry.type,
            "summary": entry.summary,
            "self": f"{self.base_url}/log_entries/{entry.id}",
            "html_url": f"https://{self.subdomain}.pagerduty.com/incidents/{incident.id}/log_entries/{entry.id}",
            "created_at": pd_time(entry.created_at),
            "channel": entry.channel,
            "service": self._ref("service", incident.service_id),
            "incident": self._ref("incident", incident.id),
            "teams": [],
            "contexts": [],
            "event_details": {},
        }
        if entry.agent is not None:
            out["agent"] = self._agent_ref(entry.agent)
        if entry.assignees:
            out["assignees"] = [self._ref("user", u) for u in entry.assignees]
        if entry.note is not None:
            out["note"] = entry.note
        return out


def _user_agent(user: User) -> Agent:
    return Agent("user", user.id, user.name)


def _event_error(message: str) -> JSON:
    return {"status": "invalid event", "message": "Event object is invalid", "errors": [message]}


def _refusal_answer(refusal: Refusal, *, rest: bool) -> Answer:
    """An injected error as PagerDuty words it: the REST `{"error": …}` or the Events body, with
    the REST rate-limit headers on a 429 (support.pagerduty.com "REST API Rate Limits")."""
    status, retry_after = refusal.status, refusal.retry_after
    headers: dict[str, str] = {}
    if status == 429:
        headers = {"ratelimit-limit": "960", "ratelimit-remaining": "0"}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
            headers["ratelimit-reset"] = str(retry_after)
    message = "Rate Limit Exceeded" if status == 429 else "Service Unavailable (injected)"
    if rest:
        return status, {"error": {"message": message}}, headers
    return (
        status,
        {"status": "throttle event" if status == 429 else "error", "message": message},
        headers,
    )
