"""KYC, logistics and messaging end to end: the ledger (migrated SQLite), the real sandbox providers over
HTTP and SMTP with their faults, their signed webhooks into webhooks.accept, and the outbox task run by hand.

The test plays staff (the services), the Celery worker (services.tasks.outbox.run_operation) and the
webhook task (webhooks.process_event); the sandbox is a separate process, as a real provider would be.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from sandbox.testing import SandboxProcess
from services.integrations.http import CallResult
from services.integrations.kyc import KycClient
from services.integrations.logistics import LogisticsClient
from services.integrations.messaging import MessagingClient, message_id
from services.ledger import kyc_checks, notifications, shipments
from services.models import AuditEntry, Customer, ExternalOperation, InboundEvent, Notification, ReviewItem, Shipment
from services.platform import installation_secrets
from services.platform.db import make_engine, read_session, use_engine
from services.platform.permissions import Role
from services.tasks.outbox import run_operation
from services.workflow import webhooks
from tests.conftest import make_actor
from tests.integration.test_migrations import _upgrade
from tests.stack import WebhookEndpoint, queue_tasks_on
from tests.unit.builders import World
from tests.unit.provider_fakes import customer

pytestmark = pytest.mark.integration

LINE_TOKEN = "integration-line-token"


class Stack:
    """The sandbox, the ledger and clients pointed at the sandbox."""

    def __init__(self, sandbox: SandboxProcess):
        self.sandbox = sandbox
        self.world = World(make_actor(Role.ADMIN, None, "admin@test"))
        self.support = make_actor(Role.SUPPORT, None, "support@test")
        self.kyc = KycClient(sandbox.url("kyc"), read_timeout=2)
        self.logistics = LogisticsClient(sandbox.url("logistics"), read_timeout=2)

    def messaging(self, smtp_timeout: float = 5, read_timeout: float = 2) -> MessagingClient:
        return MessagingClient(self.sandbox.url("messaging"), smtp_host="127.0.0.1", smtp_port=self.sandbox.smtp_port,
                               line_token=LINE_TOKEN, smtp_timeout=smtp_timeout, read_timeout=read_timeout)

    def customer(self, *, email: str | None = "yamada@example.jp", line_user_id: str | None = None) -> int:
        return customer(self.world.admin, email=email, line_user_id=line_user_id)

    def inbox(self, **params: str) -> list[dict]:
        return httpx.get(f"{self.sandbox.url('messaging')}/inbox.json", params=params, timeout=5).json()["messages"]


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


def stored_events(provider: str) -> list[InboundEvent]:
    with read_session() as session:
        return list(session.exec(select(InboundEvent).where(InboundEvent.provider == provider)
                                 .order_by(InboundEvent.id)))


def process_stored(provider: str) -> list[str]:
    """What the webhook task does for every stored, unprocessed event of `provider` (in arrival order)."""
    return [webhooks.process_event(e.id) for e in stored_events(provider) if e.processed_at is None]


def operations(provider: str, **where) -> list[ExternalOperation]:
    with read_session() as session:
        query = select(ExternalOperation).where(ExternalOperation.provider == provider)
        for name, value in where.items():
            query = query.where(getattr(ExternalOperation, name) == value)
        return list(session.exec(query.order_by(col(ExternalOperation.id))))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("providers")
    db_url = f"sqlite:///{base / 'ledger.db'}"
    _upgrade(db_url)
    engine = make_engine(db_url)
    use_engine(engine)
    # accept() queues webhook processing: onto this test's broker
    previous_broker = queue_tasks_on(f"sqla+sqlite:///{base / 'broker.db'}")
    endpoint = WebhookEndpoint()
    sandbox = SandboxProcess(only=["kyc", "logistics", "messaging"], webhook_base=endpoint.base,
                             secrets_file=installation_secrets.secrets_file(),
                             env={"SANDBOX_LINE_TOKEN": LINE_TOKEN}).start()
    try:
        yield Stack(sandbox)
    finally:
        sandbox.stop()
        endpoint.close()
        queue_tasks_on(previous_broker)
        use_engine(None)
        engine.dispose()


@pytest.fixture()
def system(stack):
    stack.sandbox.reset()
    stack.sandbox.configure("kyc", result_delay_ms=50)
    stack.sandbox.configure("logistics", step_delay_ms=40)
    return stack


def test_a_kyc_check_is_sent_once_and_its_result_waits_for_staff_in_one_review_item(system):
    cid = system.customer()
    system.sandbox.faults("kyc", duplicate_webhooks=True)
    kyc_checks.request_kyc_check(cid, actor=system.support, reason="来店")
    [op] = operations("kyc", customer_id=cid)

    assert run_operation(op.id, client=system.kyc) == "succeeded"
    wait_for(lambda: len([d for d in httpx.get(f"{system.sandbox.url('kyc')}/_sandbox/webhooks").json()[
        "deliveries"] if d.get("status_code") == 200]) >= 2, "the result webhook and its duplicate")
    process_stored("kyc")

    assert [e["operation"] for e in system.sandbox.effects("kyc")] == ["submit", "decide"]
    assert len(stored_events("kyc")) == 1  # the duplicate delivery was answered, not stored
    with read_session() as session:
        items = session.exec(select(ReviewItem).where(ReviewItem.customer_id == cid)).all()
        status = session.get(Customer, cid).kyc_status
    assert [(i.kind, i.status) for i in items] == [("kyc.check.approved", "open")]
    assert json.loads(items[0].evidence_json)["check_id"] == operations("kyc")[0].provider_ref
    assert status == "submitted"  # confirmed by staff through the approved set_kyc_status

    [mail] = operations("messaging", customer_id=cid)
    assert run_operation(mail.id, client=system.messaging()) == "succeeded"
    [received] = system.inbox(message_id=message_id(mail.idempotency_key))
    assert received["envelope_to"] == ["yamada@example.jp"] and "本人確認" in received["subject"]


def test_a_shipment_is_tracked_to_delivery_once_despite_duplicated_and_reordered_webhooks(system):
    cid = system.customer(line_user_id="U0001")
    line = system.world.line(system.world.contract(cid))
    system.sandbox.faults("logistics", duplicate_webhooks=True, reorder_webhooks=True, reorder_window_ms=400)
    sent = shipments.ship_to_customer(actor=system.support, customer_id=cid, line_id=line.id)
    [op] = operations("logistics", shipment_id=sent.id)

    assert run_operation(op.id, client=system.logistics) == "succeeded"
    wait_for(lambda: {e.event_type for e in stored_events("logistics")} >= {
        "shipment.picked_up", "shipment.in_transit", "shipment.delivered"}, "three tracking events")
    time.sleep(0.5)  # the held duplicates arrive too
    process_stored("logistics")

    with read_session() as session:
        row = session.get(Shipment, sent.id)
        moves = [e.action for e in session.exec(select(AuditEntry).where(
            AuditEntry.entity_type == "shipment", AuditEntry.entity_id == sent.id).order_by(AuditEntry.id))]
        told = session.exec(select(Notification).where(Notification.customer_id == cid)).all()
    provider_view = httpx.get(f"{system.sandbox.url('logistics')}/shipments/{row.provider_shipment_id}").json()
    assert row.status == "delivered" and row.delivered_at is not None
    assert row.tracking_number == provider_view["tracking_number"]
    assert moves.count("shipment.delivered") == 1 and moves[:2] == ["shipment.request", "shipment.accepted"]
    assert len(system.sandbox.effects("logistics", operation="ship")) == 1
    # told twice (sent, then delivered — once each despite the duplicated webhooks), each in-app, by mail and LINE
    assert sorted((n.kind, n.channel) for n in told) == sorted(
        (kind, channel) for kind in {n.kind for n in told} for channel in ("in_app", "line", "mail"))
    assert len({n.kind for n in told}) == 2

    shipments.request_return(sent.id, actor=system.support, reason="解約のため")
    [ret] = operations("logistics", operation="return", shipment_id=sent.id)
    assert run_operation(ret.id, client=system.logistics) == "succeeded"
    wait_for(lambda: "shipment.returned" in {e.event_type for e in stored_events("logistics")}, "the return")
    time.sleep(0.5)
    process_stored("logistics")
    with read_session() as session:
        assert session.get(Shipment, sent.id).status == "returned"


class AnswerLost(MessagingClient):
    """Sends the mail for real, then reports what a connection broken before the server's answer gives."""

    def call(self, operation):
        sent = super().call(operation)
        assert sent.outcome == "succeeded"
        return CallResult("unknown", None, "", "SMTPServerDisconnected: Connection unexpectedly closed", 0,
                          sent.request)


def mail_notification(system, cid: int) -> ExternalOperation:
    notifications.notify_customer(cid, actor=system.support, kind="invoice.issued", title="請求書を発行しました",
                                  body="ご請求が確定しました。", channels=("mail",))
    [op] = operations("messaging", customer_id=cid)
    return op


def test_a_mail_delivered_before_its_answer_was_lost_is_not_sent_again(system):
    cid = system.customer()
    op = mail_notification(system, cid)
    lost = AnswerLost(system.sandbox.url("messaging"), smtp_host="127.0.0.1", smtp_port=system.sandbox.smtp_port,
                      line_token=LINE_TOKEN, smtp_timeout=5)

    assert run_operation(op.id, client=lost) == "retry"
    assert run_operation(op.id, client=system.messaging()) == "succeeded"
    assert run_operation(op.id, client=system.messaging()) == "skipped"

    assert len(system.inbox(message_id=message_id(op.idempotency_key))) == 1
    assert len(system.sandbox.effects("messaging", operation="mail")) == 1
    with read_session() as session:
        assert session.get(Notification, op.notification_id).sent_at is not None


def test_a_mail_that_timed_out_or_was_refused_for_now_lands_once_on_retry(system):
    cid = system.customer()
    op = mail_notification(system, cid)
    system.sandbox.faults("messaging", latency_ms=1500)

    assert run_operation(op.id, client=system.messaging(smtp_timeout=0.5)) == "retry"
    system.sandbox.faults("messaging", latency_ms=0, error_rate=1.0)  # 451 at DATA
    assert run_operation(op.id, client=system.messaging()) == "retry"
    time.sleep(1.5)  # whatever the server was still doing with the first attempt is over
    system.sandbox.faults("messaging", error_rate=0.0)
    assert run_operation(op.id, client=system.messaging()) == "succeeded"

    assert len(system.inbox(message_id=message_id(op.idempotency_key))) == 1
    assert len(system.sandbox.effects("messaging", operation="mail")) == 1


def test_a_line_push_is_delivered_once_when_its_answer_was_lost(system):
    cid = system.customer(email=None, line_user_id="U0002")
    notifications.notify_customer(cid, actor=system.support, kind="line.suspended", title="回線を停止しました",
                                  body="ご利用の回線を停止しました。", channels=("line",))
    [op] = operations("messaging", customer_id=cid)
    system.sandbox.faults("messaging", timeout_after_commit_rate=1.0)

    assert run_operation(op.id, client=system.messaging(read_timeout=0.5)) == "retry"
    system.sandbox.faults("messaging", timeout_after_commit_rate=0)
    assert run_operation(op.id, client=system.messaging()) == "succeeded"

    pushes = httpx.get(f"{system.sandbox.url('messaging')}/line/messages.json", params={"to": "U0002"}).json()
    assert pushes["count"] == 1 and pushes["messages"][0]["messages"][0]["text"].startswith("回線を停止しました")
    assert system.messaging().lookup(op.idempotency_key) == "applied"
    with read_session() as session:
        assert session.get(Notification, op.notification_id).sent_at is not None
