"""What is sold: rate plans (料金プラン) and options (オプション), their prices by date, and the rate
tables of one-off charges and per-number levies."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.models.base import utcnow, values_check


class RatePlan(SQLModel, table=True):
    """A monthly plan with a data cap and the speed after the cap."""

    __tablename__ = "rate_plan"
    __table_args__ = (
        CheckConstraint("monthly_fee >= 0", name="ck_rate_plan_fee"),
        CheckConstraint("data_cap_mb >= 0", name="ck_rate_plan_cap"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=100)
    monthly_fee: int
    data_cap_mb: int
    throttled_kbps: int = 200
    is_active: bool = True


class RateOption(SQLModel, table=True):
    """An add-on sold with a plan (e.g. かけ放題, 端末補償)."""

    __tablename__ = "rate_option"
    __table_args__ = (CheckConstraint("monthly_fee >= 0", name="ck_rate_option_fee"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=100)
    monthly_fee: int
    is_active: bool = True


TAX_RATES = (10, 8)  # 標準税率 and 軽減税率 (percent)
CHARGE_KINDS = ("one_off", "levy")  # 一時金 (事務手数料, 追加データ …) | 番号ごとの月額 (ユニバーサルサービス料 …)


class RatePlanVersion(SQLModel, table=True):
    """A plan's price and terms from a date on (料金改定): billing reads the version in effect on each day.

    Prices are stored without tax (税抜); `price_includes_tax` only says how screens and notices show
    the price (税込表示 or 税抜表示). A version is never edited once its date has come; a new version
    from a later date replaces it from then on, so an issued invoice never changes.
    """

    __tablename__ = "rate_plan_version"
    __table_args__ = (
        UniqueConstraint("rate_plan_id", "effective_from", name="uq_rate_plan_version"),
        CheckConstraint("monthly_fee >= 0 AND data_cap_mb >= 0 AND throttled_kbps > 0", name="ck_rate_plan_version"),
        CheckConstraint("tax_rate_percent IN (10, 8)", name="ck_rate_plan_version_tax"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rate_plan_id: int = Field(foreign_key="rate_plan.id", index=True)
    effective_from: date
    monthly_fee: int
    data_cap_mb: int
    throttled_kbps: int = 200
    tax_rate_percent: int = 10
    price_includes_tax: bool = True
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = Field(default_factory=utcnow)


class RateOptionVersion(SQLModel, table=True):
    """An option's monthly price from a date on (tax excluded; shown with or without tax)."""

    __tablename__ = "rate_option_version"
    __table_args__ = (
        UniqueConstraint("rate_option_id", "effective_from", name="uq_rate_option_version"),
        CheckConstraint("monthly_fee >= 0", name="ck_rate_option_version_fee"),
        CheckConstraint("tax_rate_percent IN (10, 8)", name="ck_rate_option_version_tax"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rate_option_id: int = Field(foreign_key="rate_option.id", index=True)
    effective_from: date
    monthly_fee: int
    tax_rate_percent: int = 10
    price_includes_tax: bool = True
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = Field(default_factory=utcnow)


class ChargeRate(SQLModel, table=True):
    """A rate table row: a one-off charge (事務手数料, 追加データ) or a per-number monthly levy
    (ユニバーサルサービス料, 電話リレーサービス料), by code, from a date on (tax excluded)."""

    __tablename__ = "charge_rate"
    __table_args__ = (
        UniqueConstraint("code", "effective_from", name="uq_charge_rate"),
        values_check("kind", CHARGE_KINDS, "ck_charge_rate_kind"),
        CheckConstraint("amount >= 0", name="ck_charge_rate_amount"),
        CheckConstraint("tax_rate_percent IN (10, 8)", name="ck_charge_rate_tax"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, index=True)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=16)
    effective_from: date
    amount: int
    tax_rate_percent: int = 10
    price_includes_tax: bool = True
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = Field(default_factory=utcnow)
