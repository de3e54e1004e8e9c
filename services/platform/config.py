"""Settings read from the environment, with defaults for the embedded (one machine) mode.

Secrets have no defaults here: services.platform.installation_secrets holds them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def plain_http_allowed(scheme: str, host: str) -> bool:
    """Sign-in cookies may go without Secure only over plain http to this very machine."""
    return scheme == "http" and host.lower() in LOCAL_HOSTS


@dataclass(frozen=True)
class Issuer:
    """Who issues the invoices (適格請求書発行事業者): name, 登録番号 (T + 13 digits) and address, configured once."""

    name: str = "デモ通信株式会社"
    registration_number: str = "T7123456789012"  # a made-up number with a valid check digit (demo only)
    address: str = "東京都千代田区丸の内1-1-1"


@dataclass(frozen=True)
class Consignor:
    """The operator as the bank knows it for 口座振替 (委託者): the codes the bank gave and the account the
    money goes to; names in half-width katakana."""

    code: str = "1234567890"  # 委託者コード (10 digits)
    name: str = "ﾃﾞﾓﾂｳｼﾝ(ｶ)"  # 委託者名
    bank_code: str = "0009"
    bank_name: str = "ﾃﾞﾓｷﾞﾝｺｳ"
    branch_code: str = "001"
    branch_name: str = "ﾎﾝﾃﾝ"
    account_type: int = 1
    account_number: str = "1234567"


@dataclass(frozen=True)
class Settings:
    """Runtime settings; every value can be overridden by an environment variable."""

    database_url: str
    session_idle_minutes: int
    session_absolute_hours: int
    sign_in_max_failures: int
    sign_in_window_minutes: int
    sign_in_max_failures_per_network: int
    approval_expiry_hours: int
    app_url: str
    customer_session_idle_minutes: int = 60  # a customer's session ends after this long without a request
    customer_session_absolute_hours: int = 12  # ... and this long after signing in, whatever happens
    oidc_issuer: str = ""  # single sign-on for staff (OpenID Connect); off while any of the three is empty
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    # external calls (outbox, Celery, providers)
    broker_url: str = ""  # Celery broker; the embedded default is a SQLite file (no server)
    carrier_url: str = "http://127.0.0.1:9100"
    payment_url: str = "http://127.0.0.1:9101"
    bank_url: str = "http://127.0.0.1:9102"
    kyc_url: str = "http://127.0.0.1:9103"
    logistics_url: str = "http://127.0.0.1:9104"
    messaging_url: str = "http://127.0.0.1:9105"  # the LINE-style push API
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 9107
    mail_from: str = "noreply@telecom.example"
    carrier_connect_timeout_seconds: float = 2.0  # every provider's connect / read timeouts
    carrier_read_timeout_seconds: float = 5.0
    outbox_max_attempts: int = 5  # calls with an UNKNOWN outcome before the operation is left UNKNOWN (要確認)
    outbox_backoff_base_seconds: float = 1.0
    outbox_backoff_cap_seconds: float = 60.0
    outbox_stale_in_flight_seconds: int = 300  # an in-flight call older than this: its worker died
    outbox_lease_seconds: float = 30.0  # a relayed row is relayed again after this if no worker took it
    inbound_stalled_seconds: float = 60.0  # a stored webhook not processed by then is queued again
    relay_interval_seconds: float = 2.0
    reconcile_interval_seconds: float = 15.0
    # where this installation keeps what it generates for itself (embedded mode)
    key_file: Path = PROJECT_ROOT / "data" / "encryption.keys"  # data-encryption keys, newest first
    encryption_keys: tuple[str, ...] = ()  # keys given by the environment instead (then the file is not used)
    secrets_file: Path = PROJECT_ROOT / "data" / "secrets.json"  # generated webhook secrets and tokens
    # files customers and staff attach to tickets (by SHA-256, owner-only); None: beside a SQLite ledger, else data/
    attachments_dir: Path | None = None
    access_log: bool = True  # the web process writes an access log to stdout
    issuer: Issuer = Issuer()
    consignor: Consignor = Consignor()


def load_settings() -> Settings:
    """Read settings from the environment (TELECOM_* variables); `settings` is this read once at start.
    Code that must follow a change made after start (a key file swapped by a rotation or a test) reads
    them again with this function."""
    default_db = f"sqlite:///{PROJECT_ROOT / 'data' / 'telecom.db'}"
    return Settings(
        database_url=os.environ.get("TELECOM_DATABASE_URL", default_db),
        session_idle_minutes=int(os.environ.get("TELECOM_SESSION_IDLE_MINUTES", "30")),
        session_absolute_hours=int(os.environ.get("TELECOM_SESSION_ABSOLUTE_HOURS", "12")),
        sign_in_max_failures=int(os.environ.get("TELECOM_SIGN_IN_MAX_FAILURES", "5")),
        sign_in_window_minutes=int(os.environ.get("TELECOM_SIGN_IN_WINDOW_MINUTES", "15")),
        sign_in_max_failures_per_network=int(os.environ.get("TELECOM_SIGN_IN_MAX_FAILURES_PER_NETWORK", "20")),
        approval_expiry_hours=int(os.environ.get("TELECOM_APPROVAL_EXPIRY_HOURS", "72")),
        app_url=os.environ.get("TELECOM_APP_URL", "http://localhost:3000"),
        customer_session_idle_minutes=int(os.environ.get("TELECOM_CUSTOMER_SESSION_IDLE_MINUTES", "60")),
        customer_session_absolute_hours=int(os.environ.get("TELECOM_CUSTOMER_SESSION_ABSOLUTE_HOURS", "12")),
        oidc_issuer=os.environ.get("TELECOM_OIDC_ISSUER", "").strip(),
        oidc_client_id=os.environ.get("TELECOM_OIDC_CLIENT_ID", "").strip(),
        oidc_client_secret=os.environ.get("TELECOM_OIDC_CLIENT_SECRET", "").strip(),
        broker_url=os.environ.get("TELECOM_BROKER_URL", f"sqla+sqlite:///{PROJECT_ROOT / 'data' / 'broker.db'}"),
        carrier_url=os.environ.get("TELECOM_CARRIER_URL", "http://127.0.0.1:9100").rstrip("/"),
        payment_url=os.environ.get("TELECOM_PAYMENT_URL", "http://127.0.0.1:9101").rstrip("/"),
        bank_url=os.environ.get("TELECOM_BANK_URL", "http://127.0.0.1:9102").rstrip("/"),
        kyc_url=os.environ.get("TELECOM_KYC_URL", "http://127.0.0.1:9103").rstrip("/"),
        logistics_url=os.environ.get("TELECOM_LOGISTICS_URL", "http://127.0.0.1:9104").rstrip("/"),
        messaging_url=os.environ.get("TELECOM_MESSAGING_URL", "http://127.0.0.1:9105").rstrip("/"),
        smtp_host=os.environ.get("TELECOM_SMTP_HOST", "127.0.0.1"),
        smtp_port=int(os.environ.get("TELECOM_SMTP_PORT", "9107")),
        mail_from=os.environ.get("TELECOM_MAIL_FROM", "noreply@telecom.example"),
        carrier_connect_timeout_seconds=float(os.environ.get("TELECOM_CARRIER_CONNECT_TIMEOUT_SECONDS", "2")),
        carrier_read_timeout_seconds=float(os.environ.get("TELECOM_CARRIER_READ_TIMEOUT_SECONDS", "5")),
        outbox_max_attempts=int(os.environ.get("TELECOM_OUTBOX_MAX_ATTEMPTS", "5")),
        outbox_backoff_base_seconds=float(os.environ.get("TELECOM_OUTBOX_BACKOFF_BASE_SECONDS", "1")),
        outbox_backoff_cap_seconds=float(os.environ.get("TELECOM_OUTBOX_BACKOFF_CAP_SECONDS", "60")),
        outbox_stale_in_flight_seconds=int(os.environ.get("TELECOM_OUTBOX_STALE_IN_FLIGHT_SECONDS", "300")),
        outbox_lease_seconds=float(os.environ.get("TELECOM_OUTBOX_LEASE_SECONDS", "30")),
        inbound_stalled_seconds=float(os.environ.get("TELECOM_INBOUND_STALLED_SECONDS", "60")),
        relay_interval_seconds=float(os.environ.get("TELECOM_RELAY_INTERVAL_SECONDS", "2")),
        reconcile_interval_seconds=float(os.environ.get("TELECOM_RECONCILE_INTERVAL_SECONDS", "15")),
        key_file=Path(os.environ.get("TELECOM_KEY_FILE", PROJECT_ROOT / "data" / "encryption.keys")),
        encryption_keys=tuple(k.strip() for k in os.environ.get("TELECOM_ENCRYPTION_KEYS", "").split(",") if k.strip()),
        secrets_file=Path(os.environ.get("TELECOM_SECRETS_FILE", PROJECT_ROOT / "data" / "secrets.json")),
        attachments_dir=Path(os.environ["TELECOM_ATTACHMENTS_DIR"]) if os.environ.get("TELECOM_ATTACHMENTS_DIR") else None,
        access_log=os.environ.get("TELECOM_ACCESS_LOG", "1") != "0",
        issuer=Issuer(
            name=os.environ.get("TELECOM_ISSUER_NAME", Issuer.name).strip(),
            registration_number=os.environ.get("TELECOM_ISSUER_REGISTRATION_NUMBER", Issuer.registration_number).strip(),
            address=os.environ.get("TELECOM_ISSUER_ADDRESS", Issuer.address).strip(),
        ),
        consignor=Consignor(
            code=os.environ.get("TELECOM_DEBIT_CONSIGNOR_CODE", Consignor.code).strip(),
            name=os.environ.get("TELECOM_DEBIT_CONSIGNOR_NAME", Consignor.name).strip(),
            bank_code=os.environ.get("TELECOM_DEBIT_BANK_CODE", Consignor.bank_code).strip(),
            bank_name=os.environ.get("TELECOM_DEBIT_BANK_NAME", Consignor.bank_name).strip(),
            branch_code=os.environ.get("TELECOM_DEBIT_BRANCH_CODE", Consignor.branch_code).strip(),
            branch_name=os.environ.get("TELECOM_DEBIT_BRANCH_NAME", Consignor.branch_name).strip(),
            account_type=int(os.environ.get("TELECOM_DEBIT_ACCOUNT_TYPE", Consignor.account_type)),
            account_number=os.environ.get("TELECOM_DEBIT_ACCOUNT_NUMBER", Consignor.account_number).strip(),
        ),
    )


def secret_from_environment(variable: str) -> str:
    """A secret the environment gives (read at each use, never kept in `settings` or printed); "" if unset."""
    return os.environ.get(variable, "").strip()


settings = load_settings()
