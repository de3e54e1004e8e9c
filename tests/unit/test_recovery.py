"""Manual recovery: the 要確認 queue, retrying external operations, and resolving items (with approval)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from sqlmodel import col, select

import telecom_app.telecom_app  # noqa: F401  (registers pages and states)
from services.integrations.carrier import CarrierClient
from services.ledger import lines
from services.models import (
    AuditEntry,
    ExternalAttempt,
    ExternalOperation,
    Line,
    ReviewItem,
)
from services.models.base import utcnow
from services.operations import recovery
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, PermissionDenied, ValidationFailed
from services.read.staff import review as review_queue
from services.read.staff import views
from services.workflow import approvals, outbox, reconciliation, review
from state.admin.review import ReviewQueueState
from state.admin.shell import UiState
from telecom_app import routes
from tests.unit.builders import World
from tests.unit.screens import signed_in_token, state_for


def _operation_of(line_id: int) -> ExternalOperation:
    with read_session() as session:
        return session.exec(select(ExternalOperation).where(ExternalOperation.line_id == line_id)
                            .order_by(col(ExternalOperation.id).desc())).first()


def _activation(world: World, outcome: str = "unknown", **evidence) -> tuple[Line, ExternalOperation]:
    """A line whose activation call ended with `outcome` (unknown: 要確認 with a review item)."""
    line = world.line()
    lines.change_line_status(line.id, actor=world.admin, event="activate", reason="開通")
    op = _operation_of(line.id)
    outbox.settle(op.id, outcome, detail="キャリアの応答がタイムアウトしました（504）",
                        evidence=evidence or {"http_status": 504, "carrier_request_id": "req-123"})
    return line, _operation_of(line.id)


def _line(line_id: int) -> Line:
    with read_session() as session:
        return session.get(Line, line_id)


def _item(item_id: int) -> ReviewItem:
    with read_session() as session:
        return session.get(ReviewItem, item_id)


def _actions(since_id: int = 0) -> list[str]:
    with read_session() as session:
        return list(session.exec(select(AuditEntry.action).where(AuditEntry.id > since_id).order_by(AuditEntry.id)))


def _last_audit_id() -> int:
    with read_session() as session:
        return session.exec(select(AuditEntry.id).order_by(col(AuditEntry.id).desc())).first() or 0


def _add_attempt(op_id: int, *, status: int | None = 504, outcome: str = "unknown", ms: int = 5012) -> None:
    with write_session() as session:
        session.add(ExternalAttempt(external_operation_id=op_id, attempt_no=1, duration_ms=ms,
                                    request_json=json.dumps({"msisdn": "819010000001"}), response_status=status,
                                    response_body="Gateway Timeout", outcome=outcome, error="read timeout"))


# ---- the queue --------------------------------------------------------------------------------

def test_queue_shows_kind_reason_evidence_links_and_the_operation_with_its_attempts(world):
    line, op = _activation(world)
    _add_attempt(op.id)
    support = world.actor("support")

    page = review_queue.list_review_items(actor=support)

    assert page.total == 1
    row = page.rows[0]
    assert row["kind"] == "carrier.activate.unknown" and row["kind_label"] == "キャリア開通: 結果不明"
    assert row["reason"] == "キャリアの応答がタイムアウトしました（504）"
    assert row["evidence"] == '{\n  "carrier_request_id": "req-123",\n  "http_status": 504\n}'
    assert routes.admin_line(row["line_id"]) == f"/admin/lines/{line.id}" and row["msisdn"].startswith("090-1000-")
    assert row["line_status_label"] == "要確認"
    assert routes.admin_customer(row["customer_id"]) == f"/admin/customers/{line.customer_id}" and row["customer_name"] == "山田 太郎"
    assert (row["operation_id"], row["operation_status"], row["operation_status_label"]) == (op.id, "unknown", "要確認")
    assert row["idempotency_key"] == op.idempotency_key
    assert row["attempts"][0] | {"at": ""} == {
        "no": 1, "at": "", "duration_ms": 5012, "http_status": "504", "outcome": "unknown", "outcome_label": "結果不明",
        "error": "read timeout", "request": '{"msisdn": "819010000001"}', "response": "Gateway Timeout"}
    assert len(row["created_at"]) == len("2026/11/26 20:31")
    assert row["can_retry"] and row["can_resolve"] and row["can_confirm_line"]


def test_filters_by_status_and_kind_and_the_badge_counts_open_items(world):
    _activation(world, "unknown")
    failed_line, _ = _activation(world, "failed")
    support = world.actor("support")
    assert review_queue.open_review_count(actor=support) == 2

    kinds = review_queue.review_kinds(actor=support)
    assert kinds == [{"value": "carrier.activate.failed", "label": "キャリア開通: 失敗"},
                     {"value": "carrier.activate.unknown", "label": "キャリア開通: 結果不明"}]
    only_failed = review_queue.list_review_items(actor=support, kind="carrier.activate.failed")
    assert [r["line_id"] for r in only_failed.rows] == [failed_line.id]
    assert not only_failed.rows[0]["can_retry"]  # the carrier said no and the line went back to 申請中

    recovery.resolve_review_item(only_failed.rows[0]["id"], actor=support, reason="お客様に再申込を依頼")
    assert review_queue.open_review_count(actor=support) == 1
    resolved = review_queue.list_review_items(actor=support, status="resolved")
    assert resolved.total == 1 and resolved.rows[0]["resolution_reason"] == "お客様に再申込を依頼"
    assert not resolved.rows[0]["can_resolve"]
    everything = review_queue.list_review_items(actor=support, status=None, page_size=1)
    assert (everything.total, everything.pages, len(everything.rows)) == (2, 2, 1)


def test_kind_labels_read_in_japanese():
    assert review_queue.kind_label("carrier.suspend.unknown") == "キャリア停止: 結果不明"
    assert review_queue.kind_label("payment.charge.failed") == "決済請求: 失敗"
    assert review_queue.kind_label("carrier.line_mismatch") == "キャリア: 回線状態の不一致"


# ---- retry ------------------------------------------------------------------------------------

def test_retry_of_an_unknown_call_requeues_it_with_the_same_idempotency_key(world):
    line, op = _activation(world)
    support = world.actor("support")
    item_id = review_queue.list_review_items(actor=support).rows[0]["id"]
    since = _last_audit_id()

    queued = recovery.retry_operation(op.id, actor=support, reason="キャリアに確認の上で再送")

    assert queued.id == op.id and queued.idempotency_key == op.idempotency_key
    after = _operation_of(line.id)
    assert after.status == "pending" and after.next_attempt_at <= utcnow() + timedelta(seconds=1)
    assert _actions(since) == ["external.retry"]
    row = review_queue.list_review_items(actor=support).rows[0]
    assert row["id"] == item_id and row["operation_status_label"] == "保留"  # open until the outcome is known
    assert not (row["can_retry"] or row["can_resync"])
    with pytest.raises(Conflict, match="送信待ち"):
        recovery.retry_operation(op.id, actor=support, reason="二度押し")
    with read_session() as session:
        assert len(session.exec(select(ExternalOperation).where(ExternalOperation.line_id == line.id)).all()) == 1


def test_a_retried_call_that_succeeds_takes_the_line_out_of_review_and_closes_the_item(world):
    line, op = _activation(world)
    support = world.actor("support")
    item_id = review_queue.list_review_items(actor=support).rows[0]["id"]
    recovery.retry_operation(op.id, actor=support, reason="再送")

    reconciliation.settle_operation(op.id, "succeeded", detail="キャリア受付")

    assert _line(line.id).status == "active"
    assert _item(item_id).status == "resolved" and review_queue.open_review_count(actor=support) == 0


def test_retry_of_a_failed_call_makes_a_new_call_only_while_the_line_is_still_in_review(world):
    line, op = _activation(world)  # 要確認 ...
    outbox.settle(op.id, "failed", detail="キャリア照会: 番号が未登録")  # ... then the carrier says no
    support = world.actor("support")
    assert _line(line.id).status == "needs_review" and _operation_of(line.id).status == "failed"

    queued = recovery.retry_operation(op.id, actor=support, reason="番号登録後に再申請")

    assert queued.id != op.id and queued.idempotency_key != op.idempotency_key
    assert (queued.status, queued.operation, queued.line_id) == ("pending", "activate", line.id)
    assert json.loads(queued.payload_json)["plan"] == json.loads(op.payload_json)["plan"]
    with pytest.raises(Conflict, match="結果待ち"):
        recovery.retry_operation(op.id, actor=support, reason="もう一度")

    rejected_line, rejected = _activation(world, "failed")
    assert _line(rejected_line.id).status == "applying"
    with pytest.raises(Conflict, match="申請中"):
        recovery.retry_operation(rejected.id, actor=support, reason="再送")


def test_retry_needs_a_reason(world):
    _line_, op = _activation(world)
    with pytest.raises(ValidationFailed):
        recovery.retry_operation(op.id, actor=world.actor("support"), reason=" ")


# ---- resolve ----------------------------------------------------------------------------------

def test_resolve_without_a_line_state_only_closes_the_item(world):
    line, _op = _activation(world)
    support = world.actor("support")
    item_id = review_queue.list_review_items(actor=support).rows[0]["id"]
    since = _last_audit_id()

    recovery.resolve_review_item(item_id, actor=support, reason="キャリアの管理画面で未開通を確認、経過観察")

    item = _item(item_id)
    assert (item.status, item.resolved_by) == ("resolved", support.id)
    assert item.resolution_reason == "キャリアの管理画面で未開通を確認、経過観察"
    assert _actions(since) == ["review.resolve"]
    assert _line(line.id).status == "needs_review"  # the line is not touched
    with pytest.raises(Conflict, match="既に解消"):
        recovery.resolve_review_item(item_id, actor=support, reason="二度押し")


def test_confirming_the_line_state_needs_a_second_person_then_the_line_leaves_review(world):
    line, _op = _activation(world)
    maker, checker = world.actor("support"), world.actor("support")
    item_id = review_queue.list_review_items(actor=maker).rows[0]["id"]

    request = recovery.resolve_review_item(item_id, actor=maker, reason="キャリアの回線照会で開通済みを確認",
                                           line_state="active")

    assert request.operation == "line.resolve"
    assert "の状態を「利用中」として確定します（要確認の解消）" in request.summary
    assert json.loads(request.preview_json) == [["状態", "要確認", "利用中"], [f"要確認 #{item_id}", "未対応", "解消済"]]
    assert _line(line.id).status == "needs_review" and _item(item_id).status == "open"  # nothing yet
    row = review_queue.list_review_items(actor=maker).rows[0]
    assert row["approval_id"] == request.id and not row["can_confirm_line"]
    with pytest.raises(PermissionDenied):
        approvals.approve_request(request.id, actor=maker, expected_hash=request.params_hash)
    since = _last_audit_id()

    approvals.approve_request(request.id, actor=checker, expected_hash=request.params_hash)

    assert _line(line.id).status == "active"
    item = _item(item_id)
    assert (item.status, item.resolved_by) == ("resolved", checker.id)
    assert _actions(since) == ["line.confirm_active", "review.resolve"]
    assert review_queue.open_review_count(actor=checker) == 0


def test_confirming_a_state_is_refused_for_a_line_that_is_not_in_review(world):
    rejected_line, _op = _activation(world, "failed")  # the line went back to 申請中
    support = world.actor("support")
    item_id = review_queue.list_review_items(actor=support).rows[0]["id"]
    with pytest.raises(Conflict, match="申請中"):
        recovery.resolve_review_item(item_id, actor=support, reason="確認済み", line_state="active")
    with pytest.raises(ValidationFailed):
        recovery.resolve_review_item(item_id, actor=support, reason="確認済み", line_state="applying")


def test_the_confirmation_runs_only_as_an_approved_request(world):
    _line_, _op = _activation(world)
    support = world.actor("support")
    item_id = review_queue.list_review_items(actor=support).rows[0]["id"]
    with pytest.raises(Exception, match="承認が必要"):
        review.resolve_confirmed_review_item(item_id, actor=support, reason="承認なし")
    assert _item(item_id).status == "open"


# ---- permissions and masking ------------------------------------------------------------------

@pytest.mark.parametrize("role", ["sales", "accounting"])
def test_sales_and_accounting_see_the_queue_but_cannot_retry_or_resolve(world, role):
    line, op = _activation(world)
    person = world.actor(role)
    row = review_queue.list_review_items(actor=person).rows[0]
    assert not (row["can_retry"] or row["can_resolve"] or row["can_confirm_line"] or row["can_resync"])

    with pytest.raises(PermissionDenied):
        recovery.retry_operation(op.id, actor=person, reason="再送")
    with pytest.raises(PermissionDenied):
        recovery.resolve_review_item(row["id"], actor=person, reason="確認済み")
    with pytest.raises(PermissionDenied):
        recovery.resolve_review_item(row["id"], actor=person, reason="確認済み", line_state="active")
    assert _operation_of(line.id).status == "unknown" and _item(row["id"]).status == "open"


def test_accounting_sees_phone_numbers_masked_in_the_queue(world):
    line, op = _activation(world, msisdn="09010000001", note="宛先 090-1000-0001 が応答なし")
    _add_attempt(op.id)
    full = review_queue.list_review_items(actor=world.actor("support")).rows[0]["msisdn"]
    assert "*" not in full and full.startswith("090-1000-")

    row = review_queue.list_review_items(actor=world.actor("accounting")).rows[0]
    assert row["msisdn"] == "090-****-" + full[-4:]
    text = json.dumps(row, ensure_ascii=False)
    for raw in ("09010000001", "090-1000-0001", "819010000001", full):
        assert raw not in text


def test_people_without_a_role_see_nothing(world, nobody):
    _activation(world)
    with pytest.raises(PermissionDenied):
        review_queue.list_review_items(actor=nobody)
    assert review_queue.open_review_count(actor=nobody) == 0


# ---- the line screen --------------------------------------------------------------------------

def test_line_detail_shows_the_external_operation_history(world):
    line, op = _activation(world)
    _add_attempt(op.id)

    ops = views.line_detail(line.id, actor=world.actor("support"))["external_operations"]

    assert len(ops) == 1
    shown = ops[0]
    assert (shown["label"], shown["status_label"], shown["attempt_count"]) == ("キャリア開通", "要確認", 1)
    assert shown["last_error"] == "キャリアの応答がタイムアウトしました（504）"
    assert shown["idempotency_key"] == op.idempotency_key and shown["created_at"] and shown["updated_at"]
    assert shown["attempts"][0]["http_status"] == "504" and shown["attempts"][0]["duration_ms"] == 5012


# ---- the screen -------------------------------------------------------------------------------

def _state(cls, token: str):
    return state_for(cls, token, "/admin/review")


def test_support_confirms_a_line_state_from_the_queue_and_is_told_it_awaits_approval(world):
    line, _op = _activation(world)
    token = signed_in_token("support")
    ui = _state(UiState, token)
    UiState.load_user.fn(ui)
    assert ui.open_reviews == 1

    st = _state(ReviewQueueState, token)
    ReviewQueueState.load.fn(st)
    assert st.loaded and len(st.rows) == 1 and st.kinds[0]["label"] == "キャリア開通: 結果不明"
    ReviewQueueState.open_action.fn(st, st.rows[0]["id"], "resolve")
    assert st.action == "resolve" and st.action_can_confirm_line

    ReviewQueueState.submit_action.fn(st, {"reason": ""})
    assert "reason" in st.field_errors and st.action == "resolve"
    ReviewQueueState.submit_action.fn(st, {"reason": "キャリア照会で開通済み", "line_state": "active"})

    assert st.error == "" and st.action == ""
    assert st.notice.startswith("承認申請 #") and "「利用中」として確定" in st.notice
    assert st.rows[0]["approval_id"] and _line(line.id).status == "needs_review"


def test_support_retries_from_the_queue(world):
    line, op = _activation(world)
    st = _state(ReviewQueueState, signed_in_token("support"))
    ReviewQueueState.load.fn(st)
    ReviewQueueState.open_action.fn(st, st.rows[0]["id"], "retry")
    ReviewQueueState.submit_action.fn(st, {"reason": "タイムアウトのため再送"})
    assert st.error == "" and "同じ冪等キー" in st.notice
    assert st.rows[0]["operation_status"] == "pending" and _operation_of(line.id).status == "pending"


def _carrier_that_applied(keys: set[str], state: str = "active") -> CarrierClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/operations":
            key = request.url.params["idempotency_key"]
            return httpx.Response(200, json={"operations": [{"idempotency_key": key}] if key in keys else []})
        return httpx.Response(200, json={"state": state})
    return CarrierClient("http://carrier.test", transport=httpx.MockTransport(handler))


def test_support_resyncs_from_the_carrier_and_the_line_leaves_review(world, monkeypatch):
    line, op = _activation(world)
    monkeypatch.setattr(reconciliation, "client_for", lambda provider: _carrier_that_applied({op.idempotency_key}))
    st = _state(ReviewQueueState, signed_in_token("support"))
    ReviewQueueState.load.fn(st)
    assert st.rows[0]["can_resync"]
    since = _last_audit_id()

    ReviewQueueState.resync.fn(st, st.rows[0]["id"])

    assert st.error == "" and st.notice.startswith("キャリアで反映済みを確認しました。")
    assert "「成功」" in st.notice and st.rows == []
    assert _line(line.id).status == "active" and _operation_of(line.id).status == "succeeded"
    assert "external_operation.resync" in _actions(since)
