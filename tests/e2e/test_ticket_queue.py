"""The ticket queue (問い合わせ一覧) in the browser: support filters to 未割当, takes a ticket, finds it under 自分,
opens it and replies to the customer; the queue and the ticket page fit a phone without sideways scroll."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlmodel import select

from demo.staff import DEMO_STAFF
from services.ledger.tickets import open_ticket
from services.models import Customer, StaffUser, Ticket, TicketMessage
from services.platform.db import use_engine
from services.platform.permissions import Actor, Role
from tests.e2e.conftest import ledger_engine, query

pytestmark = pytest.mark.e2e


def _staff_id(app_server, role: str) -> int:
    email = DEMO_STAFF[role][0]
    return query(app_server, lambda s: s.exec(select(StaffUser.id).where(StaffUser.email == email)).one())


@pytest.fixture(scope="module")
def new_ticket(app_server) -> dict:
    """An unassigned ticket a customer of the seeded ledger has just opened (through the ticket service)."""
    customer = query(app_server, lambda s: s.exec(select(Customer).order_by(Customer.id)).first())
    admin = Actor(kind="staff", id=_staff_id(app_server, "admin"), role=Role.ADMIN, label=DEMO_STAFF["admin"][0],
                  request_id=uuid.uuid4().hex)
    engine = ledger_engine(app_server)
    use_engine(engine)
    try:
        subject = f"SIMが認識されない（{uuid.uuid4().hex[:6]}）"
        ticket = open_ticket(actor=admin, customer_id=customer.id, subject=subject, priority="high",
                             body="端末にSIMを挿しても圏外のままです。")
    finally:
        use_engine(None)
        engine.dispose()
    return {"id": ticket.id, "subject": subject, "customer_code": f"K-{customer.id:06d}"}


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_support_takes_an_unassigned_ticket_from_the_queue_and_replies(app_server, staff_page, new_ticket):
    base, ticket_id = app_server["base"], new_ticket["id"]
    page = staff_page("support", "desktop")
    page.goto(f"{base}/admin/tickets")
    page.wait_for_selector("#ticket-queue, #no-tickets", timeout=20000)

    # 未割当, this customer only
    page.select_option("#assignee", "none")
    page.fill("#q", new_ticket["customer_code"])
    page.click("#ticket-filter")
    card = page.locator(f"[data-ticket='{ticket_id}']")
    card.wait_for(timeout=20000)
    assert new_ticket["subject"] in card.inner_text() and "未割当" in card.inner_text()

    page.click(f"[data-assign-me='{ticket_id}']")
    page.wait_for_selector("text=担当者になりました", timeout=20000)
    support_id = _staff_id(app_server, "support")
    assert query(app_server, lambda s: s.get(Ticket, ticket_id).assignee_id) == support_id
    card.wait_for(state="detached", timeout=20000)  # no longer unassigned

    # it is now under 自分; its subject opens the ticket
    page.select_option("#assignee", "me")
    page.click("#ticket-filter")
    page.click(f"[data-ticket-link='{ticket_id}']", timeout=20000)
    page.wait_for_url(re.compile(rf".*/admin/tickets/{ticket_id}$"), timeout=20000)
    page.wait_for_selector("#ticket-status", timeout=20000)
    assert DEMO_STAFF["support"][1] in page.inner_text("body")  # 担当者: サポート 一郎

    reply = "ご不便をおかけしております。端末を再起動してから、もう一度お試しください。"
    page.fill("#reply-body", reply)
    page.click("#reply-submit")
    page.locator("#conversation").get_by_text(reply).wait_for(timeout=20000)
    assert page.input_value("#reply-body") == ""  # the box is emptied for the next reply
    messages = query(app_server, lambda s: s.exec(
        select(TicketMessage).where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)).all())
    assert [(m.body, m.author_kind, m.author_id) for m in messages][-1] == (reply, "staff", support_id)


def test_the_queue_and_a_ticket_fit_a_phone(app_server, staff_page, new_ticket):
    base, ticket_id = app_server["base"], new_ticket["id"]
    page = staff_page("support", "phone")
    try:
        page.goto(f"{base}/admin/tickets?status=all")
        page.wait_for_selector("[data-ticket]", timeout=20000)
        page.wait_for_selector("#ticket-filter:not([disabled])", timeout=20000)
        _no_sideways_scroll(page)
        for control in ("status", "priority", "assignee", "q"):  # every filter has its label, tied to it
            page.click(f"label[for='{control}']")
            assert page.evaluate("document.activeElement.id") == control
        page.screenshot(path="/tmp/tsm-e2e-ticket-queue-phone.png", full_page=True)

        page.goto(f"{base}/admin/tickets/{ticket_id}")
        page.wait_for_selector("#reply-body", timeout=20000)
        page.locator("#conversation").get_by_text("端末にSIMを挿しても圏外のままです。").wait_for(timeout=20000)
        _no_sideways_scroll(page)
        for control in ("reply-body", "assignee_id"):
            page.click(f"label[for='{control}']")
            assert page.evaluate("document.activeElement.id") == control
        page.screenshot(path="/tmp/tsm-e2e-ticket-phone.png", full_page=True)
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})
