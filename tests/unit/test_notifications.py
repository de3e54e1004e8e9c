"""Notifications (通知): in-app rows, mail over SMTP and LINE pushes through the outbox, each delivered once."""

from __future__ import annotations

import json
import smtplib
import socket

import httpx
import pytest
from sqlmodel import select

from services.integrations import messaging
from services.integrations.messaging import MessagingClient, line_retry_key, message_id
from services.ledger import notifications
from services.models import Notification
from services.platform.db import read_session
from services.platform.errors import PermissionDenied, ValidationFailed
from services.tasks.outbox import run_operation
from tests.unit.provider_fakes import FakeProvider, FakeSmtp, customer, json_answer, operations


@pytest.fixture(autouse=True)
def fake_smtp(monkeypatch):
    FakeSmtp.reset()
    monkeypatch.setattr(messaging.smtplib, "SMTP", FakeSmtp)
    yield FakeSmtp
    FakeSmtp.reset()


def empty_inbox(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"count": 0, "messages": []})


def client(answer=empty_inbox) -> tuple[MessagingClient, FakeProvider]:
    provider = FakeProvider(answer)
    return MessagingClient("http://messaging.test", smtp_host="smtp.test", smtp_port=2525, smtp_timeout=3,
                           mail_from="noreply@telecom.example", line_token="token-1",
                           transport=provider.transport()), provider


def notification(notification_id: int) -> Notification:
    with read_session() as session:
        return session.get(Notification, notification_id)


def notify(cid: int, actor, channels=("mail",)):
    return notifications.notify_customer(cid, actor=actor, kind="invoice.issued", title="請求書を発行しました",
                                         body="2026年4月分のご請求が確定しました。", link="https://example.jp/my/invoices/1",
                                         channels=channels)


def test_a_mail_notification_is_one_row_and_one_mail_operation(engine, admin, accounting):
    cid = customer(admin)

    result = notify(cid, accounting)

    [row] = result.notifications
    assert (row.channel, row.sent_at, result.notes) == ("mail", None, [])
    [op] = operations("messaging", notification_id=row.id)
    payload = json.loads(op.payload_json)
    assert (op.operation, payload["to"], payload["subject"]) == ("mail", "yamada@example.jp", "請求書を発行しました")
    assert payload["text"].endswith("https://example.jp/my/invoices/1")


def test_a_customer_without_email_or_line_gets_the_in_app_message_and_a_reason(engine, admin, support):
    cid = customer(admin, email=None)

    result = notify(cid, support, channels=("mail", "line"))

    assert [n.channel for n in result.notifications] == ["in_app"]
    assert result.notifications[0].sent_at is not None
    assert any("メールアドレス" in note for note in result.notes) and any("LINE" in note for note in result.notes)
    assert operations("messaging") == []


def test_line_is_used_for_a_line_friend_without_email(engine, admin, support):
    cid = customer(admin, email=None, line_user_id="U42")

    result = notify(cid, support, channels=("mail", "line"))

    assert [n.channel for n in result.notifications] == ["line"]
    [op] = operations("messaging")
    assert op.operation == "push" and json.loads(op.payload_json)["to"] == "U42"


def test_unknown_channels_are_refused(engine, admin, support):
    with pytest.raises(ValidationFailed):
        notify(customer(admin), support, channels=("fax",))


def test_a_sent_mail_marks_the_notification_sent(engine, admin, support, fake_smtp):
    row = notify(customer(admin), support).notifications[0]
    mail_client, _ = client()
    op = operations("messaging")[0]

    assert run_operation(op.id, client=mail_client) == "succeeded"

    [sent] = fake_smtp.sent
    assert sent["Message-ID"] == message_id(op.idempotency_key, "noreply@telecom.example")
    assert (sent["To"], sent["Subject"]) == ("yamada@example.jp", "請求書を発行しました")
    assert fake_smtp.connections == [("smtp.test", 2525, 3)]
    assert notification(row.id).sent_at is not None


def test_a_mail_already_in_the_inbox_is_not_sent_again(engine, admin, support, fake_smtp):
    notify(customer(admin), support)
    op = operations("messaging")[0]
    mid = message_id(op.idempotency_key, "noreply@telecom.example")
    mail_client, provider = client(json_answer(200, {"count": 1, "messages": [{"message_id": mid}]}))

    assert run_operation(op.id, client=mail_client) == "succeeded"

    assert fake_smtp.sent == []
    assert provider.requests[0].url.params["message_id"] == mid


@pytest.mark.parametrize("error,outcome", [
    (smtplib.SMTPDataError(451, b"4.3.0 Temporary failure"), "unknown"),
    (smtplib.SMTPDataError(421, b"4.3.2 Service not available"), "unknown"),
    (socket.timeout("timed out"), "unknown"),
    (smtplib.SMTPDataError(554, b"5.6.0 Message rejected"), "failed"),
    (smtplib.SMTPRecipientsRefused({"x@example.jp": (550, b"no such user")}), "failed"),
])
def test_smtp_4xx_and_timeouts_are_unknown_and_5xx_is_failed(error, outcome, fake_smtp):
    fake_smtp.fail_with = error
    mail_client, _ = client()

    result = mail_client.call({"provider": "messaging", "operation": "mail", "idempotency_key": "messaging-mail-k",
                               "payload": {"to": "x@example.jp", "subject": "件名", "text": "本文"}})

    assert result.outcome == outcome


def test_a_mail_whose_outcome_was_unknown_is_sent_once_after_the_retry(engine, admin, support, fake_smtp):
    notify(customer(admin), support)
    op = operations("messaging")[0]
    inbox: list[dict] = []
    mail_client, _ = client(lambda request: httpx.Response(200, json={"messages": inbox}))
    fake_smtp.fail_with = socket.timeout("timed out")  # the server kept it, the answer was lost
    assert run_operation(op.id, client=mail_client) == "retry"
    inbox.append({"message_id": message_id(op.idempotency_key, "noreply@telecom.example")})
    fake_smtp.fail_with = None

    assert run_operation(op.id, client=mail_client) == "succeeded"

    assert fake_smtp.sent == []


def test_a_push_carries_a_retry_key_derived_from_the_operation_key(engine, admin, support):
    row = notify(customer(admin, email=None, line_user_id="U42"), support, channels=("line",)).notifications[0]
    op = operations("messaging")[0]
    push_client, provider = client(json_answer(200, {"sentMessages": [{"id": "1"}]}))

    assert run_operation(op.id, client=push_client) == "succeeded"

    [request] = provider.posts()
    assert request.url.path == "/v2/bot/message/push"
    assert request.headers["Authorization"] == "Bearer token-1"
    assert request.headers["X-Line-Retry-Key"] == line_retry_key(op.idempotency_key)
    assert line_retry_key(op.idempotency_key) == line_retry_key(op.idempotency_key)
    body = json.loads(request.content)
    assert body["to"] == "U42" and body["messages"][0]["text"].startswith("請求書を発行しました")
    assert notification(row.id).sent_at is not None


def test_a_409_for_an_accepted_retry_key_means_the_push_was_delivered(engine):
    push_client, _ = client(json_answer(409, {"message": "The retry key is already accepted"},
                                        {"x-line-accepted-request-id": "req-1"}))
    other_conflict, _ = client(json_answer(409, {"message": "something else"}))
    push = {"provider": "messaging", "operation": "push", "idempotency_key": "messaging-push-k",
            "payload": {"to": "U1", "text": "停止のお知らせ"}}

    assert push_client.call(push).outcome == "succeeded"
    assert other_conflict.call(push).outcome == "failed"


def test_lookups_ask_the_inbox_for_mail_and_the_line_log_for_pushes(engine):
    key = "messaging-push-notification1-abc"
    pushes = {"messages": [{"retry_key": line_retry_key(key)}]}
    push_client, _ = client(json_answer(200, pushes))
    mail_client, _ = client()
    down, _ = client(json_answer(503, {}))

    assert push_client.lookup(key) == "applied"
    assert push_client.lookup("messaging-push-other") == "not_applied"
    assert mail_client.lookup("messaging-mail-notification2-def") == "not_applied"
    assert down.lookup("messaging-mail-notification2-def") == "unreachable"


def test_only_staff_with_a_role_may_notify(engine, admin, nobody):
    with pytest.raises(PermissionDenied):
        notify(customer(admin), nobody)
    with read_session() as session:
        assert session.exec(select(Notification)).all() == []
