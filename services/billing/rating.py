"""Rating (料金計算): what one contract owes for one month, line by line, with the rule shown on each line.

The rules, written once here and nowhere else:

- The billing month is the calendar month (period YYYY-MM), days counted in Tokyo dates.
- Plan and option fees are per number (回線): every number of the contract pays them for the days it is in
  service (開通 to 解約) within the contract's days; numbers with the same days share one invoice line
  whose quantity is the count of numbers (the line says 「N回線」).
- 日割り (proration): a plan or option billed for part of a month costs monthly fee × days ÷ days in the
  calendar month, rounded down to the yen; the line says 「日割り d日/n日」. A whole month costs the monthly
  fee. Days are split where the plan changes, where an option starts or ends, where the contract or a
  number starts or ends, and where the catalogue's price changes: each day of a number is billed on
  exactly one plan at one price, so a same-day plan change never bills twice.
- Levies (ユニバーサルサービス料, 電話リレーサービス料) are per number and month, for each number in service
  on any day of the month, at the rate in effect on the 1st; not prorated.
- Instalments (分割): total ÷ months each month from the first, the remainder on the first bill; when the
  contract ends before the last month, what is left is billed at once on the final bill and never again.
- One-off charges, add-on data and discounts waiting for the bill (PendingCharge) up to the month's last
  day are billed once.
- 初期契約解除 (a contract ended within 8 days of its start, counting the first day): only the days of
  service used are billed (the prorated plan and options, levies of numbers used, charges incurred); the
  line says so. No early-termination charge exists in this catalogue either way.
- Amounts are tax excluded; consumption tax is computed once per invoice per rate (services.billing.invoices).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta

from services.ledger.catalogue import LEVIES, PriceBook

INITIAL_CANCELLATION_DAYS = 8


@dataclass(frozen=True)
class Span:
    """A plan or option on a contract from `start` to `end` (inclusive; None = open)."""

    ref_id: int
    name: str
    start: date
    end: date | None


@dataclass(frozen=True)
class LineInService:
    """A number of the contract and the days it was in service (開通 to 解約; None = still)."""

    line_id: int
    start: date
    end: date | None


@dataclass(frozen=True)
class Charge:
    """A charge waiting for the bill."""

    pending_id: int
    code: str
    description: str
    quantity: int
    unit_price: int
    tax_rate_percent: int
    occurred_on: date
    line_id: int | None


@dataclass(frozen=True)
class Instalment:
    """A device paid in instalments."""

    instalment_id: int
    description: str
    total: int
    months: int
    first_period: str
    tax_rate_percent: int
    line_id: int | None


@dataclass(frozen=True)
class ContractFacts:
    """Everything rating needs about one contract, read beforehand (rating reads no database)."""

    contract_id: int
    customer_id: int
    start: date | None
    end: date | None
    plans: list[Span] = field(default_factory=list)
    options: list[Span] = field(default_factory=list)
    lines: list[LineInService] = field(default_factory=list)
    charges: list[Charge] = field(default_factory=list)
    instalments: list[Instalment] = field(default_factory=list)


@dataclass(frozen=True)
class Item:
    """One invoice line as rating made it."""

    kind: str
    description: str
    quantity: int
    unit_price: int
    amount: int
    tax_rate_percent: int
    line_id: int | None = None
    service_from: date | None = None
    service_to: date | None = None
    note: str | None = None
    pending_charge_id: int | None = None


def month_bounds(period: str) -> tuple[date, date]:
    """First and last day of a period "YYYY-MM"."""
    year, month = int(period[:4]), int(period[5:7])
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def prorate(monthly_fee: int, days: int, days_in_month: int) -> int:
    """日割り: monthly fee × days ÷ days in the month, rounded down to the yen."""
    return monthly_fee * days // days_in_month


def is_initial_cancellation(start: date | None, end: date | None) -> bool:
    """True for a contract ended within 8 days of its start, the start day counted as day 1 (初期契約解除)."""
    return start is not None and end is not None and (end - start).days < INITIAL_CANCELLATION_DAYS


def _pieces(start: date, end: date, change_days: list[date]) -> list[tuple[date, date]]:
    """[start, end] split before each day in `change_days` (days when a new price begins)."""
    bounds = [start] + sorted(d for d in set(change_days) if start < d <= end)
    return [(b, (bounds[i + 1] - timedelta(days=1)) if i + 1 < len(bounds) else end) for i, b in enumerate(bounds)]


def _clip(span_start: date, span_end: date | None, first: date, last: date) -> tuple[date, date] | None:
    start, end = max(span_start, first), min(span_end or last, last)
    return (start, end) if start <= end else None


def _recurring(kind: str, spans: list[Span], lines: list[LineInService], first: date, last: date,
               days_in_month: int, terms_on, changes_within, label: str, note_suffix: str) -> list[Item]:
    """One item per plan (or option) price piece and per set of numbers sharing the same days in it."""
    items: list[Item] = []
    for span in spans:
        clipped = _clip(span.start, span.end, first, last)
        if clipped is None:
            continue
        for start, end in _pieces(*clipped, changes_within(span.ref_id, *clipped)):
            terms = terms_on(span.ref_id, start)
            if terms is None:
                continue
            served: dict[tuple[date, date], list[int]] = {}
            for line in lines:
                days = _clip(line.start, line.end, start, end)
                if days is not None:
                    served.setdefault(days, []).append(line.line_id)
            for (day_from, day_to), line_ids in sorted(served.items()):
                days = (day_to - day_from).days + 1
                whole = days == days_in_month
                unit = terms.amount if whole else prorate(terms.amount, days, days_in_month)
                notes = [] if whole else [f"日割り {days}日/{days_in_month}日（月額{terms.amount:,}円）{note_suffix}"]
                if len(line_ids) > 1:
                    notes.append(f"{len(line_ids)}回線")
                items.append(Item(kind, label.format(name=span.name), len(line_ids), unit, unit * len(line_ids),
                                  terms.tax_rate_percent, line_id=line_ids[0] if len(line_ids) == 1 else None,
                                  service_from=day_from, service_to=day_to, note="・".join(notes) or None))
    return items


def _months_between(first_period: str, period: str) -> int:
    return (int(period[:4]) - int(first_period[:4])) * 12 + int(period[5:7]) - int(first_period[5:7])


def _instalment_items(facts: ContractFacts, period: str, last: date) -> list[Item]:
    items: list[Item] = []
    if facts.end is not None and facts.end < last.replace(day=1):
        return items  # the final bill took what was left
    final_bill = facts.end is not None and facts.end <= last
    for plan in facts.instalments:
        k = _months_between(plan.first_period, period)
        if k < 0 or k >= plan.months:
            continue
        monthly = plan.total // plan.months
        if final_bill and k < plan.months - 1:
            remaining = plan.total - monthly * k - (plan.total % plan.months if k > 0 else 0)
            items.append(Item("instalment", f"{plan.description}（分割 残額一括）", 1, remaining, remaining,
                              plan.tax_rate_percent, line_id=plan.line_id,
                              note=f"契約終了のため {k + 1}〜{plan.months}回目をまとめて請求"))
            continue
        amount = monthly + (plan.total % plan.months if k == 0 else 0)
        items.append(Item("instalment", f"{plan.description}（分割 {k + 1}/{plan.months}回目）", 1, amount, amount,
                          plan.tax_rate_percent, line_id=plan.line_id))
    return items


def rate_contract(facts: ContractFacts, period: str, book: PriceBook) -> list[Item]:
    """The invoice lines of one contract for `period`, in a stable order (plan, options, levies, instalments,
    charges). An empty list means nothing to bill this month."""
    month_first, month_last = month_bounds(period)
    first, last = month_first, month_last
    if facts.start is not None:
        first = max(first, facts.start) if facts.start <= last else last + timedelta(days=1)
    if facts.end is not None:
        last = min(last, facts.end)
    days_in_month = month_last.day
    items: list[Item] = []
    if first <= last:
        initial = is_initial_cancellation(facts.start, facts.end)
        suffix = "・初期契約解除（ご利用日数分のみ）" if initial else ""
        items += _recurring("plan", facts.plans, facts.lines, first, last, days_in_month, book.plan,
                            book.plan_changes_within, "{name} 月額基本料", suffix)
        items += _recurring("option", facts.options, facts.lines, first, last, days_in_month, book.option,
                            book.option_changes_within, "オプション {name}", suffix)
        numbers = sum(1 for ln in facts.lines if _clip(ln.start, ln.end, first, last) is not None)
        for code in LEVIES if numbers else ():
            terms = book.charge(code, month_first)
            if terms is not None and terms.amount:
                items.append(Item("levy", book.charge_names.get(code, code), numbers, terms.amount,
                                  numbers * terms.amount, terms.tax_rate_percent,
                                  note=f"{numbers}番号 × {terms.amount:,}円"))
    items += _instalment_items(facts, period, month_last)
    for charge in sorted(facts.charges, key=lambda c: (c.occurred_on, c.pending_id)):
        if charge.occurred_on <= month_last:
            items.append(Item("discount" if charge.unit_price < 0 else "charge", charge.description, charge.quantity,
                              charge.unit_price, charge.quantity * charge.unit_price, charge.tax_rate_percent,
                              line_id=charge.line_id, service_from=charge.occurred_on, service_to=charge.occurred_on,
                              pending_charge_id=charge.pending_id))
    return items
