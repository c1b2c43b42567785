"""Costs, periods, stats, the CSV and the chart, from values only (no database, no Slack)."""

from __future__ import annotations

import csv
import dataclasses
import io
import struct
import zlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.blocks.report import stats_message
from bot.chart import render_chart
from bot.domain.cost import CostEntry, CostInvalid, parse_cost, totals_by_currency
from bot.domain.export import COLUMNS, HIDDEN_TITLE, export_rows, to_csv
from bot.domain.incident import Priority, Status
from bot.domain.stats import (
    PeriodInvalid,
    compute_stats,
    last_week,
    parse_period,
    weeks_from_json,
    weeks_to_json,
)
from tests.domain.factories import incident

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)


# --- costs --------------------------------------------------------------------------------------


def test_a_cost_reads_amount_currency_type_and_note():
    cost = parse_cost("12000 eur lost_revenue checkout down 2h")
    assert cost.amount == Decimal("12000.00")
    assert cost.currency == "EUR"
    assert cost.kind == "lost_revenue"
    assert cost.note == "checkout down 2h"
    assert parse_cost("1,250.5 USD refunds").amount == Decimal("1250.50")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("twelve EUR lost_revenue", "is not an amount"),
        ("-5 EUR refunds", "cannot be negative"),
        ("0 EUR refunds", "more than 0"),
        ("12.345 EUR refunds", "more than two decimals"),
        ("100 EURO refunds", "not an ISO 4217 currency code"),
        ("100 XYZ refunds", "not an ISO 4217 currency code"),
        ("100 EUR", "needs an amount, a currency and a type"),
        ("100 EUR 9lives", "is not a cost type"),
        ("1e9 EUR refunds", "is not an amount"),
        ("100000000000000000 EUR refunds", "too large"),
    ],
)
def test_bad_costs_are_refused_with_the_reason_and_the_usage(text: str, reason: str):
    with pytest.raises(CostInvalid) as refused:
        parse_cost(text)
    assert reason in refused.value.message
    assert "Usage: `cost <amount> <currency> <type> [note]`" in refused.value.message


def test_totals_are_kept_per_currency():
    def entry(amount: str, currency: str) -> CostEntry:
        return CostEntry(
            id=1,
            incident_id=1,
            kind="refunds",
            amount=Decimal(amount),
            currency=currency,
            note="",
            author_id="U1",
            created_at=NOW,
        )

    totals = totals_by_currency([entry("10", "USD"), entry("5.50", "EUR"), entry("4.50", "EUR")])
    assert totals == {"EUR": Decimal("10.00"), "USD": Decimal("10")}
    assert list(totals) == ["EUR", "USD"]


# --- periods ------------------------------------------------------------------------------------


def test_periods_are_the_relative_ones_or_a_calendar_month():
    assert parse_period("", now=NOW, tz=PARIS).start == NOW - timedelta(days=30)
    assert parse_period("12w", now=NOW, tz=PARIS).length == timedelta(weeks=12)
    month = parse_period("2026-02", now=NOW, tz=PARIS)
    assert month.start == datetime(2026, 2, 1, tzinfo=PARIS)
    assert month.end == datetime(2026, 3, 1, tzinfo=PARIS)
    assert month.previous(PARIS).start == datetime(2026, 1, 1, tzinfo=PARIS)
    week = parse_period("7d", now=NOW, tz=PARIS)
    assert week.previous(PARIS).end == week.start
    assert week.previous(PARIS).length == week.length


@pytest.mark.parametrize("text", ["banana", "31d", "2026-13", "7", "-7d", "1999-01"])
def test_anything_else_is_answered_with_the_usage(text: str):
    with pytest.raises(PeriodInvalid) as refused:
        parse_period(text, now=NOW, tz=PARIS)
    assert "`stats [period]`" in refused.value.message
    assert "`7d`, `30d` (the default), `90d`, `12w`" in refused.value.message


def test_last_week_is_the_iso_week_before_in_the_catalog_time_zone():
    key, period = last_week(datetime(2026, 3, 16, 8, 30, tzinfo=UTC), PARIS)  # Monday 09:30 Paris
    assert key == "2026-W11"
    assert period.start == datetime(2026, 3, 9, tzinfo=PARIS)
    assert period.end == datetime(2026, 3, 16, tzinfo=PARIS)


# --- stats --------------------------------------------------------------------------------------


def _declared(i: int, at: datetime, **changes: object):
    changes.setdefault("title", f"Incident number {i}")
    base = incident(Status.CLOSED, id=i, **changes)
    shift = at - base.created_at
    m = base.milestones
    moved = dataclasses.replace(
        m,
        **{
            f.name: getattr(m, f.name) + shift
            for f in dataclasses.fields(m)
            if getattr(m, f.name) is not None
        },
    )
    return dataclasses.replace(base, created_at=at, updated_at=at, milestones=moved)


def test_stats_count_median_and_compare_with_the_period_before_private_titles_hidden():
    period = parse_period("7d", now=NOW, tz=PARIS)
    previous = period.previous(PARIS)
    day = timedelta(days=1)
    slow = _declared(1, NOW - 2 * day, priority=Priority.P1)
    slow = dataclasses.replace(
        slow,
        milestones=dataclasses.replace(
            slow.milestones, mitigated_at=slow.milestones.started_at + timedelta(hours=5)
        ),
    )
    current = [
        slow,
        _declared(2, NOW - 3 * day, priority=Priority.P2, private=True),
        _declared(3, NOW - 4 * day, priority=Priority.P3, category="search"),
    ]
    before = [_declared(10, NOW - 9 * day), _declared(11, NOW - 10 * day)]
    stats = compute_stats(
        [*current, *before],
        period=period,
        previous=previous,
        tz=PARIS,
        cost_totals={
            1: {"EUR": Decimal("100")},
            3: {"EUR": Decimal("50")},
            10: {"USD": Decimal(7)},
        },
        visible=lambda i: not i.private,
    )

    assert stats.total == 3 and stats.previous_overall.count == 2
    assert stats.count_change == pytest.approx(0.5)
    assert {p: m.count for p, m in stats.by_priority.items()} == {
        Priority.P1: 1,
        Priority.P2: 1,
        Priority.P3: 1,
    }
    assert {c: m.count for c, m in stats.by_category.items()} == {"payments": 2, "search": 1}
    # mitigation 70 min (factory) for two, 5 h for the P1: the median is 70 min
    assert stats.overall.time_to_mitigate == timedelta(minutes=70)
    assert stats.by_priority[Priority.P1].time_to_mitigate == timedelta(hours=5)
    assert stats.overall.time_to_acknowledge == timedelta(minutes=5)
    assert stats.costs == {"EUR": Decimal("150")}
    assert stats.previous_costs == {"USD": Decimal(7)}
    assert stats.private_count == 1
    assert [(n.id, n.title) for n in stats.notable] == [(1, "Incident number 1"), (2, None)]
    assert sum(sum(w.counts.values()) for w in stats.weeks) == 3
    assert weeks_from_json(weeks_to_json(stats.weeks)) == stats.weeks

    message = stats_message(stats, tz=PARIS, styles={}, category_names={"search": "Search"})
    shown = str(message["blocks"])
    assert "Incident number 1" in shown
    assert "Incident number 2" not in shown
    assert "private incident" in shown
    assert len(message["blocks"]) <= 50


# --- export -------------------------------------------------------------------------------------


def test_the_csv_round_trips_with_stable_columns_and_hides_private_titles():
    public = _declared(1, NOW - timedelta(days=1), title='Checkout "down", again; 50%')
    private = _declared(2, NOW - timedelta(days=2), private=True, title="Secret acquisition leak")
    formula = _declared(3, NOW - timedelta(days=3), title="=HYPERLINK(evil)")
    rows = export_rows(
        [public, private, formula],
        cost_totals={1: {"EUR": Decimal("12000.00"), "USD": Decimal("5.5")}},
        cost_counts={1: 3},
        visible=lambda i: not i.private,
    )
    text = to_csv(rows)

    read = list(csv.DictReader(io.StringIO(text)))
    assert read == rows
    assert tuple(read[0]) == COLUMNS
    assert read[0]["title"] == 'Checkout "down", again; 50%'
    assert read[0]["costs"] == "12000.00 EUR;5.50 USD"
    assert read[0]["cost_entries"] == "3"
    assert read[0]["declared_at"].endswith("Z")
    assert datetime.fromisoformat(read[0]["declared_at"]) == public.milestones.declared_at
    assert read[0]["time_to_mitigate_s"] == str(70 * 60)
    assert read[1]["title"] == HIDDEN_TITLE and read[1]["private"] == "true"
    assert read[2]["title"] == "'=HYPERLINK(evil)"
    assert "Secret" not in text


# --- the chart ----------------------------------------------------------------------------------


def _png_pixels(png: bytes) -> tuple[int, int, set[bytes]]:
    """Width, height and the distinct pixel colours of an 8-bit RGB(A) PNG (no Pillow needed)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        data = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6)
    channels = 4 if colour == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    colours: set[bytes] = set()
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        if row % 9 == 0:
            colours.update(bytes(line[i : i + channels]) for i in range(0, stride, channels * 7))
        previous = line
    return width, height, colours


def test_the_chart_is_a_real_png_of_the_expected_size_and_not_blank():
    weeks = compute_stats(
        [
            _declared(i, NOW - timedelta(days=i * 5), priority=Priority(1 + i % 5))
            for i in range(1, 12)
        ],
        period=parse_period("90d", now=NOW, tz=PARIS),
        previous=parse_period("90d", now=NOW, tz=PARIS).previous(PARIS),
        tz=PARIS,
        cost_totals={},
        visible=lambda i: True,
    ).weeks
    png = render_chart(weeks, title="Incidents per week", names={Priority.P1: "Critical"})

    width, height, colours = _png_pixels(png)
    assert 600 <= width <= 1600 and 300 <= height <= 1000
    assert len(colours) > 1


def test_an_empty_period_still_gives_a_chart():
    png = render_chart(
        weeks_from_json([{"start": date(2026, 3, 9).isoformat(), "counts": {}, "ttm_s": None}]),
        title="Nothing",
    )
    width, height, colours = _png_pixels(png)
    assert width == 900 and height == 450 and len(colours) > 1
