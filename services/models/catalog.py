"""What is sold: rate plans (料金プラン) and options (オプション)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel


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
