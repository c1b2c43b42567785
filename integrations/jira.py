"""`JiraTracker`: the `bot.ports.Tracker` port on Jira Cloud (REST v3) and Jira Data Center (REST v2).

Library choice (INTEGRATION_NOTES §3, checked against the spec-validating sandbox in both modes):
`atlassian-python-api`'s `JiraCloud`, whose methods are generated from Atlassian's spec. On Cloud it
runs with `api_version=3` (ADF bodies, `/search/jql`); on Data Center with `api_version=2`, where the
same generated methods produce the `/rest/api/2/...` paths Data Center serves (its `cloud` flag is
stored but read by none of them), and search is `/rest/api/2/search` with `startAt`. Observed:

- `jira` 3.10.5 sends integer transition ids (a spec violation), calls an undocumented applinks URL
  and does I/O at construction (§3.1); not used.
- `atlassian-python-api`'s server-style `Jira` class turns transition ids into integers
  (`get_issue_transitions`) and `set_issue_status` then posts `{"transition": {"id": 11}}`, which
  the spec refuses; its transition helpers cannot carry `historyMetadata`. Not used either.
- `JiraCloud(timeout=...)` casts the timeout with `int()`, so a `(connect, read)` tuple raises; the
  attribute is set after construction (requests takes the tuple).
- By default a 429 with `Retry-After` is retried once after `time.sleep(Retry-After)` (up to
  1800 s): `retry_with_header=False` and `backoff_and_retry=False` turn every library retry off.
- The generated `add_attachment` posts with the JSON content type and no XSRF header (refused);
  it is called with its own headers.

The library is synchronous: every call runs in this adapter's own small `ThreadPoolExecutor`, with a
client (and so a `requests.Session`, not documented thread-safe) per worker thread, explicit connect
and read timeouts, and no retries — backoff belongs to the outbox, which reads `TrackerError`.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from operator import methodcaller
from typing import Any, Protocol, TypeVar, cast

import requests
from atlassian.jira import JiraCloud

from bot.ports import (
    ChangeEntry,
    ChangeItem,
    Document,
    FieldInfo,
    FieldValue,
    IssueRef,
    IssueSnapshot,
    Link,
    ProjectInfo,
    TrackerError,
)

T = TypeVar("T")
JSON = dict[str, Any]

SYNC_TYPE = "firefighter:sync"
#: Carried by every write the bot makes, so the pull can tell its own changes apart (§4.6).
HISTORY_METADATA: JSON = {
    "type": SYNC_TYPE,
    "description": "FireFighter incident sync",
    "generator": {"id": "firefighter", "type": "firefighter:bot"},
}
#: The fields a snapshot is made of (plus the configured priority field).
SNAPSHOT_FIELDS = (
    "summary",
    "status",
    "assignee",
    "labels",
    "updated",
    "issuetype",
    "project",
    "duedate",
)
_CATEGORY_RANK = {"new": 0, "indeterminate": 1, "done": 2}
_MAX_STEPS = 8
_RICH_SYSTEM_FIELDS = {"description", "environment"}
_WIKI_SPECIAL = re.compile(r"([\\\[\]{}|*_^~+?!#-])")
_DETAIL_LIMIT = 500


class _JiraApi(Protocol):
    """The generated `JiraCloud` methods this adapter calls (the library leaves them untyped).
    Each answers Jira's decoded JSON, or raises `requests.HTTPError` / `RequestException`."""

    def get_current_user(self) -> Any: ...
    def get_fields(self) -> Any: ...
    def get_priorities(self) -> Any: ...
    def get_project(self, project_id_or_key: str) -> Any: ...
    def get_all_statuses(self, project_id_or_key: str) -> Any: ...
    def create_issue(self, *, data: JSON) -> Any: ...
    def get_issue(
        self, issue_id_or_key: str, *, fields: list[str], expand: str | None = None
    ) -> Any: ...
    def edit_issue(self, issue_id_or_key: str, *, data: JSON) -> Any: ...
    def get_transitions(self, issue_id_or_key: str) -> Any: ...
    def do_transition(self, issue_id_or_key: str, *, data: JSON) -> Any: ...
    def get_change_logs(self, issue_id_or_key: str, *, start_at: int, max_results: int) -> Any: ...
    def search_and_reconsile_issues_using_jql_post(self, *, data: JSON) -> Any: ...
    def search_for_issues_using_jql(
        self,
        *,
        jql: str,
        start_at: int,
        max_results: int,
        fields: list[str],
        expand: str | None,
    ) -> Any: ...
    def add_comment(self, issue_id_or_key: str, *, data: JSON) -> Any: ...
    def link_issues(self, *, data: JSON) -> Any: ...
    def create_or_update_remote_issue_link(self, issue_id_or_key: str, *, data: JSON) -> Any: ...
    def add_attachment(
        self,
        issue_id_or_key: str,
        *,
        files: dict[str, tuple[str, bytes]],
        headers: dict[str, str],
    ) -> Any: ...
    def find_users(self, *, query: str | None = None, username: str | None = None) -> Any: ...


class JiraTracker:
    """The bot's Jira, by capability. Every method raises `TrackerError` (see its docstring in
    `bot.ports`); none retries. Construction does no I/O."""

    def __init__(
        self,
        url: str,
        *,
        user: str | None,
        token: str,
        cloud: bool,
        sync_label: str = "firefighter",
        priority_field: str = "priority",
        timeout: tuple[float, float] = (5.0, 30.0),
        workers: int = 4,
    ) -> None:
        if cloud and not user:
            raise ValueError("Jira Cloud authenticates with an e-mail and an API token: give user")
        self.site_url = url.rstrip("/")
        self.sync_label = sync_label
        self.priority_field = priority_field
        self._cloud = cloud
        self._user = user
        self._token = token
        self._timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jira")
        self._local = threading.local()
        self._clients: list[JiraCloud] = []
        self._clients_lock = threading.Lock()
        self._fields: dict[str, FieldInfo] | None = None
        self._schemas: dict[str, Mapping[str, Any]] = {}
        self._fields_lock = asyncio.Lock()
        self._statuses: dict[str, dict[str, _StatusInfo]] = {}  # project -> folded name -> info
        self._account_id: str | None = None
        self._closed = False

    def __repr__(self) -> str:  # never shows the token
        return f"JiraTracker({self.site_url!r}, cloud={self._cloud})"

    # -- plumbing -----------------------------------------------------------------------------------
    def _client(self) -> _JiraApi:
        """This worker thread's client: built on first use in the thread, kept for its life."""
        client: JiraCloud | None = getattr(self._local, "client", None)
        if client is None:
            options: dict[str, Any] = {
                "api_version": 3 if self._cloud else 2,
                # Off: the retry-once-after-sleeping-Retry-After default, and urllib3 backoff.
                "retry_with_header": False,
                "backoff_and_retry": False,
            }
            if self._cloud:
                client = JiraCloud(
                    self.site_url, username=self._user, password=self._token, **options
                )
            else:  # a Data Center personal access token, sent as Bearer
                client = JiraCloud(self.site_url, token=self._token, **options)
            # The constructor int()s `timeout`; requests takes (connect, read) at request time.
            client.timeout = self._timeout  # type: ignore[assignment]
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return cast("_JiraApi", client)

    async def _call(self, what: str, work: Callable[[_JiraApi], T]) -> T:
        if self._closed:
            raise TrackerError("closed", method=what, transient=False, detail="tracker closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, what, work)

    def _run(self, what: str, work: Callable[[_JiraApi], T]) -> T:
        """In a worker thread: the call, with every failure turned into a `TrackerError`."""
        try:
            return work(self._client())
        except requests.HTTPError as error:
            if error.response is None:
                raise TrackerError(
                    "network", method=what, transient=True, detail=str(error)
                ) from None
            raise _error_from(what, error.response) from None
        except requests.Timeout:
            raise TrackerError(
                "network", method=what, transient=True, detail=f"no answer within {self._timeout} s"
            ) from None
        except requests.RequestException as error:  # connection refused/reset, DNS, TLS
            raise TrackerError(
                "network", method=what, transient=True, detail=type(error).__name__
            ) from None

    async def _field_infos(self) -> dict[str, FieldInfo]:
        async with self._fields_lock:
            if self._fields is None:
                raw = _json_list(await self._call("fields", lambda c: c.get_fields()), "fields")
                infos: dict[str, FieldInfo] = {}
                for item in raw:
                    schema = item.get("schema") or {}
                    infos[str(item["id"])] = FieldInfo(
                        id=str(item["id"]),
                        name=str(item.get("name", item["id"])),
                        type=str(schema.get("type", "")),
                        custom=schema.get("custom"),
                    )
                    self._schemas[str(item["id"])] = schema
                self._fields = infos
            return self._fields

    # -- Tracker ------------------------------------------------------------------------------------
    async def account_id(self) -> str:
        if self._account_id is None:
            me = _json(await self._call("myself", lambda c: c.get_current_user()), "myself")
            self._account_id = str(me["accountId"] if self._cloud else me["name"])
        return self._account_id

    async def fields(self) -> dict[str, FieldInfo]:
        """Every field of the site by id, fetched once. `FieldInfo.options` stays empty: Jira's
        `/field` does not list options (their own endpoints need the *Administer Jira* right)."""
        return dict(await self._field_infos())

    async def priorities(self) -> tuple[str, ...]:
        """The names of Jira's priorities (`GET /priority`, which the v3 spec marks deprecated in
        favour of priority schemes but still answers; the schemes need admin rights). With a custom
        priority field, its known options (none: Jira does not list them to a plain account)."""
        if self.priority_field != "priority":
            info = (await self._field_infos()).get(self.priority_field)
            return info.options if info else ()
        raw = _json_list(await self._call("priorities", lambda c: c.get_priorities()), "priority")
        return tuple(str(p["name"]) for p in raw)

    async def project(self, key: str) -> ProjectInfo | None:
        try:
            raw, by_type = await self._call(
                "project", lambda c: (c.get_project(key), c.get_all_statuses(key))
            )
        except TrackerError as error:
            if error.code == "not_found":
                return None
            raise
        project = _json(raw, "project")
        statuses = _project_statuses(_json_list(by_type, "project statuses"))
        self._statuses[str(project["key"])] = statuses
        return ProjectInfo(
            key=str(project["key"]),
            name=str(project.get("name", project["key"])),
            issue_types=tuple(str(t["name"]) for t in project.get("issueTypes") or ()),
            statuses=tuple(info.name for info in statuses.values()),
        )

    async def create_issue(
        self,
        project: str,
        issue_type: str,
        fields: Mapping[str, FieldValue],
        *,
        marker: str,
    ) -> IssueRef:
        """Create the issue with `sync_label` and `marker` added to its labels (no other label is
        dropped), so the pull finds it and `find_by_label(marker)` recovers it after a lost answer."""
        if not marker or any(ch.isspace() for ch in marker):
            raise TrackerError(
                "invalid",
                method="create_issue",
                transient=False,
                field_errors={"labels": f"marker {marker!r} is not a Jira label"},
            )
        shaped = await self._shape_fields(fields)
        labels = _with_labels(shaped.get("labels"), self.sync_label, marker)
        body = {
            "fields": {
                **shaped,
                "project": {"key": project},
                "issuetype": {"name": issue_type},
                "labels": labels,
            }
        }
        created = _json(
            await self._call("create_issue", lambda c: c.create_issue(data=body)), "create"
        )
        return self._ref(created)

    async def find_by_label(self, label: str) -> IssueRef | None:
        jql = f"labels = {_jql_string(label)} ORDER BY created ASC"
        issues, _ = await self._search_page(jql, ["summary"], size=1, cursor=None, changelog=False)
        return self._ref(issues[0]) if issues else None

    async def issue(self, key: str, *, changes: bool = False) -> IssueSnapshot | None:
        wanted = self._snapshot_fields()
        try:
            raw = await self._call(
                "issue",
                lambda c: c.get_issue(key, fields=wanted, expand="changelog" if changes else None),
            )
        except TrackerError as error:
            if error.code == "not_found":
                return None
            raise
        issue = _json(raw, "issue")
        history = await self._histories(issue) if changes else ()
        return self._snapshot(issue, history)

    async def update_issue(self, key: str, fields: Mapping[str, FieldValue]) -> None:
        """Set exactly these fields (nothing else is sent), tagged with `HISTORY_METADATA`. When
        `labels` is among them, `sync_label` stays on the issue."""
        if not fields:
            return
        shaped = await self._shape_fields(fields)
        if "labels" in shaped:
            shaped["labels"] = _with_labels(shaped["labels"], self.sync_label)
        body = {"fields": shaped, "historyMetadata": HISTORY_METADATA}
        await self._call("update_issue", lambda c: c.edit_issue(key, data=body))

    async def transition_to(self, key: str, status: str) -> tuple[str, ...]:
        """Walk the workflow until the issue is in `status` (case-insensitive).

        Jira shows a non-admin account only the transitions out of the current status, so the
        path is found greedily: a transition straight to the target when there is one, otherwise
        the unvisited status whose category (new → indeterminate → done) is nearest the target's;
        among those of one category, the one nearest the target in the project's status list
        (`/project/{key}/statuses`, in workflow order), then Jira's order. Never a status twice,
        at most 8 steps; a dead end raises `no_transition` naming where it stopped and what was
        offered. Each step is tagged with `HISTORY_METADATA`. Returns the statuses passed through
        (the last is `status`)."""
        issue = _json(
            await self._call("issue", lambda c: c.get_issue(key, fields=["status", "project"])),
            "issue",
        )
        current = issue["fields"]["status"]
        if str(current["name"]).casefold() == status.casefold():
            return ()
        statuses = await self._project_status_map(
            str(issue["fields"]["project"]["key"]), status, key
        )
        target = statuses[status.casefold()]

        def distance(transition: Mapping[str, Any]) -> tuple[int, int]:
            to = transition["to"]
            known = statuses.get(str(to["name"]).casefold())
            category = _CATEGORY_RANK.get(_category(to), 1)
            return (
                abs(category - _CATEGORY_RANK.get(target.category, 1)),
                abs(known.position - target.position) if known else len(statuses),
            )

        visited = {str(current["id"])}
        passed: list[str] = []
        for _ in range(_MAX_STEPS):
            raw = await self._call("transitions", lambda c: c.get_transitions(key))
            offered = [t for t in _json(raw, "transitions").get("transitions") or () if t.get("to")]
            step = next(
                (t for t in offered if str(t["to"]["name"]).casefold() == status.casefold()), None
            )
            if step is None:
                fresh = [t for t in offered if str(t["to"]["id"]) not in visited]
                if not fresh:
                    raise _no_transition(key, status, current, offered)
                step = min(fresh, key=distance)
            body = {"transition": {"id": str(step["id"])}, "historyMetadata": HISTORY_METADATA}
            # methodcaller binds `body` now (a lambda here would close over the loop variable).
            await self._call("transition", methodcaller("do_transition", key, data=body))
            current = step["to"]
            visited.add(str(current["id"]))
            passed.append(str(current["name"]))
            if str(current["name"]).casefold() == status.casefold():
                return tuple(passed)
        raise TrackerError(
            "no_transition",
            method="transition_to",
            transient=False,
            detail=f"{key}: gave up after {_MAX_STEPS} steps ({' → '.join(passed)}) "
            f"without reaching {status!r}",
        )

    async def search_updated(
        self, since: datetime, *, labels: Sequence[str], page_size: int = 100
    ) -> list[IssueSnapshot]:
        """Issues carrying any of `labels`, updated at or after `since` floored to the minute in
        UTC (JQL compares minutes, in the searching account's time zone, pinned to UTC: §4.2),
        oldest update first, with their changelogs.

        One request per page (Cloud: `/rest/api/3/search/jql` by `nextPageToken`; Data Center:
        `/rest/api/2/search` by `startAt`) and none per issue — except that Cloud keeps only the
        latest histories of an issue in search results (`changelog.total` > `maxResults`); for
        such an issue only, the whole changelog is read from `/issue/{key}/changelog`. An issue
        seen on two pages (updated while paging) is kept once, in its later place."""
        if not labels:
            return []
        floor = since.astimezone(UTC).replace(second=0, microsecond=0)
        jql = (
            f"labels in ({', '.join(_jql_string(label) for label in labels)}) "
            f'AND updated >= "{floor:%Y/%m/%d %H:%M}" ORDER BY updated ASC'
        )
        found: dict[str, JSON] = {}
        cursor: str | int | None = None
        for _ in range(10_000):
            issues, cursor = await self._search_page(
                jql, self._snapshot_fields(), size=page_size, cursor=cursor, changelog=True
            )
            for issue in issues:
                found.pop(str(issue["id"]), None)
                found[str(issue["id"])] = issue
            if cursor is None:
                break
        return [self._snapshot(issue, await self._histories(issue)) for issue in found.values()]

    async def add_comment(self, key: str, body: Document) -> None:
        data = {"body": self._rich(body)}
        await self._call("add_comment", lambda c: c.add_comment(key, data=data))

    async def link_issues(self, inward: str, outward: str, *, link_type: str = "Relates") -> None:
        data = {
            "type": {"name": link_type},
            "inwardIssue": {"key": inward},
            "outwardIssue": {"key": outward},
        }
        await self._call("link_issues", lambda c: c.link_issues(data=data))

    async def add_remote_link(self, key: str, url: str, title: str) -> None:
        """A web link; the url (hashed when longer than Jira's 255 characters) is its `globalId`,
        so adding the same url again updates the link instead of adding a second one."""
        global_id = url if len(url) <= 255 else "sha256:" + hashlib.sha256(url.encode()).hexdigest()
        data = {"globalId": global_id, "object": {"url": url, "title": title}}
        await self._call(
            "add_remote_link", lambda c: c.create_or_update_remote_issue_link(key, data=data)
        )

    async def attach(self, key: str, filename: str, content: bytes) -> None:
        # Multipart with the part named `file`, and the XSRF opt-out Jira requires (addAttachment).
        headers = {"X-Atlassian-Token": "no-check", "Accept": "application/json"}
        await self._call(
            "attach",
            lambda c: c.add_attachment(key, files={"file": (filename, content)}, headers=headers),
        )

    async def account_for_email(self, email: str) -> str | None:
        """Cloud: `user/search?query=` (an exact `emailAddress` match; when Cloud hides e-mails,
        the one user it found by that address). Data Center: `user/search?username=`, the
        user name of the exact match."""
        if self._cloud:
            found = await self._call("account_for_email", lambda c: c.find_users(query=email))
        else:
            found = await self._call("account_for_email", lambda c: c.find_users(username=email))
        users = _json_list(found, "user search")
        exact = [u for u in users if str(u.get("emailAddress", "")).casefold() == email.casefold()]
        if not exact and len(users) == 1 and "emailAddress" not in users[0]:
            exact = users
        if len(exact) != 1:
            return None
        return str(exact[0]["accountId"] if self._cloud else exact[0]["name"])

    async def close(self) -> None:
        """Waits for calls in flight, then closes every thread's session."""
        self._closed = True
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        with self._clients_lock:
            for client in self._clients:
                client.close()
            self._clients.clear()

    # -- reading ------------------------------------------------------------------------------------
    def _snapshot_fields(self) -> list[str]:
        return [*SNAPSHOT_FIELDS, self.priority_field]

    def _ref(self, issue: Mapping[str, Any]) -> IssueRef:
        key = str(issue["key"])
        return IssueRef(key=key, id=str(issue["id"]), url=f"{self.site_url}/browse/{key}")

    def _person(self, user: Mapping[str, Any] | None) -> str | None:
        if not user:
            return None
        value = user.get("accountId") if self._cloud else user.get("name")
        return str(value) if value is not None else None

    def _snapshot(
        self, issue: Mapping[str, Any], changes: tuple[ChangeEntry, ...]
    ) -> IssueSnapshot:
        fields = issue.get("fields") or {}
        status = fields.get("status") or {}
        assignee = fields.get("assignee") or None
        due = fields.get("duedate")
        return IssueSnapshot(
            ref=self._ref(issue),
            project=str((fields.get("project") or {}).get("key", "")),
            issue_type=str((fields.get("issuetype") or {}).get("name", "")),
            summary=str(fields.get("summary") or ""),
            status=str(status.get("name", "")),
            status_category=_category(status),
            priority=_priority_name(fields.get(self.priority_field)),
            assignee=self._person(assignee),
            assignee_email=assignee.get("emailAddress") if assignee else None,
            labels=tuple(str(label) for label in fields.get("labels") or ()),
            updated=_time(str(fields["updated"])),
            due=date.fromisoformat(str(due)) if due else None,
            changes=changes,
        )

    async def _histories(self, issue: Mapping[str, Any]) -> tuple[ChangeEntry, ...]:
        """The issue's whole changelog, oldest first. Jira answers `expand=changelog` newest first
        and, on Cloud, only the latest histories: then the rest is read from the changelog API."""
        changelog = issue.get("changelog") or {}
        histories = list(changelog.get("histories") or ())
        if int(changelog.get("total", len(histories))) > len(histories):
            histories = await self._whole_changelog(str(issue["key"]))
        entries = [self._change(h) for h in histories]
        return tuple(sorted(entries, key=lambda e: (e.created, e.id)))

    async def _whole_changelog(self, key: str) -> list[JSON]:
        if not self._cloud:  # Data Center expands the whole changelog; ask for it alone
            raw = await self._call(
                "changelog", lambda c: c.get_issue(key, fields=["updated"], expand="changelog")
            )
            return list((_json(raw, "issue").get("changelog") or {}).get("histories") or ())
        out: list[JSON] = []
        while True:
            start = len(out)
            page = _json(
                await self._call(
                    "changelog",
                    methodcaller("get_change_logs", key, start_at=start, max_results=100),
                ),
                "changelog",
            )
            values = list(page.get("values") or ())
            out.extend(values)
            if not values or page.get("isLast", True) or len(out) >= int(page.get("total", 0)):
                return out

    def _change(self, history: Mapping[str, Any]) -> ChangeEntry:
        author = history.get("author") or {}
        metadata = history.get("historyMetadata") or {}
        return ChangeEntry(
            id=int(history["id"]),
            author=self._person(author),
            author_name=author.get("displayName"),
            created=_time(str(history["created"])),
            generator=metadata.get("type"),
            items=tuple(
                ChangeItem(
                    field=str(item.get("fieldId") or item.get("field")),
                    from_value=item.get("from"),
                    from_string=item.get("fromString"),
                    to_value=item.get("to"),
                    to_string=item.get("toString"),
                )
                for item in history.get("items") or ()
            ),
        )

    async def _search_page(
        self,
        jql: str,
        fields: list[str],
        *,
        size: int,
        cursor: str | int | None,
        changelog: bool,
    ) -> tuple[list[JSON], str | int | None]:
        """One page of a search and the cursor of the next (None after the last)."""
        expand = "changelog" if changelog else None
        if self._cloud:
            body: JSON = {"jql": jql, "fields": fields, "maxResults": size}
            if expand:
                body["expand"] = expand
            if cursor is not None:
                body["nextPageToken"] = str(cursor)
            page = _json(
                await self._call(
                    "search", lambda c: c.search_and_reconsile_issues_using_jql_post(data=body)
                ),
                "search",
            )
            token = page.get("nextPageToken")  # absent on the last page (§4.1)
            issues = list(page.get("issues") or ())
            if token is None or not issues or token == cursor:
                return issues, None
            return issues, str(token)
        start = int(cursor or 0)
        page = _json(
            await self._call(
                "search",
                lambda c: c.search_for_issues_using_jql(
                    jql=jql, start_at=start, max_results=size, fields=fields, expand=expand
                ),
            ),
            "search",
        )
        issues = list(page.get("issues") or ())
        following = start + len(issues)
        return issues, following if issues and following < int(page.get("total", 0)) else None

    async def _project_status_map(
        self, project: str, status: str, key: str
    ) -> dict[str, _StatusInfo]:
        """`project`'s statuses, which must include `status` (cached per project; read again once
        when the name is unknown, in case the workflow changed)."""
        for attempt in range(2):
            if attempt or project not in self._statuses:
                raw = await self._call("project statuses", lambda c: c.get_all_statuses(project))
                self._statuses[project] = _project_statuses(_json_list(raw, "project statuses"))
            if status.casefold() in self._statuses[project]:
                return self._statuses[project]
        known = ", ".join(info.name for info in self._statuses[project].values())
        raise TrackerError(
            "no_transition",
            method="transition_to",
            transient=False,
            detail=f"{key}: project {project} has no status {status!r} (it has: {known})",
        )

    # -- writing ------------------------------------------------------------------------------------
    async def _shape_fields(self, fields: Mapping[str, FieldValue]) -> JSON:
        """Each value in the form its field's schema wants. A `priority` key goes to the
        configured priority field (the system one, or a custom option field)."""
        await self._field_infos()
        out: JSON = {}
        for name, value in fields.items():
            field_id = self.priority_field if name == "priority" else name
            out[field_id] = self._shape(field_id, value)
        return out

    def _shape(self, field_id: str, value: FieldValue) -> Any:
        schema = self._schemas.get(field_id, {})
        kind, items = str(schema.get("type", "")), schema.get("items")
        custom = str(schema.get("custom") or "")
        if kind == "array":
            if value is None:
                return []
            values = _texts(value)
            if items == "option":
                return [{"value": v} for v in values]
            if items == "user":
                return [self._user_ref(v) for v in values]
            if items in {"version", "component"}:
                return [{"name": v} for v in values]
            return values
        if value is None:
            return None
        if kind == "priority":
            return {"name": _text(value)}
        if kind == "option":
            return {"value": _text(value)}
        if kind == "user":
            return self._user_ref(_text(value))
        if kind == "number":
            return _number(field_id, value)
        if kind == "string" and (field_id in _RICH_SYSTEM_FIELDS or custom.endswith(":textarea")):
            return self._rich(value)
        if isinstance(value, tuple):
            return list(value)
        return _text(value) if isinstance(value, Document) else value

    def _user_ref(self, person: str) -> JSON:
        return {"accountId": person} if self._cloud else {"name": person}

    def _rich(self, value: FieldValue) -> Any:
        """Cloud (v3): ADF, a plain string becoming one paragraph per blank-line-separated block.
        Data Center (v2): a `Document` as wiki markup, a plain string as it is."""
        if not isinstance(value, Document):
            if not self._cloud:
                return _text(value)
            value = Document.of(*_text(value).split("\n\n"))
        return _adf(value) if self._cloud else _wiki(value)


# -- helpers -------------------------------------------------------------------------------------------
def _error_from(what: str, response: requests.Response) -> TrackerError:
    status = response.status_code
    messages: list[str] = []
    errors: dict[str, str] = {}
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        messages = [str(m) for m in body.get("errorMessages") or ()]
        raw_errors = body.get("errors")
        if isinstance(raw_errors, dict):
            errors = {str(k): str(v) for k, v in raw_errors.items()}
    detail = "; ".join([*messages, *(f"{k}: {v}" for k, v in errors.items())])
    detail = (detail or f"HTTP {status} {response.reason or ''}".strip())[:_DETAIL_LIMIT]
    if status == 429:
        return TrackerError(
            "ratelimited",
            method=what,
            transient=True,
            retry_after=_retry_after(response),
            detail=detail,
        )
    if status in {401, 403}:
        return TrackerError("forbidden", method=what, transient=False, detail=detail)
    if status == 404:
        return TrackerError("not_found", method=what, transient=False, detail=detail)
    if status == 410:
        return TrackerError("gone", method=what, transient=False, detail=detail)
    if status in {400, 422}:
        return TrackerError(
            "invalid", method=what, transient=False, detail=detail, field_errors=errors
        )
    if status == 409:  # Jira's answer to concurrent edits of one issue
        return TrackerError("conflict", method=what, transient=True, detail=detail)
    if status >= 500:
        return TrackerError(
            "unavailable",
            method=what,
            transient=True,
            retry_after=_retry_after(response),
            detail=detail,
        )
    return TrackerError(f"http_{status}", method=what, transient=False, detail=detail)


def _retry_after(response: requests.Response) -> float | None:
    """`Retry-After` in seconds: a number, or an HTTP date measured against the answer's own
    `Date` header (no clock of ours involved)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        sent = parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, (when - sent).total_seconds())


def _no_transition(
    key: str, status: str, current: Mapping[str, Any], offered: Iterable[Mapping[str, Any]]
) -> TrackerError:
    options = ", ".join(f"{t.get('name')} → {t['to'].get('name')}" for t in offered) or "none"
    return TrackerError(
        "no_transition",
        method="transition_to",
        transient=False,
        detail=f"{key} is stuck in {current.get('name')!r}: no way on to {status!r} "
        f"(transitions available: {options})",
    )


def _json(value: Any, what: str) -> JSON:
    if not isinstance(value, dict):
        raise TrackerError(
            "unavailable", method=what, transient=True, detail="Jira's answer is not a JSON object"
        )
    return value


def _json_list(value: Any, what: str) -> list[JSON]:
    if not isinstance(value, list):
        raise TrackerError(
            "unavailable", method=what, transient=True, detail="Jira's answer is not a JSON list"
        )
    return [v for v in value if isinstance(v, dict)]


@dataclass(frozen=True, slots=True)
class _StatusInfo:
    name: str
    category: str
    position: int
    """Where the status comes in the project's list (workflow order): a tie-breaker for paths."""


def _project_statuses(by_type: list[JSON]) -> dict[str, _StatusInfo]:
    out: dict[str, _StatusInfo] = {}
    for issue_type in by_type:
        for status in issue_type.get("statuses") or ():
            name = str(status["name"])
            out.setdefault(name.casefold(), _StatusInfo(name, _category(status), len(out)))
    return out


def _category(status: Mapping[str, Any]) -> str:
    return str((status.get("statusCategory") or {}).get("key", "indeterminate"))


def _priority_name(value: Any) -> str | None:
    if isinstance(value, dict):
        name = value.get("name", value.get("value"))
        return str(name) if name is not None else None
    return str(value) if value is not None else None


def _time(value: str) -> datetime:
    """Jira's `2026-03-01T10:00:00.250+0000` (or with a colon in the offset) as aware UTC."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _jql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _with_labels(labels: Any, *extra: str) -> list[str]:
    out = [str(label) for label in labels or ()]
    out.extend(label for label in extra if label not in out)
    return out


def _text(value: FieldValue) -> str:
    if isinstance(value, Document):
        return value.plain()
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _texts(value: FieldValue) -> list[str]:
    if isinstance(value, tuple):
        return [str(v) for v in value]
    return [_text(value)] if value is not None else []


def _number(field_id: str, value: FieldValue) -> float | int:
    if isinstance(value, int | float):
        return value
    try:
        return float(_text(value))
    except ValueError:
        raise TrackerError(
            "invalid",
            method="shape",
            transient=False,
            field_errors={field_id: f"{_text(value)!r} is not a number"},
        ) from None


def _adf(document: Document) -> JSON:
    """A `Document` as Atlassian Document Format: paragraphs of text nodes, links as `link` marks,
    line breaks as `hardBreak`."""
    content = []
    for paragraph in document.paragraphs:
        nodes: list[JSON] = []
        for piece in paragraph:
            if isinstance(piece, Link):
                nodes.append(
                    {
                        "type": "text",
                        "text": piece.text or piece.url,
                        "marks": [{"type": "link", "attrs": {"href": piece.url}}],
                    }
                )
                continue
            for number, line in enumerate(piece.split("\n")):
                if number:
                    nodes.append({"type": "hardBreak"})
                if line:
                    nodes.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": nodes})
    return {"type": "doc", "version": 1, "content": content}


def _wiki(document: Document) -> str:
    """A `Document` as Jira wiki markup (REST v2): markup characters escaped, links `[text|url]`,
    paragraphs separated by a blank line."""

    def escape(text: str) -> str:
        return _WIKI_SPECIAL.sub(r"\\\1", text)

    paragraphs = []
    for paragraph in document.paragraphs:
        parts = []
        for piece in paragraph:
            if isinstance(piece, Link):
                parts.append(
                    f"[{escape(piece.text)}|{piece.url}]" if piece.text else f"[{piece.url}]"
                )
            else:
                parts.append(escape(piece))
        paragraphs.append("".join(parts))
    return "\n\n".join(paragraphs)
