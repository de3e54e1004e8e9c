"""Network incidents (障害・メンテナンス) from the monitoring provider's webhooks, shown on every staff page."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

import telecom_app.telecom_app  # noqa: F401  (registers pages and states)
from services.integrations.http import sign
from services.models import AuditEntry, ReviewItem, ServiceIncident
from services.operations import incidents
from services.platform import installation_secrets
from services.platform.db import read_session
from services.workflow import webhooks
from state.admin.shell import UiState
from tests.unit.provider_fakes import deliver
from tests.unit.screens import signed_in_token, state_for


def event(status: str, sequence: int, *, kind: str = "outage", event_id: str | None = None, **data) -> dict:
    """A monitoring webhook about incident mon_1, as the provider sends it."""
    fields = {"id": "mon_1", "kind": kind, "status": status, "title": "東京都の一部でデータ通信がしにくい状況",
              "description": None, "services": ["data"], "areas": ["東京都"],
              "starts_at": "2026-11-26T01:00:00+00:00", "ends_at": None, **data}
    kind_of_event = "event.resolved" if status in incidents.FINAL_STATUSES else (
        "event.created" if sequence == 1 else "event.updated")
    return {"id": event_id or f"evt_{status}_{sequence}", "type": kind_of_event, "provider": "monitoring",
            "subject": "mon_1", "sequence": sequence, "data": fields}


def stored() -> list[ServiceIncident]:
    with read_session() as session:
        return list(session.exec(select(ServiceIncident).order_by(ServiceIncident.id)).all())


def audit_actions() -> list[str]:
    with read_session() as session:
        return [e.action for e in session.exec(select(AuditEntry).where(
            AuditEntry.entity_type == "service_incident").order_by(AuditEntry.id))]


def test_an_outage_is_recorded_updated_and_closed_with_each_change_audited_as_the_system(engine, support):
    deliver("monitoring", event("investigating", 1))
    deliver("monitoring", event("identified", 2, description="基地局の設備故障"))
    [current] = incidents.current_incidents(actor=support)
    assert (current["kind_label"], current["status_label"], current["description"]) == ("障害", "原因特定",
                                                                                         "基地局の設備故障")
    assert current["period"] == "開始 2026/11/26 10:00" and current["scope"] == "data・東京都"

    deliver("monitoring", event("resolved", 3, ends_at="2026-11-26T03:30:00+00:00"))

    [incident] = stored()
    assert incident.status == "resolved" and incident.ends_at is not None
    assert incidents.current_incidents(actor=support) == []
    assert audit_actions() == ["incident.open", "incident.update", "incident.close"]


def test_a_late_or_repeated_event_does_not_undo_a_newer_report(engine, support):
    deliver("monitoring", event("investigating", 1))
    deliver("monitoring", event("resolved", 3))
    late = deliver("monitoring", event("identified", 2))
    again = deliver("monitoring", event("resolved", 3, event_id="evt_resolved_again"))

    assert [i.status for i in stored()] == ["resolved"]
    assert "keeps report 3" in late and "keeps report 3" in again
    assert audit_actions() == ["incident.open", "incident.close"]


def test_maintenance_is_listed_until_it_is_completed_after_the_outages(engine, support):
    deliver("monitoring", event("scheduled", 1, kind="maintenance", id="mon_2", title="設備メンテナンス",
                                starts_at="2026-11-28T17:00:00+00:00", ends_at="2026-11-28T19:00:00+00:00"))
    deliver("monitoring", event("investigating", 1))

    listed = incidents.current_incidents(actor=support)

    assert [(i["kind"], i["status_label"]) for i in listed] == [("outage", "調査中"), ("maintenance", "予定")]
    assert listed[1]["period"] == "2026/11/29 02:00 〜 2026/11/29 04:00"


def test_an_unreadable_event_records_nothing_and_is_queued_for_a_person(engine):
    result = deliver("monitoring", event("exploded", 1))

    assert "queued for review" in result and stored() == []
    with read_session() as session:
        assert [i.kind for i in session.exec(select(ReviewItem))] == [incidents.INVALID_KIND]


def test_the_webhook_needs_the_provider_signature(engine, monkeypatch):
    monkeypatch.setattr(webhooks, "_enqueue", lambda row_id: None)
    body = json.dumps(event("investigating", 1)).encode()

    assert webhooks.accept("monitoring", body, "t=1,v1=forged")[0] == 401
    assert webhooks.accept("monitoring", body, sign(body, installation_secrets.webhook_secret("monitoring")))[0] == 200


def test_every_staff_page_shows_the_incidents_not_yet_over(engine):
    deliver("monitoring", event("investigating", 1))
    shell = state_for(UiState, signed_in_token("accounting"), "/admin")

    UiState.load_user.fn(shell)

    assert [(i["kind_label"], i["title"]) for i in shell.incidents] == [("障害", "東京都の一部でデータ通信がしにくい状況")]


@pytest.mark.parametrize("role", ["sales", "support", "accounting", "admin"])
def test_all_staff_may_read_the_incidents(engine, role, request):
    assert incidents.current_incidents(actor=request.getfixturevalue(role)) == []
