"""Builders for unit tests: prerequisite ledger data made through the real services."""

from __future__ import annotations

import itertools
import uuid
from datetime import date

from sqlmodel import col, select

from services.billing import invoices, payments
from services.ledger import catalogue, contracts, customers, inventory, lines, tickets
from services.models import ExternalOperation, RatePlan, StaffUser
from services.platform.db import write_session
from services.platform.identifiers import luhn_complete
from services.platform.permissions import Actor, Role
from services.workflow import approvals, outbox


class World:
    """Builds prerequisite ledger data through the services, acting as admin."""

    def __init__(self, admin: Actor):
        self.admin = admin
        self._seq = itertools.count(1)

    def n(self) -> int:
        return next(self._seq)

    def plan(self) -> int:
        n = self.n()
        with write_session() as session:
            plan = RatePlan(code=f"PLAN-{n}", name=f"ベーシック{n}", monthly_fee=1980, data_cap_mb=3000)
            session.add(plan)
            session.flush()
            return plan.id

    def customer(self, name: str = "山田 太郎", kana: str = "ヤマダ タロウ") -> int:
        return customers.create_customer(actor=self.admin, kind="individual", name=name, name_kana=kana).id

    def documented_customer(self, number: str = "123456789012") -> int:
        """An individual with a birth date, an address and a driver's licence on file (ready for KYC)."""
        return customers.create_customer(
            actor=self.admin, kind="individual", name="鈴木 一郎", name_kana="スズキ イチロウ",
            birth_date=date(1985, 4, 1), postal_code="100-0001", address="東京都千代田区千代田1-1",
            id_document_type="drivers_license", id_document_number=number).id

    def verified_customer(self, number: str = "123456789012") -> int:
        """A documented customer whose identity check was confirmed in person (through approval)."""
        customer_id = self.documented_customer(number)
        self.approve("customer.kyc", {"customer_id": customer_id, "status": "verified", "method": "in_person"})
        return customer_id

    def priced_plan(self, monthly_fee: int = 2000, *, tax_rate_percent: int = 10) -> int:
        """A plan on sale through the catalogue (its price a version from today)."""
        n = self.n()
        return catalogue.create_plan(actor=self.admin, values={
            "code": f"P{n}", "name": f"プラン{n}", "monthly_fee": monthly_fee, "data_cap_mb": 3072,
            "throttled_kbps": 200, "tax_rate_percent": tax_rate_percent}).id

    def priced_option(self, monthly_fee: int = 500) -> int:
        """An option on sale through the catalogue."""
        n = self.n()
        return catalogue.create_option(actor=self.admin, values={
            "code": f"O{n}", "name": f"オプション{n}", "monthly_fee": monthly_fee}).id

    def active_contract(self, customer_id: int | None = None, plan_id: int | None = None):
        """A contract applied for and started today (its plan span opens today)."""
        customer_id = customer_id if customer_id is not None else self.customer()
        contract = contracts.create_contract(actor=self.admin, customer_id=customer_id,
                                             rate_plan_id=plan_id or self.priced_plan())
        contracts.change_contract_status(contract.id, actor=self.admin, event="apply", reason="申込書受領")
        return contracts.change_contract_status(contract.id, actor=self.admin, event="activate", reason="開始")

    def contract(self, customer_id: int | None = None):
        customer_id = customer_id if customer_id is not None else self.customer()
        return contracts.create_contract(actor=self.admin, customer_id=customer_id, rate_plan_id=self.plan())

    def sim(self):
        n = self.n()
        return inventory.register_sim(actor=self.admin, iccid=luhn_complete(f"8981100{n:011d}"),
                                      imsi=f"44010{n:010d}")

    def device(self):
        return inventory.register_device(actor=self.admin, imei=luhn_complete(f"35{self.n():012d}"),
                                         model="テスト端末")

    def line(self, contract=None):
        contract = contract if contract is not None else self.contract()
        return lines.add_line(actor=self.admin, contract_id=contract.id,
                              msisdn=f"090-1000-{self.n():04d}", iccid=self.sim().iccid)

    def staff(self, *, active: bool = True, role: str = "support") -> int:
        n = self.n()
        with write_session() as session:
            user = StaffUser(email=f"staff{n}@example.jp", display_name=f"担当者{n}", role=role,
                             password_hash="x", is_active=active)
            session.add(user)
            session.flush()
            return user.id

    def carrier_done(self, line_id: int, outcome: str = "succeeded") -> None:
        """Play the carrier's answer to every open outbox call of a line (no worker in unit tests)."""
        with write_session() as session:
            ops = session.exec(select(ExternalOperation.id).where(
                ExternalOperation.line_id == line_id,
                col(ExternalOperation.status).in_(["pending", "in_flight"]))).all()
        for op_id in ops:
            outbox.settle(op_id, outcome, detail="テスト: キャリア応答")

    def active_line(self, contract=None):
        """A line the carrier has activated."""
        line = self.line(contract)
        lines.change_line_status(line.id, actor=self.admin, event="activate", reason="開通")
        self.carrier_done(line.id)
        return line

    def actor(self, role: str = "admin") -> Actor:
        """A signed-in staff actor backed by a real StaffUser row (approvals need real people)."""
        staff_id = self.staff(role=role)
        return Actor(kind="staff", id=staff_id, role=Role(role), label=f"担当者{staff_id} <{role}>",
                     request_id=uuid.uuid4().hex)

    def approve(self, operation: str, params: dict, *, reason: str = "テストのため", **request_kwargs):
        """Run a gated operation the proper way: one person requests, another approves."""
        maker, checker = self.actor("admin"), self.actor("admin")
        request = approvals.request_approval(operation, params, actor=maker, reason=reason, **request_kwargs)
        return approvals.approve_request(request.id, actor=checker, expected_hash=request.params_hash)

    def ticket(self, customer_id: int | None = None):
        customer_id = customer_id if customer_id is not None else self.customer()
        return tickets.open_ticket(actor=self.admin, customer_id=customer_id, subject="通信できない",
                                   body="昨日から通信できません。")

    def invoice(self, contract=None, *, issued: bool = True, period: str = "2024-05",
                unit_price: int = 10000, quantity: int = 1):
        contract = contract if contract is not None else self.contract()
        invoice = invoices.create_invoice(
            actor=self.admin, contract_id=contract.id, period=period,
            items=[{"description": "月額基本料", "quantity": quantity, "unit_price": unit_price}])
        return invoices.issue_invoice(invoice.id, actor=self.admin) if issued else invoice

    def payment(self, amount: int = 11000, customer_id: int | None = None, method: str = "bank_transfer"):
        return payments.record_payment(actor=self.admin, amount=amount, method=method,
                                       payer_name="ヤマダ タロウ", customer_id=customer_id)
