"""`SandboxConfluence`: a local Confluence Cloud (REST v2, plus the one v1 label write v2 lacks).

Every request is matched to an operation of `confluence_v2.json` (`/wiki/api/v2/...`) or
`confluence_v1_2021.json` (`/wiki/rest/api/...`) and validated with openapi-core (path, method, query,
body); every answer the sandbox gives is validated too (INTEGRATION_NOTES §7.3). Violations are
recorded; `assert_no_violations()` fails a test that broke the contract. Beyond the schemas:

- storage-format bodies must be well-formed XHTML (Confluence answers 400 "Error parsing xhtml");
- a query parameter the operation does not document is reported (Confluence ignores it silently,
  so a client relying on it, e.g. v1's `expand`, gets nothing);
- a v1 operation v2 covers is reported and answered 410 (Atlassian is removing them, §1, §8);
  only the label operations are served on v1, because v2 has no way to add a label.

Confluence behaviour modelled: Basic auth with e-mail and API token; page titles unique per space
(case-insensitively; a duplicate answers 400 "A page with this title already exists"); an update
must carry the current version + 1 (409 otherwise); a page without a parent goes under the space
homepage unless `root-level=true`; labels are lower-cased and never duplicated; deleted pages go to
the trash (404 on read); cursor pagination with `_links.next` and a `Link` header.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, urlencode

from aiohttp import web

from sandbox import http
from sandbox.atlassian import AtlassianPeople
from sandbox.confluence.contract import (
    V1_PREFIX,
    V2_PREFIX,
    ApiVersion,
    spec_of,
    storage_problem,
    version_of,
)
from sandbox.confluence.state import (
    JSON,
    Account,
    Comment,
    ConfluenceError,
    Label,
    Page,
    Space,
    Version,
)
from sandbox.http import Answer, Fault, HttpSandbox, Refusal, decoded_body
from sandbox.openapi import Call, Operation

#: v1 operations served: adding a label has no v2 equivalent; reading them back on v1 is cheap.
V1_SERVED = frozenset({"addLabelsToContent", "getLabelsForContent"})

#: Characters Confluence refuses in a label name (besides white space).
_LABEL_FORBIDDEN = re.compile(r"[\s!#&()*,.:;<>?@\[\]^]")
_DUPLICATE_TITLE = (
    "A page with this title already exists: A page already exists with the same TITLE in this space"
)
_LABELS_INCLUDED = 50
"""How many labels `include-labels=true` embeds in a page before `meta.hasMore` says to page."""


def confluence_time(moment: datetime) -> str:
    """Confluence v2's timestamp form: `YYYY-MM-DDTHH:mm:ss.sssZ`."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True, kw_only=True)
class RecordedRequest(http.RecordedRequest):
    """One HTTP call as the sandbox saw it, with the API it went to and the account that made it."""

    api: ApiVersion | None
    account_id: str | None


Delay = Fault
"""What `delay()` returns: `seconds`, `times` left, and `arrived`, set when a matching request has
come in (and is waiting), so a test can act in Confluence "while the request is in flight"."""


class SandboxConfluence(HttpSandbox[RecordedRequest], AtlassianPeople[Account]):
    """A local Confluence Cloud. Start it, point a client at `base_url` (the site).

    ```python
    async with SandboxConfluence() as confluence:
        docs = ConfluenceDocs(confluence.base_url, confluence.bot.email, confluence.bot.api_token)
        ...
        confluence.assert_no_violations()
    ```
    """

    vendor = "Confluence"
    account_type = Account
    client_max_size = 6 * 1024 * 1024

    def __init__(
        self,
        *,
        space_key: str = "PM",
        space_name: str = "Post-mortems",
        reject_invalid_requests: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.reject_invalid_requests = reject_invalid_requests
        self._clock = clock or (lambda: datetime.now(UTC))
        self._space_ids = itertools.count(65537)
        self._content_ids = itertools.count(98305)
        self._label_ids = itertools.count(1001)
        self._start_people()
        self.spaces: dict[str, Space] = {}  # by id
        self.pages: dict[str, Page] = {}  # by id
        self.comments: dict[str, Comment] = {}  # by id
        self._labels: dict[tuple[str, str], str] = {}  # (prefix, name) -> label id, site-wide
        self.space = self.add_space(space_key, space_name)

    # -- lifecycle (`start`, `stop`, `base_url`: the site, `HttpSandbox`'s) ------------------------
    @property
    def wiki_url(self) -> str:
        """`_links.base` of every answer: the site's `/wiki`."""
        return f"{self.base_url}/wiki"

    def now(self) -> datetime:
        return self._clock()

    # -- set-up and the "human" API ---------------------------------------------------------------
    def add_space(self, key: str, name: str, *, author: Account | None = None) -> Space:
        """A new space with its homepage (`<name> Home`), as Confluence creates it."""
        if any(s.key == key for s in self.spaces.values()):
            raise ValueError(f"space {key} exists")
        author = author or self.bot
        now = self.now()
        homepage_id = str(next(self._content_ids))
        space = Space(str(next(self._space_ids)), key, name, homepage_id, author.account_id, now)
        self.spaces[space.id] = space
        self.pages[homepage_id] = Page(
            id=homepage_id,
            space_id=space.id,
            title=f"{name} Home",
            parent_id=None,
            author_id=author.account_id,
            created_at=now,
            body="",
            versions=[Version(1, author.account_id, now, "", "", f"{name} Home")],
        )
        return space

    def space_by_key(self, key: str) -> Space:
        return next(s for s in self.spaces.values() if s.key == key)

    def page(self, page_id: str) -> Page:
        return self.pages[page_id]

    def pages_titled(self, title: str, *, space_key: str | None = None) -> list[Page]:
        """Pages (not trashed) with exactly this title, in one space or everywhere."""
        space_id = self.space_by_key(space_key).id if space_key else None
        return [
            p
            for p in self.pages.values()
            if p.title == title and p.status != "trashed" and space_id in (None, p.space_id)
        ]

    def children(self, page_id: str) -> list[Page]:
        return sorted(
            (p for p in self.pages.values() if p.parent_id == page_id and p.status != "trashed"),
            key=lambda p: p.position,
        )

    def create_page_as(
        self,
        account: Account,
        space_key: str,
        title: str,
        body: str = "",
        *,
        parent_id: str | None = None,
    ) -> Page:
        """A person creates a page in the UI (under the homepage unless a parent is given)."""
        space = self.space_by_key(space_key)
        return self._create(account, space, title, body, parent_id or space.homepage_id)

    def edit_as(
        self,
        account: Account,
        page_id: str,
        *,
        body: str | None = None,
        title: str | None = None,
        message: str = "",
    ) -> Page:
        """A person edits the page in the editor and publishes: a new version by that author."""
        page = self._live_page(page_id)
        self._update(
            account,
            page,
            title=page.title if title is None else title,
            body=page.body if body is None else body,
            number=page.version.number + 1,
            message=message,
        )
        return page

    def add_label_as(
        self, account: Account, page_id: str, label: str, *, prefix: str = "global"
    ) -> Label:
        """A person adds a label in the UI (the `global` prefix, as the UI does)."""
        return self._add_label(account, self._live_page(page_id), label, prefix)

    def remove_label_as(self, account: Account, page_id: str, label: str) -> None:
        del account  # anyone who can see the page may remove a label in the sandbox
        page = self._live_page(page_id)
        page.labels = [lab for lab in page.labels if lab.name != label.lower()]

    def delete_as(self, account: Account, page_id: str) -> None:
        """A person deletes the page: it goes to the trash (reads answer 404)."""
        self._require_write(account)
        self._live_page(page_id).status = "trashed"

    # -- faults (and `HttpSandbox`'s inject_status, start_outage, end_outage) -------------------
    def delay(
        self,
        seconds: float,
        path_pattern: str = ".*",
        *,
        method: str | None = None,
        times: int = 1,
    ) -> Delay:
        """The next `times` matching requests wait `seconds` before being handled (a slow answer,
        or a window in which a test changes Confluence under an in-flight request)."""
        return self._add_delay(seconds, path_pattern, method=method, times=times)

    # -- HTTP ---------------------------------------------------------------------------------------
    def _respond(self, request: web.Request, raw: bytes) -> Answer:
        method, path = request.method, request.path
        query = list(request.query.items())
        body = decoded_body(raw)
        account = self._authenticate(request.headers.get("Authorization", ""))
        api = version_of(path)
        operation = spec_of(api).find(method, path) if api else None
        status, payload, headers = self._answer(
            method, path, query, raw, body, request.content_type, account, api, operation
        )
        account_id = account.account_id if account else None
        record = RecordedRequest.of(
            request, body, operation, status, api=api, account_id=account_id
        )
        self.requests.append(record)
        return status, payload, headers

    def _answer(  # noqa: PLR0917 - one request's parts, passed along once
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        raw: bytes,
        body: Any,
        content_type: str,
        account: Account | None,
        api: ApiVersion | None,
        operation: Operation | None,
    ) -> Answer:
        refusal = self._take_refusal(method, path)
        if refusal is not None:
            # Injected answers are outside the operations' documented responses: not validated.
            return _refusal_answer(refusal, api or "v2")
        if api is None or operation is None:
            self._report(
                f"{method} {path}", "unknown-path", "not an operation of the Confluence specs"
            )
            return 404, ConfluenceError(404, "Not Found").body(api or "v2"), {}
        op_id = operation.operation_id
        if operation.deprecated:
            self._report(op_id, "deprecated", f"{method} {path} is deprecated")
        if api == "v1" and op_id not in V1_SERVED:
            self._report(
                op_id, "v1-retired", f"{method} {path}: use the v2 operation (v1 is being removed)"
            )
            return 410, ConfluenceError(410, "This API has been removed.").body(api), {}
        if account is None:
            return 401, ConfluenceError(401, "Unauthorized").body(api), {}
        unknown = sorted({k for k, _ in query} - operation.query)
        if unknown:
            self._report(op_id, "unknown-query", f"not parameters of {op_id}: {unknown}")
        call = Call(method, path, query, raw, content_type)
        problem = spec_of(api).request_problem(call)
        if problem:
            self._report(op_id, "request", problem)
            if self.reject_invalid_requests:
                return 400, ConfluenceError(400, problem).body(api), {}
        headers: dict[str, str] = {}
        try:
            status, payload, headers = self._dispatch(api, op_id, path, query, body, account)
        except ConfluenceError as error:
            status, payload = error.status, error.body(api)
        # C2: error answers are documented with `content: {}` (no body) though Confluence sends a
        # JSON error body; C3: 409 on a stale version is not documented at all. Only answers whose
        # status documents a JSON body are checked.
        if str(status) in operation.bodies:
            out = json.dumps(payload).encode()
            problem = spec_of(api).response_problem(call, status, out)
            if problem:
                self._report(op_id, "sandbox-response", problem)
        return status, payload, headers

    def _authenticate(self, header: str) -> Account | None:
        return self._basic_account(header)

    def _dispatch(  # noqa: PLR0917 - one request's parts
        self,
        api: ApiVersion,
        op_id: str,
        path: str,
        query: list[tuple[str, str]],
        body: Any,
        account: Account,
    ) -> tuple[int, Any, dict[str, str]]:
        params = dict(query)
        parts = path.removeprefix(V2_PREFIX if api == "v2" else V1_PREFIX).strip("/").split("/")
        if op_id == "getSpaces":
            return self._list_spaces(path, query)
        if op_id == "getSpaceById":
            return 200, self._space_json(self._find_space(parts[1]), single=True), {}
        if op_id == "getPages":
            return self._list_pages(path, query, None)
        if op_id == "getPagesInSpace":
            return self._list_pages(path, query, self._find_space(parts[1]))
        if op_id == "getPageById":
            return 200, self._get_page(parts[1], params, query), {}
        if op_id == "createPage":
            return 200, self._create_from_request(account, body, params), {}
        if op_id == "updatePage":
            return 200, self._update_from_request(account, parts[1], body), {}
        if op_id == "deletePage":
            self.delete_as(account, parts[1])
            return 204, None, {}
        if op_id == "getChildPages":
            children = [self._child_json(p) for p in self.children(self._live_page(parts[1]).id)]
            return self._paged(children, path, query)
        if op_id == "getPageLabels":
            page = self._live_page(parts[1])
            prefix = params.get("prefix")
            labels = [self._label_json(lab) for lab in page.labels if prefix in (None, lab.prefix)]
            return self._paged(labels, path, query)
        if op_id == "createFooterComment":
            return 201, self._comment_from_request(account, body), {}
        if op_id == "getPageFooterComments":
            page = self._live_page(parts[1])
            comments = [
                self._comment_json(c, params.get("body-format"), single=False)
                for c in self.comments.values()
                if c.page_id == page.id
            ]
            return self._paged(comments, path, query)
        if op_id == "addLabelsToContent":
            return 200, self._add_labels_v1(account, parts[1], body), {}
        if op_id == "getLabelsForContent":
            page = self._live_page(parts[1], not_found=ConfluenceError(404, "Content not found"))
            prefix = params.get("prefix")
            return 200, self._labels_v1(page, prefix), {}
        raise ConfluenceError(501, f"the sandbox does not implement {op_id}")

    # -- operations -------------------------------------------------------------------------------
    def _find_space(self, space_id: str) -> Space:
        space = self.spaces.get(space_id)
        if space is None:
            raise ConfluenceError(404, "Space not found")
        return space

    def _live_page(self, page_id: str, *, not_found: ConfluenceError | None = None) -> Page:
        page = self.pages.get(page_id)
        if page is None or page.status == "trashed":
            raise not_found or ConfluenceError(404, "Page not found")
        return page

    @staticmethod
    def _require_write(account: Account, status: int = 404) -> None:
        # v2 answers 404 when the caller may not write ("does not have the needed permissions");
        # v1's label write documents 403.
        if not account.can_write:
            raise ConfluenceError(status, "The user does not have permission to edit this content")

    def _list_spaces(
        self, path: str, query: list[tuple[str, str]]
    ) -> tuple[int, JSON, dict[str, str]]:
        keys = {v for k, v in query if k == "keys"}
        ids = {v for k, v in query if k == "ids"}
        params = dict(query)
        spaces = [
            self._space_json(s, single=False)
            for s in self.spaces.values()
            if (not keys or s.key in keys)
            and (not ids or s.id in ids)
            and params.get("status", s.status) == s.status
            and params.get("type", s.type) == s.type
        ]
        return self._paged(spaces, path, query)

    def _list_pages(
        self, path: str, query: list[tuple[str, str]], space: Space | None
    ) -> tuple[int, JSON, dict[str, str]]:
        params = dict(query)
        space_ids = {space.id} if space else {v for k, v in query if k == "space-id"}
        ids = {v for k, v in query if k == "id"}
        statuses = {v for k, v in query if k == "status"} or {"current", "archived"}
        title = params.get("title")
        root_only = params.get("depth") == "root"
        body_format = params.get("body-format")
        pages = [
            self._page_json(p, body_format=body_format, single=False)
            for p in sorted(self.pages.values(), key=lambda p: int(p.id))
            if (not space_ids or p.space_id in space_ids)
            and (not ids or p.id in ids)
            and p.status in statuses
            and (title is None or p.title == title)
            and (not root_only or p.parent_id is None)
        ]
        return self._paged(pages, path, query)

    def _get_page(self, page_id: str, params: dict[str, str], query: list[tuple[str, str]]) -> JSON:
        statuses = {v for k, v in query if k == "status"} or {"current", "archived"}
        page = self.pages.get(page_id)
        if page is None or page.status not in statuses:
            raise ConfluenceError(404, "Page not found")
        return self._page_json(
            page,
            body_format=params.get("body-format"),
            single=True,
            include_labels=params.get("include-labels") == "true",
            include_version=params.get("include-version", "true") == "true",
        )

    def _create_from_request(self, account: Account, body: Any, params: dict[str, str]) -> JSON:
        if not isinstance(body, dict):
            raise ConfluenceError(400, "A JSON object is required")
        space = self.spaces.get(str(body.get("spaceId")))
        if space is None:
            raise ConfluenceError(404, "Space not found")
        self._require_write(account)
        if body.get("status", "current") != "current":
            raise ConfluenceError(501, "the sandbox creates published pages only (no drafts)")
        title = body.get("title")
        if not title:
            raise ConfluenceError(400, "Title is required for a published page")
        parent_id = body.get("parentId")
        if params.get("root-level") == "true":
            if parent_id:
                raise ConfluenceError(400, "parentId cannot be given with root-level=true")
        else:
            parent_id = parent_id or space.homepage_id
        page = self._create(
            account, space, str(title), self._storage_value(body.get("body")), parent_id
        )
        return self._page_json(page, body_format="storage", single=True)

    def _create(
        self, account: Account, space: Space, title: str, body: str, parent_id: str | None
    ) -> Page:
        self._check_title(space.id, title, None)
        if parent_id is not None:
            parent = self.pages.get(parent_id)
            if parent is None or parent.status == "trashed" or parent.space_id != space.id:
                raise ConfluenceError(404, "The parent page does not exist in this space")
        self._check_storage("createPage", body)
        now = self.now()
        page = Page(
            id=str(next(self._content_ids)),
            space_id=space.id,
            title=title,
            parent_id=parent_id,
            author_id=account.account_id,
            created_at=now,
            body=body,
            versions=[Version(1, account.account_id, now, "", body, title)],
            position=len(self.children(parent_id)) if parent_id else 0,
        )
        self.pages[page.id] = page
        return page

    def _update_from_request(self, account: Account, page_id: str, body: Any) -> JSON:
        if not isinstance(body, dict):
            raise ConfluenceError(400, "A JSON object is required")
        page = self._live_page(page_id)
        self._require_write(account)
        if str(body.get("id")) != page_id:
            raise ConfluenceError(400, "The id in the body differs from the id in the path")
        if body.get("status") != "current":
            raise ConfluenceError(501, "the sandbox updates published pages only (no drafts)")
        if body.get("spaceId") not in (None, page.space_id):
            raise ConfluenceError(400, "Moving a page to another space is not supported")
        version = body.get("version") or {}
        parent_id = body.get("parentId")
        if parent_id is not None and str(parent_id) != page.parent_id:
            parent = self.pages.get(str(parent_id))
            if parent is None or parent.space_id != page.space_id or parent.status == "trashed":
                raise ConfluenceError(404, "The parent page does not exist in this space")
            page.parent_id = parent.id
        self._update(
            account,
            page,
            title=str(body.get("title") or ""),
            body=self._storage_value(body.get("body")),
            number=version.get("number"),
            message=str(version.get("message") or ""),
        )
        return self._page_json(page, body_format="storage", single=True)

    def _update(
        self,
        account: Account,
        page: Page,
        *,
        title: str,
        body: str,
        number: Any,
        message: str,
    ) -> None:
        current = page.version.number
        if number != current + 1:
            raise ConfluenceError(
                409, f"Version must be incremented on update. Current version is: {current}"
            )
        if not title:
            raise ConfluenceError(400, "Title is required")
        self._check_title(page.space_id, title, page.id)
        self._check_storage("updatePage", body)
        page.title, page.body = title, body
        page.versions.append(
            Version(current + 1, account.account_id, self.now(), message, body, title)
        )

    def _check_title(self, space_id: str, title: str, page_id: str | None) -> None:
        for other in self.pages.values():
            if (
                other.space_id == space_id
                and other.id != page_id
                and other.status != "trashed"
                and other.title.casefold() == title.casefold()
            ):
                raise ConfluenceError(400, _DUPLICATE_TITLE)

    def _storage_value(self, body: Any) -> str:
        """The storage XHTML of a v2 write body (`PageBodyWrite` or `PageNestedBodyWrite`)."""
        if body is None:
            return ""
        if not isinstance(body, dict):
            raise ConfluenceError(400, "body must be an object")
        if "representation" in body or "value" in body:
            representation, value = body.get("representation"), body.get("value")
        else:
            formats = [k for k in ("storage", "atlas_doc_format", "wiki") if k in body]
            if len(formats) != 1:
                raise ConfluenceError(400, "Exactly one body format must be given")
            nested = body[formats[0]] or {}
            representation = nested.get("representation", formats[0])
            value = nested.get("value")
            if representation != formats[0]:
                raise ConfluenceError(400, "body representation differs from its key")
        if representation != "storage":
            raise ConfluenceError(501, "the sandbox keeps storage-format bodies only")
        if not isinstance(value, str):
            raise ConfluenceError(400, "body value must be a string")
        return value

    def _check_storage(self, operation: str, value: str) -> None:
        problem = storage_problem(value)
        if problem:
            self._report(operation, "storage-format", problem)
            raise ConfluenceError(400, problem)

    def _add_label(self, account: Account, page: Page, name: str, prefix: str) -> Label:
        self._require_write(account, 403)
        name = name.strip().lower()
        if prefix not in {"global", "my", "team"}:
            raise ConfluenceError(400, f"Invalid label prefix: {prefix}")
        if not name or len(name) > 255 or _LABEL_FORBIDDEN.search(name):
            raise ConfluenceError(
                400, f"Label contains invalid characters or is too long: {name!r}"
            )
        for existing in page.labels:
            if (existing.prefix, existing.name) == (prefix, name):
                return existing
        label_id = self._labels.setdefault((prefix, name), str(next(self._label_ids)))
        label = Label(label_id, name, prefix)
        page.labels.append(label)
        return label

    def _add_labels_v1(self, account: Account, page_id: str, body: Any) -> JSON:
        page = self._live_page(page_id, not_found=ConfluenceError(404, "Content not found"))
        items = body if isinstance(body, list) else [body]
        for item in items:
            if not isinstance(item, dict):
                raise ConfluenceError(400, "Each label must be an object")
            self._add_label(account, page, str(item.get("name", "")), str(item.get("prefix", "")))
        return self._labels_v1(page, None)

    def _comment_from_request(self, account: Account, body: Any) -> JSON:
        if not isinstance(body, dict) or not body.get("pageId"):
            raise ConfluenceError(501, "the sandbox keeps footer comments on pages only")
        page = self._live_page(str(body["pageId"]))
        value = self._storage_value(body.get("body"))
        self._check_storage("createFooterComment", value)
        comment = Comment(
            str(next(self._content_ids)), page.id, value, account.account_id, self.now()
        )
        self.comments[comment.id] = comment
        return self._comment_json(comment, "storage", single=True)

    # -- rendering ----------------------------------------------------------------------------------
    def _paged(
        self, items: Sequence[JSON], path: str, query: list[tuple[str, str]]
    ) -> tuple[int, JSON, dict[str, str]]:
        """One page of a cursor-paginated list; the cursor is an opaque offset."""
        params = dict(query)
        limit = int(params.get("limit", 25))
        offset = 0
        if "cursor" in params:
            try:
                offset = int(base64.urlsafe_b64decode(params["cursor"].encode()).decode())
            except (ValueError, binascii.Error) as exc:
                raise ConfluenceError(400, "Invalid cursor") from exc
        links: JSON = {"base": self.wiki_url}
        headers: dict[str, str] = {}
        if offset + limit < len(items):
            cursor = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
            kept = [(k, v) for k, v in query if k != "cursor"] + [("cursor", cursor)]
            links["next"] = f"{path}?{urlencode(kept)}"
            headers["Link"] = f'<{links["next"]}>; rel="next", <{self.wiki_url}>; rel="base"'
        return 200, {"results": list(items[offset : offset + limit]), "_links": links}, headers

    def _space_json(self, space: Space, *, single: bool) -> JSON:
        out: JSON = {
            "id": space.id,
            "key": space.key,
            "name": space.name,
            "type": space.type,
            "status": space.status,
            "authorId": space.author_id,
            "createdAt": confluence_time(space.created_at),
            "homepageId": space.homepage_id,
            "_links": {"webui": f"/spaces/{space.key}"},
        }
        if single:
            out["_links"]["base"] = self.wiki_url
        return out

    def _page_links(self, page: Page) -> JSON:
        space = self.spaces[page.space_id]
        tiny = base64.urlsafe_b64encode(int(page.id).to_bytes(4, "little")).decode().rstrip("=")
        return {
            "webui": f"/spaces/{space.key}/pages/{page.id}/{quote_plus(page.title)}",
            "editui": f"/pages/resumedraft.action?draftId={page.id}",
            "tinyui": f"/x/{tiny}",
        }

    def _version_json(self, version: Version) -> JSON:
        return {
            "createdAt": confluence_time(version.created_at),
            "message": version.message,
            "number": version.number,
            "minorEdit": False,
            "authorId": version.author_id,
        }

    def _page_json(
        self,
        page: Page,
        *,
        body_format: str | None,
        single: bool,
        include_labels: bool = False,
        include_version: bool = True,
    ) -> JSON:
        out: JSON = {
            "id": page.id,
            "status": page.status,
            "title": page.title,
            "spaceId": page.space_id,
            "position": page.position,
            "authorId": page.author_id,
            "ownerId": page.author_id,
            "lastOwnerId": None,
            "createdAt": confluence_time(page.created_at),
            "body": self._body_json(page.body, body_format),
            "_links": self._page_links(page),
        }
        if page.parent_id is not None:  # `parentId` is not nullable in the spec: left out instead
            out["parentId"] = page.parent_id
            out["parentType"] = "page"
        if include_version:
            out["version"] = self._version_json(page.version)
        if include_labels:
            shown = page.labels[:_LABELS_INCLUDED]
            out["labels"] = {
                "results": [self._label_json(lab) for lab in shown],
                "meta": {"hasMore": len(page.labels) > len(shown)},
                "_links": {"self": f"{V2_PREFIX}/pages/{page.id}/labels"},
            }
        if single:
            out["_links"]["base"] = self.wiki_url
        return out

    @staticmethod
    def _body_json(value: str, body_format: str | None) -> JSON:
        if body_format in (None, "storage"):
            # Without `body-format` Confluence sends an empty body object.
            return (
                {}
                if body_format is None
                else {"storage": {"representation": "storage", "value": value}}
            )
        raise ConfluenceError(501, f"the sandbox keeps storage format only, not {body_format}")

    def _child_json(self, page: Page) -> JSON:
        return {
            "id": page.id,
            "status": page.status,
            "title": page.title,
            "spaceId": page.space_id,
            "childPosition": page.position,
        }

    @staticmethod
    def _label_json(label: Label) -> JSON:
        return {"id": label.id, "name": label.name, "prefix": label.prefix}

    def _labels_v1(self, page: Page, prefix: str | None) -> JSON:
        labels: Iterable[Label] = (lab for lab in page.labels if prefix in (None, lab.prefix))
        results = [
            {"prefix": lab.prefix, "name": lab.name, "id": lab.id, "label": lab.name}
            for lab in labels
        ]
        return {
            "results": results,
            "start": 0,
            "limit": 200,
            "size": len(results),
            "_links": {
                "base": self.wiki_url,
                "context": "/wiki",
                "self": f"{self.wiki_url}/rest/api/content/{page.id}/label",
            },
        }

    def _comment_json(self, comment: Comment, body_format: str | None, *, single: bool) -> JSON:
        page = self.pages[comment.page_id]
        out: JSON = {
            "id": comment.id,
            "status": "current",
            "title": f"Re: {page.title}",
            "pageId": page.id,
            "version": {
                "createdAt": confluence_time(comment.created_at),
                "message": "",
                "number": comment.version,
                "minorEdit": False,
                "authorId": comment.author_id,
            },
            "body": self._body_json(comment.body, body_format),
            "_links": {
                "webui": self._page_links(page)["webui"] + f"?focusedCommentId={comment.id}"
            },
        }
        if single:
            out["_links"]["base"] = self.wiki_url
        return out


def _refusal_answer(refusal: Refusal, api: ApiVersion) -> Answer:
    """An injected error as Confluence words it (v1 or v2 error body), `Retry-After` when given."""
    status, retry_after = refusal.status, refusal.retry_after
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    title = "Rate limit exceeded" if status == 429 else "Injected failure"
    return status, ConfluenceError(status, title).body(api), headers
