"""Demo customer sign-ins for the self-service app (/my), beside the staff ones (never for production).

    python -m demo.customers provision   # a 法人管理者 and a 利用者 of one demo company (idempotent), printed
    python -m demo.customers code admin  # the current authenticator code of a demo customer sign-in

The company is the first corporate customer of the demo data with at least two lines in service and an
issued bill; the 利用者 sees one of its lines only, and no bills.
"""

from __future__ import annotations

import argparse
import sys

import pyotp
from sqlalchemy import func
from sqlmodel import col, select

from services.models import Customer, Invoice, Line
from services.platform.db import read_session
from services.security.customer_auth import provision_demo_customer_user

# Demo-only credentials: printed by `make run` so that a new user can sign in to /my at once.
DEMO_CUSTOMERS = {
    "admin": ("corp-admin@demo.example", "法人管理者 デモ", "customer_admin", "DEMOCORPADMINAAJBSWY3DPEHPK3PXP2"),
    "user": ("corp-user@demo.example", "利用者 デモ", "user", "DEMOCORPUSERAAAJBSWY3DPEHPK3PXP2"),
}
DEMO_PASSWORD = "demo-customer-2026"


def demo_company() -> tuple[int, str, list[int]] | None:
    """(customer id, name, its active line ids) of the company the demo sign-ins belong to."""
    with read_session() as session:
        billed = select(Invoice.customer_id).where(Invoice.status == "issued", Invoice.kind == "invoice")
        row = session.exec(
            select(Customer.id, Customer.name).join(Line, Line.customer_id == Customer.id)
            .where(Customer.kind == "corporate", Line.status == "active", col(Customer.id).in_(billed))
            .group_by(Customer.id, Customer.name).having(func.count(Line.id) >= 2).order_by(Customer.id)).first()
        if row is None:
            return None
        lines = session.exec(select(Line.id).where(Line.customer_id == row[0], Line.status == "active")
                             .order_by(Line.id)).all()
    return row[0], row[1], list(lines)


def provision() -> None:
    """Create the demo customer sign-ins (if missing) and print them."""
    company = demo_company()
    if company is None:
        print("デモ用の法人顧客が見つからないため、マイページのデモ用ログインは作っていません。")
        return
    customer_id, name, lines = company
    print(f"\nマイページのデモ用ログイン（{name}） / demo customer sign-ins at /my/login:")
    for key, (email, person, role, secret) in DEMO_CUSTOMERS.items():
        provision_demo_customer_user(customer_id, email=email, name=person, role=role, password=DEMO_PASSWORD,
                                     totp_secret=secret, line_ids=tuple(lines[:1]) if role == "user" else ())
        print(f"  {key:<6} {email:<26} password: {DEMO_PASSWORD}  TOTP secret: {secret}")
    print("  現在の確認コード / current code:  .venv/bin/python -m demo.customers code admin\n")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("provision")
    code = sub.add_parser("code")
    code.add_argument("who", choices=sorted(DEMO_CUSTOMERS))
    args = parser.parse_args(argv)
    if args.command == "provision":
        provision()
    else:
        print(pyotp.TOTP(DEMO_CUSTOMERS[args.who][3]).now())
    return 0


if __name__ == "__main__":
    sys.exit(main())
