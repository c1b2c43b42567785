"""`SandboxJira`: a local Jira Cloud (REST v3, plus its v2 twin) or Jira Data Center (REST v2).

Every request is matched to an operation of `jira_platform_v3.json` and validated with openapi-core
(path, method, query, body); every answer the sandbox gives is validated too (INTEGRATION_NOTES §7.3).
Violations are recorded; `assert_no_violations()` fails a test that broke the contract. Cloud-only facts:
`/search` is gone (410, §4.1), search is `/search/jql` with `nextPageToken`. Data Center: REST v2 only,
`/search` with `startAt`/`total`.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Self

from aiohttp import web

from sandbox.jira import jql
from sandbox.jira.contract import (
    Violation,
    find_operation,
    request_problem,
    response_problem,
    text_field_violations,
)
from sandbox.jira.state import (
    JSON,
    Account,
    ChangeItem,
    FieldDef,
    History,
    Issue,
    IssueType,
    JiraError,
    Priority,
    Project,
    RemoteLink,
    Status,
    Transition,
)

Mode = Literal["cloud", "datacenter"]

_API = re.compile(r"^/rest/api/(?P<version>2|3|latest)/(?P<tail>.*)$")

STATUSES = (
    Status("10000", "To Do", 2, "new", "To Do", "blue-gray"),
    Status("3", "In Progress", 4, "indeterminate", "In Progress", "yellow"),
    Status("10001", "Done", 3, "done", "Done", "green"),
)
#: The workflow: To Do → In Progress → Done, and a global "Reopen" back to To Do.
TRANSITIONS = (
    Transition("11", "Start progress", "3", frozenset({"10000"})),
    Transition("21", "Resolve", "10001", frozenset({"3"})),
    Transition("31", "Reopen", "10000", frozenset({"3", "10001"})),
)
SYSTEM_FIELDS = (
    FieldDef("summary", "Summary", False, "string"),
    FieldDef("description", "Description", False, "string"),
    FieldDef("environment", "Environment", False, "string"),
    FieldDef("issuetype", "Issue Type", False, "issuetype"),
    FieldDef("project", "Project", False, "project"),
    FieldDef("priority", "Priority", False, "priority"),
    FieldDef("status", "Status", False, "status"),
    FieldDef("labels", "Labels", False, "array"),
    FieldDef("assignee", "Assignee", False, "user"),
    FieldDef("reporter", "Reporter", False, "user"),
    FieldDef("created", "Created", False, "datetime"),
    FieldDef("updated", "Updated", False, "datetime"),
    FieldDef("resolution", "Resolution", False, "resolution"),
)
_USER_FIELDS = {"assignee", "reporter"}
_READ_ONLY = {"status", "created", "updated", "resolution", "project"}


def jira_time(moment: datetime) -> str:
    """Jira's timestamp form: milliseconds and a `+0000` offset (spec examples, J1)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def adf_text(value: Any) -> str:
    """The plain text of an ADF document (paragraphs joined by newlines)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if value.get("type") == "text":
            return str(value.get("text", ""))
        parts = [adf_text(child) for child in value.get("content") or []]
        joiner = "\n" if value.get("type") == "doc" else ""
        return joiner.join(parts)
    return ""


def adf_doc(text: str) -> JSON:
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}] if line else []}
            for line in text.split("\n")
        ],
    }


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP call as the sandbox saw it."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: Any
    operation_id: str | None
    status: int
    account_id: str | None
    at: float


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    method: str | None
    status: int
    retry_after: int | None
    times: int


class SandboxJira:
    """A local Jira. Start it, point the `jira` library at `base_url`.

    ```python
    async with SandboxJira(mode="cloud") as jira_sb:
        client = JIRA(server=jira_sb.base_url, basic_auth=(jira_sb.bot.email, jira_sb.bot.api_token))
        ...
        jira_sb.assert_no_violations()
    ```
    """

    def __init__(
        self,
        *,
        mode: Mode = "cloud",
        project_key: str = "INC",
        project_name: str = "Incidents",
        custom_fields: Iterable[tuple[str, str]] = (
            ("Severity", "option"),
            ("Slack channel", "string"),
        ),
        reject_invalid_requests: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.mode: Mode = mode
        self.reject_invalid_requests = reject_invalid_requests
        self._clock = clock or (lambda: datetime.now(UTC))
        self._last_time: datetime | None = None
        self._ids = itertools.count(10001)
        self._history_ids = itertools.count(100001)
        self._link_ids = itertools.count(10000)
        self._tokens = itertools.count(1)
        self.accounts: dict[str, Account] = {}
        self.bot = self.add_user(
            "FireFighter Bot",
            email="firefighter-bot@example.com",
            account_id="712020:f1ref1ghter-b0t",
            api_token="sandbox-bot-api-token",
        )
        self.issue_types = {
            t.id: t for t in (IssueType("10001", "Incident"), IssueType("10002", "Task"))
        }
        self.priorities = {
            p.id: p
            for p in (
                Priority("1", "Highest"),
                Priority("2", "High"),
                Priority("3", "Medium"),
                Priority("4", "Low"),
            )
        }
        self.statuses = {s.id: s for s in STATUSES}
        self.transitions = {t.id: t for t in TRANSITIONS}
        self.fields: dict[str, FieldDef] = {f.id: f for f in SYSTEM_FIELDS}
        self._custom_ids = itertools.count(10010)
        for name, schema_type in custom_fields:
            self.add_custom_field(name, schema_type)
        self.projects: dict[str, Project] = {}
        self.add_project(project_key, project_name)
        self.issues: dict[str, Issue] = {}  # by id
        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self._faults: list[_Fault] = []
        self._outage: int | None = None
        self._pages: dict[str, tuple[str, int, int]] = {}  # nextPageToken -> (jql, offset, size)
        self._runner: web.AppRunner | None = None
        self._port = 0

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> Self:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only through the server sockets
        assert server is not None
        self._port = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What `JIRA(server=...)` takes."""
        return f"http://127.0.0.1:{self._port}"

    # -- set-up and the "human" API ---------------------------------------------------------------
    def add_user(
        self,
        display_name: str,
        *,
        email: str,
        account_id: str | None = None,
        api_token: str | None = None,
        name: str | None = None,
    ) -> Account:
        number = len(self.accounts) + 1
        account = Account(
            account_id=account_id or f"712020:sandbox-{number:04d}",
            display_name=display_name,
            email=email,
            api_token=api_token or f"sandbox-token-{number}",
            name=name or email.split("@", 1)[0],
        )
        self.accounts[account.account_id] = account
        return account

    def add_custom_field(self, name: str, schema_type: str = "string") -> str:
        field_id = f"customfield_{next(self._custom_ids)}"
        custom_type = {
            "option": "com.atlassian.jira.plugin.system.customfieldtypes:select",
            "string": "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
        }.get(schema_type)
        self.fields[field_id] = FieldDef(field_id, name, True, schema_type, custom_type)
        return field_id

    def field_id(self, name: str) -> str:
        return next(f.id for f in self.fields.values() if f.name == name)

    def add_project(self, key: str, name: str) -> Project:
        project = Project(str(next(self._ids)), key, name, tuple(self.issue_types))
        self.projects[project.id] = project
        return project

    def issue(self, key_or_id: str) -> Issue:
        for issue in self.issues.values():
            if key_or_id in (issue.key, issue.id):
                return issue
        raise KeyError(key_or_id)

    def edit_as(self, account: Account, key: str, fields: JSON) -> Issue:
        """A person edits the issue in Jira's UI: the change is recorded with that author."""
        issue = self.issue(key)
        self._apply(issue, self._parse_fields(fields, "3", creating=False), account)
        return issue

    def transition_as(self, account: Account, key: str, transition: str) -> Issue:
        """A person moves the issue through the workflow (by transition id or name)."""
        issue = self.issue(key)
        by_name = {t.name.lower(): t.id for t in self.transitions.values()}
        self._do_transition(issue, by_name.get(transition.lower(), transition), account)
        return issue

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
        """The next `times` requests whose path matches the regex answer `status` (429, 5xx, ...)."""
        self._faults.append(_Fault(re.compile(path_pattern), method, status, retry_after, times))

    def start_outage(self, status: int = 503) -> None:
        """Every request answers `status` until `end_outage()`."""
        self._outage = status

    def end_outage(self) -> None:
        self._outage = None

    # -- contract ---------------------------------------------------------------------------------
    def assert_no_violations(self) -> None:
        if self.violations:
            listing = "\n".join(f"  - {v}" for v in self.violations)
            raise AssertionError(f"{len(self.violations)} Jira contract violation(s):\n{listing}")

    def calls(self, operation_id: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.operation_id == operation_id]

    def _report(self, operation: str, kind: str, detail: str) -> None:
        self.violations.append(Violation(operation, kind, detail))

    # -- HTTP ---------------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        method, path = request.method, request.path
        query = [(k, v) for k, v in request.query.items()]
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        account = self._authenticate(request.headers.get("Authorization", ""))
        operation = find_operation(method, path)
        status, payload, headers = self._answer(
            request, method, path, query, raw, body, account, operation
        )
        self.requests.append(
            RecordedRequest(
                method=method,
                path=path,
                query=tuple(query),
                body=body,
                operation_id=operation.operation_id if operation else None,
                status=status,
                account_id=account.account_id if account else None,
                at=time.time(),
            )
        )
        if status == 204 or payload is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(payload, status=status, headers=headers)

    def _answer(  # noqa: PLR0917 - one request's parts, passed along once
        self,
        request: web.Request,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        raw: bytes,
        body: Any,
        account: Account | None,
        operation: Any,
    ) -> tuple[int, Any, dict[str, str]]:
        fault = self._take_fault(method, path)
        if fault is not None:
            # Injected answers are outside the operation's documented responses: not validated.
            return fault
        match = _API.match(path)
        if operation is None or match is None:
            self._report(f"{method} {path}", "unknown-path", "not an operation of the Jira spec")
            return 404, {"errorMessages": ["Not found"], "errors": {}}, {}
        op_id = operation.operation_id
        version = "2" if match["version"] == "latest" else match["version"]
        if self.mode == "datacenter" and version == "3":
            self._report(op_id, "unknown-path", "Jira Data Center has no REST v3")
            return 404, {"errorMessages": ["Not found"], "errors": {}}, {}
        if operation.deprecated and self.mode == "cloud":
            self._report(op_id, "deprecated", f"{method} {path} is deprecated and removed on Cloud")
            return 410, {"errorMessages": ["The requested API has been removed."], "errors": {}}, {}
        if account is None:
            return 401, {"errorMessages": ["You are not authenticated."], "errors": {}}, {}
        checked_query = query
        if self.mode == "datacenter" and op_id == "searchForIssuesUsingJql":
            # Relaxation DC1: Data Center documents `validateQuery` of `/rest/api/2/search` as a
            # boolean and parses it case-insensitively; the `jira` library sends `True`, outside the
            # Cloud spec's enum (strict|warn|none|true|false). Lower-case it before checking.
            checked_query = [(k, v.lower() if k == "validateQuery" else v) for k, v in query]
        problem = request_problem(method, path, checked_query, raw, request.content_type)
        if problem:
            self._report(op_id, "request", problem)
            if self.reject_invalid_requests:
                return 400, {"errorMessages": [problem], "errors": {}}, {}
        try:
            status, payload = self._dispatch(op_id, version, match["tail"], query, body, account)
        except JiraError as error:
            status, payload = error.status, error.body()
        # J2: 98 operations declare a JSON body on 204; Jira sends none, so skip 204 bodies.
        if str(status) in operation.statuses and status != 204:
            out = json.dumps(payload).encode()
            problem = response_problem(
                method, path, checked_query, raw, request.content_type, status, out
            )
            if problem:
                self._report(op_id, "sandbox-response", problem)
        return status, payload, {}

    def _take_fault(self, method: str, path: str) -> tuple[int, JSON, dict[str, str]] | None:
        if self._outage is not None:
            return self._outage, {"errorMessages": ["Service unavailable"], "errors": {}}, {}
        for fault in self._faults:
            if fault.times <= 0 or (fault.method and fault.method != method):
                continue
            if fault.pattern.search(path):
                fault.times -= 1
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else {}
                message = "Rate limit exceeded." if fault.status == 429 else "Injected failure"
                return fault.status, {"errorMessages": [message], "errors": {}}, headers
        return None

    def _authenticate(self, header: str) -> Account | None:
        if header.startswith("Basic "):
            try:
                user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return None
            for account in self.accounts.values():
                if user in (account.email, account.name) and secret == account.api_token:
                    return account
        elif header.startswith("Bearer ") and self.mode == "datacenter":
            token = header[7:].strip()  # a Data Center personal access token
            return next((a for a in self.accounts.values() if a.api_token == token), None)
        return None

    def _dispatch(  # noqa: PLR0917
        self,
        op_id: str,
        version: str,
        tail: str,
        query: list[tuple[str, str]],
        body: Any,
        account: Account,
    ) -> tuple[int, Any]:
        params = dict(query)
        parts = tail.strip("/").split("/")
        if op_id == "getServerInfo":
            return 200, self._server_info()
        if op_id == "getCurrentUser":
            return 200, self._user(account, version)
        if op_id == "getFields":
            return 200, [self._field(f) for f in self.fields.values()]
        if op_id == "getProject":
            return 200, self._project(self._find_project(parts[1]), version, full=True)
        if op_id == "getIssueAllTypes":
            return 200, [self._issue_type(t, version) for t in self.issue_types.values()]
        if op_id == "createIssue":
            return 201, self._create(body, version, account)
        if op_id == "getIssue":
            issue = self._find_issue(parts[1])
            return 200, self._issue_json(
                issue, version, _field_list(query, "*all"), "changelog" in params.get("expand", "")
            )
        if op_id == "editIssue":
            issue = self._find_issue(parts[1])
            self._edit(issue, body or {}, version, account)
            if params.get("returnIssue") == "true":
                return 200, self._issue_json(issue, version, ["*all"], False)
            return 204, None
        if op_id == "getChangeLogs":
            issue = self._find_issue(parts[1])
            start, size = int(params.get("startAt", 0)), int(params.get("maxResults", 100))
            page = issue.histories[start : start + size]
            return 200, {
                "startAt": start,
                "maxResults": size,
                "total": len(issue.histories),
                "isLast": start + size >= len(issue.histories),
                "values": [self._history(h, version) for h in page],
            }
        if op_id == "getTransitions":
            issue = self._find_issue(parts[1])
            return 200, {"transitions": [self._transition(t) for t in self._available(issue)]}
        if op_id == "doTransition":
            issue = self._find_issue(parts[1])
            transition_id = str(((body or {}).get("transition") or {}).get("id", ""))
            fields = self._parse_fields((body or {}).get("fields") or {}, version, creating=False)
            self._do_transition(issue, transition_id, account, fields)
            return 204, None
        if op_id == "getRemoteIssueLinks":
            issue = self._find_issue(parts[1])
            return 200, [self._remote_link(issue, link, version) for link in issue.remote_links]
        if op_id == "createOrUpdateRemoteIssueLink":
            issue = self._find_issue(parts[1])
            return self._add_remote_link(issue, body or {}, version)
        if op_id in {"searchAndReconsileIssuesUsingJql", "searchAndReconsileIssuesUsingJqlPost"}:
            if self.mode != "cloud":
                raise JiraError(404, ["Not found"])
            return 200, self._search_jql(_search_params(query, body))
        if op_id in {"searchForIssuesUsingJql", "searchForIssuesUsingJqlPost"}:
            return 200, self._search_paged(_search_params(query, body), version)
        raise JiraError(501, [f"the sandbox does not implement {op_id}"])

    # -- rendering ----------------------------------------------------------------------------------
    def _server_info(self) -> JSON:
        cloud = self.mode == "cloud"
        return {
            "baseUrl": self.base_url,
            "displayUrl": self.base_url,
            "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.2",
            "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 2],
            # Only "Cloud" makes the `jira` library use /search/jql (INTEGRATION_NOTES §3.1).
            "deploymentType": "Cloud" if cloud else "Server",
            "buildNumber": 100290,
            "buildDate": "2026-01-05T00:00:00.000+0000",
            "serverTime": jira_time(self._clock()),
            "scmInfo": "57a0ca5b4a0bb0ac5f3fee4764acb1c14e4d7e71",
            "serverTitle": "Sandbox Jira",
        }

    def _user(self, account: Account | None, version: str) -> JSON | None:
        if account is None:
            return None
        out: JSON = {
            "self": f"{self.base_url}/rest/api/{version}/user?accountId={account.account_id}",
            "displayName": account.display_name,
            "emailAddress": account.email,
            "active": account.active,
            "timeZone": account.time_zone,
        }
        if self.mode == "cloud":
            out["accountId"] = account.account_id
            out["accountType"] = "atlassian"
        else:
            out["self"] = f"{self.base_url}/rest/api/2/user?username={account.name}"
            out["name"] = account.name
            out["key"] = account.name
        return out

    @staticmethod
    def _field(f: FieldDef) -> JSON:
        return {
            "id": f.id,
            "key": f.id,
            "name": f.name,
            "custom": f.custom,
            "orderable": f.id not in _READ_ONLY,
            "navigable": True,
            "searchable": True,
            "clauseNames": [f"cf[{f.id.rsplit('_', 1)[1]}]", f.name] if f.custom else [f.id],
            "schema": f.schema,
        }

    def _issue_type(self, t: IssueType, version: str) -> JSON:
        return {
            "self": f"{self.base_url}/rest/api/{version}/issuetype/{t.id}",
            "id": t.id,
            "name": t.name,
            "description": "",
            "subtask": t.subtask,
            "hierarchyLevel": 0,
        }

    def _project(self, project: Project, version: str, *, full: bool = False) -> JSON:
        out: JSON = {
            "self": f"{self.base_url}/rest/api/{version}/project/{project.id}",
            "id": project.id,
            "key": project.key,
            "name": project.name,
            "projectTypeKey": "software",
            "simplified": False,
        }
        if full:
            out["issueTypes"] = [
                self._issue_type(self.issue_types[t], version) for t in project.issue_type_ids
            ]
        return out

    def _status(self, status: Status, version: str) -> JSON:
        return {
            "self": f"{self.base_url}/rest/api/{version}/status/{status.id}",
            "id": status.id,
            "name": status.name,
            "description": "",
            "statusCategory": {
                "self": f"{self.base_url}/rest/api/{version}/statuscategory/{status.category_id}",
                "id": status.category_id,
                "key": status.category_key,
                "name": status.category_name,
                "colorName": status.color,
            },
        }

    def _transition(self, t: Transition) -> JSON:
        return {
            "id": t.id,
            "name": t.name,
            "to": self._status(self.statuses[t.to_status], "3"),
            "hasScreen": False,
            "isGlobal": not t.from_statuses,
            "isInitial": False,
            "isAvailable": True,
            "isConditional": False,
            "isLooped": False,
        }

    def _remote_link(self, issue: Issue, link: RemoteLink, version: str) -> JSON:
        out: JSON = {
            "id": link.id,
            "self": f"{self.base_url}/rest/api/{version}/issue/{issue.id}/remotelink/{link.id}",
            "object": link.object,
        }
        if link.global_id:
            out["globalId"] = link.global_id
        if link.relationship:
            out["relationship"] = link.relationship
        if link.application:
            out["application"] = link.application
        return out

    def _history(self, history: History, version: str) -> JSON:
        return {
            "id": history.id,
            "author": self._user(self.accounts[history.author], version),
            "created": jira_time(history.created),
            "items": [
                {
                    "field": item.field,
                    "fieldtype": item.fieldtype,
                    "fieldId": item.field_id,
                    "from": item.from_,
                    "fromString": item.from_string,
                    "to": item.to,
                    "toString": item.to_string,
                }
                for item in history.items
            ],
        }

    def _render_value(self, issue: Issue, field_id: str, version: str) -> Any:
        value = issue.values.get(field_id)
        if field_id in {"description", "environment"}:
            if value is None:
                return None
            return (
                adf_text(value)
                if version == "2"
                else (value if isinstance(value, dict) else adf_doc(value))
            )
        if field_id == "issuetype":
            return self._issue_type(self.issue_types[str(value)], version)
        if field_id == "project":
            return self._project(self.projects[issue.project_id], version)
        if field_id == "priority":
            priority = self.priorities.get(str(value)) if value else None
            if priority is None:
                return None
            return {
                "self": f"{self.base_url}/rest/api/{version}/priority/{priority.id}",
                "id": priority.id,
                "name": priority.name,
            }
        if field_id == "status":
            return self._status(self.statuses[str(value)], version)
        if field_id in _USER_FIELDS:
            return self._user(self.accounts.get(str(value)) if value else None, version)
        if field_id == "created":
            return jira_time(issue.created)
        if field_id == "updated":
            return jira_time(issue.updated)
        if field_id == "resolution":
            done = self.statuses[issue.status_id].category_key == "done"
            return {"id": "10000", "name": "Done", "description": ""} if done else None
        return value

    def _issue_json(
        self, issue: Issue, version: str, wanted: list[str], with_changelog: bool
    ) -> JSON:
        names = set(self.fields)
        selected: set[str] = set()
        for item in wanted:
            if item in {"*all", "*navigable"}:
                selected |= names
            elif item.startswith("-"):
                selected.discard(item[1:])
            elif item in names:
                selected.add(item)
        out: JSON = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue.id,
            "key": issue.key,
            "self": f"{self.base_url}/rest/api/{version}/issue/{issue.id}",
        }
        if selected:
            out["fields"] = {f: self._render_value(issue, f, version) for f in sorted(selected)}
        if with_changelog:
            histories = list(reversed(issue.histories))  # most recent first (getIssue, §4.3)
            out["changelog"] = {
                "startAt": 0,
                "maxResults": len(histories),
                "total": len(histories),
                "histories": [self._history(h, version) for h in histories],
            }
        return out

    # -- behaviour ------------------------------------------------------------------------------------
    def _now(self) -> datetime:
        """The clock, made strictly increasing by at least 1 ms so `updated` orders every change."""
        now = self._clock().astimezone(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if self._last_time is not None and now <= self._last_time:
            now = self._last_time + timedelta(milliseconds=1)
        self._last_time = now
        return now

    def _find_project(self, key_or_id: str) -> Project:
        for project in self.projects.values():
            if key_or_id in (project.key, project.id):
                return project
        raise JiraError(404, [f"No project could be found with key '{key_or_id}'."])

    def _find_issue(self, key_or_id: str) -> Issue:
        try:
            return self.issue(key_or_id)
        except KeyError:
            raise JiraError(
                404, ["Issue does not exist or you do not have permission to see it."]
            ) from None

    def _by_ref(self, table: dict[str, Any], ref: Any, what: str) -> str:
        if isinstance(ref, dict):
            if "id" in ref and str(ref["id"]) in table:
                return str(ref["id"])
            name = ref.get("name")
            for item_id, item in table.items():
                if name is not None and item.name == name:
                    return str(item_id)
        raise JiraError(400, errors={what: f"The {what} is invalid: {json.dumps(ref)}."})

    def _user_ref(self, ref: Any, what: str) -> str | None:
        if ref is None:
            return None
        if isinstance(ref, dict):
            for account in self.accounts.values():
                if ref.get("accountId") == account.account_id or (
                    self.mode == "datacenter" and ref.get("name") == account.name
                ):
                    return account.account_id
        raise JiraError(400, errors={what: f"User '{json.dumps(ref)}' does not exist."})

    def _parse_fields(self, fields: JSON, version: str, *, creating: bool) -> JSON:
        """REST `fields` → stored values, with Jira's field errors (400) for what it refuses."""
        for problem in text_field_violations(version, fields):
            self._report("fields", "text-format", problem)
            raise JiraError(400, errors={problem.split(":", 1)[0][7:]: problem})
        parsed: JSON = {}
        for name, value in fields.items():
            if name == "project":
                if not creating:
                    raise JiraError(
                        400,
                        errors={
                            name: "Field 'project' cannot be set. It is not on the appropriate screen, or unknown."
                        },
                    )
                parsed[name] = self._find_project(str(value.get("key") or value.get("id"))).id
            elif name == "issuetype":
                parsed[name] = self._by_ref(self.issue_types, value, name)
            elif name == "priority":
                parsed[name] = self._by_ref(self.priorities, value, name) if value else None
            elif name in _USER_FIELDS:
                parsed[name] = self._user_ref(value, name)
            elif name == "labels":
                if not isinstance(value, list) or not all(
                    isinstance(v, str) and " " not in v for v in value
                ):
                    raise JiraError(400, errors={name: "Labels must be strings without spaces."})
                parsed[name] = list(value)
            elif name == "summary":
                if not isinstance(value, str) or not value.strip():
                    raise JiraError(400, errors={name: "You must specify a summary of the issue."})
                parsed[name] = value
            elif name in self.fields and name not in _READ_ONLY:
                parsed[name] = value
            else:
                raise JiraError(
                    400,
                    errors={
                        name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
                    },
                )
        return parsed

    def _create(self, body: Any, version: str, account: Account) -> JSON:
        fields = (body or {}).get("fields") or {}
        missing = {
            name: f"{self.fields[name].name} is required."
            for name in ("project", "issuetype", "summary")
            if name not in fields
        }
        if missing:
            raise JiraError(400, errors=missing)
        values = self._parse_fields(fields, version, creating=True)
        project = self.projects[values.pop("project")]
        now = self._now()
        issue_id = str(next(self._ids))
        key = f"{project.key}-{project.next_number}"
        project.next_number += 1
        values.setdefault("reporter", account.account_id)
        values.setdefault("labels", [])
        values.setdefault("priority", "3")
        values["status"] = STATUSES[0].id
        self.issues[issue_id] = Issue(issue_id, key, project.id, values, now, now)
        return {
            "id": issue_id,
            "key": key,
            "self": f"{self.base_url}/rest/api/{version}/issue/{issue_id}",
        }

    def _edit(self, issue: Issue, body: JSON, version: str, account: Account) -> None:
        values = self._parse_fields(body.get("fields") or {}, version, creating=False)
        for name, operations in (body.get("update") or {}).items():
            current = values.get(name, issue.values.get(name))
            for operation in operations:
                for verb, arg in operation.items():
                    if name == "labels" and verb in {"add", "remove", "set"}:
                        labels = list(current or [])
                        if verb == "add" and arg not in labels:
                            labels.append(arg)
                        elif verb == "remove":
                            labels = [x for x in labels if x != arg]
                        elif verb == "set":
                            labels = list(arg)
                        current = labels
                    elif verb == "set":
                        current = self._parse_fields({name: arg}, version, creating=False)[name]
                    else:
                        raise JiraError(
                            400, errors={name: f"Operation '{verb}' is not supported on '{name}'."}
                        )
            values[name] = current
        self._apply(issue, values, account)

    def _display(self, field_id: str, value: Any) -> tuple[str | None, str | None]:
        """(`from`/`to`, `fromString`/`toString`) of a changelog item, as Jira writes them."""
        if value is None or value == []:
            return None, None
        if field_id == "status":
            return str(value), self.statuses[str(value)].name
        if field_id == "priority":
            return str(value), self.priorities[str(value)].name
        if field_id == "issuetype":
            return str(value), self.issue_types[str(value)].name
        if field_id in _USER_FIELDS:
            return str(value), self.accounts[str(value)].display_name
        if field_id == "labels":
            return None, " ".join(value)
        if isinstance(value, dict) and "value" in value:  # option fields
            return str(value.get("id")) if value.get("id") else None, str(value["value"])
        if isinstance(value, dict):
            return None, adf_text(value)
        return None, str(value)

    def _apply(self, issue: Issue, values: JSON, author: Account) -> None:
        items: list[ChangeItem] = []
        for field_id, new in values.items():
            old = issue.values.get(field_id)
            if old == new:
                continue
            definition = self.fields[field_id]
            old_id, old_text = self._display(field_id, old)
            new_id, new_text = self._display(field_id, new)
            items.append(
                ChangeItem(
                    field=definition.name if definition.custom else field_id,
                    fieldtype="custom" if definition.custom else "jira",
                    field_id=field_id,
                    from_=old_id,
                    from_string=old_text,
                    to=new_id,
                    to_string=new_text,
                )
            )
            issue.values[field_id] = new
        if items:
            now = self._now()
            issue.updated = now
            issue.histories.append(
                History(str(next(self._history_ids)), author.account_id, now, items)
            )

    def _available(self, issue: Issue) -> list[Transition]:
        return [
            t
            for t in self.transitions.values()
            if (not t.from_statuses or issue.status_id in t.from_statuses)
            and t.to_status != issue.status_id
        ]

    def _do_transition(
        self, issue: Issue, transition_id: str, account: Account, fields: JSON | None = None
    ) -> None:
        transition = next((t for t in self._available(issue) if t.id == transition_id), None)
        if transition is None:
            raise JiraError(400, [f"Transition id '{transition_id}' is not valid for this issue."])
        self._apply(issue, {**(fields or {}), "status": transition.to_status}, account)

    def _add_remote_link(self, issue: Issue, body: JSON, version: str) -> tuple[int, JSON]:
        obj = body.get("object") or {}
        if not obj.get("url") or not obj.get("title"):
            raise JiraError(
                400, errors={"object": "A remote link needs object.url and object.title."}
            )
        global_id = body.get("globalId")
        existing = next(
            (link for link in issue.remote_links if global_id and link.global_id == global_id), None
        )
        if existing is not None:  # same globalId: update in place (200)
            existing.object = obj
            existing.relationship = body.get("relationship")
            existing.application = body.get("application")
            link, status = existing, 200
        else:
            link = RemoteLink(
                next(self._link_ids),
                global_id,
                obj,
                body.get("relationship"),
                body.get("application"),
            )
            issue.remote_links.append(link)
            status = 201
        return status, {
            "id": link.id,
            "self": f"{self.base_url}/rest/api/{version}/issue/{issue.id}/remotelink/{link.id}",
        }

    def _matching(self, text: str, *, require_bounded: bool) -> list[Issue]:
        try:
            query = jql.parse(text)
        except jql.JqlError as error:
            raise JiraError(400, [str(error)]) from None
        if require_bounded and not query.bounded:
            raise JiraError(
                400,
                [
                    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
                ],
            )
        found = [
            issue
            for issue in self.issues.values()
            if query.matches(
                {
                    "id": issue.id,
                    "key": issue.key,
                    "project_id": issue.project_id,
                    "project_key": self.projects[issue.project_id].key,
                    "updated": issue.updated,
                }
            )
        ]
        found.sort(key=lambda issue: int(issue.id))
        for name, descending in reversed(query.order_by):
            found.sort(key=functools.partial(_sort_key, name=name), reverse=descending)
        return found

    def _search_jql(self, params: JSON) -> JSON:
        token = params.get("nextPageToken")
        if token:
            if token not in self._pages or self._pages[token][0] != params.get("jql", ""):
                raise JiraError(400, ["The provided next page token is invalid or expired."])
            offset = self._pages[token][1]
        else:
            offset = 0
        wanted = params.get("fields") or ["id"]  # /search/jql returns ids only by default (§4.1)
        size = min(int(params.get("maxResults") or 50), 5000 if wanted == ["id"] else 100)
        found = self._matching(params.get("jql", ""), require_bounded=True)
        page = found[offset : offset + size]
        expand = "changelog" in str(params.get("expand") or "")
        out: JSON = {
            "issues": [self._issue_json(i, "3", wanted, expand) for i in page],
            "isLast": offset + size >= len(found),
        }
        if not out["isLast"]:
            next_token = f"sandbox-page-{next(self._tokens)}"
            self._pages[next_token] = (params.get("jql", ""), offset + size, size)
            out["nextPageToken"] = next_token
        return out

    def _search_paged(self, params: JSON, version: str) -> JSON:
        start = int(params.get("startAt") or 0)
        size = min(int(params.get("maxResults") or 50), 100)
        wanted = params.get("fields") or ["*navigable"]
        found = self._matching(params.get("jql", ""), require_bounded=False)
        expand = "changelog" in str(params.get("expand") or "")
        return {
            "expand": "names,schema",
            "startAt": start,
            "maxResults": size,
            "total": len(found),
            "issues": [
                self._issue_json(i, version, wanted, expand) for i in found[start : start + size]
            ],
        }


def _sort_key(issue: Issue, name: str) -> Any:
    if name == "updated":
        return issue.updated
    if name == "created":
        return issue.created
    project, _, number = issue.key.partition("-")
    return (project, int(number))


def _field_list(query: list[tuple[str, str]], default: str) -> list[str]:
    values = [part for k, v in query if k == "fields" for part in v.split(",") if part]
    return values or [default]


def _search_params(query: list[tuple[str, str]], body: Any) -> JSON:
    """GET query or POST body → one dict; `fields` always a list."""
    if isinstance(body, dict):
        params = dict(body)
        fields = params.get("fields")
        if isinstance(fields, str):
            params["fields"] = [f for f in fields.split(",") if f]
        return params
    params = dict(query)
    params["fields"] = [part for k, v in query if k == "fields" for part in v.split(",") if part]
    return params
