"""The sandbox Confluence's state over plain HTTP: spaces, pages, versions, labels, comments."""

from __future__ import annotations

from typing import Any

from sandbox.confluence import SandboxConfluence
from tests.sandbox.confluence.conftest import Http, storage


async def _create(http: Http, title: str, body: str = "<p>x</p>", **extra: str) -> dict[str, Any]:
    payload = {
        "spaceId": http.sandbox.space.id,
        "status": "current",
        "title": title,
        "body": storage(body),
        **extra,
    }
    answer = await http("POST", "/wiki/api/v2/pages", json_body=payload)
    assert answer.status == 200, answer.body
    return dict(answer.body)


async def test_a_space_is_found_by_key_with_its_homepage(
    confluence: SandboxConfluence, http: Http
) -> None:
    answer = await http("GET", "/wiki/api/v2/spaces", params=[("keys", "PM")])

    assert answer.status == 200
    [space] = answer.body["results"]
    assert (space["key"], space["name"]) == ("PM", "Post-mortems")
    homepage = confluence.page(space["homepageId"])
    assert homepage.title == "Post-mortems Home"
    by_id = await http("GET", f"/wiki/api/v2/spaces/{space['id']}")
    assert by_id.body["key"] == "PM"
    assert by_id.body["_links"]["base"] == confluence.wiki_url


async def test_a_page_without_a_parent_goes_under_the_space_homepage(
    confluence: SandboxConfluence, http: Http
) -> None:
    page = await _create(http, "Post-mortem INC-1", "<h1>Summary</h1><p>Checkout down</p>")

    assert page["parentId"] == confluence.space.homepage_id
    assert page["version"]["number"] == 1
    assert page["body"]["storage"]["value"] == "<h1>Summary</h1><p>Checkout down</p>"
    assert page["_links"]["webui"] == f"/spaces/PM/pages/{page['id']}/Post-mortem+INC-1"
    children = await http("GET", f"/wiki/api/v2/pages/{confluence.space.homepage_id}/children")
    assert [c["title"] for c in children.body["results"]] == ["Post-mortem INC-1"]


async def test_a_page_goes_under_the_parent_it_names(
    confluence: SandboxConfluence, http: Http
) -> None:
    parent = confluence.create_page_as(confluence.bot, "PM", "Incidents 2026")

    page = await _create(http, "Post-mortem INC-2", parentId=parent.id)

    assert page["parentId"] == parent.id
    assert [p.title for p in confluence.children(parent.id)] == ["Post-mortem INC-2"]


async def test_a_second_page_with_the_same_title_in_a_space_is_refused(
    confluence: SandboxConfluence, http: Http
) -> None:
    await _create(http, "Post-mortem INC-3")

    again = await http(
        "POST",
        "/wiki/api/v2/pages",
        json_body={
            "spaceId": confluence.space.id,
            "status": "current",
            "title": "post-mortem inc-3",  # titles are unique regardless of case
            "body": storage("<p>y</p>"),
        },
    )

    assert again.status == 400
    assert again.error.startswith("A page with this title already exists")
    assert len(confluence.pages_titled("Post-mortem INC-3", space_key="PM")) == 1


async def test_pages_are_listed_by_space_and_title(
    confluence: SandboxConfluence, http: Http
) -> None:
    page = await _create(http, "Post-mortem INC-4")
    await _create(http, "Post-mortem INC-5")

    found = await http(
        "GET",
        "/wiki/api/v2/pages",
        params=[("space-id", confluence.space.id), ("title", "Post-mortem INC-4")],
    )
    in_space = await http(
        "GET",
        f"/wiki/api/v2/spaces/{confluence.space.id}/pages",
        params={"title": "Post-mortem INC-4", "body-format": "storage"},
    )

    assert [p["id"] for p in found.body["results"]] == [page["id"]]
    assert found.body["results"][0]["body"] == {}  # no body-format asked: no body
    assert [p["body"]["storage"]["value"] for p in in_space.body["results"]] == ["<p>x</p>"]


async def test_lists_are_paged_with_a_cursor_in_links_next(
    confluence: SandboxConfluence, http: Http
) -> None:
    for number in range(3):
        await _create(http, f"Page {number}")

    titles: list[str] = []
    answer = await http(
        "GET", "/wiki/api/v2/pages", params=[("space-id", confluence.space.id), ("limit", "2")]
    )
    while True:
        titles += [p["title"] for p in answer.body["results"]]
        following = answer.body["_links"].get("next")
        if following is None:
            break
        assert 'rel="next"' in answer.headers["Link"]
        answer = await http("GET", following)

    assert titles == ["Post-mortems Home", "Page 0", "Page 1", "Page 2"]


async def test_an_update_must_carry_the_next_version_number(
    confluence: SandboxConfluence, http: Http
) -> None:
    page = await _create(http, "Post-mortem INC-6")
    update = {
        "id": page["id"],
        "status": "current",
        "title": page["title"],
        "body": storage("<p>v2</p>"),
        "version": {"number": 2, "message": "re-sync"},
    }

    first = await http("PUT", f"/wiki/api/v2/pages/{page['id']}", json_body=update)
    stale = await http("PUT", f"/wiki/api/v2/pages/{page['id']}", json_body=update)

    assert first.status == 200
    assert first.body["version"]["number"] == 2
    assert first.body["version"]["message"] == "re-sync"
    assert stale.status == 409
    assert stale.error == "Version must be incremented on update. Current version is: 2"
    assert confluence.page(page["id"]).body == "<p>v2</p>"


async def test_a_person_editing_a_page_makes_a_new_version_by_them(
    confluence: SandboxConfluence, http: Http
) -> None:
    alice = confluence.add_user("Alice", email="alice@example.com")
    page = await _create(http, "Post-mortem INC-7")

    confluence.edit_as(alice, page["id"], body="<p>Root cause: DNS</p>")

    answer = await http(
        "GET", f"/wiki/api/v2/pages/{page['id']}", params={"body-format": "storage"}
    )
    assert answer.body["version"]["number"] == 2
    assert answer.body["version"]["authorId"] == alice.account_id
    assert answer.body["body"]["storage"]["value"] == "<p>Root cause: DNS</p>"


async def test_labels_are_written_through_v1_and_read_through_v2(
    confluence: SandboxConfluence, http: Http
) -> None:
    page = await _create(http, "Post-mortem INC-8")
    alice = confluence.add_user("Alice", email="alice@example.com")

    added = await http(
        "POST",
        f"/wiki/rest/api/content/{page['id']}/label",
        json_body=[{"prefix": "global", "name": "Post-Mortem"}],
    )
    confluence.add_label_as(alice, page["id"], "ready")
    confluence.add_label_as(alice, page["id"], "READY")  # the same label: not added twice
    listed = await http("GET", f"/wiki/api/v2/pages/{page['id']}/labels")
    embedded = await http(
        "GET", f"/wiki/api/v2/pages/{page['id']}", params={"include-labels": "true"}
    )

    assert added.status == 200
    assert [lab["name"] for lab in added.body["results"]] == ["post-mortem"]
    assert [lab["name"] for lab in listed.body["results"]] == ["post-mortem", "ready"]
    assert [lab["name"] for lab in embedded.body["labels"]["results"]] == ["post-mortem", "ready"]
    assert embedded.body["labels"]["meta"]["hasMore"] is False


async def test_a_label_with_a_space_is_refused(confluence: SandboxConfluence, http: Http) -> None:
    page = await _create(http, "Post-mortem INC-9")

    answer = await http(
        "POST",
        f"/wiki/rest/api/content/{page['id']}/label",
        json_body={"prefix": "global", "name": "not ready"},
    )

    assert answer.status == 400
    assert confluence.page(page["id"]).labels == []


async def test_a_reader_may_not_change_pages(confluence: SandboxConfluence, http: Http) -> None:
    page = await _create(http, "Post-mortem INC-10")
    viewer = confluence.add_user("Viewer", email="viewer@example.com", can_write=False)

    label = await http(
        "POST",
        f"/wiki/rest/api/content/{page['id']}/label",
        json_body=[{"prefix": "global", "name": "ready"}],
        as_user=viewer,
    )
    create = await http(
        "POST",
        "/wiki/api/v2/pages",
        json_body={"spaceId": confluence.space.id, "status": "current", "title": "Nope"},
        as_user=viewer,
    )

    assert label.status == 403  # v1 documents 403
    assert create.status == 404  # v2 answers 404 for "may not create here"


async def test_a_deleted_page_answers_404(confluence: SandboxConfluence, http: Http) -> None:
    page = await _create(http, "Post-mortem INC-11")
    alice = confluence.add_user("Alice", email="alice@example.com")

    confluence.delete_as(alice, page["id"])

    answer = await http("GET", f"/wiki/api/v2/pages/{page['id']}")
    assert answer.status == 404
    assert answer.error == "Page not found"


async def test_footer_comments_are_kept_per_page(confluence: SandboxConfluence, http: Http) -> None:
    page = await _create(http, "Post-mortem INC-12")

    created = await http(
        "POST",
        "/wiki/api/v2/footer-comments",
        json_body={"pageId": page["id"], "body": storage("<p>Reviewed</p>")},
    )
    listed = await http(
        "GET",
        f"/wiki/api/v2/pages/{page['id']}/footer-comments",
        params={"body-format": "storage"},
    )

    assert created.status == 201
    assert [c["body"]["storage"]["value"] for c in listed.body["results"]] == ["<p>Reviewed</p>"]


async def test_storage_bodies_may_use_html_entities_and_confluence_macros(
    confluence: SandboxConfluence, http: Http
) -> None:
    body = (
        '<p>Impact&nbsp;&mdash; 40&nbsp;%</p><ac:structured-macro ac:name="toc"/>'
        '<p><ac:link><ri:page ri:content-title="Runbook"/></ac:link></p>'
    )

    page = await _create(http, "Post-mortem INC-13", body)

    assert confluence.page(page["id"]).body == body
