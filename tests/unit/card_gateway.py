"""Helpers for the card tests (paying on the gateway's page, the card on file) against the payment sandbox in process
(the `gateway` and `payment_client` fixtures of conftest.py): the outbox opening a page, the gateway's webhooks signed and
taken in through the real intake, the ledger as rows, and a signed-in 法人管理者's state of a customer app page."""

from __future__ import annotations

import json

import pyotp
import reflex as rx
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from reflex.istate.data import RouterData
from reflex_base import constants
from sqlmodel import SQLModel, select
from starlette.testclient import TestClient

from sandbox.webhooks import sign
from services.integrations.payment import PaymentClient
from services.models import ExternalOperation
from services.platform import installation_secrets
from services.platform.db import read_session
from services.security import customer_auth
from services.tasks import outbox
from services.workflow import webhooks
from telecom_app import routes


def open_page(client: PaymentClient, operation: str) -> ExternalOperation:
    """Play the outbox: send the waiting `operation` ("checkout", "card_setup") to the gateway."""
    with read_session() as s:
        op = s.exec(select(ExternalOperation).where(ExternalOperation.operation == operation,
                                                    ExternalOperation.status == "pending")).one()
    assert outbox.run_operation(op.id, client=client) == "succeeded"
    return op


def webhook_events(gateway: TestClient, kind: str) -> list[dict]:
    """The webhooks of type `kind` the gateway sent, as signed (without its delivery log)."""
    return [{k: v for k, v in e.items() if k != "delivered_to"} for e in gateway.sandbox.webhooks.events
            if e["type"] == kind]


def deliver(event: dict, sent_tasks: list[tuple]) -> str:
    """The webhook as the gateway signs it, through the intake (verify, store once) and its task."""
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    status, answer = webhooks.accept("payment", body, sign(installation_secrets.webhook_secret("payment"), body))
    assert status == 200
    if answer["duplicate"]:
        return "duplicate"
    return webhooks.process_event(sent_tasks[-1][1])


def ledger_rows(engine) -> dict[str, list[tuple]]:
    """Every table's rows, sorted: compare before and after to show that nothing was written."""
    with engine.connect() as conn:
        return {t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=repr)
                for t in SQLModel.metadata.sorted_tables}


def customer_token(monkeypatch, customer_id: int) -> str:
    """A signed-in 法人管理者 of the customer: their session cookie's token."""
    monkeypatch.setattr(customer_auth, "_password_hash",
                        PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),)))
    secret, password, email = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "a quiet river under the bridge", "boss@example.jp"
    customer_auth.provision_demo_customer_user(customer_id, email=email, name="法人 管理者", role="customer_admin",
                                               password=password, totp_secret=secret)
    step = customer_auth.begin_sign_in(email, password)
    return customer_auth.redeem_ticket(customer_auth.verify_mfa(step.challenge_token, pyotp.TOTP(secret).now()))


def my_state(cls, token: str, path: str, origin: str, query: dict[str, str]):
    """An instance of customer app state `cls` as the page `path` (at `origin`) sees it, signed in with `token`."""
    import telecom_app.telecom_app  # noqa: F401  (registers the pages and their dynamic route args)

    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"cookie": f"{routes.MY_SESSION_COOKIE}={token}", "origin": "http://app.test"},
        constants.RouteVar.CLIENT_IP: "127.0.0.1", constants.RouteVar.PATH: path, constants.RouteVar.ORIGIN: origin,
        constants.RouteVar.QUERY: query,
    })
    return root.get_substate(cls.get_full_name().split("."))
