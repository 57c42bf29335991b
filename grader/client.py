"""The running app as a check sees it (`LiveServer`), and real WebSocket clients:
connect, send, and expect frames in order; HTTP requests and event streams are spoken
by web.py and streams.py, on the same terms.

Every step is written to a shared transcript, so a failure can show the student the
script that led to it. Waiting is always for a message, bounded by a timeout; silence
is proven by sending a marker and seeing it arrive next, never by sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from difflib import SequenceMatcher
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.frames import CloseCode, Frame, Opcode

from grader import timing, trimming
from grader.checks import Closed, Failure, Mismatch, Missing, ServerErrors
from grader.evidence import Raised
from grader.server import AppServer
from grader.streams import EventReader, EventStream
from grader.transcript import Transcript as Transcript  # where plugin.py takes it from
from grader.transcript import chosen, show, show_difference
from grader.web import NOTHING, Broken, Connection, Response, fetch, in_any_order, show_json

MAX_FRAME = 4 << 20
SAFE = {"GET", "HEAD", "OPTIONS"}  # methods asked again while waiting: they change nothing

REFUSALS = {
    403: "The server closed the connection before accepting it. Does the endpoint reach "
    "`await websocket.accept()`?",
    404: "No endpoint answers at this path: check the route in @app.websocket(...).",
    500: "The endpoint raised an error before accepting the connection: see what the server said.",
}


ACCEPTED = "the connection was accepted"  # what arrived where a refusal was expected


def resembles(frame: str | bytes, expected: str, values: Iterable[str]) -> bool:
    """Whether `frame` is `expected` with a slip in its fixed words (a letter or a
    punctuation mark off): a text frame that carries each of `values` (the ids and texts
    that make it what it is) as they are, and differs from `expected` in few characters."""
    if isinstance(frame, bytes) or not all(value in frame for value in values):
        return False
    return SequenceMatcher(None, frame, expected, autojunk=False).ratio() >= SLIP


# How alike a frame must be to the expected one to count as a slip of it: a missing "#"
# or a letter off scores 0.95 and more; another of the exercise's lines about the same
# client (one verb for another) under 0.8. A line that only adds words to another can
# score near 1 with a long text: a check tells those apart.
SLIP = 0.85


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[-1]


def _seconds(within: float | None, default: float) -> float:
    return timing.scaled(default) if within is None else within


class Client:
    """One WebSocket connection, named after who is using it (`alice`).

    `id` is the client id it connected as (the name, unless a check chose another name).
    """

    def __init__(
        self, name: str, ws: ClientConnection, transcript: Transcript, id: str | None = None
    ) -> None:
        self.name = name
        self.id = id or name
        self.ws = ws
        self.transcript = transcript

    async def send(self, text: str, *, label: str | None = None) -> None:
        """Send a text frame; the transcript calls it `label` if given (for big frames)."""
        self.transcript.append(f"{self.name} sent {label or show(text)}")
        self.transcript.values.add(text)
        try:
            await self.ws.send(text)
        except ConnectionClosed as exc:
            raise self._closed(exc, f"send {label or show(text)}") from None

    async def send_at_once(self, texts: list[str]) -> None:
        """Send `texts` as text frames in one write: the server reads them all at once,
        as it would a burst from a busy client, and handles them back to back."""
        self.transcript.append(f"{self.name} sent {len(texts)} messages at once")
        self.transcript.values.update(texts)
        frames = [Frame(Opcode.TEXT, text.encode()).serialize(mask=True) for text in texts]
        self.ws.transport.write(b"".join(frames))
        await asyncio.sleep(0)  # let the write go out before the check reads

    async def poll(self, within: float | None = None) -> str | bytes | None:
        """The next frame if one arrives within `within` seconds, else None; `Closed` if
        the server closes the connection instead (a frame over 4 MiB is a Failure of its
        own). A `within` given is taken as it is: pass `scaled(seconds)`; the default
        is scaled already. The same holds for every `within` below."""
        within = _seconds(within, timing.WITHIN)
        try:
            frame = await asyncio.wait_for(self.ws.recv(), within)
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            raise self._closed(exc, "receive a frame") from None
        self.transcript.append(f"{self.name} received {self.transcript.show(frame)}")
        return frame

    async def receive(self, within: float | None = None) -> str | bytes:
        """The next frame; Missing if none arrives in time."""
        within = _seconds(within, timing.WITHIN)
        frame = await self.poll(within)
        if frame is None:
            raise Missing(
                f"{self.name} waited for a frame", "a frame", f"nothing within {within:g} s"
            )
        return frame

    async def expect(
        self,
        text: str,
        *,
        within: float | None = None,
        help: str | None = None,
        allowing: Iterable[str] = (),
    ) -> set[str]:
        """The next frame this client receives must be exactly `text`; each frame in
        `allowing` may come first, once (where either order is right). Returns those
        that came first."""
        within = _seconds(within, timing.WITHIN)
        allowed = set(allowing)
        came: set[str] = set()
        while True:
            try:
                frame = await self.poll(within)
            except Failure as exc:
                exc.expected = show(text)
                exc.help = help or exc.help  # the check's own advice is the more specific
                raise
            if frame is None:
                raise Missing(
                    f"{self.name} should have received {show(text)}",
                    show(text),
                    f"nothing within {within:g} s",
                    help=help,
                )
            if frame == text:
                return came
            if isinstance(frame, bytes) or frame not in allowed:
                raise self._mismatch(text, frame, help)
            allowed.discard(frame)
            came.add(frame)

    async def expect_like(
        self,
        text: str,
        values: Iterable[str],
        *,
        within: float | None = None,
        help: str | None = None,
        unlike: Iterable[str] = (),
        allowing: set[str] | None = None,
    ) -> str:
        """The next frame must be `text`, or `text` with a slip in its fixed words (see
        `resembles`), but none of the other lines in `unlike`: for a step whose check is
        about something else, and that a stricter check judges word for word. Each frame
        in `allowing` may come first, once, and is then taken out of it. Returns the
        frame, to hold others to the same words."""
        within = _seconds(within, timing.WITHIN)
        while True:
            try:
                frame = await self.poll(within)
            except Failure as exc:
                exc.expected = show(text)
                exc.help = help or exc.help
                raise
            if frame is None:
                raise Missing(
                    f"{self.name} should have received {show(text)}",
                    show(text),
                    f"nothing within {within:g} s",
                    help=help,
                )
            if frame == text:
                return text
            if allowing and frame in allowing:
                allowing.discard(frame)
                continue
            if frame in set(unlike) or not resembles(frame, text, values):
                raise self._mismatch(text, frame, help)
            assert isinstance(frame, str)
            self.transcript.append(f"(taken for {show(text)}: another check judges its words)")
            return frame

    async def drain(self, until: str, within: float | None = None) -> None:
        """Read, whatever comes, until a text frame that contains `until` arrives, nothing
        comes for `within` seconds, or the connection ends: never a failure. For a check
        that judges something else than what is said (the server's errors)."""
        within = _seconds(within, timing.WITHIN)
        with contextlib.suppress(Failure):
            while (frame := await self.poll(within)) is not None:
                if isinstance(frame, str) and until in frame:
                    return

    def _mismatch(self, text: str, frame: str | bytes, help: str | None) -> Mismatch:
        expected, actual = show_difference(text, frame)
        mismatch = Mismatch(
            f"{self.name} should have received {show(text)} next", expected, actual, help=help
        )
        mismatch.frames = (text, frame)
        return mismatch

    async def expect_closed(
        self, code: int | None = None, *, within: float | None = None, help: str | None = None
    ) -> str:
        """The server must close this connection (with `code`, if given) and send nothing first.

        Returns the close reason the server gave ("" for none).
        """
        within = _seconds(within, timing.WITHIN)
        wanted = "the connection closed" + (f" with code {code}" if code else "")
        try:
            frame = await asyncio.wait_for(self.ws.recv(), within)
        except TimeoutError:
            raise Missing(
                f"the server should have closed {self.name}'s connection",
                wanted,
                f"still open after {within:g} s",
                help=help,
            ) from None
        except ConnectionClosed as exc:
            got = exc.rcvd.code if exc.rcvd else CloseCode.ABNORMAL_CLOSURE
            self.transcript.append(f"{self.name}'s connection was closed with code {got}")
            if code is not None and got != code:
                raise Mismatch(
                    f"{self.name}'s connection was closed with the wrong code",
                    wanted,
                    f"closed with code {got}",
                    help=help,
                ) from None
            return exc.rcvd.reason if exc.rcvd else ""
        raise Mismatch(
            f"the server should have closed {self.name}'s connection",
            wanted,
            self.transcript.show(frame),
            help=help,
        )

    async def close(self) -> None:
        """Close cleanly, with a close handshake, as a browser tab does."""
        self.transcript.append(f"{self.name} disconnected")
        await self.ws.close()

    def drop(self) -> None:
        """Vanish without a close handshake, as a crashed client or a lost network does."""
        self.transcript.append(f"{self.name}'s connection dropped (no close handshake)")
        self.ws.transport.abort()

    async def wait_closed(self) -> None:
        """Until the connection has closed, however it ends (no bound: the check's own
        timeout bounds it)."""
        await self.ws.wait_closed()

    def _closed(self, exc: ConnectionClosed, doing: str) -> Failure:
        if exc.sent and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
            self.transcript.append(f"{self.name} closed the connection: the frame was too big")
            return Failure(
                f"the server sent {self.name} a frame larger than {MAX_FRAME >> 20} MiB",
                help="No frame the checks wait for comes near that size: see what the "
                "server sends, and what makes it grow.",
            )
        code = exc.rcvd.code if exc.rcvd else None
        how = f"closed it with code {code}" if code else "dropped it without a close handshake"
        self.transcript.append(
            f"{self.name}'s connection was closed"
            + (f" with code {code}" if code else " without a close frame")
        )
        return Closed(
            f"{self.name} tried to {doing}, but the server {how}",
            code,
            help="The server closes a connection when the endpoint returns or raises: "
            "see what the server said.",
        )


def _tiny_buffer_socket(url: str) -> socket.socket:
    host, port = url.split("/")[2].split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    return sock


class LiveServer:
    """The student's app, running, as a check sees it: connect clients, read its output."""

    def __init__(
        self, app: AppServer, transcript: Transcript | None = None, label: str | None = None
    ) -> None:
        self.app = app
        self.transcript = Transcript() if transcript is None else transcript
        self.label = label
        self.clients: list[Client] = []
        self.streams: list[EventStream] = []

    @property
    def who(self) -> str:
        return f"server {self.label}" if self.label else "the server"

    @property
    def pid(self) -> int:
        """The server's process id, as this (the checks') process sees it."""
        return self.app.host_pid

    def exit_reason(self) -> str | None:
        """How the server ended ("exited with code 1"), or None while it runs."""
        return self.app.exit_reason()

    def url(self, path: str, scheme: str = "ws") -> str:
        """Where `path` is on this server: `ws://…` for a WebSocket, `http://…` with
        `scheme="http"`."""
        return self.app.url(path, scheme)

    async def connect(
        self,
        path: str,
        name: str | None = None,
        *,
        id: str | None = None,
        reading: bool = True,
        help: str | None = None,
    ) -> Client:
        """Open a client on `path`, named after its last segment unless `name` is given;
        that segment is also its `id` unless `id` is given.

        `reading=False` makes a client that never reads: its tiny receive buffer fills
        after a few kilobytes, and from then on the server's sends to it block. `help`
        is the advice if the endpoint refuses the handshake (HTTP 403); other failures
        keep the grader's own, which says what happened.
        """
        last = path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        name = name or last
        self.transcript.values.update(chosen(path))
        url = self.url(path)
        where = f" on server {self.label}" if self.label else ""
        self.transcript.append(
            f"{name} connected to {path_of(url)}{where}" + ("" if reading else " (and never reads)")
        )
        within = timing.scaled(timing.CONNECT_WITHIN)
        options: dict[str, Any] = {}
        try:
            if not reading:
                options = {"sock": _tiny_buffer_socket(url), "max_queue": 1}
            ws = await asyncio.wait_for(
                connect(
                    url,
                    open_timeout=None,
                    close_timeout=1,
                    # Checks send at most 64 KiB; a server must not make the checks process
                    # (which no job cap bounds) hold gigabytes.
                    max_size=MAX_FRAME,
                    ping_interval=None,
                    # No permessage-deflate: checks push megabytes, and compressing them
                    # would cost seconds of CPU on a busy machine and test nothing.
                    compression=None,
                    **options,
                ),
                within,
            )
        except TimeoutError:
            raise Failure(
                f"could not connect to {url} within {within:g} s",
                help="The server accepted the TCP connection but never answered the WebSocket "
                "handshake. Is the event loop blocked (time.sleep, an endless loop)?",
            ) from None
        except InvalidStatus as exc:
            status = exc.response.status_code
            advice = help if help and status == 403 else None
            refused = Failure(
                f"{name}'s connection to {path_of(url)} was refused with HTTP {status}",
                help=advice or REFUSALS.get(status, "See what the server said."),
            )
            refused.path = path_of(url)
            raise refused from None
        except (InvalidHandshake, OSError, ConnectionClosed) as exc:
            raise Failure(f"could not connect to {url}: {exc}") from None
        client = Client(name, ws, self.transcript, id or last)
        self.clients.append(client)
        return client

    async def expect_refused(
        self, path: str, status: int = 403, *, help: str | None = None
    ) -> None:
        """The server must reject the handshake at `path` with HTTP `status`."""
        self.transcript.append(f"a client tried to connect to {path}")
        within = timing.scaled(timing.CONNECT_WITHIN)
        try:
            ws = await asyncio.wait_for(connect(self.url(path), open_timeout=None), within)
        except InvalidStatus as exc:
            got = exc.response.status_code
            if got != status:
                raise Mismatch(
                    f"the handshake at {path} was refused with the wrong status",
                    f"HTTP {status}",
                    f"HTTP {got}",
                    help=help,
                ) from None
            self.transcript.append(f"the handshake was refused with HTTP {got}")
            return
        except TimeoutError:
            raise Missing(
                f"the handshake at {path} should have been refused",
                f"HTTP {status}",
                f"no answer within {within:g} s",
                help=help,
            ) from None
        except (InvalidHandshake, OSError, ConnectionClosed) as exc:  # after TimeoutError
            raise Failure(f"could not connect to {path}: {exc}", help=help) from None
        await ws.close()
        accepted = Mismatch(
            f"the handshake at {path} should have been refused",
            f"HTTP {status}",
            ACCEPTED,
            help=help,
        )
        accepted.path = path_of(self.url(path))
        raise accepted

    # HTTP ------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = NOTHING,
        body: str | None = None,
        headers: Mapping[str, str] | None = None,
        within: float | None = None,
    ) -> Response:
        """One HTTP request, `json` (any JSON value) or `body` (text) as its body: the
        answer, whatever its status. An answer of HTTP 5xx carries what the witness saw
        the handler raise, and where (`raised`); no answer in time is Missing, a broken
        one a Failure, each with that too."""
        method = method.upper()
        sent = f"{method} {path}" + (f" {show_json(json)}" if json is not NOTHING else "")
        if body is not None:
            sent += f" {show(body)}"
        self.transcript.append(sent)
        self.transcript.values.update(chosen(path))
        within = _seconds(within, timing.WITHIN)
        handler = f"{method} {path.split('?')[0]}"
        before = len(self._raised(handler))
        head = dict(headers or {})
        data: bytes | None = None
        if json is not NOTHING:
            head.setdefault("content-type", "application/json")
            data = jsonlib.dumps(json).encode()
        elif body is not None:
            data = body.encode()
        try:
            async with asyncio.timeout(within):
                status, got, text = await fetch(
                    self.url(path, "http"), method, headers=head, body=data
                )
        except TimeoutError:
            why = await self._why_failed(handler, before)
            raise Missing(
                f"{sent} should have been answered",
                "an answer",
                f"nothing within {within:g} s{why}",
            ) from None
        except Broken as exc:
            why = await self._why_failed(handler, before)
            raise Failure(f"{sent} failed: {exc}{why}") from None
        why = await self._why_failed(handler, before) if status >= 500 else ""
        self.transcript.append(f"{method} {path} answered {status} {show(text)}{why}")
        return Response(sent, status, got, text, why)

    async def get(self, path: str) -> tuple[int, str]:
        """`request("GET", path)`, as (status, body)."""
        response = await self.request("GET", path)
        return response.status, response.text

    async def until(
        self,
        method: str,
        path: str,
        done: Callable[[Response], bool],
        *,
        json: Any = NOTHING,
        within: float | None = None,
    ) -> tuple[Response, int]:
        """Ask again and again until `done(response)`, or `within` seconds have passed:
        the last answer, and how many times it was asked. Only a method that changes
        nothing (GET, HEAD, OPTIONS) is asked more than once.

        For state the server changes on its own time (a handler that runs concurrently
        with the check); the transcript keeps one line for the repeats.
        """
        within = _seconds(within, timing.WITHIN)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        start = len(self.transcript)
        asked = 0
        while True:
            response = await self.request(method, path, json=json)
            asked += 1
            ok = done(response)
            if ok or loop.time() >= deadline or method.upper() not in SAFE:
                if asked > 1:
                    how = "until it answered as expected" if ok else f"over {within:g} s"
                    self.transcript.fold(
                        start, f"{response.request} was asked {asked} times {how}", keep=2
                    )
                return response, asked
            # Pacing between requests, not synchronisation: the deadline bounds the wait.
            await asyncio.sleep(0.02)

    async def get_until(
        self, path: str, done: Callable[[int, str], bool], *, within: float | None = None
    ) -> tuple[int, str, int]:
        """`until("GET", path, …)` with `done(status, body)`: (status, body, times asked)."""
        response, asked = await self.until(
            "GET", path, lambda r: done(r.status, r.text), within=within
        )
        return response.status, response.text, asked

    async def expect_json(
        self,
        method: str,
        path: str,
        *,
        equals: Any = NOTHING,
        status: int = 200,
        json: Any = NOTHING,
        any_order: bool = False,
        within: float | None = None,
        help: str | None = None,
    ) -> Any:
        """`method path` (with `json` as its body) must be answered with HTTP `status`
        and a JSON body equal to `equals` (any JSON body if not given; `unittest.mock.ANY`
        matches any value in it; `any_order=True` compares every list in it as a set).
        A GET is asked again until it is so, for `within` seconds. Returns the body."""

        def fits(response: Response) -> bool:
            if response.status != status:
                return False
            try:
                got = jsonlib.loads(response.text)
            except ValueError:
                return False
            if equals is NOTHING:
                return True
            return bool(in_any_order(got) == in_any_order(equals) if any_order else got == equals)

        response, asked = await self.until(method, path, fits, json=json, within=within)
        if fits(response):
            return jsonlib.loads(response.text)
        wanted = "JSON" if equals is NOTHING else show_json(equals)
        raise self._unexpected(response, asked, status, f"HTTP {status} {wanted}", help)

    async def expect_status(
        self,
        method: str,
        path: str,
        status: int,
        *,
        json: Any = NOTHING,
        within: float | None = None,
        help: str | None = None,
    ) -> Response:
        """`method path` (with `json` as its body) must be answered with HTTP `status`,
        whatever the body; a GET is asked again until it is, for `within` seconds."""
        response, asked = await self.until(
            method, path, lambda r: r.status == status, json=json, within=within
        )
        if response.status == status:
            return response
        raise self._unexpected(response, asked, status, f"HTTP {status}", help)

    @staticmethod
    def _unexpected(
        response: Response, asked: int, status: int, wanted: str, help: str | None
    ) -> Mismatch:
        """What `response` got, against what was `wanted` ("HTTP 200 [1, 2]")."""
        rationale = f"{response.request} should have been answered with {wanted}"
        if response.status != status:
            rationale = f"{response.request} was answered with HTTP {response.status}"
        again = f" (still, after asking {asked} times)" if asked > 1 else ""
        return Mismatch(rationale, wanted, response.shown() + again, help=help)

    async def events(
        self,
        path: str,
        name: str = "listener",
        *,
        headers: Mapping[str, str] | None = None,
        help: str | None = None,
    ) -> EventStream:
        """Open a Server-Sent Events stream at `path` (a GET asking for
        text/event-stream), read by `name`; it must answer HTTP 200 with that type.
        `help` is the advice if it does not."""
        self.transcript.append(f"{name} opened the event stream at {path}")
        self.transcript.values.update(chosen(path))
        handler = f"GET {path.split('?')[0]}"
        before = len(self._raised(handler))
        within = timing.scaled(timing.CONNECT_WITHIN)
        asked = {"accept": "text/event-stream", "cache-control": "no-cache", **(headers or {})}
        wanted = "HTTP 200 text/event-stream"
        try:
            async with asyncio.timeout(within):
                conn = await Connection.open(self.url(path, "http"), "GET", headers=asked)
                status, got = await conn.head()
                kind = got.get("content-type", "").split(";")[0].strip()
                if status != 200 or kind != "text/event-stream":
                    text = await conn.body()
        except TimeoutError:
            why = await self._why_failed(handler, before)
            raise Missing(
                f"{name}'s event stream at {path} should have been answered",
                wanted,
                f"nothing within {within:g} s{why}",
                help=help,
            ) from None
        except Broken as exc:
            why = await self._why_failed(handler, before)
            raise Failure(f"{name} could not open the event stream at {path}: {exc}{why}") from None
        if status != 200 or kind != "text/event-stream":
            conn.abort()
            why = await self._why_failed(handler, before) if status >= 500 else ""
            self.transcript.append(f"GET {path} answered {status} {show(text)}{why}")
            refused = Mismatch(
                f"{name}'s event stream at {path} was answered with HTTP {status}"
                + (f" {kind or 'and no content type'}" if status == 200 else ""),
                wanted,
                Response(handler, status, got, text, why).shown(),
                help=help
                or 'An event stream is a StreamingResponse(..., media_type="text/event-stream") '
                'whose generator yields lines "data: …\\n\\n".',
            )
            refused.path = path.split("?")[0]
            raise refused
        stream = EventStream(
            name,
            EventReader(conn),
            self.transcript,
            self.who,
            lambda: self._why_failed(handler, before),
        )
        self.streams.append(stream)
        return stream

    def _raised(self, request: str) -> list[Raised]:
        """What the witness saw escape the handler of `request` ("GET /items")."""
        return [e for e in self.app.events() if isinstance(e, Raised) and e.path == request]

    async def _why_failed(self, request: str, before: int) -> str:
        """ ": the server raised KeyError: 'milk' at line 27", once the witness
        has reported a new exception in the handler of `request` ("" if it does not in
        a moment: the server answers before its handler's exception reaches the witness)."""
        deadline = asyncio.get_running_loop().time() + timing.scaled(0.5)
        while len(found := self._raised(request)) <= before:
            if asyncio.get_running_loop().time() >= deadline:
                return ""
            await asyncio.sleep(0.01)
        event = found[-1]
        error = event.error or "an exception"
        error = error if len(error) <= 200 else error[:200] + "…"
        # The line alone: the diagnosis quotes it, under the name the student gave the file.
        at = f" at line {event.line}" if event.line else ""
        return f": the server raised {error}{at}"

    async def shutdown(self, within: float | None = None) -> bool:
        """Ask the server to stop (SIGTERM, as a deploy does); whether it exited in time
        (5 s, scaled, unless `within` says otherwise)."""
        self.transcript.append(f"{self.who} was told to stop")
        return await asyncio.to_thread(self.app.terminate, _seconds(within, 5.0))

    async def note_where_waiting(self, within: float = 0.5) -> None:
        """Have the server report where its tasks wait now, for the diagnosis of a failure
        whose cause is about to end (a check releasing what held them); at most `within`
        seconds, since a blocked loop never answers."""
        before = self.app.ask_where_waiting()
        if before is not None:
            deadline = time.monotonic() + within
            await asyncio.to_thread(self.app.await_where_waiting, before, deadline)

    def output(self) -> str:
        """Everything the server has printed or logged so far."""
        return self.app.log()

    def expect_no_errors(self, during: str = "", *, help: str | None = None) -> None:
        """The server must have logged no unhandled exception so far; `during` says
        what it was doing ("while the broker was down")."""
        # The witness's reports as well: a flood of output can push the traceback out.
        raised = any(isinstance(e, Raised) for e in self.app.events())
        if raised or trimming.has_errors(self.output()):
            raise ServerErrors(
                f"{self.who} logged an unhandled exception" + (f" {during}" if during else ""),
                help=help,
            )

    def abort_clients(self) -> None:
        """Drop every connection at once; the server is about to be killed anyway."""
        for client in self.clients:
            client.ws.transport.abort()
        for stream in self.streams:
            stream.reader.conn.abort()
