"""Demo staff accounts, one per role, for trying the product locally (never for production).

    python -m demo.staff provision   # create them (idempotent) and print the sign-ins
    python -m demo.staff code ROLE   # print the current TOTP code of a demo account
"""

from __future__ import annotations

import argparse
import sys

import pyotp

from services.security.auth import provision_demo_staff

# Demo-only credentials: printed by `make run` so that a new user can sign in at once.
DEMO_STAFF = {
    "sales": ("sales@demo.example", "営業 花子", "DEMOSALESAAAAJBSWY3DPEHPK3PXP234"),
    "support": ("support@demo.example", "サポート 一郎", "DEMOSUPPORTAAJBSWY3DPEHPK3PXP234"),
    "accounting": ("accounting@demo.example", "経理 次郎", "DEMOACCOUNTINGJBSWY3DPEHPK3PXP23"),
    "admin": ("admin@demo.example", "管理者 三郎", "DEMOADMINAAAAJBSWY3DPEHPK3PXP234"),
    "auditor": ("auditor@demo.example", "監査 四郎", "DEMOAUDITORAAJBSWY3DPEHPK3PXP234"),
}
DEMO_PASSWORD = "demo-password-2026"


def provision() -> None:
    """Create the demo accounts (if missing) and print how to sign in with each."""
    print("\nデモ用ログイン（このマシンでの試用専用） / demo sign-ins:")
    for role, (email, name, secret) in DEMO_STAFF.items():
        provision_demo_staff(email, name, role, DEMO_PASSWORD, secret)
        uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="通信サービス管理")
        print(f"  {role:<10} {email:<26} password: {DEMO_PASSWORD}  TOTP secret: {secret}")
        print(f"             otpauth: {uri}")
    print("  現在の確認コード / current code:  .venv/bin/python -m demo.staff code support\n")


def current_code(role: str) -> str:
    """The TOTP code a demo account's authenticator would show now."""
    return pyotp.TOTP(DEMO_STAFF[role][2]).now()


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("provision")
    code = sub.add_parser("code")
    code.add_argument("role", choices=sorted(DEMO_STAFF))
    args = parser.parse_args(argv)
    if args.command == "provision":
        provision()
    else:
        print(current_code(args.role))
    return 0


if __name__ == "__main__":
    sys.exit(main())
