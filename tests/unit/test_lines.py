"""Opening lines and changing their state: bad input gets a field message, nothing half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlmodel import select

from services.ledger import inventory, lines
from services.models import AuditEntry, Device, Line, SimCard
from services.platform.db import read_session
from services.platform.errors import (
    ApprovalRequired,
    InvalidTransition,
    PermissionDenied,
    ValidationFailed,
)
from services.platform.identifiers import luhn_complete
from services.workflow import approvals
from services.workflow.approval_gate import approved


def _counts():
    with read_session() as s:
        return tuple(s.exec(select(func.count()).select_from(m)).one() for m in (Line, SimCard, Device, AuditEntry))


@pytest.mark.parametrize("number", ["090-1234-5678", "09012345678", "+81 90 1234 5678", "８１９０１２３４５６７８"])
def test_number_in_any_common_form_is_stored_once_in_e164(world, admin, number):
    contract = world.contract()
    sim = world.sim()
    line = lines.add_line(actor=admin, contract_id=contract.id, msisdn=number, iccid=sim.iccid)
    assert line.msisdn == "+819012345678"
    assert line.customer_id == contract.customer_id


@pytest.mark.parametrize("number", ["03-1234-5678", "090-1234-567", "abc", "", "+1 415 555 0100"])
def test_invalid_phone_number_gets_a_japanese_message_on_the_field_and_writes_nothing(world, admin, number):
    contract, sim = world.contract(), world.sim()
    before = _counts()
    with pytest.raises(ValidationFailed) as err:
        lines.add_line(actor=admin, contract_id=contract.id, msisdn=number, iccid=sim.iccid)
    assert set(err.value.fields) == {"msisdn"}
    assert "電話番号" in err.value.fields["msisdn"]
    assert _counts() == before


def test_iccid_with_a_wrong_check_digit_is_refused(world, admin):
    contract, sim = world.contract(), world.sim()
    wrong = sim.iccid[:-1] + str((int(sim.iccid[-1]) + 1) % 10)
    with pytest.raises(ValidationFailed) as err:
        lines.add_line(actor=admin, contract_id=contract.id, msisdn="090-2222-3333", iccid=wrong)
    assert "チェックディジット" in err.value.fields["iccid"]


def test_imei_with_a_wrong_check_digit_is_refused(world, admin):
    contract, sim = world.contract(), world.sim()
    with pytest.raises(ValidationFailed) as err:
        lines.add_line(actor=admin, contract_id=contract.id, msisdn="090-2222-3333", iccid=sim.iccid,
                       imei="352222222222221")
    assert "チェックディジット" in err.value.fields["imei"]


def test_duplicate_number_and_sim_already_assigned_are_refused_with_field_messages(world, admin):
    contract = world.contract()
    first = world.line(contract)
    sim = inventory.register_sim(actor=admin, iccid=luhn_complete("898110" + "7" * 12), imsi="440107777777777")
    assigned_iccid = read_sim_iccid(first.sim_card_id)
    before = _counts()
    with pytest.raises(ValidationFailed) as err:
        lines.add_line(actor=admin, contract_id=contract.id, msisdn=first.msisdn, iccid=assigned_iccid)
    assert "既に登録" in err.value.fields["msisdn"]
    assert "在庫状態ではありません" in err.value.fields["iccid"]
    assert _counts() == before
    assert lines.add_line(actor=admin, contract_id=contract.id, msisdn="080-1111-2222", iccid=sim.iccid).id


def read_sim_iccid(sim_id: int) -> str:
    with read_session() as s:
        return s.get(SimCard, sim_id).iccid


def test_missing_contract_and_unknown_sim_are_reported_as_missing_references(world, admin):
    with pytest.raises(ValidationFailed) as err:
        lines.add_line(actor=admin, contract_id=999, msisdn="090-1234-5678",
                       iccid=luhn_complete("898110" + "5" * 12))
    assert "契約が見つかりません" in err.value.fields["contract_id"]
    assert "在庫に登録されていません" in err.value.fields["iccid"]


def test_opening_assigns_sim_and_device_and_activation_activates_the_sim(world, admin):
    contract, sim, device = world.contract(), world.sim(), world.device()
    line = lines.add_line(actor=admin, contract_id=contract.id, msisdn="090-3333-4444", iccid=sim.iccid,
                          imei=device.imei)
    with read_session() as s:
        assert s.get(SimCard, sim.id).status == "assigned"
        assert s.get(Device, device.id).status == "assigned"
    lines.change_line_status(line.id, actor=admin, event="activate", reason="開通")
    world.carrier_done(line.id)
    with read_session() as s:
        assert s.get(SimCard, sim.id).status == "active"
        assert s.get(Line, line.id).activated_at is not None


def test_suspension_runs_only_through_an_approved_request_and_happens_once(world, admin, support):
    line = world.line()
    lines.change_line_status(line.id, actor=admin, event="activate", reason="開通")
    world.carrier_done(line.id)
    with pytest.raises(ApprovalRequired):
        lines.change_line_status(line.id, actor=support, event="suspend", reason="料金未払い")
    world.approve("line.suspend", {"line_id": line.id}, reason="料金未払い")
    world.carrier_done(line.id)
    with pytest.raises(InvalidTransition):  # a second request for a suspended line is refused up front
        approvals.request_approval("line.suspend", {"line_id": line.id}, actor=world.actor("support"),
                                   reason="料金未払い")
    with read_session() as s:
        suspends = s.exec(select(AuditEntry).where(AuditEntry.action == "line.suspend")).all()
        assert s.get(Line, line.id).status == "suspended"
    assert len(suspends) == 1 and suspends[0].reason.startswith("料金未払い（承認申請 #")


def test_resume_of_a_terminated_line_is_a_clear_domain_error(world, admin):
    line = world.line()
    lines.change_line_status(line.id, actor=admin, event="activate", reason="開通")
    world.carrier_done(line.id)
    with approved("line.terminate"):
        lines.change_line_status(line.id, actor=admin, event="terminate", reason="解約")
    with pytest.raises(InvalidTransition) as err, approved("line.resume"):
        lines.change_line_status(line.id, actor=admin, event="resume", reason="再開")
    assert err.value.message == "回線が「解約済」の状態では「再開」はできません。"


def test_suspension_request_needs_a_reason(world, admin):
    line = world.line()
    lines.change_line_status(line.id, actor=admin, event="activate", reason="開通")
    world.carrier_done(line.id)
    with pytest.raises(ValidationFailed) as err:
        approvals.request_approval("line.suspend", {"line_id": line.id}, actor=world.actor("support"), reason="  ")
    assert "理由" in err.value.fields["reason"]


def test_sales_cannot_ask_for_suspension_and_accounting_cannot_open_lines(world, admin, accounting):
    line = world.line()
    lines.change_line_status(line.id, actor=admin, event="activate", reason="開通")
    world.carrier_done(line.id)
    with pytest.raises(PermissionDenied):
        approvals.request_approval("line.suspend", {"line_id": line.id}, actor=world.actor("sales"), reason="x")
    with pytest.raises(PermissionDenied):
        lines.add_line(actor=accounting, contract_id=line.contract_id, msisdn="090-5555-6666",
                       iccid=world.sim().iccid)


def test_termination_returns_the_sim(world, admin):
    line = world.line()
    lines.change_line_status(line.id, actor=admin, event="activate", reason="開通")
    world.carrier_done(line.id)
    with approved("line.terminate"):
        lines.change_line_status(line.id, actor=admin, event="terminate", reason="解約申込")
    with read_session() as s:
        assert s.get(SimCard, line.sim_card_id).status == "returned"
