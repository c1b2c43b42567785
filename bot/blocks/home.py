"""The App Home tab: filters and the "Declare incident" button, the last-30-days panel, the
viewer's incidents, one page of every open incident they may see grouped by priority, then the
recently closed ones.

The filters and the page are the viewer's own state: they travel in the view's
``private_metadata`` (``HomeFilters.to_metadata``), so a select or "Show more" re-renders the same
Home with one thing changed. Slack allows 100 blocks in a Home view: a page is small enough to fit,
and the builder still stops before the limit if it is given more."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from bot.blocks.ids import ActionId, BlockId, CallbackId
from bot.blocks.text import duration, escape, local_time, truncate
from bot.domain.incident import Incident, Priority
from bot.domain.metrics import PeriodSummary

View = dict[str, Any]
MAX_BLOCKS = 100
MAX_CATEGORY_OPTIONS = 99
"""A static select holds 100 options; one is "All categories"."""
ALL = "all"
MENU_MODALS: tuple[tuple[str, str], ...] = (
    ("update", "Update"),
    ("note", "Add note"),
    ("close", "Close"),
)
"""The overflow's modals (handled as ``ActionId.OPEN_MODAL``): modal kind, label."""
CHANNEL_OPTION = "channel"


@dataclass(frozen=True, slots=True)
class PriorityStyle:
    """How a priority is shown: ``:red_circle: P1 · Critical``."""

    emoji: str
    name: str

    def label(self, priority: Priority) -> str:
        emoji = f"{self.emoji} " if self.emoji else ""
        return f"{emoji}{priority.label} · {self.name}"


def style_of(styles: Mapping[Priority, PriorityStyle], priority: Priority) -> PriorityStyle:
    """The configured style of ``priority``, or its bare label when the catalog has none."""
    return styles.get(priority, PriorityStyle("", priority.label))


@dataclass(frozen=True, slots=True)
class HomeFilters:
    """What the viewer chose to see: a category, a priority, only theirs; and which page."""

    category: str | None = None
    priority: Priority | None = None
    mine: bool = False
    page: int = 0

    @property
    def active(self) -> bool:
        return bool(self.category or self.priority is not None or self.mine)

    def to_metadata(self) -> str:
        return json.dumps(
            {
                "category": self.category,
                "priority": None if self.priority is None else int(self.priority),
                "mine": self.mine,
                "page": self.page,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_metadata(cls, text: str | None) -> HomeFilters:
        """The filters a Home view carries (defaults for anything missing or malformed)."""
        try:
            data = json.loads(text or "{}")
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        category = data.get("category")
        priority = data.get("priority")
        page = data.get("page")
        return cls(
            category=_category(category) if isinstance(category, str) else None,
            priority=Priority(priority) if priority in {int(p) for p in Priority} else None,
            mine=data.get("mine") is True,
            page=_page(page) if isinstance(page, int) and page >= 0 else 0,
        )


CATEGORY_KEY_MAX_LENGTH = 100
"""The longest category key the database holds: a longer filter value (a forged or corrupted
click) matches nothing, and would fail the query's validation, so it reads as "all"."""
LAST_PAGE = 10_000
"""Far past any real list: a larger page number (forged) would overflow the query's offset."""


def _category(value: str) -> str | None:
    return value if value and len(value) <= CATEGORY_KEY_MAX_LENGTH else None


def _page(page: int) -> int:
    return min(page, LAST_PAGE)


def apply_home_action(filters: HomeFilters, action: Mapping[str, Any]) -> HomeFilters:
    """The filters after a click on one of the Home's selects or paging buttons. Changing a
    filter goes back to the first page."""
    action_id = action.get("action_id")
    chosen = (action.get("selected_option") or {}).get("value")
    if action_id == ActionId.HOME_FILTER_CATEGORY:
        category = None if chosen in (None, ALL) else _category(str(chosen))
        return replace(filters, category=category, page=0)
    if action_id == ActionId.HOME_FILTER_PRIORITY:
        try:
            priority = None if chosen in (None, ALL) else Priority.parse(str(chosen))
        except ValueError:  # not an option the Home offers (a stale or forged click): all
            priority = None
        return replace(filters, priority=priority, page=0)
    if action_id == ActionId.HOME_FILTER_MINE:
        return replace(filters, mine=chosen == "mine", page=0)
    if action_id == ActionId.HOME_SHOW_MORE:
        value = str(action.get("value") or "")
        page = int(value) if value.isascii() and value.isdecimal() else filters.page + 1
        return replace(filters, page=_page(page))
    if action_id == ActionId.HOME_FIRST_PAGE:
        return replace(filters, page=0)
    return filters


@dataclass(frozen=True, slots=True)
class HomePage:
    """What the viewer may see, already filtered by the access rules."""

    viewer_id: str
    mine: Sequence[Incident]
    open: Sequence[Incident]
    recently_closed: Sequence[Incident]
    commanders: Mapping[int, str] = field(default_factory=dict)
    roles_of_viewer: Mapping[int, Sequence[str]] = field(default_factory=dict)
    filters: HomeFilters = field(default_factory=HomeFilters)
    has_more: bool = False
    page_size: int = 20
    metrics: PeriodSummary | None = None


def home_view(
    page: HomePage,
    *,
    styles: Mapping[Priority, PriorityStyle],
    tz: ZoneInfo,
    now: datetime,
    command: str,
    categories: Sequence[tuple[str, str]] = (),
) -> View:
    """The Home of ``page``; ``categories`` are the catalog's (key, name) for the filter."""
    filters = page.filters
    head: list[dict[str, Any]] = [
        {
            "type": "header",
            "block_id": BlockId.HOME_HEADER,
            "text": {"type": "plain_text", "text": ":fire_engine: FireFighter"},
        },
        _context(f"Incidents you can see, as of {local_time(now, tz)}."),
        _controls(filters, styles, categories),
    ]
    if page.metrics is not None:
        head += _metrics(page.metrics, styles)
    quiet = not (page.mine or page.open or page.recently_closed)
    if quiet and not filters.active and filters.page == 0:
        blocks = [
            *head,
            {
                "type": "section",
                "block_id": BlockId.HOME_EMPTY,
                "text": {
                    "type": "mrkdwn",
                    "text": "*All quiet.* There is no open incident you can see right now.",
                },
            },
            _context(f"Type `{command} help` in any channel to see what you can do."),
        ]
        return _view(blocks, filters)

    # Sections in order; each is (title block, items). Items may be cut to fit MAX_BLOCKS.
    sections: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if page.mine and not filters.mine:
        sections.append(
            (
                _title(BlockId.HOME_MINE, "Your incidents"),
                [_incident(i, "mine", page, styles, now, with_roles=True) for i in page.mine],
            )
        )
    open_items: list[dict[str, Any]] = []
    for priority, group in groupby(page.open, key=lambda i: i.priority):
        open_items.append(_context(f"*{style_of(styles, priority).label(priority)}*"))
        open_items += [
            _incident(i, "open", page, styles, now, with_roles=filters.mine) for i in group
        ]
    if not page.open:
        if filters.page:
            empty = "No more open incidents on this page."
        elif filters.active:
            empty = f"No open incident matches these filters ({_describe(filters, styles)})."
        else:
            empty = "No open incident you can see."
        open_items.append(_context(empty, block_id=BlockId.HOME_EMPTY))
    first = filters.page * page.page_size + 1
    shown = (
        f" {first} to {first + len(page.open) - 1}"
        if page.open and (page.has_more or filters.page)
        else ""
    )
    title = "Your open incidents" if filters.mine else "Open incidents"
    sections.append((_title(BlockId.HOME_OPEN, f"{title}{shown}"), open_items))
    if page.recently_closed:
        sections.append(
            (
                _title(BlockId.HOME_CLOSED, "Recently closed"),
                [_closed(i, styles, tz) for i in page.recently_closed],
            )
        )

    paging = _paging(page)
    budget = MAX_BLOCKS - len(head) - (1 if paging else 0) - 1  # 1: the "not shown" note
    blocks = list(head)
    omitted = 0
    for title_block, items in sections:
        room = budget - (len(blocks) - len(head)) - 2
        if room <= 0:
            omitted += len(items)
            continue
        blocks += [{"type": "divider"}, title_block, *items[:room]]
        omitted += max(0, len(items) - room)
        if title_block["block_id"] == BlockId.HOME_OPEN and paging:
            blocks.append(paging)
    if omitted:
        blocks.append(
            _context(
                f"{omitted} more not shown here: use `{command} list` to see them all.",
                block_id=BlockId.HOME_MORE,
            )
        )
    return _view(blocks, filters)


def _view(blocks: list[dict[str, Any]], filters: HomeFilters) -> View:
    return {
        "type": "home",
        "callback_id": CallbackId.HOME,
        "private_metadata": filters.to_metadata(),
        "blocks": blocks,
    }


def _title(block_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "section",
        "block_id": block_id,
        "text": {"type": "mrkdwn", "text": f"*{text}*"},
    }


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": truncate(text, 75)}, "value": value}


def _select(
    action_id: str, options: list[dict[str, Any]], chosen: str, placeholder: str
) -> dict[str, Any]:
    initial = next((o for o in options if o["value"] == chosen), options[0])
    return {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": {"type": "plain_text", "text": placeholder},
        "options": options,
        "initial_option": initial,
    }


def _controls(
    filters: HomeFilters,
    styles: Mapping[Priority, PriorityStyle],
    categories: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    known = list(categories[:MAX_CATEGORY_OPTIONS])
    if filters.category and filters.category not in {key for key, _ in known}:
        name = dict(categories).get(filters.category, filters.category)
        known = [*known[: MAX_CATEGORY_OPTIONS - 1], (filters.category, name)]
    category_options = [_option("All categories", ALL)] + [_option(n, k) for k, n in known]
    priority_options = [_option("All priorities", ALL)] + [
        _option(style_of(styles, p).label(p), p.label) for p in Priority
    ]
    mine_options = [_option("Everyone's incidents", "all"), _option("Only mine", "mine")]
    return {
        "type": "actions",
        "block_id": BlockId.HOME_CONTROLS,
        "elements": [
            {
                "type": "button",
                "action_id": ActionId.HOME_DECLARE,
                "style": "danger",
                "text": {"type": "plain_text", "text": "Declare incident"},
            },
            _select(
                ActionId.HOME_FILTER_CATEGORY,
                category_options,
                filters.category or ALL,
                "Category",
            ),
            _select(
                ActionId.HOME_FILTER_PRIORITY,
                priority_options,
                filters.priority.label if filters.priority is not None else ALL,
                "Priority",
            ),
            _select(
                ActionId.HOME_FILTER_MINE, mine_options, "mine" if filters.mine else "all", "Whose"
            ),
        ],
    }


def _describe(filters: HomeFilters, styles: Mapping[Priority, PriorityStyle]) -> str:
    parts = []
    if filters.category:
        parts.append(f"category {escape(filters.category)}")
    if filters.priority is not None:
        parts.append(style_of(styles, filters.priority).label(filters.priority))
    if filters.mine:
        parts.append("only yours")
    return ", ".join(parts)


def _short(delta: timedelta | None) -> str:
    return "—" if delta is None else duration(delta)


def _metrics(
    summary: PeriodSummary, styles: Mapping[Priority, PriorityStyle]
) -> list[dict[str, Any]]:
    counts = " · ".join(f"{p.label} {summary.count_by_priority.get(p, 0)}" for p in Priority)
    fields = [
        f"*Declared*\n{summary.total} ({counts})",
        f"*Median time to acknowledge*\n{_short(summary.median_time_to_acknowledge)}",
        f"*Median time to mitigate*\n{_short(summary.median_time_to_mitigate)}",
        f"*Open post-mortems*\n{summary.open_postmortems}",
        "*Overdue follow-ups*\n"
        + ("—" if summary.overdue_followups is None else str(summary.overdue_followups)),
    ]
    notes = ["Open post-mortems and overdue follow-ups: as of now, whatever the incident's age."]
    if summary.overdue_followups is None:
        notes.append(
            "Overdue follow-ups show “—”: follow-ups are Jira issues, and Jira is not configured."
        )
    if summary.partial:
        notes.append("Figures of the most recent incidents only (the period holds more).")
    return [
        {
            "type": "section",
            "block_id": BlockId.HOME_METRICS,
            "text": {"type": "mrkdwn", "text": "*Last 30 days*"},
            "fields": [{"type": "mrkdwn", "text": text} for text in fields],
        },
        _context(" ".join(notes)),
    ]


def _paging(page: HomePage) -> dict[str, Any] | None:
    buttons: list[dict[str, Any]] = []
    if page.has_more:
        buttons.append(
            {
                "type": "button",
                "action_id": ActionId.HOME_SHOW_MORE,
                "text": {"type": "plain_text", "text": "Show more"},
                "value": str(page.filters.page + 1),
            }
        )
    if page.filters.page:
        buttons.append(
            {
                "type": "button",
                "action_id": ActionId.HOME_FIRST_PAGE,
                "text": {"type": "plain_text", "text": "Back to the first page"},
                "value": "0",
            }
        )
    if not buttons:
        return None
    return {"type": "actions", "block_id": BlockId.HOME_PAGING, "elements": buttons}


def _menu(incident: Incident) -> dict[str, Any]:
    options = [_option(label, f"{incident.id}:{kind}") for kind, label in MENU_MODALS]
    if incident.channel_id:
        option = _option("Open channel", f"{incident.id}:{CHANNEL_OPTION}")
        option["url"] = f"https://slack.com/app_redirect?channel={incident.channel_id}"
        options.append(option)
    return {"type": "overflow", "action_id": ActionId.HOME_INCIDENT_MENU, "options": options}


def _incident(
    incident: Incident,
    section: str,
    page: HomePage,
    styles: Mapping[Priority, PriorityStyle],
    now: datetime,
    *,
    with_roles: bool,
) -> dict[str, Any]:
    style = style_of(styles, incident.priority)
    where = f"<#{incident.channel_id}>" if incident.channel_id else "no channel"
    lock = ":lock: " if incident.private else ""
    commander = page.commanders.get(incident.id)
    facts = [
        incident.status.label,
        f"open for {duration(now - incident.created_at)}",
        f"commander <@{commander}>" if commander else "no commander",
        where,
    ]
    if with_roles and page.roles_of_viewer.get(incident.id):
        facts.append("you: " + ", ".join(page.roles_of_viewer[incident.id]))
    title = escape(truncate(incident.title, 128))
    text = (
        f"{lock}*{incident.reference} {title}*\n{style.label(incident.priority)} · "
        + " · ".join(facts)
    )
    return {
        "type": "section",
        "block_id": f"{BlockId.HOME_INCIDENT_PREFIX}{section}.{incident.id}",
        "text": {"type": "mrkdwn", "text": truncate(text, 3000)},
        "accessory": _menu(incident),
    }


def _closed(
    incident: Incident, styles: Mapping[Priority, PriorityStyle], tz: ZoneInfo
) -> dict[str, Any]:
    style = style_of(styles, incident.priority)
    closed_at = incident.milestones.closed_at
    when = f"closed {local_time(closed_at, tz)}" if closed_at else "closed"
    title = escape(truncate(incident.title, 128))
    return _context(f"{incident.reference} {title} · {style.label(incident.priority)} · {when}")


def _context(text: str, *, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
    if block_id:
        block["block_id"] = block_id
    return block
