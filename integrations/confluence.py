"""``ConfluenceDocs``: the ``Docs`` port over Confluence Cloud REST v2, with a small async client.

Why not ``atlassian-python-api`` 5.0.5 (pinned): run against ``SandboxConfluence`` (see
``tests/sandbox/confluence/test_contract_and_faults.py``), its ``ConfluenceV2``

- asks for ``body-format=none`` in ``get_pages`` (every title look-up unless a body is asked for)
  and in ``update_page`` when no version is passed: outside the spec's enum (storage |
  atlas_doc_format …), refused by a validating server;
- ``update_page`` omits the required ``status`` unless the caller passes it;
- ``add_page_label`` posts to ``/api/v2/pages/{id}/labels``, which v2 does not have (404: v2 has
  no label write at all), and in its v1 mode sends labels without the required ``prefix``;
- ``create_page_footer_comment`` posts to ``/api/v2/comments`` (the spec's path is
  ``/footer-comments``); ``get_child_pages`` reads ``/direct-children``, absent from the spec;
- raises ``requests.HTTPError`` with an empty message for v2 errors (Confluence's
  ``{"errors": [{"title": …}]}`` is not read: "A page with this title already exists" is lost);
- is synchronous, and by default sleeps once for a 429's ``Retry-After`` (up to 1800 s) in the
  calling thread.

Its compliant calls (``get_spaces``, ``create_page``, ``get_page_by_id`` with a body format, a
fully-specified ``update_page``) would still need a thread pool and error parsing around them, so
the bot speaks v2 itself: seven JSON calls over aiohttp (already a dependency), explicit
timeouts, no retries of its own (the outbox retries ``transient`` errors, honouring
``retry_after``). The one v1 call is ``POST /wiki/rest/api/content/{id}/label``: v2 cannot add a
label. Every call is proven against the sandbox, which validates each request and answer
against ``confluence_v2.json`` / ``confluence_v1_2021.json``.
"""

from __future__ import annotations

import html.entities
import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from bot.ports import DocsError, PageRef, PageSnapshot

log = logging.getLogger("firefighter.confluence")

V2 = "/wiki/api/v2"
V1 = "/wiki/rest/api"
LABEL_PREFIX = "global"
"""The prefix of labels people add in the UI; the bot adds and reads only these."""
PAGE_SIZE = 250
"""The largest ``limit`` v2 lists accept (fewer round trips when following ``_links.next``)."""

JSON = dict[str, Any]
Params = Sequence[tuple[str, str]]


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds: a number, or an HTTP date taken relative to the answer's own
    ``Date`` (the server's clock, not ours)."""
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        until = parsedate_to_datetime(raw)
        sent = parsedate_to_datetime(headers["Date"])
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, (until - sent).total_seconds())


def _message(text: str) -> str:
    """Confluence's words from an error body: v2 ``errors[].title``, v1 ``message``."""
    try:
        body = json.loads(text)
    except ValueError:
        return text[:300]
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(
                str(e.get("title") or e.get("detail") or e.get("code"))
                for e in errors
                if isinstance(e, dict)
            )
        if body.get("message"):
            return str(body["message"])
    return text[:300]


def _error(method: str, status: int, text: str, headers: Mapping[str, str]) -> DocsError:
    detail = _message(text)
    if status == 429:
        return DocsError(
            "ratelimited",
            method=method,
            retry_after=_retry_after(headers),
            transient=True,
            detail=detail,
        )
    if status >= 500:
        return DocsError(
            "unavailable",
            method=method,
            retry_after=_retry_after(headers),
            transient=True,
            detail=f"HTTP {status}: {detail}",
        )
    code = {401: "forbidden", 403: "forbidden", 404: "not_found", 409: "conflict"}.get(
        status, "invalid"
    )
    return DocsError(code, method=method, transient=False, detail=f"HTTP {status}: {detail}")


# Storage-format comparison: Confluence may re-serialise the XHTML it stores (attribute order,
# `<br/>` vs `<br></br>`, entities as characters), so "unchanged" compares canonical forms (C14N).
_NAMESPACES = (
    'xmlns:ac="http://atlassian.com/content" '
    'xmlns:ri="http://atlassian.com/resource/identifier" '
    'xmlns:at="http://atlassian.com/template"'
)
_ENTITIES = "".join(
    f'<!ENTITY {name} "&#{code};">'
    for name, code in sorted(html.entities.name2codepoint.items())
    if name not in {"amp", "lt", "gt", "quot", "apos"}
)


def _canonical(body: str) -> str | None:
    try:
        return ET.canonicalize(
            f"<!DOCTYPE s [{_ENTITIES}]><s {_NAMESPACES}>{body}</s>", with_comments=True
        )
    except ET.ParseError:
        return None


def same_storage(a: str, b: str) -> bool:
    """Whether two storage-format bodies say the same thing (equal, or equal once canonical)."""
    if a == b:
        return True
    canonical_a = _canonical(a)
    return canonical_a is not None and canonical_a == _canonical(b)


class ConfluenceDocs:
    """The ``Docs`` port on Confluence Cloud (``site_url`` is ``https://<site>.atlassian.net``).

    Authenticates with Basic e-mail + API token. Pass a shared ``aiohttp.ClientSession`` from the
    composition root, or let the adapter open (and ``close()``) its own on first use.
    """

    def __init__(
        self,
        site_url: str,
        email: str,
        api_token: str,
        *,
        timeout: float = 20.0,
        connect_timeout: float = 5.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.site_url = site_url.rstrip("/").removesuffix("/wiki")
        self._authorization = aiohttp.encode_basic_auth(email, api_token)
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._session = session
        self._owns_session = session is None
        self._space_ids: dict[str, str] = {}

    # -- HTTP -------------------------------------------------------------------------------------
    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:  # opened lazily: a ClientSession wants a running loop
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(
        self,
        method: str,
        http_method: str,
        path: str,
        *,
        params: Params | None = None,
        body: Any = None,
    ) -> Any:
        """One request; ``path`` is site-relative (``/wiki/api/v2/...``, as ``_links.next`` is).
        Raises ``DocsError`` named after the operation (``method``)."""
        url = URL(self.site_url + path, encoded=True)
        headers = {"Authorization": self._authorization, "Accept": "application/json"}
        try:
            async with self._http().request(
                http_method,
                url,
                params=params,
                json=body,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                text = await response.text()
                if response.status >= 400:
                    raise _error(method, response.status, text, response.headers)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DocsError(
                "network", method=method, transient=True, detail=str(exc) or type(exc).__name__
            ) from exc
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:  # e.g. a proxy's HTML error page with a 200
            raise DocsError(
                "unavailable", method=method, transient=True, detail="the answer is not JSON"
            ) from exc

    async def _all(self, method: str, path: str, params: Params) -> list[JSON]:
        """Every item of a cursor-paginated v2 list, following ``_links.next``."""
        items: list[JSON] = []
        answer = await self._call(method, "GET", path, params=params)
        while True:
            items += answer.get("results") or []
            following = (answer.get("_links") or {}).get("next")
            if not following:
                return items
            answer = await self._call(method, "GET", following)

    # -- look-ups ---------------------------------------------------------------------------------
    async def _space_id(self, space: str) -> str:
        """The id of the space with key ``space`` (v2 writes take ids); cached, ids never change."""
        if space not in self._space_ids:
            answer = await self._call(
                "getSpaces", "GET", f"{V2}/spaces", params=[("keys", space), ("limit", "1")]
            )
            results = answer.get("results") or []
            if not results:
                raise DocsError(
                    "not_found",
                    method="getSpaces",
                    transient=False,
                    detail=f"no space with key {space} (or the bot may not see it)",
                )
            self._space_ids[space] = str(results[0]["id"])
        return self._space_ids[space]

    def _ref(self, page: JSON, *, base: str | None = None, created: bool = False) -> PageRef:
        links = page.get("_links") or {}
        webui = links.get("webui")
        wiki = links.get("base") or base or f"{self.site_url}/wiki"
        url = f"{wiki}{webui}" if webui else f"{wiki}/pages/viewpage.action?pageId={page['id']}"
        return PageRef(
            id=str(page["id"]),
            title=str(page["title"]),
            url=url,
            version=int((page.get("version") or {}).get("number") or 0),
            created=created,
        )

    async def _find(self, space_id: str, title: str) -> PageRef | None:
        answer = await self._call(
            "getPages",
            "GET",
            f"{V2}/pages",
            params=[("space-id", space_id), ("title", title), ("status", "current")],
        )
        base = (answer.get("_links") or {}).get("base")
        for page in answer.get("results") or []:
            if page.get("title") == title:
                return self._ref(page, base=base)
        return None

    async def _get(self, page_id: str) -> JSON:
        answer: JSON = await self._call(
            "getPageById",
            "GET",
            f"{V2}/pages/{quote(page_id)}",
            params=[("body-format", "storage"), ("include-labels", "true")],
        )
        return answer

    # -- the port ---------------------------------------------------------------------------------
    async def create_page(
        self, space: str, title: str, body: str, *, parent_id: str | None = None
    ) -> PageRef:
        space_id = await self._space_id(space)
        existing = await self._find(space_id, title)
        if existing is not None:
            return existing
        request: JSON = {
            "spaceId": space_id,
            "status": "current",
            "title": title,
            "body": {"representation": "storage", "value": body},
        }
        if parent_id is not None:
            request["parentId"] = parent_id
        try:
            page = await self._call("createPage", "POST", f"{V2}/pages", body=request)
        except DocsError as error:
            # Someone (another worker, or our own lost first attempt) made it in between.
            if error.code in {"invalid", "conflict"} and "already exists" in error.detail:
                found = await self._find(space_id, title)
                if found is not None:
                    return found
            raise
        log.info("confluence page %s created in %s: %s", page.get("id"), space, title)
        return self._ref(page, created=True)

    async def find_page(self, space: str, title: str) -> PageRef | None:
        return await self._find(await self._space_id(space), title)

    async def page(self, page_id: str) -> PageSnapshot | None:
        try:
            page = await self._get(page_id)
        except DocsError as error:
            if error.code == "not_found":
                return None
            raise
        included = page.get("labels") or {}
        labels: list[JSON] = list(included.get("results") or [])
        if (included.get("meta") or {}).get("hasMore"):
            labels = await self._labels(page_id)
        storage = (page.get("body") or {}).get("storage") or {}
        return PageSnapshot(
            ref=self._ref(page),
            space_id=str(page.get("spaceId")),
            parent_id=str(page["parentId"]) if page.get("parentId") else None,
            body=str(storage.get("value") or ""),
            labels=tuple(
                str(lab["name"])
                for lab in labels
                if lab.get("prefix", LABEL_PREFIX) == LABEL_PREFIX
            ),
        )

    async def update_body(
        self, page_id: str, body: str, *, if_version: int | None = None, message: str = ""
    ) -> int:
        page = await self._get(page_id)
        version = int(page["version"]["number"])
        if if_version is not None and version != if_version:
            raise DocsError(
                "conflict",
                method="updatePage",
                transient=False,
                detail=f"the page is at version {version}, not {if_version} (edited since)",
            )
        current = ((page.get("body") or {}).get("storage") or {}).get("value") or ""
        if same_storage(current, body):
            return version
        new_version: JSON = {"number": version + 1}
        if message:
            new_version["message"] = message
        request = {
            "id": page_id,
            "status": "current",
            "title": page["title"],
            "body": {"representation": "storage", "value": body},
            "version": new_version,
        }
        try:
            updated = await self._call(
                "updatePage", "PUT", f"{V2}/pages/{quote(page_id)}", body=request
            )
        except DocsError as error:
            if error.code == "conflict":
                # Edited between our read and our write. Without if_version a retry re-reads and
                # applies on top; with it, the page is no longer the one the caller based this on.
                raise DocsError(
                    "conflict",
                    method="updatePage",
                    transient=if_version is None,
                    detail=error.detail,
                ) from error
            raise
        return int(updated["version"]["number"])

    async def add_label(self, page_id: str, label: str) -> None:
        # v2 has no label write (INTEGRATION_NOTES §6): v1's addLabelsToContent is the only way.
        await self._call(
            "addLabelsToContent",
            "POST",
            f"{V1}/content/{quote(page_id)}/label",
            body=[{"prefix": LABEL_PREFIX, "name": label.lower()}],
        )

    async def _labels(self, page_id: str) -> list[JSON]:
        return await self._all(
            "getPageLabels",
            f"{V2}/pages/{quote(page_id)}/labels",
            [("prefix", LABEL_PREFIX), ("limit", str(PAGE_SIZE))],
        )

    async def has_label(self, page_id: str, label: str) -> bool:
        wanted = label.lower()
        return any(str(lab.get("name")).lower() == wanted for lab in await self._labels(page_id))

    def page_url(self, space: str, page_id: str) -> str:
        return f"{self.site_url}/wiki/spaces/{quote(space)}/pages/{quote(page_id)}"


__all__ = ["ConfluenceDocs", "same_storage"]
