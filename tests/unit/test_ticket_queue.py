"""The staff ticket queue (問い合わせ一覧): filters, priority-then-waiting order, paging, who may read it and take
a ticket; the ticket screen's data; and the queue and ticket screens' handlers (taking, replying, assigning)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from sqlmodel import select

from services.ledger.tickets import add_ticket_message, assign_ticket, change_ticket_status, open_ticket
from services.models import AuditEntry, StaffUser, Ticket, TicketMessage
from services.platform.db import read_session, write_session
from services.platform.errors import PermissionDenied, ValidationFailed
from services.platform.permissions import Actor, Role
from services.read.staff.tickets import assignee_choices, ticket_queue, ticket_screen
from state.admin.tickets import TicketQueueState, TicketState
from state.feedback import NOT_OFFERED
from tests.conftest import make_actor
from tests.unit.screens import signed_in_token, state_for

# How each state is reached from 未対応 (the lifecycle table decides).
_PATH = {"open": [], "in_progress": ["start"], "waiting_customer": ["start", "wait_for_customer"],
         "resolved": ["resolve"], "closed": ["resolve", "close"]}


def _at(day: int, hour: int) -> datetime:
    return datetime(2026, 4, day, hour, 0, tzinfo=UTC)


def _ticket(world, customer_id: int, subject: str, *, priority: str = "normal", status: str = "open",
            updated: datetime | None = None, assignee_id: int | None = None) -> int:
    """A ticket opened, moved and assigned through the services; its last change then set to `updated`."""
    ticket = open_ticket(actor=world.admin, customer_id=customer_id, subject=subject, body="本文", priority=priority)
    if assignee_id is not None:
        assign_ticket(ticket.id, actor=world.admin, assignee_id=assignee_id)
    for event in _PATH[status]:
        change_ticket_status(ticket.id, actor=world.admin, event=event)
    if updated is not None:
        with write_session() as session:
            row = session.get(Ticket, ticket.id)
            row.updated_at = updated
            session.add(row)
    return ticket.id


def _name(staff_id: int) -> str:
    with read_session() as session:
        return session.get(StaffUser, staff_id).display_name


def _subjects(rows) -> list[str]:
    return [r["subject"] for r in rows]


@pytest.fixture()
def yamada(world) -> int:
    return world.customer("山田 太郎", "ヤマダ タロウ")


@pytest.fixture()
def sato(world) -> int:
    return world.customer("佐藤 花子", "サトウ ハナコ")


def test_high_priority_comes_first_then_the_ticket_waiting_longest(world, yamada, support):
    _ticket(world, yamada, "通常・4/3", priority="normal", updated=_at(3, 0))
    _ticket(world, yamada, "低・4/1", priority="low", updated=_at(1, 0))
    _ticket(world, yamada, "高・4/5", priority="high", updated=_at(5, 0))
    _ticket(world, yamada, "通常・4/2", priority="normal", updated=_at(2, 0))
    _ticket(world, yamada, "高・4/4", priority="high", updated=_at(4, 0))

    rows, total = ticket_queue(actor=support)

    # by hand: 高 (4/4 before 4/5), then 通常 (4/2 before 4/3), then 低 — whatever the order they were opened in
    assert _subjects(rows) == ["高・4/4", "高・4/5", "通常・4/2", "通常・4/3", "低・4/1"]
    assert total == 5
    assert [r["priority_label"] for r in rows] == ["高", "高", "通常", "通常", "低"]
    assert rows[0]["updated_at"] == "2026/04/04 09:00"  # 00:00 UTC shown in Tokyo


def test_the_default_queue_holds_only_tickets_still_open(world, yamada, support):
    for status in ("open", "in_progress", "waiting_customer", "resolved", "closed"):
        _ticket(world, yamada, status, status=status)

    default, default_total = ticket_queue(actor=support)
    everything, everything_total = ticket_queue(actor=support, open_only=False)
    resolved, resolved_total = ticket_queue(actor=support, status="resolved")

    assert sorted(_subjects(default)) == ["in_progress", "open", "waiting_customer"] and default_total == 3
    assert everything_total == 5 and len(everything) == 5
    assert _subjects(resolved) == ["resolved"] and resolved_total == 1  # a chosen state wins over open_only
    assert {r["status_label"] for r in default} == {"未対応", "対応中", "お客様回答待ち"}


def test_priority_filter(world, yamada, support):
    _ticket(world, yamada, "高い", priority="high")
    _ticket(world, yamada, "普通", priority="normal")
    _ticket(world, yamada, "低い", priority="low")

    assert _subjects(ticket_queue(actor=support, priority="high")[0]) == ["高い"]
    assert _subjects(ticket_queue(actor=support, priority="low")[0]) == ["低い"]


def test_assignee_filter_unassigned_mine_and_one_person(world, yamada):
    me = world.actor("support")
    colleague = world.staff(role="sales")
    _ticket(world, yamada, "未割当", updated=_at(1, 0))
    _ticket(world, yamada, "自分", assignee_id=me.id, updated=_at(2, 0))
    _ticket(world, yamada, "同僚", assignee_id=colleague, updated=_at(3, 0))

    assert _subjects(ticket_queue(actor=me, assignee="none")[0]) == ["未割当"]
    assert _subjects(ticket_queue(actor=me, assignee="me")[0]) == ["自分"]
    assert _subjects(ticket_queue(actor=me, assignee=str(colleague))[0]) == ["同僚"]
    assert _subjects(ticket_queue(actor=me, assignee=colleague)[0]) == ["同僚"]
    assert _subjects(ticket_queue(actor=me)[0]) == ["未割当", "自分", "同僚"]
    rows = ticket_queue(actor=me)[0]
    assert [r["assignee_name"] for r in rows] == ["", _name(me.id), _name(colleague)]


def test_customer_text_finds_by_name_kana_number_ticket_number_and_phone(world, yamada, sato):
    line = world.line(world.contract(sato))  # 090-1000-NNNN, on 佐藤's contract
    y = _ticket(world, yamada, "山田さんの件")
    s = _ticket(world, sato, "佐藤さんの件")
    support = make_actor(Role.SUPPORT)

    def found(text: str) -> list[str]:
        return _subjects(ticket_queue(actor=support, customer=text)[0])

    assert found("山田") == ["山田さんの件"]
    assert found("山田太郎") == ["山田さんの件"]         # the space in the stored name is ignored
    assert found("やまだ") == ["山田さんの件"]           # hiragana finds the katakana kana
    assert found("ｻﾄｳ") == ["佐藤さんの件"]              # half-width kana too
    assert found(f"K-{sato:06d}") == ["佐藤さんの件"]
    assert found(f"k{yamada}") == ["山田さんの件"]
    assert found(str(sato)) == ["佐藤さんの件"]
    assert found(f"T-{y:06d}") == ["山田さんの件"]
    assert found(line.msisdn) == ["佐藤さんの件"]      # E.164 as stored
    assert found(f"090-1000-{line.msisdn[-4:]}") == ["佐藤さんの件"]
    assert found("鈴木") == [] and found("100%") == [] and found("_") == []
    assert s != y


def test_pages_follow_one_another_without_gaps_or_repeats(world, yamada, support):
    for n in range(7):  # 7 tickets, the first opened the oldest
        _ticket(world, yamada, f"#{n}", updated=_at(1, n))

    pages = [ticket_queue(actor=support, offset=offset, limit=3) for offset in (0, 3, 6)]

    assert [len(rows) for rows, _ in pages] == [3, 3, 1]
    assert {total for _, total in pages} == {7}
    assert [s for rows, _ in pages for s in _subjects(rows)] == [f"#{n}" for n in range(7)]
    assert ticket_queue(actor=support, offset=9, limit=3) == ([], 7)


def test_an_auditor_may_read_the_queue_but_not_take_a_ticket(world, yamada):
    _ticket(world, yamada, "問い合わせ")
    auditor = world.actor("auditor")

    rows, total = ticket_queue(actor=auditor)

    assert total == 1 and rows[0]["can_assign_me"] is False


def test_without_ticket_view_the_queue_is_refused(world, yamada, nobody):
    _ticket(world, yamada, "問い合わせ")
    customer = Actor(kind="customer", id=1, role=Role.CUSTOMER_ADMIN, label="お客様", customer_id=yamada)

    for outsider in (nobody, customer):
        with pytest.raises(PermissionDenied):
            ticket_queue(actor=outsider)
        with pytest.raises(PermissionDenied):
            assignee_choices(actor=outsider)


def test_who_may_take_a_ticket_from_the_queue(world, yamada):
    support, accounting = world.actor("support"), world.actor("accounting")
    _ticket(world, yamada, "未割当", updated=_at(1, 0))
    _ticket(world, yamada, "担当済", assignee_id=support.id, updated=_at(2, 0))
    _ticket(world, yamada, "クローズ", status="closed", updated=_at(3, 0))

    mine = {r["subject"]: r["can_assign_me"] for r in ticket_queue(actor=support, open_only=False)[0]}
    theirs = {r["subject"]: r["can_assign_me"] for r in ticket_queue(actor=accounting, open_only=False)[0]}

    assert mine == {"未割当": True, "担当済": False, "クローズ": False}
    assert theirs == {"未割当": False, "担当済": False, "クローズ": False}  # accounting reads, does not work tickets


def test_filters_that_make_no_sense_are_named(world, support):
    with pytest.raises(ValidationFailed) as excinfo:
        ticket_queue(actor=support, status="lost", priority="urgent", assignee="someone", customer="x" * 101)

    assert set(excinfo.value.fields) == {"status", "priority", "assignee", "customer"}
    system_like = make_actor(Role.SUPPORT)  # a staff actor without a person behind it has no "自分"
    with pytest.raises(ValidationFailed):
        ticket_queue(actor=system_like, assignee="me")


def test_only_active_staff_are_offered_as_assignees(world, support):
    active, disabled = world.staff(role="sales"), world.staff(active=False)

    ids = {s["id"] for s in assignee_choices(actor=support)}

    assert active in ids and disabled not in ids


def test_the_ticket_screen_names_assignee_and_authors_and_says_who_may_work_on_it(world, yamada):
    support, auditor = world.actor("support"), world.actor("auditor")
    ticket_id = _ticket(world, yamada, "通信できない", priority="high", assignee_id=support.id)
    add_ticket_message(ticket_id, actor=support, body="確認します。")

    for_support = ticket_screen(ticket_id, actor=support)
    for_auditor = ticket_screen(ticket_id, actor=auditor)

    t = for_support["ticket"]
    assert (t["code"], t["priority_label"], t["assignee_id"], t["assignee_name"]) == (
        f"T-{ticket_id:06d}", "高", support.id, _name(support.id))
    # the first message was written by the admin fixture, who has no staff row: only "担当者"
    assert [m["author"] for m in for_support["messages"]] == ["担当者", f"担当者（{_name(support.id)}）"]
    assert for_support["can_update"] is True and for_support["can_assign_me"] is False  # already theirs
    assert support.id in {a["id"] for a in for_support["assignees"]}
    assert for_auditor["can_update"] is False and for_auditor["assignees"] == []


# --------------------------------------------------------------------------- the screens' handlers


def _support_id() -> int:
    from demo.staff import DEMO_STAFF
    with read_session() as session:
        return session.exec(select(StaffUser.id).where(StaffUser.email == DEMO_STAFF["support"][0])).one()


def test_support_filters_to_unassigned_and_takes_a_ticket_from_the_queue(world, yamada):
    token = signed_in_token("support")
    taken = _ticket(world, yamada, "未割当の件", updated=_at(1, 0))
    _ticket(world, yamada, "担当済の件", assignee_id=world.staff(), updated=_at(2, 0))
    queue = state_for(TicketQueueState, token, "/admin/tickets")
    TicketQueueState.load.fn(queue)
    assert _subjects(queue.rows) == ["未割当の件", "担当済の件"]

    TicketQueueState.apply_filters.fn(queue, {"status": "", "priority": "", "assignee": "none", "q": ""})
    assert _subjects(queue.rows) == ["未割当の件"] and queue.total == 1
    TicketQueueState.assign_to_me.fn(queue, taken)

    with read_session() as session:
        assert session.get(Ticket, taken).assignee_id == _support_id()
    assert queue.error == "" and "担当者になりました" in queue.notice
    assert queue.rows == [] and queue.total == 0  # it is no longer unassigned


def test_taking_a_ticket_that_is_not_on_the_page_is_refused(world, yamada):
    token = signed_in_token("support")
    elsewhere = _ticket(world, yamada, "別の件")
    queue = state_for(TicketQueueState, token, "/admin/tickets")
    TicketQueueState.load.fn(queue)
    TicketQueueState.apply_filters.fn(queue, {"status": "resolved", "priority": "", "assignee": "", "q": ""})

    TicketQueueState.assign_to_me.fn(queue, elsewhere)

    assert queue.error == NOT_OFFERED
    with read_session() as session:
        assert session.get(Ticket, elsewhere).assignee_id is None


def test_a_refused_filter_is_shown_next_to_its_field_and_keeps_the_list(world, yamada):
    queue = state_for(TicketQueueState, signed_in_token("support"), "/admin/tickets")
    _ticket(world, yamada, "問い合わせ")
    TicketQueueState.load.fn(queue)

    TicketQueueState.apply_filters.fn(queue, {"status": "", "priority": "urgent", "assignee": "", "q": ""})

    assert "priority" in queue.field_errors and queue.filters["priority"] == "" and queue.total == 1


def test_the_queue_opens_with_the_filters_in_its_address(world, yamada, sato):
    _ticket(world, yamada, "山田さん", priority="high")
    _ticket(world, sato, "佐藤さん", priority="high")
    queue = state_for(TicketQueueState, signed_in_token("auditor"),
                      "/admin/tickets?" + urlencode({"priority": "high", "q": "佐藤"}))

    TicketQueueState.load.fn(queue)

    assert _subjects(queue.rows) == ["佐藤さん"] and queue.can_update is False


def _ticket_page(token: str, ticket_id: int):
    page = state_for(TicketState, token, "/admin/tickets/[ticket_id]", {"ticket_id": str(ticket_id)})
    TicketState.load.fn(page)
    return page


def test_support_replies_assigns_and_resolves_on_the_ticket_page(world, yamada):
    token = signed_in_token("support")
    colleague = world.staff(role="sales")
    ticket_id = _ticket(world, yamada, "通信できない")
    page = _ticket_page(token, ticket_id)
    assert page.can_update and page.can_assign_me
    assert {a["event"] for a in page.actions} == {"start", "resolve"}

    TicketState.reply.fn(page, {"body": "再起動をお試しください。"})
    TicketState.assign.fn(page, {"assignee_id": str(colleague)})
    TicketState.ask.fn(page, "resolve")
    TicketState.confirm.fn(page, {"reason": "再起動で解決"})

    assert page.error == ""
    with read_session() as session:
        ticket = session.get(Ticket, ticket_id)
        bodies = session.exec(select(TicketMessage.body).where(TicketMessage.ticket_id == ticket_id)
                              .order_by(TicketMessage.id)).all()
        actions = session.exec(select(AuditEntry.action).where(AuditEntry.entity_type == "ticket",
                                                               AuditEntry.entity_id == ticket_id)).all()
    assert (ticket.assignee_id, ticket.status) == (colleague, "resolved")
    assert bodies == ["本文", "再起動をお試しください。"]
    assert {"ticket.message", "ticket.assign"} <= set(actions)
    assert page.data["ticket"]["assignee_name"] == _name(colleague)
    assert page.data["messages"][-1]["body"] == "再起動をお試しください。"


def test_an_empty_reply_is_named_next_to_the_box(world, yamada):
    page = _ticket_page(signed_in_token("support"), _ticket(world, yamada, "通信できない"))

    TicketState.reply.fn(page, {"body": "   "})

    assert page.field_errors == {"body": "内容を入力してください。"}


def test_an_auditor_is_offered_nothing_on_the_ticket_page_and_a_forged_reply_is_refused(world, yamada):
    ticket_id = _ticket(world, yamada, "通信できない")
    page = _ticket_page(signed_in_token("auditor"), ticket_id)
    assert (page.can_update, page.can_assign_me, page.actions, page.assignees) == (False, False, [], [])

    TicketState.reply.fn(page, {"body": "偽の返信"})
    TicketState.assign.fn(page, {"assignee_id": ""})

    assert page.error == NOT_OFFERED
    with read_session() as session:
        assert len(session.exec(select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)).all()) == 1


def test_assigning_someone_the_page_did_not_offer_is_refused(world, yamada):
    disabled = world.staff(active=False)
    ticket_id = _ticket(world, yamada, "通信できない")
    page = _ticket_page(signed_in_token("support"), ticket_id)

    TicketState.assign.fn(page, {"assignee_id": str(disabled)})

    assert page.error == NOT_OFFERED
    with read_session() as session:
        assert session.get(Ticket, ticket_id).assignee_id is None
