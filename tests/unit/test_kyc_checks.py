"""Identity checks (本人確認) through the outbox: request, provider answers, result webhook for staff."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlmodel import select

from services.integrations.kyc import KycClient
from services.ledger import kyc_checks
from services.models import AuditEntry, Customer, Notification, ReviewItem
from services.platform.db import read_session
from services.platform.errors import Conflict, PermissionDenied, ValidationFailed
from services.tasks.outbox import run_operation
from tests.unit.provider_fakes import FakeProvider, customer, deliver, json_answer, operations


def kyc_client(provider: FakeProvider) -> KycClient:
    return KycClient("http://kyc.test", transport=provider.transport())


def status_of(cid: int) -> str:
    with read_session() as session:
        return session.get(Customer, cid).kyc_status


def review_items(cid: int) -> list[ReviewItem]:
    with read_session() as session:
        return list(session.exec(select(ReviewItem).where(ReviewItem.customer_id == cid).order_by(ReviewItem.id)))


def completed(check_id: str, result: str = "approved", *, event_id: str = "evt_1", applicant_ref: str = "") -> dict:
    return {"id": event_id, "type": "check.completed", "sequence": 2, "data": {
        "check_id": check_id, "applicant_ref": applicant_ref, "result": result,
        "reasons": [] if result == "approved" else ["document_unreadable"], "completed_at": "2026-04-01T00:00:00Z"}}


def test_request_marks_the_customer_submitted_and_sends_the_check_with_the_customer_number(engine, admin, support):
    cid = customer(admin)

    kyc_checks.request_kyc_check(cid, actor=support, reason="窓口で依頼")

    assert status_of(cid) == "submitted"
    [op] = operations("kyc", customer_id=cid)
    assert (op.operation, op.status) == ("submit", "pending")
    payload = json.loads(op.payload_json)
    assert payload["applicant_ref"] == f"K-{cid:06d}"
    assert (payload["name"], payload["birth_date"], payload["document_type"]) == (
        "山田 太郎", "1990-04-01", "drivers_license")


def test_a_double_click_is_refused_and_sends_one_check(engine, admin, support):
    cid = customer(admin)
    kyc_checks.request_kyc_check(cid, actor=support)

    with pytest.raises(Conflict, match="処理中"):
        kyc_checks.request_kyc_check(cid, actor=support)

    assert len(operations("kyc", customer_id=cid)) == 1


def test_a_customer_without_birth_date_or_document_cannot_be_checked(engine, admin, support):
    cid = customer(admin, birth_date=None, document=None)

    with pytest.raises(ValidationFailed) as refused:
        kyc_checks.request_kyc_check(cid, actor=support)

    assert set(refused.value.fields) == {"birth_date", "id_document_type"}
    assert status_of(cid) == "not_started" and operations("kyc") == []


@pytest.mark.parametrize("role", ["sales", "accounting"])
def test_only_support_and_admin_may_request_a_check(engine, admin, role, request):
    cid = customer(admin)
    with pytest.raises(PermissionDenied):
        kyc_checks.request_kyc_check(cid, actor=request.getfixturevalue(role))
    assert operations("kyc") == []


def test_the_provider_gets_its_own_document_words_and_the_customer_is_mailed_on_acceptance(engine, admin, support):
    cid = customer(admin, document="health_insurance")
    kyc_checks.request_kyc_check(cid, actor=support)
    provider = FakeProvider(json_answer(202, {"id": "kyc_abc", "status": "pending"}))

    assert run_operation(operations("kyc")[0].id, client=kyc_client(provider)) == "succeeded"

    sent = provider.body()
    assert sent["document_type"] == "health_insurance_card" and "previous_kyc_status" not in sent
    assert provider.posts()[0].headers["Idempotency-Key"] == operations("kyc")[0].idempotency_key
    assert operations("kyc")[0].provider_ref == "kyc_abc"
    assert status_of(cid) == "submitted"
    [mail] = operations("messaging", customer_id=cid)
    assert mail.operation == "mail" and json.loads(mail.payload_json)["to"] == "yamada@example.jp"
    with read_session() as session:
        assert [(n.kind, n.channel) for n in session.exec(select(Notification))] == [
            ("kyc.submitted", "mail"), ("kyc.submitted", "in_app")]  # no LINE friend: mail and the app


def test_a_refused_submission_puts_the_status_back_and_opens_a_review_item(engine, admin, support):
    cid = customer(admin)
    kyc_checks.request_kyc_check(cid, actor=support)
    provider = FakeProvider(json_answer(400, {"error": "invalid_document_type", "message": "bad document"}))

    assert run_operation(operations("kyc")[0].id, client=kyc_client(provider)) == "failed"

    assert status_of(cid) == "not_started"
    assert [i.kind for i in review_items(cid)] == ["kyc.submit.failed"]
    with read_session() as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "customer.kyc")).one()
    assert entry.actor_kind == "system" and "受け付けられませんでした" in entry.reason
    kyc_checks.request_kyc_check(cid, actor=support)  # may be asked again
    assert status_of(cid) == "submitted"


def test_the_result_waits_for_staff_in_one_review_item_however_often_it_arrives(engine, admin, support):
    cid = customer(admin)
    kyc_checks.request_kyc_check(cid, actor=support)
    run_operation(operations("kyc")[0].id, client=kyc_client(FakeProvider(json_answer(202, {"id": "kyc_1"}))))

    first = deliver("kyc", completed("kyc_1", "rejected", event_id="evt_1"))
    again = deliver("kyc", completed("kyc_1", "rejected", event_id="evt_1"))
    resent = deliver("kyc", completed("kyc_1", "rejected", event_id="evt_2"))

    assert "review item" in first and "already" in resent and again == first
    [item] = [i for i in review_items(cid) if i.kind.startswith("kyc.check")]
    assert item.kind == "kyc.check.rejected" and item.status == "open"
    evidence = json.loads(item.evidence_json)
    assert (evidence["check_id"], evidence["reasons"]) == ("kyc_1", ["document_unreadable"])
    assert status_of(cid) == "submitted"  # staff confirm the result (approved set_kyc_status)
    with read_session() as session:
        results = session.exec(select(AuditEntry).where(AuditEntry.action == "customer.kyc_result")).all()
    assert [e.actor_kind for e in results] == ["system"]


def test_a_result_before_the_submit_answer_settles_the_submission_and_survives_the_late_answer(engine, admin, support):
    cid = customer(admin)
    kyc_checks.request_kyc_check(cid, actor=support)
    op = operations("kyc")[0]

    deliver("kyc", completed("kyc_early", "approved", applicant_ref=f"K-{cid:06d}"))
    late = run_operation(op.id, client=kyc_client(FakeProvider(json_answer(202, {"id": "kyc_early"}))))

    assert late == "skipped"
    assert operations("kyc")[0].status == "succeeded"
    [item] = review_items(cid)
    assert (item.kind, item.status) == ("kyc.check.approved", "open")
    assert len(operations("messaging", customer_id=cid)) == 1


def test_an_unknown_answer_keeps_the_check_live_so_a_second_request_is_refused(engine, admin, support):
    cid = customer(admin)
    kyc_checks.request_kyc_check(cid, actor=support)
    timeout = FakeProvider(lambda request: (_ for _ in ()).throw(httpx.ReadTimeout("timed out")))

    assert run_operation(operations("kyc")[0].id, client=kyc_client(timeout)) == "retry"

    with pytest.raises(Conflict):
        kyc_checks.request_kyc_check(cid, actor=support)
    assert status_of(cid) == "submitted"
