"""The audit contract: every ledger-changing service writes exactly one audit entry, denies
by default, and leaves nothing half-written when its transaction fails.

All services.* modules are imported first, so a new @mutating_service is enumerated here
automatically; without a recipe below it fails `test_every_mutating_service_has_a_recipe`.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from unittest import mock

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import SQLModel

import services
import services.platform.audit
from services.models import AuditEntry
from services.platform.audit import MUTATING_SERVICES
from services.platform.db import read_session, write_session
from services.platform.errors import PermissionDenied
from services.platform.identifiers import luhn_complete
from services.platform.permissions import Actor

for _module in pkgutil.walk_packages(services.__path__, "services."):
    importlib.import_module(_module.name)

from services.billing import billing_runs, card_payments, direct_debit, invoices, payments, plan_changes
from services.ledger import catalogue, contracts, customers, inventory, lines, tickets
from services.models import ExternalOperation, ReviewItem  # noqa: E402
from services.operations import recovery
from services.security import masking
from services.workflow import approvals, outbox, review
from services.workflow.approval_gate import approved  # noqa: E402
from tests.unit.builders import World  # noqa: E402


@dataclass(frozen=True)
class Recipe:
    """How to call one mutating service successfully, and the audit entry it must write.

    `prepare(world)` creates the prerequisite data (as admin) and returns a callable that
    performs one successful call as the given actor. In the lambdas below, default argument
    values (``cid=w.customer()``) are evaluated by `prepare`, before the call under test.
    """

    action: str
    entity_type: str
    prepare: Callable[[World], Callable[[Actor], Any]]
    role: str = "admin"  # who performs the successful call
    performer: Callable[[World], Actor] | None = None  # someone else (a customer): asked after `prepare`


def _purge_expired(w: World):
    from datetime import date

    from services.ledger import kyc_records

    customer_id = w.verified_customer()
    contract = w.contract(customer_id)
    contracts.change_contract_status(contract.id, actor=w.admin, event="discard", reason="申込取り下げ")
    return lambda actor: kyc_records.purge_expired(actor=actor, today=date(2100, 1, 1))


def _reveal_sealed(w: World):
    from services.security import audit_log

    customer_id = w.documented_customer(number="OLD000000001")
    customers.update_customer_contact(customer_id, actor=w.admin, name="鈴木 一郎", name_kana="スズキ イチロウ",
                                      email=None, phone=None, postal_code="100-0001", address="東京都千代田区千代田1-1",
                                      reason="免許証の更新", id_document_number="NEW000000002")
    with read_session() as session:
        entry_id = session.execute(select(func.max(AuditEntry.id))).scalar_one()
    return lambda actor: audit_log.reveal_sealed_value(entry_id, "id_document_number", actor=actor,
                                                       reason="監査で変更前の番号を確認")


def _tomorrow() -> str:
    from services.platform.clock import today_in_tokyo

    return (today_in_tokyo() + timedelta(days=1)).isoformat()


def _last_period() -> str:
    from services.platform.clock import today_in_tokyo

    return (today_in_tokyo().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def _drafted_run(w: World, *, anomaly: bool = False):
    """Last month's run, drafted: one contract billed (and, with `anomaly`, one number in service billed 0 yen)."""
    from services.billing import billing_runs
    from services.models import ContractPlanPeriod

    contract = w.active_contract()
    with write_session() as session:  # started months ago, so last month is billable
        for span in session.execute(select(ContractPlanPeriod).where(ContractPlanPeriod.contract_id == contract.id)).scalars():
            span.valid_from = span.valid_from.replace(year=span.valid_from.year - 1)
            session.add(span)
    if anomaly:
        free = w.active_contract(plan_id=w.priced_plan(monthly_fee=0))
        line = w.line(free)
        with write_session() as session:
            for span in session.execute(select(ContractPlanPeriod).where(ContractPlanPeriod.contract_id == free.id)).scalars():
                span.valid_from = span.valid_from.replace(year=span.valid_from.year - 1)
                session.add(span)
        lines.change_line_status(line.id, actor=w.admin, event="activate", reason="開通")
        w.carrier_done(line.id)
        from services.models import Line as _Line
        with write_session() as session:
            row = session.get(_Line, line.id)
            row.activated_at = row.activated_at.replace(year=row.activated_at.year - 1)
            session.add(row)
    run, _ = billing_runs.request_run(_last_period(), actor=w.admin)
    return billing_runs.draft_run(run.id)


def _anomaly(w: World):
    from services.billing import billing_runs
    from services.models import BillingAnomaly

    run = _drafted_run(w, anomaly=True)
    with read_session() as session:
        anomaly_id = session.execute(select(BillingAnomaly.id).where(BillingAnomaly.billing_run_id == run.id)).scalar()
    return lambda actor: billing_runs.acknowledge_anomaly(anomaly_id, actor=actor, note="0円プランの回線で正しい")


def _reviewed_run(w: World):
    from services.billing import billing_runs

    run = _drafted_run(w)
    billing_runs.review_run(run.id, actor=w.admin, reason="前月と比較して確認")
    return run


def _mandate(w: World) -> int:
    from services.billing import direct_debit

    customer_id = w.customer()
    return direct_debit.register_mandate(customer_id, actor=w.admin, bank_code="0009", branch_code="123",
                                         account_type=1, account_number="1234567", holder_name="ヤマダ タロウ").id


def _debit_batch(w: World):
    """A 口座振替 file for one issued invoice of a customer with a mandate."""
    from services.billing import direct_debit
    from services.models import DirectDebitMandate

    mandate_id = _mandate(w)
    with read_session() as session:
        customer_id = session.get(DirectDebitMandate, mandate_id).customer_id
    w.invoice(w.contract(customer_id))
    return direct_debit.create_batch(actor=w.admin, withdrawal_date=_tomorrow())


def _debit_result(w: World):
    from services.billing import direct_debit
    from services.integrations import direct_debit_file
    from services.models import DirectDebitBatch, ExternalOperation

    batch = _debit_batch(w)
    direct_debit.submit_batch(batch.id, actor=w.admin)
    with read_session() as session:
        op_id = session.execute(select(ExternalOperation.id).where(ExternalOperation.provider == "bank")
                                .order_by(ExternalOperation.id.desc())).scalar()
        content = session.get(DirectDebitBatch, batch.id).request_file
    outbox.settle(op_id, "succeeded", detail="受付", evidence={"id": "dd_test"})
    header, items = direct_debit_file.read_request(content)
    result = direct_debit_file.write_result(header, items)
    return lambda actor: direct_debit.import_result(batch.id, actor=actor, content=result)


def _mandate_customer(mandate_id: int) -> int:
    from services.models import DirectDebitMandate

    with read_session() as session:
        return session.get(DirectDebitMandate, mandate_id).customer_id


def _submitted_option(w: World):
    from services.billing import plan_changes

    contract = w.active_contract()
    return plan_changes.add_option(contract.id, actor=w.admin, option_id=w.priced_option(), when="now", reason="申込")



def _allocate(w: World):
    invoice, payment = w.invoice(), w.payment()
    return lambda actor: payments.allocate_payment(payment.id, actor=actor, invoice_id=invoice.id, amount=5000)


def _refund(w: World):
    payment = w.payment()
    payments.mark_payment_unmatched(payment.id, actor=w.admin, reason="該当請求なし")
    return lambda actor: _as_approved("payment.refund", payments.refund_payment, payment.id, actor=actor,
                                      reason="振込人へ返金")


def _as_approved(operation: str, service, *args, **kwargs):
    """Call a gated service as the execution of an approved request (the gate is tested elsewhere)."""
    with approved(operation):
        return service(*args, **kwargs)


def _approve(w: World):
    line = w.line()
    lines.change_line_status(line.id, actor=w.admin, event="activate", reason="開通")
    w.carrier_done(line.id)
    request = approvals.request_approval("line.suspend", {"line_id": line.id}, actor=w.actor("support"),
                                         reason="紛失")
    return lambda actor: approvals.approve_request(request.id, actor=actor, expected_hash=request.params_hash)


def _reject(w: World):
    line = w.line()
    lines.change_line_status(line.id, actor=w.admin, event="activate", reason="開通")
    w.carrier_done(line.id)
    request = approvals.request_approval("line.suspend", {"line_id": line.id}, actor=w.actor("support"),
                                         reason="紛失")
    return lambda actor: approvals.reject_request(request.id, actor=actor, reason="本人確認が取れていない")


def _request(w: World):
    line = w.line()
    lines.change_line_status(line.id, actor=w.admin, event="activate", reason="開通")
    w.carrier_done(line.id)
    return lambda actor: approvals.request_approval("line.suspend", {"line_id": line.id}, actor=actor,
                                                    reason="料金未払い")


def _unknown_activation(w: World) -> tuple[int, int]:
    """(operation id, review item id) of a line whose activation outcome is unknown (要確認)."""
    line = w.line()
    lines.change_line_status(line.id, actor=w.admin, event="activate", reason="開通")
    with read_session() as session:
        op_id = session.execute(select(ExternalOperation.id).where(ExternalOperation.line_id == line.id)).scalar_one()
    outbox.settle(op_id, "unknown", detail="タイムアウト", evidence={"http_status": 504})
    with read_session() as session:
        item_id = session.execute(select(ReviewItem.id).where(ReviewItem.external_operation_id == op_id)).scalar_one()
    return op_id, item_id


def _run_again(w: World):
    """Run the carrier line report comparison of yesterday again, the carrier answering with an empty report."""
    from services.integrations.carrier import CarrierClient
    from services.ledger import carrier_report
    from services.platform.clock import today_in_tokyo
    from services.workflow import daily_reconciliation

    report = "date,msisdn,iccid,plan,state,throttled,usage_mb\n"
    client = CarrierClient("http://carrier.test", transport=httpx.MockTransport(lambda _: httpx.Response(200, text=report)))

    def call(actor: Actor):
        with mock.patch.object(carrier_report, "default_client", lambda: client):
            return daily_reconciliation.run_again("carrier_lines", today_in_tokyo() - timedelta(days=1), actor=actor,
                                                  reason="レポートの再取得")
    return call


def _kyc():
    from services.ledger import kyc_checks

    return kyc_checks


def _shipments():
    from services.ledger import shipments

    return shipments


def _notifications():
    from services.ledger import notifications

    return notifications


def _kyc_ready_customer(w: World) -> int:
    """An individual customer with what an identity check needs (date of birth, document type)."""
    from datetime import date

    return customers.create_customer(actor=w.admin, kind="individual", name="山田 太郎", name_kana="ヤマダ タロウ",
                                     birth_date=date(1990, 4, 1), id_document_type="drivers_license").id


def _line_to_ship(w: World):
    """A line with a SIM whose customer has a delivery address."""
    customer_id = customers.create_customer(actor=w.admin, kind="individual", name="山田 太郎",
                                            name_kana="ヤマダ タロウ", postal_code="100-0001",
                                            address="東京都千代田区千代田1-1").id
    return w.line(w.contract(customer_id))


def _delivered_shipment(w: World) -> int:
    """A shipment the provider accepted and delivered (tracking events applied as the webhook task would)."""
    from services.ledger import shipments
    from services.platform.db import write_session

    line = _line_to_ship(w)
    shipment = shipments.ship_to_customer(actor=w.admin, customer_id=line.customer_id, line_id=line.id)
    with read_session() as session:
        op_id = session.execute(select(ExternalOperation.id).where(
            ExternalOperation.shipment_id == shipment.id)).scalar_one()
    outbox.settle(op_id, "succeeded", detail="受付", evidence={"data": {"shipment_id": f"shp_{shipment.id}",
                                                                        "tracking_number": "000000000001"}})
    with write_session() as session:
        shipments.logistics_event(session, {"id": f"evt_{shipment.id}", "type": "shipment.delivered", "sequence": 3,
                                            "data": {"shipment_id": f"shp_{shipment.id}"}})
    return shipment.id


RECIPES: dict[str, Recipe] = {
    "services.ledger.customers.create_customer": Recipe("customer.create", "customer", lambda w: (
        lambda actor: customers.create_customer(actor=actor, kind="corporate", name="株式会社テスト",
                                                name_kana="カブシキガイシャテスト"))),
    "services.ledger.customers.update_customer_contact": Recipe("customer.update", "customer", lambda w: (
        lambda actor, cid=w.customer(): customers.update_customer_contact(
            cid, actor=actor, name="山田 花子", name_kana="ヤマダ ハナコ", email="hanako@example.jp",
            phone=None, postal_code="100-0001", address=None, reason="改姓"))),
    "services.ledger.customers.set_kyc_status": Recipe("customer.kyc", "customer", lambda w: (
        lambda actor, cid=w.documented_customer(): _as_approved(
            "customer.kyc", customers.set_kyc_status, cid, actor=actor, status="verified", reason="運転免許証を確認",
            method="in_person"))),
    "services.ledger.customers.reopen_kyc": Recipe("customer.kyc_reopen", "customer", lambda w: (
        lambda actor, cid=w.verified_customer(): customers.reopen_kyc(cid, actor=actor, reason="免許証の更新"))),
    "services.ledger.kyc_records.purge_expired": Recipe("kyc_record.purge", "kyc_record", _purge_expired),
    "services.security.audit_log.reveal_sealed_value": Recipe("audit.reveal_sealed", "audit_entry", _reveal_sealed,
                                                     role="auditor"),
    "services.ledger.contracts.create_contract": Recipe("contract.create", "contract", lambda w: (
        lambda actor, cid=w.customer(), pid=w.plan(): contracts.create_contract(
            actor=actor, customer_id=cid, rate_plan_id=pid))),
    "services.ledger.contracts.change_contract_status": Recipe("contract.apply", "contract", lambda w: (
        lambda actor, c=w.contract(): contracts.change_contract_status(c.id, actor=actor, event="apply",
                                                                       reason="申込書受領"))),
    "services.ledger.inventory.register_sim": Recipe("sim.register", "sim_card", lambda w: (
        lambda actor, n=w.n(): inventory.register_sim(actor=actor, iccid=luhn_complete(f"8981199{n:011d}"),
                                                      imsi=f"44011{n:010d}"))),
    "services.ledger.inventory.register_device": Recipe("device.register", "device", lambda w: (
        lambda actor, n=w.n(): inventory.register_device(actor=actor, imei=luhn_complete(f"36{n:012d}"),
                                                         model="ルーター"))),
    "services.ledger.inventory.change_sim_status": Recipe("sim.report_faulty", "sim_card", lambda w: (
        lambda actor, s=w.sim(): inventory.change_sim_status(s.id, actor=actor, event="report_faulty",
                                                             reason="検品で不良"))),
    "services.ledger.inventory.change_device_status": Recipe("device.report_faulty", "device", lambda w: (
        lambda actor, d=w.device(): inventory.change_device_status(d.id, actor=actor, event="report_faulty",
                                                                   reason="検品で不良"))),
    "services.ledger.lines.add_line": Recipe("line.create", "line", lambda w: (
        lambda actor, c=w.contract(), s=w.sim(): lines.add_line(actor=actor, contract_id=c.id,
                                                                msisdn="080-2000-0001", iccid=s.iccid))),
    "services.ledger.lines.change_line_status": Recipe("line.activate", "line", lambda w: (
        lambda actor, ln=w.line(): lines.change_line_status(ln.id, actor=actor, event="activate",
                                                            reason="開通確認"))),
    "services.ledger.tickets.open_ticket": Recipe("ticket.create", "ticket", lambda w: (
        lambda actor, cid=w.customer(): tickets.open_ticket(actor=actor, customer_id=cid, subject="請求について",
                                                            body="請求額を確認したい"))),
    "services.ledger.tickets.add_ticket_message": Recipe("ticket.message", "ticket", lambda w: (
        lambda actor, t=w.ticket(): tickets.add_ticket_message(t.id, actor=actor, body="確認いたします。"))),
    "services.ledger.tickets.change_ticket_status": Recipe("ticket.start", "ticket", lambda w: (
        lambda actor, t=w.ticket(): tickets.change_ticket_status(t.id, actor=actor, event="start"))),
    "services.ledger.tickets.assign_ticket": Recipe("ticket.assign", "ticket", lambda w: (
        lambda actor, t=w.ticket(), sid=w.staff(): tickets.assign_ticket(t.id, actor=actor, assignee_id=sid))),
    "services.billing.invoices.create_invoice": Recipe("invoice.create", "invoice", lambda w: (
        lambda actor, c=w.contract(): invoices.create_invoice(
            actor=actor, contract_id=c.id, period="2024-06",
            items=[{"description": "月額基本料", "quantity": 1, "unit_price": 1980}]))),
    "services.billing.invoices.issue_invoice": Recipe("invoice.issue", "invoice", lambda w: (
        lambda actor, i=w.invoice(issued=False): invoices.issue_invoice(i.id, actor=actor))),
    "services.billing.invoices.void_invoice": Recipe("invoice.void", "invoice", lambda w: (
        lambda actor, i=w.invoice(): _as_approved("invoice.void", invoices.void_invoice, i.id, actor=actor,
                                                  reason="金額誤り"))),
    "services.billing.payments.record_payment": Recipe("payment.record", "payment", lambda w: (
        lambda actor: payments.record_payment(actor=actor, amount=3300, method="bank_transfer",
                                              payer_name="ヤマダ タロウ", reference="ZENGIN-0001"))),
    "services.billing.payments.allocate_payment": Recipe("payment.allocate", "payment", _allocate),
    "services.billing.payments.mark_payment_unmatched": Recipe("payment.mark_unmatched", "payment", lambda w: (
        lambda actor, p=w.payment(): payments.mark_payment_unmatched(p.id, actor=actor, reason="該当請求なし"))),
    "services.billing.payments.refund_payment": Recipe("payment.refund", "payment", _refund),
    "services.billing.card_payments.charge_invoice": Recipe("invoice.charge_card", "invoice", lambda w: (
        lambda actor, i=w.invoice(): card_payments.charge_invoice(i.id, actor=actor))),
    "services.security.masking.reveal_field": Recipe("pii.reveal", "customer", lambda w: (
        lambda actor, cid=w.customer(): masking.reveal_field("customer", cid, "address", actor=actor,
                                                             reason="お電話での本人確認"))),
    "services.workflow.approvals.request_approval": Recipe("approval.request", "approval_request", _request),
    "services.workflow.approvals.approve_request": Recipe("line.suspend", "line", _approve),
    "services.workflow.approvals.reject_request": Recipe("approval.reject", "approval_request", _reject),
    "services.operations.recovery.retry_operation": Recipe("external.retry", "external_operation", lambda w: (
        lambda actor, ids=_unknown_activation(w): recovery.retry_operation(ids[0], actor=actor, reason="再送"))),
    "services.operations.recovery.resolve_review_item": Recipe("review.resolve", "review_item", lambda w: (
        lambda actor, ids=_unknown_activation(w): recovery.resolve_review_item(ids[1], actor=actor,
                                                                              reason="キャリアで確認済み"))),
    "services.workflow.review.resolve_confirmed_review_item": Recipe("review.resolve", "review_item", lambda w: (
        lambda actor, ids=_unknown_activation(w): _as_approved(
            "line.resolve", review.resolve_confirmed_review_item, ids[1], actor=actor, reason="承認済み"))),
    "services.workflow.daily_reconciliation.run_again": Recipe("reconciliation.run", "reconciliation_run", _run_again),
    "services.ledger.kyc_checks.request_kyc_check": Recipe("customer.kyc_request", "customer", lambda w: (
        lambda actor, cid=_kyc_ready_customer(w): _kyc().request_kyc_check(cid, actor=actor, reason="来店時の依頼"))),
    "services.ledger.shipments.ship_to_customer": Recipe("shipment.request", "shipment", lambda w: (
        lambda actor, ln=_line_to_ship(w): _shipments().ship_to_customer(actor=actor, customer_id=ln.customer_id,
                                                                         line_id=ln.id))),
    "services.ledger.shipments.request_return": Recipe("shipment.return_request", "shipment", lambda w: (
        lambda actor, sid=_delivered_shipment(w): _shipments().request_return(sid, actor=actor, reason="解約"))),
    "services.ledger.notifications.notify_customer": Recipe("notification.create", "notification", lambda w: (
        lambda actor, cid=w.customer(): _notifications().notify_customer(
            cid, actor=actor, kind="billing.notice", title="ご請求のお知らせ", body="請求書を発行しました。",
            channels=("in_app",)))),
    "services.ledger.catalogue.create_plan": Recipe("catalog.plan_create", "rate_plan", lambda w: (
        lambda actor, n=w.n(): catalogue.create_plan(actor=actor, values={
            "code": f"NEW{n}", "name": "新プラン", "monthly_fee": 1500, "data_cap_mb": 5120}))),
    "services.ledger.catalogue.add_plan_version": Recipe("catalog.plan_version", "rate_plan_version", lambda w: (
        lambda actor, p=w.priced_plan(): catalogue.add_plan_version(p, actor=actor, reason="値下げ", values={
            "monthly_fee": 1800, "data_cap_mb": 3072, "effective_from": _tomorrow()}))),
    "services.ledger.catalogue.create_option": Recipe("catalog.option_create", "rate_option", lambda w: (
        lambda actor, n=w.n(): catalogue.create_option(actor=actor, values={
            "code": f"OPT{n}", "name": "新オプション", "monthly_fee": 300}))),
    "services.ledger.catalogue.add_option_version": Recipe("catalog.option_version", "rate_option_version", lambda w: (
        lambda actor, o=w.priced_option(): catalogue.add_option_version(o, actor=actor, reason="改定", values={
            "monthly_fee": 330, "effective_from": _tomorrow()}))),
    "services.ledger.catalogue.set_charge_rate": Recipe("catalog.charge_rate", "charge_rate", lambda w: (
        lambda actor: catalogue.set_charge_rate(actor=actor, reason="総務省告示の改定", values={
            "code": "universal_service", "name": "ユニバーサルサービス料", "kind": "levy", "amount": 3,
            "effective_from": _tomorrow()}))),
    "services.billing.plan_changes.change_plan": Recipe("contract.change_plan", "contract", lambda w: (
        lambda actor, c=w.active_contract(), p=w.priced_plan(3000): plan_changes.change_plan(
            c.id, actor=actor, plan_id=p, when="next_month", reason="容量不足"))),
    "services.billing.plan_changes.add_option": Recipe("contract.add_option", "contract_option", lambda w: (
        lambda actor, c=w.active_contract(), o=w.priced_option(): plan_changes.add_option(
            c.id, actor=actor, option_id=o, when="next_month", reason="申込"))),
    "services.billing.plan_changes.remove_option": Recipe("contract.remove_option", "contract_option", lambda w: (
        lambda actor, row=_submitted_option(w): plan_changes.remove_option(row.id, actor=actor, when="next_month",
                                                                          reason="解約"))),
    "services.billing.billing_runs.request_run": Recipe("billing_run.request", "billing_run", lambda w: (
        lambda actor: billing_runs.request_run(_last_period(), actor=actor))),
    "services.billing.billing_runs.acknowledge_anomaly": Recipe("billing_run.acknowledge", "billing_anomaly", _anomaly),
    "services.billing.billing_runs.review_run": Recipe("billing_run.review", "billing_run", lambda w: (
        lambda actor, r=_drafted_run(w): billing_runs.review_run(r.id, actor=actor, reason="確認済"))),
    "services.billing.billing_runs.issue_run": Recipe("billing_run.start_issue", "billing_run", lambda w: (
        lambda actor, r=_reviewed_run(w): billing_runs.issue_run(r.id, actor=actor))),
    "services.billing.direct_debit.register_mandate": Recipe("debit_mandate.register", "direct_debit_mandate", lambda w: (
        lambda actor, cid=w.customer(): direct_debit.register_mandate(
            cid, actor=actor, bank_code="0005", branch_code="001", account_type="1", account_number="7654321",
            holder_name="やまだ たろう"))),
    "services.billing.direct_debit.revoke_mandate": Recipe("debit_mandate.revoke", "direct_debit_mandate", lambda w: (
        lambda actor, m=_mandate(w): direct_debit.revoke_mandate(m, actor=actor, reason="解約"))),
    "services.billing.direct_debit.create_batch": Recipe("debit_batch.create", "direct_debit_batch", lambda w: (
        lambda actor, i=w.invoice(w.contract(_mandate_customer(_mandate(w)))): direct_debit.create_batch(
            actor=actor, withdrawal_date=_tomorrow()))),
    "services.billing.direct_debit.submit_batch": Recipe("debit_batch.send", "direct_debit_batch", lambda w: (
        lambda actor, b=_debit_batch(w): direct_debit.submit_batch(b.id, actor=actor))),
    "services.billing.direct_debit.import_result": Recipe("debit_batch.import_result", "direct_debit_batch", _debit_result),
}

# ---- the company's people and the notices read in the customer app (services.ledger.customer_users, notices_read)
from services.ledger import customer_users, notices_read  # noqa: E402
from tests.unit import customer_builders as people  # noqa: E402

RECIPES.update({
    "services.ledger.customer_users.invite_user": Recipe("customer_user.invite", "customer_invitation", lambda w: (
        lambda actor, cid=w.customer(): customer_users.invite_user(
            cid, actor=actor, email="hanako@example.jp", name="佐藤 花子", role="user"))),
    "services.ledger.customer_users.remove_user": Recipe("customer_user.disable", "customer_user", lambda w: (
        lambda actor, ids=people.user_with_line(w): customer_users.remove_user(ids[0], actor=actor, reason="退職"))),
    "services.ledger.customer_users.assign_lines": Recipe("customer_user.assign_lines", "customer_user", lambda w: (
        lambda actor, ids=people.user_with_line(w): customer_users.assign_lines(ids[0], [ids[1]], actor=actor))),
    "services.ledger.customer_users.set_rights": Recipe("customer_user.set_rights", "customer_user", lambda w: (
        lambda actor, ids=people.user_with_line(w): customer_users.set_rights(
            ids[0], actor=actor, can_view_bills=True, can_request=False))),
    "services.ledger.notices_read.mark_read": Recipe("notification.read", "notification", lambda w: (
        lambda actor, nid=people.in_app_notice(w.customer(), "maintenance", "メンテナンスのお知らせ"):
        notices_read.mark_read(nid, actor=actor))),
})

if "services.security.staff_admin" in sys.modules:
    from services.security import staff_admin

    RECIPES["services.security.staff_admin.create_staff_user"] = Recipe("staff.create", "staff_user", lambda w: (
        lambda actor, n=w.n(): staff_admin.create_staff_user(
            actor=actor, email=f"new{n}@example.jp", display_name="新人 担当者", role="support",
            password="correct horse battery staple")))
    RECIPES["services.security.staff_admin.disable_staff_user"] = Recipe("staff.disable", "staff_user", lambda w: (
        lambda actor, sid=w.staff(): staff_admin.disable_staff_user(sid, actor=actor, reason="退職")))
    RECIPES["services.security.staff_admin.change_staff_role"] = Recipe("staff.role_change", "staff_user", lambda w: (
        lambda actor, sid=w.staff(): staff_admin.change_staff_role(sid, actor=actor, role="sales",
                                                                   reason="営業部へ異動")))

# ---- customers' passkeys (services.security.passkeys): performed by the signed-in customer themself, not staff
from services.security import passkeys  # noqa: E402
from tests.unit.webauthn_authenticator import SoftwareAuthenticator  # noqa: E402


def _passkey_owner(w: World) -> Actor:
    """A signed-in 法人管理者 of a new company, kept on the world as the recipe's performer."""
    w.passkey_owner = people.customer_actor(
        people.company_user(w.customer(), f"passkey{w.n()}@example.jp", role="customer_admin"))
    return w.passkey_owner


def _passkey_registration(w: World):
    owner = _passkey_owner(w)
    handle, options = passkeys.registration_options(actor=owner)
    answer = SoftwareAuthenticator().create(options, passkeys.relying_party().origin)
    return lambda actor: passkeys.register(handle, answer, actor=actor, name="iPhone")


def _registered_passkey(w: World):
    owner = _passkey_owner(w)
    handle, options = passkeys.registration_options(actor=owner)
    passkey = passkeys.register(handle, SoftwareAuthenticator().create(options, passkeys.relying_party().origin),
                                actor=owner, name="iPhone")
    return lambda actor: passkeys.remove_passkey(passkey.id, actor=actor)


RECIPES.update({
    "services.security.passkeys.register": Recipe("auth.passkey_register", "customer_passkey", _passkey_registration,
                                                  performer=lambda w: w.passkey_owner),
    "services.security.passkeys.remove_passkey": Recipe("auth.passkey_remove", "customer_passkey", _registered_passkey,
                                                        performer=lambda w: w.passkey_owner),
})


# ---- add-on data bought in the customer app (services.billing.addons): by the company's 法人管理者
from services.billing import addons  # noqa: E402
from tests.unit import contract_builders  # noqa: E402


def _addon_for_throttled_line(w: World):
    """A throttled line of a new company, add-on data on sale, and the company's 法人管理者 as the performer."""
    line = w.active_line(w.active_contract())
    contract_builders.throttled(line.id)
    contract_builders.addon_on_sale(w)
    w.addon_buyer = people.customer_actor(
        people.company_user(line.customer_id, f"addon{w.n()}@example.jp", role="customer_admin"))
    return lambda actor, key=f"addon-key-{w.n():08d}": addons.buy_addon_data(
        line.id, actor=actor, code="addon_data_1gb", request_key=key)


RECIPES.update({
    "services.billing.addons.buy_addon_data": Recipe("line.buy_addon_data", "line", _addon_for_throttled_line,
                                                     performer=lambda w: w.addon_buyer),
})


# ---- customers' tickets (services.ledger.tickets): opened and answered by the company's 法人管理者 themself
from services.ledger.ticket_files import Upload  # noqa: E402

_PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\x00" * 64  # enough of a PNG to be recognised


def _ticket_asker(w: World) -> int:
    """A line of a new company and its 法人管理者 (kept on the world as the recipe's performer); the line's id."""
    line = w.line()
    w.ticket_asker = people.customer_actor(
        people.company_user(line.customer_id, f"asker{w.n()}@example.jp", role="customer_admin"))
    return line.id


def _my_ticket_reply(w: World):
    line_id = _ticket_asker(w)
    ticket = tickets.open_my_ticket(actor=w.ticket_asker, subject="通信できない", body="昨日から通信できません。",
                                    line_id=line_id)
    return lambda actor: tickets.reply_to_my_ticket(ticket.id, actor=actor, body="再起動しても直りません。",
                                                    files=[Upload("screen.png", _PNG)])


RECIPES.update({
    "services.ledger.tickets.open_my_ticket": Recipe("ticket.create", "ticket", lambda w: (
        lambda actor, line_id=_ticket_asker(w): tickets.open_my_ticket(
            actor=actor, subject="通信できない", body="昨日から通信できません。", line_id=line_id,
            files=[Upload("screen.png", _PNG)])), performer=lambda w: w.ticket_asker),
    "services.ledger.tickets.reply_to_my_ticket": Recipe("ticket.message", "ticket", _my_ticket_reply,
                                                         performer=lambda w: w.ticket_asker),
})

# ---- paying a bill by card on the gateway's page (services.billing.card_checkout): by the company's 法人管理者
from services.billing import card_checkout  # noqa: E402


def _checkout_payer(w: World):
    """An issued bill of a new customer and its 法人管理者 (kept on the world as the recipe's performer)."""
    invoice = w.invoice()
    w.checkout_payer = people.customer_actor(
        people.company_user(invoice.customer_id, f"payer{w.n()}@example.jp", role="customer_admin"))
    return lambda actor: card_checkout.start_checkout(
        invoice.id, actor=actor, success_url=f"http://app.test/my/bills/{invoice.id}?checkout=done",
        cancel_url=f"http://app.test/my/bills/{invoice.id}")


RECIPES["services.billing.card_checkout.start_checkout"] = Recipe(
    "invoice.card_checkout", "invoice", _checkout_payer, performer=lambda w: w.checkout_payer)

# ---- a card on file (services.billing.card_on_file): registered and removed by the company's 法人管理者
from services.billing import card_on_file  # noqa: E402
from services.models import CustomerCard  # noqa: E402


def _card_holder(w: World) -> int:
    """A new company with a card on file, and its 法人管理者 (kept on the world as the recipe's performer)."""
    customer_id = w.customer()
    w.card_holder = people.customer_actor(
        people.company_user(customer_id, f"card{w.n()}@example.jp", role="customer_admin"))
    with write_session() as session:
        card = CustomerCard(customer_id=customer_id, gateway_ref=f"pm_test{w.n()}", brand="visa", last4="4242",
                            exp_month=12, exp_year=2030)
        session.add(card)
        session.flush()
        return card.id


RECIPES.update({
    "services.billing.card_on_file.start_card_setup": Recipe("card_setup.start", "card_setup", lambda w: (
        lambda actor, _=_card_holder(w): card_on_file.start_card_setup(
            actor=actor, success_url="http://app.test/my/payment?card=done",
            cancel_url="http://app.test/my/payment?card=back")), performer=lambda w: w.card_holder),
    "services.billing.card_on_file.remove_card": Recipe("customer_card.remove", "customer_card", lambda w: (
        lambda actor, card_id=_card_holder(w): card_on_file.remove_card(card_id, actor=actor, reason="解約のため")),
        performer=lambda w: w.card_holder),
})

# ---- notification preferences (services.ledger.notification_preferences): set by the company's 法人管理者
from services.ledger import notification_preferences  # noqa: E402


def _preference_setter(w: World):
    """A new company and its 法人管理者 (kept on the world as the recipe's performer)."""
    w.preference_setter = people.customer_actor(
        people.company_user(w.customer(), f"prefs{w.n()}@example.jp", role="customer_admin"))
    return lambda actor: notification_preferences.set_preference(actor=actor, topic="usage", channel="mail",
                                                                 enabled=False)


RECIPES["services.ledger.notification_preferences.set_preference"] = Recipe(
    "notification.preference", "notification_preference", _preference_setter,
    performer=lambda w: w.preference_setter)

# ---- a customer's requests about a line (services.ledger.customer_requests): asked by the company's 法人管理者
from services.ledger import customer_requests  # noqa: E402


def _line_asker(w: World) -> int:
    """An active line of a new company and its 法人管理者 (kept on the world as the recipe's performer)."""
    line = w.active_line()
    w.line_asker = people.customer_actor(
        people.company_user(line.customer_id, f"asker{w.n()}@example.jp", role="customer_admin"))
    return line.id


RECIPES.update({
    "services.ledger.customer_requests.request_line_change": Recipe("approval.request", "approval_request", lambda w: (
        lambda actor, line_id=_line_asker(w): customer_requests.request_line_change(
            line_id, "suspend", actor=actor, reason="lost", details="電車に置き忘れ")),
        performer=lambda w: w.line_asker),
    "services.ledger.customer_requests.request_mnp_number": Recipe("mnp_reservation.request", "mnp_reservation",
                                                                   lambda w: (
        lambda actor, line_id=_line_asker(w): customer_requests.request_mnp_number(line_id, actor=actor)),
        performer=lambda w: w.line_asker),
    "services.ledger.customer_requests.request_sim_reissue": Recipe("ticket.sim_reissue_request", "ticket", lambda w: (
        lambda actor, line_id=_line_asker(w): customer_requests.request_sim_reissue(line_id, actor=actor,
                                                                                    reason="damaged")),
        performer=lambda w: w.line_asker),
})


def ledger_contents(engine) -> dict[str, list[tuple]]:
    """Every row of every table (tests keep the ledger small), to prove nothing changed."""
    with engine.connect() as conn:
        return {table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
                for table in SQLModel.metadata.sorted_tables}


def row_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in SQLModel.metadata.sorted_tables}


def audit_entries() -> list[AuditEntry]:
    with read_session() as session:
        return list(session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())


ALL_SERVICES = sorted(set(MUTATING_SERVICES) | set(RECIPES))


def test_every_mutating_service_has_a_recipe():
    missing = sorted(set(MUTATING_SERVICES) - set(RECIPES))
    stale = sorted(set(RECIPES) - set(MUTATING_SERVICES))
    assert not missing, f"mutating services without an audit recipe: {', '.join(missing)}"
    assert not stale, f"recipes for services that are not @mutating_service: {', '.join(stale)}"
    assert set(RECIPES) == set(MUTATING_SERVICES)


def _performer(world: World, recipe: Recipe) -> Actor:
    """Who performs the successful call: the recipe's own performer, or a real staff member of its role."""
    return recipe.performer(world) if recipe.performer else world.actor(recipe.role)


def _recipe(name: str) -> Recipe:
    if name not in RECIPES:
        pytest.fail(f"{name} is a @mutating_service without a recipe in RECIPES")
    if name not in MUTATING_SERVICES:
        pytest.fail(f"{name} has a recipe but is not registered with @mutating_service")
    return RECIPES[name]


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_success_writes_exactly_one_audit_entry(name, engine, admin):
    recipe = _recipe(name)
    world = World(admin)
    call = recipe.prepare(world)
    admin = _performer(world, recipe)  # a real person: approvals need the actor's staff id
    before = {entry.id for entry in audit_entries()}

    call(admin)

    new = [entry for entry in audit_entries() if entry.id not in before]
    assert len(new) == 1, f"{name} wrote {len(new)} audit entries"
    entry = new[0]
    assert entry.action == recipe.action
    assert entry.entity_type == recipe.entity_type
    assert entry.entity_id is not None
    assert (entry.actor_kind, entry.actor_id, entry.actor_label) == (admin.kind, admin.id, admin.label)
    assert entry.request_id == admin.request_id
    assert entry.after_json


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_actor_without_role_is_denied_and_nothing_is_written(name, engine, admin, nobody):
    call = _recipe(name).prepare(World(admin))
    ledger_before = ledger_contents(engine)

    with pytest.raises(PermissionDenied):
        call(nobody)

    assert ledger_contents(engine) == ledger_before


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_failure_after_audit_rolls_back_everything(name, engine, admin, monkeypatch):
    world = World(admin)
    call = _recipe(name).prepare(world)
    admin = _performer(world, _recipe(name))
    module = sys.modules[MUTATING_SERVICES[name].__module__]
    assert hasattr(module, "record"), f"{module.__name__} must audit through services.platform.audit.record"
    real_record = services.platform.audit.record

    def failing_record(*args, **kwargs):
        real_record(*args, **kwargs)
        raise RuntimeError("simulated failure after the audit entry was written")

    for mod in [m for n, m in sys.modules.items() if n.startswith("services.")]:
        if getattr(mod, "record", None) is real_record:
            monkeypatch.setattr(mod, "record", failing_record)
    counts_before, ledger_before = row_counts(engine), ledger_contents(engine)

    with pytest.raises(RuntimeError, match="simulated failure"):
        call(admin)

    assert row_counts(engine) == counts_before
    assert ledger_contents(engine) == ledger_before
