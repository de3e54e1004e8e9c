"""JSON from outside (webhooks and other API bodies): UTF-8 only, a bounded depth, an object at the top.

The depth is checked before parsing by one linear scan that skips string contents, so a body
nested 100,000 levels deep is refused in words instead of exhausting the parser's recursion.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32
MAX_BODY_BYTES = 256 * 1024  # every API request body
JSON_MEDIA_TYPES = ("application/json",)
_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class InvalidJson(ValueError):
    """A body that is not the JSON object it should be; `code` for machines, `message` for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def is_json_media_type(content_type: str | None) -> bool:
    """True for `application/json`, with no charset or a UTF-8 one."""
    media_type, _, params = (content_type or "").partition(";")
    charset = params.strip().lower().removeprefix("charset=").strip('"') if params.strip() else "utf-8"
    return media_type.strip().lower() in JSON_MEDIA_TYPES and charset in ("utf-8", "utf8")


def too_deep(text: str, max_depth: int = MAX_DEPTH) -> bool:
    """True when arrays / objects in `text` nest deeper than `max_depth` (strings are skipped)."""
    depth = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                return True
        elif token in "]}":
            depth -= 1
    return False


def parse_json_object(body: bytes, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """The JSON object in `body`, or InvalidJson: invalid_encoding, too_deep, invalid_json or not_an_object."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJson("invalid_encoding", "本文は UTF-8 で送ってください。") from None
    if too_deep(text, max_depth):
        raise InvalidJson("too_deep", f"JSON の入れ子が深すぎます（{max_depth}段まで）。")
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidJson("invalid_json", "JSON として読めません。") from None
    if not isinstance(value, dict):
        raise InvalidJson("not_an_object", "JSON オブジェクトを送ってください。")
    return value
