"""The CSV of ``/incident export [period]``: one row per incident, stable columns (docs/exports.md).

Times are ISO 8601 in UTC (``2026-03-04T14:02:00Z``); durations are whole seconds; an unset value
is an empty cell. The title of a private incident the viewer may not see is ``(private)``. A text
cell starting with ``=``, ``+``, ``-``, ``@`` or a tab is prefixed with ``'`` so that a spreadsheet
never runs it as a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bot.domain.incident import Incident
from bot.domain.metrics import metrics_of
from bot.domain.stats import FollowUpCounts

COLUMNS: tuple[str, ...] = (
    "id",
    "title",
    "priority",
    "category",
    "status",
    "private",
    "declared_at",
    "acknowledged_at",
    "mitigated_at",
    "closed_at",
    "time_to_acknowledge_s",
    "time_to_mitigate_s",
    "time_to_close_s",
    "cost_entries",
    "costs",
    "followups",
    "followups_overdue",
)
"""The columns, in order. Add new ones at the end only."""
HIDDEN_TITLE = "(private)"


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def iso_utc(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def seconds(duration: timedelta | None) -> str:
    return "" if duration is None else str(int(duration.total_seconds()))


def format_costs(totals: Mapping[str, Decimal]) -> str:
    """``"12000.00 EUR;50.00 USD"`` (one total per currency, sorted by code)."""
    return ";".join(f"{amount:.2f} {currency}" for currency, amount in sorted(totals.items()))


def export_rows(
    incidents: Iterable[Incident],
    *,
    cost_totals: Mapping[int, Mapping[str, Decimal]],
    cost_counts: Mapping[int, int],
    visible: Callable[[Incident], bool],
    followups: Mapping[int, FollowUpCounts] | None = None,
) -> list[dict[str, str]]:
    """One row per incident; ``followups`` per incident id, ``None`` when follow-ups are not
    tracked (Jira is not configured): their cells are then empty."""
    rows: list[dict[str, str]] = []
    for incident in incidents:
        m = incident.milestones
        metrics = metrics_of(m)
        counts = None if followups is None else followups.get(incident.id, FollowUpCounts())
        rows.append(
            {
                "id": str(incident.id),
                "title": text_cell(incident.title) if visible(incident) else HIDDEN_TITLE,
                "priority": incident.priority.label,
                "category": text_cell(incident.category),
                "status": incident.status.value,
                "private": "true" if incident.private else "false",
                "declared_at": iso_utc(m.declared_at or incident.created_at),
                "acknowledged_at": iso_utc(m.acknowledged_at),
                "mitigated_at": iso_utc(m.mitigated_at),
                "closed_at": iso_utc(m.closed_at),
                "time_to_acknowledge_s": seconds(metrics.time_to_acknowledge),
                "time_to_mitigate_s": seconds(metrics.time_to_mitigate),
                "time_to_close_s": seconds(metrics.time_to_close),
                "cost_entries": str(cost_counts.get(incident.id, 0)),
                "costs": format_costs(cost_totals.get(incident.id, {})),
                "followups": "" if counts is None else str(counts.total),
                "followups_overdue": "" if counts is None else str(counts.overdue),
            }
        )
    return rows


def to_csv(rows: Iterable[Mapping[str, str]]) -> str:
    """RFC 4180 CSV (CRLF line ends, quoted when needed), with the header row."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue()
