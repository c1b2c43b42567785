"""`SandboxJira`: a local Jira Cloud (REST v3, plus its v2 twin) or Jira Data Center (REST v2).

Every request is matched to an operation of `jira_platform_v3.json` and validated with openapi-core
(path, method, query, body); every answer the sandbox gives is validated too (INTEGRATION_NOTES §7.3).
Violations are recorded; `assert_no_violations()` fails a test that broke the contract. Cloud-only facts:
`/search` is gone (410, §4.1), search is `/search/jql` with `nextPageToken`, and a changelog expanded in
an issue or a search keeps only the latest `changelog_limit` histories. Data Center: REST v2 only,
`/search` with `startAt`/`total`, users by name, a personal access token as Bearer.

Changelog order: `expand=changelog` answers the histories "sorted by date, starting from the most
recent" (the `expand` description of getIssue and `/search/jql`); `GET /issue/{key}/changelog`
answers them "sorted by date, starting from the oldest" (getChangeLogs). The sandbox does both.
"""

from __future__ import annotations

import email.parser
import email.policy
import functools
import itertools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aiohttp import web

from sandbox import http
from sandbox.atlassian import AtlassianPeople
from sandbox.http import Answer, HttpSandbox, Refusal, decoded_body
from sandbox.jira import catalog, jql
from sandbox.jira.contract import (
    jira_spec,
    rich_text_problem,
    spec_path,
    text_field_violations,
)
from sandbox.jira.state import (
    CUSTOM_KINDS,
    JSON,
    Account,
    Attachment,
    ChangeItem,
    Comment,
    FieldDef,
    History,
    Issue,
    IssueLink,
    IssueLinkType,
    IssueType,
    JiraError,
    Option,
    Project,
    RemoteLink,
    Status,
    Transition,
    Workflow,
)
from sandbox.jira.values import adf_doc, adf_text, display, jira_time, option_json, parse_value
from sandbox.jira.values import rich_text as render_rich_text
from sandbox.openapi import Call, Operation

__all__ = ["RecordedRequest", "SandboxJira", "adf_doc", "adf_text", "jira_time"]

Mode = Literal["cloud", "datacenter"]

_API = re.compile(r"^/rest/api/(?P<version>2|3|latest)/(?P<tail>.*)$")

#: Operations Atlassian has removed from Cloud (§4.1): answered 410 and recorded as violations.
#: Other operations the spec marks deprecated still answer on Cloud (e.g. `GET /priority`, deprecated
#: for priority schemes); calls to them are listed in `deprecated_calls`, not failed.
REMOVED_ON_CLOUD = frozenset({"searchForIssuesUsingJql", "searchForIssuesUsingJqlPost"})

CustomFieldSpec = tuple[str, str] | tuple[str, str, Sequence[str]]


@dataclass(frozen=True, kw_only=True)
class RecordedRequest(http.RecordedRequest):
    """One HTTP call as the sandbox saw it, with the account that made it (its headers are kept
    without `Authorization`)."""

    account_id: str | None


@dataclass(frozen=True)
class _Call:
    """One request, taken apart once for the operation handlers."""

    op_id: str
    version: str
    parts: list[str]
    query: list[tuple[str, str]]
    body: Any
    raw: bytes
    content_type: str
    headers: dict[str, str]
    account: Account

    @property
    def params(self) -> dict[str, str]:
        return dict(self.query)


class SandboxJira(HttpSandbox[RecordedRequest], AtlassianPeople[Account]):
    """A local Jira. Start it, point a client at `base_url` (the site URL).

    ```python
    async with SandboxJira(mode="cloud") as jira_sb:
        client = JiraCloud(jira_sb.base_url, username=jira_sb.bot.email, password=jira_sb.bot.api_token)
        ...
        jira_sb.assert_no_violations()
    ```

    The site has the project `project_key` with `workflow` (by default the incident workflow of
    `catalog.INCIDENT_WORKFLOW`), a follow-up project (`TASK`, the simple workflow) unless
    `follow_up_project=None`, the custom fields of `catalog.DEFAULT_CUSTOM_FIELDS` (or
    `custom_fields`: `(name, kind)` or `(name, kind, options)` with a kind of `state.CUSTOM_KINDS`).
    """

    vendor = "Jira"
    account_type = Account
    client_max_size = 16 * 1024 * 1024

    def __init__(
        self,
        *,
        mode: Mode = "cloud",
        project_key: str = "INC",
        project_name: str = "Incidents",
        workflow: Workflow = catalog.INCIDENT_WORKFLOW,
        follow_up_project: tuple[str, str] | None = ("TASK", "Follow-ups"),
        custom_fields: Iterable[CustomFieldSpec] = catalog.DEFAULT_CUSTOM_FIELDS,
        reject_invalid_requests: bool = True,
        clock: Callable[[], datetime] | None = None,
        changelog_limit: int = 100,
    ) -> None:
        super().__init__()
        self.mode: Mode = mode
        self.reject_invalid_requests = reject_invalid_requests
        self.changelog_limit = changelog_limit
        self._clock = clock or (lambda: datetime.now(UTC))
        self._last_time: datetime | None = None
        self._ids = itertools.count(10001)
        self._history_ids = itertools.count(100001)
        self._link_ids = itertools.count(10000)
        self._comment_ids = itertools.count(20001)
        self._attachment_ids = itertools.count(30001)
        self._issue_link_ids = itertools.count(40001)
        self._option_ids = itertools.count(50001)
        self._component_ids = itertools.count(60001)
        self._tokens = itertools.count(1)
        self._start_people()
        self.issue_types = {t.id: t for t in catalog.ISSUE_TYPES}
        self.priorities = {p.id: p for p in catalog.PRIORITIES}
        self.link_types = {t.id: t for t in catalog.LINK_TYPES}
        self.statuses: dict[str, Status] = {}
        self.fields: dict[str, FieldDef] = {f.id: f for f in catalog.SYSTEM_FIELDS}
        self._custom_ids = itertools.count(10010)
        for spec in custom_fields:
            name, kind = spec[0], spec[1]
            options: Sequence[str] = spec[2] if len(spec) > 2 else ()
            self.add_custom_field(name, kind, options=options)
        self.projects: dict[str, Project] = {}
        self.add_project(project_key, project_name, workflow=workflow)
        if follow_up_project is not None:
            self.add_project(*follow_up_project, workflow=catalog.SIMPLE_WORKFLOW)
        self.issues: dict[str, Issue] = {}  # by id
        self.issue_links: dict[str, IssueLink] = {}
        self.deprecated_calls: list[str] = []
        self._pages: dict[str, tuple[str, int, int]] = {}  # nextPageToken -> (jql, offset, size)

    # -- set-up and the "human" API ---------------------------------------------------------------
    def add_custom_field(
        self, name: str, kind: str = "string", *, options: Sequence[str] = ()
    ) -> str:
        """A custom field of a kind of `state.CUSTOM_KINDS`; option kinds take their allowed values."""
        if kind not in CUSTOM_KINDS:
            raise ValueError(f"unknown custom field kind {kind!r}; one of {sorted(CUSTOM_KINDS)}")
        field_id = f"customfield_{next(self._custom_ids)}"
        schema = CUSTOM_KINDS[kind][1]
        self.fields[field_id] = FieldDef(
            field_id,
            name,
            True,
            schema["type"],
            kind,
            options=tuple(Option(str(next(self._option_ids)), value) for value in options),
            items=schema.get("items"),
        )
        return field_id

    def field_id(self, name: str) -> str:
        return next(f.id for f in self.fields.values() if f.name == name)

    def add_project(
        self,
        key: str,
        name: str,
        *,
        workflow: Workflow = catalog.SIMPLE_WORKFLOW,
        components: Iterable[str] = (),
    ) -> Project:
        for status in workflow.statuses:
            known = self.statuses.setdefault(status.id, status)
            if known != status:
                raise ValueError(f"status id {status.id} is already {known.name!r}")
        project = Project(str(next(self._ids)), key, name, tuple(self.issue_types), workflow)
        self.projects[project.id] = project
        for component in components:
            self.add_component(key, component)
        return project

    def add_component(self, project_key: str, name: str) -> str:
        """A component of a project (Jira refuses component names a project does not have)."""
        project = self._find_project(project_key)
        component_id = str(next(self._component_ids))
        project.components[component_id] = name
        return component_id

    def project(self, key: str) -> Project:
        return self._find_project(key)

    def issue(self, key_or_id: str) -> Issue:
        for issue in self.issues.values():
            if key_or_id in (issue.key, issue.id):
                return issue
        raise KeyError(key_or_id)

    def status_name(self, issue: Issue) -> str:
        return self.statuses[issue.status_id].name

    def links_of(self, key: str) -> list[tuple[str, str, str]]:
        """The issue links touching an issue, as `(inward key, link type name, outward key)`."""
        issue = self.issue(key)
        return [
            (
                self.issues[link.inward_issue_id].key,
                self.link_types[link.type_id].name,
                self.issues[link.outward_issue_id].key,
            )
            for link in self.issue_links.values()
            if issue.id in (link.inward_issue_id, link.outward_issue_id)
        ]

    def edit_as(self, account: Account, key: str, fields: JSON) -> Issue:
        """A person edits the issue in Jira's UI (values in v3 form): recorded with that author."""
        issue = self.issue(key)
        values = self._parse_fields(fields, "3", project=self.projects[issue.project_id])
        self._apply(issue, values, account)
        return issue

    def transition_as(self, account: Account, key: str, transition: str) -> Issue:
        """A person moves the issue through its workflow (by transition id or name)."""
        issue = self.issue(key)
        by_name = {t.name.lower(): t.id for t in self._workflow(issue).transitions}
        self._do_transition(issue, by_name.get(transition.lower(), transition), account)
        return issue

    def comment_as(self, account: Account, key: str, text: str) -> Comment:
        """A person comments on the issue."""
        return self._add_comment(self.issue(key), adf_doc(text), account)

    def delete_as(self, account: Account, key: str) -> None:
        """A person deletes the issue (and its links): it answers 404 from now on."""
        del account  # Jira keeps no trace of who deleted an issue on the issue itself
        self._delete(self.issue(key))

    # -- faults (and `HttpSandbox`'s inject_status, start_outage, end_outage) -------------------
    def inject_rate_limit(
        self, path_pattern: str = r".", *, retry_after: int = 30, times: int = 1
    ) -> None:
        """429 with `Retry-After` for the next `times` matching requests (`times` > 1: a storm)."""
        self.inject_status(path_pattern, 429, retry_after=retry_after, times=times)

    def inject_server_error(
        self, path_pattern: str = r".", *, status: int = 500, times: int = 1
    ) -> None:
        self.inject_status(path_pattern, status, times=times)

    def inject_delay(
        self, path_pattern: str, seconds: float, *, times: int = 1, method: str | None = None
    ) -> None:
        """The next `times` matching requests are answered normally, `seconds` late."""
        self._add_delay(seconds, path_pattern, method=method, times=times)

    # -- HTTP ---------------------------------------------------------------------------------------
    def _respond(self, request: web.Request, raw: bytes) -> Answer:
        method, path = request.method, request.path
        query = [(k, v) for k, v in request.query.items()]
        multipart = bool(raw) and request.content_type.startswith("multipart/")
        body = f"<multipart body, {len(raw)} bytes>" if multipart else decoded_body(raw)
        account = self._authenticate(request.headers.get("Authorization", ""))
        operation = jira_spec().find(method, spec_path(path))
        status, payload, headers = self._answer(
            request, method, path, query, raw, body, account, operation
        )
        seen = tuple((k, v) for k, v in request.headers.items() if k.lower() != "authorization")
        account_id = account.account_id if account else None
        record = RecordedRequest.of(
            request, body, operation, status, account_id=account_id, headers=seen
        )
        self.requests.append(record)
        return status, payload, headers

    def _answer(  # noqa: PLR0917 - one request's parts, passed along once
        self,
        request: web.Request,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        raw: bytes,
        body: Any,
        account: Account | None,
        operation: Operation | None,
    ) -> Answer:
        refusal = self._take_refusal(method, path)
        if refusal is not None:
            # Injected answers are outside the operation's documented responses: not validated.
            return _refusal_answer(refusal)
        match = _API.match(path)
        if operation is None or match is None:
            self._report(f"{method} {path}", "unknown-path", "not an operation of the Jira spec")
            return 404, {"errorMessages": ["Not found"], "errors": {}}, {}
        op_id = operation.operation_id
        version = "2" if match["version"] == "latest" else match["version"]
        if self.mode == "datacenter" and version == "3":
            self._report(op_id, "unknown-path", "Jira Data Center has no REST v3")
            return 404, {"errorMessages": ["Not found"], "errors": {}}, {}
        if self.mode == "datacenter" and op_id.startswith("searchAndReconsileIssuesUsingJql"):
            self._report(op_id, "unknown-path", "Jira Data Center has no /search/jql")
            return 404, {"errorMessages": ["Not found"], "errors": {}}, {}
        if operation.deprecated and self.mode == "cloud":
            if op_id in REMOVED_ON_CLOUD:
                self._report(
                    op_id, "deprecated", f"{method} {path} is deprecated and removed on Cloud"
                )
                return (
                    410,
                    {"errorMessages": ["The requested API has been removed."], "errors": {}},
                    {},
                )
            self.deprecated_calls.append(op_id)
        if account is None:
            return 401, {"errorMessages": ["You are not authenticated."], "errors": {}}, {}
        checked_query = query
        if self.mode == "datacenter" and op_id == "searchForIssuesUsingJql":
            # Relaxation DC1: Data Center documents `validateQuery` of `/rest/api/2/search` as a
            # boolean and parses it case-insensitively; the `jira` library sends `True`, outside the
            # Cloud spec's enum (strict|warn|none|true|false). Lower-case it before checking.
            checked_query = [(k, v.lower() if k == "validateQuery" else v) for k, v in query]
        checked = Call(method, spec_path(path), checked_query, raw, request.content_type)
        problem = jira_spec().request_problem(checked)
        if problem:
            self._report(op_id, "request", problem)
            if self.reject_invalid_requests:
                return 400, {"errorMessages": [problem], "errors": {}}, {}
        call = _Call(
            op_id=op_id,
            version=version,
            parts=match["tail"].strip("/").split("/"),
            query=query,
            body=body,
            raw=raw,
            content_type=request.headers.get("Content-Type", ""),
            headers={k.lower(): v for k, v in request.headers.items()},
            account=account,
        )
        try:
            status, payload = self._dispatch(call)
        except JiraError as error:
            status, payload = error.status, error.body()
        # J2: 98 operations declare a JSON body on 204 (and linkIssues an empty schema on its 201);
        # Jira sends no body there, so an answer without a body is not validated.
        if str(status) in operation.statuses and status != 204 and payload is not None:
            out = json.dumps(payload).encode()
            problem = jira_spec().response_problem(checked, status, out)
            if problem:
                self._report(op_id, "sandbox-response", problem)
        return status, payload, {}

    def _authenticate(self, header: str) -> Account | None:
        if header.startswith("Basic "):  # an e-mail (Cloud) or a user name (Data Center)
            return self._basic_account(header, lambda account: (account.email, account.name))
        if header.startswith("Bearer ") and self.mode == "datacenter":
            token = header[7:].strip()  # a Data Center personal access token
            return next((a for a in self.accounts.values() if a.api_token == token), None)
        return None

    def _dispatch(self, call: _Call) -> tuple[int, Any]:
        op_id, version, parts, params = call.op_id, call.version, call.parts, call.params
        body = call.body if isinstance(call.body, dict) else {}
        if op_id == "getServerInfo":
            return 200, self._server_info()
        if op_id == "getCurrentUser":
            return 200, self._user(call.account, version)
        if op_id == "findUsers":
            return 200, self._find_users(call.query, version)
        if op_id == "getFields":
            return 200, [self._field(f) for f in self.fields.values()]
        if op_id == "getPriorities":
            return 200, [self._priority(p, version) for p in self.priorities.values()]
        if op_id == "getProject":
            return 200, self._project(self._find_project(parts[1]), version, full=True)
        if op_id == "getAllStatuses":
            return 200, self._project_statuses(self._find_project(parts[1]), version)
        if op_id == "getIssueAllTypes":
            return 200, [self._issue_type(t, version) for t in self.issue_types.values()]
        if op_id == "getIssueLinkTypes":
            return 200, {
                "issueLinkTypes": [self._link_type(t, version) for t in self.link_types.values()]
            }
        if op_id == "linkIssues":
            self._link(body, call.account)
            return 201, None
        if op_id == "createIssue":
            return 201, self._create(body, version, call.account)
        if op_id in {"searchAndReconsileIssuesUsingJql", "searchAndReconsileIssuesUsingJqlPost"}:
            return 200, self._search_jql(_search_params(call.query, call.body), version)
        if op_id in {"searchForIssuesUsingJql", "searchForIssuesUsingJqlPost"}:
            return 200, self._search_paged(_search_params(call.query, call.body), version)
        if len(parts) < 2 or parts[0] != "issue":
            raise JiraError(501, [f"the sandbox does not implement {op_id}"])
        issue = self._find_issue(parts[1])
        if op_id == "getIssue":
            return 200, self._issue_json(
                issue,
                version,
                _field_list(call.query, "*all"),
                "changelog" in params.get("expand", ""),
            )
        if op_id == "editIssue":
            self._edit(issue, body, version, call.account)
            if params.get("returnIssue") == "true":
                return 200, self._issue_json(issue, version, ["*all"], False)
            return 204, None
        if op_id == "deleteIssue":
            self._delete(issue)
            return 204, None
        if op_id == "getChangeLogs":
            start, size = int(params.get("startAt", 0)), int(params.get("maxResults", 100))
            page = issue.histories[start : start + size]  # oldest first (getChangeLogs)
            return 200, {
                "startAt": start,
                "maxResults": size,
                "total": len(issue.histories),
                "isLast": start + size >= len(issue.histories),
                "values": [self._history(h, version) for h in page],
            }
        if op_id == "getTransitions":
            return 200, {
                "transitions": [self._transition(t, version) for t in self._available(issue)]
            }
        if op_id == "doTransition":
            transition_id = str((body.get("transition") or {}).get("id", ""))
            fields = self._parse_fields(
                body.get("fields") or {}, version, project=self.projects[issue.project_id]
            )
            self._do_transition(
                issue, transition_id, call.account, fields, body.get("historyMetadata")
            )
            return 204, None
        if op_id == "getComments":
            start, size = int(params.get("startAt", 0)), int(params.get("maxResults", 100))
            return 200, self._comment_page(issue, version, start, size)
        if op_id == "addComment":
            problem = rich_text_problem(version, body.get("body"))
            if problem or body.get("body") in (None, ""):
                self._report("comment", "text-format", f"body: {problem or 'empty'}")
                raise JiraError(400, errors={"comment": f"Comment body: {problem or 'empty'}"})
            comment = self._add_comment(issue, body["body"], call.account)
            return 201, self._comment(comment, version)
        if op_id == "addAttachment":
            return 200, self._attach(issue, call)
        if op_id == "getRemoteIssueLinks":
            return 200, [self._remote_link(issue, link, version) for link in issue.remote_links]
        if op_id == "createOrUpdateRemoteIssueLink":
            return self._add_remote_link(issue, body, version)
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
            "active": account.active,
            "timeZone": account.time_zone,
        }
        if self.mode == "cloud":
            out["accountId"] = account.account_id
            out["accountType"] = "atlassian"
            if account.email_visible:
                out["emailAddress"] = account.email
        else:
            out["self"] = f"{self.base_url}/rest/api/2/user?username={account.name}"
            out["name"] = account.name
            out["key"] = account.name
            out["emailAddress"] = account.email
        return out

    def _find_users(self, query: list[tuple[str, str]], version: str) -> list[JSON]:
        """Cloud: `query` matched as a prefix of the display name's words or of the e-mail (a hidden
        e-mail only matches exactly). Data Center: `username` (required) matched the same way and
        against the user name."""
        params = dict(query)
        if self.mode == "cloud":
            if "username" in params:
                raise JiraError(400, ["The 'username' parameter is no longer available on Cloud."])
            text = params.get("query") or params.get("accountId")
            if not text:
                raise JiraError(400, ["One of 'query' or 'accountId' must be provided."])
        else:
            text = params.get("username")
            if not text:
                raise JiraError(400, ["The username query parameter was not provided"])
        wanted = text.lower()
        found = []
        for account in self.accounts.values():
            words = [w.lower() for w in account.display_name.split()]
            email_matches = (
                account.email.lower().startswith(wanted)
                if account.email_visible or self.mode == "datacenter"
                else account.email.lower() == wanted
            )
            if account.active and (
                email_matches
                or any(w.startswith(wanted) for w in words)
                or account.account_id == text
                or (self.mode == "datacenter" and account.name.lower().startswith(wanted))
            ):
                found.append(account)
        start, size = int(params.get("startAt", 0)), int(params.get("maxResults", 50))
        return [
            user
            for account in found[start : start + size]
            if (user := self._user(account, version)) is not None
        ]

    @staticmethod
    def _field(f: FieldDef) -> JSON:
        return {
            "id": f.id,
            "key": f.id,
            "name": f.name,
            "custom": f.custom,
            "orderable": f.kind != "read-only",
            "navigable": f.navigable,
            "searchable": True,
            "clauseNames": [f"cf[{f.id.rsplit('_', 1)[1]}]", f.name] if f.custom else [f.id],
            "schema": f.schema,
        }

    def _priority(self, priority: Any, version: str) -> JSON:
        return {
            "self": f"{self.base_url}/rest/api/{version}/priority/{priority.id}",
            "id": priority.id,
            "name": priority.name,
            "description": "",
            "statusColor": "#cccccc",
            "iconUrl": f"{self.base_url}/images/icons/priorities/{priority.name.lower()}.svg",
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

    def _link_type(self, t: IssueLinkType, version: str) -> JSON:
        return {
            "id": t.id,
            "name": t.name,
            "inward": t.inward,
            "outward": t.outward,
            "self": f"{self.base_url}/rest/api/{version}/issueLinkType/{t.id}",
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

    def _project_statuses(self, project: Project, version: str) -> list[JSON]:
        statuses = [self._status(s, version) for s in project.workflow.statuses]
        return [
            {
                "self": f"{self.base_url}/rest/api/{version}/issueType/{type_id}",
                "id": type_id,
                "name": self.issue_types[type_id].name,
                "subtask": self.issue_types[type_id].subtask,
                "statuses": statuses,
            }
            for type_id in project.issue_type_ids
        ]

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

    def _transition(self, t: Transition, version: str) -> JSON:
        return {
            "id": t.id,
            "name": t.name,
            "to": self._status(self.statuses[t.to_status], version),
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
        out: JSON = {
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
        if history.metadata is not None:
            out["historyMetadata"] = history.metadata
        return out

    def _comment(self, comment: Comment, version: str) -> JSON:
        author = self._user(self.accounts[comment.author], version)
        return {
            "self": f"{self.base_url}/rest/api/{version}/comment/{comment.id}",
            "id": comment.id,
            "author": author,
            "updateAuthor": author,
            "body": render_rich_text(comment.body, version),
            "created": jira_time(comment.created),
            "updated": jira_time(comment.created),
            "jsdPublic": True,
        }

    def _comment_page(self, issue: Issue, version: str, start: int = 0, size: int = 100) -> JSON:
        return {
            "startAt": start,
            "maxResults": size,
            "total": len(issue.comments),
            "comments": [self._comment(c, version) for c in issue.comments[start : start + size]],
        }

    def _attachment(self, attachment: Attachment, version: str) -> JSON:
        return {
            "self": f"{self.base_url}/rest/api/{version}/attachment/{attachment.id}",
            "id": attachment.id,
            "filename": attachment.filename,
            "author": self._user(self.accounts[attachment.author], version),
            "created": jira_time(attachment.created),
            "size": attachment.size,
            "mimeType": attachment.mime_type,
            "content": f"{self.base_url}/rest/api/{version}/attachment/content/{attachment.id}",
        }

    def _linked_issue(self, issue: Issue, version: str) -> JSON:
        return {
            "id": issue.id,
            "key": issue.key,
            "self": f"{self.base_url}/rest/api/{version}/issue/{issue.id}",
            "fields": {
                "summary": issue.values.get("summary"),
                "status": self._status(self.statuses[issue.status_id], version),
                "priority": self._render_value(issue, "priority", version),
                "issuetype": self._render_value(issue, "issuetype", version),
            },
        }

    def _issue_links(self, issue: Issue, version: str) -> list[JSON]:
        """Jira shows a link on both issues: on the inward issue with the other as `outwardIssue`,
        on the outward issue with the other as `inwardIssue`."""
        out = []
        for link in self.issue_links.values():
            if issue.id not in (link.inward_issue_id, link.outward_issue_id):
                continue
            entry: JSON = {
                "id": link.id,
                "self": f"{self.base_url}/rest/api/{version}/issueLink/{link.id}",
                "type": self._link_type(self.link_types[link.type_id], version),
            }
            if link.inward_issue_id == issue.id:
                entry["outwardIssue"] = self._linked_issue(
                    self.issues[link.outward_issue_id], version
                )
            else:
                entry["inwardIssue"] = self._linked_issue(
                    self.issues[link.inward_issue_id], version
                )
            out.append(entry)
        return out

    def _render_value(self, issue: Issue, field_id: str, version: str) -> Any:
        value = issue.values.get(field_id)
        definition = self.fields[field_id]
        if definition.kind in {"rich-text", "textarea"}:
            return render_rich_text(value, version)
        if field_id == "issuetype":
            return self._issue_type(self.issue_types[str(value)], version)
        if field_id == "project":
            return self._project(self.projects[issue.project_id], version)
        if field_id == "priority":
            priority = self.priorities.get(str(value)) if value else None
            return self._priority(priority, version) if priority else None
        if field_id == "status":
            return self._status(self.statuses[str(value)], version)
        if definition.kind == "user":
            return self._user(self.accounts.get(str(value)) if value else None, version)
        if definition.kind == "option":
            return option_json(self.base_url, version, value) if value else None
        if definition.kind == "multi-option":
            return [option_json(self.base_url, version, v) for v in value or []] or None
        if field_id == "created":
            return jira_time(issue.created)
        if field_id == "updated":
            return jira_time(issue.updated)
        if field_id == "resolution":
            done = self.statuses[issue.status_id].category_key == "done"
            return {"id": "10000", "name": "Done", "description": ""} if done else None
        if field_id == "issuelinks":
            return self._issue_links(issue, version)
        if field_id == "attachment":
            return [self._attachment(a, version) for a in issue.attachments]
        if field_id == "comment":
            return self._comment_page(issue, version)
        if field_id == "components":
            names = self.projects[issue.project_id].components
            return [
                {
                    "self": f"{self.base_url}/rest/api/{version}/component/{c}",
                    "id": c,
                    "name": names.get(c, c),
                }
                for c in value or []
            ]
        return value

    def _issue_json(
        self, issue: Issue, version: str, wanted: list[str], with_changelog: bool
    ) -> JSON:
        names = set(self.fields)
        navigable = {f.id for f in self.fields.values() if f.navigable}
        selected: set[str] = set()
        for item in wanted:
            if item == "*all":
                selected |= names
            elif item == "*navigable":
                selected |= navigable
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
            # Most recent first (the `expand=changelog` description); Cloud keeps only the latest
            # `changelog_limit` and says so with `total` > `maxResults`.
            histories = list(reversed(issue.histories))
            if self.mode == "cloud":
                histories = histories[: self.changelog_limit]
            out["changelog"] = {
                "startAt": 0,
                "maxResults": len(histories),
                "total": len(issue.histories),
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

    def _workflow(self, issue: Issue) -> Workflow:
        return self.projects[issue.project_id].workflow

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
        """Cloud names people by `accountId` only; Data Center by `name` (or `key`)."""
        if ref is None:
            return None
        if isinstance(ref, dict):
            for account in self.accounts.values():
                if self.mode == "cloud" and ref.get("accountId") == account.account_id:
                    return account.account_id
                if self.mode == "datacenter" and account.name in (ref.get("name"), ref.get("key")):
                    return account.account_id
        raise JiraError(400, errors={what: f"User '{json.dumps(ref)}' does not exist."})

    def _rich_fields(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.fields.values() if f.kind in {"rich-text", "textarea"})

    def _parse_fields(self, fields: JSON, version: str, *, project: Project | None) -> JSON:
        """REST `fields` → stored values, with Jira's field errors (400) for what it refuses.
        `project`: the issue's project when editing; None when creating (then `fields` names it)."""
        for problem in text_field_violations(version, fields, self._rich_fields()):
            self._report("fields", "text-format", problem)
            raise JiraError(400, errors={problem.split(":", 1)[0][7:]: problem})
        parsed: JSON = {}
        creating = project is None
        if creating and isinstance(fields.get("project"), dict):
            ref = fields["project"]
            project = self._find_project(str(ref.get("key") or ref.get("id")))
        for name, value in fields.items():
            if name == "project" and creating:
                if project is None:
                    raise JiraError(400, errors={name: "project is required"})
                parsed[name] = project.id
                continue
            if name == "components" and project is not None:
                parsed[name] = _components(project, value)
                continue
            definition = self.fields.get(name)
            if definition is None or definition.kind == "read-only":
                raise JiraError(
                    400,
                    errors={
                        name: f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
                    },
                )
            parsed[name] = parse_value(
                definition,
                value,
                version,
                self._user_ref,
                functools.partial(self._by_ref, self.priorities),
                functools.partial(self._by_ref, self.issue_types),
            )
        return parsed

    def _create(self, body: JSON, version: str, account: Account) -> JSON:
        fields = body.get("fields") or {}
        missing = {
            name: f"{self.fields[name].name} is required."
            for name in ("project", "issuetype", "summary")
            if name not in fields
        }
        if missing:
            raise JiraError(400, errors=missing)
        values = self._parse_fields(fields, version, project=None)
        project = self.projects[values.pop("project")]
        if values["issuetype"] not in project.issue_type_ids:
            raise JiraError(400, errors={"issuetype": "Specify a valid issue type"})
        now = self._now()
        issue_id = str(next(self._ids))
        key = f"{project.key}-{project.next_number}"
        project.next_number += 1
        values.setdefault("reporter", account.account_id)
        values.setdefault("labels", [])
        values.setdefault("priority", "3")
        values["status"] = project.workflow.initial.id
        self.issues[issue_id] = Issue(issue_id, key, project.id, values, now, now)
        return {
            "id": issue_id,
            "key": key,
            "self": f"{self.base_url}/rest/api/{version}/issue/{issue_id}",
        }

    def _edit(self, issue: Issue, body: JSON, version: str, account: Account) -> None:
        project = self.projects[issue.project_id]
        values = self._parse_fields(body.get("fields") or {}, version, project=project)
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
                        current = self._parse_fields({name: arg}, version, project=project)[name]
                    else:
                        raise JiraError(
                            400, errors={name: f"Operation '{verb}' is not supported on '{name}'."}
                        )
            values[name] = current
        self._apply(issue, values, account, body.get("historyMetadata"))

    def _delete(self, issue: Issue) -> None:
        del self.issues[issue.id]
        self.issue_links = {
            link_id: link
            for link_id, link in self.issue_links.items()
            if issue.id not in (link.inward_issue_id, link.outward_issue_id)
        }

    def _names(self, kind: str, item_id: str) -> str:
        if kind == "component":
            names = {c: n for p in self.projects.values() for c, n in p.components.items()}
            return names.get(item_id, item_id)
        tables: dict[str, dict[str, Any]] = {
            "status": self.statuses,
            "priority": self.priorities,
            "issuetype": self.issue_types,
        }
        return str(tables[kind][item_id].name)

    def _apply(
        self, issue: Issue, values: JSON, author: Account, metadata: JSON | None = None
    ) -> None:
        items: list[ChangeItem] = []
        for field_id, new in values.items():
            old = issue.values.get(field_id)
            if old == new or (old in (None, []) and new in (None, [])):
                continue
            definition = self.fields[field_id]
            show = functools.partial(
                display,
                definition,
                names=self._names,
                user=self.accounts.__getitem__,
                datacenter=self.mode == "datacenter",
            )
            old_id, old_text = show(old)
            new_id, new_text = show(new)
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
        self._record(issue, author, items, metadata)

    def _record(
        self, issue: Issue, author: Account, items: list[ChangeItem], metadata: JSON | None = None
    ) -> None:
        if items:
            now = self._now()
            issue.updated = now
            issue.histories.append(
                History(str(next(self._history_ids)), author.account_id, now, items, metadata)
            )

    def _available(self, issue: Issue) -> list[Transition]:
        return [
            t
            for t in self._workflow(issue).transitions
            if (not t.from_statuses or issue.status_id in t.from_statuses)
            and t.to_status != issue.status_id
        ]

    def _do_transition(
        self,
        issue: Issue,
        transition_id: str,
        account: Account,
        fields: JSON | None = None,
        metadata: JSON | None = None,
    ) -> None:
        transition = next((t for t in self._available(issue) if t.id == transition_id), None)
        if transition is None:
            raise JiraError(400, [f"Transition id '{transition_id}' is not valid for this issue."])
        self._apply(issue, {**(fields or {}), "status": transition.to_status}, account, metadata)

    def _add_comment(self, issue: Issue, body: Any, account: Account) -> Comment:
        comment = Comment(str(next(self._comment_ids)), account.account_id, body, self._now())
        issue.comments.append(comment)
        issue.updated = comment.created  # a comment bumps `updated` without a changelog entry
        return comment

    def _issue_by_ref(self, ref: Any) -> Issue:
        if not isinstance(ref, dict) or not (ref.get("key") or ref.get("id")):
            raise JiraError(400, ["An issue must be given by key or id."])
        try:
            return self.issue(str(ref.get("key") or ref.get("id")))
        except KeyError:
            raise JiraError(404, [f"Issue Does Not Exist: {json.dumps(ref)}"]) from None

    def _link(self, body: JSON, account: Account) -> None:
        ref = body.get("type") or {}
        link_type = next(
            (
                t
                for t in self.link_types.values()
                if ref.get("id") == t.id or (ref.get("name") or "").lower() == t.name.lower()
            ),
            None,
        )
        if link_type is None:
            raise JiraError(404, [f"No issue link type with name '{ref.get('name')}' found."])
        inward = self._issue_by_ref(body.get("inwardIssue"))
        outward = self._issue_by_ref(body.get("outwardIssue"))
        link = IssueLink(str(next(self._issue_link_ids)), link_type.id, inward.id, outward.id)
        self.issue_links[link.id] = link
        # Jira records the link in both issues' histories ("This issue relates to INC-2").
        for issue, phrase, other in (
            (inward, link_type.outward, outward),
            (outward, link_type.inward, inward),
        ):
            text = f"This issue {phrase} {other.key}"
            item = ChangeItem("Link", "jira", "issuelinks", None, None, other.key, text)
            self._record(issue, account, [item])

    def _attach(self, issue: Issue, call: _Call) -> list[JSON]:
        # Jira's XSRF protection blocks attachment uploads without this header (addAttachment).
        if call.headers.get("x-atlassian-token", "").lower() != "no-check":
            raise JiraError(403, ["XSRF check failed"])
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + call.content_type.encode() + b"\r\n\r\n" + call.raw
        )
        added = []
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") != "file":
                continue
            content = part.get_payload(decode=True)
            assert isinstance(content, bytes)
            attachment = Attachment(
                str(next(self._attachment_ids)),
                part.get_filename() or "file",
                len(content),
                part.get_content_type(),
                call.account.account_id,
                self._now(),
                content,
            )
            issue.attachments.append(attachment)
            added.append(attachment)
            item = ChangeItem(
                "Attachment", "jira", "attachment", None, None, attachment.id, attachment.filename
            )
            self._record(issue, call.account, [item])
        if not added:
            raise JiraError(400, ["No file part named 'file' in the multipart body."])
        return [self._attachment(a, call.version) for a in added]

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
                    "labels": tuple(issue.values.get("labels") or ()),
                }
            )
        ]
        found.sort(key=lambda issue: int(issue.id))
        for name, descending in reversed(query.order_by):
            found.sort(key=functools.partial(_sort_key, name=name), reverse=descending)
        return found

    def _search_jql(self, params: JSON, version: str) -> JSON:
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
            "issues": [self._issue_json(i, version, wanted, expand) for i in page],
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


def _refusal_answer(refusal: Refusal) -> Answer:
    """An injected error as Jira words it (`ErrorCollection`); a 429 says why, as Jira Cloud does."""
    headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after is not None else {}
    if refusal.outage:
        return refusal.status, {"errorMessages": ["Service unavailable"], "errors": {}}, headers
    if refusal.status == 429:
        headers["RateLimit-Reason"] = "jira-burst-based"
    message = "Rate limit exceeded." if refusal.status == 429 else "Injected failure"
    return refusal.status, {"errorMessages": [message], "errors": {}}, headers


def _components(project: Project, value: Any) -> list[str]:
    """Component ids from `[{"name": ...} | {"id": ...}]`; Jira refuses names the project lacks."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise JiraError(400, errors={"components": "Components must be a list."})
    chosen = []
    for item in value:
        ref = item if isinstance(item, dict) else {}
        found = next(
            (
                cid
                for cid, name in project.components.items()
                if ref.get("id") == cid or ref.get("name") == name
            ),
            None,
        )
        if found is None:
            shown = ref.get("name", ref.get("id"))
            raise JiraError(400, errors={"components": f"Component name '{shown}' is not valid"})
        chosen.append(found)
    return chosen


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
