"""The providers that answer later by webhook, over real HTTP: KYC results, logistics tracking and returns,
monitoring outage and maintenance events."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest

pytestmark = pytest.mark.integration

PROVIDERS = ["kyc", "logistics", "monitoring"]  # started by the conftest sandbox fixture
SECRET = "async-test-secret"
ICCID = "8981100000000000019"


@pytest.fixture(autouse=True)
def fresh(sandbox, receiver):
    sandbox.reset()
    sandbox.configure("kyc", result_delay_ms=50)
    sandbox.configure("logistics", step_delay_ms=30)
    receiver.clear()


def post(endpoint: str, key: str | None = None, **body) -> httpx.Response:
    return httpx.post(endpoint, json=body, headers={"Idempotency-Key": key} if key else {}, timeout=5)


def events(hooks) -> list[dict]:
    for hook in hooks:
        expected = "sha256=" + hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(expected, hook.headers["x-sandbox-signature"])
    return sorted((hook.json() for hook in hooks), key=lambda e: (e["subject"], e["sequence"]))


def test_kyc_check_is_pending_then_approved_by_webhook(sandbox, receiver):
    kyc = sandbox.url("kyc")
    submitted = post(f"{kyc}/checks", "kyc-1", applicant_ref="CUS-1", name="山田 太郎", birth_date="1990-04-01",
                     document_type="my_number_card")
    again = post(f"{kyc}/checks", "kyc-1", applicant_ref="CUS-1", name="山田 太郎", birth_date="1990-04-01",
                 document_type="my_number_card")

    assert submitted.status_code == 202 and submitted.json()["status"] == "pending"
    assert again.json()["id"] == submitted.json()["id"]
    event = events(receiver.wait_for(1, "/hooks/kyc"))[0]
    assert (event["type"], event["data"]["result"], event["data"]["check_id"]) == (
        "check.completed", "approved", submitted.json()["id"])
    assert httpx.get(f"{kyc}/checks/{submitted.json()['id']}").json()["status"] == "approved"
    assert [e["operation"] for e in sandbox.effects("kyc")] == ["submit", "decide"]


def test_kyc_outcome_is_configurable(sandbox, receiver):
    kyc = sandbox.url("kyc")
    sandbox.configure("kyc", outcome="rejected", reject_reasons=["face_mismatch"])
    rejected = post(f"{kyc}/checks", "kyc-2", applicant_ref="CUS-2", name="佐藤 花子").json()
    approved = post(f"{kyc}/checks", "kyc-3", applicant_ref="CUS-3", name="鈴木 一郎",
                    sandbox_outcome="approved").json()

    results = {e["data"]["check_id"]: (e["data"]["result"], e["data"]["reasons"])
               for e in events(receiver.wait_for(2, "/hooks/kyc"))}
    assert results == {rejected["id"]: ("rejected", ["face_mismatch"]), approved["id"]: ("approved", [])}
    found = httpx.get(f"{kyc}/checks", params={"idempotency_key": "kyc-2"}).json()["data"]
    assert [c["status"] for c in found] == ["rejected"]


def test_a_shipped_sim_is_tracked_to_delivery_and_returned(sandbox, receiver):
    logistics = sandbox.url("logistics")
    recipient = {"name": "山田 太郎", "postal_code": "100-0001", "address": "東京都千代田区千代田1-1"}
    shipped = post(f"{logistics}/shipments", "ship-1", order_ref="ORD-1", item_type="sim", item_id=ICCID,
                   recipient=recipient)
    again = post(f"{logistics}/shipments", "ship-1", order_ref="ORD-1", item_type="sim", item_id=ICCID,
                 recipient=recipient)
    early_return = post(f"{logistics}/shipments/{shipped.json()['id']}/return", "ret-early")

    assert shipped.status_code == 201 and again.json() == shipped.json()
    assert len(shipped.json()["tracking_number"]) == 12
    assert early_return.status_code == 409
    outbound = events(receiver.wait_for(3, "/hooks/logistics"))
    assert [(e["type"], e["sequence"]) for e in outbound] == [
        ("shipment.picked_up", 1), ("shipment.in_transit", 2), ("shipment.delivered", 3)]

    returned = post(f"{logistics}/shipments/{shipped.json()['id']}/return", "ret-1", reason="解約")
    assert returned.status_code == 202
    back = events(receiver.wait_for(6, "/hooks/logistics"))[3:]
    assert [e["type"] for e in back] == ["shipment.return_requested", "shipment.return_in_transit",
                                         "shipment.returned"]
    shipment = httpx.get(f"{logistics}/shipments/{shipped.json()['id']}").json()
    assert shipment["status"] == "returned"
    assert [e["operation"] for e in sandbox.effects("logistics")] == ["ship", "return"]


def test_a_device_needs_an_imei(sandbox):
    answer = post(f"{sandbox.url('logistics')}/shipments", "ship-2", order_ref="ORD-2", item_type="device",
                  item_id=ICCID, recipient={"name": "A", "postal_code": "1", "address": "B"})
    assert answer.status_code == 400 and sandbox.effects("logistics") == []


def test_outage_and_maintenance_events_reach_every_subscriber(sandbox, receiver):
    monitoring = sandbox.url("monitoring")
    subscribed = post(f"{monitoring}/subscriptions", url=receiver.url("/subscriber"))
    outage = post(f"{monitoring}/_sandbox/events", kind="outage", title="東京都の一部でデータ通信障害",
                  services=["mobile_data"], areas=["東京都"]).json()
    maintenance = post(f"{monitoring}/_sandbox/events", kind="maintenance", title="設備メンテナンス",
                       starts_at="2024-12-01T01:00:00+09:00", ends_at="2024-12-01T05:00:00+09:00").json()
    resolved = post(f"{monitoring}/_sandbox/events/{outage['id']}", status="resolved")

    assert subscribed.status_code == 201 and resolved.json()["ends_at"]
    to_config = events(receiver.wait_for(3, "/hooks/monitoring"))
    to_subscriber = events(receiver.wait_for(3, "/subscriber"))
    assert [(e["type"], e["data"]["status"]) for e in to_config if e["subject"] == outage["id"]] == [
        ("event.created", "investigating"), ("event.resolved", "resolved")]
    assert {e["id"] for e in to_config} == {e["id"] for e in to_subscriber}
    listed = httpx.get(f"{monitoring}/events").json()["events"]
    assert {(e["kind"], e["status"]) for e in listed} == {("outage", "resolved"), ("maintenance", "scheduled")}
    assert httpx.get(f"{monitoring}/events/{maintenance['id']}").json()["title"] == "設備メンテナンス"
    assert httpx.get(f"{monitoring}/events", params={"status": "scheduled"}).json()["events"][0]["id"] \
        == maintenance["id"]
