"""``ConfluenceDocs`` (the ``Docs`` port) against the sandbox Confluence: every request it makes is
validated against Confluence's v2 (and, for the label write, v1) specs; a test fails at teardown
if any broke the contract."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from bot.ports import DocsError, PageRef
from integrations.confluence import ConfluenceDocs
from sandbox.confluence import SandboxConfluence

SKELETON = "<h1>Summary</h1><p>Checkout failed for 40&nbsp;% of users.</p><h1>Root cause</h1>"


@pytest_asyncio.fixture
async def confluence() -> AsyncIterator[SandboxConfluence]:
    async with SandboxConfluence(space_key="PM") as sandbox:
        yield sandbox
        sandbox.assert_no_violations()


def adapter_for(sandbox: SandboxConfluence, *, timeout: float = 5.0) -> ConfluenceDocs:
    return ConfluenceDocs(
        sandbox.base_url, sandbox.bot.email, sandbox.bot.api_token, timeout=timeout
    )


@pytest_asyncio.fixture
async def docs(confluence: SandboxConfluence) -> AsyncIterator[ConfluenceDocs]:
    adapter = adapter_for(confluence)
    yield adapter
    await adapter.close()


async def _eventually(condition: Callable[[], object], within: float = 5.0) -> None:
    """Poll the sandbox's state until ``condition`` holds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# -- creating -----------------------------------------------------------------------------------


async def test_a_page_is_created_under_its_parent_with_its_body(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    parent = confluence.create_page_as(confluence.bot, "PM", "Incidents 2026")

    ref = await docs.create_page("PM", "Post-mortem INC-42", SKELETON, parent_id=parent.id)

    page = confluence.page(ref.id)
    assert (ref.created, ref.version, ref.title) == (True, 1, "Post-mortem INC-42")
    assert page.parent_id == parent.id
    assert page.body == SKELETON
    assert ref.url == f"{confluence.wiki_url}/spaces/PM/pages/{ref.id}/Post-mortem+INC-42"
    assert docs.page_url("PM", ref.id) == f"{confluence.base_url}/wiki/spaces/PM/pages/{ref.id}"


async def test_a_page_without_a_parent_goes_under_the_space_homepage(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    ref = await docs.create_page("PM", "Post-mortem INC-43", SKELETON)

    assert confluence.page(ref.id).parent_id == confluence.space.homepage_id


async def test_creating_the_same_title_twice_yields_one_page(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    first = await docs.create_page("PM", "Post-mortem INC-44", SKELETON)
    second = await docs.create_page("PM", "Post-mortem INC-44", "<p>another skeleton</p>")

    assert (first.created, second.created) == (True, False)
    assert second.id == first.id
    assert len(confluence.pages_titled("Post-mortem INC-44")) == 1
    assert confluence.page(first.id).body == SKELETON  # the existing page is left as it is
    assert len(confluence.calls("createPage")) == 1


async def test_two_creations_at_once_leave_one_page(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    refs = await asyncio.gather(
        docs.create_page("PM", "Post-mortem INC-45", SKELETON),
        docs.create_page("PM", "Post-mortem INC-45", SKELETON),
    )

    assert refs[0].id == refs[1].id
    assert sorted(r.created for r in refs) == [False, True]
    assert len(confluence.pages_titled("Post-mortem INC-45")) == 1
    # Both looked first, both posted; Confluence refused the second as a duplicate title.
    assert [c.status for c in confluence.calls("createPage")] == [200, 400]


async def test_a_creation_whose_answer_was_lost_is_found_on_retry(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    impatient = adapter_for(confluence, timeout=0.2)
    confluence.delay(0.5, r"/wiki/api/v2/pages$", method="POST")  # slower than the timeout
    try:
        with pytest.raises(DocsError) as lost:
            await impatient.create_page("PM", "Post-mortem INC-46", SKELETON)
    finally:
        await impatient.close()
    assert (lost.value.code, lost.value.transient) == ("network", True)
    await _eventually(lambda: confluence.pages_titled("Post-mortem INC-46"))

    retried = await docs.create_page("PM", "Post-mortem INC-46", SKELETON)

    assert retried.created is False
    assert [p.id for p in confluence.pages_titled("Post-mortem INC-46")] == [retried.id]


async def test_an_unknown_space_is_not_found(docs: ConfluenceDocs) -> None:
    with pytest.raises(DocsError) as raised:
        await docs.create_page("NOPE", "Post-mortem INC-47", SKELETON)

    assert (raised.value.code, raised.value.transient) == ("not_found", False)
    assert "NOPE" in raised.value.detail


async def test_a_malformed_storage_body_is_refused_as_invalid(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    with pytest.raises(DocsError) as raised:
        await docs.create_page("PM", "Post-mortem INC-48", "<p>Impact <b>high</p>")

    assert (raised.value.code, raised.value.transient) == ("invalid", False)
    assert "Error parsing xhtml" in raised.value.detail
    assert [(v.operation, v.kind) for v in confluence.violations] == [
        ("createPage", "storage-format")
    ]
    confluence.violations.clear()  # caused on purpose


# -- reading ------------------------------------------------------------------------------------


async def test_a_page_is_read_with_its_version_body_labels_and_url(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    ref = await docs.create_page("PM", "Post-mortem INC-50", SKELETON)
    alice = confluence.add_user("Alice", email="alice@example.com")
    confluence.edit_as(alice, ref.id, body=SKELETON + "<p>DNS</p>")
    confluence.add_label_as(alice, ref.id, "post-mortem")
    confluence.add_label_as(alice, ref.id, "favourite", prefix="my")  # personal: not a page label

    page = await docs.page(ref.id)

    assert page is not None
    assert (page.ref.id, page.ref.title, page.ref.version) == (ref.id, ref.title, 2)
    assert page.ref.url == ref.url
    assert page.body == SKELETON + "<p>DNS</p>"
    assert page.labels == ("post-mortem",)
    assert (page.space_id, page.parent_id) == (confluence.space.id, confluence.space.homepage_id)
    assert await docs.find_page("PM", "Post-mortem INC-50") == PageRef(
        ref.id, ref.title, ref.url, version=2, created=False
    )


async def test_every_label_is_read_when_a_page_has_more_than_confluence_embeds(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    ref = await docs.create_page("PM", "Post-mortem INC-51", SKELETON)
    names = [f"tag-{n:02d}" for n in range(60)]
    for name in names:
        confluence.add_label_as(confluence.bot, ref.id, name)

    page = await docs.page(ref.id)

    assert page is not None
    assert page.labels == tuple(names)
    assert len(confluence.calls("getPageLabels")) == 1


async def test_a_deleted_page_reads_as_none(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    ref = await docs.create_page("PM", "Post-mortem INC-52", SKELETON)
    confluence.delete_as(confluence.add_user("Alice", email="alice@example.com"), ref.id)

    assert await docs.page(ref.id) is None
    assert await docs.find_page("PM", "Post-mortem INC-52") is None


# -- updating -----------------------------------------------------------------------------------


async def test_an_update_bumps_the_version_and_an_unchanged_body_is_not_written(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    ref = await docs.create_page("PM", "Post-mortem INC-53", SKELETON)
    resynced = SKELETON + "<h2>Timeline</h2><p>10:02 declared</p>"

    after_change = await docs.update_body(ref.id, resynced, message="re-sync")
    after_same = await docs.update_body(ref.id, resynced)

    assert (after_change, after_same) == (2, 2)
    assert len(confluence.calls("updatePage")) == 1
    page = confluence.page(ref.id)
    assert (page.body, page.title, page.version.message) == (resynced, ref.title, "re-sync")
    assert page.version.author_id == confluence.bot.account_id


async def test_a_body_that_only_differs_in_serialisation_is_not_rewritten(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    ref = await docs.create_page("PM", "Post-mortem INC-54", '<p class="a" title="b">x<br/></p>')

    version = await docs.update_body(ref.id, "<p title='b' class='a'>x<br></br></p>")

    assert version == 1
    assert confluence.calls("updatePage") == []


async def test_an_update_based_on_a_stale_version_is_a_conflict(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    ref = await docs.create_page("PM", "Post-mortem INC-55", SKELETON)
    alice = confluence.add_user("Alice", email="alice@example.com")
    confluence.edit_as(alice, ref.id, body="<p>Alice's analysis</p>")

    with pytest.raises(DocsError) as raised:
        await docs.update_body(ref.id, SKELETON + "<p>re-sync</p>", if_version=ref.version)

    assert (raised.value.code, raised.value.transient) == ("conflict", False)
    assert confluence.page(ref.id).body == "<p>Alice's analysis</p>"
    assert confluence.calls("updatePage") == []


async def test_a_page_edited_between_read_and_write_is_a_transient_conflict(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    ref = await docs.create_page("PM", "Post-mortem INC-56", SKELETON)
    alice = confluence.add_user("Alice", email="alice@example.com")
    in_flight = confluence.delay(0.2, rf"/pages/{ref.id}$", method="PUT")

    update = asyncio.create_task(docs.update_body(ref.id, SKELETON + "<p>re-sync</p>"))
    await asyncio.wait_for(in_flight.arrived.wait(), 5)
    confluence.edit_as(alice, ref.id, body="<p>Alice's analysis</p>")
    with pytest.raises(DocsError) as raised:
        await update

    assert (raised.value.code, raised.value.transient) == ("conflict", True)
    assert "Current version is: 2" in raised.value.detail
    assert confluence.page(ref.id).body == "<p>Alice's analysis</p>"
    # A retry re-reads version 2 and applies the change on top.
    assert await docs.update_body(ref.id, SKELETON + "<p>re-sync</p>") == 3


# -- labels -------------------------------------------------------------------------------------


async def test_labels_are_added_and_read_for_the_ready_check(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    ref = await docs.create_page("PM", "Post-mortem INC-57", SKELETON)
    alice = confluence.add_user("Alice", email="alice@example.com")

    await docs.add_label(ref.id, "Post-Mortem")
    await docs.add_label(ref.id, "post-mortem")  # already there: no-op
    ready_before = await docs.has_label(ref.id, "ready")
    confluence.add_label_as(alice, ref.id, "ready")  # Alice marks the post-mortem ready
    ready_after = await docs.has_label(ref.id, "READY")

    assert (ready_before, ready_after) == (False, True)
    assert [lab.name for lab in confluence.page(ref.id).labels] == ["post-mortem", "ready"]
    assert [c.api for c in confluence.calls("addLabelsToContent")] == ["v1", "v1"]


async def test_a_bot_that_may_only_read_cannot_label(confluence: SandboxConfluence) -> None:
    ref = confluence.create_page_as(confluence.bot, "PM", "Post-mortem INC-58")
    reader = confluence.add_user("Reader bot", email="reader@example.com", can_write=False)
    docs = ConfluenceDocs(confluence.base_url, reader.email, reader.api_token, timeout=5)
    try:
        with pytest.raises(DocsError) as raised:
            await docs.add_label(ref.id, "ready")
    finally:
        await docs.close()

    assert (raised.value.code, raised.value.transient) == ("forbidden", False)


async def test_wrong_credentials_are_forbidden(confluence: SandboxConfluence) -> None:
    docs = ConfluenceDocs(confluence.base_url, confluence.bot.email, "revoked", timeout=5)
    try:
        with pytest.raises(DocsError) as raised:
            await docs.find_page("PM", "Post-mortem INC-59")
    finally:
        await docs.close()

    assert (raised.value.code, raised.value.transient) == ("forbidden", False)


# -- faults -------------------------------------------------------------------------------------


async def test_a_429_storm_returns_at_once_as_transient_with_retry_after(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    confluence.start_outage(429, retry_after=30)
    started = time.monotonic()

    with pytest.raises(DocsError) as raised:
        await docs.create_page("PM", "Post-mortem INC-60", SKELETON)

    elapsed = time.monotonic() - started
    assert (raised.value.code, raised.value.transient) == ("ratelimited", True)
    assert raised.value.retry_after == 30.0
    assert len(confluence.requests) == 1  # no retry of its own: backoff is the outbox's
    assert elapsed < 5  # nowhere near the 30 s Confluence asked for


async def test_a_single_429_fails_that_call_only(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    confluence.inject_status(r"/spaces$", 429, retry_after=2)

    with pytest.raises(DocsError) as raised:
        await docs.find_page("PM", "Post-mortem INC-61")
    found = await docs.find_page("PM", "Post-mortem INC-61")

    assert (raised.value.code, raised.value.retry_after) == ("ratelimited", 2.0)
    assert found is None


async def test_an_outage_is_unavailable_and_passes(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    confluence.start_outage(503)
    with pytest.raises(DocsError) as raised:
        await docs.create_page("PM", "Post-mortem INC-62", SKELETON)
    confluence.end_outage()

    assert (raised.value.code, raised.value.transient) == ("unavailable", True)
    assert (await docs.create_page("PM", "Post-mortem INC-62", SKELETON)).created is True


async def test_an_unreachable_confluence_is_a_network_error(
    confluence: SandboxConfluence, docs: ConfluenceDocs
) -> None:
    await confluence.stop()
    try:
        with pytest.raises(DocsError) as raised:
            await docs.find_page("PM", "Post-mortem INC-63")
    finally:
        await confluence.start()

    assert (raised.value.code, raised.value.transient) == ("network", True)
    assert await docs.find_page("PM", "Post-mortem INC-63") is None


async def test_a_slow_answer_times_out_as_a_network_error(confluence: SandboxConfluence) -> None:
    docs = adapter_for(confluence, timeout=0.2)
    confluence.delay(0.5, r"/spaces$")
    try:
        with pytest.raises(DocsError) as raised:
            await docs.find_page("PM", "Post-mortem INC-64")
    finally:
        await docs.close()

    assert (raised.value.code, raised.value.transient) == ("network", True)
