"""``firefighter check`` for Confluence: does the catalog's ``confluence`` section match the site?

The space must exist and be visible to the bot's account, the parent page must exist in it, and
``ready_via: jira_status`` needs Jira. Each mismatch is reported at its place in the catalog (field
path, then file and line via ``bot.config.locate_problems``), so a typo is found before an incident
needs its post-mortem, not during one. The template itself is checked when the catalog is loaded
(``bot.postmortem.template_problems``). Read-only: two or three requests.
"""

from __future__ import annotations

from bot.config import Catalog, Loc
from bot.ports import Docs, DocsError

PROBE_TITLE = "FireFighter configuration check"
"""A title looked up (never written) to learn whether the space exists."""


async def confluence_problems(
    catalog: Catalog, docs: Docs, *, jira_enabled: bool
) -> list[tuple[Loc, str]]:
    """Mismatches between the catalog and the Confluence site, by catalog field path."""
    section = catalog.confluence
    problems: list[tuple[Loc, str]] = []
    if section.ready_via == "jira_status" and not jira_enabled:
        problems.append(
            (("confluence", "ready_via"), "jira_status needs Jira, which is not configured")
        )
    if not section.space_key:
        problems.append(
            (("confluence",), "space_key is not set: say which space post-mortems go to")
        )
        return problems
    try:
        await docs.find_page(section.space_key, PROBE_TITLE)
    except DocsError as error:
        if error.code == "not_found":
            problems.append(
                (
                    ("confluence", "space_key"),
                    f"Confluence has no space {section.space_key} "
                    "(or the bot's account cannot see it)",
                )
            )
        else:
            problems.append((("confluence",), f"cannot use Confluence: {error}"))
        return problems
    if section.parent_page_id:
        try:
            parent = await docs.page(section.parent_page_id)
        except DocsError as error:
            return [*problems, (("confluence",), f"cannot use Confluence: {error}")]
        if parent is None:
            problems.append(
                (
                    ("confluence", "parent_page_id"),
                    f"Confluence has no page {section.parent_page_id} "
                    "(or the bot's account cannot see it)",
                )
            )
        elif "/spaces/" in parent.ref.url and f"/spaces/{section.space_key}/" not in (
            parent.ref.url
        ):
            problems.append(
                (
                    ("confluence", "parent_page_id"),
                    f"page {section.parent_page_id} ({parent.ref.title}) is not in the space "
                    f"{section.space_key}",
                )
            )
    return problems
