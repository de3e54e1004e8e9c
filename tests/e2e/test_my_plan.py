"""The contract in the customer app on a phone (390×844): the demo 法人管理者 opens their contract from the home
page, asks to change the plan from next month, sees the effective date and the monthly difference before
confirming, confirms, and finds the change in the plan history — no sideways scroll, every tap target at least
44 px, the choices' labels tied to their inputs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from demo.customers import DEMO_CUSTOMERS
from services.models import AuditEntry, Contract, ContractPlanPeriod, CustomerUser, Line, RatePlan, RatePlanVersion
from services.platform.clock import today_in_tokyo
from tests.e2e.conftest import open_context, query, sign_in_customer

pytestmark = pytest.mark.e2e
PHONE = 390


def _setup(s: Session) -> dict:
    """The demo company's first contract in service with a number in service, its plan's fee, and another plan
    on sale (the cheapest one other than the current) with its fee, as the catalogue prices them today."""
    admin = s.exec(select(CustomerUser).where(CustomerUser.email == DEMO_CUSTOMERS["admin"][0])).one()
    with_lines = select(Line.contract_id).where(Line.customer_id == admin.customer_id, Line.status == "active")
    contract = s.exec(select(Contract).where(Contract.customer_id == admin.customer_id, Contract.status == "active",
                                             col(Contract.start_date).is_not(None), col(Contract.id).in_(with_lines))
                      .order_by(Contract.id)).first()
    today = today_in_tokyo()

    def fee(plan_id: int) -> int | None:
        version = s.exec(select(RatePlanVersion).where(RatePlanVersion.rate_plan_id == plan_id,
                                                       RatePlanVersion.effective_from <= today)
                         .order_by(col(RatePlanVersion.effective_from).desc())).first()
        return version.monthly_fee if version else None

    others = [(fee(p.id), p.id, p.name) for p in s.exec(select(RatePlan).where(
        RatePlan.is_active.is_(True), RatePlan.id != contract.rate_plan_id)) if fee(p.id) is not None]
    new_fee, new_id, new_name = sorted(others)[0]
    return {"contract_id": contract.id, "old_fee": fee(contract.rate_plan_id), "new_id": new_id,
            "new_name": new_name, "new_fee": new_fee, "customer_user_id": admin.id}


def _fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE


def _tall_enough(page, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    assert box is not None and box["height"] >= 44, f"{selector} is {box and box['height']} px tall"


def test_the_company_admin_previews_a_plan_change_for_next_month_confirms_it_and_sees_it_in_the_history(
        app_server, browser):
    base = app_server["base"]
    facts = query(app_server, _setup)
    first_of_next_month = (today_in_tokyo().replace(day=28) + timedelta(days=4)).replace(day=1)
    difference = facts["new_fee"] - facts["old_fee"]
    context = open_context(browser, "phone", locale="ja-JP")
    try:
        page = context.new_page()
        page.goto(f"{base}/my/login")
        sign_in_customer(page, app_server, "admin")
        page.wait_for_url(re.compile(r".*/my/?$"), timeout=20000)

        page.click("#my-contracts-link", timeout=20000)  # from the home page
        page.wait_for_url(re.compile(r".*/my/contracts/?$"), timeout=20000)
        page.click(f"#contract-{facts['contract_id']}", timeout=20000)
        page.wait_for_url(re.compile(rf".*/my/contracts/{facts['contract_id']}/?$"), timeout=20000)
        page.wait_for_selector("#early-termination:has-text('解約金（契約解除料）はかかりません')", timeout=20000)
        _fits_the_phone(page)

        page.click("#change-plan")
        page.get_by_label("変更先のプラン").select_option(str(facts["new_id"]))  # the label is tied to its input
        next_month = page.get_by_label("翌月1日から（おすすめ・日割りなし）")
        assert next_month.is_checked()  # next month is the default
        _tall_enough(page, "label[for=when-next_month]")
        _tall_enough(page, "#change-choice")
        page.click("#change-check")

        preview = page.locator("#change-preview")
        preview.wait_for(timeout=20000)
        text = preview.inner_text()
        assert f"適用日: {first_of_next_month:%Y年%m月%d日}" in text
        sign, taxed = "+" if difference >= 0 else "−", abs((facts["new_fee"] + facts["new_fee"] // 10)
                                                            - (facts["old_fee"] + facts["old_fee"] // 10))
        assert f"月額の差: {sign}￥{taxed:,}（税込、税抜では {sign}￥{abs(difference):,}）" in text  # 10% plans
        assert facts["new_name"] in text
        _tall_enough(page, "#change-confirm")
        _fits_the_phone(page)

        page.click("#change-confirm")
        page.wait_for_selector(f"text=プランの変更を受け付けました（{first_of_next_month:%Y年%m月%d日}から）。", timeout=20000)
        history = page.locator("#plan-history")
        assert facts["new_name"] in history.inner_text()
        assert f"{first_of_next_month:%Y/%m/%d} 〜" in history.inner_text()
        assert "予定" in history.inner_text()
        _fits_the_phone(page)
    finally:
        context.close()

    def written(s: Session):
        span = s.exec(select(ContractPlanPeriod).where(ContractPlanPeriod.contract_id == facts["contract_id"],
                                                       ContractPlanPeriod.valid_from == first_of_next_month)).one()
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "contract.change_plan",
                                                AuditEntry.entity_id == facts["contract_id"])
                       .order_by(col(AuditEntry.id).desc())).first()
        return span.rate_plan_id, (entry.actor_kind, entry.actor_id)

    assert query(app_server, written) == (facts["new_id"], ("customer", facts["customer_user_id"]))
