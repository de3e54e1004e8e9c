"""The messaging sandbox over real SMTP and HTTP: mail sent with smtplib shows in the web inbox, LINE-style
pushes are authenticated, validated and recorded, and faults reach SMTP too."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import httpx
import pytest

from sandbox.testing import SandboxProcess

pytestmark = pytest.mark.integration

TOKEN = "test-line-token"


@pytest.fixture(scope="module")
def sandbox():
    with SandboxProcess(only=["messaging"], env={"SANDBOX_LINE_TOKEN": TOKEN}) as s:
        yield s


@pytest.fixture()
def messaging(sandbox):
    sandbox.reset("messaging")
    with httpx.Client(base_url=sandbox.url("messaging"), timeout=5) as client:
        yield client


def send_mail(sandbox: SandboxProcess, to: str, subject: str, text: str) -> None:
    message = EmailMessage()
    message["From"] = "請求担当 <billing@operator.example>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    with smtplib.SMTP("127.0.0.1", sandbox.smtp_port, timeout=5) as smtp:
        smtp.send_message(message)


def push(client: httpx.Client, token: str = TOKEN, **body) -> httpx.Response:
    return client.post("/v2/bot/message/push", json=body, headers={"Authorization": f"Bearer {token}"})


def test_mail_sent_over_smtp_appears_in_the_inbox(messaging, sandbox):
    send_mail(sandbox, "yamada@example.jp", "【請求書発行】2024年11月分のご請求",
              "ご請求金額: 3,300円\nお支払期限: 12月27日")
    send_mail(sandbox, "sato@example.jp", "回線停止のお知らせ", "ご利用の回線を停止しました。")

    inbox = messaging.get("/inbox.json").json()
    only_yamada = messaging.get("/inbox.json", params={"to": "yamada@example.jp"}).json()
    page = messaging.get("/inbox")

    assert inbox["count"] == 2
    first = inbox["messages"][0]
    assert first["subject"] == "【請求書発行】2024年11月分のご請求"
    assert first["envelope_to"] == ["yamada@example.jp"] and "3,300円" in first["text"]
    assert "billing@operator.example" in first["from"]
    assert [m["subject"] for m in only_yamada["messages"]] == ["【請求書発行】2024年11月分のご請求"]
    assert page.status_code == 200 and "受信箱" in page.text and "回線停止のお知らせ" in page.text
    assert [e["operation"] for e in sandbox.effects("messaging")] == ["mail", "mail"]


def test_smtp_obeys_the_fault_switches(messaging, sandbox):
    sandbox.faults("messaging", error_rate=1.0)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send_mail(sandbox, "a@example.jp", "x", "y")
    sandbox.faults("messaging", error_rate=0.0, down_for_seconds=30)
    with pytest.raises(smtplib.SMTPDataError) as down:
        send_mail(sandbox, "a@example.jp", "x", "y")

    assert refused.value.smtp_code == 451 and down.value.smtp_code == 421
    assert messaging.get("/inbox.json").json()["count"] == 0  # inspection is never faulted


def test_line_push_is_recorded(messaging, sandbox):
    answer = push(messaging, to="U1234567890abcdef", messages=[
        {"type": "text", "text": "ご請求金額が確定しました。マイページからご確認ください。"},
        {"type": "text", "text": "https://example.jp/my/invoices/42"}])

    assert answer.status_code == 200 and len(answer.json()["sentMessages"]) == 2
    recorded = messaging.get("/line/messages.json").json()
    assert recorded["count"] == 1
    assert recorded["messages"][0]["to"] == "U1234567890abcdef"
    assert recorded["messages"][0]["messages"][0]["text"].startswith("ご請求金額")
    assert "ご請求金額が確定しました" in messaging.get("/inbox").text


def test_line_push_needs_the_channel_token_and_a_valid_body(messaging):
    unauthorized = push(messaging, token="wrong", to="U1", messages=[{"type": "text", "text": "x"}])
    no_header = messaging.post("/v2/bot/message/push", json={"to": "U1", "messages": [{"type": "text", "text": "x"}]})
    too_many = push(messaging, to="U1", messages=[{"type": "text", "text": str(i)} for i in range(6)])
    empty_text = push(messaging, to="U1", messages=[{"type": "text", "text": ""}])

    assert unauthorized.status_code == no_header.status_code == 401
    assert too_many.status_code == 400 and too_many.json()["details"][0]["property"] == "messages"
    assert empty_text.status_code == 400
    assert messaging.get("/line/messages.json").json()["count"] == 0


def test_a_repeated_line_retry_key_records_once(messaging):
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Line-Retry-Key": "123e4567-e89b-12d3-a456-426614174000"}
    body = {"to": "U2", "messages": [{"type": "text", "text": "停止のお知らせ"}]}
    first = messaging.post("/v2/bot/message/push", json=body, headers=headers)
    again = messaging.post("/v2/bot/message/push", json=body, headers=headers)

    assert first.status_code == 200 and again.status_code == 409
    assert again.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert messaging.get("/line/messages.json").json()["count"] == 1
