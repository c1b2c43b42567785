"""The sandbox Confluence as a contract checker (what it records and refuses) and its faults.

Tests that break the contract on purpose check the violation they caused, then clear it so the
fixture's teardown assertion stays meaningful for everything else.
"""

from __future__ import annotations

import asyncio
import warnings

import aiohttp
import pytest
from atlassian import Confluence, ConfluenceV2

from sandbox.confluence import SandboxConfluence
from tests.sandbox.confluence.conftest import Http, storage


def _kinds(confluence: SandboxConfluence) -> list[tuple[str, str]]:
    return [(v.operation, v.kind) for v in confluence.violations]


async def test_a_malformed_storage_body_is_refused_and_recorded(
    confluence: SandboxConfluence, http: Http
) -> None:
    answer = await http(
        "POST",
        "/wiki/api/v2/pages",
        json_body={
            "spaceId": confluence.space.id,
            "status": "current",
            "title": "Broken",
            "body": storage("<p>Impact<b>bold</p>"),
        },
    )

    assert answer.status == 400
    assert answer.error.startswith("Error parsing xhtml: mismatched tag")
    assert _kinds(confluence) == [("createPage", "storage-format")]
    assert confluence.pages_titled("Broken") == []
    confluence.violations.clear()


async def test_an_update_without_status_breaks_the_v2_schema(
    confluence: SandboxConfluence, http: Http
) -> None:
    page = confluence.create_page_as(confluence.bot, "PM", "Post-mortem INC-1", "<p>a</p>")

    answer = await http(
        "PUT",
        f"/wiki/api/v2/pages/{page.id}",
        json_body={
            "id": page.id,
            "title": page.title,
            "body": storage("<p>b</p>"),
            "version": {"number": 2},
        },
    )

    assert answer.status == 400
    [violation] = confluence.violations
    assert (violation.operation, violation.kind) == ("updatePage", "request")
    assert "'status' is a required property" in violation.detail
    assert confluence.page(page.id).version.number == 1
    confluence.violations.clear()


async def test_unknown_paths_and_methods_are_recorded_and_answered_404(
    confluence: SandboxConfluence, http: Http
) -> None:
    page = confluence.create_page_as(confluence.bot, "PM", "Post-mortem INC-2")

    comments = await http("POST", "/wiki/api/v2/comments", json_body={"pageId": page.id})
    labels = await http("POST", f"/wiki/api/v2/pages/{page.id}/labels", json_body={"name": "x"})

    assert (comments.status, labels.status) == (404, 404)
    assert _kinds(confluence) == [
        ("POST /wiki/api/v2/comments", "unknown-path"),
        (f"POST /wiki/api/v2/pages/{page.id}/labels", "unknown-path"),
    ]
    confluence.violations.clear()


async def test_a_v1_call_that_v2_covers_is_reported_and_answered_410(
    confluence: SandboxConfluence, http: Http
) -> None:
    page = confluence.create_page_as(confluence.bot, "PM", "Post-mortem INC-3")

    answer = await http("GET", f"/wiki/rest/api/content/{page.id}")

    assert answer.status == 410
    assert _kinds(confluence) == [("getContentById", "v1-retired")]
    confluence.violations.clear()


async def test_a_query_parameter_v2_does_not_have_is_reported(
    confluence: SandboxConfluence, http: Http
) -> None:
    page = confluence.create_page_as(confluence.bot, "PM", "Post-mortem INC-4")

    answer = await http("GET", f"/wiki/api/v2/pages/{page.id}", params={"expand": "body.storage"})

    assert answer.status == 200  # Confluence ignores it: the client silently gets no body
    assert answer.body["body"] == {}
    assert _kinds(confluence) == [("getPageById", "unknown-query")]
    confluence.violations.clear()


async def test_wrong_credentials_answer_401(confluence: SandboxConfluence, http: Http) -> None:
    answer = await http("GET", "/wiki/api/v2/spaces", password="not-the-token")

    assert answer.status == 401
    assert confluence.requests[-1].account_id is None


async def test_an_injected_429_answers_once_with_retry_after(
    confluence: SandboxConfluence, http: Http
) -> None:
    confluence.inject_status(r"/spaces$", 429, retry_after=7)

    limited = await http("GET", "/wiki/api/v2/spaces")
    then = await http("GET", "/wiki/api/v2/spaces")

    assert (limited.status, limited.headers["Retry-After"]) == (429, "7")
    assert then.status == 200


async def test_a_rate_limit_storm_and_an_outage_last_until_ended(
    confluence: SandboxConfluence, http: Http
) -> None:
    confluence.start_outage(429, retry_after=30)
    storm = [await http("GET", "/wiki/api/v2/spaces") for _ in range(3)]
    confluence.start_outage(503)
    down = await http("GET", "/wiki/api/v2/spaces")
    confluence.end_outage()
    up = await http("GET", "/wiki/api/v2/spaces")

    assert [(a.status, a.headers["Retry-After"]) for a in storm] == [(429, "30")] * 3
    assert down.status == 503
    assert up.status == 200


async def test_a_delayed_request_signals_its_arrival_before_it_is_handled(
    confluence: SandboxConfluence, http: Http
) -> None:
    page = confluence.create_page_as(confluence.bot, "PM", "Post-mortem INC-5", "<p>a</p>")
    alice = confluence.add_user("Alice", email="alice@example.com")
    slow = confluence.delay(0.3, rf"/pages/{page.id}$", method="PUT")
    update = {
        "id": page.id,
        "status": "current",
        "title": page.title,
        "body": storage("<p>bot</p>"),
        "version": {"number": 2},
    }

    in_flight = asyncio.create_task(http("PUT", f"/wiki/api/v2/pages/{page.id}", json_body=update))
    await asyncio.wait_for(slow.arrived.wait(), 5)
    confluence.edit_as(alice, page.id, body="<p>alice</p>")  # lands first
    answer = await in_flight

    assert answer.status == 409
    assert confluence.page(page.id).body == "<p>alice</p>"


async def test_a_stopped_sandbox_refuses_connections_and_comes_back_on_the_same_port(
    confluence: SandboxConfluence, http: Http
) -> None:
    base_url = confluence.base_url
    await confluence.stop()

    with pytest.raises(aiohttp.ClientConnectionError):
        await http("GET", "/wiki/api/v2/spaces")

    await confluence.start()
    assert confluence.base_url == base_url
    assert (await http("GET", "/wiki/api/v2/spaces")).status == 200


async def test_the_sandbox_catches_what_atlassian_python_api_does_wrong(
    confluence: SandboxConfluence,
) -> None:
    """INTEGRATION_NOTES §3.2, observed: `ConfluenceV2` 5.0.5 asks for `body-format=none`, posts
    labels and comments to paths v2 does not have, reads children from a path this spec lacks and
    updates without `status`; its v1 mode adds labels without the required `prefix`."""
    site = confluence.wiki_url
    bot = confluence.bot
    page = confluence.create_page_as(bot, "PM", "Post-mortem INC-6", "<p>a</p>")

    def drive() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            v2 = ConfluenceV2(url=site, username=bot.email, password=bot.api_token, timeout=5)
            v1_mode = ConfluenceV2(
                url=site, username=bot.email, password=bot.api_token, timeout=5, api_version=1
            )
            legacy = Confluence(  # type: ignore[no-untyped-call]
                url=site, username=bot.email, password=bot.api_token, timeout=5
            )
        calls = (
            lambda: v2.get_pages(space_id=confluence.space.id, title=page.title),
            lambda: v2.update_page(page.id, title=page.title, body="<p>b</p>", version=1),
            lambda: v2.add_page_label(page.id, "ready"),
            lambda: v2.create_page_footer_comment(page.id, "<p>c</p>"),
            lambda: v2.get_child_pages(confluence.space.homepage_id),
            lambda: v1_mode.add_label(page.id, "ready"),
        )
        for call in calls:
            with pytest.raises(Exception):  # noqa: B017 - requests' HTTPError, any shape
                call()
        legacy.set_page_label(page.id, "ready")  # the server-style v1 class sends a prefix: fine

    await asyncio.to_thread(drive)

    found = {(v.operation.split(" ")[0], v.kind): v.detail for v in confluence.violations}
    assert "'none' is not one of" in found["getPages", "request"]
    assert "'status' is a required property" in found["updatePage", "request"]
    assert "is not valid under any of the given schemas" in found["addLabelsToContent", "request"]
    assert sorted(v.operation for v in confluence.violations if v.kind == "unknown-path") == [
        f"GET /wiki/api/v2/pages/{confluence.space.homepage_id}/direct-children",
        "POST /wiki/api/v2/comments",
        f"POST /wiki/api/v2/pages/{page.id}/labels",
    ]
    assert [lab.name for lab in confluence.page(page.id).labels] == ["ready"]
    confluence.violations.clear()
