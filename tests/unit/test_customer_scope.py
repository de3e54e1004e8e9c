"""The customer app's scope (IDOR suite) and what it shows: two companies A and B, each with a 法人管理者 and a
利用者 who sees one of the two lines. Nothing of B is reachable from A — every id of B is NotFound in the same
words as an id that does not exist, or absent from the lists — and a refused call writes nothing. A 利用者
sees only their line, no bills without the right, and manages nobody. Then the behaviour: this month's use,
bills (no drafts or voids, what is still owed, the PDF staff download), notices read once, invitations mailed
through the outbox, removal, lines and rights. Figures are worked out by hand under a frozen clock
(2026-03-10 10:00 in Tokyo)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func
from sqlmodel import SQLModel, col, select

from services.billing import corrections, invoice_documents, invoices, payments
from services.ledger import catalogue, customer_users, customers, lines, notices_read, usage_caps
from services.models import (
    AuditEntry,
    CustomerInvitation,
    CustomerSession,
    CustomerUser,
    ExternalOperation,
    Invoice,
    Notification,
    UsageRecord,
)
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from services.platform.permissions import Actor
from services.read.customer import bills, home, notices
from services.workflow import approvals
from services.workflow.approval_gate import approved
from tests.unit.customer_builders import company_user, customer_actor, in_app_notice, signed_in_session
from tests.unit.frozen_time import freeze

MISSING = 10**6  # an id that exists nowhere


@pytest.fixture()
def clock(monkeypatch):
    return freeze(monkeypatch, date(2026, 3, 10))


@dataclass(frozen=True)
class Company:
    customer_id: int
    contract_id: int
    line1: int  # the 利用者's line
    line2: int
    admin_id: int
    user_id: int
    invoice_id: int  # February, issued: 10,000 + 10% = 11,000
    general_notice: int  # to the whole company
    bill_notice: int  # to the whole company, about a bill
    personal_notice: int  # to the 利用者 only
    admin_notice: int  # to the 法人管理者 only
    invitation_id: int  # open, for a 利用者 who will see line2

    @property
    def admin(self) -> Actor:
        return customer_actor(self.admin_id)

    @property
    def user(self) -> Actor:
        return customer_actor(self.user_id)


def _active_line(world, contract, number: str) -> int:
    line = lines.add_line(actor=world.admin, contract_id=contract.id, msisdn=number, iccid=world.sim().iccid)
    lines.change_line_status(line.id, actor=world.admin, event="activate", reason="開通")
    world.carrier_done(line.id)
    return line.id


def _company(world, plan_id: int, tag: str, kana: str, numbers: tuple[str, str]) -> Company:
    customer_id = customers.create_customer(actor=world.admin, kind="corporate", name=f"株式会社{tag}",
                                            name_kana=f"カブシキガイシャ{kana}", email=f"info@{tag}.example.jp").id
    contract = world.active_contract(customer_id, plan_id=plan_id)
    line1, line2 = (_active_line(world, contract, n) for n in numbers)
    admin_id = company_user(customer_id, f"admin@{tag}.example.jp", role="customer_admin", name=f"{tag} 管理者")
    user_id = company_user(customer_id, f"user@{tag}.example.jp", name=f"{tag} 利用者", line_ids=[line1])
    invoice = world.invoice(contract, period="2026-02")
    invitation, _ = customer_users.invite_user(customer_id, actor=world.admin, email=f"new@{tag}.example.jp",
                                               name="新人 花子", role="user", line_ids=[line2])
    return Company(
        customer_id=customer_id, contract_id=contract.id, line1=line1, line2=line2, admin_id=admin_id,
        user_id=user_id, invoice_id=invoice.id,
        general_notice=in_app_notice(customer_id, "maintenance", "メンテナンスのお知らせ"),
        bill_notice=in_app_notice(customer_id, "invoice_issued", "2月分のご請求"),
        personal_notice=in_app_notice(customer_id, "account", "ようこそ", customer_user_id=user_id),
        admin_notice=in_app_notice(customer_id, "account", "管理者の方へ", customer_user_id=admin_id),
        invitation_id=invitation.id)


@pytest.fixture()
def plan_id(world, clock) -> int:
    """データ3GB: 1,980 yen a month, 3,072 MB, 200 kbps over the cap."""
    return catalogue.create_plan(actor=world.admin, values={
        "code": "DATA3", "name": "データ3GB", "monthly_fee": 1980, "data_cap_mb": 3072, "throttled_kbps": 200}).id


@pytest.fixture()
def a(world, plan_id) -> Company:
    return _company(world, plan_id, "エー", "エー", ("090-1234-5678", "090-1234-5679"))


@pytest.fixture()
def b(world, plan_id, a) -> Company:
    return _company(world, plan_id, "ビー", "ビー", ("080-2222-0001", "080-2222-0002"))


def ledger(engine) -> dict[str, list[tuple]]:
    """Every row of every table, to prove a refused call wrote nothing (audit entries, people, lines, notices,
    invitations, sessions, outbox, stored PDFs)."""
    with engine.connect() as conn:
        return {t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=repr)
                for t in SQLModel.metadata.sorted_tables}


def audit_count() -> int:
    with read_session() as s:
        return s.exec(select(func.count()).select_from(AuditEntry)).one()


def _user(user_id: int) -> CustomerUser:
    with read_session() as s:
        return s.get(CustomerUser, user_id)


# ---- IDOR: nothing of B from A ----------------------------------------------------------------------------

SEEING_CALLS = {  # (actor, A, B) -> a call on one of B's records
    "my_bill": lambda actor, a, b: bills.my_bill(b.invoice_id, actor=actor),
    "my_bill_pdf": lambda actor, a, b: bills.my_bill_pdf(b.invoice_id, actor=actor),
    "mark_read of B's company notice": lambda actor, a, b: notices_read.mark_read(b.general_notice, actor=actor),
    "mark_read of B's personal notice": lambda actor, a, b: notices_read.mark_read(b.personal_notice, actor=actor),
}
MANAGING_CALLS = {
    "invite_user to B": lambda actor, a, b: customer_users.invite_user(
        b.customer_id, actor=actor, email="someone@example.jp", name="誰か", role="user"),
    "invite_user to A with B's line": lambda actor, a, b: customer_users.invite_user(
        a.customer_id, actor=actor, email="someone@example.jp", name="誰か", role="user", line_ids=[b.line1]),
    "company_users of B": lambda actor, a, b: customer_users.company_users(b.customer_id, actor=actor),
    "remove_user of B's 利用者": lambda actor, a, b: customer_users.remove_user(b.user_id, actor=actor, reason="退職"),
    "remove_user of B's 法人管理者": lambda actor, a, b: customer_users.remove_user(b.admin_id, actor=actor,
                                                                             reason="退職"),
    "assign_lines to B's 利用者": lambda actor, a, b: customer_users.assign_lines(b.user_id, [a.line1], actor=actor),
    "assign_lines of B's line": lambda actor, a, b: customer_users.assign_lines(a.user_id, [b.line1], actor=actor),
    "set_rights of B's 利用者": lambda actor, a, b: customer_users.set_rights(
        b.user_id, actor=actor, can_view_bills=True, can_request=True),
}
NOT_FOUND_WORDS = {
    "my_bill": "請求書が見つかりません。", "my_bill_pdf": "請求書が見つかりません。",
    "mark_read of B's company notice": "通知が見つかりません。", "mark_read of B's personal notice": "通知が見つかりません。",
    "invite_user to B": "顧客が見つかりません。", "invite_user to A with B's line": "回線が見つかりません。",
    "company_users of B": "顧客が見つかりません。", "remove_user of B's 利用者": "利用者が見つかりません。",
    "remove_user of B's 法人管理者": "利用者が見つかりません。", "assign_lines to B's 利用者": "利用者が見つかりません。",
    "assign_lines of B's line": "回線が見つかりません。", "set_rights of B's 利用者": "利用者が見つかりません。",
}


@pytest.mark.parametrize("name", list(SEEING_CALLS) + list(MANAGING_CALLS))
def test_a_companys_admin_gets_not_found_for_every_id_of_another_company_and_nothing_is_written(name, engine, a, b):
    call = {**SEEING_CALLS, **MANAGING_CALLS}[name]
    before = ledger(engine)

    with pytest.raises(NotFound) as refused:
        call(a.admin, a, b)

    assert refused.value.message == NOT_FOUND_WORDS[name]
    assert ledger(engine) == before


@pytest.mark.parametrize("name", list(SEEING_CALLS))
def test_a_user_gets_not_found_for_another_companys_bills_and_notices_and_nothing_is_written(name, engine, a, b):
    with write_session() as s:  # even with every right of a 利用者
        row = s.get(CustomerUser, a.user_id)
        row.can_view_bills = row.can_request = True
        s.add(row)
    before = ledger(engine)

    with pytest.raises(NotFound) as refused:
        SEEING_CALLS[name](a.user, a, b)

    assert refused.value.message == NOT_FOUND_WORDS[name]
    assert ledger(engine) == before


@pytest.mark.parametrize("name", list(MANAGING_CALLS))
def test_a_user_manages_nobody_whatever_the_company_and_nothing_is_written(name, engine, a, b):
    before = ledger(engine)

    with pytest.raises(PermissionDenied) as refused:
        MANAGING_CALLS[name](a.user, a, b)

    assert refused.value.message == "利用者の管理は法人管理者だけが行えます。"
    assert ledger(engine) == before


def test_another_companys_ids_are_answered_exactly_like_ids_that_do_not_exist(a, b):
    def words(call) -> str:
        with pytest.raises(NotFound) as refused:
            call()
        return refused.value.message

    assert words(lambda: bills.my_bill(b.invoice_id, actor=a.admin)) == words(
        lambda: bills.my_bill(MISSING, actor=a.admin))
    assert words(lambda: notices_read.mark_read(b.admin_notice, actor=a.admin)) == words(
        lambda: notices_read.mark_read(MISSING, actor=a.admin))
    assert words(lambda: customer_users.set_rights(b.user_id, actor=a.admin, can_view_bills=True,
                                                   can_request=False)) == words(
        lambda: customer_users.set_rights(MISSING, actor=a.admin, can_view_bills=True, can_request=False))
    assert words(lambda: customer_users.assign_lines(a.user_id, [b.line2], actor=a.admin)) == words(
        lambda: customer_users.assign_lines(a.user_id, [MISSING], actor=a.admin))


def test_lists_hold_only_the_own_companys_records(a, b):
    assert [row["id"] for row in home.my_lines(actor=a.admin)] == [a.line1, a.line2]
    assert [row["id"] for row in bills.my_bills(actor=a.admin)] == [a.invoice_id]
    assert {row["id"] for row in notices.my_notifications(actor=a.admin)} == {
        a.general_notice, a.bill_notice, a.admin_notice}
    people = customer_users.company_users(a.customer_id, actor=a.admin)
    assert [(row["kind"], row["id"]) for row in people] == [
        ("user", a.admin_id), ("user", a.user_id), ("invitation", a.invitation_id)]


def test_a_user_sees_only_their_line_no_bills_and_no_bill_notices_without_the_right(a, b):
    assert [row["id"] for row in home.my_lines(actor=a.user)] == [a.line1]
    assert bills.my_bills(actor=a.user) == []
    with pytest.raises(NotFound, match="請求書が見つかりません。"):
        bills.my_bill(a.invoice_id, actor=a.user)
    with pytest.raises(NotFound, match="請求書が見つかりません。"):
        bills.my_bill_pdf(a.invoice_id, actor=a.user)
    assert {row["id"] for row in notices.my_notifications(actor=a.user)} == {a.general_notice, a.personal_notice}
    with pytest.raises(NotFound, match="通知が見つかりません。"):
        notices_read.mark_read(a.bill_notice, actor=a.user)
    with pytest.raises(NotFound, match="通知が見つかりません。"):
        notices_read.mark_read(a.admin_notice, actor=a.user)


def test_a_user_allowed_to_see_bills_sees_the_companys_bills_and_bill_notices(a, b):
    customer_users.set_rights(a.user_id, actor=a.admin, can_view_bills=True, can_request=False)

    assert [row["id"] for row in bills.my_bills(actor=a.user)] == [a.invoice_id]
    assert bills.my_bill(a.invoice_id, actor=a.user)["invoice_no"] == "INV-202602-000001"
    assert {row["id"] for row in notices.my_notifications(actor=a.user)} == {
        a.general_notice, a.bill_notice, a.personal_notice}


def test_a_user_cannot_manage_their_own_company_either(engine, a):
    before = ledger(engine)
    calls = [
        lambda: customer_users.invite_user(a.customer_id, actor=a.user, email="x@example.jp", name="某", role="user"),
        lambda: customer_users.company_users(a.customer_id, actor=a.user),
        lambda: customer_users.remove_user(a.admin_id, actor=a.user, reason="退職"),
        lambda: customer_users.assign_lines(a.user_id, [a.line1, a.line2], actor=a.user),
        lambda: customer_users.set_rights(a.user_id, actor=a.user, can_view_bills=True, can_request=True),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied, match="利用者の管理は法人管理者だけが行えます。"):
            call()
    assert ledger(engine) == before


def test_staff_use_the_staff_screens_not_the_customer_read_models(world, a):
    for call in (lambda: home.my_lines(actor=world.admin), lambda: bills.my_bills(actor=world.admin),
                 lambda: notices.unread_count(actor=world.admin)):
        with pytest.raises(PermissionDenied):
            call()


def test_a_removed_person_is_signed_out_of_everything(a):
    customer_users.remove_user(a.user_id, actor=a.admin, reason="退職")
    removed = customer_actor(a.user_id)

    for call in (lambda: home.my_lines(actor=removed), lambda: notices.unread_count(actor=removed),
                 lambda: notices_read.mark_read(a.general_notice, actor=removed)):
        with pytest.raises(NotAuthenticated):
            call()


def test_a_session_of_one_company_cannot_claim_another(a, b):
    forged = Actor(kind="customer", id=a.admin_id, role=a.admin.role, label="forged", customer_id=b.customer_id)

    with pytest.raises(NotAuthenticated):
        home.my_lines(actor=forged)


# ---- home: this month's use -------------------------------------------------------------------------------

def _usage(line_id: int, *days: tuple[date, int]) -> None:
    with write_session() as s:
        s.add_all([UsageRecord(line_id=line_id, day=day, used_mb=mb) for day, mb in days])


def test_the_home_page_shows_this_months_use_against_the_cap_day_by_day(a):
    _usage(a.line1, (date(2026, 2, 28), 999), (date(2026, 3, 1), 500), (date(2026, 3, 5), 1200),
           (date(2026, 3, 10), 300))

    [line] = home.my_lines(actor=a.user)

    assert {k: v for k, v in line.items() if k != "daily"} == {
        "id": a.line1, "msisdn": "090-1234-5678", "status": "active", "status_label": "利用中",
        "plan_name": "データ3GB", "used_mb": 2000, "cap_mb": 3072, "percent": 65, "over_cap": False,
        "throttled": False, "throttled_kbps": 200, "cycle_start": "2026-03-01", "cycle_end": "2026-03-31",
        "days_left": 22, "addon_offered": False}  # 2000 / 3072 = 65.1 %; the 10th to the 31st, today counted
    assert len(line["daily"]) == 10  # the 1st to today
    assert line["daily"][0] == {"day": "2026-03-01", "mb": 500, "total_mb": 500}
    assert line["daily"][1] == {"day": "2026-03-02", "mb": 0, "total_mb": 500}
    assert line["daily"][4] == {"day": "2026-03-05", "mb": 1200, "total_mb": 1700}
    assert line["daily"][9] == {"day": "2026-03-10", "mb": 300, "total_mb": 2000}


def test_a_line_over_its_cap_shows_throttled_once_the_carrier_confirmed(world, a):
    _usage(a.line2, (date(2026, 3, 3), 3100))
    [_, before] = home.my_lines(actor=a.admin)
    assert (before["used_mb"], before["percent"], before["over_cap"], before["throttled"]) == (3100, 100, True, False)

    assert usage_caps.enforce() == {"throttle_on": 1, "throttle_off": 0}
    world.carrier_done(a.line2)

    [_, after] = home.my_lines(actor=a.admin)
    assert (after["over_cap"], after["throttled"]) == (True, True)


def test_on_the_first_of_the_month_the_cycle_starts_again(clock, a):
    _usage(a.line1, (date(2026, 3, 31), 800))
    clock.day(date(2026, 4, 1))

    [line] = home.my_lines(actor=a.user)

    assert (line["used_mb"], line["days_left"], line["cycle_end"]) == (0, 30, "2026-04-30")
    assert line["daily"] == [{"day": "2026-04-01", "mb": 0, "total_mb": 0}]


# ---- bills ------------------------------------------------------------------------------------------------

def test_the_bill_list_hides_drafts_and_void_bills(world, a):
    draft = invoices.create_invoice(actor=world.admin, contract_id=a.contract_id, period="2026-01", items=[
        {"description": "月額基本料", "quantity": 1, "unit_price": 1980}])
    voided = world.invoice(world.contract(a.customer_id), period="2025-12")
    with approved("invoice.void"):
        invoices.void_invoice(voided.id, actor=world.admin, reason="金額誤り")

    assert [row["invoice_no"] for row in bills.my_bills(actor=a.admin)] == ["INV-202602-000001"]
    for invoice_id in (draft.id, voided.id):
        with pytest.raises(NotFound, match="請求書が見つかりません。"):
            bills.my_bill(invoice_id, actor=a.admin)
        with pytest.raises(NotFound, match="請求書が見つかりません。"):
            bills.my_bill_pdf(invoice_id, actor=a.admin)


def test_a_partial_payment_leaves_the_rest_owed_and_it_is_overdue_after_the_due_date(world, clock, a):
    payment = payments.record_payment(actor=world.admin, amount=5000, method="bank_transfer",
                                      payer_name="カ）エー", customer_id=a.customer_id)
    payments.allocate_payment(payment.id, actor=world.admin, invoice_id=a.invoice_id, amount=5000)

    [row] = bills.my_bills(actor=a.admin)
    assert row == {
        "id": a.invoice_id, "invoice_no": "INV-202602-000001", "kind": "invoice", "kind_label": "請求書",
        "period": "2026-02", "issue_date": "2026-03-10", "due_date": "2026-04-30", "total": "￥11,000",
        "total_yen": 11000, "owed": "￥6,000", "owed_yen": 6000, "payment_state": "partially_paid",
        "payment_state_label": "一部入金", "overdue": False}

    clock.day(date(2026, 4, 30))
    assert bills.my_bills(actor=a.admin)[0]["overdue"] is False
    clock.day(date(2026, 5, 1))
    assert bills.my_bills(actor=a.admin)[0]["overdue"] is True


def test_one_bill_shows_the_reduced_rate_the_tax_per_rate_and_the_issuer(world, a):
    draft = invoices.create_invoice(actor=world.admin, contract_id=a.contract_id, period="2026-01", items=[
        {"description": "月額基本料", "quantity": 1, "unit_price": 3000},
        {"description": "飲料水（軽減税率）", "quantity": 2, "unit_price": 500, "tax_rate_percent": 8}])
    invoices.issue_invoice(draft.id, actor=world.admin)

    bill = bills.my_bill(draft.id, actor=a.admin)

    # 10%: 3,000 -> 300; 8%: 1,000 -> 80; 4,000 + 380 = 4,380
    assert (bill["invoice_no"], bill["subtotal"], bill["tax"], bill["total"]) == (
        "INV-202601-000001", "￥4,000", "￥380", "￥4,380")
    items = [(i["description"], i["quantity"], i["amount"], i["tax_rate"], i["reduced_rate"]) for i in bill["items"]]
    assert items == [
        ("月額基本料", 1, "￥3,000", "10%", False), ("飲料水（軽減税率）", 2, "￥1,000", "8%※", True)]
    assert bill["taxes"] == [
        {"rate": "10%対象", "rate_percent": 10, "taxable": "￥3,000", "tax": "￥300"},
        {"rate": "8%対象", "rate_percent": 8, "taxable": "￥1,000", "tax": "￥80"}]
    assert bill["reduced_rate_note"] == "※は軽減税率（8%）対象"
    assert (bill["issuer_name"], bill["issuer_registration_number"]) == ("デモ通信株式会社", "T7123456789012")
    assert (bill["period_start"], bill["period_end"], bill["pdf_available"]) == ("2026-01-01", "2026-01-31", True)
    assert (bill["credit_note_id"], bill["reissue_id"], bill["original_id"]) == (0, 0, 0)


def test_a_corrected_bill_links_its_credit_note_and_reissue_and_is_settled(world, a):
    submitted = corrections.request_correction(a.invoice_id, [
        {"description": "月額基本料", "quantity": 1, "unit_price": 8000}], actor=world.actor("accounting"),
        reason="割引の適用漏れ")
    approvals.approve_request(submitted.request.id, actor=world.actor("accounting"),
                              expected_hash=submitted.request.params_hash)
    with read_session() as s:
        credit = s.exec(select(Invoice).where(Invoice.corrects_invoice_id == a.invoice_id)).one()
        reissue = s.exec(select(Invoice).where(Invoice.replaces_invoice_id == a.invoice_id)).one()

    original = bills.my_bill(a.invoice_id, actor=a.admin)
    assert (original["credit_note_id"], original["reissue_id"], original["owed_yen"]) == (credit.id, reissue.id, 0)
    assert original["payment_state_label"] == "入金済"  # settled by the credit note
    credit_bill = bills.my_bill(credit.id, actor=a.admin)
    assert (credit_bill["kind_label"], credit_bill["original_id"], credit_bill["owed_yen"]) == (
        "適格返還請求書", a.invoice_id, 0)
    assert credit_bill["correction_reason"] == "割引の適用漏れ"
    assert bills.my_bill(reissue.id, actor=a.admin)["total"] == "￥8,800"
    assert {row["id"] for row in bills.my_bills(actor=a.admin)} == {a.invoice_id, credit.id, reissue.id}


def test_the_customer_downloads_the_very_pdf_bytes_staff_download(world, a):
    name, mine = bills.my_bill_pdf(a.invoice_id, actor=a.admin)
    staff_name, theirs = invoice_documents.invoice_pdf_bytes(a.invoice_id, actor=world.admin)

    assert name == staff_name == "INV-202602-000001.pdf"
    assert mine == theirs and mine.startswith(b"%PDF")
    assert bills.my_bill_pdf(a.invoice_id, actor=a.admin) == (name, mine)


# ---- notices ----------------------------------------------------------------------------------------------

def test_marking_a_notice_read_counts_down_once_and_is_audited_once(a):
    assert notices.unread_count(actor=a.user) == 2  # the company's maintenance notice and their own
    assert notices.unread_count(actor=a.admin) == 3  # maintenance, the bill and their own
    entries = audit_count()

    notices_read.mark_read(a.general_notice, actor=a.user)
    notices_read.mark_read(a.general_notice, actor=a.user)
    notices_read.mark_read(a.general_notice, actor=a.admin)

    assert notices.unread_count(actor=a.user) == 1
    assert notices.unread_count(actor=a.admin) == 2  # one read mark per notice: read for the whole company
    assert audit_count() == entries + 1
    with read_session() as s:
        entry = s.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc())).first()
    assert (entry.action, entry.actor_kind, entry.actor_id, entry.entity_id) == (
        "notification.read", "customer", a.user_id, a.general_notice)
    [read] = [row for row in notices.my_notifications(actor=a.user) if row["id"] == a.general_notice]
    assert read["read"] is True and read["created_at"] == "2026/03/10 10:00"


def test_only_in_app_notices_are_shown_newest_first(clock, a):
    mail_only = in_app_notice(a.customer_id, "maintenance", "メールのみ", channel="mail")
    clock.day(date(2026, 3, 11))
    newest = in_app_notice(a.customer_id, "maintenance", "新しいお知らせ")

    rows = notices.my_notifications(actor=a.user, limit=2)

    assert [row["id"] for row in rows] == [newest, a.personal_notice]
    assert rows[0] == {"id": newest, "kind": "maintenance", "title": "新しいお知らせ", "body": "新しいお知らせの本文",
                       "link": "", "created_at": "2026/03/11 10:00", "read": False,
                       "action": "open", "action_label": "開く", "deadline": ""}  # next step: notice_actions
    with pytest.raises(NotFound, match="通知が見つかりません。"):
        notices_read.mark_read(mail_only, actor=a.admin)


@pytest.mark.parametrize("kind", ["invoice_issued", "payment_failed", "payment_reminder", "payment_final_notice",
                                  "suspended_for_non_payment", "resumed_after_payment", "invoice.issued"])
def test_bill_and_payment_notices_are_hidden_from_a_user_without_the_bill_right(kind, a):
    notice = in_app_notice(a.customer_id, kind, "お支払いについて")

    assert notice not in {row["id"] for row in notices.my_notifications(actor=a.user)}
    assert notice in {row["id"] for row in notices.my_notifications(actor=a.admin)}


# ---- invitations ------------------------------------------------------------------------------------------

def _mail_operations() -> list[ExternalOperation]:
    with read_session() as s:
        return list(s.exec(select(ExternalOperation).where(ExternalOperation.provider == "messaging",
                                                           ExternalOperation.operation == "mail")
                           .order_by(ExternalOperation.id)).all())


def _invitation(invitation_id: int) -> CustomerInvitation:
    with read_session() as s:
        return s.get(CustomerInvitation, invitation_id)


def test_an_invitation_mails_a_one_time_link_through_the_outbox_and_keeps_only_its_hash(a):
    mails, entries = len(_mail_operations()), audit_count()
    with read_session() as s:
        notices_before = s.exec(select(func.count()).select_from(Notification)).one()

    invitation, token = customer_users.invite_user(
        a.customer_id, actor=a.admin, email=" Hanako.Sato@Example.JP ", name="佐藤 花子", role="user",
        line_ids=[a.line2, a.line1], reason="4月入社")

    stored = _invitation(invitation.id)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() and len(token) >= 43
    assert (stored.email, stored.name, stored.role, stored.line_ids) == (
        "hanako.sato@example.jp", "佐藤 花子", "user", f"{a.line1},{a.line2}")
    assert (stored.invited_by_customer_user_id, stored.invited_by_staff_id) == (a.admin_id, None)
    assert stored.expires_at == datetime(2026, 3, 13, 1, 0, tzinfo=UTC)  # 72 h after 2026-03-10 10:00 JST (01:00 UTC)
    [mail] = _mail_operations()[mails:]
    payload = json.loads(mail.payload_json)
    assert (payload["to"], payload["subject"], mail.customer_id) == (
        "hanako.sato@example.jp", "お客様サイトへのご招待（株式会社エー）", a.customer_id)
    assert f"http://localhost:3000/go/invitation/{token}" in payload["text"]
    assert "2026/03/13 10:00" in payload["text"]
    assert audit_count() == entries + 1
    with read_session() as s:
        entry = s.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc())).first()
        assert s.exec(select(func.count()).select_from(Notification)).one() == notices_before  # nothing in-app
    assert (entry.action, entry.entity_type, entry.actor_kind, entry.reason) == (
        "customer_user.invite", "customer_invitation", "customer", "4月入社")
    assert token not in entry.after_json and stored.token_hash not in entry.after_json


def test_inviting_the_same_address_again_revokes_the_open_invitation_and_mails_a_new_link(clock, a, b):
    first, _ = customer_users.invite_user(a.customer_id, actor=a.admin, email="hanako@example.jp", name="佐藤 花子",
                                          role="user")
    mails, entries = len(_mail_operations()), audit_count()
    clock.day(date(2026, 3, 11))

    second, token = customer_users.invite_user(a.customer_id, actor=a.admin, email="HANAKO@example.jp",
                                               name="佐藤 花子", role="customer_admin")

    assert _invitation(first.id).revoked_at == datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
    assert _invitation(second.id).revoked_at is None and _invitation(b.invitation_id).revoked_at is None
    assert len(_mail_operations()) == mails + 1 and audit_count() == entries + 1
    with read_session() as s:
        entry = s.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc())).first()
    assert json.loads(entry.after_json)["revoked_invitation_ids"] == [first.id]
    open_ones = [row for row in customer_users.company_users(a.customer_id, actor=a.admin)
                 if row["kind"] == "invitation"]
    assert [(row["id"], row["role_label"], row["all_lines"]) for row in open_ones] == [
        (a.invitation_id, "利用者", False), (second.id, "法人管理者", True)]


def test_an_address_an_active_person_signs_in_with_is_refused_in_japanese(engine, a, b):
    before = ledger(engine)

    with pytest.raises(ValidationFailed) as refused:
        customer_users.invite_user(a.customer_id, actor=a.admin, email="USER@ビー.example.jp", name="重複",
                                   role="user")

    assert refused.value.fields == {"email": "このメールアドレスは既に利用者として登録されています。"}
    assert ledger(engine) == before


@pytest.mark.parametrize(("fields", "errors"), [
    ({"email": "not-an-address", "name": "佐藤", "role": "user"}, {"email": "メールアドレスの形式が正しくありません。"}),
    ({"email": "a@example.jp", "name": " ", "role": "user"}, {"name": "氏名を入力してください。"}),
    ({"email": "a@example.jp", "name": "佐藤", "role": "admin"}, {"role": "役割を選んでください（法人管理者・利用者）。"}),
])
def test_an_invitation_with_bad_fields_is_refused_field_by_field(fields, errors, engine, a):
    before = ledger(engine)

    with pytest.raises(ValidationFailed) as refused:
        customer_users.invite_user(a.customer_id, actor=a.admin, **fields)

    assert refused.value.fields == errors
    assert ledger(engine) == before


def test_an_admin_is_invited_without_lines_because_they_see_every_line(a):
    with pytest.raises(ValidationFailed) as refused:
        customer_users.invite_user(a.customer_id, actor=a.admin, email="boss@example.jp", name="部長",
                                   role="customer_admin", line_ids=[a.line1])

    assert refused.value.fields == {"line_ids": "法人管理者はすべての回線を見られます。回線の指定は不要です。"}


def test_staff_who_may_update_customers_invite_and_an_auditor_may_not(world, a):
    sales = world.actor("sales")
    invitation, _ = customer_users.invite_user(a.customer_id, actor=sales, email="hanako@example.jp",
                                               name="佐藤 花子", role="user")
    assert _invitation(invitation.id).invited_by_staff_id == sales.id

    with pytest.raises(PermissionDenied):
        customer_users.invite_user(a.customer_id, actor=world.actor("auditor"), email="jiro@example.jp",
                                   name="佐藤 次郎", role="user")


# ---- the company's people ---------------------------------------------------------------------------------

def test_the_company_user_list_shows_roles_lines_rights_last_sign_in_and_open_invitations(a):
    signed_in_session(a.user_id)

    admin_row, user_row, invitation_row = customer_users.company_users(a.customer_id, actor=a.admin)

    assert (admin_row["role_label"], admin_row["all_lines"], admin_row["can_view_bills"], admin_row["is_me"]) == (
        "法人管理者", True, True, True)
    assert (user_row["name"], user_row["role_label"], user_row["lines"], user_row["can_view_bills"],
            user_row["can_request"], user_row["last_sign_in_at"], user_row["status_label"]) == (
        "エー 利用者", "利用者", ["090-1234-5678"], False, False, "2026/03/10 10:00", "利用中")
    assert (invitation_row["email"], invitation_row["lines"], invitation_row["status_label"],
            invitation_row["expires_at"]) == ("new@エー.example.jp", ["090-1234-5679"], "招待中", "2026/03/13 10:00")


def test_removing_a_person_disables_them_and_revokes_their_sessions_once(a):
    session_id = signed_in_session(a.user_id)
    entries = audit_count()

    customer_users.remove_user(a.user_id, actor=a.admin, reason="退職")
    customer_users.remove_user(a.user_id, actor=a.admin, reason="退職")

    user = _user(a.user_id)
    assert (user.is_active, user.disabled_at) == (False, datetime(2026, 3, 10, 1, 0, tzinfo=UTC))
    with read_session() as s:
        assert s.get(CustomerSession, session_id).revoked_at == datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    assert audit_count() == entries + 1
    [row] = [r for r in customer_users.company_users(a.customer_id, actor=a.admin) if r["id"] == a.user_id
             and r["kind"] == "user"]
    assert (row["is_active"], row["status_label"]) == (False, "削除済")


def test_the_last_admin_cannot_remove_themselves_but_can_once_there_is_another(engine, a):
    before = ledger(engine)
    with pytest.raises(Conflict, match="最後の法人管理者はご自身を削除できません。"):
        customer_users.remove_user(a.admin_id, actor=a.admin, reason="退職")
    assert ledger(engine) == before

    company_user(a.customer_id, "second@example.jp", role="customer_admin")
    customer_users.remove_user(a.admin_id, actor=a.admin, reason="退職")
    assert _user(a.admin_id).is_active is False


def test_a_removal_needs_a_reason(a):
    with pytest.raises(ValidationFailed) as refused:
        customer_users.remove_user(a.user_id, actor=a.admin, reason=" ")

    assert refused.value.fields == {"reason": "理由を入力してください。"}


def test_assigning_lines_replaces_the_set_and_the_same_set_writes_nothing(a):
    entries = audit_count()

    customer_users.assign_lines(a.user_id, [a.line2], actor=a.admin)
    customer_users.assign_lines(a.user_id, [a.line2], actor=a.admin)

    assert [row["id"] for row in home.my_lines(actor=a.user)] == [a.line2]
    assert audit_count() == entries + 1
    with read_session() as s:
        entry = s.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc())).first()
    assert (entry.action, json.loads(entry.before_json)["line_ids"], json.loads(entry.after_json)["line_ids"]) == (
        "customer_user.assign_lines", [a.line1], [a.line2])


def test_an_admin_needs_no_lines_and_no_rights(a):
    with pytest.raises(ValidationFailed):
        customer_users.assign_lines(a.admin_id, [a.line1], actor=a.admin)
    with pytest.raises(ValidationFailed):
        customer_users.set_rights(a.admin_id, actor=a.admin, can_view_bills=False, can_request=False)


def test_setting_the_same_rights_again_writes_nothing(world, a):
    entries = audit_count()

    customer_users.set_rights(a.user_id, actor=world.actor("support"), can_view_bills=True, can_request=True)
    customer_users.set_rights(a.user_id, actor=a.admin, can_view_bills=True, can_request=True)

    user = _user(a.user_id)
    assert (user.can_view_bills, user.can_request) == (True, True)
    assert audit_count() == entries + 1


def test_a_removed_person_cannot_be_changed(a):
    customer_users.remove_user(a.user_id, actor=a.admin, reason="退職")

    with pytest.raises(Conflict, match="この利用者は削除済みです。"):
        customer_users.set_rights(a.user_id, actor=a.admin, can_view_bills=True, can_request=False)
