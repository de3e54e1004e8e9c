"""Customers' tickets with attachments, and staff's internal notes (社内メモ).

Two companies A and B, each with a 法人管理者, a 利用者 who sees line1 only and no bills, two lines and an issued
bill. Nothing of B is reachable from A (every id is NotFound in the words an unknown id gets, and nothing is
written — not a row, not a file); a 利用者 asks only about their lines; internal notes and their files never reach
a customer; a staff reply (never a note, never the customer's own message) tells the person who asked — in-app and
by mail, without the reply's text; files are limited in size, number and type (recognised from their bytes) and
stored privately under their SHA-256; the download routes give the same bytes to the owner and to staff, 404 to
another company and 401 without a session."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pyotp
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlmodel import SQLModel, select
from starlette.testclient import TestClient

from services.ledger import customers, ticket_files, tickets
from services.ledger.ticket_files import Upload
from services.models import AuditEntry, CustomerUser, ExternalOperation, Notification, Ticket, TicketAttachment
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from services.platform.permissions import Actor
from services.read.customer import notices as my_notices
from services.read.customer import tickets as my_reads
from services.read.staff import tickets as staff_reads
from services.security import customer_auth
from telecom_app import routes
from telecom_app.api import build_api
from telecom_app.http_policy import HttpPolicy
from tests.unit.customer_builders import company_user, customer_actor
from tests.unit.screens import signed_in_token

MISSING = 10**6
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40 + b"\xff\xd9"
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
HEIC = (24).to_bytes(4, "big") + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic" + b"\x00" * 32
TEXT = "回線番号 090-1234-5678 で圏外になります。\r\n".encode()
PASSWORD = "blue kettle on a quiet morning"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@dataclass(frozen=True)
class Company:
    customer_id: int
    line1: int  # the 利用者's line
    line2: int
    invoice_id: int
    admin_id: int
    user_id: int

    @property
    def admin(self) -> Actor:
        return customer_actor(self.admin_id)

    @property
    def user(self) -> Actor:
        return customer_actor(self.user_id)


def _company(world, tag: str) -> Company:
    customer_id = customers.create_customer(actor=world.admin, kind="corporate", name=f"株式会社{tag}",
                                            name_kana="カブシキガイシャテスト", email=f"info@{tag}.example.jp").id
    contract = world.contract(customer_id)
    line1, line2 = world.line(contract).id, world.line(contract).id
    invoice = world.invoice(contract, period="2026-02")
    admin_id = company_user(customer_id, f"admin@{tag}.example.jp", role="customer_admin", name=f"{tag} 管理者")
    user_id = company_user(customer_id, f"user@{tag}.example.jp", name=f"{tag} 利用者", line_ids=[line1])
    return Company(customer_id, line1, line2, invoice.id, admin_id, user_id)


@pytest.fixture()
def a(world) -> Company:
    return _company(world, "a")


@pytest.fixture()
def b(world, a) -> Company:
    return _company(world, "b")


@pytest.fixture()
def staff(world) -> Actor:
    return world.actor("support")


def ledger(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=repr)
                for t in SQLModel.metadata.sorted_tables}


def stored_files() -> list[Path]:
    root = ticket_files.attachments_root()
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _ask(company: Company, actor: Actor | None = None, files=(), **about) -> Ticket:
    about = about or {"line_id": company.line1}
    return tickets.open_my_ticket(actor=actor or company.admin, subject="圏外になる", body="昨日から圏外です。",
                                  files=list(files), **about)


def _attachments(ticket_id: int) -> list[TicketAttachment]:
    with read_session() as s:
        return list(s.exec(select(TicketAttachment).where(TicketAttachment.ticket_id == ticket_id)
                           .order_by(TicketAttachment.id)))


def _audit(action: str) -> list[AuditEntry]:
    with read_session() as s:
        return list(s.exec(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


# ---- opening and replying -------------------------------------------------------------------------------------


def test_a_company_admin_opens_a_ticket_about_a_line_with_a_png_and_staff_see_it_with_the_file(a, staff):
    ticket = _ask(a, files=[Upload("圏外の画面.png", PNG)])

    assert (ticket.customer_id, ticket.line_id, ticket.invoice_id, ticket.status) == (a.customer_id, a.line1, None,
                                                                                       "open")
    screen = staff_reads.ticket_screen(ticket.id, actor=staff)
    [message] = screen["messages"]
    assert message["author"] == "お客様（a 管理者）" and message["internal"] is False
    [file] = message["attachments"]
    assert (file["name"], file["type_label"]) == ("圏外の画面.png", "PNG画像")
    assert staff_reads.ticket_attachment(file["id"], actor=staff) == ("圏外の画面.png", PNG, "image/png")
    [entry] = _audit("ticket.create")
    assert (entry.actor_kind, entry.actor_id, entry.customer_id) == ("customer", a.admin_id, a.customer_id)
    assert '"sha256": "' + hashlib.sha256(PNG).hexdigest() in entry.after_json


def test_a_company_admin_asks_about_a_bill_and_sees_the_ticket_in_the_list(a):
    ticket = _ask(a, invoice_id=a.invoice_id)

    [row] = my_reads.my_tickets(actor=a.admin)
    assert row["id"] == ticket.id and row["code"] == tickets.ticket_code(ticket.id)
    assert row["status_label"] == "受付済み" and row["about"].startswith("請求書 ")
    assert {t["value"] for t in my_reads.ticket_topics(actor=a.admin)} == {
        f"line:{a.line1}", f"line:{a.line2}", f"invoice:{a.invoice_id}"}


def test_a_ticket_must_name_exactly_one_line_or_bill(a):
    with pytest.raises(ValidationFailed) as refused:
        tickets.open_my_ticket(actor=a.admin, subject="質問", body="質問です。")
    assert refused.value.fields == {"about": "お問い合わせの対象（回線または請求書）を選んでください。"}


def test_a_user_asks_only_about_their_own_line_and_about_bills_only_with_the_right(engine, a):
    assert [t["value"] for t in my_reads.ticket_topics(actor=a.user)] == [f"line:{a.line1}"]
    before = ledger(engine)

    with pytest.raises(NotFound, match="回線が見つかりません。"):
        _ask(a, a.user, line_id=a.line2)
    with pytest.raises(NotFound, match="請求書が見つかりません。"):
        _ask(a, a.user, invoice_id=a.invoice_id)
    assert ledger(engine) == before

    mine = _ask(a, a.user)
    admins = _ask(a, a.admin, line_id=a.line2)
    bill = _ask(a, a.admin, invoice_id=a.invoice_id)
    assert [t["id"] for t in my_reads.my_tickets(actor=a.user)] == [mine.id]
    with pytest.raises(NotFound, match="問い合わせが見つかりません。"):
        my_reads.my_ticket(admins.id, actor=a.user)
    with pytest.raises(NotFound, match="問い合わせが見つかりません。"):
        my_reads.my_ticket(bill.id, actor=a.user)
    with write_session() as s:  # the 法人管理者 lets the 利用者 see bills
        from services.models import CustomerUser
        row = s.get(CustomerUser, a.user_id)
        row.can_view_bills = True
        s.add(row)
    assert {t["id"] for t in my_reads.my_tickets(actor=a.user)} == {mine.id, bill.id}
    assert _ask(a, a.user, invoice_id=a.invoice_id).invoice_id == a.invoice_id


def test_a_customer_reply_moves_a_ticket_waiting_for_them_back_reopens_a_resolved_one_and_a_closed_one_refuses(
        a, staff):
    ticket = _ask(a)
    tickets.change_ticket_status(ticket.id, actor=staff, event="start")
    tickets.change_ticket_status(ticket.id, actor=staff, event="wait_for_customer")

    tickets.reply_to_my_ticket(ticket.id, actor=a.admin, body="再起動しても直りません。")
    assert my_reads.my_ticket(ticket.id, actor=a.admin)["status"] == "in_progress"
    assert len(_audit("ticket.customer_replied")) == 1

    tickets.reply_to_my_ticket(ticket.id, actor=a.admin, body="追加の情報です。")  # 対応中: stays
    assert my_reads.my_ticket(ticket.id, actor=a.admin)["status"] == "in_progress"

    tickets.change_ticket_status(ticket.id, actor=staff, event="resolve")
    tickets.reply_to_my_ticket(ticket.id, actor=a.admin, body="また圏外になりました。")
    assert my_reads.my_ticket(ticket.id, actor=a.admin)["status"] == "in_progress"
    assert len(_audit("ticket.reopen")) == 1

    tickets.change_ticket_status(ticket.id, actor=staff, event="resolve")
    tickets.change_ticket_status(ticket.id, actor=staff, event="close")
    with pytest.raises(InvalidTransition):
        tickets.reply_to_my_ticket(ticket.id, actor=a.admin, body="まだです。")
    assert my_reads.my_ticket(ticket.id, actor=a.admin)["can_reply"] is False


def test_staff_cannot_use_the_customer_services_and_customers_cannot_use_the_staff_one(a, staff):
    ticket = _ask(a)
    with pytest.raises(PermissionDenied):
        tickets.reply_to_my_ticket(ticket.id, actor=staff, body="x")
    with pytest.raises(PermissionDenied):
        tickets.add_ticket_message(ticket.id, actor=a.admin, body="x", internal=True)
    with pytest.raises(PermissionDenied):
        my_reads.my_tickets(actor=staff)


# ---- internal notes ----------------------------------------------------------------------------------------------


def test_internal_notes_and_their_files_never_reach_the_customer(a, staff):
    ticket = _ask(a)
    tickets.add_ticket_message(ticket.id, actor=staff, body="ご返信ありがとうございます。確認します。")
    note = tickets.add_ticket_message(ticket.id, actor=staff, body="社内: 基地局障害の可能性。", internal=True,
                                      files=[Upload("基地局.txt", TEXT)])

    seen = my_reads.my_ticket(ticket.id, actor=a.admin)
    assert [m["body"] for m in seen["messages"]] == ["昨日から圏外です。", "ご返信ありがとうございます。確認します。"]
    assert seen["messages"][1]["author"] == "サポート担当"
    assert "基地局" not in str(seen) and "基地局" not in str(my_reads.my_tickets(actor=a.admin))
    [file] = _attachments(ticket.id)
    with pytest.raises(NotFound, match="添付ファイルが見つかりません。"):
        my_reads.my_attachment(file.id, actor=a.admin)

    staff_view = staff_reads.ticket_screen(ticket.id, actor=staff)["messages"]
    assert [(m["id"], m["internal"]) for m in staff_view][-1] == (note.id, True)
    assert staff_reads.ticket_attachment(file.id, actor=staff)[1] == TEXT
    [entry] = _audit("ticket.note")
    assert '"internal": true' in entry.after_json


# ---- telling the customer of a staff reply ------------------------------------------------------------------------

PRIVATE = "ご指摘の回線は基地局工事の影響です。暗証番号 4821 で再設定してください。"


def _notices(customer_id: int) -> list[Notification]:
    with read_session() as s:
        return list(s.exec(select(Notification).where(Notification.customer_id == customer_id)
                           .order_by(Notification.id)))


def _mails(customer_id: int) -> list[dict]:
    with read_session() as s:
        ops = s.exec(select(ExternalOperation).where(ExternalOperation.customer_id == customer_id,
                                                     ExternalOperation.provider == "messaging")
                     .order_by(ExternalOperation.id)).all()
    assert all(op.operation == "mail" for op in ops)
    return [json.loads(op.payload_json) for op in ops]


def test_a_staff_reply_tells_the_person_who_asked_in_app_and_by_mail_without_the_reply_text(a, staff):
    colleague = customer_actor(company_user(a.customer_id, "user2@a.example.jp", name="a 利用者2", line_ids=[a.line1]))
    ticket = _ask(a, a.user)

    tickets.add_ticket_message(ticket.id, actor=staff, body=PRIVATE)

    code = tickets.ticket_code(ticket.id)
    in_app, mail = sorted(_notices(a.customer_id), key=lambda n: n.channel)
    assert [(n.channel, n.customer_user_id, n.kind) for n in (in_app, mail)] == [
        ("in_app", a.user_id, "ticket.reply"), ("mail", a.user_id, "ticket.reply")]
    assert in_app.title == "お問い合わせに返信がありました" and in_app.link.endswith(f"/go/ticket/{ticket.id}")
    assert code in in_app.body and "圏外になる" in in_app.body
    assert "次にすること: 内容をご確認のうえ、必要であれば返信してください。" in in_app.body
    [sent] = _mails(a.customer_id)
    assert sent["to"] == "user@a.example.jp" and sent["subject"] == "お問い合わせに返信がありました"
    assert code in sent["text"] and sent["text"].endswith(f"/go/ticket/{ticket.id}")
    assert "基地局" not in sent["text"] + in_app.body and "4821" not in sent["text"] + in_app.body

    [shown] = my_notices.my_notifications(actor=a.user)
    assert shown["id"] == in_app.id and shown["link"].endswith(f"/go/ticket/{ticket.id}")
    assert my_notices.my_notifications(actor=colleague) == [] and my_notices.my_notifications(actor=a.admin) == []
    [entry] = _audit("ticket.message")
    assert (entry.actor_kind, entry.actor_id) == ("staff", staff.id)
    assert sorted(json.loads(entry.after_json)["notification_ids"]) == sorted([in_app.id, mail.id])
    assert _audit("notification.create") == []


def test_notes_the_customers_own_replies_and_a_closed_ticket_tell_nobody(a, staff):
    ticket = _ask(a, a.user)
    tickets.add_ticket_message(ticket.id, actor=staff, body="社内: 基地局障害の可能性。", internal=True)
    tickets.reply_to_my_ticket(ticket.id, actor=a.user, body="まだ圏外です。")
    for event in ("resolve", "close"):
        tickets.change_ticket_status(ticket.id, actor=staff, event=event)
    with pytest.raises(InvalidTransition):
        tickets.add_ticket_message(ticket.id, actor=staff, body="確認します。")

    assert _notices(a.customer_id) == [] and _mails(a.customer_id) == []
    assert my_notices.my_notifications(actor=a.user) == []


def test_a_ticket_no_active_person_wrote_on_is_told_to_the_company(a, staff):
    by_staff = tickets.open_ticket(actor=staff, customer_id=a.customer_id, subject="ご契約の確認", body="確認事項です。")
    left = _ask(a, a.user)
    with write_session() as s:  # the 利用者 who asked has been removed since
        row = s.get(CustomerUser, a.user_id)
        row.is_active = False
        s.add(row)

    tickets.add_ticket_message(by_staff.id, actor=staff, body=PRIVATE)
    tickets.add_ticket_message(left.id, actor=staff, body=PRIVATE)

    assert {(n.channel, n.customer_user_id, n.link.rsplit("/", 1)[1]) for n in _notices(a.customer_id)} == {
        (channel, None, str(t.id)) for channel in ("in_app", "mail") for t in (by_staff, left)}
    assert [m["to"] for m in _mails(a.customer_id)] == ["info@a.example.jp"] * 2
    assert {n["link"] for n in my_notices.my_notifications(actor=a.admin)} == {
        n.link for n in _notices(a.customer_id)}


def test_a_reply_that_fails_tells_nobody_and_the_retry_tells_once(a, staff, monkeypatch):
    ticket = _ask(a, a.user)
    real_record = tickets.record

    def failing_record(*args, **kwargs):
        real_record(*args, **kwargs)
        raise RuntimeError("the transaction failed after the audit entry")

    monkeypatch.setattr(tickets, "record", failing_record)
    with pytest.raises(RuntimeError):
        tickets.add_ticket_message(ticket.id, actor=staff, body=PRIVATE)
    assert _notices(a.customer_id) == [] and _mails(a.customer_id) == []

    monkeypatch.setattr(tickets, "record", real_record)
    tickets.add_ticket_message(ticket.id, actor=staff, body=PRIVATE)
    assert sorted(n.channel for n in _notices(a.customer_id)) == ["in_app", "mail"]
    assert len(_mails(a.customer_id)) == 1


# ---- another company: not found, nothing written -------------------------------------------------------------------

CALLS = {
    "open about B's line": lambda a, b, bt, bf: _ask(a, line_id=b.line1),
    "open about B's bill": lambda a, b, bt, bf: _ask(a, invoice_id=b.invoice_id),
    "reply to B's ticket": lambda a, b, bt, bf: tickets.reply_to_my_ticket(bt, actor=a.admin, body="x",
                                                                           files=[Upload("a.png", PNG)]),
    "read B's ticket": lambda a, b, bt, bf: my_reads.my_ticket(bt, actor=a.admin),
    "download B's file": lambda a, b, bt, bf: my_reads.my_attachment(bf, actor=a.admin),
}
WORDS = {"open about B's line": "回線が見つかりません。", "open about B's bill": "請求書が見つかりません。",
         "reply to B's ticket": "問い合わせが見つかりません。", "read B's ticket": "問い合わせが見つかりません。",
         "download B's file": "添付ファイルが見つかりません。"}
MISSING_CALLS = {
    "open about B's line": lambda a: _ask(a, line_id=MISSING),
    "open about B's bill": lambda a: _ask(a, invoice_id=MISSING),
    "reply to B's ticket": lambda a: tickets.reply_to_my_ticket(MISSING, actor=a.admin, body="x"),
    "read B's ticket": lambda a: my_reads.my_ticket(MISSING, actor=a.admin),
    "download B's file": lambda a: my_reads.my_attachment(MISSING, actor=a.admin),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_every_id_of_another_company_is_not_found_like_an_unknown_id_and_nothing_is_written(name, engine, a, b):
    theirs = _ask(b, files=[Upload("b.pdf", PDF)])
    [their_file] = _attachments(theirs.id)
    before, files_before = ledger(engine), stored_files()

    with pytest.raises(NotFound) as refused:
        CALLS[name](a, b, theirs.id, their_file.id)
    with pytest.raises(NotFound) as unknown:
        MISSING_CALLS[name](a)

    assert refused.value.message == unknown.value.message == WORDS[name]
    assert ledger(engine) == before and stored_files() == files_before
    assert my_reads.my_tickets(actor=a.admin) == []


# ---- limits --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("files", "reason", "words"), [
    ([Upload("big.png", PNG + b"\x00" * (5 * 1024 * 1024 - len(PNG) + 1))], "too_large", "添付ファイルは1つ5MBまでです。"),
    ([Upload(f"{n}.png", PNG) for n in range(4)], "too_many", "添付ファイルは1回に3つまでです。"),
    ([Upload("empty.pdf", b"")], "empty", "空のファイルは添付できません。"),
    ([Upload("invoice.pdf", b"<html><script>alert(1)</script></html>\x00")], "wrong_type",
     "添付できるのはPDF・PNG・JPEG・HEIC（iPhoneの写真）・テキストファイルだけです。"),
    ([Upload("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00")], "wrong_type",
     "添付できるのはPDF・PNG・JPEG・HEIC（iPhoneの写真）・テキストファイルだけです。"),
    ([Upload("docs.zip", b"PK\x03\x04\x14\x00\x00\x00")], "wrong_type",
     "添付できるのはPDF・PNG・JPEG・HEIC（iPhoneの写真）・テキストファイルだけです。"),
    ([Upload("photo.avif", (28).to_bytes(4, "big") + b"ftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 8)],
     "wrong_type", "添付できるのはPDF・PNG・JPEG・HEIC（iPhoneの写真）・テキストファイルだけです。"),
    ([Upload("sjis.txt", "圏外".encode("shift_jis"))], "wrong_type",
     "添付できるのはPDF・PNG・JPEG・HEIC（iPhoneの写真）・テキストファイルだけです。"),
])
def test_files_over_the_limits_are_refused_in_words_and_nothing_is_written(engine, a, files, reason, words):
    ticket = _ask(a)
    before, files_before = ledger(engine), stored_files()

    with pytest.raises(ticket_files.AttachmentRefused) as refused:
        tickets.reply_to_my_ticket(ticket.id, actor=a.admin, body="画面です。", files=files)
    with pytest.raises(ticket_files.AttachmentRefused):
        _ask(a, files=files)

    assert (refused.value.reason, refused.value.message, refused.value.fields) == (reason, words, {"files": words})
    assert ledger(engine) == before and stored_files() == files_before


def test_the_type_comes_from_the_bytes_and_the_name_gets_a_matching_extension(a):
    ticket = _ask(a, files=[Upload("C:\\Users\\hanako\\請求書.pdf", PDF), Upload("photo.exe", PNG),
                            Upload("IMG_0001.HEIC", HEIC)])
    tickets.reply_to_my_ticket(ticket.id, actor=a.admin, body="追加です。",
                               files=[Upload("memo", TEXT), Upload("../../etc/passwd.jpg", JPEG),
                                      Upload("\x00\u202e.png", PNG)])

    assert [(f.file_name, f.content_type) for f in _attachments(ticket.id)] == [
        ("請求書.pdf", "application/pdf"), ("photo.exe.png", "image/png"), ("IMG_0001.HEIC", "image/heic"),
        ("memo.txt", "text/plain; charset=utf-8"), ("passwd.jpg", "image/jpeg"), ("添付ファイル.png", "image/png")]


# ---- storage -------------------------------------------------------------------------------------------------------


def test_a_file_is_stored_once_by_its_hash_readable_by_the_app_only_and_checked_when_read(a, b):
    _ask(a, files=[Upload("圏外の画面.png", PNG)])
    theirs = _ask(b, files=[Upload("same.png", PNG)])

    digest = hashlib.sha256(PNG).hexdigest()
    root = ticket_files.attachments_root()
    assert stored_files() == [root / digest[:2] / digest]  # the same content once, named by its hash only
    path = stored_files()[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700 and stat.S_IMODE(root.stat().st_mode) == 0o700
    assert path.read_bytes() == PNG and not any("圏外" in str(p) for p in root.rglob("*"))

    os.chmod(path, 0o600)
    path.write_bytes(PNG + b"altered")
    [file] = _attachments(theirs.id)
    with pytest.raises(Conflict):
        my_reads.my_attachment(file.id, actor=b.admin)


def test_a_file_written_for_a_transaction_that_fails_is_removed_again(a, monkeypatch):
    ticket = _ask(a)

    def failing_record(*args, **kwargs):
        raise RuntimeError("the audit entry could not be written")

    monkeypatch.setattr(tickets, "record", failing_record)
    with pytest.raises(RuntimeError):
        tickets.reply_to_my_ticket(ticket.id, actor=a.admin, body="画面です。", files=[Upload("x.jpg", JPEG)])

    assert stored_files() == [] and _attachments(ticket.id) == []


# ---- the HTTP routes -----------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_customer_passwords(monkeypatch):
    monkeypatch.setattr(customer_auth, "_password_hash",
                        PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),)))


@pytest.fixture()
def client(engine):
    with TestClient(HttpPolicy(build_api()), base_url="http://testserver", raise_server_exceptions=False,
                    follow_redirects=False) as c:
        yield c


ORIGIN = {"Origin": "http://testserver"}


def _customer_cookie(customer_id: int, email: str) -> dict[str, str]:
    customer_auth.provision_demo_customer_user(customer_id, email=email, name="佐藤 花子", role="customer_admin",
                                               password=PASSWORD, totp_secret=SECRET)
    step = customer_auth.begin_sign_in(email, PASSWORD)
    token = customer_auth.redeem_ticket(customer_auth.verify_mfa(step.challenge_token, pyotp.TOTP(SECRET).now()))
    return {routes.MY_SESSION_COOKIE: token}


def _post(client, url: str, cookies: dict, data: dict, files: list[tuple[str, bytes, str]], headers=None):
    client.cookies.clear()
    for name, value in cookies.items():
        client.cookies.set(name, value)
    return client.post(url, data=data, headers=ORIGIN if headers is None else headers,
                       files=[("files", f) for f in files])


def _get(client, url: str, cookies: dict):
    client.cookies.clear()
    for name, value in cookies.items():
        client.cookies.set(name, value)
    return client.get(url)


def test_the_routes_take_a_ticket_with_a_file_and_serve_the_same_bytes_to_the_owner_and_staff_only(client, a, b):
    mine = _customer_cookie(a.customer_id, "hanako@a.example.jp")
    other = _customer_cookie(b.customer_id, "taro@b.example.jp")
    staff = {routes.SESSION_COOKIE: signed_in_token("support")}

    created = _post(client, routes.API_MY_TICKETS, mine,
                    {"subject": "圏外になる", "topic": f"line:{a.line1}", "body": "昨日から圏外です。"},
                    [("screen.png", PNG, "application/pdf")])  # the claimed type is ignored
    assert created.status_code == 201, created.text
    ticket_id = created.json()["ticket_id"]
    assert created.json()["url"] == routes.my_ticket(ticket_id)
    [file] = _attachments(ticket_id)
    assert file.content_type == "image/png"

    for cookies, url in ((mine, routes.my_attachment(file.id)), (staff, routes.attachment(file.id))):
        got = _get(client, url, cookies)
        assert got.status_code == 200 and got.content == PNG
        assert got.headers["content-type"] == "image/png"
        assert got.headers["content-disposition"].startswith("attachment;")
        assert got.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in got.headers["content-security-policy"]
    assert _get(client, routes.my_attachment(file.id), other).status_code == 404
    assert _get(client, routes.my_attachment(MISSING), mine).status_code == 404
    assert _get(client, routes.my_attachment(file.id), {}).status_code == 401
    assert _get(client, routes.attachment(file.id), {}).status_code == 401
    assert _get(client, routes.my_attachment(file.id), staff).status_code == 401  # a staff cookie is no session here
    assert _get(client, routes.attachment(file.id), mine).status_code == 401

    reply = _post(client, routes.my_ticket_messages(ticket_id), mine, {"body": "追加の画面です。"},
                  [("more.jpg", JPEG, "image/jpeg")])
    assert reply.status_code == 201 and reply.json()["ticket_id"] == ticket_id
    note = _post(client, routes.ticket_messages(ticket_id), staff, {"body": "社内: 障害の可能性", "internal": "on"},
                 [("log.txt", TEXT, "text/plain")])
    assert note.status_code == 201
    note_file = _attachments(ticket_id)[-1]
    assert _get(client, routes.my_attachment(note_file.id), mine).status_code == 404
    assert _get(client, routes.attachment(note_file.id), staff).content == TEXT
    assert [m["body"] for m in my_reads.my_ticket(ticket_id, actor=customer_actor(_user_id("hanako@a.example.jp")))[
        "messages"]] == ["昨日から圏外です。", "追加の画面です。"]


def _user_id(email: str) -> int:
    from services.models import CustomerUser
    with read_session() as s:
        return s.exec(select(CustomerUser.id).where(CustomerUser.email == email)).one()


def test_the_routes_refuse_everything_bad_with_a_short_japanese_message_and_write_nothing(client, engine, a, b):
    mine = _customer_cookie(a.customer_id, "hanako@a.example.jp")
    theirs = _ask(b)
    ticket = _ask(a)
    url = routes.my_ticket_messages(ticket.id)
    before, files_before = ledger(engine), stored_files()

    def refused(response, status: int, message: str) -> None:
        assert response.status_code == status, response.text
        assert response.json()["message"] == message

    refused(_post(client, url, {}, {"body": "x"}, []), 401, "ログインしてください。")
    refused(_post(client, url, mine, {"body": "x"}, [], headers={}), 403,
            "この画面からは送信できません。ページを開き直してください。")
    refused(_post(client, url, mine, {"body": "x"}, [], headers={"Origin": "https://evil.example"}), 403,
            "この画面からは送信できません。ページを開き直してください。")
    refused(_post(client, routes.my_ticket_messages(theirs.id), mine, {"body": "x"}, [("a.png", PNG, "image/png")]),
            404, "問い合わせが見つかりません。")
    refused(_post(client, url, mine, {"body": "x"}, [("big.png", PNG + b"\x00" * (5 * 1024 * 1024), "image/png")]),
            413, "添付ファイルは1つ5MBまでです。")
    refused(_post(client, url, mine, {"body": "x"}, [(f"{n}.png", PNG, "image/png") for n in range(4)]),
            400, "添付ファイルは1回に3つまでです。")
    refused(_post(client, url, mine, {"body": "x"}, [("invoice.pdf", b"<svg onload=alert(1)>\x00", "application/pdf")]),
            415, "添付できるのはPDF・PNG・JPEG・HEIC（iPhoneの写真）・テキストファイルだけです。")
    refused(_post(client, url, mine, {"body": "  "}, []), 400, "入力内容を確認してください。")
    refused(_post(client, routes.API_MY_TICKETS, mine, {"subject": "x", "topic": f"line:{b.line1}", "body": "x"}, []),
            404, "回線が見つかりません。")
    refused(_post(client, routes.API_MY_TICKETS, mine, {"subject": "x", "topic": "", "body": "x"}, []),
            400, "入力内容を確認してください。")
    too_big = client.post(url, content=b"x", headers={**ORIGIN, "Content-Length": str(16 * 1024 * 1024),
                                                      "Content-Type": "multipart/form-data; boundary=x"})
    refused(too_big, 413, "添付ファイルが大きすぎます。1つ5MBまで、1回に3つまでです。")
    assert ledger(engine) == before and stored_files() == files_before


def test_only_the_upload_routes_take_large_bodies(client):
    big = {"Content-Length": str(1024 * 1024), "Content-Type": "application/json"}
    assert client.post("/api/webhooks/carrier", content=b"x", headers=big).status_code == 413
    assert client.get(routes.my_attachment(1), headers=big).status_code == 413


# ---- the pages' states -----------------------------------------------------------------------------------------------


def _page_state(cls, cookies: dict[str, str], **params):
    import reflex as rx
    from reflex.istate.data import RouterData
    from reflex_base import constants

    import telecom_app.telecom_app  # noqa: F401  (registers pages and states)

    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
        constants.RouteVar.CLIENT_IP: "127.0.0.1", constants.RouteVar.PATH: "/my/tickets/[ticket_id]",
        constants.RouteVar.ORIGIN: "/my/tickets", constants.RouteVar.QUERY: {k: str(v) for k, v in params.items()},
    })
    return root.get_substate(cls.get_full_name().split("."))


def test_the_ticket_page_shows_refusals_in_words_and_a_forged_answer_loads_nothing_else(a, b, staff):
    from state.my.tickets import MyTicketsState, MyTicketState

    cookies = _customer_cookie(a.customer_id, "hanako@a.example.jp")
    theirs = _ask(b)
    mine = _ask(a)
    tickets.add_ticket_message(mine.id, actor=staff, body="社内: 確認中", internal=True)
    page = _page_state(MyTicketState, cookies, ticket_id=mine.id)
    MyTicketState.load.fn(page)
    assert [m["body"] for m in page.messages] == ["昨日から圏外です。"]

    MyTicketState.after_send.fn(page, {"status": 413, "error": "too_large", "message": "添付ファイルは1つ5MBまでです。",
                                       "errors": {"files": "添付ファイルは1つ5MBまでです。"}})
    assert page.error == "添付ファイルは1つ5MBまでです。" and page.field_errors == {"files": "添付ファイルは1つ5MBまでです。"}
    MyTicketState.after_send.fn(page, {"status": 0})
    assert page.error.startswith("送信できませんでした。")
    MyTicketState.after_send.fn(page, {"status": 201, "ok": True, "ticket_id": theirs.id})  # forged
    assert page.ticket["id"] == mine.id and "圏外になる" in page.ticket["subject"] and page.notice == ""

    listing = _page_state(MyTicketsState, cookies)
    MyTicketsState.load.fn(listing)
    assert [t["id"] for t in listing.tickets] == [mine.id]
    assert "redirect" in str(MyTicketsState.after_send.fn(listing, {"status": 201, "ok": True, "ticket_id": mine.id}))


def test_staff_tick_internal_note_on_the_reply_form(a, engine):
    from state.admin.tickets import TicketState

    ticket = _ask(a)
    page = _page_state(TicketState, {routes.SESSION_COOKIE: signed_in_token("support")}, ticket_id=ticket.id)
    TicketState.load.fn(page)
    TicketState.reply.fn(page, {"body": "社内: 基地局を確認", "internal": "on"})

    assert page.notice == "社内メモを追加しました（お客様には表示されません）。"
    assert page.data["messages"][-1]["internal"] is True
    assert "社内: 基地局を確認" not in str(my_reads.my_ticket(ticket.id, actor=a.admin))
