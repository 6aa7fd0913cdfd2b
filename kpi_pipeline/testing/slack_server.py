"""A local Slack Web API serving a workspace export: auth.test, conversations.list/.history/.replies, and
chat.postMessage / chat.update for what the pipeline posts (a posted message joins its channel's history, and
`posted(channel)` returns the channel's posted messages as they are now).

Payloads have Slack's real envelope (ok, has_more, response_metadata.next_cursor, "" on the last page; errors as
HTTP 200 with ok:false; 429 with Retry-After and {"ok":false,"error":"ratelimited"}), so the real slack_sdk
client can be tested against it. Fault knobs: a 429 or a 5xx on chosen request numbers, the page size, and a
required token.

    python -m kpi_pipeline.testing.slack_server --export DIR --port P [--token T] [--page-size N]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Message = dict[str, Any]


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds or 0), int((micros or "0").ljust(6, "0")[:6])


def load_export(folder: Path) -> tuple[list[dict[str, Any]], dict[str, list[Message]]]:
    """Channels (channels.json entries) and every channel's messages, oldest first."""
    channels = json.loads((folder / "channels.json").read_text(encoding="utf-8"))
    messages: dict[str, list[Message]] = {}
    for channel in channels:
        found: list[Message] = []
        for day_file in sorted((folder / channel["name"]).glob("*.json")):
            found += json.loads(day_file.read_text(encoding="utf-8"))
        messages[channel["id"]] = sorted(found, key=lambda m: _ts_key(m["ts"]))
    return channels, messages


class SlackApiServer:
    """The server; a context manager that yields the base URL (`http://127.0.0.1:PORT/api/`)."""

    def __init__(
        self,
        export: Path,
        *,
        token: str | None = None,
        page_size: int = 100,
        rate_limit_on: Iterable[int] = (),
        retry_after: int = 1,
        server_error_on: Iterable[int] = (),
        workspace_url: str = "https://example.slack.com/",
        team_id: str = "T00000001",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.channels, self.messages = load_export(Path(export))
        self.token = token
        self.page_size = page_size
        self.rate_limit_on = set(rate_limit_on)
        self.retry_after = retry_after
        self.server_error_on = set(server_error_on)
        self.workspace_url = workspace_url
        self.team_id = team_id
        self.requests: list[str] = []  # method of every request received, in order
        self._posted: dict[str, list[str]] = {}  # channel id -> ts of the messages posted through the API
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer((host, port), _handler_for(self))
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}/api/"

    def __enter__(self) -> str:
        self._thread.start()
        return self.base_url

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()

    def handle(self, method: str, params: dict[str, str], bearer: str | None) -> tuple[int, dict[str, str], Message]:
        """Status, extra headers and JSON body for one API request."""
        with self._lock:
            self.requests.append(method)
            number = len(self.requests)
        if number in self.rate_limit_on:
            return 429, {"Retry-After": str(self.retry_after)}, {"ok": False, "error": "ratelimited"}
        if number in self.server_error_on:
            return 500, {}, {"ok": False, "error": "internal_error"}
        given = bearer or params.get("token")
        if self.token is not None and given != self.token:
            return 200, {}, {"ok": False, "error": "invalid_auth" if given else "not_authed"}
        answer = {
            "auth.test": self._auth_test,
            "conversations.list": self._list,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "chat.postMessage": self._post,
            "chat.update": self._update,
        }.get(method)
        if answer is None:
            return 404, {}, {"ok": False, "error": "unknown_method"}
        return 200, {}, answer(params)

    def _auth_test(self, params: dict[str, str]) -> Message:
        return {
            "ok": True,
            "url": self.workspace_url,
            "team": "Export",
            "user": "kpi-bot",
            "team_id": self.team_id,
            "user_id": "U0KPIBOT1",
            "bot_id": "B0KPIBOT1",
        }

    def _list(self, params: dict[str, str]) -> Message:
        entries = [
            {
                "id": c["id"],
                "name": c["name"],
                "is_channel": True,
                "is_private": False,
                "is_archived": bool(c.get("is_archived", False)),
                "is_member": True,
                "created": int(c.get("created") or 0),
            }
            for c in self.channels
        ]
        return self._page(entries, params, "channels")

    def _history(self, params: dict[str, str]) -> Message:
        found = self.messages.get(params.get("channel", ""))
        if found is None:
            return {"ok": False, "error": "channel_not_found"}
        top_level = [
            m
            for m in found
            if _in_window(m["ts"], params)
            and (m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast")
        ]
        body = self._page(top_level[::-1], params, "messages")
        body["pin_count"] = 0
        return body

    def _replies(self, params: dict[str, str]) -> Message:
        found = self.messages.get(params.get("channel", ""))
        if found is None:
            return {"ok": False, "error": "channel_not_found"}
        parent_ts = params.get("ts", "")
        parent = next((m for m in found if m["ts"] == parent_ts), None)
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        replies = [m for m in found if m.get("thread_ts") == parent_ts and m["ts"] != parent_ts]
        return self._page([parent] + [m for m in replies if _in_window(m["ts"], params)], params, "messages")

    def _channel_id(self, given: str) -> str | None:
        """A channel id, or a name with or without '#', as the id of a channel in the export."""
        name = given.removeprefix("#")
        return next((c["id"] for c in self.channels if given == c["id"] or name == c["name"]), None)

    def _message_body(self, params: dict[str, str]) -> tuple[Message | None, str | None]:
        text = params.get("text", "")
        blocks = json.loads(params["blocks"]) if params.get("blocks") else None
        if not text and not blocks:
            return None, "no_text"
        if blocks is not None and (not isinstance(blocks, list) or len(blocks) > 50):
            return None, "invalid_blocks"
        body: Message = {"text": text}
        if blocks is not None:
            body["blocks"] = blocks
        return body, None

    def _post(self, params: dict[str, str]) -> Message:
        channel = self._channel_id(params.get("channel", ""))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        body, error = self._message_body(params)
        if body is None:
            return {"ok": False, "error": error}
        with self._lock:
            found = self.messages.setdefault(channel, [])
            newest = max((_ts_key(m["ts"]) for m in found), default=(1_700_000_000, 0))
            ts = f"{newest[0] + 1}.{newest[1]:06d}"
            message = {"type": "message", "subtype": "bot_message", "bot_id": "B0KPIBOT1", "ts": ts, **body}
            found.append(message)
            self._posted.setdefault(channel, []).append(ts)
        return {"ok": True, "channel": channel, "ts": ts, "message": dict(message)}

    def _update(self, params: dict[str, str]) -> Message:
        channel = params.get("channel", "")
        if channel not in self.messages:
            return {"ok": False, "error": "channel_not_found"}
        ts = params.get("ts", "")
        message = next((m for m in self.messages[channel] if m["ts"] == ts), None)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if ts not in self._posted.get(channel, []):
            return {"ok": False, "error": "cant_update_message"}
        body, error = self._message_body(params)
        if body is None:
            return {"ok": False, "error": error}
        with self._lock:
            message.pop("blocks", None)
            message.update(body, edited={"user": "U0KPIBOT1", "ts": ts})
        return {"ok": True, "channel": channel, "ts": ts, "text": message["text"], "message": dict(message)}

    def posted(self, channel: str) -> list[Message]:
        """The messages posted to `channel` (id or name) through chat.postMessage, oldest first, as now."""
        channel_id = self._channel_id(channel) or channel
        ids = set(self._posted.get(channel_id, []))
        return [dict(m) for m in self.messages.get(channel_id, []) if m["ts"] in ids]

    def _page(self, items: list[Message], params: dict[str, str], key: str) -> Message:
        offset = _offset(params.get("cursor", ""))
        size = min(self.page_size, int(params.get("limit") or self.page_size) or self.page_size)
        page = items[offset : offset + size]
        more = offset + size < len(items)
        cursor = base64.b64encode(f"offset:{offset + size}".encode()).decode() if more else ""
        return {"ok": True, key: page, "has_more": more, "response_metadata": {"next_cursor": cursor}}


def _offset(cursor: str) -> int:
    if not cursor:
        return 0
    return int(base64.b64decode(cursor).decode().partition(":")[2])


def _in_window(ts: str, params: dict[str, str]) -> bool:
    """Slack's oldest/latest: exclusive bounds unless inclusive=1 (or true)."""
    key = _ts_key(ts)
    oldest = _ts_key(params["oldest"]) if params.get("oldest") else (0, 0)
    latest = _ts_key(params["latest"]) if params.get("latest") else (10**12, 0)
    if params.get("inclusive") in {"1", "true"}:
        return oldest <= key <= latest
    return oldest < key < latest


def _handler_for(server: SlackApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._answer(self.rfile.read(length))

        def _answer(self, body: bytes) -> None:
            url = urlsplit(self.path)
            params = dict(parse_qsl(url.query))
            if "json" in (self.headers.get("Content-Type") or ""):
                params.update(
                    {
                        k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, list | dict) else str(v)
                        for k, v in json.loads(body or b"{}").items()
                    }
                )
            else:
                params.update(parse_qsl(body.decode("utf-8")))
            auth = self.headers.get("Authorization") or ""
            bearer = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
            method = url.path.removeprefix("/api/")
            status, headers, payload = server.handle(method, params, bearer)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read `server.requests` instead."""

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a Slack export through the Slack Web API on localhost.")
    parser.add_argument("--export", type=Path, required=True, help="export folder (channels.json + channel folders)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", help="token clients must send (default: any)")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--rate-limit-on", type=int, nargs="*", default=[], help="request numbers answered 429")
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--server-error-on", type=int, nargs="*", default=[], help="request numbers answered 500")
    args = parser.parse_args(argv)
    server = SlackApiServer(
        args.export,
        token=args.token,
        page_size=args.page_size,
        rate_limit_on=args.rate_limit_on,
        retry_after=args.retry_after,
        server_error_on=args.server_error_on,
        port=args.port,
    )
    with server as url:
        print(f"Slack API on {url} (SLACK_API_URL={url})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
