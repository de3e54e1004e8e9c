"""Per-installation secrets: the signing key of each provider's webhooks and the LINE channel token.

No secret has a default anyone could read in the source. Each one comes from its environment
variable (TELECOM_WEBHOOK_SECRET_CARRIER, ..., TELECOM_LINE_CHANNEL_TOKEN) or, failing that, from
the installation's secrets file (TELECOM_SECRETS_FILE, default data/secrets.json, owner-only).
`make run` creates that file on first start with fresh random values (`python -m
services.platform.installation_secrets ensure`) and hands the same file to the provider sandbox. The web
app and the worker refuse to start (`require_all`) when a secret is missing, is a value published
as a default somewhere, or is too short to be a key, and say which one.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from functools import lru_cache
from pathlib import Path

from services.platform.config import load_settings, secret_from_environment

WEBHOOK_PROVIDERS = ("carrier", "payment", "bank", "kyc", "logistics", "monitoring")
LINE_CHANNEL_TOKEN = "line_channel_token"
SECRET_NAMES = (*(f"webhook_{provider}" for provider in WEBHOOK_PROVIDERS), LINE_CHANNEL_TOKEN)
MIN_LENGTH = 32  # characters; a generated secret has 43 (256 bits, URL-safe base64)

# Values that stood as defaults in this project or its samples: never accepted, whatever their length.
KNOWN_DEFAULTS = frozenset({
    "sandbox-dev-webhook-secret", "sandbox-line-token", "changeme", "change-me", "secret", "password",
    "test", "dev", "development",
})


class InsecureConfiguration(Exception):
    """A secret is missing or unsafe; the message names each one and how to set it."""


def env_name(name: str) -> str:
    """The environment variable of one secret: webhook_carrier -> TELECOM_WEBHOOK_SECRET_CARRIER."""
    if name.startswith("webhook_"):
        return f"TELECOM_WEBHOOK_SECRET_{name.removeprefix('webhook_').upper()}"
    return f"TELECOM_{name.upper()}"


def secrets_file() -> Path:
    """Where this installation keeps its generated secrets."""
    return load_settings().secrets_file


@lru_cache(maxsize=1)
def _stored() -> dict[str, str]:
    path = secrets_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InsecureConfiguration(f"{path} を読めません（{exc}）。") from exc
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def reload() -> None:
    """Forget the cached secrets file (after `ensure` or in tests)."""
    _stored.cache_clear()


def value(name: str) -> str:
    """The secret `name` from its environment variable, else from the secrets file ("" when neither has it)."""
    return secret_from_environment(env_name(name)) or _stored().get(name, "")


def webhook_secret(provider: str) -> str:
    """The HMAC-SHA256 key `provider` signs its webhooks with ("" for a provider without one)."""
    return value(f"webhook_{provider}") if provider in WEBHOOK_PROVIDERS else ""


def line_channel_token() -> str:
    """The bearer token of the LINE-style messaging API."""
    return value(LINE_CHANNEL_TOKEN)


def problems() -> list[str]:
    """One sentence per secret that is missing, a published default, or too short."""
    found = []
    for name in SECRET_NAMES:
        secret = value(name)
        where = f"{env_name(name)}（または {secrets_file()} の \"{name}\"）"
        if not secret:
            found.append(f"{where} が設定されていません。")
        elif secret.lower() in KNOWN_DEFAULTS:
            found.append(f"{where} は公開されている既定値です。推測されない値に変えてください。")
        elif len(secret) < MIN_LENGTH:
            found.append(f"{where} が短すぎます（{MIN_LENGTH}文字以上）。")
    return found


def require_all() -> None:
    """Raise InsecureConfiguration naming every unsafe secret (the app and the worker call it at start)."""
    found = problems()
    if found:
        raise InsecureConfiguration(
            "安全でない設定のため起動しません / refusing to start with unsafe secrets:\n  - " + "\n  - ".join(found)
            + "\nデモでは `make run` が初回起動時に生成します。本番ではシークレット管理から環境変数で渡してください。")


def exit_if_unsafe() -> None:
    """Print which secret is unsafe and exit (status 2): what the web app and the worker do at start."""
    try:
        require_all()
    except InsecureConfiguration as exc:
        print(exc, file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def ensure(path: Path | None = None) -> list[str]:
    """Create the secrets file (owner-only) or add the secrets it lacks; returns the names generated.

    Existing values are kept, so the app, the worker and the sandbox keep agreeing across restarts.
    """
    path = path or secrets_file()
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        current = {}
    missing = [name for name in SECRET_NAMES if not current.get(name)]
    if missing:
        current.update({name: secrets.token_urlsafe(32) for name in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.chmod(0o600)
        tmp.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)
    path.chmod(0o600)
    reload()
    return missing


def main(argv: list[str] | None = None) -> int:
    """`ensure`: generate what is missing; `check`: exit 1 and say which secret is unsafe."""
    parser = argparse.ArgumentParser(prog="python -m services.platform.installation_secrets")
    parser.add_argument("command", choices=["ensure", "check"])
    args = parser.parse_args(argv)
    if args.command == "ensure":
        created = ensure()
        if created:
            print(f"生成しました: {', '.join(created)} -> {secrets_file()}（所有者のみ読み書き可）")
    try:
        require_all()
    except InsecureConfiguration as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
