"""The notification centre complete: data at 80% and 100% of the cap told once per line and month, outages and
maintenance told once per affected line, KYC received and its result, the outcome of a customer's own request,
shipments told and tracked on a page scoped to the company; per-channel preferences honoured for the optional
topics only; each notice in the centre shows its next action and its deadline; a notice about one line is seen
only by the people who see that line."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlmodel import col, select

from services.billing import dunning, payments
from services.integrations.logistics import LogisticsClient
from services.ledger import (
    customer_requests,
    kyc_checks,
    notices_read,
    notification_preferences,
    shipments,
    usage_notices,
)
from services.ledger.notifications import notify_customer, notify_in
from services.models import (
    AuditEntry,
    Customer,
    Notification,
    NotificationPreference,
    UsageNotice,
    UsageRecord,
)
from services.models.self_service import NOTICE_TOPICS, PREFERENCE_CHANNELS
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session, write_session
from services.platform.errors import NotFound, PermissionDenied, ValidationFailed
from services.platform.identifiers import format_msisdn
from services.platform.labels import CATALOGUE
from services.platform.permissions import SYSTEM
from services.read.customer import notices
from services.read.customer import shipments as my_shipments
from services.read.customer.notice_actions import action_key
from services.tasks.outbox import run_operation
from services.workflow import approvals
from tests.unit import customer_builders as people
from tests.unit.frozen_time import freeze
from tests.unit.provider_fakes import FakeProvider, customer, deliver, json_answer, operations

TODAY = today_in_tokyo()


# ---- helpers ------------------------------------------------------------------------------------------------

def use(line_id: int, mb: int, day: date = TODAY) -> None:
    with write_session() as session:
        row = session.exec(select(UsageRecord).where(UsageRecord.line_id == line_id, UsageRecord.day == day)).first()
        row = row or UsageRecord(line_id=line_id, day=day, used_mb=0)
        row.used_mb += mb
        session.add(row)


def told(customer_id: int, kind_prefix: str = "") -> list[Notification]:
    with read_session() as session:
        return list(session.exec(select(Notification).where(
            Notification.customer_id == customer_id, col(Notification.kind).startswith(kind_prefix))
            .order_by(Notification.id)).all())


def sent_channels(customer_id: int, kind_prefix: str) -> list[str]:
    return [n.channel for n in told(customer_id, kind_prefix)]


def company_admin(customer_id: int, world) -> object:
    return people.customer_actor(people.company_user(customer_id, f"admin{world.n()}@example.jp",
                                                     role="customer_admin", name="管理 花子"))


@pytest.fixture()
def reachable(world, admin):
    """A company with mail and LINE (yamada@example.jp, U123), its 法人管理者 and one active line (cap 3,000 MB)."""
    cid = customer(admin, line_user_id="U123")
    line = world.active_line(world.contract(cid))
    return cid, line, company_admin(cid, world)


# ---- data at 80% and 100% of the cap --------------------------------------------------------------------------

def test_80_then_100_percent_are_each_told_once_and_a_second_round_sends_nothing(engine, world, reachable):
    cid, line, _ = reachable
    use(line.id, 2400)  # 80% of 3,000 MB

    assert usage_notices.send_due(TODAY) == {"usage_80": 1, "usage_100": 0}
    assert usage_notices.send_due(TODAY) == {"usage_80": 0, "usage_100": 0}  # a retried round

    use(line.id, 700)  # 3,100 MB: over the cap
    assert usage_notices.send_due(TODAY) == {"usage_80": 0, "usage_100": 1}
    assert usage_notices.send_due(TODAY) == {"usage_80": 0, "usage_100": 0}

    in_app = [n for n in told(cid, "usage.") if n.channel == "in_app"]
    assert [n.kind for n in in_app] == ["usage.80", "usage.100"]
    assert all(n.link.endswith(f"/go/line/{line.id}") for n in in_app)
    assert "データを追加" in in_app[1].body and "1日 に解除" in in_app[1].body and "3,000 MB" in in_app[1].body
    assert sent_channels(cid, "usage.") == ["mail", "line", "in_app"] * 2
    with read_session() as session:
        kept = session.exec(select(UsageNotice).order_by(UsageNotice.level)).all()
    assert [(u.line_id, u.period, u.level, u.notification_id) for u in kept] == [
        (line.id, f"{TODAY:%Y-%m}", 80, in_app[0].id), (line.id, f"{TODAY:%Y-%m}", 100, in_app[1].id)]


def test_a_line_past_its_cap_at_once_gets_only_the_100_percent_notice(engine, world, reachable):
    cid, line, _ = reachable
    use(line.id, 5000)

    assert usage_notices.send_due(TODAY) == {"usage_80": 0, "usage_100": 1}
    assert usage_notices.send_due(TODAY) == {"usage_80": 0, "usage_100": 0}
    with read_session() as session:
        assert sorted(u.level for u in session.exec(select(UsageNotice))) == [80, 100]
    assert {n.kind for n in told(cid, "usage.")} == {"usage.100"}


def test_a_round_that_finds_the_notice_sent_meanwhile_sends_nothing(engine, world, reachable, monkeypatch):
    """Two rounds at once: the second read its list before the first wrote; under its lock it finds the row."""
    cid, line, _ = reachable
    use(line.id, 2500)
    stale = usage_notices._due(TODAY)
    assert usage_notices.send_due(TODAY) == {"usage_80": 1, "usage_100": 0}

    monkeypatch.setattr(usage_notices, "_due", lambda today: stale)
    assert usage_notices.send_due(TODAY) == {"usage_80": 0, "usage_100": 0}
    assert len(told(cid, "usage.80")) == 3


def test_lines_under_80_percent_without_a_cap_or_not_in_service_are_not_told(engine, world, reachable):
    cid, line, _ = reachable
    use(line.id, 2399)
    applying = world.line(world.contract(cid))  # not active yet
    use(applying.id, 5000)
    assert usage_notices.send_due(TODAY) == {"usage_80": 0, "usage_100": 0}
    last_month = TODAY.replace(day=1) - timedelta(days=1)
    use(line.id, 5000, last_month)  # last month's use counts for last month only
    assert usage_notices.send_due(TODAY) == {"usage_80": 0, "usage_100": 0}
    assert usage_notices.send_due(last_month) == {"usage_80": 0, "usage_100": 1}


# ---- preferences -------------------------------------------------------------------------------------------

def test_switching_off_usage_mail_keeps_line_and_the_in_app_notice(engine, world, reachable):
    cid, line, boss = reachable
    notification_preferences.set_preference(actor=boss, topic="usage", channel="mail", enabled=False)
    use(line.id, 2500)

    usage_notices.send_due(TODAY)

    assert sent_channels(cid, "usage.") == ["line", "in_app"]
    assert {o.operation for o in operations("messaging", customer_id=cid)} == {"push"}
    shown = notification_preferences.my_preferences(actor=boss)
    assert shown["editable"] and [(r["topic"], r["mail"], r["line"]) for r in shown["rows"]] == [
        ("usage", False, True), ("maintenance", True, True), ("request", True, True), ("shipment", True, True)]


def test_bills_and_dunning_go_out_on_every_channel_whatever_the_preferences(engine, world, reachable, monkeypatch):
    cid, line, boss = reachable
    for topic in NOTICE_TOPICS:
        for channel in PREFERENCE_CHANNELS:
            notification_preferences.set_preference(actor=boss, topic=topic, channel=channel, enabled=False)
    with write_session() as session:  # an invoice notice as the billing run sends it (no topic)
        notify_in(session, session.get(Customer, cid), actor=SYSTEM, kind="invoice_issued", title="請求書を発行しました",
                  body="今月のご請求です。", channels=("mail", "line", "in_app"))
    assert sent_channels(cid, "invoice_issued") == ["mail", "line", "in_app"]

    invoice = world.invoice(world.active_contract(cid), period="2026-03", unit_price=10000)
    opened = invoice.due_date + timedelta(days=1)
    dunning.advance(freeze(monkeypatch, opened).day(opened))
    assert sent_channels(cid, "payment_failed") == ["mail", "line", "in_app"]  # dunning ignores the switches


def test_only_the_company_admin_changes_the_preferences_and_each_change_is_audited(engine, world, reachable):
    cid, line, boss = reachable
    user = people.customer_actor(people.company_user(cid, f"user{world.n()}@example.jp", line_ids=[line.id]))

    assert notification_preferences.my_preferences(actor=user)["editable"] is False
    with pytest.raises(PermissionDenied):
        notification_preferences.set_preference(actor=user, topic="usage", channel="mail", enabled=False)
    with pytest.raises(PermissionDenied):
        notification_preferences.set_preference(actor=world.actor("admin"), topic="usage", channel="mail",
                                                enabled=False)  # staff: the customer decides
    with pytest.raises(ValidationFailed):
        notification_preferences.set_preference(actor=boss, topic="invoice", channel="mail", enabled=False)

    notification_preferences.set_preference(actor=boss, topic="shipment", channel="line", enabled=False)
    notification_preferences.set_preference(actor=boss, topic="shipment", channel="line", enabled=False)  # no-op
    notification_preferences.set_preference(actor=boss, topic="shipment", channel="line", enabled=True)
    with read_session() as session:
        [row] = session.exec(select(NotificationPreference)).all()
        entries = session.exec(select(AuditEntry).where(AuditEntry.action == "notification.preference")).all()
    assert (row.customer_id, row.topic, row.channel, row.enabled) == (cid, "shipment", "line", True)
    assert [(e.actor_kind, json.loads(e.after_json)["enabled"]) for e in entries] == [("customer", False),
                                                                                      ("customer", True)]


# ---- outages and maintenance ------------------------------------------------------------------------------

def _incident(status: str, sequence: int, **data) -> dict:
    fields = {"id": "mon_9", "kind": "maintenance", "status": status, "title": "東京都内の設備メンテナンス",
              "description": "夜間に基地局の設備を交換します。", "services": ["data"], "areas": ["東京都"],
              "starts_at": "2026-12-10T16:00:00+00:00", "ends_at": "2026-12-10T20:00:00+00:00", **data}
    return {"id": f"evt_{status}_{sequence}", "type": "event.created" if sequence == 1 else "event.updated",
            "sequence": sequence, "data": fields}


def test_an_announced_incident_tells_each_affected_company_once_naming_its_lines(engine, world, admin, reachable):
    tokyo, line, _ = reachable
    second = world.active_line(world.contract(tokyo))  # a second line of the same company: named in the same notice
    osaka = customers_in("大阪府大阪市北区梅田1-1", world, admin)

    assert "1 customers told" in deliver("monitoring", _incident("scheduled", 1))
    deliver("monitoring", _incident("in_progress", 2))  # an update tells nobody again
    deliver("monitoring", _incident("scheduled", 1))  # the same event delivered twice

    [note] = [n for n in told(tokyo, "incident.") if n.channel == "in_app"]
    assert told(osaka, "incident.") == []
    assert note.kind == "incident.maintenance" and note.title == "【メンテナンス】東京都内の設備メンテナンス"
    assert "対象の地域: 東京都" in note.body and "2026/12/11 01:00 〜 2026/12/11 05:00（終了予定）" in note.body
    numbers = f"{format_msisdn(line.msisdn)}、{format_msisdn(second.msisdn)}"
    assert f"対象となるご契約の回線: {numbers}（ご契約の住所で判定しています）" in note.body
    assert "次にすること" in note.body and note.line_id is None and note.customer_user_id is None
    assert sent_channels(tokyo, "incident.") == ["mail", "line", "in_app"]  # one mail and one LINE, not one per line


def customers_in(address: str, world, admin) -> int:
    cid = customer(admin)
    with write_session() as session:
        row = session.get(Customer, cid)
        row.address = address
        session.add(row)
    world.active_line(world.contract(cid))
    return cid


def test_maintenance_notices_follow_the_preferences_and_a_finished_one_is_not_announced(engine, world, reachable):
    cid, line, boss = reachable
    notification_preferences.set_preference(actor=boss, topic="maintenance", channel="line", enabled=False)
    deliver("monitoring", _incident("scheduled", 1))
    assert sent_channels(cid, "incident.") == ["mail", "in_app"]

    deliver("monitoring", {**_incident("completed", 1, id="mon_10"), "id": "evt_done", "type": "event.resolved"})
    assert len(told(cid, "incident.")) == 2  # the one already over was not announced


# ---- KYC ---------------------------------------------------------------------------------------------------

def kyc_client(provider):
    from services.integrations.kyc import KycClient

    return KycClient("http://kyc.test", transport=provider.transport())


def test_kyc_documents_received_then_the_result_with_what_to_do(engine, world, admin, support):
    cid = customer(admin)
    kyc_checks.request_kyc_check(cid, actor=support)
    provider = FakeProvider(json_answer(202, {"id": "kyc_1", "status": "pending"}))
    assert run_operation(operations("kyc")[0].id, client=kyc_client(provider)) == "succeeded"
    [received] = [n for n in told(cid, "kyc.") if n.channel == "in_app"]
    assert received.title == "本人確認書類を受け付けました" and received.link.endswith(f"/go/customer/{cid}")

    world.approve("customer.kyc", {"customer_id": cid, "status": "rejected"})

    [result] = [n for n in told(cid, "kyc.rejected") if n.channel == "in_app"]
    assert result.title == "本人確認ができませんでした" and "次にすること" in result.body
    assert sent_channels(cid, "kyc.rejected") == ["mail", "in_app"]
    with read_session() as session:
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "customer.kyc")
                             .order_by(col(AuditEntry.id).desc())).first()
    assert set(json.loads(entry.after_json)["notification_ids"]) == {n.id for n in told(cid, "kyc.rejected")}


def test_a_verified_identity_is_told_even_with_every_optional_notice_switched_off(engine, world):
    cid = world.documented_customer()
    with write_session() as session:
        row = session.get(Customer, cid)
        row.email, row.line_user_id = "suzuki@example.jp", "U456"
        session.add(row)
    boss = company_admin(cid, world)
    for topic in NOTICE_TOPICS:
        notification_preferences.set_preference(actor=boss, topic=topic, channel="mail", enabled=False)
    world.approve("customer.kyc", {"customer_id": cid, "status": "verified", "method": "in_person"})
    assert sent_channels(cid, "kyc.verified") == ["mail", "line", "in_app"]


# ---- the outcome of a customer's own request ------------------------------------------------------------------

def test_the_customer_who_asked_hears_the_outcome_of_their_request_and_only_they_do(engine, world, reachable):
    cid, line, boss = reachable
    other = people.customer_actor(people.company_user(cid, f"user{world.n()}@example.jp", line_ids=[line.id]))
    request = customer_requests.request_line_change(line.id, "suspend", actor=boss, reason="lost")
    assert told(cid, "request.") == []  # asking tells nobody yet

    approvals.approve_request(request.id, actor=world.actor("support"), expected_hash=request.params_hash)

    notes = told(cid, "request.")
    assert {n.kind for n in notes} == {"request.executed"} and {n.customer_user_id for n in notes} == {boss.id}
    assert {n.line_id for n in notes} == {line.id}
    assert [n.channel for n in notes] == ["mail", "line", "in_app"]
    [mail] = [o for o in operations("messaging", customer_id=cid) if o.notification_id == notes[0].id]
    assert json.loads(mail.payload_json)["to"].startswith("admin")  # the person who asked, not the company
    assert [n["kind"] for n in notices.my_notifications(actor=boss)] == ["request.executed"]
    assert notices.my_notifications(actor=other) == []  # addressed to the one who asked


def test_a_rejected_request_says_what_to_do_and_staff_requests_tell_no_customer(engine, world, reachable):
    cid, line, boss = reachable
    notification_preferences.set_preference(actor=boss, topic="request", channel="mail", enabled=False)
    request = customer_requests.request_line_change(line.id, "suspend", actor=boss, reason="lost")
    approvals.reject_request(request.id, actor=world.actor("support"), reason="ご本人の確認が取れません")

    assert sent_channels(cid, "request.") == ["line", "in_app"]  # mail switched off for request outcomes
    note = told(cid, "request.")[-1]
    assert note.kind == "request.rejected" and note.title == "お申し込みをお受けできませんでした"
    assert "次にすること" in note.body and "ご本人の確認" not in note.body  # staff's reason stays inside

    staff_request = approvals.request_approval("line.suspend", {"line_id": line.id}, actor=world.actor("support"),
                                               reason="紛失")
    approvals.reject_request(staff_request.id, actor=world.actor("support"), reason="重複")
    assert len(told(cid, "request.")) == 2


# ---- shipments ---------------------------------------------------------------------------------------------

def _logistics(provider):
    return LogisticsClient("http://logistics.test", transport=provider.transport())


def _tracking(status: str, sequence: int) -> dict:
    return {"id": f"evt_{status}_{sequence}", "type": f"shipment.{status}", "sequence": sequence,
            "data": {"shipment_id": "shp_1", "tracking_number": "123456789012", "status": status,
                     "at": "2026-04-02T03:00:00+00:00"}}


def test_a_shipment_is_told_when_sent_and_delivered_and_tracked_on_its_page(engine, world, reachable, support):
    cid, line, boss = reachable
    sent = shipments.ship_to_customer(actor=support, customer_id=cid, line_id=line.id)
    accepted = FakeProvider(json_answer(201, {"id": "shp_1", "tracking_number": "123456789012", "status": "accepted"}))
    run_operation(operations("logistics")[0].id, client=_logistics(accepted))
    deliver("logistics", _tracking("in_transit", 2))
    deliver("logistics", _tracking("delivered", 3))
    deliver("logistics", _tracking("delivered", 3))  # twice: told once

    notes = [n for n in told(cid, "shipment.") if n.channel == "in_app"]
    assert [n.kind for n in notes] == ["shipment.accepted", "shipment.delivered"]
    assert all(n.link.endswith(f"/go/shipment/{sent.id}") and n.line_id == line.id for n in notes)

    page = my_shipments.my_shipment(sent.id, actor=boss)
    assert (page["status_label"], page["tracking_number"]) == ("配達完了", "123456789012")
    assert [(s["status"], s["reached"]) for s in page["steps"]] == [
        ("requested", True), ("accepted", True), ("picked_up", True), ("in_transit", True), ("delivered", True)]
    assert page["steps"][-1]["current"] and page["steps"][-1]["at"] == "2026/04/02 12:00"
    assert page["steps"][2]["at"] == ""  # the provider never reported the pick-up


def test_the_shipment_page_is_scoped_to_the_company_and_the_users_lines(engine, world, admin, reachable, support):
    cid, line, boss = reachable
    sent = shipments.ship_to_customer(actor=support, customer_id=cid, line_id=line.id)
    stranger = company_admin(customer(admin), world)
    other_line = world.line(world.contract(cid))
    colleague = people.customer_actor(people.company_user(cid, f"u{world.n()}@example.jp", line_ids=[other_line.id]))

    assert my_shipments.my_shipment(sent.id, actor=boss)["steps"][0]["reached"]
    for who in (stranger, colleague):
        with pytest.raises(NotFound, match="配送状況が見つかりません"):
            my_shipments.my_shipment(sent.id, actor=who)
    with pytest.raises(NotFound):
        my_shipments.my_shipment(sent.id + 100, actor=boss)
    with pytest.raises(PermissionDenied):
        my_shipments.my_shipment(sent.id, actor=support)


def test_switching_off_shipment_mail_is_honoured(engine, world, reachable, support):
    cid, line, boss = reachable
    notification_preferences.set_preference(actor=boss, topic="shipment", channel="mail", enabled=False)
    shipments.ship_to_customer(actor=support, customer_id=cid, line_id=line.id)
    accepted = FakeProvider(json_answer(201, {"id": "shp_1", "tracking_number": "1", "status": "accepted"}))
    run_operation(operations("logistics")[0].id, client=_logistics(accepted))
    assert sent_channels(cid, "shipment.") == ["line", "in_app"]


# ---- the notification centre: next action and deadline --------------------------------------------------------

def test_each_notice_shows_its_next_action_and_its_deadline_when_it_has_one(engine, world, reachable):
    cid, line, boss = reachable
    invoice = world.invoice(world.active_contract(cid), period="2026-03", unit_price=10000)
    with write_session() as session:
        company = session.get(Customer, cid)
        notify_in(session, company, actor=SYSTEM, kind="invoice_issued", title="請求書を発行しました", body="本文",
                  link=f"http://x/go/invoice/{invoice.id}", channels=("in_app",))
    use(line.id, 3100)
    usage_notices.send_due(TODAY)

    shown = {n["kind"]: n for n in notices.my_notifications(actor=boss)}
    assert shown["invoice_issued"]["action_label"] == "請求を見る"
    assert shown["invoice_issued"]["deadline"].startswith(f"お支払期限 {invoice.due_date:%Y/%m/%d}")
    assert shown["usage.100"]["action_label"] == "データを追加"
    first_of_next = (TODAY.replace(day=28) + timedelta(days=4)).replace(day=1)
    assert shown["usage.100"]["deadline"] == f"速度制限の解除 {first_of_next:%Y/%m/%d}"

    paid = payments.record_payment(actor=world.admin, amount=invoice.total, method="bank_transfer", payer_name="ヤマダ")
    payments.allocate_payment(paid.id, actor=world.admin, invoice_id=invoice.id, amount=invoice.total)
    shown = {n["kind"]: n for n in notices.my_notifications(actor=boss)}
    assert shown["invoice_issued"]["deadline"] == ""  # paid: no deadline any more


def test_every_notice_kind_has_an_action_with_a_label_and_every_topic_a_label():
    assert set(CATALOGUE["notice_topic"]) == set(NOTICE_TOPICS)
    for kind in ("invoice_issued", "payment_failed", "usage.80", "usage.100", "incident.outage", "shipment.accepted",
                 "kyc.rejected", "request.executed", "request"):
        assert action_key(kind) in CATALOGUE["notice_action"]
    assert action_key("payment_final_notice") == "view_bill" and action_key("usage.80") == "check_usage"


def test_the_outbox_sends_what_the_preferences_leave(engine, world, reachable):
    """A notice's mail and LINE are outbox rows: a switched-off channel leaves none behind."""
    cid, line, boss = reachable
    notification_preferences.set_preference(actor=boss, topic="usage", channel="line", enabled=False)
    use(line.id, 2500)
    usage_notices.send_due(TODAY)
    assert [(o.operation, o.status) for o in operations("messaging", customer_id=cid)] == [("mail", "pending")]


# ---- a 利用者 sees only the notices of their own lines ----------------------------------------------------------

@pytest.fixture()
def two_lines(world, reachable):
    """`reachable`'s company with a second active line B, its 法人管理者 and a 利用者 who sees line A only."""
    cid, line_a, boss = reachable
    line_b = world.active_line(world.contract(cid))
    user = people.customer_actor(people.company_user(cid, f"user{world.n()}@example.jp", line_ids=[line_a.id]))
    return cid, line_a, line_b, boss, user


def in_app_about(cid: int, kind_prefix: str, line_id: int) -> Notification:
    [note] = [n for n in told(cid, kind_prefix) if n.channel == "in_app" and n.line_id == line_id]
    return note


def test_a_user_sees_the_usage_notice_of_their_line_only_and_the_company_admin_sees_both(engine, two_lines):
    cid, line_a, line_b, boss, user = two_lines
    use(line_a.id, 2500)
    use(line_b.id, 2500)
    assert usage_notices.send_due(TODAY) == {"usage_80": 2, "usage_100": 0}
    mine, other = in_app_about(cid, "usage.", line_a.id), in_app_about(cid, "usage.", line_b.id)

    shown = notices.my_notifications(actor=user)
    assert [n["id"] for n in shown] == [mine.id]
    assert shown[0]["action"] == "check_usage" and shown[0]["link"].endswith(f"/go/line/{line_a.id}")
    assert format_msisdn(line_b.msisdn) not in shown[0]["title"] + shown[0]["body"]
    assert notices.unread_count(actor=user) == 1
    with pytest.raises(NotFound, match="通知が見つかりません"):
        notices_read.mark_read(other.id, actor=user)
    notices_read.mark_read(mine.id, actor=user)
    assert notices.unread_count(actor=user) == 0

    assert {n["id"] for n in notices.my_notifications(actor=boss)} == {mine.id, other.id}
    assert notices.unread_count(actor=boss) == 1  # B's notice: the refused mark wrote nothing


def test_a_user_sees_the_outage_notice_of_their_line_only(engine, world, two_lines):
    cid, line_a, line_b, boss, user = two_lines
    idle = world.line(world.contract(cid))  # not in service: the outage does not touch it
    bystander = people.customer_actor(people.company_user(cid, f"user{world.n()}@example.jp", line_ids=[idle.id]))
    deliver("monitoring", _incident("investigating", 1, kind="outage", title="東京都の一部で通信障害"))
    notes = [n for n in told(cid, "incident.") if n.channel == "in_app"]
    [company] = [n for n in notes if n.customer_user_id is None]
    [theirs] = [n for n in notes if n.customer_user_id == user.id]
    assert len(notes) == 2  # the company's, and the one 利用者 concerned (not the bystander)
    assert format_msisdn(line_b.msisdn) in company.body and theirs.line_id == line_a.id

    shown = notices.my_notifications(actor=user)
    assert [n["id"] for n in shown] == [theirs.id] and shown[0]["action"] == "check_lines"
    assert format_msisdn(line_a.msisdn) in shown[0]["body"]
    assert format_msisdn(line_b.msisdn) not in shown[0]["title"] + shown[0]["body"]
    assert notices.unread_count(actor=user) == 1
    with pytest.raises(NotFound, match="通知が見つかりません"):
        notices_read.mark_read(company.id, actor=user)  # the company's notice names line B: not theirs
    assert notices.my_notifications(actor=bystander) == [] and notices.unread_count(actor=bystander) == 0
    assert [n["id"] for n in notices.my_notifications(actor=boss)] == [company.id]
    assert notices.unread_count(actor=boss) == 1  # the refused mark wrote nothing


def test_company_notices_without_a_line_still_reach_every_user(engine, two_lines, support):
    cid, line_a, line_b, boss, user = two_lines
    with write_session() as session:
        company = session.get(Customer, cid)
        legal = notify_in(session, company, actor=SYSTEM, kind="legal", title="利用規約改定のお知らせ",
                          body="4月1日から利用規約が変わります。", channels=("in_app",)).notifications[0]
        maintenance = notify_in(session, company, actor=SYSTEM, kind="maintenance", title="システムメンテナンス",
                                body="マイページを一時停止します。", channels=("in_app",), topic="maintenance"
                                ).notifications[0]
    [phoned] = notify_customer(cid, actor=support, kind="service", title="ご案内", body="窓口の営業時間が変わります。",
                               channels=("in_app",)).notifications

    expected = {legal.id, maintenance.id, phoned.id}
    assert {n["id"] for n in notices.my_notifications(actor=user)} == expected
    assert notices.unread_count(actor=user) == 3
    notices_read.mark_read(legal.id, actor=user)
    assert {n["id"] for n in notices.my_notifications(actor=boss)} == expected


def test_a_notice_to_one_person_about_a_line_they_do_not_see_is_hidden_from_them(engine, world, two_lines):
    cid, line_a, line_b, boss, user = two_lines
    with write_session() as session:
        company = session.get(Customer, cid)
        about_a, about_b = (notify_in(session, company, actor=SYSTEM, kind="request", title="お申し込みの結果",
                                      body="手続きが完了しました。", channels=("in_app",), customer_user_id=user.id,
                                      line_id=line_id).notifications[0].id for line_id in (line_a.id, line_b.id))
    assert [n["id"] for n in notices.my_notifications(actor=user)] == [about_a]
    with pytest.raises(NotFound):
        notices_read.mark_read(about_b, actor=user)
    assert notices.my_notifications(actor=boss) == []  # addressed to the 利用者 alone


def test_a_notice_cannot_be_about_another_companys_line(engine, world, reachable, support):
    cid, line, boss = reachable
    stranger_line = world.line()
    with pytest.raises(ValidationFailed), write_session() as session:
        notify_in(session, session.get(Customer, cid), actor=SYSTEM, kind="usage.80", title="データ通信量のお知らせ",
                  body="本文", channels=("in_app",), line_id=stranger_line.id)
    with pytest.raises(ValidationFailed):
        notify_customer(cid, actor=support, kind="service", title="ご案内", body="本文", channels=("in_app",),
                        line_id=stranger_line.id)
    assert told(cid) == []
