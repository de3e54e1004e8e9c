"""Data caps: a line over its plan's cap is throttled at the carrier (and released in a new month),
the ledger shows 速度制限中 only once the carrier confirmed, and the carrier's report is compared."""

from __future__ import annotations

import json
from datetime import date, timedelta

import httpx
from sqlmodel import select

from services.integrations.carrier import CarrierClient
from services.ledger import lines, usage_caps
from services.models import AuditEntry, Line, ReviewItem, UsageRecord
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session, write_session
from services.read.staff import views
from services.tasks.outbox import run_operation
from services.workflow import outbox
from services.workflow.reconciliation import resync_operation
from tests.unit.provider_fakes import FakeProvider, json_answer, operations

TODAY = today_in_tokyo()


def use(line_id: int, mb: int, day: date = TODAY) -> None:
    with write_session() as session:
        session.add(UsageRecord(line_id=line_id, day=day, used_mb=mb))


def throttle_ops(line_id: int) -> list[tuple[str, str]]:
    return [(o.operation, o.status) for o in operations("carrier", line_id=line_id)
            if o.operation.startswith("throttle")]


def throttled(line_id: int) -> bool:
    with read_session() as session:
        return session.get(Line, line_id).throttled


def audits(line_id: int) -> list[str]:
    with read_session() as session:
        return [e.action for e in session.exec(select(AuditEntry).where(
            AuditEntry.line_id == line_id, AuditEntry.action.startswith("line.throttle")).order_by(AuditEntry.id))]


def answering(status: int = 202) -> FakeProvider:
    return FakeProvider(json_answer(status, {"operation_id": "op_1", "status": "accepted"}))


def carrier(provider: FakeProvider | None = None) -> CarrierClient:
    return CarrierClient("http://carrier.test", transport=(provider or answering()).transport())


def test_a_line_over_its_cap_is_throttled_once_the_carrier_confirms(world):
    line = world.active_line()  # plan cap 3,000 MB
    use(line.id, 3200)

    assert usage_caps.enforce(TODAY) == {"throttle_on": 1, "throttle_off": 0}
    assert usage_caps.enforce(TODAY) == {"throttle_on": 0, "throttle_off": 0}  # the call is under way
    assert not throttled(line.id)
    assert "速度制限はキャリアの確認待ち" in views.line_detail(line.id, actor=world.actor())["month"]["summary"]

    provider = answering()
    [op] = operations("carrier", operation="throttle_on")
    assert run_operation(op.id, client=carrier(provider)) == "succeeded"

    sent = provider.posts()[0]
    assert sent.url.path == f"/lines/{line.msisdn.lstrip('+')}/throttle" and json.loads(sent.content) == {"enabled": True}
    assert throttled(line.id) and audits(line.id) == ["line.throttle_request", "line.throttle_on"]
    detail = views.line_detail(line.id, actor=world.actor())
    assert detail["line"]["throttled"] and "速度制限中・200 kbps" in detail["month"]["summary"]
    assert usage_caps.enforce(TODAY) == {"throttle_on": 0, "throttle_off": 0}


def test_a_new_month_releases_the_speed_limit(world):
    line = world.active_line()
    use(line.id, 3200, TODAY.replace(day=1))
    usage_caps.enforce(TODAY)
    run_operation(operations("carrier", operation="throttle_on")[0].id, client=carrier())

    next_month = (TODAY.replace(day=1) + timedelta(days=32)).replace(day=1)
    assert usage_caps.enforce(next_month) == {"throttle_on": 0, "throttle_off": 1}
    run_operation(operations("carrier", operation="throttle_off")[0].id, client=carrier())

    assert not throttled(line.id)
    assert audits(line.id) == ["line.throttle_request", "line.throttle_on", "line.throttle_request", "line.throttle_off"]


def test_lines_under_their_cap_suspended_or_without_a_cap_are_left_alone(world, admin):
    under, suspended = world.active_line(), world.active_line()
    use(under.id, 2999)
    use(suspended.id, 5000)
    world.approve("line.suspend", {"line_id": suspended.id, "event": "suspend"})
    world.carrier_done(suspended.id)

    assert usage_caps.enforce(TODAY) == {"throttle_on": 0, "throttle_off": 0}


def test_a_refused_speed_limit_waits_for_a_person_and_is_not_asked_again_this_month(world):
    line = world.active_line()
    use(line.id, 3200)
    usage_caps.enforce(TODAY)

    assert run_operation(operations("carrier", operation="throttle_on")[0].id, client=carrier(answering(409))) == "failed"

    assert not throttled(line.id) and throttle_ops(line.id) == [("throttle_on", "failed")]
    assert usage_caps.enforce(TODAY) == {"throttle_on": 0, "throttle_off": 0}
    with read_session() as session:
        assert [i.kind for i in session.exec(select(ReviewItem))] == ["carrier.throttle_on.failed"]


def test_an_unknown_speed_limit_is_looked_up_and_resent_without_touching_the_line_state(world):
    line = world.active_line()
    use(line.id, 3200)
    usage_caps.enforce(TODAY)
    [op] = operations("carrier", operation="throttle_on")
    outbox.settle(op.id, "unknown", detail="timeout")

    not_there = CarrierClient("http://carrier.test", transport=httpx.MockTransport(
        lambda request: httpx.Response(200, json={"operations": []})))
    result = resync_operation(op.id, client=not_there)

    assert result["status"] == "pending"  # sent again with the same key
    with read_session() as session:
        assert session.get(Line, line.id).status == "active"


def test_a_line_suspended_with_a_speed_limit_call_still_confirms_its_suspension(world):
    line = world.active_line()
    use(line.id, 3200)
    usage_caps.enforce(TODAY)  # throttle_on queued
    world.approve("line.suspend", {"line_id": line.id, "event": "suspend"})
    [suspend] = operations("carrier", operation="suspend")
    [throttle] = operations("carrier", operation="throttle_on")
    assert throttle.id < suspend.id

    run_operation(throttle.id, client=carrier())
    run_operation(suspend.id, client=carrier())

    with read_session() as session:
        assert session.get(Line, line.id).status == "suspended"
    assert throttled(line.id)


def test_changing_a_lines_state_by_hand_is_not_blocked_by_the_speed_limit(world):
    line = world.active_line()
    use(line.id, 3200)
    usage_caps.enforce(TODAY)

    lines.change_line_status(line.id, actor=world.actor("admin"), event="hold", reason="確認")

    with read_session() as session:
        assert session.get(Line, line.id).status == "pending"
