"""Files attached to ticket messages (添付ファイル): what may be attached, where it is kept, how it is read back.

What may be attached (decided here, once, for customers and staff alike):
- The type is recognised from the bytes only — never from the browser's Content-Type, never from the name's
  extension: PDF ("%PDF-"), PNG (its 8-byte signature and IHDR), JPEG (FF D8 FF), HEIC/HEIF photos (an
  ISO-BMFF "ftyp" box with a HEIF brand: iPhones take photos as HEIC; AVIF is not HEIC and is refused) and plain
  text (valid UTF-8 without control characters other than tab, CR, LF and form feed). Anything else — HTML or SVG
  (scripts), Office files (macros), archives, programs — is refused. A text file is kept as text/plain whatever
  it says and is only ever served as a download with nosniff, so no browser runs it.
- At most 5 MB each (MAX_FILE_BYTES), at most 3 per message (MAX_FILES_PER_MESSAGE), no empty file.

Where it is kept: under the attachments directory (settings.attachments_dir; by default `attachments/` beside a
SQLite ledger file, otherwise data/attachments) as `<sha256[:2]>/<sha256>` — the file's name is its hash, never
the customer's file name (that is kept only in the ledger, cleaned: no folder, no control characters, at most
120 characters, an extension that matches the recognised type). Directories are 0700 and files 0600 (the app's
own user only); a file is written to a temporary name and renamed, and the same content is stored once. A file
written for a transaction that then fails is removed again, unless a committed attachment already names it.

Who may read it back is the read models' business (services.read.customer.tickets: the ticket's customer scope,
never an internal note's file; services.read.staff.tickets: staff with ticket.view); this module only checks,
on every read, that the bytes still have the hash the ledger recorded.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from services.models import Ticket, TicketAttachment, TicketMessage
from services.platform.config import PROJECT_ROOT, settings
from services.platform.db import get_engine, read_session
from services.platform.errors import Conflict, ValidationFailed
from services.platform.labels import label
from services.platform.permissions import Actor

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_FILES_PER_MESSAGE = 3
NAME_MAX_LENGTH = 120
DEFAULT_NAME = "添付ファイル"

TOO_LARGE = "添付ファイルは1つ5MBまでです。"
TOO_MANY = f"添付ファイルは1回に{MAX_FILES_PER_MESSAGE}つまでです。"
WRONG_TYPE = "添付できるのはPDF・PNG・JPEG・HEIC（iPhoneの写真）・テキストファイルだけです。"
EMPTY = "空のファイルは添付できません。"
UNREADABLE = "添付ファイルを読み出せませんでした。お手数ですが担当者にお知らせください。"

# recognised type -> (content type served, label key, extensions a name may keep; the first one is added)
TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "application/pdf": ("pdf", (".pdf",)),
    "image/png": ("png", (".png",)),
    "image/jpeg": ("jpeg", (".jpg", ".jpeg")),
    "image/heic": ("heic", (".heic",)),
    "image/heif": ("heic", (".heif", ".heic")),
    "text/plain; charset=utf-8": ("text", (".txt", ".log")),
}
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_HEIF_BRANDS = {b"mif1", b"msf1"}
_NOT_HEIF = {b"avif", b"avis"}
_TEXT_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class AttachmentRefused(ValidationFailed):
    """A file that may not be attached; `reason` is "too_large", "too_many", "wrong_type" or "empty"."""

    def __init__(self, reason: str, message: str):
        super().__init__({"files": message}, message)
        self.reason = reason


@dataclass(frozen=True)
class Upload:
    """A file as it arrived: the name the sender's device gave it and its bytes (its claimed type is ignored)."""

    name: str
    data: bytes


@dataclass(frozen=True)
class CheckedFile:
    """A file that may be attached: its cleaned name, recognised type, size and SHA-256."""

    name: str
    data: bytes
    content_type: str
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


def sniff(data: bytes) -> str | None:
    """The content type the bytes are (one of TYPES), or None for anything that may not be attached."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 16 and data[4:8] == b"ftyp":
        box = int.from_bytes(data[:4], "big")
        brands = {data[8:12]} | {data[i:i + 4] for i in range(16, min(box, len(data), 256) - 3, 4)}
        if brands & _NOT_HEIF:
            return None
        if data[8:12] in _HEIC_BRANDS:
            return "image/heic"
        if data[8:12] in _HEIF_BRANDS:
            return "image/heif"
        return None
    if _TEXT_CONTROLS.search(data):
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain; charset=utf-8"


def clean_name(name: str, content_type: str) -> str:
    """The name shown and offered on download: the last part of what the device sent, without control
    characters, at most NAME_MAX_LENGTH characters, ending in an extension of the recognised type."""
    text = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("C")).strip().rstrip(". ")
    if text.startswith("."):  # ".png", ".htaccess": a name that is only an extension (or hidden) gets a stem
        text = DEFAULT_NAME + text
    extensions = TYPES[content_type][1]
    if not text.lower().endswith(extensions):
        text = (text or DEFAULT_NAME) + extensions[0]
    if len(text) > NAME_MAX_LENGTH:
        stem, dot, ext = text.rpartition(".")
        text = stem[:NAME_MAX_LENGTH - len(ext) - 1] + dot + ext
    return text


def check_uploads(files: Sequence[Upload] | None) -> list[CheckedFile]:
    """The files of one message, each checked (AttachmentRefused in words for the first that may not be
    attached: too many, empty, too large, not an accepted type). Reads nothing, writes nothing."""
    files = list(files or ())
    if len(files) > MAX_FILES_PER_MESSAGE:
        raise AttachmentRefused("too_many", TOO_MANY)
    checked = []
    for upload in files:
        data = bytes(upload.data)
        if not data:
            raise AttachmentRefused("empty", EMPTY)
        if len(data) > MAX_FILE_BYTES:
            raise AttachmentRefused("too_large", TOO_LARGE)
        content_type = sniff(data)
        if content_type is None:
            raise AttachmentRefused("wrong_type", WRONG_TYPE)
        checked.append(CheckedFile(clean_name(upload.name, content_type), data, content_type,
                                   hashlib.sha256(data).hexdigest()))
    return checked


def accepted_types_label(lang: str = "ja") -> str:
    """「PDF・PNG画像・…」: what may be attached, for the screens' help text."""
    keys = dict.fromkeys(key for key, _ in TYPES.values())
    return ("・" if lang == "ja" else ", ").join(label("attachment_type", key, lang) for key in keys)


def size_label(size: int) -> str:
    """A file's size as people read it: 820 KB, 1.4 MB."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB"


# --------------------------------------------------------------------------- storage


def attachments_root() -> Path:
    """The directory the files are kept in (see the module's docstring)."""
    if settings.attachments_dir is not None:
        return Path(settings.attachments_dir)
    url = get_engine().url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "attachments"
    return PROJECT_ROOT / "data" / "attachments"


def stored_path(sha256: str) -> Path:
    """Where the file with this SHA-256 is kept."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256 or ""):
        raise ValueError("not a SHA-256")
    return attachments_root() / sha256[:2] / sha256


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != 0o700:
        os.chmod(path, 0o700)


def _store(file: CheckedFile) -> Path | None:
    """Write the file under its hash (0600, via a temporary name); None when the same content is already there."""
    path = stored_path(file.sha256)
    _private_dir(path.parent.parent)
    _private_dir(path.parent)
    if path.exists() and path.stat().st_size == file.size:
        return None
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")  # created 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(file.data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


@contextmanager
def kept_only_if_committed() -> Iterator[list[Path]]:
    """Around a service's transaction: files written inside it (`add_attachments` appends them to the yielded
    list) are removed again when it fails, unless a committed attachment names the same content."""
    written: list[Path] = []
    try:
        yield written
    except BaseException:
        for path in written:
            with read_session() as session:
                named = session.exec(select(TicketAttachment.id).where(TicketAttachment.sha256 == path.name)).first()
            if named is None:
                path.unlink(missing_ok=True)
        raise


def add_attachments(session: Session, ticket: Ticket, message: TicketMessage, files: Iterable[CheckedFile], *,
                    actor: Actor, written: list[Path]) -> list[TicketAttachment]:
    """Store each checked file and add its TicketAttachment row to `message` (in the caller's transaction, which
    writes the one audit entry); the paths of newly written files are appended to `written`."""
    rows = []
    for file in files:
        path = _store(file)
        if path is not None:
            written.append(path)
        row = TicketAttachment(ticket_id=ticket.id, message_id=message.id, file_name=file.name,
                               content_type=file.content_type, size_bytes=file.size, sha256=file.sha256,
                               uploaded_by_kind="customer" if actor.kind == "customer" else "staff",
                               uploaded_by_id=actor.id)
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def audit_view(rows: Iterable[TicketAttachment]) -> list[dict[str, Any]]:
    """What the audit entry says of the attached files (names, types, sizes and hashes; never the contents)."""
    return [{"id": r.id, "file_name": r.file_name, "content_type": r.content_type, "size_bytes": r.size_bytes,
             "sha256": r.sha256} for r in rows]


def read_content(attachment: TicketAttachment) -> bytes:
    """The stored bytes of an attachment, checked against the SHA-256 the ledger recorded (Conflict in words
    when the file is missing or altered). The caller has decided that the reader may have it."""
    try:
        data = stored_path(attachment.sha256).read_bytes()
    except (OSError, ValueError):
        raise Conflict(UNREADABLE) from None
    if hashlib.sha256(data).hexdigest() != attachment.sha256:
        raise Conflict(UNREADABLE)
    return data


def attachments_by_message(session: Session, message_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """The attachments of these messages as the screens list them: id, name, size and type labels."""
    ids = [i for i in message_ids if i is not None]
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = session.exec(select(TicketAttachment).where(col(TicketAttachment.message_id).in_(ids))
                        .order_by(TicketAttachment.id)).all()
    for r in rows:
        out[r.message_id].append({
            "id": r.id, "name": r.file_name, "size": size_label(r.size_bytes),
            "type_label": label("attachment_type", TYPES.get(r.content_type, ("", ()))[0], default=r.content_type),
        })
    return out
