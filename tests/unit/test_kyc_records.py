"""本人確認記録 as 携帯電話不正利用防止法 asks: written once on confirmation, frozen document, kept 3 years after
the contract ends, and the before-value of every sensitive change sealed for the auditor."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import select

from services.ledger import customers, kyc_records
from services.models import AuditEntry, AuditSealedValue, Contract, Customer, KycRecord
from services.platform import crypto
from services.platform.db import read_session, write_session
from services.platform.errors import PermissionDenied, ValidationFailed
from services.security import audit_log
from services.tasks.daily import kyc_retention
from services.workflow import approvals
from tests.unit.builders import World


@pytest.fixture()
def world(engine, admin) -> World:
    return World(admin)


def _records(customer_id: int) -> list[KycRecord]:
    with read_session() as s:
        return list(s.exec(select(KycRecord).where(KycRecord.customer_id == customer_id).order_by(KycRecord.id)))


def _entries(action: str) -> list[AuditEntry]:
    with read_session() as s:
        return list(s.exec(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _confirm(world: World, customer_id: int, **params):
    maker, checker = world.actor("support"), world.actor("admin")
    request = approvals.request_approval("customer.kyc", {"customer_id": customer_id, "status": "verified", **params},
                                         actor=maker, reason="運転免許証の原本を確認", confirm_repeat=True)
    approvals.approve_request(request.id, actor=checker, expected_hash=request.params_hash)
    return request, maker, checker


def test_confirming_a_check_writes_one_record_of_who_checked_who_approved_when_how_and_which_document(world):
    customer_id = world.documented_customer(number="123456789012")

    request, maker, checker = _confirm(world, customer_id, method="mail", tracking_number="1234-5678-9012")

    [kept] = _records(customer_id)
    assert (kept.checked_by, kept.approved_by, kept.approval_request_id) == (maker.id, checker.id, request.id)
    assert kept.checked_by_label == f"担当者{maker.id} <staff{maker.id}@example.jp>"  # the maker, as a person
    assert kept.approved_by_label == checker.label
    assert (kept.method, kept.mail_tracking_number, kept.document_type) == ("mail", "1234-5678-9012", "drivers_license")
    assert crypto.decrypt(kept.document_number_enc) == "123456789012"
    assert (kept.name, kept.birth_date, kept.address) == ("鈴木 一郎", date(1985, 4, 1), "東京都千代田区千代田1-1")
    assert "123456789012" not in kept.document_number_enc  # encrypted at rest
    [entry] = _entries("customer.kyc")
    assert json.loads(entry.after_json)["kyc_record_id"] == kept.id


def test_a_confirmation_by_mail_needs_its_tracking_number_and_any_needs_a_method(world):
    customer_id = world.documented_customer()
    support = world.actor("support")

    for params, field in (({"method": "mail"}, "tracking_number"), ({"method": "fax"}, "method"), ({}, "method")):
        with pytest.raises(ValidationFailed) as refused:
            approvals.request_approval("customer.kyc", {"customer_id": customer_id, "status": "verified", **params},
                                       actor=support, reason="確認")
        assert field in refused.value.fields
    assert _records(customer_id) == []


def test_a_customer_without_a_recorded_document_cannot_be_confirmed(world):
    customer_id = world.customer()  # no identity document on file

    with pytest.raises(ValidationFailed) as refused:
        _confirm(world, customer_id, method="in_person")

    assert "id_document_type" in refused.value.fields
    with read_session() as s:
        assert s.get(Customer, customer_id).kyc_status == "not_started"


def _update(world: World, customer_id: int, actor, **sensitive):
    return customers.update_customer_contact(
        customer_id, actor=actor, name="鈴木 一郎", name_kana="スズキ イチロウ", email=None, phone="090-1111-2222",
        postal_code="100-0001", address="東京都千代田区千代田1-1", reason="お客様からの申し出", **sensitive)


def test_a_verified_customers_document_cannot_be_cleared_or_changed_and_stays_verified(world):
    customer_id = world.verified_customer(number="123456789012")
    sales = world.actor("sales")

    for change in ({"id_document_number": None}, {"id_document_number": "999999999999"},
                   {"id_document_type": "passport", "id_document_number": "TK1234567"}):
        with pytest.raises(ValidationFailed) as refused:
            _update(world, customer_id, sales, **change)
        assert refused.value.fields["id_document_number"] == customers.VERIFIED_DOCUMENT_FROZEN

    _update(world, customer_id, sales)  # other contact details still change
    with read_session() as s:
        customer = s.get(Customer, customer_id)
        assert customer.kyc_status == "verified" and crypto.decrypt(customer.id_document_number_enc) == "123456789012"
        assert customer.phone == "090-1111-2222"


def test_reopening_keeps_the_old_record_and_the_next_confirmation_makes_a_new_one(world):
    customer_id = world.verified_customer(number="123456789012")
    support = world.actor("support")

    customers.reopen_kyc(customer_id, actor=support, reason="免許証が更新された")
    _update(world, customer_id, support, id_document_number="555555555555")
    _confirm(world, customer_id, method="in_person")

    first, second = _records(customer_id)
    assert crypto.decrypt(first.document_number_enc) == "123456789012"  # the earlier check is kept as it was
    assert crypto.decrypt(second.document_number_enc) == "555555555555"
    with pytest.raises(ValidationFailed):
        customers.reopen_kyc(world.documented_customer(), actor=support, reason="確認済ではない")
    with pytest.raises(PermissionDenied):
        customers.reopen_kyc(customer_id, actor=world.actor("sales"), reason="営業は不可")


def _end_contract(contract_id: int, end: date) -> None:
    with write_session() as s:
        contract = s.get(Contract, contract_id)
        contract.status, contract.end_date = "terminated", end
        s.add(contract)


def test_records_are_kept_while_a_contract_runs_and_until_three_years_after_it_ended(world):
    customer_id = world.verified_customer()
    contract = world.contract(customer_id)
    kept_customer = world.verified_customer(number="222222222222")  # a live contract: never purged
    world.contract(kept_customer)

    assert kyc_records.purge_expired(today=date(2100, 1, 1)) == []  # the first contract still runs (draft)
    _end_contract(contract.id, date(2026, 3, 31))
    assert kyc_records.purge_expired(today=date(2029, 3, 31)) == []  # the last day it must be kept
    [record_id] = [r.id for r in _records(customer_id)]

    assert kyc_records.purge_expired(today=date(2029, 4, 1)) == [record_id]

    assert _records(customer_id) == [] and len(_records(kept_customer)) == 1
    [entry] = _entries("kyc_record.purge")
    assert entry.actor_kind == "system" and entry.customer_id == customer_id and entry.entity_id == record_id
    assert json.loads(entry.before_json)["kept_until"] == "2029-03-31"
    assert "id_document_number" not in entry.before_json and "123456789012" not in entry.before_json
    assert "3年" in entry.reason


def test_the_daily_retention_task_deletes_only_what_is_due(world, monkeypatch):
    customer_id = world.verified_customer()
    _end_contract(world.contract(customer_id).id, date(2020, 1, 31))

    assert kyc_retention() == 1
    assert kyc_retention() == 0
    assert _records(customer_id) == []


def test_a_sensitive_change_keeps_its_before_value_sealed_and_only_an_auditor_reveals_it(world):
    customer_id = world.documented_customer(number="OLD000000001")
    customers.update_customer_contact(
        customer_id, actor=world.admin, name="鈴木 一郎", name_kana="スズキ イチロウ", email=None, phone=None,
        postal_code="100-0001", address="東京都千代田区千代田1-1", reason="免許証の更新",
        id_document_number="NEW000000002", bank_account="みずほ銀行 渋谷支店 普通 1234567 スズキ イチロウ")
    [entry] = _entries("customer.update")
    assert json.loads(entry.after_json)["id_document_number"] == customers.SENSITIVE_CHANGED
    assert "OLD000000001" not in (entry.before_json or "") + (entry.after_json or "")
    with read_session() as s:
        sealed = {v.field: v.value_enc for v in s.exec(select(AuditSealedValue))}
    assert set(sealed) == {"id_document_number"}  # no bank account before: nothing to keep
    assert "OLD000000001" not in sealed["id_document_number"]

    for role in ("admin", "support", "accounting", "sales"):
        with pytest.raises(PermissionDenied):
            audit_log.reveal_sealed_value(entry.id, "id_document_number", actor=world.actor(role), reason="確認")
    auditor = world.actor("auditor")
    with pytest.raises(ValidationFailed):
        audit_log.reveal_sealed_value(entry.id, "id_document_number", actor=auditor, reason=" ")

    assert audit_log.reveal_sealed_value(entry.id, "id_document_number", actor=auditor,
                                         reason="不正利用の調査") == "OLD000000001"
    [reveal] = _entries("audit.reveal_sealed")
    assert (reveal.actor_id, reveal.reason, reveal.customer_id) == (auditor.id, "不正利用の調査", customer_id)
    assert "OLD000000001" not in reveal.after_json
    rows = audit_log.list_audit_entries(actor=auditor, entity_type="customer").rows
    row = next(r for r in rows if r["id"] == entry.id)
    assert row["sealed"] == [{"field": "id_document_number", "label": "本人確認書類の番号"}] and row["can_reveal_sealed"]
    assert not next(r for r in audit_log.list_audit_entries(actor=world.actor("admin"), entity_type="customer").rows
                    if r["id"] == entry.id)["can_reveal_sealed"]


def test_key_rotation_re_encrypts_the_records_and_the_sealed_values(world, tmp_path, monkeypatch):
    monkeypatch.setenv("TELECOM_KEY_FILE", str(tmp_path / "rotating.keys"))
    crypto.reload_keys()
    customer_id = world.verified_customer(number="123456789012")
    _update(world, customer_id, world.admin, bank_account="みずほ銀行 渋谷支店 普通 1234567 スズキ イチロウ")
    _update(world, customer_id, world.admin, bank_account=None)
    before = _records(customer_id)[0].document_number_enc

    crypto.rotate()

    [kept] = _records(customer_id)
    assert kept.document_number_enc != before and crypto.decrypt(kept.document_number_enc) == "123456789012"
    with read_session() as s:
        [sealed] = s.exec(select(AuditSealedValue)).all()
    assert crypto.decrypt(sealed.value_enc) == "みずほ銀行 渋谷支店 普通 1234567 スズキ イチロウ"
    crypto.reload_keys()
