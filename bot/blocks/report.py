"""Block Kit of the reports: ``/incident cost`` (added, listed), ``/incident stats``, the weekly
digest and the export's reply. Pure functions returning message dicts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.blocks.help import Message
from bot.blocks.home import PriorityStyle
from bot.blocks.text import duration, escape, fit, truncate
from bot.domain.cost import CostEntry, format_money, format_totals, totals_by_currency
from bot.domain.incident import Incident
from bot.domain.stats import FollowUpCounts, Medians, Period, Stats

Block = dict[str, Any]
MAX_COST_LINES = 40


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(text, 3000)}]}


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(text, 150)}}


def _message(text: str, blocks: list[Block], *, ephemeral: bool = True) -> Message:
    message: Message = {"text": truncate(text, 3000), "blocks": blocks[:50]}
    if ephemeral:
        message["response_type"] = "ephemeral"
    return message


# --- costs -------------------------------------------------------------------------------------


def cost_added_message(incident: Incident, entry: CostEntry, totals: Mapping[str, Any]) -> Message:
    note = f" ({fit(entry.note, 200)})" if entry.note else ""
    text = (
        f":moneybag: Cost added to {incident.reference}: "
        f"{format_money(entry.amount, entry.currency)} of {escape(entry.kind)}{note}. "
        f"Total: {format_totals(totals)}."
    )
    return _message(text, [_section(text)])


def costs_message(
    incident: Incident, entries: Sequence[CostEntry], tz: ZoneInfo, command: str
) -> Message:
    """Every cost of the incident and the totals per currency."""
    title = f"Costs of {incident.reference}"
    if not entries:
        text = (
            f"No cost recorded on {incident.reference} yet. Add one with "
            f"`{command} cost <amount> <currency> <type> [note]`."
        )
        return _message(text, [_section(text)])
    lines = []
    for entry in entries[-MAX_COST_LINES:]:
        note = f" — {fit(entry.note, 150)}" if entry.note else ""
        lines.append(
            f"• {entry.created_at.astimezone(tz):%Y-%m-%d %H:%M} "
            f"*{format_money(entry.amount, entry.currency)}* {escape(entry.kind)} "
            f"by <@{entry.author_id}>{note}"
        )
    totals = format_totals(totals_by_currency(entries))
    blocks = [_header(title), _section("\n".join(lines)), _section(f"*Total:* {totals}")]
    if len(entries) > MAX_COST_LINES:
        blocks.append(_context(f"The last {MAX_COST_LINES} of {len(entries)} entries."))
    return _message(f"{title}: {totals}", blocks)


# --- stats -------------------------------------------------------------------------------------


def _d(value: timedelta | None) -> str:
    return duration(value) if value is not None else "—"


def _medians_line(medians: Medians) -> str:
    return (
        f"{medians.count} · MTTA {_d(medians.time_to_acknowledge)} · "
        f"MTTM {_d(medians.time_to_mitigate)} · MTTC {_d(medians.time_to_close)}"
    )


def _trend(now: int, before: int) -> str:
    if before == 0:
        return "no incident the period before" if now else "none the period before either"
    change = (now - before) / before
    arrow = ":arrow_up:" if change > 0 else ":arrow_down:" if change < 0 else ":left_right_arrow:"
    return f"{arrow} {change:+.0%} vs {before} the period before"


def _duration_trend(now: timedelta | None, before: timedelta | None) -> str:
    if now is None or before is None or before.total_seconds() <= 0:
        return ""
    change = (now - before) / before
    return f" ({change:+.0%})"


def _period_text(period: Period, tz: ZoneInfo) -> str:
    start = period.start.astimezone(tz)
    end = period.end.astimezone(tz)
    return f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} {end.tzname()}"


def stats_blocks(
    stats: Stats,
    *,
    tz: ZoneInfo,
    styles: Mapping[Any, PriorityStyle],
    category_names: Mapping[str, str],
    title: str,
) -> list[Block]:
    overall = stats.overall
    before = stats.previous_overall
    summary = (
        f"*{stats.total} incident{'s' if stats.total != 1 else ''}* declared "
        f"({_trend(stats.total, before.count)}); {stats.open_count} still open"
        + (f", {stats.private_count} private" if stats.private_count else "")
        + "."
        + f"\nMedian time to acknowledge *{_d(overall.time_to_acknowledge)}*"
        + _duration_trend(overall.time_to_acknowledge, before.time_to_acknowledge)
        + f" · to mitigate *{_d(overall.time_to_mitigate)}*"
        + _duration_trend(overall.time_to_mitigate, before.time_to_mitigate)
        + f" · to close *{_d(overall.time_to_close)}*"
        + _duration_trend(overall.time_to_close, before.time_to_close)
    )
    blocks: list[Block] = [
        _header(title),
        _context(_period_text(stats.period, tz)),
        _section(summary),
    ]
    if stats.by_priority:
        lines = []
        for priority, medians in stats.by_priority.items():
            style = styles.get(priority)
            name = f"{style.emoji} {priority.label}" if style and style.emoji else priority.label
            lines.append(f"{name}: {_medians_line(medians)}")
        blocks.append(_section("*By priority*\n" + "\n".join(lines)))
    if stats.by_category:
        lines = [
            f"{escape(category_names.get(key, key))}: {_medians_line(medians)}"
            for key, medians in list(stats.by_category.items())[:25]
        ]
        blocks.append(_section("*By category*\n" + "\n".join(lines)))
    costs = f"*Costs:* {format_totals(stats.costs)}"
    if stats.costs or stats.previous_costs:
        costs += f" (the period before: {format_totals(stats.previous_costs)})"
    blocks.append(_section(costs))
    if stats.followups is not None:
        blocks.append(_section(_followups_line(stats.followups, stats.previous_followups)))
    if stats.notable:
        lines = []
        for item in stats.notable:
            shown = fit(item.title, 80) if item.title is not None else ":lock: _private incident_"
            lines.append(
                f"• #{item.id} {item.priority.label} {shown} — {item.status.value}, "
                f"mitigated in {_d(item.time_to_mitigate)}"
            )
        blocks.append(_section("*P1 and P2 incidents*\n" + "\n".join(lines)))
    blocks.append(
        _context(
            "MTTA: declared → acknowledged · MTTM: started → mitigated · MTTC: declared → closed "
            "(medians). Private incidents are counted; their titles are shown to their members only."
        )
    )
    return blocks


def _followups_line(now: FollowUpCounts, before: FollowUpCounts | None) -> str:
    """The follow-ups of the period's incidents; overdue is as of now."""
    line = (
        f"*Follow-ups:* {now.total} for these incidents, *{now.overdue} overdue*, {now.done} done"
    )
    if before is not None and before.total:
        line += f" (the period before: {before.total}, {before.overdue} overdue)"
    return line + "."


def stats_message(
    stats: Stats,
    *,
    tz: ZoneInfo,
    styles: Mapping[Any, PriorityStyle],
    category_names: Mapping[str, str],
) -> Message:
    title = f"Incident stats: {stats.period.label}"
    blocks = stats_blocks(stats, tz=tz, styles=styles, category_names=category_names, title=title)
    blocks.append(_context(":bar_chart: The chart follows as an image."))
    return _message(f"{title}: {stats.total} incidents", blocks)


def digest_message(
    stats: Stats,
    *,
    tz: ZoneInfo,
    styles: Mapping[Any, PriorityStyle],
    category_names: Mapping[str, str],
    open_postmortems: int,
    overdue_followups: int | None = None,
) -> Message:
    """The weekly digest posted in the announcement channel (private titles never shown);
    ``overdue_followups``: every follow-up overdue now (``None``: not tracked, no Jira)."""
    title = f"Weekly incident digest: {stats.period.label}"
    blocks = stats_blocks(stats, tz=tz, styles=styles, category_names=category_names, title=title)
    now = f"*Open post-mortems:* {open_postmortems}"
    if overdue_followups is not None:
        now += f" · *Overdue follow-ups:* {overdue_followups}"
    blocks.insert(-1, _section(now))
    return _message(f"{title}: {stats.total} incidents", blocks, ephemeral=False)


def chart_comment(stats: Stats) -> str:
    return f"Incidents per week by priority and median time to mitigate ({stats.period.label})"


def export_message(period: Period, count: int) -> Message:
    text = (
        f":page_facing_up: The export of {count} incident{'s' if count != 1 else ''} "
        f"({period.label}) is in your direct messages with me, as a CSV file."
    )
    return _message(text, [_section(text)])


def usage_message(text: str) -> Message:
    body = f":warning: {truncate(text, 2900)}"
    return _message(body, [_section(body)])
