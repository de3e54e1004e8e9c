"""The catalogue (料金表): plans, options and the rate tables of one-off charges and levies, each priced
by date.

A price change is a new version from a date on; a date that has come is never edited, so an issued
invoice never changes. Prices are stored without tax; each version says whether screens show it with
tax (税込表示) or without (税抜表示). A plan's own columns (fee, data cap, speed) hold today's version, for
the screens and the data cap; billing always reads the version in effect on each day (PriceBook).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from services.models import ChargeRate, RateOption, RateOptionVersion, RatePlan, RatePlanVersion
from services.models.catalog import CHARGE_KINDS, TAX_RATES
from services.platform.audit import mutating_service, record, snapshot
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, NotFound, ValidationFailed
from services.platform.formatting import yen
from services.platform.permissions import Actor, require

# The codes of the rate tables the product itself uses.
SIM_ISSUE = "sim_issue"                 # SIM発行手数料 (契約事務手数料), charged when a line is added
ADDON_DATA = "addon_data_1gb"           # 追加データ 1GB, bought by the customer
UNIVERSAL_SERVICE = "universal_service"  # ユニバーサルサービス料, per number and month
RELAY_SERVICE = "relay_service"          # 電話リレーサービス料, per number and month
LEVIES = (UNIVERSAL_SERVICE, RELAY_SERVICE)
CODE_MAX_LENGTH = 32
NAME_MAX_LENGTH = 100


def shown_price(amount: int, tax_rate_percent: int, includes_tax: bool) -> str:
    """A price as a screen shows it: 税込 (tax added, rounded down) or 税抜."""
    if includes_tax:
        return f"{yen(amount + amount * tax_rate_percent // 100)}（税込）"
    return f"{yen(amount)}（税抜）"


@dataclass(frozen=True)
class Terms:
    """A priced thing on one day: its monthly fee or amount (tax excluded) and tax rate."""

    amount: int
    tax_rate_percent: int
    data_cap_mb: int = 0
    throttled_kbps: int = 0


class PriceBook:
    """Every version of every price, loaded once, answering "what did it cost on that day"."""

    def __init__(self, session: Session):
        self._plans = self._index(session.exec(select(RatePlanVersion)), "rate_plan_id", lambda v: Terms(
            v.monthly_fee, v.tax_rate_percent, v.data_cap_mb, v.throttled_kbps))
        self._options = self._index(session.exec(select(RateOptionVersion)), "rate_option_id",
                                    lambda v: Terms(v.monthly_fee, v.tax_rate_percent))
        self._charges = self._index(session.exec(select(ChargeRate)), "code",
                                    lambda v: Terms(v.amount, v.tax_rate_percent))
        self.charge_names = {r.code: r.name for r in session.exec(select(ChargeRate).order_by(ChargeRate.effective_from))}

    @staticmethod
    def _index(rows, key: str, terms) -> dict[Any, tuple[list[date], list[Terms]]]:
        grouped: dict[Any, list] = defaultdict(list)
        for row in rows:
            grouped[getattr(row, key)].append((row.effective_from, terms(row)))
        return {k: ([d for d, _ in sorted(v, key=lambda x: x[0])], [t for _, t in sorted(v, key=lambda x: x[0])])
                for k, v in grouped.items()}

    @staticmethod
    def _on(index: dict, key: Any, day: date) -> Terms | None:
        dates, terms = index.get(key, ([], []))
        i = bisect.bisect_right(dates, day) - 1
        return terms[i] if i >= 0 else None

    def plan(self, plan_id: int, day: date) -> Terms | None:
        """The plan's terms in effect on `day` (None before its first version)."""
        return self._on(self._plans, plan_id, day)

    def option(self, option_id: int, day: date) -> Terms | None:
        """The option's price in effect on `day`."""
        return self._on(self._options, option_id, day)

    def charge(self, code: str, day: date) -> Terms | None:
        """The rate-table amount of `code` in effect on `day`."""
        return self._on(self._charges, code, day)

    def plan_changes_within(self, plan_id: int, first: date, last: date) -> list[date]:
        """Days in [first, last] on which the plan's price changes (a new version begins)."""
        return [d for d in self._plans.get(plan_id, ([], []))[0] if first < d <= last]

    def option_changes_within(self, option_id: int, first: date, last: date) -> list[date]:
        """Days in [first, last] on which the option's price changes."""
        return [d for d in self._options.get(option_id, ([], []))[0] if first < d <= last]


def price_book() -> PriceBook:
    """Today's whole price book (a new read each call)."""
    with read_session() as session:
        return PriceBook(session)


def _tax_rate(value: Any, errors: dict[str, str]) -> int:
    try:
        rate = int(value)
    except (TypeError, ValueError):
        rate = -1
    if rate not in TAX_RATES:
        errors["tax_rate_percent"] = "税率は10%または8%（軽減税率）を選んでください。"
    return rate


def _yen(value: Any, name: str, errors: dict[str, str], *, label: str = "金額") -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        errors[name] = f"{label}は0以上の整数（円）で入力してください。"
        return 0
    text = str(value).replace(",", "").strip()
    if not text.isdigit():
        errors[name] = f"{label}は0以上の整数（円）で入力してください。"
        return 0
    return int(text)


def _effective_from(value: Any, errors: dict[str, str]) -> date:
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        errors["effective_from"] = "適用開始日を YYYY-MM-DD で入力してください。"
        return today_in_tokyo()
    if day < today_in_tokyo():
        errors["effective_from"] = "過去の日付からは変更できません（発行済の請求書が変わらないように）。今日以降を指定してください。"
    return day


def _plan_values(values: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    return {
        "monthly_fee": _yen(values.get("monthly_fee"), "monthly_fee", errors, label="月額"),
        "data_cap_mb": _yen(values.get("data_cap_mb"), "data_cap_mb", errors, label="データ容量（MB）"),
        "throttled_kbps": _yen(values.get("throttled_kbps", 200), "throttled_kbps", errors, label="制限時の速度（kbps）") or 200,
        "tax_rate_percent": _tax_rate(values.get("tax_rate_percent", 10), errors),
        "price_includes_tax": bool(values.get("price_includes_tax", True)),
    }


def _name(values: dict[str, Any], errors: dict[str, str]) -> str:
    name = str(values.get("name") or "").strip()
    if not name or len(name) > NAME_MAX_LENGTH:
        errors["name"] = f"名称を{NAME_MAX_LENGTH}文字以内で入力してください。"
    return name


def _code(session: Session, model, values: dict[str, Any], errors: dict[str, str]) -> str:
    code = str(values.get("code") or "").strip()
    if not code or len(code) > CODE_MAX_LENGTH or not code.replace("_", "").replace("-", "").isalnum() or not code.isascii():
        errors["code"] = "コードは半角英数字・_・- で32文字以内で入力してください。"
    elif model is not None and session.exec(select(model).where(model.code == code)).first() is not None:
        errors["code"] = "このコードは既に使われています。"
    return code


def _same_day_version(session: Session, model, owner: str, owner_id: Any, day: date):
    return session.exec(select(model).where(getattr(model, owner) == owner_id, model.effective_from == day)).first()


@mutating_service
def create_plan(*, actor: Actor, values: dict[str, Any], reason: str | None = None) -> RatePlan:
    """Put a new plan on sale (admin, accounting): code, name, monthly fee (tax excluded), data cap,
    speed after the cap, tax rate and display, from `effective_from` (default today)."""
    require(actor, "catalog.manage")
    with write_session() as session:
        errors: dict[str, str] = {}
        code, name = _code(session, RatePlan, values, errors), _name(values, errors)
        terms = _plan_values(values, errors)
        day = _effective_from(values.get("effective_from") or today_in_tokyo(), errors)
        if errors:
            raise ValidationFailed(errors)
        plan = RatePlan(code=code, name=name, monthly_fee=terms["monthly_fee"], data_cap_mb=terms["data_cap_mb"],
                        throttled_kbps=terms["throttled_kbps"])
        session.add(plan)
        session.flush()
        version = RatePlanVersion(rate_plan_id=plan.id, effective_from=day, created_by=actor.id, **terms)
        session.add(version)
        session.flush()
        record(session, actor, "catalog.plan_create", plan, after={**snapshot(plan), "version": snapshot(version)},
               reason=reason)
    return plan


@mutating_service
def add_plan_version(plan_id: int, *, actor: Actor, values: dict[str, Any], reason: str) -> RatePlanVersion:
    """Change a plan's price or terms from a date (today or later; admin, accounting). A version not yet
    in effect may be replaced by giving the same date again."""
    require(actor, "catalog.manage")
    with write_session() as session:
        plan = session.exec(select(RatePlan).where(RatePlan.id == plan_id).with_for_update()).first()
        if plan is None:
            raise NotFound("料金プランが見つかりません。")
        errors: dict[str, str] = {}
        terms = _plan_values(values, errors)
        day = _effective_from(values.get("effective_from"), errors)
        if not (reason or "").strip():
            errors["reason"] = "変更の理由を入力してください。"
        if errors:
            raise ValidationFailed(errors)
        version = _same_day_version(session, RatePlanVersion, "rate_plan_id", plan_id, day)
        if version is not None and day <= today_in_tokyo():
            raise Conflict("今日から適用の改定は既にあります。明日以降の日付で登録してください。")
        before = snapshot(version)
        version = version or RatePlanVersion(rate_plan_id=plan_id, effective_from=day, created_by=actor.id, **terms)
        for key, value in terms.items():
            setattr(version, key, value)
        session.add(version)
        session.flush()
        refresh_today(session)
        record(session, actor, "catalog.plan_version", version, before=before, reason=reason.strip())
    return version


@mutating_service
def create_option(*, actor: Actor, values: dict[str, Any], reason: str | None = None) -> RateOption:
    """Put a new option on sale (admin, accounting): code, name, monthly fee, tax rate and display."""
    require(actor, "catalog.manage")
    with write_session() as session:
        errors: dict[str, str] = {}
        code, name = _code(session, RateOption, values, errors), _name(values, errors)
        fee = _yen(values.get("monthly_fee"), "monthly_fee", errors, label="月額")
        rate = _tax_rate(values.get("tax_rate_percent", 10), errors)
        day = _effective_from(values.get("effective_from") or today_in_tokyo(), errors)
        if errors:
            raise ValidationFailed(errors)
        option = RateOption(code=code, name=name, monthly_fee=fee)
        session.add(option)
        session.flush()
        version = RateOptionVersion(rate_option_id=option.id, effective_from=day, monthly_fee=fee, tax_rate_percent=rate,
                                    price_includes_tax=bool(values.get("price_includes_tax", True)), created_by=actor.id)
        session.add(version)
        session.flush()
        record(session, actor, "catalog.option_create", option,
               after={**snapshot(option), "version": snapshot(version)}, reason=reason)
    return option


@mutating_service
def add_option_version(option_id: int, *, actor: Actor, values: dict[str, Any], reason: str) -> RateOptionVersion:
    """Change an option's price from a date (today or later; admin, accounting)."""
    require(actor, "catalog.manage")
    with write_session() as session:
        option = session.exec(select(RateOption).where(RateOption.id == option_id).with_for_update()).first()
        if option is None:
            raise NotFound("オプションが見つかりません。")
        errors: dict[str, str] = {}
        fee = _yen(values.get("monthly_fee"), "monthly_fee", errors, label="月額")
        rate = _tax_rate(values.get("tax_rate_percent", 10), errors)
        day = _effective_from(values.get("effective_from"), errors)
        if not (reason or "").strip():
            errors["reason"] = "変更の理由を入力してください。"
        if errors:
            raise ValidationFailed(errors)
        version = _same_day_version(session, RateOptionVersion, "rate_option_id", option_id, day)
        if version is not None and day <= today_in_tokyo():
            raise Conflict("今日から適用の改定は既にあります。明日以降の日付で登録してください。")
        before = snapshot(version)
        version = version or RateOptionVersion(rate_option_id=option_id, effective_from=day, monthly_fee=fee,
                                               created_by=actor.id)
        version.monthly_fee, version.tax_rate_percent = fee, rate
        version.price_includes_tax = bool(values.get("price_includes_tax", True))
        session.add(version)
        session.flush()
        refresh_today(session)
        record(session, actor, "catalog.option_version", version, before=before, reason=reason.strip())
    return version


@mutating_service
def set_charge_rate(*, actor: Actor, values: dict[str, Any], reason: str) -> ChargeRate:
    """Set a rate-table amount from a date (admin, accounting): a one-off charge (事務手数料, 追加データ) or a
    per-number monthly levy (ユニバーサルサービス料, 電話リレーサービス料), by code."""
    require(actor, "catalog.manage")
    with write_session() as session:
        errors: dict[str, str] = {}
        code, name = _code(session, None, values, errors), _name(values, errors)
        kind = str(values.get("kind") or "")
        if kind not in CHARGE_KINDS:
            errors["kind"] = "種類（一時金・番号ごとの月額）を選んでください。"
        amount = _yen(values.get("amount"), "amount", errors)
        rate = _tax_rate(values.get("tax_rate_percent", 10), errors)
        day = _effective_from(values.get("effective_from"), errors)
        if not (reason or "").strip():
            errors["reason"] = "変更の理由を入力してください。"
        if errors:
            raise ValidationFailed(errors)
        row = session.exec(select(ChargeRate).where(ChargeRate.code == code, ChargeRate.effective_from == day)).first()
        if row is not None and day <= today_in_tokyo():
            raise Conflict("今日から適用の料金は既にあります。明日以降の日付で登録してください。")
        before = snapshot(row)
        row = row or ChargeRate(code=code, effective_from=day, name=name, kind=kind, amount=amount, created_by=actor.id)
        row.name, row.kind, row.amount, row.tax_rate_percent = name, kind, amount, rate
        row.price_includes_tax = bool(values.get("price_includes_tax", True))
        session.add(row)
        session.flush()
        record(session, actor, "catalog.charge_rate", row, before=before, reason=reason.strip())
    return row


def refresh_today(session: Session, day: date | None = None) -> int:
    """Copy the versions in effect on `day` (today) into the plans' and options' own columns; returns how many
    changed. Runs after each catalogue change and every night (a version dated tomorrow takes over then)."""
    day = day or today_in_tokyo()
    book = PriceBook(session)
    changed = 0
    for plan in session.exec(select(RatePlan)):
        terms = book.plan(plan.id, day)
        if terms and (plan.monthly_fee, plan.data_cap_mb, plan.throttled_kbps) != (
                terms.amount, terms.data_cap_mb, terms.throttled_kbps):
            plan.monthly_fee, plan.data_cap_mb, plan.throttled_kbps = terms.amount, terms.data_cap_mb, terms.throttled_kbps
            session.add(plan)
            changed += 1
    for option in session.exec(select(RateOption)):
        terms = book.option(option.id, day)
        if terms and option.monthly_fee != terms.amount:
            option.monthly_fee = terms.amount
            session.add(option)
            changed += 1
    return changed


def refresh_catalogue() -> int:
    """The nightly job: today's versions into the plans' and options' columns."""
    with write_session() as session:
        return refresh_today(session)


def catalogue(*, actor: Actor) -> dict[str, list[dict[str, Any]]]:
    """The catalogue screen: plans and options with every version (the one in effect today marked), and the
    rate tables."""
    require(actor, "catalog.view")
    today = today_in_tokyo()
    with read_session() as session:
        plan_versions = defaultdict(list)
        for v in session.exec(select(RatePlanVersion).order_by(col(RatePlanVersion.effective_from).desc())):
            plan_versions[v.rate_plan_id].append(v)
        option_versions = defaultdict(list)
        for v in session.exec(select(RateOptionVersion).order_by(col(RateOptionVersion.effective_from).desc())):
            option_versions[v.rate_option_id].append(v)

        def rows(versions, plan: bool) -> list[dict[str, Any]]:
            current = next((v.id for v in versions if v.effective_from <= today), None)
            return [{
                "id": v.id, "effective_from": v.effective_from.isoformat(),
                "monthly_fee": shown_price(v.monthly_fee, v.tax_rate_percent, v.price_includes_tax),
                "fee": v.monthly_fee, "tax_rate": f"{v.tax_rate_percent}%",
                "data_cap_mb": f"{v.data_cap_mb:,} MB" if plan else "", "throttled_kbps": v.throttled_kbps if plan else 0,
                "state": "適用中" if v.id == current else ("予定" if v.effective_from > today else "過去"),
            } for v in versions]

        charges = session.exec(select(ChargeRate).order_by(ChargeRate.code, col(ChargeRate.effective_from).desc())).all()
        current_charge = {}
        for c in charges:
            if c.effective_from <= today and c.code not in current_charge:
                current_charge[c.code] = c.id
        return {
            "plans": [{"id": p.id, "code": p.code, "name": p.name, "on_sale": p.is_active,
                       "versions": rows(plan_versions[p.id], True)}
                      for p in session.exec(select(RatePlan).order_by(RatePlan.id))],
            "options": [{"id": o.id, "code": o.code, "name": o.name, "on_sale": o.is_active,
                         "versions": rows(option_versions[o.id], False)}
                        for o in session.exec(select(RateOption).order_by(RateOption.id))],
            "charges": [{"id": c.id, "code": c.code, "name": c.name,
                         "kind": "番号ごとの月額" if c.kind == "levy" else "一時金",
                         "effective_from": c.effective_from.isoformat(),
                         "amount": shown_price(c.amount, c.tax_rate_percent, c.price_includes_tax),
                         "state": "適用中" if current_charge.get(c.code) == c.id else
                         ("予定" if c.effective_from > today else "過去")} for c in charges],
        }
