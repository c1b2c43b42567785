"""The post-mortem page, as values: its title and body from the catalog's template filled with the
real incident, the sections the bot keeps up to date, and what the close gate tells people to do.
No I/O here; ``bot.postmortem_effects`` writes to Confluence and ``bot.postmortem_pull`` reads the
page's "ready" state back.

**The template** (``confluence.template``, Confluence storage format) has two kinds of
placeholders, ``{name}``:

- inline ones (``INLINE``: ``{title}``, ``{summary}``, ``{priority}``…) are filled once, when the
  page is written, with the value escaped for XHTML (``storage_text``) — a ``{timeline}`` typed in
  an incident's title stays text, it is never expanded;
- block ones (``BLOCKS``: ``{timeline}``, ``{roles}``, ``{milestones}``…) become *generated
  sections*: a panel macro carrying an anchor named ``firefighter-<name>``. Those are the bot's:
  while the post-mortem is not marked ready, each change of the timeline rewrites them, and only
  them (``replace_sections``). Everything else on the page — root cause, what went well or badly,
  any edit people make outside the panels — is never touched. A panel people delete is not put
  back.

Any other ``{word}`` is an unknown placeholder, refused when the catalog is loaded
(``template_problems``), as is a template that is not well-formed XHTML; other braces are text.
"""

from __future__ import annotations

import hashlib
import html
import html.entities
import json
import re
import xml.dom.minidom
import xml.parsers.expat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.blocks.text import duration, localize_times
from bot.domain.incident import Incident, Milestone, TimelineEntry, TimelineKind
from bot.domain.metrics import METRIC_SPANS, Metric, metric
from bot.domain.milestones import MILESTONE_LABELS

if TYPE_CHECKING:  # bot.config imports this module to check the template
    from bot.config import Catalog, ConfluenceSection

CREATE = "confluence.create"
SYNC = "confluence.sync"
JIRA_LINK = "confluence.jira_link"
KINDS = frozenset({CREATE, SYNC, JIRA_LINK})

DESCRIPTIONS = {
    CREATE: "write the post-mortem page in Confluence",
    SYNC: "update the post-mortem page in Confluence",
    JIRA_LINK: "link the post-mortem page from the Jira ticket",
}

INLINE = (
    "title",
    "id",
    "reference",
    "priority",
    "priority_name",
    "category",
    "environments",
    "status",
    "summary",
    "declared_at",
    "commander",
)
"""Placeholders filled once with a value (escaped)."""
BLOCKS = ("impacts", "roles", "milestones", "metrics", "timeline", "followups", "links")
"""Placeholders that become generated sections, kept up to date until the post-mortem is ready."""
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
TITLE_MAX_LENGTH = 255
"""Confluence's limit for a page title."""
ANCHOR_PREFIX = "firefighter-"
SECTION_TITLE = "Kept up to date by FireFighter until the post-mortem is marked ready"
SKIPPED_KINDS = frozenset({TimelineKind.POSTMORTEM_CREATED, TimelineKind.SIDE_EFFECT_FAILED})
"""Timeline entries about the bot's own plumbing, left off the page (a page that listed its own
creation would be rewritten right after being written)."""

DEFAULT_TEMPLATE = """\
<h1>Summary</h1>
<p>{summary}</p>
<p><strong>Priority:</strong> {priority} · <strong>Category:</strong> {category} · \
<strong>Environments:</strong> {environments}</p>
<h2>Impact</h2>
{impacts}
<h2>Roles</h2>
{roles}
<h2>Milestones and metrics</h2>
{milestones}
{metrics}
<h2>Timeline</h2>
{timeline}
<h2>Root cause</h2>
<p><em>What happened, and why? Ask "why" until the answer is a decision, not a person.</em></p>
<h2>What went well</h2>
<ul><li></li></ul>
<h2>What went badly</h2>
<ul><li></li></ul>
<h2>Follow-up actions</h2>
{followups}
<h2>Links</h2>
{links}
"""

_KIND_LABELS: dict[TimelineKind, str] = {
    TimelineKind.NOTE: "Note",
    TimelineKind.STATUS_UPDATE: "Status update",
    TimelineKind.PINNED_MESSAGE: "Message",
}
"""Entries whose text is people's words get a label; the others say what they are already
(``Status: Mitigating → Mitigated``)."""
_SLACK_MARKUP = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]*))?>|<(https?://[^>|]+)(?:\|([^>]*))?>")
_METRIC_LABELS: dict[Metric, str] = {
    Metric.TIME_TO_DETECT: "Time to detect",
    Metric.TIME_TO_ACKNOWLEDGE: "Time to acknowledge",
    Metric.TIME_TO_MITIGATE: "Time to mitigate",
    Metric.TIME_TO_CLOSE: "Time to close",
}

# XML 1.0 refuses these characters even as references: a user's text carrying one would make the
# whole page body unparseable (Confluence answers 400 "Error parsing xhtml").
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NAMESPACES = {
    "ac": "http://atlassian.com/content",
    "ri": "http://atlassian.com/resource/identifier",
    "at": "http://atlassian.com/template",
}
_ENTITIES = "".join(
    f'<!ENTITY {name} "&#{code};">'
    for name, code in sorted(html.entities.name2codepoint.items())
    if name not in {"amp", "lt", "gt", "quot", "apos"}
)
_ROOT = "firefighter-storage"


# ---------------------------------------------------------------------------------------------
# Escaping
# ---------------------------------------------------------------------------------------------


def storage_text(value: object) -> str:
    """Any value as XHTML text: ``& < > " '`` escaped, characters XML forbids dropped, line
    breaks kept as ``<br />``."""
    text = _NOT_XML.sub("", str(value))
    return html.escape(text, quote=True).replace("\r\n", "\n").replace("\n", "<br />")


def _href(url: str) -> str | None:
    """A link target, escaped for an attribute; None for anything but http(s) (no ``javascript:``)."""
    cleaned = _NOT_XML.sub("", url.strip())
    if not re.match(r"^https?://", cleaned, re.IGNORECASE):
        return None
    return html.escape(cleaned, quote=True)


def _link(url: str, text: str) -> str:
    href = _href(url)
    return f'<a href="{href}">{storage_text(text)}</a>' if href else storage_text(text)


# ---------------------------------------------------------------------------------------------
# The template
# ---------------------------------------------------------------------------------------------


def template_of(section: ConfluenceSection) -> str:
    """The catalog's template, or the built-in one when it is empty."""
    return section.template if section.template.strip() else DEFAULT_TEMPLATE


def template_problems(template: str) -> list[str]:
    """What is wrong with a template, each naming its line in the template: an unknown
    placeholder, or a body Confluence would refuse (not well-formed XHTML)."""
    problems = []
    known = (*INLINE, *BLOCKS)
    for match in PLACEHOLDER.finditer(template):
        if match.group(1) not in known:
            line = template.count("\n", 0, match.start()) + 1
            problems.append(
                f"unknown placeholder {match.group(0)} on line {line} of the template "
                f"(known: {', '.join('{' + name + '}' for name in known)})"
            )
    if problems:
        return problems
    sample = PLACEHOLDER.sub(lambda m: "<p>x</p>" if m.group(1) in BLOCKS else "x", template)
    error = _parse_error(sample)
    if error is not None:
        message, line = error
        problems.append(
            f"not well-formed storage format (XHTML) on line {line} of the template: {message}"
        )
    return problems


def _wrapped(body: str) -> str:
    namespaces = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in _NAMESPACES.items())
    return f"<!DOCTYPE {_ROOT} [{_ENTITIES}]><{_ROOT} {namespaces}>{body}</{_ROOT}>"


def _parse_error(body: str) -> tuple[str, int] | None:
    """Why ``body`` does not parse as a storage fragment, and on which of its lines."""
    if re.search(r"<!DOCTYPE", body, re.IGNORECASE):
        return "a storage body cannot carry a DOCTYPE", 1
    parser = xml.parsers.expat.ParserCreate()
    try:
        parser.Parse(_wrapped(body), True)
    except xml.parsers.expat.ExpatError as error:
        return xml.parsers.expat.ErrorString(error.code) or "invalid", error.lineno
    return None


# ---------------------------------------------------------------------------------------------
# What the page says
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FollowUpLine:
    """A follow-up as the page lists it."""

    text: str
    key: str | None = None
    url: str | None = None
    status: str | None = None
    due: datetime | None = None
    done: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PageFacts:
    """Everything the page says about the incident, gathered by the performer."""

    incident: Incident
    priority_name: str
    category_name: str
    environment_names: tuple[str, ...]
    impacts: tuple[tuple[str, str], ...]
    """(impact type, level) as declared, by name."""
    roles: tuple[tuple[str, str], ...]
    """(role name, Slack user id)."""
    commander: str | None = None
    """The commander's Slack user id."""
    timeline: tuple[TimelineEntry, ...]
    people: Mapping[str, str] = field(default_factory=dict)
    """Slack user id → how the page names the person (their e-mail, Slack ids mean nothing in
    Confluence)."""
    followups: tuple[FollowUpLine, ...] = ()
    links: tuple[tuple[str, str], ...] = ()
    """(label, url): the Slack channel, the Jira ticket, PagerDuty incidents…"""
    tz: ZoneInfo
    command: str = "/incident"

    def person(self, user_id: str) -> str:
        return self.people.get(user_id) or f"Slack user {user_id}"


def facts_of(
    catalog: Catalog,
    incident: Incident,
    *,
    timeline: Sequence[TimelineEntry],
    roles: Sequence[tuple[str, str]],
    people: Mapping[str, str],
    followups: Sequence[FollowUpLine] = (),
    links: Sequence[tuple[str, str]] = (),
) -> PageFacts:
    """The page's facts from the incident, its timeline and the catalog's names. ``roles`` are
    (role key, user id)."""
    priority_name = _named(lambda: catalog.priority(incident.priority.label).name, "")
    category_name = _named(lambda: catalog.category(incident.category).name, incident.category)
    environments = tuple(_environment_name(catalog, key) for key in incident.environments)
    impact_types = {t.key: t.name for t in catalog.impacts.types}
    impact_levels = {level.key: level.name for level in catalog.impacts.levels}
    declared = next((e for e in timeline if e.kind is TimelineKind.DECLARED), None)
    impacts: list[tuple[str, str]] = []
    raw = declared.data.get("impacts") if declared else None
    if isinstance(raw, dict):
        for type_key, level_key in raw.items():
            impacts.append(
                (impact_types.get(type_key, type_key), impact_levels.get(str(level_key), "?"))
            )
    role_names = {role.key: role.name for role in catalog.roles}
    commander = next((user for key, user in roles if key == "commander"), None)
    return PageFacts(
        incident=incident,
        priority_name=priority_name,
        category_name=category_name,
        environment_names=environments,
        impacts=tuple(impacts),
        roles=tuple((role_names.get(key, key), user) for key, user in roles),
        commander=commander,
        timeline=tuple(timeline),
        people=dict(people),
        followups=tuple(followups),
        links=tuple(links),
        tz=catalog.reminders.tz,
        command=catalog.slack.command,
    )


def _environment_name(catalog: Catalog, key: str) -> str:
    try:
        return catalog.environment(key).name
    except KeyError:
        return key


def _named(lookup: Callable[[], str], fallback: str) -> str:
    try:
        return lookup()
    except KeyError:
        return fallback


def page_title(catalog: Catalog, incident: Incident) -> str:
    """``confluence.title_template`` filled (the values are not format strings themselves)."""
    declared = incident.milestones.declared_at or incident.created_at
    title = catalog.confluence.title_template.format(
        id=incident.id,
        title=incident.title,
        priority=incident.priority.label,
        category=_named(lambda: catalog.category(incident.category).name, incident.category),
        date=declared.astimezone(catalog.reminders.tz).date().isoformat(),
    )
    title = " ".join(_NOT_XML.sub("", title).split())
    return title if len(title) <= TITLE_MAX_LENGTH else title[: TITLE_MAX_LENGTH - 1] + "…"


def inline_values(facts: PageFacts) -> dict[str, str]:
    """The inline placeholders, escaped."""
    incident = facts.incident
    commander = facts.commander
    declared = incident.milestones.declared_at or incident.created_at
    values: dict[str, object] = {
        "title": incident.title,
        "id": incident.id,
        "reference": incident.reference,
        "priority": incident.priority.label,
        "priority_name": facts.priority_name,
        "category": facts.category_name,
        "environments": ", ".join(facts.environment_names),
        "status": incident.status.label,
        "summary": incident.summary,
        "declared_at": _time(declared, facts.tz),
        "commander": facts.person(commander) if commander else "—",
    }
    return {name: storage_text(value) for name, value in values.items()}


def sections(facts: PageFacts) -> dict[str, str]:
    """Every generated section, wrapped (``section``), by placeholder name."""
    contents = {
        "impacts": _impacts(facts),
        "roles": _roles(facts),
        "milestones": _milestones(facts),
        "metrics": _metrics(facts),
        "timeline": _timeline(facts),
        "followups": _followups(facts),
        "links": _links(facts),
    }
    return {name: section(name, content) for name, content in contents.items()}


def section(name: str, content: str) -> str:
    """A generated section: a panel whose first element is the anchor that finds it again."""
    anchor = (
        '<ac:structured-macro ac:name="anchor" ac:schema-version="1">'
        f'<ac:parameter ac:name="">{ANCHOR_PREFIX}{name}</ac:parameter>'
        "</ac:structured-macro>"
    )
    return (
        '<ac:structured-macro ac:name="panel" ac:schema-version="1">'
        f'<ac:parameter ac:name="title">{SECTION_TITLE}</ac:parameter>'
        f"<ac:rich-text-body>{anchor}{content}</ac:rich-text-body>"
        "</ac:structured-macro>"
    )


def page_body(template: str, facts: PageFacts) -> str:
    """The template with every placeholder filled, in one pass (a value is never re-read as a
    placeholder)."""
    values = {**inline_values(facts), **sections(facts)}
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def used_sections(template: str, all_sections: Mapping[str, str]) -> dict[str, str]:
    """The generated sections the template has (those the page can carry)."""
    names = {m.group(1) for m in PLACEHOLDER.finditer(template)}
    return {name: xhtml for name, xhtml in all_sections.items() if name in names}


def digest(generated: Mapping[str, str]) -> str:
    """What the generated sections say, in 16 hex digits (stored: an unchanged timeline costs no
    request)."""
    text = json.dumps(dict(sorted(generated.items())), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _time(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table; ``header`` is text, ``rows`` are XHTML already."""
    head = "".join(f"<th>{storage_text(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tbody><tr>{head}</tr>{body}</tbody></table>"


def _nothing(text: str) -> str:
    return f"<p><em>{storage_text(text)}</em></p>"


def _impacts(facts: PageFacts) -> str:
    if not facts.impacts:
        return _nothing("No impact was recorded at declaration.")
    rows = [(storage_text(kind), storage_text(level)) for kind, level in facts.impacts]
    return _table(("Impact (as declared)", "Level"), rows)


def _roles(facts: PageFacts) -> str:
    if not facts.roles:
        return _nothing("No role was assigned.")
    items = "".join(
        f"<li><strong>{storage_text(role)}</strong>: {storage_text(facts.person(user))}</li>"
        for role, user in facts.roles
    )
    return f"<ul>{items}</ul>"


def _milestones(facts: PageFacts) -> str:
    milestones = facts.incident.milestones
    rows = []
    for milestone in Milestone:
        value = milestones.get(milestone)
        rows.append(
            (
                storage_text(MILESTONE_LABELS[milestone]),
                storage_text(_time(value, facts.tz) if value else "—"),
            )
        )
    return _table((f"Milestone ({facts.tz.key})", "Time"), rows)


def _signed(delta: timedelta) -> str:
    if delta < timedelta(0):
        return f"-{duration(-delta)} (the milestones are in the wrong order)"
    return duration(delta)


def _metrics(facts: PageFacts) -> str:
    milestones = facts.incident.milestones
    rows = []
    for which, label in _METRIC_LABELS.items():
        value = metric(milestones, which)
        if value is None:
            start, end = METRIC_SPANS[which]
            unset = [MILESTONE_LABELS[m] for m in (start, end) if milestones.get(m) is None]
            shown = f"— ({' and '.join(unset)} not set yet)"
        else:
            shown = _signed(value)
        rows.append((storage_text(label), storage_text(shown)))
    return _table(("Metric", "Value"), rows)


def shown_entries(entries: Sequence[TimelineEntry]) -> list[TimelineEntry]:
    """The entries the page lists, in the order they happened: struck-out ones (removed by people)
    and the bot's own plumbing left off."""
    kept = [e for e in entries if not e.struck_out and e.kind not in SKIPPED_KINDS]
    return sorted(kept, key=lambda e: (e.happened_at, e.id))


def slack_mentions(text: str) -> set[str]:
    """The Slack user ids a text mentions (``<@U123>``): the page names them too."""
    return {m.group(2) for m in _SLACK_MARKUP.finditer(text) if m.group(1) == "@"}


def _readable(text: str, facts: PageFacts) -> str:
    """Slack's markup as people read it: ``<@U1>`` → the person, ``<#C1|name>`` → ``#name``,
    ``<url|text>`` → ``text (url)``, ``<!here>`` → ``@here``."""

    def plain(match: re.Match[str]) -> str:
        sigil, target, label, url, url_label = match.groups()
        if url:
            return f"{url_label} ({url})" if url_label else url
        if sigil == "@":
            return facts.person(target)
        if sigil == "#":
            return f"#{label or target}"
        return "@" + (label or target.split("^")[0]).lstrip("@")

    return _SLACK_MARKUP.sub(plain, text)


def _who(entry: TimelineEntry, facts: PageFacts) -> str:
    actor = entry.actor
    if actor.is_user:
        return actor.display_name or facts.person(actor.id)
    return actor.display_name or actor.id


def _timeline(facts: PageFacts) -> str:
    entries = shown_entries(facts.timeline)
    if not entries:
        return _nothing("Nothing on the timeline yet.")
    rows = []
    for entry in entries:
        text = storage_text(_readable(localize_times(entry.text, facts.tz), facts))
        label = _KIND_LABELS.get(entry.kind)
        what = f"<strong>{storage_text(label)}</strong>: {text}" if label else text
        if entry.edited:
            what += " <em>(edited)</em>"
        if entry.source_permalink and _href(entry.source_permalink):
            what += f" ({_link(entry.source_permalink, 'in Slack')})"
        rows.append(
            (
                storage_text(_time(entry.happened_at, facts.tz)),
                storage_text(_who(entry, facts)),
                what,
            )
        )
    return _table((f"Time ({facts.tz.key})", "Who", "What"), rows)


def _followups(facts: PageFacts) -> str:
    if not facts.followups:
        return _nothing(
            f"No follow-up yet. Add them from Slack with {facts.command} followup <text>: "
            "they are tracked in Jira and listed here."
        )
    items = []
    for followup in facts.followups:
        head = _link(followup.url, followup.key) if followup.url and followup.key else ""
        line = f"{head}: {storage_text(followup.text)}" if head else storage_text(followup.text)
        details = []
        if followup.status:
            details.append(followup.status)
        if followup.due is not None and not followup.done:
            details.append(f"due {followup.due.astimezone(facts.tz).date().isoformat()}")
        if details:
            line += f" — {storage_text(', '.join(details))}"
        items.append(f"<li>{line}</li>")
    return f"<ul>{''.join(items)}</ul>"


def _links(facts: PageFacts) -> str:
    items = [f"<li>{_link(url, label)}</li>" for label, url in facts.links if _href(url)]
    if not items:
        return _nothing("No links yet.")
    return f"<ul>{''.join(items)}</ul>"


# ---------------------------------------------------------------------------------------------
# Re-syncing a page people edit
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Splice:
    """A page body with its generated sections replaced."""

    body: str
    found: frozenset[str]
    """The sections the page still has (a panel people deleted is not put back)."""
    changed: bool


def _parse(body: str) -> xml.dom.minidom.Element | None:
    try:
        document = xml.dom.minidom.parseString(_wrapped(body))
    except (xml.parsers.expat.ExpatError, ValueError):
        return None
    return document.documentElement


def _elements(node: xml.dom.minidom.Node, tag: str) -> list[xml.dom.minidom.Element]:
    return [
        child
        for child in node.childNodes
        if isinstance(child, xml.dom.minidom.Element) and child.tagName == tag
    ]


def _text(node: xml.dom.minidom.Node) -> str:
    return "".join(
        child.data for child in node.childNodes if isinstance(child, xml.dom.minidom.Text)
    )


def _anchor_name(node: xml.dom.minidom.Element) -> str | None:
    """The name of an anchor macro (``<ac:parameter ac:name="">name</ac:parameter>``)."""
    if node.tagName != "ac:structured-macro" or node.getAttribute("ac:name") != "anchor":
        return None
    for parameter in _elements(node, "ac:parameter"):
        if parameter.getAttribute("ac:name") in ("", "0"):
            return _text(parameter).strip()
    return None


def _generated(root: xml.dom.minidom.Element) -> list[tuple[str, xml.dom.minidom.Element]]:
    """(section name, its panel) for every generated section in the body, in document order."""
    found = []
    for anchor in root.getElementsByTagName("ac:structured-macro"):
        name = _anchor_name(anchor)
        if not name or not name.startswith(ANCHOR_PREFIX):
            continue
        body = anchor.parentNode
        panel = body.parentNode if body is not None else None
        if not (
            isinstance(body, xml.dom.minidom.Element)
            and isinstance(panel, xml.dom.minidom.Element)
            and body.tagName == "ac:rich-text-body"
            and panel.tagName == "ac:structured-macro"
        ):
            continue  # moved out of its panel by an edit: no longer a section the bot owns
        found.append((name.removeprefix(ANCHOR_PREFIX), panel))
    return found


def _serialize(root: xml.dom.minidom.Element) -> str:
    return "".join(child.toxml() for child in root.childNodes)


def generated_sections(body: str) -> dict[str, str] | None:
    """The generated sections of a page body by name (None: the body does not parse)."""
    root = _parse(body)
    if root is None:
        return None
    return {name: panel.toxml() for name, panel in _generated(root)}


def replace_sections(body: str, wanted: Mapping[str, str]) -> Splice | None:
    """``body`` with each generated section it has replaced by ``wanted[name]``; everything
    outside those sections stays as people left it. None when the body does not parse (the bot
    then leaves the page alone)."""
    root = _parse(body)
    if root is None:
        return None
    document = root.ownerDocument
    assert document is not None
    found: set[str] = set()
    changed = False
    for name, panel in _generated(root):
        if name not in wanted:
            continue
        found.add(name)
        fresh = _parse(wanted[name])
        if fresh is None:
            raise ValueError(f"the generated section {name!r} does not parse")
        if panel.toxml() == _serialize(fresh):
            continue
        parent = panel.parentNode
        assert isinstance(parent, xml.dom.minidom.Element)
        for node in list(fresh.childNodes):
            parent.insertBefore(document.importNode(node, True), panel)
        parent.removeChild(panel)
        changed = True
    return Splice(_serialize(root) if changed else body, frozenset(found), changed)


# ---------------------------------------------------------------------------------------------
# The close gate's words
# ---------------------------------------------------------------------------------------------


def ready_hint(
    section: ConfluenceSection,
    *,
    command: str,
    page_url: str | None,
    deleted: bool = False,
    ticket_key: str | None = None,
) -> str:
    """What to do so that the post-mortem counts as ready (the close gate's reason)."""
    if deleted:
        return (
            "The post-mortem page was deleted in Confluence: restore it from the space's trash, "
            f"or write a new one with `{command} postmortem`."
        )
    if page_url is None:
        return (
            f"The post-mortem page is not written yet: `{command} postmortem` writes it in "
            f"Confluence; then {_ready_step(section, ticket_key)} when it is ready."
        )
    if section.ready_via == "jira_status":
        return (
            f"Move {_ticket(ticket_key)} to {section.ready_jira_status} when the post-mortem "
            f"{page_url} is ready, then close again."
        )
    return (
        f"Add the label {section.ready_label} to the post-mortem page {page_url} when it is "
        "ready, then close again."
    )


def _ready_step(section: ConfluenceSection, ticket_key: str | None) -> str:
    if section.ready_via == "jira_status":
        return f"move {_ticket(ticket_key)} to {section.ready_jira_status}"
    return f"add the label {section.ready_label} to it"


def _ticket(key: str | None) -> str:
    return f"the Jira ticket {key}" if key else "the incident's Jira ticket"


def ready_text(section: ConfluenceSection, *, ticket_key: str | None) -> str:
    """How the bot learnt that the post-mortem is ready (the timeline entry's words)."""
    if section.ready_via == "jira_status":
        return f"{_ticket(ticket_key)} is in {section.ready_jira_status}"
    return f"the page has the label {section.ready_label}"
