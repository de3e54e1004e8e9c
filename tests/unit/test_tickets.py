"""Support tickets: references, conversation, lifecycle, assignment, permissions, atomicity."""

from __future__ import annotations

import pytest
from sqlmodel import select

import services.ledger.tickets as tickets_module
from services.ledger.tickets import (
    add_ticket_message,
    assign_ticket,
    change_ticket_status,
    open_ticket,
)
from services.models import AuditEntry, Ticket, TicketMessage
from services.platform.audit import record as real_record
from services.platform.db import read_session
from services.platform.errors import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)


def _all(model, *where):
    with read_session() as session:
        return list(session.exec(select(model).where(*where)).all())


def _audit(action: str | None = None) -> list[AuditEntry]:
    return _all(AuditEntry, *([AuditEntry.action == action] if action else []))


def test_open_ticket_writes_ticket_first_message_and_one_audit_entry(world, support):
    customer_id = world.customer()
    ticket = open_ticket(actor=support, customer_id=customer_id, subject="  通信できない ",
                         body="昨日から通信できません。", priority="high")

    assert (ticket.status, ticket.priority, ticket.subject) == ("open", "high", "通信できない")
    [message] = _all(TicketMessage, TicketMessage.ticket_id == ticket.id)
    assert (message.body, message.author_kind) == ("昨日から通信できません。", "staff")
    [entry] = _audit("ticket.create")
    assert (entry.entity_id, entry.customer_id, entry.actor_label) == (ticket.id, customer_id, support.label)


def test_ticket_contract_must_belong_to_customer(world, support):
    mine, other = world.customer(), world.customer("佐藤 次郎", "サトウ ジロウ")
    others_contract = world.contract(other)

    with pytest.raises(ValidationFailed) as excinfo:
        open_ticket(actor=support, customer_id=mine, subject="件名", body="本文", contract_id=others_contract.id)

    assert excinfo.value.fields == {"contract_id": "この契約は指定の顧客の契約ではありません。"}
    assert _all(Ticket) == [] and _all(TicketMessage) == []


def test_ticket_line_must_belong_to_customer(world, support):
    mine, other = world.customer(), world.customer("佐藤 次郎", "サトウ ジロウ")
    others_line = world.line(world.contract(other))

    with pytest.raises(ValidationFailed) as excinfo:
        open_ticket(actor=support, customer_id=mine, subject="件名", body="本文", line_id=others_line.id)

    assert excinfo.value.fields == {"line_id": "この回線は指定の顧客の回線ではありません。"}
    assert _all(Ticket) == [] and _all(TicketMessage) == []


def test_ticket_line_must_belong_to_the_given_contract(world, support):
    customer_id = world.customer()
    first, second = world.contract(customer_id), world.contract(customer_id)
    line_on_second = world.line(second)

    with pytest.raises(ValidationFailed) as excinfo:
        open_ticket(actor=support, customer_id=customer_id, subject="件名", body="本文",
                    contract_id=first.id, line_id=line_on_second.id)

    assert excinfo.value.fields == {"line_id": "この回線は指定の契約の回線ではありません。"}


def test_ticket_about_a_line_is_also_linked_to_its_contract(world, support):
    customer_id = world.customer()
    contract = world.contract(customer_id)
    line = world.line(contract)

    ticket = open_ticket(actor=support, customer_id=customer_id, subject="圏外", body="圏外になる", line_id=line.id)

    assert (ticket.contract_id, ticket.line_id) == (contract.id, line.id)
    [entry] = _audit("ticket.create")
    assert (entry.contract_id, entry.line_id) == (contract.id, line.id)


def test_unknown_references_are_named_in_japanese(world, support):
    customer_id = world.customer()
    with pytest.raises(ValidationFailed) as excinfo:
        open_ticket(actor=support, customer_id=customer_id, subject="件名", body="本文",
                    contract_id=9999, line_id=9998)
    assert excinfo.value.fields == {"contract_id": "指定の契約が見つかりません。",
                                    "line_id": "指定の回線が見つかりません。"}
    with pytest.raises(ValidationFailed) as excinfo:
        open_ticket(actor=support, customer_id=9999, subject="件名", body="本文")
    assert excinfo.value.fields == {"customer_id": "指定の顧客が見つかりません。"}


def test_subject_body_and_priority_are_validated(world, support):
    customer_id = world.customer()
    with pytest.raises(ValidationFailed) as excinfo:
        open_ticket(actor=support, customer_id=customer_id, subject="  ", body="", priority="urgent")

    assert excinfo.value.fields == {
        "subject": "件名を入力してください。",
        "body": "内容を入力してください。",
        "priority": "優先度は「低」「通常」「高」から選んでください。",
    }
    assert _all(Ticket) == [] and _audit("ticket.create") == []


def test_accounting_can_open_a_ticket_but_not_work_on_it(world, accounting):
    ticket = open_ticket(actor=accounting, customer_id=world.customer(), subject="返金依頼", body="返金希望")

    with pytest.raises(PermissionDenied):
        add_ticket_message(ticket.id, actor=accounting, body="対応します")
    with pytest.raises(PermissionDenied):
        change_ticket_status(ticket.id, actor=accounting, event="start")
    with pytest.raises(PermissionDenied):
        assign_ticket(ticket.id, actor=accounting, assignee_id=world.staff())


def test_actor_without_role_cannot_open_a_ticket(world, nobody):
    customer_id = world.customer()
    with pytest.raises(PermissionDenied):
        open_ticket(actor=nobody, customer_id=customer_id, subject="件名", body="本文")
    assert _all(Ticket) == []


def test_add_message_appends_to_the_conversation(world, sales):
    ticket = world.ticket()

    message = add_ticket_message(ticket.id, actor=sales, body=" 折り返しご連絡します。 ")

    assert message.body == "折り返しご連絡します。"
    assert len(_all(TicketMessage, TicketMessage.ticket_id == ticket.id)) == 2
    [entry] = _audit("ticket.message")
    assert entry.entity_type == "ticket" and entry.entity_id == ticket.id


def test_empty_message_is_refused(world, support):
    ticket = world.ticket()
    with pytest.raises(ValidationFailed) as excinfo:
        add_ticket_message(ticket.id, actor=support, body="   ")
    assert excinfo.value.fields == {"body": "内容を入力してください。"}
    assert len(_all(TicketMessage)) == 1


def test_closed_ticket_refuses_new_messages(world, support):
    ticket = world.ticket()
    change_ticket_status(ticket.id, actor=support, event="resolve")
    change_ticket_status(ticket.id, actor=support, event="close")

    with pytest.raises(InvalidTransition, match="クローズ済み"):
        add_ticket_message(ticket.id, actor=support, body="追記")
    assert len(_all(TicketMessage)) == 1


def test_ticket_status_follows_the_lifecycle(world, support):
    ticket = world.ticket()
    for event, expected in [("start", "in_progress"), ("wait_for_customer", "waiting_customer"),
                            ("customer_replied", "in_progress"), ("resolve", "resolved"),
                            ("reopen", "in_progress"), ("resolve", "resolved"), ("close", "closed")]:
        ticket = change_ticket_status(ticket.id, actor=support, event=event, reason="テスト")
        assert ticket.status == expected
    assert [e.action for e in _audit() if e.entity_type == "ticket"][1:] == [
        "ticket.start", "ticket.wait_for_customer", "ticket.customer_replied", "ticket.resolve",
        "ticket.reopen", "ticket.resolve", "ticket.close"]


def test_forbidden_ticket_transition_is_explained_in_japanese(world, support):
    ticket = world.ticket()
    with pytest.raises(InvalidTransition) as excinfo:
        change_ticket_status(ticket.id, actor=support, event="close")
    assert excinfo.value.message == "問い合わせが「未対応」の状態では「クローズ」はできません。"
    assert _audit("ticket.close") == []


def test_repeated_resolve_changes_nothing_and_writes_no_audit(world, support):
    ticket = world.ticket()
    change_ticket_status(ticket.id, actor=support, event="resolve")

    again = change_ticket_status(ticket.id, actor=support, event="resolve")

    assert again.status == "resolved"
    assert len(_audit("ticket.resolve")) == 1


def test_assign_ticket_to_active_staff(world, support):
    ticket, staff_id = world.ticket(), world.staff()

    assigned = assign_ticket(ticket.id, actor=support, assignee_id=staff_id)

    assert assigned.assignee_id == staff_id
    assert len(_audit("ticket.assign")) == 1


def test_same_assignee_again_changes_nothing(world, support):
    ticket, staff_id = world.ticket(), world.staff()
    assign_ticket(ticket.id, actor=support, assignee_id=staff_id)

    assign_ticket(ticket.id, actor=support, assignee_id=staff_id)

    assert len(_audit("ticket.assign")) == 1


def test_assignee_must_be_an_active_staff_user(world, support):
    ticket = world.ticket()
    disabled = world.staff(active=False)
    for assignee_id in (disabled, 9999):
        with pytest.raises(ValidationFailed) as excinfo:
            assign_ticket(ticket.id, actor=support, assignee_id=assignee_id)
        assert excinfo.value.fields == {"assignee_id": "担当者が見つからないか、無効化されています。"}
    assert _all(Ticket)[0].assignee_id is None


def test_unassigning_clears_the_assignee(world, support):
    ticket, staff_id = world.ticket(), world.staff()
    assign_ticket(ticket.id, actor=support, assignee_id=staff_id)

    assert assign_ticket(ticket.id, actor=support, assignee_id=None).assignee_id is None
    assert len(_audit("ticket.assign")) == 2


def test_missing_ticket_is_not_found(engine, support):
    with pytest.raises(NotFound, match="問い合わせが見つかりません"):
        change_ticket_status(12345, actor=support, event="start")


def test_failure_while_auditing_leaves_no_ticket_and_no_message(world, support, monkeypatch):
    customer_id = world.customer()

    def failing_record(*args, **kwargs):
        real_record(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(tickets_module, "record", failing_record)
    with pytest.raises(RuntimeError):
        open_ticket(actor=support, customer_id=customer_id, subject="件名", body="本文")

    assert _all(Ticket) == [] and _all(TicketMessage) == [] and _audit("ticket.create") == []
