"""Shipments (出荷) through the outbox: request, provider acceptance, forward-only tracking, returns."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from services.integrations.logistics import LogisticsClient
from services.ledger import inventory, lines, shipments
from services.models import AuditEntry, Device, Notification, ReviewItem, Shipment, SimCard
from services.platform.db import read_session
from services.platform.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from services.tasks.outbox import run_operation
from tests.unit.provider_fakes import FakeProvider, customer, deliver, json_answer, operations


def logistics(provider: FakeProvider) -> LogisticsClient:
    return LogisticsClient("http://logistics.test", transport=provider.transport())


def accepted(shipment_id: str = "shp_1", tracking: str = "123456789012") -> FakeProvider:
    return FakeProvider(json_answer(201, {"id": shipment_id, "tracking_number": tracking, "status": "accepted"}))


def shipment(shipment_id: int) -> Shipment:
    with read_session() as session:
        return session.get(Shipment, shipment_id)


def tracking(status: str, sequence: int, *, event_id: str | None = None, provider_id: str = "shp_1",
             order_ref: str = "") -> dict:
    return {"id": event_id or f"evt_{status}_{sequence}", "type": f"shipment.{status}", "sequence": sequence,
            "data": {"shipment_id": provider_id, "tracking_number": "123456789012", "order_ref": order_ref,
                     "status": status, "at": "2026-04-02T03:00:00+00:00"}}


def shipment_audits(shipment_id: int) -> list[str]:
    with read_session() as session:
        return [e.action for e in session.exec(select(AuditEntry).where(
            AuditEntry.entity_type == "shipment", AuditEntry.entity_id == shipment_id).order_by(AuditEntry.id))]


@pytest.fixture()
def line(world, admin):
    return world.line(world.contract(customer(admin, line_user_id="U123")))


def ship(line, actor) -> Shipment:
    return shipments.ship_to_customer(actor=actor, customer_id=line.customer_id, line_id=line.id)


def test_shipping_a_line_sends_its_sim_to_the_customer_address(engine, world, line, support):
    sent = ship(line, support)

    assert (sent.status, sent.item_type, sent.line_id) == ("requested", "sim", line.id)
    [op] = operations("logistics", shipment_id=sent.id)
    payload = json.loads(op.payload_json)
    assert payload["order_ref"] == f"SHP-{sent.id:06d}"
    with read_session() as session:
        iccid = session.get(SimCard, line.sim_card_id).iccid
    assert (payload["item_type"], payload["item_id"]) == ("sim", iccid)
    assert payload["recipient"] == {"name": "山田 太郎", "postal_code": "100-0001", "address": "東京都千代田区千代田1-1"}
    assert op.line_id is None  # the line's own operations are the carrier's
    assert shipment_audits(sent.id) == ["shipment.request"]


def test_a_second_shipment_of_the_same_sim_is_refused_while_the_first_is_live(engine, line, support):
    first = ship(line, support)

    with pytest.raises(Conflict, match=f"出荷 #{first.id}"):
        ship(line, support)

    assert len(operations("logistics")) == 1


def test_a_failed_shipment_may_be_sent_again(engine, line, support):
    first = ship(line, support)
    refused = FakeProvider(json_answer(400, {"error": "invalid_recipient", "message": "recipient"}))
    assert run_operation(operations("logistics")[0].id, client=logistics(refused)) == "failed"

    assert shipment(first.id).status == "failed"
    assert ship(line, support).status == "requested"


def test_a_customer_without_an_address_cannot_be_shipped_to(engine, world, admin, support):
    bare = world.line(world.contract(customer(admin, address=False)))
    with pytest.raises(ValidationFailed) as refused:
        ship(bare, support)
    assert "address" in refused.value.fields and operations("logistics") == []


def test_accounting_may_not_ship(engine, line, accounting):
    with pytest.raises(PermissionDenied):
        ship(line, accounting)


def test_acceptance_records_the_tracking_number_and_tells_the_customer(engine, line, support):
    sent = ship(line, support)
    provider = accepted()

    assert run_operation(operations("logistics")[0].id, client=logistics(provider)) == "succeeded"

    row = shipment(sent.id)
    assert (row.status, row.provider_shipment_id, row.tracking_number) == ("accepted", "shp_1", "123456789012")
    assert provider.posts()[0].url.path == "/shipments"
    with read_session() as session:
        told = session.exec(select(Notification).order_by(Notification.id)).all()
    assert [n.channel for n in told] == ["mail", "line", "in_app"]  # in-app: the notification centre
    assert all("123456789012" in n.body and n.link.endswith(f"/go/shipment/{sent.id}") for n in told)
    assert {o.operation for o in operations("messaging")} == {"mail", "push"}


def test_tracking_only_moves_forward_and_a_late_older_event_changes_nothing(engine, line, support):
    sent = ship(line, support)
    run_operation(operations("logistics")[0].id, client=logistics(accepted()))

    deliver("logistics", tracking("picked_up", 1))
    deliver("logistics", tracking("delivered", 3))
    late = deliver("logistics", tracking("in_transit", 2))

    row = shipment(sent.id)
    assert row.status == "delivered" and row.delivered_at is not None
    assert "stays delivered" in late
    assert shipment_audits(sent.id) == ["shipment.request", "shipment.accepted", "shipment.picked_up",
                                        "shipment.delivered"]


def test_a_repeated_delivery_event_has_one_effect(engine, line, support):
    sent = ship(line, support)
    run_operation(operations("logistics")[0].id, client=logistics(accepted()))

    deliver("logistics", tracking("delivered", 3, event_id="evt_a"))
    deliver("logistics", tracking("delivered", 3, event_id="evt_a"))
    deliver("logistics", tracking("delivered", 3, event_id="evt_b"))

    assert shipment_audits(sent.id).count("shipment.delivered") == 1


def test_tracking_before_the_ship_answer_settles_the_shipment_by_its_order_reference(engine, line, support):
    sent = ship(line, support)

    deliver("logistics", tracking("picked_up", 1, provider_id="shp_9", order_ref=f"SHP-{sent.id:06d}"))

    row = shipment(sent.id)
    assert (row.status, row.provider_shipment_id, row.tracking_number) == ("picked_up", "shp_9", "123456789012")
    assert operations("logistics")[0].status == "succeeded"
    assert run_operation(operations("logistics")[0].id, client=logistics(accepted("shp_9"))) == "skipped"


def test_a_return_is_only_possible_after_delivery_and_moves_on_when_accepted(engine, line, support):
    sent = ship(line, support)
    run_operation(operations("logistics")[0].id, client=logistics(accepted()))
    with pytest.raises(InvalidTransition):
        shipments.request_return(sent.id, actor=support, reason="解約")
    deliver("logistics", tracking("delivered", 3))

    shipments.request_return(sent.id, actor=support, reason="解約")
    with pytest.raises(Conflict):
        shipments.request_return(sent.id, actor=support, reason="解約")
    [ret] = operations("logistics", operation="return")
    provider = FakeProvider(json_answer(202, {"id": "shp_1", "status": "return_requested"}))
    assert run_operation(ret.id, client=logistics(provider)) == "succeeded"

    assert provider.posts()[0].url.path == "/shipments/shp_1/return"
    assert provider.body() == {"reason": "解約"}
    assert shipment(sent.id).status == "return_requested"
    deliver("logistics", tracking("returned", 6))
    assert shipment(sent.id).status == "returned"
    assert ship(line, support).status == "requested"  # a returned SIM may be sent again


def device_status(device_id: int) -> str:
    with read_session() as session:
        return session.get(Device, device_id).status


def review_kinds() -> list[str]:
    with read_session() as session:
        return [item.kind for item in session.exec(select(ReviewItem).order_by(ReviewItem.id))]


def shipped_device(world, admin, support) -> tuple[int, Shipment]:
    """A line with a device, and the device's shipment accepted by the provider."""
    device = world.device()
    line = lines.add_line(actor=admin, contract_id=world.contract(customer(admin)).id, msisdn="090-2000-0001",
                          iccid=world.sim().iccid, imei=device.imei)
    sent = shipments.ship_to_customer(actor=support, customer_id=line.customer_id, device_id=device.id)
    run_operation(operations("logistics")[0].id, client=logistics(accepted()))
    return device.id, sent


def test_a_device_becomes_shipped_when_it_leaves_the_warehouse_and_returned_when_it_comes_back(
        engine, world, admin, support):
    device_id, sent = shipped_device(world, admin, support)
    assert device_status(device_id) == "assigned"  # accepted, still in the warehouse

    deliver("logistics", tracking("in_transit", 2))  # pick-up event lost: in transit means it left
    deliver("logistics", tracking("delivered", 3))
    assert device_status(device_id) == "shipped"
    shipments.request_return(sent.id, actor=support, reason="機種変更")
    run_operation(operations("logistics", operation="return")[0].id, client=logistics(
        FakeProvider(json_answer(202, {"id": "shp_1", "status": "return_requested"}))))
    deliver("logistics", tracking("returned", 6))

    assert device_status(device_id) == "returned"
    with read_session() as session:
        audits = [e.action for e in session.exec(select(AuditEntry).where(
            AuditEntry.entity_type == "device", AuditEntry.entity_id == device_id).order_by(AuditEntry.id))]
    assert audits[-2:] == ["device.ship", "device.return"]
    assert review_kinds() == []


def test_a_device_whose_state_does_not_allow_shipping_is_reported_not_forced(engine, world, admin, support):
    device_id, sent = shipped_device(world, admin, support)
    inventory.change_device_status(device_id, actor=admin, event="report_faulty", reason="初期不良")

    deliver("logistics", tracking("picked_up", 1))
    deliver("logistics", tracking("picked_up", 1, event_id="evt_again"))

    assert device_status(device_id) == "faulty"
    assert review_kinds() == ["logistics.ship.stock_mismatch"]


def test_a_returned_sim_of_a_line_still_in_use_is_reported_for_staff(engine, line, support):
    sent = ship(line, support)
    run_operation(operations("logistics")[0].id, client=logistics(accepted()))
    deliver("logistics", tracking("delivered", 3))
    shipments.request_return(sent.id, actor=support, reason="誤送付")
    deliver("logistics", tracking("returned", 6))

    assert review_kinds() == ["logistics.return.stock_mismatch"]
    with read_session() as session:
        item = session.exec(select(ReviewItem)).one()
        assert item.line_id == line.id and "解約されていません" in item.reason
        assert session.get(SimCard, line.sim_card_id).status == "assigned"  # the line decides the SIM's state


def test_lookup_finds_shipments_and_returns_by_their_key(engine):
    rows = {"data": [{"id": "shp_1", "idempotency_key": "k-ship", "return_idempotency_key": "k-return"}]}
    client = logistics(FakeProvider(json_answer(200, rows)))
    assert (client.lookup("k-ship"), client.lookup("k-return"), client.lookup("k-other")) == (
        "applied", "applied", "not_applied")
    assert logistics(FakeProvider(json_answer(503, {}))).lookup("k-ship") == "unreachable"
