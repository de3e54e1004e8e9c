"""Encryption at rest for secrets and highly sensitive fields (Fernet, rotatable keys).

Keys come from TELECOM_ENCRYPTION_KEYS (comma-separated Fernet keys, newest first) or, in the
embedded mode, from the key file TELECOM_KEY_FILE (default data/encryption.keys, one key a line,
newest first, created with a fresh key on first use). New values are encrypted with the newest
key; any listed key decrypts. `python -m services.platform.crypto rotate` adds a new key, re-encrypts
every encrypted column in one transaction, then retires the old keys.
"""

from __future__ import annotations

import argparse
import sys
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select, update

from services.platform.config import load_settings
from services.platform.db import write_session
from services.platform.errors import DomainError

# Every column that holds ciphertext: (model name, column name).
ENCRYPTED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("StaffUser", "totp_secret"),
    ("SignInChallenge", "pending_totp_secret"),
    ("Customer", "id_document_number_enc"),
    ("Customer", "bank_account_enc"),
    ("KycRecord", "document_number_enc"),
    ("AuditSealedValue", "value_enc"),
)


class EncryptionKeyMismatch(DomainError):
    """The configured keys cannot decrypt a stored value (wrong or missing key)."""


def key_file() -> Path:
    """Where the embedded mode keeps its keys."""
    return load_settings().key_file


def _read_keys() -> list[str]:
    configured = load_settings().encryption_keys
    if configured:
        return list(configured)
    path = key_file()
    if not path.exists():
        _write_keys(path, [Fernet.generate_key().decode()])
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _write_keys(path: Path, keys: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(keys) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in _read_keys()])


def reload_keys() -> None:
    """Forget cached keys (after a rotation or in tests)."""
    _fernet.cache_clear()


def encrypt(plaintext: str | None) -> str | None:
    """Encrypt a text with the newest key (None stays None)."""
    if plaintext is None:
        return None
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str | None) -> str | None:
    """Decrypt a value written by `encrypt` with any configured key (None stays None)."""
    if token is None:
        return None
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise EncryptionKeyMismatch("暗号鍵が一致しません（鍵の設定を確認してください）。") from exc


def _models():
    import services.models as models

    return [(getattr(models, model), column) for model, column in ENCRYPTED_COLUMNS]


def rotate() -> int:
    """Add a new newest key, re-encrypt every encrypted value with it, then retire the old keys.

    Runs in one transaction: if anything fails, the data and the key file stay as they were.
    Returns the number of values re-encrypted.
    """
    if load_settings().encryption_keys:
        raise SystemExit("鍵が環境変数で設定されています。新しい鍵を先頭に追加してから `rotate --reencrypt-only` を実行してください。")
    old_keys = _read_keys()
    new_key = Fernet.generate_key().decode()
    rotating = MultiFernet([Fernet(k.encode()) for k in [new_key, *old_keys]])
    count = _reencrypt(rotating)
    _write_keys(key_file(), [new_key])
    reload_keys()
    return count


def reencrypt_only() -> int:
    """Re-encrypt every value with the newest configured key (keys managed outside, e.g. env)."""
    return _reencrypt(_fernet())


def _reencrypt(fernet: MultiFernet) -> int:
    count = 0
    with write_session() as session:
        for model, column in _models():
            col = getattr(model, column)
            for row_id, value in session.execute(select(model.id, col).where(col.is_not(None))).all():
                session.execute(update(model).where(model.id == row_id)
                                .values({column: fernet.rotate(value.encode()).decode()}))
                count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    """Command line: `rotate` (key file) or `rotate --reencrypt-only` (keys from the environment)."""
    parser = argparse.ArgumentParser(description="暗号鍵の管理 / encryption key management")
    sub = parser.add_subparsers(dest="command", required=True)
    rot = sub.add_parser("rotate", help="新しい鍵で全データを再暗号化する")
    rot.add_argument("--reencrypt-only", action="store_true")
    args = parser.parse_args(argv)
    count = reencrypt_only() if args.reencrypt_only else rotate()
    print(f"再暗号化しました: {count} 件")
    return 0


if __name__ == "__main__":
    sys.exit(main())
