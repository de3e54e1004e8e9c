"""Unit-test fixtures shared by the sign-in and staff tests: a movable clock and cheap hashing; and by the card tests:
the payment gateway sandbox in process and the product's client of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from starlette.testclient import TestClient

from sandbox.payment import PaymentSandbox
from services.integrations.payment import PaymentClient
from services.security import auth
from services.workflow.approval_gate import approved
from tests.unit.builders import World

START = datetime(2026, 4, 1, 0, 0, 10, tzinfo=UTC)  # 10 s into a 30 s TOTP step


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    """Cheap argon2id parameters so the suite stays fast (production cost is tested separately)."""
    monkeypatch.setattr(auth, "_password_hash",
                        PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),)))


@pytest.fixture(autouse=True)
def queued_runs(monkeypatch) -> list[tuple[str, str]]:
    """Unit tests have no broker: a 再突合 a service queues is recorded here, not sent to a worker."""
    from services.workflow import daily_reconciliation

    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(daily_reconciliation, "_enqueue", lambda source, day: sent.append((source, day.isoformat())))
    return sent


@pytest.fixture(autouse=True)
def sent_tasks(monkeypatch) -> list[tuple]:
    """Unit tests have no broker: a task a service sends by name (a billing run's drafts …) is recorded here;
    the tests run the task's service function themselves."""
    from services.workflow import dispatch

    sent: list[tuple] = []
    monkeypatch.setattr(dispatch, "send", lambda task, *args: sent.append((task, *args)))
    return sent


@pytest.fixture()
def clock(monkeypatch) -> FakeClock:
    """Replace the sign-in clock with one the test moves."""
    fake = FakeClock(START)
    monkeypatch.setattr(auth, "clock", fake)
    return fake


@pytest.fixture()
def world(engine, admin) -> World:
    """Builds prerequisite ledger data through the real services, as admin."""
    return World(admin)


@pytest.fixture()
def approved_execution():
    """Run gated invoice and refund operations as if approved (for tests of the operations themselves)."""
    with approved("invoice.void", "payment.refund"):
        yield


@pytest.fixture()
def gateway():
    """The payment sandbox in process; its webhooks are kept (no URL) and sent at once."""
    sandbox = PaymentSandbox()
    with TestClient(sandbox.app(), follow_redirects=False) as client:
        client.post("/_sandbox/config", json={"webhook_delay_ms": 0})
        client.sandbox = sandbox
        yield client


@pytest.fixture()
def payment_client(gateway) -> PaymentClient:
    """The product's gateway client, its requests answered by the in-process sandbox."""
    def forward(request: httpx.Request) -> httpx.Response:
        answer = gateway.request(request.method, request.url.raw_path.decode(), content=request.content,
                                 headers={k: v for k, v in request.headers.items() if k.lower() != "host"})
        return httpx.Response(answer.status_code, content=answer.content, headers=answer.headers)

    return PaymentClient("http://testserver", transport=httpx.MockTransport(forward), read_timeout=5)
