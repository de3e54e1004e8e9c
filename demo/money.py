"""Demo helpers for trying the money loop on one machine with the provider sandbox (never for production).

    python -m demo.money insufficient 2        # the bank sandbox answers 資金不足 for 2 customers of the newest 口座振替 file
    python -m demo.money next-step CASE_ID     # the next dunning step of a case now, as if its day had come
    python -m demo.money pay INVOICE_NO        # the customer pays what is owed by bank transfer (the sandbox notifies us)

The sandbox is the one `make run` starts (TELECOM_BANK_URL). `next-step` moves only the case's own schedule
and then runs the same dunning round beat runs every minute; everything it does is in the audit trail.
"""

from __future__ import annotations

import argparse
import sys

import httpx
from sqlmodel import col, select

import services.registry  # noqa: F401  (the notices go out through the registered providers)
from services.billing import dunning
from services.billing.allocation import allocated_amounts
from services.models import Customer, DirectDebitBatch, DirectDebitItem, DirectDebitMandate, DunningCase, Invoice
from services.models.base import utcnow
from services.platform import crypto
from services.platform.audit import record, snapshot
from services.platform.config import settings
from services.platform.db import read_session, write_session
from services.platform.permissions import SYSTEM

INSUFFICIENT_FUNDS = 1


def insufficient(count: int) -> int:
    """Tell the bank sandbox to answer 資金不足 for `count` customers of the newest 口座振替 file."""
    with read_session() as session:
        batch = session.exec(select(DirectDebitBatch).order_by(col(DirectDebitBatch.id).desc())).first()
        if batch is None:
            print("口座振替データがありません。先に「口座振替」画面で作成してください。")
            return 1
        rows = session.exec(select(DirectDebitMandate, Customer).join(DirectDebitItem, DirectDebitItem.mandate_id == DirectDebitMandate.id)
                            .join(Customer, Customer.id == DirectDebitMandate.customer_id)
                            .where(DirectDebitItem.batch_id == batch.id).order_by(DirectDebitItem.id).limit(count)).all()
    for mandate, customer in rows:
        response = httpx.post(f"{settings.bank_url}/_sandbox/debit-results", timeout=5,
                              json={"account_number": crypto.decrypt(mandate.account_number_enc), "code": INSUFFICIENT_FUNDS})
        response.raise_for_status()
        print(f"資金不足にします: {customer.name}（顧客番号 {mandate.customer_number.lstrip('0')}）")
    return 0


def next_step(case_id: int) -> int:
    """Bring one dunning case's next step to now and run the dunning round."""
    with write_session() as session:
        case = session.get(DunningCase, case_id)
        if case is None or case.next_step_at is None:
            print("その督促は見つからないか、次の段階がありません。")
            return 1
        before = snapshot(case)
        case.next_step_at = utcnow()
        session.add(case)
        record(session, SYSTEM, "dunning.demo_fast_forward", case, before=before,
               reason="デモ: 次の段階の日が来たものとして今すぐ実行")
    print(dunning.advance())
    return 0


def pay(invoice_no: str) -> int:
    """The customer transfers what is still owed on `invoice_no`, with the invoice number as the EDI."""
    with read_session() as session:
        invoice = session.exec(select(Invoice).where(Invoice.invoice_no == invoice_no)).first()
        if invoice is None:
            print("請求書が見つかりません。")
            return 1
        owed = invoice.total - allocated_amounts(session, [invoice.id])[invoice.id]
        customer = session.get(Customer, invoice.customer_id)
    if owed <= 0:
        print("この請求書は支払済みです。")
        return 1
    response = httpx.post(f"{settings.bank_url}/_sandbox/transfers", timeout=5,
                          json={"amount": owed, "payer_name": customer.name_kana, "edi": invoice_no})
    response.raise_for_status()
    print(f"{customer.name_kana} から {owed:,}円 の振込（EDI {invoice_no}）を銀行サンドボックスに入れました。")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m demo.money", description="お金まわりのデモ操作（試用専用）")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("insufficient").add_argument("count", type=int)
    sub.add_parser("next-step").add_argument("case_id", type=int)
    sub.add_parser("pay").add_argument("invoice_no")
    args = parser.parse_args(argv)
    if args.command == "insufficient":
        return insufficient(args.count)
    if args.command == "next-step":
        return next_step(args.case_id)
    return pay(args.invoice_no)


if __name__ == "__main__":
    sys.exit(main())
