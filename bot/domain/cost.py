"""Incident costs (PRODUCT.md §1 "Costs"): what ``/incident cost`` accepts, and totals.

``parse_cost("12000 EUR lost_revenue checkout down 2h")`` gives the amount (a ``Decimal`` with at
most two decimals, strictly positive), the ISO 4217 currency, the cost type (a lowercase slug such
as ``lost_revenue``, ``refunds``, ``cloud_spend``, ``staff_time``) and an optional note. Bad input
raises ``CostInvalid`` with the reason and the usage line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from bot.domain.errors import UserFacingError

_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
    KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
    MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
    SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS
    UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """
CURRENCIES = frozenset(_CODES.split())
"""Active ISO 4217 currency codes (funds, metals and test codes excluded)."""

COST_TYPES = ("lost_revenue", "refunds", "cloud_spend", "staff_time", "penalties", "other")
"""The suggested cost types (any lowercase slug is accepted)."""

USAGE = "`cost <amount> <currency> <type> [note]`, e.g. `cost 12000 EUR lost_revenue checkout down`"
MAX_AMOUNT = Decimal("99999999999999.99")
"""What the ``cost_entry.amount`` column holds (16 digits, 2 decimals)."""
NOTE_MAX_LENGTH = 500

_AMOUNT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_TYPE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


class CostInvalid(UserFacingError):
    """``/incident cost`` was given something that is not a cost; the message says why and how."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{reason}\nUsage: {USAGE}. Types: {', '.join(COST_TYPES)}.")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CostDraft:
    """A cost typed by someone, checked but not stored yet."""

    amount: Decimal
    currency: str
    kind: str
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CostEntry:
    """A cost recorded against an incident."""

    id: int
    incident_id: int
    kind: str
    amount: Decimal
    currency: str
    note: str
    author_id: str
    created_at: datetime


def parse_amount(text: str) -> Decimal:
    """``"12000"``, ``"12000.5"``, ``"12_000"`` or ``"12,000.50"`` → ``Decimal``; > 0, 2 decimals."""
    cleaned = text.replace("_", "").replace(",", "")
    if not _AMOUNT.match(cleaned):
        raise CostInvalid(f"{text!r} is not an amount: write a number such as 1200 or 99.90.")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the pattern only lets numbers through
        raise CostInvalid(f"{text!r} is not an amount.") from None
    if amount < 0:
        raise CostInvalid(f"A cost cannot be negative ({text}).")
    if amount == 0:
        raise CostInvalid("A cost must be more than 0.")
    if amount != amount.quantize(Decimal("0.01")):
        raise CostInvalid(f"{text} has more than two decimals.")
    if amount > MAX_AMOUNT:
        raise CostInvalid(f"{text} is too large.")
    return amount.quantize(Decimal("0.01"))


def parse_currency(text: str) -> str:
    code = text.upper()
    if code not in CURRENCIES:
        raise CostInvalid(f"{text!r} is not an ISO 4217 currency code (such as EUR, USD, GBP).")
    return code


def parse_cost(argument: str) -> CostDraft:
    """``<amount> <currency> <type> [note]``."""
    parts = argument.split(maxsplit=3)
    if len(parts) < 3:
        raise CostInvalid("A cost needs an amount, a currency and a type.")
    amount = parse_amount(parts[0])
    currency = parse_currency(parts[1])
    kind = parts[2].lower()
    if not _TYPE.match(kind):
        raise CostInvalid(
            f"{parts[2]!r} is not a cost type: use one word such as lost_revenue or refunds."
        )
    note = parts[3].strip() if len(parts) > 3 else ""
    if len(note) > NOTE_MAX_LENGTH:
        raise CostInvalid(f"The note can have at most {NOTE_MAX_LENGTH} characters.")
    return CostDraft(amount=amount, currency=currency, kind=kind, note=note)


def totals_by_currency(entries: Iterable[CostEntry]) -> dict[str, Decimal]:
    """Sum per currency (amounts in different currencies are never added up), sorted by code."""
    totals: dict[str, Decimal] = {}
    for entry in entries:
        totals[entry.currency] = totals.get(entry.currency, Decimal(0)) + entry.amount
    return dict(sorted(totals.items()))


def add_totals(*totals: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Merge per-currency totals."""
    merged: dict[str, Decimal] = {}
    for each in totals:
        for currency, amount in each.items():
            merged[currency] = merged.get(currency, Decimal(0)) + amount
    return dict(sorted(merged.items()))


def format_money(amount: Decimal, currency: str) -> str:
    """``12,000.00 EUR``."""
    return f"{amount:,.2f} {currency}"


def format_totals(totals: Mapping[str, Decimal]) -> str:
    """``12,000.00 EUR + 50.00 USD``, or ``none``."""
    if not totals:
        return "none"
    return " + ".join(format_money(amount, currency) for currency, amount in totals.items())
