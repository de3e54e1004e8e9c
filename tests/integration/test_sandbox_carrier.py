"""The carrier sandbox over real HTTP: idempotent line operations, signed completion callbacks, the daily
report, the effects log and the demo page."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from datetime import datetime, timedelta, timezone

import httpx
import pytest

pytestmark = pytest.mark.integration

PROVIDERS = ["carrier"]  # started by the conftest sandbox fixture
SECRET = "carrier-test-secret"
JST = timezone(timedelta(hours=9))


@pytest.fixture()
def carrier(sandbox, receiver):
    """A fresh carrier (no lines, no faults, callbacks after 20 ms) and an empty receiver."""
    sandbox.reset("carrier")
    sandbox.configure("carrier", completion_delay_ms=20)
    receiver.clear()
    with httpx.Client(base_url=sandbox.url("carrier"), timeout=5) as client:
        yield client


def post(client: httpx.Client, path: str, key: str, **body) -> httpx.Response:
    return client.post(path, json=body, headers={"Idempotency-Key": key})


def activate(client: httpx.Client, msisdn: str, plan: str = "data-3gb") -> dict:
    response = post(client, f"/lines/{msisdn}/activate", f"act-{msisdn}", plan=plan, iccid="8981100000000000019")
    assert response.status_code == 202, response.text
    return response.json()


def signature_ok(body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


def test_second_suspend_request_with_the_same_key_suspends_once(carrier, sandbox):
    activate(carrier, "09011110001")
    first = post(carrier, "/lines/09011110001/suspend", "suspend-1", reason="unpaid")
    again = post(carrier, "/lines/09011110001/suspend", "suspend-1", reason="unpaid")

    assert first.status_code == again.status_code == 202
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert carrier.get("/lines/09011110001").json()["state"] == "suspended"
    suspensions = sandbox.effects("carrier", operation="suspend", msisdn="09011110001")
    assert [(e["idempotency_key"], e["msisdn"]) for e in suspensions] == [("suspend-1", "09011110001")]
    assert suspensions[0]["at"]


def test_an_idempotency_key_is_required_and_bound_to_its_request(carrier, sandbox):
    activate(carrier, "09011110002")
    missing = carrier.post("/lines/09011110002/suspend", json={})
    reused = post(carrier, "/lines/09011110002/resume", "act-09011110002")

    assert missing.status_code == 400 and missing.json()["error"] == "idempotency_key_required"
    assert reused.status_code == 422 and reused.json()["error"] == "idempotency_key_reused"
    assert [e["operation"] for e in sandbox.effects("carrier")] == ["activate"]


def test_line_lifecycle_and_a_forbidden_transition_kept_under_its_key(carrier, sandbox):
    msisdn = "09011110003"
    activate(carrier, msisdn)
    assert post(carrier, f"/lines/{msisdn}/plan", "plan-1", plan="data-20gb").status_code == 202
    assert post(carrier, f"/lines/{msisdn}/throttle", "thr-1", enabled=True).status_code == 202
    assert post(carrier, f"/lines/{msisdn}/suspend", "sus-1").status_code == 202
    refused = post(carrier, f"/lines/{msisdn}/suspend", "sus-2")
    assert refused.status_code == 409 and refused.json()["error"] == "invalid_transition"
    assert post(carrier, f"/lines/{msisdn}/suspend", "sus-2").json() == refused.json()  # replayed, not re-judged
    assert post(carrier, f"/lines/{msisdn}/resume", "res-1").status_code == 202
    assert post(carrier, f"/lines/{msisdn}/throttle", "thr-2", enabled=False).status_code == 202
    assert post(carrier, f"/lines/{msisdn}/terminate", "ter-1").status_code == 202
    assert post(carrier, f"/lines/{msisdn}/resume", "res-2").status_code == 409
    unknown = post(carrier, "/lines/09099999999/suspend", "sus-x")

    line = carrier.get(f"/lines/{msisdn}").json()
    assert (line["state"], line["plan"], line["throttled"]) == ("terminated", "data-20gb", False)
    assert unknown.status_code == 404
    assert [e["operation"] for e in sandbox.effects("carrier", msisdn=msisdn)] == [
        "activate", "change_plan", "throttle_on", "suspend", "resume", "throttle_off", "terminate"]


def test_completion_callbacks_are_signed_and_numbered_per_line(carrier, receiver, sandbox):
    activate(carrier, "09011110004")
    activate(carrier, "09011110005")
    accepted = post(carrier, "/lines/09011110004/suspend", "sus-4").json()
    own_url = receiver.url("/own-callback")
    post(carrier, "/lines/09011110005/suspend", "sus-5", callback_url=own_url)

    hooks = receiver.wait_for(3, "/hooks/carrier")
    own = receiver.wait_for(1, "/own-callback")
    for hook in hooks + own:
        assert signature_ok(hook.body, hook.headers["x-sandbox-signature"])
        assert hook.headers["x-sandbox-event-id"] == hook.json()["id"]
    by_line: dict[str, list[int]] = {}
    for hook in hooks + own:
        event = hook.json()
        assert event["type"] == "line.operation.completed" and event["data"]["result"] == "succeeded"
        by_line.setdefault(event["subject"], []).append(event["sequence"])
    assert sorted(by_line["09011110004"]) == [1, 2] and sorted(by_line["09011110005"]) == [1, 2]
    assert own[0].json()["data"]["operation"] == "suspend"
    assert len({hook.json()["id"] for hook in hooks + own}) == 4
    operation = carrier.get(f"/operations/{accepted['operation_id']}").json()
    assert operation["status"] == "completed" and operation["line"]["state"] == "suspended"
    by_key = carrier.get("/operations", params={"idempotency_key": "sus-4"}).json()["operations"]
    assert [op["operation_id"] for op in by_key] == [accepted["operation_id"]]


def test_daily_report_lists_every_line_state_and_usage(carrier, sandbox):
    today = datetime.now(JST).date()
    for msisdn in ("09011110006", "09011110007", "09011110008"):
        activate(carrier, msisdn)
    post(carrier, "/lines/09011110007/suspend", "sus-7")
    post(carrier, "/lines/09011110008/terminate", "ter-8")
    assert carrier.post("/_sandbox/usage", json={"msisdn": "09011110006", "date": today.isoformat(),
                                                 "usage_mb": 1234.5}).status_code == 200

    report = carrier.get("/reports/lines", params={"date": today.isoformat()})
    rows = list(csv.DictReader(io.StringIO(report.text)))
    yesterday = carrier.get("/reports/lines", params={"date": (today - timedelta(days=1)).isoformat()})

    assert report.headers["content-type"].startswith("text/csv")
    assert {r["msisdn"]: r["state"] for r in rows} == {
        "09011110006": "active", "09011110007": "suspended", "09011110008": "terminated"}
    usage = {r["msisdn"]: float(r["usage_mb"]) for r in rows}
    assert usage["09011110006"] == 1234.5 and usage["09011110007"] >= 0
    assert all(r["date"] == today.isoformat() and r["plan"] == "data-3gb" for r in rows)
    assert list(csv.DictReader(io.StringIO(yesterday.text))) == []  # the lines did not exist yet
    assert carrier.get("/reports/lines", params={"date": "2025-13-01"}).status_code == 400


def test_demo_page_lists_lines_and_the_log_in_japanese(carrier):
    activate(carrier, "09011110009")
    post(carrier, "/lines/09011110009/suspend", "demo-suspend")

    page = carrier.get("/")

    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for label in ("回線一覧", "処理ログ", "電話番号", "停止中", "冪等キー", "demo-suspend", "09011110009"):
        assert label in page.text


def test_adopting_unknown_lines_lets_a_demo_start_from_an_existing_ledger(carrier, sandbox):
    assert post(carrier, "/lines/819011112222/suspend", "adopt-0").status_code == 404
    sandbox.configure("carrier", adopt_unknown_lines=True)
    assert post(carrier, "/lines/819011112222/suspend", "adopt-1").status_code == 202
    assert carrier.get("/lines/819011112222").json()["state"] == "suspended"
    assert post(carrier, "/lines/819033334444/resume", "adopt-2").status_code == 202
    assert carrier.get("/lines/819033334444").json()["state"] == "active"


def test_lines_loaded_from_an_existing_ledger_appear_in_past_reports_and_known_ones_are_kept(carrier):
    today = datetime.now(JST).date()
    activate(carrier, "09011110020")
    week_ago = (datetime.now(JST) - timedelta(days=7)).isoformat()
    answer = carrier.post("/_sandbox/lines", json={"lines": [
        {"msisdn": "+819011110021", "state": "suspended", "since": week_ago},
        {"msisdn": "09011110020", "state": "terminated", "since": week_ago},  # already known: kept as it is
    ]})
    assert answer.json() == {"imported": 1, "known": 1}
    yesterday = carrier.get("/reports/lines", params={"date": (today - timedelta(days=1)).isoformat()})
    assert {r["msisdn"]: r["state"] for r in csv.DictReader(io.StringIO(yesterday.text))} == {
        "819011110021": "suspended"}
    assert carrier.get("/lines/09011110020").json()["state"] == "active"
    refused = carrier.post("/_sandbox/lines", json={"lines": [{"msisdn": "x", "state": "active", "since": week_ago}]})
    assert refused.status_code == 400
