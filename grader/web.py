"""HTTP for checks: one request and its typed answer, and Server-Sent Events streams.

Spoken with h11, the HTTP/1.1 parser uvicorn itself is built on (pinned with it), over
asyncio streams: a request is a coroutine on the check's own loop, so the check's time
bound cancels it at once, and a stream's events are read as they arrive, without a
thread per connection. `LiveServer` (client.py) writes the transcript around these and
turns their errors into failures.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import h11

from grader.checks import Mismatch

MAX_BODY = 1 << 20  # what an HTTP answer may hold: the app chooses how much it sends
NOTHING: Any = ...
"""Not given (a JSON body, a JSON value expected): None is JSON's null. Written `...`."""


class Broken(Exception):
    """The exchange failed below HTTP's level: refused, cut short, not HTTP at all."""


def show_json(value: Any, limit: int = 300) -> str:
    """A JSON value as a check's author wrote it (`unittest.mock.ANY` shows as <ANY>)."""
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[:limit] + f" … ({len(text)} chars)"


def in_any_order(value: Any) -> Any:
    """`value` with every list in it sorted: two values equal so are equal in any order."""
    if isinstance(value, list):
        items = [in_any_order(item) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=repr))
    if isinstance(value, dict):
        return {key: in_any_order(item) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class Response:
    """What one HTTP request got back. `headers` are keyed by lower-case name (a repeated
    header's values put together with ", "); `raised` is what the witness saw the handler raise,
    for an answer of HTTP 5xx ("" when it saw nothing)."""

    request: str
    """What was asked, as the transcript says it: "POST /items {"text": "milk"}"."""
    status: int
    headers: Mapping[str, str]
    text: str
    raised: str = ""

    def json(self) -> Any:
        """The body, parsed; a Mismatch saying what arrived when it is not JSON."""
        try:
            return json.loads(self.text)
        except ValueError:
            raise Mismatch(
                f"{self.request} should have been answered with JSON",
                "a JSON body",
                self.shown(),
            ) from None

    def shown(self) -> str:
        """The answer in one line: "HTTP 500 'Internal Server Error': the server raised …"."""
        text = repr(self.text) if len(self.text) <= 300 else repr(self.text[:300]) + " …"
        return f"HTTP {self.status} {text}{self.raised}"


class Connection:
    """One HTTP/1.1 connection, for one request (`Connection: close`)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(
        cls,
        url: str,
        method: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Connection:
        """Connect to `url`'s host and send the request; Broken if that fails."""
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        except OSError as exc:
            raise Broken(f"could not connect: {exc}") from None
        conn = cls(reader, writer)
        asked = {name.lower(): value for name, value in (headers or {}).items()}
        sent = {"host": parts.netloc, "connection": "close", **asked}
        if body is not None:
            sent["content-length"] = str(len(body))
        request = h11.Request(method=method, target=target, headers=list(sent.items()))
        events = [request, *([h11.Data(data=body)] if body else []), h11.EndOfMessage()]
        try:
            writer.write(b"".join(conn.h11.send(event) or b"" for event in events))
            await writer.drain()
        except (OSError, h11.LocalProtocolError) as exc:
            conn.abort()
            raise Broken(f"could not send the request: {exc}") from None
        return conn

    async def next_event(self) -> Any:
        """The server's next HTTP event (h11's Response, Data, EndOfMessage); Broken if
        the server breaks the protocol or closes before its answer is complete."""
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                if self.reader.at_eof():  # h11 says so at length: "peer closed connection…"
                    raise Broken("the server closed the connection mid-answer") from None
                raise Broken(f"the answer was not valid HTTP: {exc}") from None
            if event is h11.NEED_DATA:
                try:
                    data = await self.reader.read(1 << 16)
                except OSError as exc:
                    raise Broken(f"the connection failed: {exc}") from None
                self.h11.receive_data(data)
                continue
            if isinstance(event, h11.ConnectionClosed):
                raise Broken("the server closed the connection before it answered")
            if isinstance(event, h11.InformationalResponse):
                continue  # 1xx: the answer follows
            return event

    async def head(self) -> tuple[int, dict[str, str]]:
        """The answer's status and headers."""
        event = await self.next_event()
        if not isinstance(event, h11.Response):  # h11 gives nothing else first; be sure
            raise Broken("the answer did not begin with a status line")
        headers: dict[str, str] = {}
        for name, value in event.headers:
            key = name.decode("latin-1")
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        return event.status_code, headers

    async def body(self) -> str:
        """The whole body, at most MAX_BODY bytes (Broken beyond)."""
        chunks: list[bytes] = []
        size = 0
        while isinstance(event := await self.next_event(), h11.Data):
            size += len(event.data)
            if size > MAX_BODY:
                raise Broken(f"it answered with more than {MAX_BODY >> 20} MiB")
            chunks.append(bytes(event.data))
        return b"".join(chunks).decode(errors="replace")

    def abort(self) -> None:
        """Drop the connection now: no more is read or sent."""
        self.writer.transport.abort()


async def fetch(
    url: str,
    method: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], str]:
    """One request: (status, headers, body). Broken if it fails; unbounded in time (the
    caller bounds it)."""
    conn = await Connection.open(url, method, headers=headers, body=body)
    try:
        status, got = await conn.head()
        return status, got, await conn.body()
    finally:
        conn.abort()
