"""Maker-checker approvals: the second person, the exact payload, exactly one execution."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, text
from sqlmodel import select

from services.ledger import contracts, lines
from services.models import ApprovalRequest, AuditEntry, ExternalOperation, Line
from services.models.base import utcnow
from services.platform.config import load_settings
from services.platform.db import read_session, write_session
from services.platform.errors import (
    ApprovalRequired,
    Conflict,
    InvalidTransition,
    PermissionDenied,
    ValidationFailed,
)
from services.read.staff import approvals as approvals_queue
from services.workflow import approvals
from services.workflow.approval_gate import approved


@pytest.fixture()
def active_line(world, admin):
    line = world.line()
    lines.change_line_status(line.id, actor=admin, event="activate", reason="開通")
    world.carrier_done(line.id)
    return line


def _status(line_id: int) -> str:
    with read_session() as s:
        return s.get(Line, line_id).status


def _suspends() -> int:
    with read_session() as s:
        return s.exec(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "line.suspend")).one()


def _ask(world, line_id, role="support", reason="料金未払いのため"):
    return approvals.request_approval("line.suspend", {"line_id": line_id}, actor=world.actor(role), reason=reason)


def test_request_changes_nothing_until_a_second_person_approves(world, active_line):
    request = _ask(world, active_line.id)
    assert request.status == "pending" and _status(active_line.id) == "active"
    assert request.summary.endswith("を停止します。")
    approvals.approve_request(request.id, actor=world.actor("support"), expected_hash=request.params_hash)
    assert _status(active_line.id) == "suspending"  # 停止処理中 until the carrier confirms
    world.carrier_done(active_line.id)
    assert _status(active_line.id) == "suspended"
    with read_session() as s:
        stored = s.get(ApprovalRequest, request.id)
    assert stored.status == "executed" and stored.executed_at is not None


def test_self_approval_is_refused(world, active_line):
    maker = world.actor("support")
    request = approvals.request_approval("line.suspend", {"line_id": active_line.id}, actor=maker, reason="紛失")
    with pytest.raises(PermissionDenied, match="自分の申請"):
        approvals.approve_request(request.id, actor=maker, expected_hash=request.params_hash)
    assert _status(active_line.id) == "active"


@pytest.mark.parametrize("role", ["sales", "accounting"])
def test_approver_without_the_right_role_is_refused(world, active_line, role):
    request = _ask(world, active_line.id)
    with pytest.raises(PermissionDenied):
        approvals.approve_request(request.id, actor=world.actor(role), expected_hash=request.params_hash)
    assert _status(active_line.id) == "active"


def test_payload_changed_after_the_request_is_refused(world, active_line, admin):
    other = world.line()
    lines.change_line_status(other.id, actor=admin, event="activate", reason="開通")
    world.carrier_done(other.id)
    request = _ask(world, active_line.id)
    with write_session() as s:  # someone edits the stored parameters behind the screen
        s.exec(text("UPDATE approval_request SET params_json = :p WHERE id = :i").bindparams(
            p=f'{{"line_id":{other.id}}}', i=request.id))
    with pytest.raises(Conflict, match="変更されています"):
        approvals.approve_request(request.id, actor=world.actor("admin"), expected_hash=request.params_hash)
    assert _status(active_line.id) == "active" and _status(other.id) == "active"


def test_approving_a_different_hash_than_shown_is_refused(world, active_line):
    request = _ask(world, active_line.id)
    with pytest.raises(Conflict):
        approvals.approve_request(request.id, actor=world.actor("admin"), expected_hash="0" * 64)


def test_two_simultaneous_approvals_execute_once(world, active_line):
    request = _ask(world, active_line.id)
    approvers = [world.actor("support"), world.actor("admin")]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(approver):
        barrier.wait()
        try:
            approvals.approve_request(request.id, actor=approver, expected_hash=request.params_hash)
            outcomes.append("executed")
        except Conflict as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=approve, args=(a,)) for a in approvers]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(outcomes)[0] == "executed" and outcomes.count("executed") == 1
    assert any("既に処理されています" in o for o in outcomes)
    assert _suspends() == 1 and _status(active_line.id) == "suspending"
    with read_session() as s:
        calls = s.exec(select(func.count()).select_from(ExternalOperation).where(
            ExternalOperation.line_id == active_line.id, ExternalOperation.operation == "suspend")).one()
    assert calls == 1  # one carrier call in the outbox


def test_expired_request_cannot_be_approved_and_is_marked_expired(world, active_line):
    request = _ask(world, active_line.id)
    with write_session() as s:
        row = s.get(ApprovalRequest, request.id)
        row.expires_at = utcnow() - timedelta(minutes=1)
        s.add(row)
    with pytest.raises(Conflict, match="期限切れ"):
        approvals.approve_request(request.id, actor=world.actor("admin"), expected_hash=request.params_hash)
    with read_session() as s:
        assert s.get(ApprovalRequest, request.id).status == "expired"
    assert _status(active_line.id) == "active"


def test_expiry_default_is_72_hours_and_configurable(world, active_line, monkeypatch):
    request = _ask(world, active_line.id)
    assert request.expires_at - request.created_at == timedelta(hours=72)
    monkeypatch.setenv("TELECOM_APPROVAL_EXPIRY_HOURS", "4")
    monkeypatch.setattr(approvals, "settings", load_settings())  # as a process started with it reads it
    other = world.line()
    lines.change_line_status(other.id, actor=world.admin, event="activate", reason="開通")
    world.carrier_done(other.id)
    assert (lambda r: r.expires_at - r.created_at)(_ask(world, other.id)) == timedelta(hours=4)


def test_reject_needs_a_reason_and_the_requester_sees_the_outcome(world, active_line):
    maker = world.actor("support")
    request = approvals.request_approval("line.suspend", {"line_id": active_line.id}, actor=maker, reason="紛失")
    checker = world.actor("admin")
    with pytest.raises(ValidationFailed):
        approvals.reject_request(request.id, actor=checker, reason=" ")
    approvals.reject_request(request.id, actor=checker, reason="ご本人確認が取れていません")
    mine = approvals_queue.list_requests(actor=maker, status=None, mine=True)
    assert mine[0]["status"] == "rejected" and mine[0]["decision_reason"] == "ご本人確認が取れていません"
    assert _status(active_line.id) == "active"


def test_gated_operation_cannot_run_directly(world, active_line, support):
    with pytest.raises(ApprovalRequired):
        lines.change_line_status(active_line.id, actor=support, event="suspend", reason="直接")


def test_pending_duplicate_is_refused_and_a_recent_repeat_needs_confirmation(world, active_line):
    _ask(world, active_line.id)
    with pytest.raises(Conflict, match="承認待ち"):
        _ask(world, active_line.id)
    preview = approvals.preview_operation("line.suspend", {"line_id": active_line.id}, actor=world.actor("support"))
    assert preview["blocking"]


def test_recently_done_operation_warns_and_needs_an_explicit_repeat(world, active_line):
    world.approve("line.suspend", {"line_id": active_line.id})
    world.carrier_done(active_line.id)
    world.approve("line.resume", {"line_id": active_line.id})
    world.carrier_done(active_line.id)
    with pytest.raises(Conflict, match="分前に実行"):
        _ask(world, active_line.id)
    request = approvals.request_approval("line.suspend", {"line_id": active_line.id}, actor=world.actor("support"),
                                         reason="再度の停止", confirm_repeat=True)
    assert request.status == "pending"


def test_contract_termination_needs_the_typed_contract_code_and_terminates_its_lines(world, admin, sales):
    contract = world.contract()
    line = world.line(contract)
    lines.change_line_status(line.id, actor=admin, event="activate", reason="開通")
    world.carrier_done(line.id)
    for event in ("apply", "activate", "request_cancellation"):
        contracts.change_contract_status(contract.id, actor=admin, event=event, reason="手続き")
    maker = world.actor("sales")
    with pytest.raises(ValidationFailed) as err:
        approvals.request_approval("contract.terminate", {"contract_id": contract.id}, actor=maker,
                                   reason="解約申込書受領", confirm_word="はい")
    assert "C-" in err.value.fields["confirm_word"]
    request = approvals.request_approval("contract.terminate", {"contract_id": contract.id}, actor=maker,
                                         reason="解約申込書受領", confirm_word=f"C-{contract.id:06d}")
    approvals.approve_request(request.id, actor=world.actor("admin"), expected_hash=request.params_hash)
    assert _status(line.id) == "terminated"
    with pytest.raises(ApprovalRequired):
        contracts.change_contract_status(contract.id, actor=admin, event="terminate", reason="直接")


def test_operation_that_became_impossible_is_recorded_as_failed(world, active_line, admin):
    request = _ask(world, active_line.id)
    with approved("line.terminate"):
        lines.change_line_status(active_line.id, actor=admin, event="terminate", reason="解約")
    with pytest.raises(InvalidTransition):
        approvals.approve_request(request.id, actor=world.actor("admin"), expected_hash=request.params_hash)
    with read_session() as s:
        stored = s.get(ApprovalRequest, request.id)
    assert stored.status == "failed" and "解約済" in stored.result_message


def test_invoice_void_refund_and_kyc_go_through_accounting_and_support_checkers(world):
    invoice = world.invoice()
    request = approvals.request_approval("invoice.void", {"invoice_id": invoice.id}, actor=world.actor("accounting"),
                                         reason="金額誤り", confirm_word=invoice.invoice_no)
    with pytest.raises(PermissionDenied):
        approvals.approve_request(request.id, actor=world.actor("support"), expected_hash=request.params_hash)
    approvals.approve_request(request.id, actor=world.actor("accounting"), expected_hash=request.params_hash)
    customer_id = world.documented_customer()
    kyc = approvals.request_approval("customer.kyc", {"customer_id": customer_id, "status": "verified",
                                                      "method": "in_person"},
                                     actor=world.actor("support"), reason="運転免許証を確認")
    approvals.approve_request(kyc.id, actor=world.actor("support"), expected_hash=kyc.params_hash)
    with read_session() as s:
        from services.models import Customer, Invoice

        assert s.get(Invoice, invoice.id).status == "void"
        assert s.get(Customer, customer_id).kyc_status == "verified"


def test_navigation_count_excludes_own_and_undecidable_requests(world, active_line):
    maker = world.actor("support")
    approvals.request_approval("line.suspend", {"line_id": active_line.id}, actor=maker, reason="紛失")
    assert approvals.pending_count(actor=maker) == 0
    assert approvals.pending_count(actor=world.actor("support")) == 1
    assert approvals.pending_count(actor=world.actor("sales")) == 0


def test_refund_runs_only_through_an_approved_request(world, accounting):
    from services.billing import payments
    from services.models import Payment

    payment = world.payment()
    payments.mark_payment_unmatched(payment.id, actor=world.admin, reason="該当請求なし")
    with pytest.raises(ApprovalRequired):
        payments.refund_payment(payment.id, actor=accounting, reason="直接")
    world.approve("payment.refund", {"payment_id": payment.id}, reason="振込人へ返金")
    with read_session() as s:
        assert s.get(Payment, payment.id).status == "refunded"


# --- every termination through approval -------------------------------------------------------

def test_a_single_lines_termination_waits_for_a_second_person_and_the_typed_number(world, active_line, admin):
    with pytest.raises(ApprovalRequired):
        lines.change_line_status(active_line.id, actor=admin, event="terminate", reason="直接")
    support, checker = world.actor("support"), world.actor("admin")
    number = approvals.preview_operation("line.terminate", {"line_id": active_line.id}, actor=support)["confirm_word"]
    with pytest.raises(ValidationFailed):
        approvals.request_approval("line.terminate", {"line_id": active_line.id}, actor=support,
                                   reason="解約申込書受領", confirm_word="はい")
    request = approvals.request_approval("line.terminate", {"line_id": active_line.id}, actor=support,
                                         reason="解約申込書受領", confirm_word=number)
    assert _status(active_line.id) == "active"  # nothing happens before the approval
    with pytest.raises(PermissionDenied):
        approvals.approve_request(request.id, actor=support, expected_hash=request.params_hash)

    approvals.approve_request(request.id, actor=checker, expected_hash=request.params_hash)

    assert number.startswith("0") and "-" in number
    assert _status(active_line.id) == "terminated"
    with read_session() as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "line.terminate")).one()
    assert f"承認申請 #{request.id}" in entry.reason


def test_sales_may_not_ask_for_a_lines_termination(world, active_line):
    with pytest.raises(PermissionDenied):
        approvals.request_approval("line.terminate", {"line_id": active_line.id}, actor=world.actor("sales"),
                                   reason="x", confirm_word="x")
