"""Settings read from the environment, with defaults for the embedded (one machine) mode."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Runtime settings; every value can be overridden by an environment variable."""

    database_url: str
    session_idle_minutes: int
    session_absolute_hours: int
    sign_in_max_failures: int
    sign_in_window_minutes: int
    app_url: str
    cookie_secure: bool
    oidc_issuer: str = ""  # single sign-on for staff (OpenID Connect); off while any of the three is empty
    oidc_client_id: str = ""
    oidc_client_secret: str = ""


def load_settings() -> Settings:
    """Read settings from the environment (TELECOM_* variables)."""
    default_db = f"sqlite:///{PROJECT_ROOT / 'data' / 'telecom.db'}"
    return Settings(
        database_url=os.environ.get("TELECOM_DATABASE_URL", default_db),
        session_idle_minutes=int(os.environ.get("TELECOM_SESSION_IDLE_MINUTES", "30")),
        session_absolute_hours=int(os.environ.get("TELECOM_SESSION_ABSOLUTE_HOURS", "12")),
        sign_in_max_failures=int(os.environ.get("TELECOM_SIGN_IN_MAX_FAILURES", "5")),
        sign_in_window_minutes=int(os.environ.get("TELECOM_SIGN_IN_WINDOW_MINUTES", "15")),
        app_url=os.environ.get("TELECOM_APP_URL", "http://localhost:3000"),
        cookie_secure=os.environ.get("TELECOM_COOKIE_SECURE", "0") == "1",
        oidc_issuer=os.environ.get("TELECOM_OIDC_ISSUER", "").strip(),
        oidc_client_id=os.environ.get("TELECOM_OIDC_CLIENT_ID", "").strip(),
        oidc_client_secret=os.environ.get("TELECOM_OIDC_CLIENT_SECRET", "").strip(),
    )


settings = load_settings()
