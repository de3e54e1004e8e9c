"""Tickets with attachments on a phone (390×844): the demo 法人管理者 opens a ticket about one of the company's lines
with a PNG attached; support finds it in /admin/tickets, sees and downloads the file, replies and adds an internal
note (社内メモ); the customer sees the reply but never the note. Another company's customer gets 404 for the file."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlmodel import select

from services.models import Ticket, TicketAttachment, TicketMessage
from tests.e2e.conftest import open_context, query, sign_in_customer

pytestmark = pytest.mark.e2e
PHONE = 390
PNG = bytes.fromhex(  # a real 1×1 PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE


def test_a_customer_opens_a_ticket_with_a_png_and_sees_the_staff_reply_but_not_the_internal_note(
        app_server, browser, staff_page):
    base = app_server["base"]
    subject = f"圏外になります（{uuid.uuid4().hex[:6]}）"
    reply = "基地局の点検が終わりました。端末を再起動してお試しください。"
    note = f"社内メモ: 基地局ログを確認済み {uuid.uuid4().hex[:6]}"
    context = open_context(browser, "phone", locale="ja-JP")
    try:
        phone = context.new_page()
        phone.goto(f"{base}/my/login")
        sign_in_customer(phone, app_server, "admin")
        phone.wait_for_url(re.compile(r".*/my/?$"), timeout=20000)

        # the fifth tab fits the phone with a large tap target
        phone.click("#tab-tickets", timeout=20000)
        phone.wait_for_url(re.compile(r".*/my/tickets/?$"), timeout=20000)
        phone.get_by_label("件名").fill(subject, timeout=20000)  # labels are tied to their controls
        for tab in ("#tab-home", "#tab-bills", "#tab-notices", "#tab-tickets", "#tab-settings"):
            phone.locator(tab).wait_for(state="visible", timeout=20000)
            box = phone.locator(tab).bounding_box()
            assert box["height"] >= 44 and box["width"] >= 48, (tab, box)
        _no_sideways_scroll(phone)

        topic = phone.locator("#ticket-topic option[value^='line:']").last.get_attribute("value", timeout=20000)
        phone.get_by_label("お問い合わせの対象").select_option(topic)
        phone.get_by_label("お問い合わせ内容").fill("昨日から圏外になります。画面を添付します。")
        phone.set_input_files("#ticket-files", files=[{"name": "圏外の画面.png", "mimeType": "image/png",
                                                       "buffer": PNG}])
        assert phone.locator("#ticket-send").bounding_box()["height"] >= 44
        phone.click("#ticket-send")
        phone.wait_for_url(re.compile(r".*/my/tickets/\d+/?$"), timeout=20000)
        ticket_id = int(re.search(r"/my/tickets/(\d+)", phone.url).group(1))
        phone.wait_for_selector("[data-attachment]", timeout=20000)
        assert "圏外の画面.png" in phone.inner_text("#conversation")
        _no_sideways_scroll(phone)

        ticket = query(app_server, lambda s: s.get(Ticket, ticket_id))
        assert (ticket.subject, ticket.line_id is not None, ticket.status) == (subject, True, "open")
        [file] = query(app_server, lambda s: s.exec(select(TicketAttachment).where(
            TicketAttachment.ticket_id == ticket_id)).all())
        assert (file.content_type, file.size_bytes) == ("image/png", len(PNG))
        href = phone.locator("[data-attachment]").first.get_attribute("href")
        got = phone.request.get(base + href)
        assert got.status == 200 and got.body() == PNG
        assert got.headers["content-disposition"].startswith("attachment")
        assert got.headers["x-content-type-options"] == "nosniff"

        # support: the queue finds it by its number; the file downloads; a reply and an internal note
        staff = staff_page("support", "desktop")
        staff.goto(f"{base}/admin/tickets")
        staff.fill("#q", f"T-{ticket_id:06d}", timeout=20000)
        staff.click("#ticket-filter")
        staff.click(f"[data-ticket-link='{ticket_id}']", timeout=20000)
        staff.wait_for_url(re.compile(rf".*/admin/tickets/{ticket_id}$"), timeout=20000)
        staff.wait_for_selector(f"[data-attachment='{file.id}']", timeout=20000)
        staff_href = staff.locator(f"[data-attachment='{file.id}']").get_attribute("href")
        assert staff.request.get(base + staff_href).body() == PNG

        staff.fill("#reply-body", reply)
        staff.click("#reply-submit")
        staff.locator("#conversation").get_by_text(reply).wait_for(timeout=20000)
        staff.fill("#reply-body", note)
        staff.check("#reply-internal")
        staff.click("#reply-submit")
        staff.locator("[data-internal='true']").get_by_text(note).wait_for(timeout=20000)
        assert "社内メモ" in staff.locator("[data-internal='true']").inner_text()
        messages = query(app_server, lambda s: s.exec(select(TicketMessage).where(
            TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)).all())
        assert [(m.body, m.internal) for m in messages][-2:] == [(reply, False), (note, True)]

        # the customer sees the reply, never the note
        phone.reload()
        phone.locator("#conversation").get_by_text(reply).wait_for(timeout=20000)
        assert note not in phone.inner_text("body") and "基地局ログ" not in phone.content()
        _no_sideways_scroll(phone)

        # another customer's session (the company's 利用者 without this line) gets 404 for the file
        other = open_context(browser, "phone", locale="ja-JP")
        try:
            user_page = other.new_page()
            user_page.goto(f"{base}/my/login")
            sign_in_customer(user_page, app_server, "user")
            user_page.wait_for_url(re.compile(r".*/my/?$"), timeout=20000)
            sees_line = query(app_server, lambda s: _user_sees_line(s, ticket.line_id))
            if not sees_line:
                assert user_page.request.get(base + href).status == 404
            anonymous = browser.new_context()
            try:
                assert anonymous.request.get(base + href).status == 401
            finally:
                anonymous.close()
        finally:
            other.close()
    finally:
        context.close()


def _user_sees_line(s, line_id: int) -> bool:
    from demo.customers import DEMO_CUSTOMERS
    from services.models import CustomerUser, CustomerUserLine

    user = s.exec(select(CustomerUser).where(CustomerUser.email == DEMO_CUSTOMERS["user"][0])).one()
    return s.exec(select(CustomerUserLine).where(CustomerUserLine.customer_user_id == user.id,
                                                 CustomerUserLine.line_id == line_id)).first() is not None
