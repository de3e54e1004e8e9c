"""Fakes of the KYC, logistics and messaging providers for unit tests: httpx MockTransport and a fake SMTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
from sqlmodel import col, select

from services.ledger import customers
from services.models import Customer, ExternalOperation, InboundEvent
from services.platform.db import read_session, write_session
from services.workflow import webhooks


class FakeProvider:
    """An httpx MockTransport that records every request and answers with `answer(request)`."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]):
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return self.answer(request)

        return httpx.MockTransport(handle)

    def posts(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST"]

    def body(self, index: int = 0) -> dict[str, Any]:
        return json.loads(self.posts()[index].content)


def json_answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
    return lambda request: httpx.Response(status, json=body, headers=headers)


class FakeSmtp:
    """Stands in for smtplib.SMTP: keeps sent messages, or raises `fail_with` on send."""

    sent: list[Any] = []
    connections: list[tuple[str, int, float]] = []
    fail_with: Exception | None = None

    def __init__(self, host: str, port: int, timeout: float):
        FakeSmtp.connections.append((host, port, timeout))

    def send_message(self, message):
        if FakeSmtp.fail_with is not None:
            raise FakeSmtp.fail_with
        FakeSmtp.sent.append(message)
        return {}

    def quit(self):
        return (221, b"bye")

    def close(self):
        pass

    @classmethod
    def reset(cls) -> None:
        cls.sent, cls.connections, cls.fail_with = [], [], None


def customer(admin, *, email: str | None = "yamada@example.jp", line_user_id: str | None = None,
             birth_date: date | None = date(1990, 4, 1), document: str | None = "drivers_license",
             address: bool = True) -> int:
    """An individual customer with the contact and identity data the providers need (each may be left out)."""
    cid = customers.create_customer(
        actor=admin, kind="individual", name="山田 太郎", name_kana="ヤマダ タロウ", email=email,
        birth_date=birth_date, id_document_type=document, postal_code="100-0001" if address else None,
        address="東京都千代田区千代田1-1" if address else None).id
    if line_user_id:
        with write_session() as session:
            row = session.get(Customer, cid)
            row.line_user_id = line_user_id
            session.add(row)
    return cid


def operations(provider: str, **where) -> list[ExternalOperation]:
    """The outbox rows of a provider (filtered by column values), oldest first."""
    with read_session() as session:
        query = select(ExternalOperation).where(ExternalOperation.provider == provider)
        for name, value in where.items():
            query = query.where(getattr(ExternalOperation, name) == value)
        return list(session.exec(query.order_by(col(ExternalOperation.id))))


def deliver(provider: str, event: dict[str, Any]) -> str:
    """Store a provider's webhook once under its event id (as webhooks.accept does) and process it."""
    with write_session() as session:
        row_id = session.exec(select(InboundEvent.id).where(InboundEvent.provider == provider,
                                                            InboundEvent.event_id == event["id"])).first()
        if row_id is None:
            row = InboundEvent(provider=provider, event_id=event["id"], event_type=event["type"],
                               payload_json=json.dumps(event, ensure_ascii=False))
            session.add(row)
            session.flush()
            row_id = row.id
    return webhooks.process_event(row_id)
