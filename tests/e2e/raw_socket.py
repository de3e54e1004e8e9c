"""A raw Reflex websocket client, as an attacker would write one: a per-tab token, any cookie or none.

It speaks Engine.IO / Socket.IO by hand over a plain websocket (no browser, no Reflex frontend), sends
events by their full handler names, and returns every update (state deltas and follow-up events such as
a redirect) the server sent back.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from websockets.sync.client import connect

NAMESPACE = "/_event"
ROOT = "reflex___state____state"


def handler_name(state_cls, handler: str) -> str:
    """The wire name of a handler: the state's full name and the handler's."""
    return f"{state_cls.get_full_name()}.{handler}"


class RawClient:
    """One websocket to the app's /_event endpoint under `token` (a new random one if not given)."""

    def __init__(self, base: str, token: str | None = None, cookie: str | None = None):
        self.token = token or str(uuid.uuid4())
        url = base.replace("http://", "ws://").replace("https://", "wss://")
        self.ws = connect(f"{url}/_event/?token={self.token}&EIO=4&transport=websocket", origin=base,
                          additional_headers={"Cookie": cookie} if cookie else None, proxy=None,
                          max_size=None, compression=None, legacy=True)
        opened = self.ws.recv(timeout=10)
        assert opened.startswith("0"), opened
        self.ws.send(f"40{NAMESPACE},")
        self._frames: list[str] = []
        self._wait_for(lambda frame: frame.startswith(f"40{NAMESPACE}"), 10)

    def _wait_for(self, done, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                frame = self.ws.recv(timeout=max(0.05, deadline - time.monotonic()))
            except TimeoutError:
                continue
            if frame == "2":  # Engine.IO ping
                self.ws.send("3")
                continue
            self._frames.append(frame)
            if done(frame):
                return

    def send(self, name: str, payload: dict[str, Any] | None = None, path: str = "/login/",
             query: dict[str, str] | None = None, settle: float = 2.0) -> list[dict[str, Any]]:
        """Send one event and return the updates received within `settle` seconds."""
        start = len(self._frames)
        router = {"pathname": path, "asPath": path, **({"query": query} if query else {})}
        event = {"name": name, "payload": payload or {}, "router_data": router}
        self.ws.send(f"42{NAMESPACE}," + json.dumps(["event", event]))
        self._wait_for(lambda frame: False, settle)
        return [update for frame in self._frames[start:] for update in _updates(frame)]

    def hydrate(self, path: str = "/login/", query: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """What a page load on this token receives: the full snapshot of the tab's state, then the loads."""
        return self.send(f"{ROOT}.hydrate_and_load", {}, path, query)

    def close(self) -> None:
        """Close the websocket."""
        self.ws.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _updates(frame: str) -> list[dict[str, Any]]:
    prefix = f"42{NAMESPACE},"
    if not frame.startswith(prefix):
        return []
    name, *args = json.loads(frame[len(prefix):])
    return [arg for arg in args if name == "event" and isinstance(arg, dict)]


def text_of(updates: list[dict[str, Any]]) -> str:
    """Every value the updates carried, as one JSON text to search in."""
    return json.dumps(updates, ensure_ascii=False)
