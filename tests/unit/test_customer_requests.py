"""Customer requests from the customer app (申請 → 承認 → 実行): a lost phone's suspension, resumption and
termination go through the same gated call staff use and wait for a person of staff; an MNP 予約番号 comes from the
carrier sandbox (in process) through the outbox; a SIM re-issue is a ticket stating the fee. Scope as everywhere in
/my: another company's line is NotFound and nothing is written; a 利用者 asks only with the right to ask.
Two companies A and B under a frozen clock (2026-03-10 10:00 in Tokyo; A's contract started on 2026-03-05)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import SQLModel, select
from starlette.testclient import TestClient

from sandbox.carrier import CarrierSandbox
from services.integrations.carrier import CarrierClient
from services.ledger import customer_requests, customers, lines, tickets
from services.models import (
    ApprovalRequest,
    AuditEntry,
    ChargeRate,
    ExternalOperation,
    Line,
    MnpReservation,
    Notification,
    Ticket,
    TicketMessage,
)
from services.platform.clock import TOKYO
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from services.read.customer import requests as my
from services.read.staff import approvals as approvals_queue
from services.tasks.outbox import run_operation
from services.workflow import approvals
from tests.unit.customer_builders import company_user, customer_actor
from tests.unit.frozen_time import freeze

TODAY = date(2026, 3, 10)


@pytest.fixture()
def clock(monkeypatch):
    return freeze(monkeypatch, TODAY)


@dataclass(frozen=True)
class Company:
    customer_id: int
    line1: int  # the 利用者's line
    line2: int
    admin_id: int
    user_id: int  # a 利用者 of line1 without the right to ask
    asker_id: int  # a 利用者 of line1 with the right to ask


def _company(world, clock, tag: str, numbers: tuple[str, str]) -> Company:
    customer_id = customers.create_customer(actor=world.admin, kind="corporate", name=f"株式会社{tag}",
                                            name_kana="カブシキガイシャ", email=f"info@{tag}.example.jp").id
    clock.day(date(2026, 3, 5))  # the contract starts five days before "today"
    contract = world.active_contract(customer_id)
    clock.day(TODAY)
    line_ids = []
    for number in numbers:
        line = lines.add_line(actor=world.admin, contract_id=contract.id, msisdn=number, iccid=world.sim().iccid)
        lines.change_line_status(line.id, actor=world.admin, event="activate", reason="開通")
        world.carrier_done(line.id)
        line_ids.append(line.id)
    return Company(
        customer_id=customer_id, line1=line_ids[0], line2=line_ids[1],
        admin_id=company_user(customer_id, f"admin@{tag}.example.jp", role="customer_admin", name=f"{tag} 管理者"),
        user_id=company_user(customer_id, f"user@{tag}.example.jp", name=f"{tag} 利用者", line_ids=[line_ids[0]]),
        asker_id=company_user(customer_id, f"asker@{tag}.example.jp", name=f"{tag} 申込者", line_ids=[line_ids[0]],
                              can_request=True))


@pytest.fixture()
def a(world, clock) -> Company:
    return _company(world, clock, "a", ("090-1234-5678", "090-1234-5679"))


@pytest.fixture()
def b(world, clock, a) -> Company:
    return _company(world, clock, "b", ("080-2222-0001", "080-2222-0002"))


def ledger(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=repr)
                for t in SQLModel.metadata.sorted_tables}


def _status(line_id: int) -> str:
    with read_session() as s:
        return s.get(Line, line_id).status


def _count(model, *where) -> int:
    with read_session() as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


ASKING = {  # every way a customer asks for something about a line
    "suspend": lambda actor, line_id: customer_requests.request_line_change(line_id, "suspend", actor=actor,
                                                                            reason="lost"),
    "terminate": lambda actor, line_id: customer_requests.request_line_change(
        line_id, "terminate", actor=actor, reason="not_needed", confirm_number="000"),
    "mnp": lambda actor, line_id: customer_requests.request_mnp_number(line_id, actor=actor),
    "sim_reissue": lambda actor, line_id: customer_requests.request_sim_reissue(line_id, actor=actor, reason="lost"),
}


# ---- who may ask ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("ask", sorted(ASKING))
def test_a_user_without_the_right_to_ask_is_refused_and_nothing_is_written(engine, a, ask):
    before = ledger(engine)
    with pytest.raises(PermissionDenied, match="権限がありません"):
        ASKING[ask](customer_actor(a.user_id), a.line1)
    assert ledger(engine) == before


def test_a_user_without_the_right_sees_their_line_and_why_they_cannot_ask(a):
    view = my.my_line(a.line1, actor=customer_actor(a.user_id))
    assert view["msisdn"] == "090-1234-5678" and not view["can_request"] and "権限" in view["no_right"]
    assert [x["allowed"] for x in view["actions"]] == [False] * 5
    assert all("権限" in x["why"] for x in view["actions"])


@pytest.mark.parametrize("ask", sorted(ASKING))
def test_another_companys_line_is_not_found_and_nothing_is_written(engine, a, b, ask):
    before = ledger(engine)
    with pytest.raises(NotFound, match="回線が見つかりません"):
        ASKING[ask](customer_actor(a.admin_id), b.line1)
    with pytest.raises(NotFound, match="回線が見つかりません"):  # the company's line that is not theirs
        ASKING[ask](customer_actor(a.asker_id), a.line2)
    with pytest.raises(NotFound):
        my.my_line(b.line1, actor=customer_actor(a.admin_id))
    with pytest.raises(NotFound):
        my.my_requests(actor=customer_actor(a.admin_id), line_id=b.line1)
    assert ledger(engine) == before


def test_staff_are_sent_to_their_own_screens_and_customers_never_run_a_line_event_directly(world, a):
    with pytest.raises(PermissionDenied):
        customer_requests.request_line_change(a.line1, "suspend", actor=world.actor("support"), reason="lost")
    with pytest.raises(PermissionDenied):  # activation is not a request a customer may make
        lines.request_line_event(a.line1, "activate", actor=customer_actor(a.admin_id), reason="x")
    assert _status(a.line1) == "active"


# ---- a lost phone: urgent, first in the queue, approved by staff, carried out through the outbox -----------

def test_a_lost_phone_is_an_urgent_request_first_in_the_staff_queue_and_nothing_runs_before_approval(world, a):
    earlier = approvals.request_approval("line.suspend", {"line_id": a.line2}, actor=world.actor("support"),
                                         reason="料金未払いのため")
    request = customer_requests.request_line_change(a.line1, "suspend", actor=customer_actor(a.admin_id),
                                                    reason="lost", details="電車に置き忘れました")

    assert request.urgent and request.requested_by is None and request.requested_by_customer_user_id == a.admin_id
    assert request.reason == "お客様からのお申し込み（紛失: 電車に置き忘れました）"
    assert _status(a.line1) == "active"  # only a person of staff can let it happen
    queue = approvals_queue.list_requests(actor=world.actor("support"))
    assert [r["id"] for r in queue] == [request.id, earlier.id]
    first = queue[0]
    assert first["urgent"] and first["from_customer"] and first["requester"] == "お客様 a 管理者"
    assert first["can_decide"]
    with read_session() as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "approval.request")
                       .order_by(AuditEntry.id.desc())).first()
    assert (entry.actor_kind, entry.actor_id) == ("customer", a.admin_id)


def test_a_suspension_for_another_reason_is_not_urgent(a):
    request = customer_requests.request_line_change(a.line1, "suspend", actor=customer_actor(a.asker_id),
                                                    reason="other", details="海外出張の間")
    assert not request.urgent and request.reason.endswith("（その他: 海外出張の間）")


def test_staff_approval_runs_the_suspension_through_the_carrier_outbox_and_the_timeline_follows(world, a):
    admin = customer_actor(a.admin_id)
    request = customer_requests.request_line_change(a.line1, "suspend", actor=admin, reason="stolen")
    steps = my.my_requests(actor=admin, line_id=a.line1)[0]["steps"]
    assert [(s["key"], s["state"]) for s in steps] == [("requested", "done"), ("approval", "current"),
                                                        ("execution", "waiting")]

    approvals.approve_request(request.id, actor=world.actor("support"), expected_hash=request.params_hash)

    assert _status(a.line1) == "suspending"
    with read_session() as s:
        calls = s.exec(select(ExternalOperation).where(ExternalOperation.line_id == a.line1,
                                                       ExternalOperation.operation == "suspend")).all()
    assert [c.status for c in calls] == ["pending"]
    entry = my.my_requests(actor=admin, line_id=a.line1)[0]
    assert entry["status"] == "in_progress" and entry["steps"][-1]["key"] == "in_progress"

    world.carrier_done(a.line1)

    assert _status(a.line1) == "suspended"
    entry = my.my_requests(actor=customer_actor(a.user_id))[0]  # the 利用者 of the line sees it too
    assert entry["kind"] == "suspend" and entry["status"] == "done" and entry["urgent"]
    assert [(s["key"], s["state"]) for s in entry["steps"]] == [("requested", "done"), ("approved", "done"),
                                                                 ("done", "done")]
    assert all(s["at"].startswith("2026/03/10 10:00") for s in entry["steps"])  # Tokyo time
    view = my.my_line(a.line1, actor=admin)
    assert [x["kind"] for x in view["actions"] if x["allowed"]] == ["resume", "terminate", "mnp", "sim_reissue"]
    with read_session() as s:
        told = s.exec(select(Notification).where(Notification.kind == "request.executed",
                                                 Notification.channel == "in_app")).one()
    assert told.link.endswith(f"/go/line/{a.line1}?request=approval-{request.id}")  # the line page, on this request
    shown = my.focused_first(my.my_requests(actor=admin, line_id=a.line1), f"approval-{request.id}")
    assert [(e["key"], e["focused"]) for e in shown][0] == (f"approval-{request.id}", True)


def test_a_rejection_shows_its_reason_and_staff_requests_are_not_the_customers(world, a):
    admin = customer_actor(a.admin_id)
    request = customer_requests.request_line_change(a.line1, "suspend", actor=admin, reason="lost")
    approvals.reject_request(request.id, actor=world.actor("support"), reason="ご本人確認が取れませんでした")
    approvals.request_approval("line.suspend", {"line_id": a.line2}, actor=world.actor("support"),
                               reason="料金未払いのため")

    rows = my.my_requests(actor=admin)
    assert [(r["line_id"], r["status"]) for r in rows] == [(a.line1, "rejected")]
    assert rows[0]["steps"][-1] == {"key": "rejected", "label": "却下", "state": "failed",
                                    "at": "2026/03/10 10:00", "note": "ご本人確認が取れませんでした"}


@pytest.mark.parametrize("second", ["suspend", "terminate"])
def test_a_second_request_for_a_line_with_a_live_one_is_refused(engine, a, second):
    customer_requests.request_line_change(a.line1, "suspend", actor=customer_actor(a.admin_id), reason="lost")
    before = ledger(engine)
    with pytest.raises(Conflict, match="受付中のお申し込みがあります"):
        ASKING[second](customer_actor(a.asker_id), a.line1)
    assert ledger(engine) == before
    view = my.my_line(a.line1, actor=customer_actor(a.admin_id))
    blocked = {x["kind"]: x["why"] for x in view["actions"] if not x["allowed"]}
    assert "受付中" in blocked["suspend"] and "受付中" in blocked["terminate"]


def test_a_request_the_line_state_does_not_allow_is_refused_in_words(a):
    with pytest.raises(Conflict, match="利用中.*利用再開のお申し込みはできません"):
        customer_requests.request_line_change(a.line1, "resume", actor=customer_actor(a.admin_id), reason="found")


def test_a_reason_must_be_chosen_and_other_needs_words(a):
    admin = customer_actor(a.admin_id)
    with pytest.raises(ValidationFailed) as refused:
        customer_requests.request_line_change(a.line1, "suspend", actor=admin, reason="")
    assert "紛失・盗難・その他" in refused.value.fields["reason"]
    with pytest.raises(ValidationFailed) as refused:
        customer_requests.request_line_change(a.line1, "suspend", actor=admin, reason="other", details=" ")
    assert "details" in refused.value.fields


# ---- termination: the costs stated, the number typed ------------------------------------------------------

def test_termination_states_its_costs_and_needs_the_number_typed(clock, a):
    admin = customer_actor(a.admin_id)
    terms = my.my_line(a.line1, actor=admin)["termination_terms"]
    assert terms[0] == "解約金（違約金）はかかりません。"
    assert any("日割り" in t for t in terms)
    assert any("2026/03/05" in t and "2026/03/12まで" in t and "初期契約解除" in t and "問い合わせ" in t for t in terms)
    clock.day(date(2026, 3, 13))  # the 9th day: the window has closed
    assert not any("初期契約解除" in t for t in my.my_line(a.line1, actor=admin)["termination_terms"])

    with pytest.raises(ValidationFailed) as refused:
        customer_requests.request_line_change(a.line1, "terminate", actor=admin, reason="not_needed")
    assert "090-1234-5678" in refused.value.fields["confirm_word"]
    request = customer_requests.request_line_change(a.line1, "terminate", actor=admin, reason="not_needed",
                                                    confirm_number="09012345678")
    assert request.operation == "line.terminate" and not request.urgent and _status(a.line1) == "active"


# ---- MNP 転出: the carrier sandbox issues the 予約番号 --------------------------------------------------------

@pytest.fixture()
def carrier():
    """The carrier sandbox in process, knowing A's lines, behind the product's own client."""
    with TestClient(CarrierSandbox().app()) as sandbox:
        sandbox.post("/_sandbox/lines", json={"lines": [
            {"msisdn": n, "state": "active", "since": "2026-03-05T00:00:00+00:00"}
            for n in ("819012345678", "819012345679")]})

        def forward(request: httpx.Request) -> httpx.Response:
            answer = sandbox.request(request.method, request.url.raw_path.decode(), content=request.content,
                                     headers={k: v for k, v in request.headers.items()
                                              if k.lower() in ("content-type", "idempotency-key")})
            return httpx.Response(answer.status_code, content=answer.content, headers=answer.headers)

        yield CarrierClient("http://carrier.test", transport=httpx.MockTransport(forward))


def _carrier_today() -> date:
    """Today in Tokyo as the carrier (a process of its own, not under the frozen clock) counts it."""
    return datetime.now(TOKYO).date()


def _mnp_call(reservation_id: int) -> int:
    with read_session() as s:
        return s.get(MnpReservation, reservation_id).external_operation_id


def test_an_mnp_number_is_issued_by_the_carrier_with_15_days_and_the_customer_is_told(a, carrier):
    asker = customer_actor(a.asker_id)
    reservation = customer_requests.request_mnp_number(a.line1, actor=asker)
    assert reservation.status == "requested" and reservation.reservation_number is None
    with read_session() as s:
        call = s.get(ExternalOperation, reservation.external_operation_id)
    assert (call.provider, call.operation, call.status, call.line_id) == ("carrier", "mnp_reserve", "pending", a.line1)
    with pytest.raises(Conflict, match="発行手続き中"):
        customer_requests.request_mnp_number(a.line1, actor=customer_actor(a.admin_id))

    assert run_operation(call.id, client=carrier) == "succeeded"

    with read_session() as s:
        issued = s.get(MnpReservation, reservation.id)
        notices = s.exec(select(Notification).where(Notification.kind == "request")).all()
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "mnp_reservation.issue")).one()
    assert issued.status == "issued" and len(issued.reservation_number) == 10 and issued.reservation_number.isdigit()
    last_day = _carrier_today() + timedelta(days=14)
    assert issued.expires_on == last_day  # 15 days counting the day of issue, by the carrier's calendar
    assert _status(a.line1) == "active"  # the number is reserved; the line stays as it is
    in_app = next(n for n in notices if n.channel == "in_app")
    assert in_app.customer_user_id == a.asker_id and issued.reservation_number in in_app.body
    assert in_app.link.endswith(f"/go/line/{a.line1}") and f"{last_day:%Y年%m月%d日}" in in_app.body
    assert entry.actor_kind == "system"
    row = my.my_requests(actor=asker, line_id=a.line1)[0]
    assert (row["kind"], row["status"], row["reservation_number"], row["expires_on"]) == (
        "mnp", "done", issued.reservation_number, f"{last_day:%Y/%m/%d}")
    assert my.my_line(a.line1, actor=asker)["mnp"]["reservation_number"] == issued.reservation_number

    with pytest.raises(Conflict, match=f"有効なMNP予約番号があります（{issued.reservation_number}"):
        customer_requests.request_mnp_number(a.line1, actor=asker)
    again = carrier.call({"provider": "carrier", "operation": "mnp_reserve", "idempotency_key": "another-key",
                          "payload": {"msisdn": "819012345678"}})
    assert again.json()["reservation_number"] == issued.reservation_number  # one valid number per line


def test_an_mnp_number_past_its_last_day_is_expired_and_a_new_one_may_be_asked(clock, a, carrier):
    asker = customer_actor(a.asker_id)
    reservation = customer_requests.request_mnp_number(a.line1, actor=asker)
    run_operation(_mnp_call(reservation.id), client=carrier)
    clock.day(_carrier_today() + timedelta(days=15))
    row = my.my_requests(actor=asker, line_id=a.line1)[0]
    assert row["status"] == "expired" and row["steps"][-1]["key"] == "expired"
    assert customer_requests.request_mnp_number(a.line1, actor=asker).status == "requested"


def test_a_carrier_refusal_fails_the_reservation_and_says_so(a):
    asker = customer_actor(a.asker_id)
    reservation = customer_requests.request_mnp_number(a.line1, actor=asker)
    refusing = CarrierClient("http://carrier.test", transport=httpx.MockTransport(lambda request: httpx.Response(
        409, json={"error": "invalid_transition", "message": "mnp_reserve is not allowed"})))
    assert run_operation(reservation.external_operation_id, client=refusing) == "failed"
    with read_session() as s:
        assert s.get(MnpReservation, reservation.id).status == "failed"
        notice = s.exec(select(Notification).where(Notification.channel == "in_app")).one()
    assert notice.title == "MNP予約番号を発行できませんでした"
    assert my.my_requests(actor=asker)[0]["status"] == "failed"


# ---- SIM re-issue: a ticket for staff with the fee ------------------------------------------------------

def test_a_sim_reissue_is_a_ticket_for_staff_stating_the_fee_of_the_rate_table(world, a):
    with write_session() as s:
        s.add(ChargeRate(code="sim_issue", name="SIM発行手数料", kind="one_off", effective_from=date(2000, 1, 1),
                         amount=3000, tax_rate_percent=10, price_includes_tax=True))
    asker = customer_actor(a.asker_id)
    assert my.my_line(a.line1, actor=asker)["sim_fee"] == "￥3,300（税込）"

    ticket = customer_requests.request_sim_reissue(a.line1, actor=asker, reason="stolen", details="駅で盗まれました")

    with read_session() as s:
        message = s.exec(select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)).one()
    assert ticket.subject == "SIM再発行のお申し込み（090-1234-5678）" and ticket.priority == "high"
    assert ticket.line_id == a.line1 and message.author_kind == "customer" and message.author_id == a.asker_id
    assert "手数料: ￥3,300（税込）（次回のご請求に含まれます）" in message.body and "盗難: 駅で盗まれました" in message.body
    with pytest.raises(Conflict, match=f"T-{ticket.id:06d}"):
        customer_requests.request_sim_reissue(a.line1, actor=customer_actor(a.admin_id), reason="lost")
    row = my.my_requests(actor=asker, line_id=a.line1)[0]
    assert (row["kind"], row["status"], row["reference"]) == ("sim_reissue", "in_progress", f"T-{ticket.id:06d}")

    tickets.change_ticket_status(ticket.id, actor=world.actor("support"), event="resolve", reason="新しいSIMを発送")
    assert my.my_requests(actor=asker, line_id=a.line1)[0]["status"] == "done"
    assert _count(Ticket) == 1 and _count(ApprovalRequest) == 0


# ---- the line page's state: one request per form, only what the page offered ---------------------------------

def test_the_line_page_sends_the_request_it_offered_and_refuses_one_it_did_not(engine, world, monkeypatch):
    import pyotp
    import reflex as rx
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher
    from reflex.istate.data import RouterData
    from reflex_base import constants

    import telecom_app.telecom_app  # noqa: F401  (registers the pages and their dynamic route args)
    from services.security import customer_auth
    from state.feedback import NOT_OFFERED
    from state.my.line import MyLineState
    from telecom_app import routes

    monkeypatch.setattr(customer_auth, "_password_hash",
                        PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),)))
    line = world.active_line()
    secret, password = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "a quiet river under the bridge"
    customer_auth.provision_demo_customer_user(line.customer_id, email="boss@example.jp", name="法人 管理者",
                                               role="customer_admin", password=password, totp_secret=secret)
    step = customer_auth.begin_sign_in("boss@example.jp", password)
    token = customer_auth.redeem_ticket(customer_auth.verify_mfa(step.challenge_token, pyotp.TOTP(secret).now()))
    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"cookie": f"{routes.MY_SESSION_COOKIE}={token}"},
        constants.RouteVar.CLIENT_IP: "127.0.0.1", constants.RouteVar.PATH: routes.MY_LINE,
        constants.RouteVar.ORIGIN: routes.my_line(line.id), constants.RouteVar.QUERY: {"line_id": str(line.id)},
    })
    page = root.get_substate(MyLineState.get_full_name().split("."))

    MyLineState.load.fn(page)
    assert page.error == "" and page.line_view["id"] == line.id
    before = ledger(engine)
    MyLineState.open_form.fn(page, "resume")  # an active line: the page never offered it
    assert page.error == NOT_OFFERED and page.form_kind == "" and ledger(engine) == before

    MyLineState.open_form.fn(page, "suspend")
    MyLineState.submit_request.fn(page, {"reason": "other", "details": ""})
    assert page.field_errors == {"details": "「その他」を選んだときは、内容を入力してください。"}
    assert page.form_kind == "suspend" and _count(ApprovalRequest) == 0
    MyLineState.submit_request.fn(page, {"reason": "lost", "details": "タクシーで"})
    assert page.error == "" and "受付番号 #" in page.notice and "至急" in page.notice and page.form_kind == ""
    assert [r["kind"] for r in page.line_requests] == ["suspend"]
    assert {a["kind"]: a["allowed"] for a in page.line_actions}["suspend"] is False


def test_a_success_without_the_number_in_hand_fails_the_reservation_so_the_customer_asks_again(a):
    from services.workflow.reconciliation import settle_operation

    asker = customer_actor(a.asker_id)
    reservation = customer_requests.request_mnp_number(a.line1, actor=asker)
    settle_operation(reservation.external_operation_id, "succeeded", detail="キャリア照会: 反映済みを確認",
                     evidence={"source": "reconciliation", "lookup": "applied"})  # a look-up knows no number
    with read_session() as s:
        assert s.get(MnpReservation, reservation.id).status == "failed"
    assert customer_requests.request_mnp_number(a.line1, actor=asker).status == "requested"
